"""Time and size of ``lactobiome report`` for a cohort of 1,000 dyads x 365 days.

Simulates the cohort into a temporary NetCDF file (or reads ``--from PATH``), then writes the
report and prints its wall-clock and CPU seconds and its size, beside a reference measured in
the same run: opening the result and reading every array the report reads once (the floor any
report of this result pays). The issue's bar: under 30 s and under 10 MB.

    .venv/bin/python benchmarks/report.py [--dyads 1000] [--days 365] [--from PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program does


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _timed(label: str, work) -> tuple[float, float]:
    cpu, wall = _cpu(), time.perf_counter()
    work()
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    print(f"{label:58s} {wall:7.2f} s wall {cpu:7.2f} s CPU")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dyads", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--from", dest="source", type=Path)
    args = parser.parse_args()

    import lactobiome as lb
    from lactobiome.io.dataset import open_result
    from lactobiome.report import write_report
    from lactobiome.report.figures import PANEL

    with tempfile.TemporaryDirectory() as folder:
        source = args.source
        if source is None:
            source = Path(folder) / "cohort.nc"
            _timed(f"simulate {args.dyads} dyads x {args.days} days to NetCDF",
                   lambda: lb.simulate(dyads=args.dyads, days=args.days, seed=1, out=source))
        ds = open_result(source)
        print(f"result: {ds.sizes['dyad']} dyads x {ds.sizes['day']} days, {source.stat().st_size / 1e6:.1f} MB")

        def read_once() -> None:
            fresh = open_result(source)
            fresh["abundance"].values.sum()
            for name in (*PANEL, "mastitis_state", "breast_milk_share"):
                fresh[name].values  # noqa: B018 (the read is the point)

        ref_wall, ref_cpu = _timed("reference: open the result, read the report's arrays once", read_once)
        out = Path(folder) / "report.html"
        wall, cpu = _timed("lactobiome report (all sections, no validation table)",
                           lambda: write_report(source, out))
        size = out.stat().st_size
        print(f"report: {size / 1e6:.2f} MB ({size / 2**20:.2f} MiB); {wall / ref_wall:.1f}x the reference "
              f"wall, {cpu / max(ref_cpu, 1e-9):.1f}x its CPU; load average {os.getloadavg()[0]:.2f}")
        print(f"bar: < 30 s ({'met' if wall < 30 else 'NOT met'}), < 10 MB ({'met' if size < 10e6 else 'NOT met'})")


if __name__ == "__main__":
    main()
