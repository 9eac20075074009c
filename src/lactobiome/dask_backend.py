"""Cohort chunks as Dask tasks (optional extra ``lactobiome[dask]``).

Each chunk of dyads is one task that simulates the chunk and writes its part file itself, so
results never travel back through the scheduler: only the number of dyads done does. The
part files live in ``<out>.parts/`` beside the result, which every worker must see (shared
storage on a cluster; the local disk for a LocalCluster). A dyad's random streams depend only
on its id and the seed, so the file is identical to a single-process run's.

A worker is a long-lived process: its Numba kernels are loaded from the on-disk cache (or
compiled) by its first task and reused by the rest (:func:`worker_summary` counts both). A
task whose worker dies is run again elsewhere (Dask reschedules the tasks of a lost worker,
up to its ``distributed.scheduler.allowed-failures`` times; a task that raises is retried
``CHUNK_RETRIES`` times). Finished chunks are on disk: their futures are released as soon as
they are counted, and a task whose part file is already there returns without simulating,
so a lost worker costs only the chunk it was running.
"""

from __future__ import annotations

import os
from typing import Any

from lactobiome.errors import InputError

CHUNK_RETRIES = 2
"""Times a chunk whose task failed is tried again before the run stops."""

DEFAULT_LOCAL_WORKERS = 2
"""Workers of ``--dask local`` (one per core of a two-core machine)."""


def _require_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError("--dask needs the optional dependency dask[distributed]: "
                         "pip install 'lactobiome[dask]'") from None
    return distributed


def connect(spec: str) -> Any:
    """A ``distributed.Client`` for ``spec``: ``local``, ``local:N`` or a scheduler address.

    ``local[:N]`` starts a LocalCluster of N single-threaded worker processes (default
    :data:`DEFAULT_LOCAL_WORKERS`); anything else is passed to ``distributed.Client`` as the
    address of a running scheduler (``tcp://host:8786``).

    Raises
    ------
    lactobiome.errors.InputError
        If Dask is not installed, ``N`` is not a positive integer, or the scheduler cannot be
        reached.
    """
    distributed = _require_distributed()
    if spec == "local" or spec.startswith("local:"):
        count = spec.partition(":")[2] or str(DEFAULT_LOCAL_WORKERS)
        if not count.isdigit() or int(count) < 1:
            raise InputError(f"--dask {spec}: expected local or local:N with N a positive whole number of workers")
        cluster = distributed.LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        return distributed.Client(cluster)
    try:
        return distributed.Client(spec, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--dask {spec}: cannot reach a Dask scheduler there ({exc})") from None


def close(client: Any) -> None:
    """Close ``client`` and, when :func:`connect` started it, its LocalCluster."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


_simulated_here = 0
"""Chunks this process simulated as Dask tasks (read by :func:`worker_summary`)."""


def _chunk_task(scenario: Any, parameters: Any, taxa: Any, chunk_ids: Any, attrs: dict[str, str], path: Any) -> int:
    import numba

    from lactobiome.simulation import _readable_part, _simulate_chunk_file

    global _simulated_here
    if path.exists() and _readable_part(path):
        # done before its worker died (its result was lost with the worker, not its file)
        return len(chunk_ids)
    numba.set_num_threads(1)  # one task per worker thread; this thread's setting only
    _simulated_here += 1
    return _simulate_chunk_file(scenario, parameters, taxa, chunk_ids, attrs, path)


def worker_summary() -> dict[str, Any]:
    """This worker process: its id, the chunks it simulated, and its model-kernel loads.

    ``kernel_loads`` counts, per kernel, the type signatures loaded from Numba's cache or
    compiled in this process (:func:`lactobiome.warmup.kernel_loads`), ``kernel_signatures``
    the signatures each kernel holds: the two stay equal however many chunks the worker runs.
    Call it on every worker with ``client.run(worker_summary)``.
    """
    from lactobiome.warmup import kernel_loads, kernel_signatures

    return {"pid": os.getpid(), "chunks": _simulated_here, "kernel_loads": kernel_loads(),
            "kernel_signatures": kernel_signatures()}


def run_chunks(client: Any, todo: list[tuple[Any, Any]], scenario: Any, parameters: Any, taxa: Any,
               attrs: dict[str, str], bar: Any, days: int) -> None:
    """Run the chunks ``todo`` (``(dyad ids, part path)``) as tasks on ``client``; each writes its part file."""
    distributed = _require_distributed()
    shared = client.scatter([scenario, parameters, taxa], broadcast=True)
    futures = [
        client.submit(_chunk_task, *shared, chunk_ids, attrs, path, key=f"lactobiome-chunk-{path.stem}-{id(todo)}",
                      retries=CHUNK_RETRIES, pure=False)
        for chunk_ids, path in todo
    ]
    try:
        for future in distributed.as_completed(futures):
            bar.update(future.result() * days)
            future.release()  # its part file is on disk: nothing to recompute if its worker dies
    except BaseException:
        client.cancel(futures)
        raise
