"""Wall time and peak memory of a cohort run as Dask tasks on a LocalCluster.

Simulates the default scenario into a NetCDF (or Zarr) file with ``--dask local:N`` semantics
(N single-threaded worker processes) and prints: the wall time, split into the tasks and the
combine step that writes the one file; dyad-days per second; the CPU seconds of the workers
and of the client; the peak memory of all the run's processes together (client and scheduler,
nannies, workers: their resident sets summed, and their unique memory summed, sampled every
``--sample-every`` seconds) and each worker's own peak; the chunks each worker simulated and its kernel loads; the size of the
result; and the load average. Beside it, the same cohort in this process unless ``--no-serial``.

    .venv/bin/python benchmarks/dask_cohort.py --dyads 20000 --days 180 --no-serial
    .venv/bin/python benchmarks/dask_cohort.py --dyads 200000 --days 180 --no-serial --folder /big/disk

The result of 200,000 x 180 days is ~10 GB and its parts as much again while the combine
step runs: give ``--folder`` on a disk with ~20 GB free (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

MIB = 1024 * 1024
"""Bytes per MiB."""

UNIQUE_EVERY = 10
"""Memory samples per reading of the processes' unique memory: reading it (``/proc/PID/smaps``)
at every sample took the client from 27 to 78 CPU s in a 13-minute run of six processes
(about 30 ms per sample); the resident sets are cheap and read at every sample."""


def _worker_usage() -> tuple[float, float]:
    """This process's CPU seconds and peak resident MiB (run on each worker)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime, own.ru_maxrss / 1024


class TreeMemory(threading.Thread):
    """Samples the resident memory of this process and all its descendants.

    ``peak_total`` is the largest sum of resident sets over the processes alive at one sample
    (MiB; pages of shared libraries count once per process, so it is an upper bound),
    ``peak_unique`` the same for the memory unique to each process (USS: what ending them all
    would free, a lower bound; read every :data:`UNIQUE_EVERY` samples); ``peak_by_pid`` each process's largest resident set.
    """

    def __init__(self, every: float) -> None:
        super().__init__(daemon=True)
        import psutil

        self.root, self.every = psutil.Process(), every
        self.peak_total = 0.0
        self.peak_unique = 0.0
        self.peak_by_pid: dict[int, float] = {}
        self.stopped = threading.Event()
        self.samples = 0

    def sample(self) -> None:
        import psutil

        total = unique = 0.0
        with_unique = self.samples % UNIQUE_EVERY == 0
        self.samples += 1
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                rss = proc.memory_info().rss / MIB
                if with_unique:
                    unique += proc.memory_full_info().uss / MIB
            except psutil.Error:  # ended between listing and reading
                continue
            total += rss
            self.peak_by_pid[proc.pid] = max(self.peak_by_pid.get(proc.pid, 0.0), rss)
        self.peak_total = max(self.peak_total, total)
        self.peak_unique = max(self.peak_unique, unique)

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.sample()

    def stop(self) -> None:
        self.stopped.set()
        self.join()
        self.sample()


def _size_mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / MIB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dyads", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--format", choices=["nc", "zarr"], default="nc", help="result file format")
    parser.add_argument("--folder", type=Path, default=None, help="where the result is written (then removed)")
    parser.add_argument("--sample-every", type=float, default=0.5, help="seconds between memory samples")
    parser.add_argument("--no-serial", action="store_true", help="skip the same cohort in this process")
    args = parser.parse_args()

    import lactobiome.io.dataset as dataset
    from lactobiome.dask_backend import close, connect, worker_summary
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import simulate_to_file

    combine = dataset.combine_parts
    combine_seconds = [0.0]

    def timed_combine(*a, **k):  # the one-file step, timed apart from the tasks
        start = time.perf_counter()
        combine(*a, **k)
        combine_seconds[0] += time.perf_counter() - start

    dataset.combine_parts = timed_combine

    scenario = load_scenario("default", {"cohort": {"dyads": args.dyads, "days": args.days}})
    dyad_days = args.dyads * args.days
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        out = Path(folder) / f"dask.{args.format}"
        memory = TreeMemory(args.sample_every)
        memory.start()
        load_start = os.getloadavg()[0]
        client_cpu = time.process_time()
        start = time.perf_counter()
        client = connect(f"local:{args.workers}")
        try:
            started = time.perf_counter()
            simulate_to_file(scenario, out, chunk_size=args.chunk_size, progress=False, client=client)
            seconds = time.perf_counter() - started
            usage = client.run(_worker_usage)
            summaries = client.run(worker_summary)
        finally:
            close(client)
        total = time.perf_counter() - start
        client_cpu = time.process_time() - client_cpu
        memory.stop()
        size = _size_mib(out)
        cpu = sum(u[0] for u in usage.values())
        worker_peaks = ", ".join(f"{u[1]:.0f}" for u in usage.values())
        chunks = ", ".join(str(s["chunks"]) for s in summaries.values())
        loads = {sum(s["kernel_loads"].values()) for s in summaries.values()}
        print(f"dask local:{args.workers}: {args.dyads:,} dyads x {args.days} days, chunk {args.chunk_size}: "
              f"{seconds:.1f} s wall ({seconds - combine_seconds[0]:.1f} s tasks, {combine_seconds[0]:.1f} s combine; "
              f"{total:.1f} s with the cluster's start and stop), {dyad_days / seconds:,.0f} dyad-days/s")
        print(f"  CPU s: workers {cpu:.1f} ({cpu / dyad_days * 1e6:.1f} CPU-us per dyad-day, incl. their start-up), "
              f"client {client_cpu:.1f}")
        print(f"  peak MiB: all processes together {memory.peak_total:,.0f} resident ({memory.peak_unique:,.0f} unique; "
              f"sampled every {args.sample_every:g} s, unique every {args.sample_every * UNIQUE_EVERY:g} s); "
              f"per worker {worker_peaks}; client (with the scheduler) "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
        print(f"  chunks per worker {chunks}; kernel loads per worker {sorted(loads)} "
              f"(signatures loaded once per worker); result {size:,.0f} MiB; "
              f"load {load_start:.1f} -> {os.getloadavg()[0]:.1f}")
        if not args.no_serial:
            start = time.perf_counter()
            simulate_to_file(scenario, Path(folder) / f"serial.{args.format}", chunk_size=args.chunk_size,
                             progress=False)
            serial = time.perf_counter() - start
            print(f"same cohort in this process: {serial:.1f} s wall, {dyad_days / serial:,.0f} dyad-days/s, "
                  f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program sets it
    main()
