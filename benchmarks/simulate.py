"""Throughput and peak memory of the dyad simulator.

Prints dyad-days per second and peak resident memory for cohorts of 1,000 and 10,000
dyads x 180 days (each in its own process; simulation only, in one process and in two
single-threaded worker processes, then written chunk by chunk to a temporary NetCDF file,
in one process and in two worker processes), beside two references
measured in the same run: the frozen kernels of ``benchmarks/reference/kernels.py`` (the
model's kernels before the speed work of issue 18, simulating only; ``x ref`` is the ratio of
dyad-days per second, ``x ref CPU`` that of CPU seconds per dyad-day, which other work on a
shared machine hardly moves), and the
same one-day step driven by a Python loop over dyads, one dyad at a time (``x naive``). Each row also gives the CPU seconds used (the process and its workers) and the
load average: on a shared machine the wall-clock rate falls with other work, the CPU
seconds hardly move.

    .venv/bin/python benchmarks/simulate.py [--dyads 1000 10000] [--days 180]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(dyads: int, days: int, chunk_size: int, write: bool, workers: int, reference: bool = False) -> dict:
    import numpy as np

    if reference:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from reference.kernels import install

        install()

    from lactobiome.model.engine import run_chunk
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import prepare, simulate_to_file

    scenario = load_scenario("default", {"cohort": {"dyads": dyads, "days": days, "chunk_size": chunk_size}})
    parameters, taxa = prepare(scenario)
    run_chunk(scenario, parameters, taxa, np.arange(2))  # compile / load the kernels first
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    if write:
        with tempfile.TemporaryDirectory() as folder:
            simulate_to_file(scenario, Path(folder) / "bench.nc", progress=False, workers=workers)
    elif workers > 1:
        # one single-threaded worker process per core; the workers load their kernels first
        from lactobiome.simulation import _simulate_chunk_only, run_in_workers

        chunks = [np.arange(first, min(first + chunk_size, dyads)) for first in range(0, dyads, chunk_size)]
        run_in_workers([(_simulate_chunk_only, (scenario, parameters, taxa, ids)) for ids in chunks], workers)
    else:
        for first in range(0, dyads, chunk_size):
            run_chunk(scenario, parameters, taxa, np.arange(first, min(first + chunk_size, dyads)))
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # worker processes: at most `workers` alive at once, each at most the largest child peak
    peak_kib += workers * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if workers > 1 else 0
    return {"dyads": dyads, "days": days, "seconds": seconds, "cpu_seconds": cpu, "peak_mib": peak_kib / 1024}


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _naive(days: int, n: int) -> float:
    """Dyad-days per second of the same step run one dyad at a time in a Python loop."""
    import numpy as np

    from lactobiome.model.engine import run_chunk
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import prepare

    scenario = load_scenario("default", {"cohort": {"dyads": n, "days": days}})
    parameters, taxa = prepare(scenario)
    run_chunk(scenario, parameters, taxa, np.arange(1))
    start = time.perf_counter()
    for dyad in range(n):
        run_chunk(scenario, parameters, taxa, np.array([dyad]))
    return n * days / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dyads", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--naive-dyads", type=int, default=20)
    parser.add_argument("--child", type=str, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*json.loads(args.child))))
        return

    naive = _naive(args.days, args.naive_dyads)
    print(f"reference: naive per-dyad loop, {args.naive_dyads} dyads x {args.days} days: {naive:,.0f} dyad-days/s")
    print(f"{'dyads':>7} {'days':>5} {'mode':>17} {'seconds':>8} {'dyad-days/s':>12} {'x ref':>6} {'x ref CPU':>9} {'x naive':>8} "
          f"{'peak MiB':>9} {'CPU s':>7} {'CPU-us/dd':>9} {'load':>5}")
    for dyads in args.dyads:
        reference_rate = reference_cpu = 0.0
        for write, workers, reference in ((False, 1, True), (False, 1, False), (False, 2, False), (True, 1, False),
                                          (True, 2, False)):
            spec = json.dumps([dyads, args.days, args.chunk_size, write, workers, reference])
            done = subprocess.run([sys.executable, __file__, "--child", spec], capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rate = row["dyads"] * row["days"] / row["seconds"]
            cpu_us = row["cpu_seconds"] / (row["dyads"] * row["days"]) * 1e6
            reference_rate, reference_cpu = reference_rate or rate, reference_cpu or cpu_us
            mode = ("reference kernels" if reference else "simulate+write" if write else "simulate") + (
                f" x{workers}" if workers > 1 else "")
            print(f"{dyads:>7} {args.days:>5} {mode:>17} {row['seconds']:>8.1f} {rate:>12,.0f} "
                  f"{rate / reference_rate:>6.2f} {reference_cpu / cpu_us:>9.2f} {rate / naive:>8.0f} {row['peak_mib']:>9.0f} "
                  f"{row['cpu_seconds']:>7.1f} {cpu_us:>9.2f} {os.getloadavg()[0]:>5.1f}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program sets it
    main()
