"""Wall time and peak memory of a cohort run as Dask tasks on a LocalCluster.

Simulates the default scenario into a temporary NetCDF file with ``--dask local:N`` semantics
(N single-threaded worker processes), then prints the wall time, dyad-days per second, the
CPU seconds of the workers, each worker's peak resident memory and the client's, and the
load average. Beside it, the same cohort in this process (``--workers 1``) unless
``--no-serial``.

    .venv/bin/python benchmarks/dask_cohort.py [--dyads 200000] [--days 180] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path


def _worker_usage() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime, own.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dyads", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--no-serial", action="store_true")
    args = parser.parse_args()

    from lactobiome.dask_backend import close, connect
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import simulate_to_file

    scenario = load_scenario("default", {"cohort": {"dyads": args.dyads, "days": args.days}})
    dyad_days = args.dyads * args.days
    with tempfile.TemporaryDirectory() as folder:
        client = connect(f"local:{args.workers}")
        try:
            start = time.perf_counter()
            simulate_to_file(scenario, Path(folder) / "dask.nc", chunk_size=args.chunk_size, progress=False,
                             client=client)
            seconds = time.perf_counter() - start
            usage = client.run(_worker_usage)
        finally:
            close(client)
        cpu = sum(u[0] for u in usage.values())
        peaks = ", ".join(f"{u[1]:.0f}" for u in usage.values())
        client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"dask local:{args.workers}: {args.dyads} dyads x {args.days} days, chunk {args.chunk_size}: "
              f"{seconds:.1f} s wall, {dyad_days / seconds:,.0f} dyad-days/s, workers {cpu:.1f} CPU s "
              f"({cpu / dyad_days * 1e6:.1f} CPU-us per dyad-day, incl. worker start-up), "
              f"peak MiB per worker {peaks}, client {client_peak:.0f}, load {os.getloadavg()[0]:.1f}")
        if not args.no_serial:
            start = time.perf_counter()
            simulate_to_file(scenario, Path(folder) / "serial.nc", chunk_size=args.chunk_size, progress=False)
            serial = time.perf_counter() - start
            print(f"same cohort in this process: {serial:.1f} s wall, {dyad_days / serial:,.0f} dyad-days/s, "
                  f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program sets it
    main()
