"""Compile (or load) the Numba kernels ahead of the first run: ``lactobiome compile``.

Numba compiles a kernel on its first call and keeps the machine code in its on-disk cache
(next to the sources, see :mod:`lactobiome.model._kernel_cache`), so only the first run
after an install or an update pays the compilation (about 14 CPU s for ``simulate`` and
17 for ``track`` on the project's machine). Filling the cache at install time moves that
cost out of the user's first run. Rather than listing kernels and their type signatures
here (they change whenever a kernel does), each group runs a tiny real job that calls every
kernel the way a run calls it: whatever a run compiles, the warm-up compiled first.

The groups are independent, so they compile in separate processes, one per core.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

WARMUP_DYADS = 3
"""Dyads of each warm-up chunk: more than one, like a real chunk, so that slices across dyads
have a real chunk's array layout (Numba specialises on it; chunks of 1 and 4 dyads were
checked to use the same signatures)."""

WARMUP_DAYS = 3
"""Days of the warm-up chunk. A kernel's type signature depends on the arrays' types, not on
the day or the scenario: three days of the default scenario call every model kernel with the
signatures that 35 days of every built-in scenario use (``tests/test_warmup.py`` checks it),
and each further day costs Python work (~20 ms), not compilation."""

WARMUP_SCENARIO = "default"
"""The scenario of the warm-up chunk."""

WARMUP_TAXA = 40
"""Taxa of the synthetic tracking problem (any size above a handful gives the kernels' types)."""

WARMUP_SEED = 0
"""Seed of the synthetic tracking data (any)."""

WARMUP_READS = 2_000
"""Reads per synthetic sample (whole counts, as a count table holds)."""

WARMUP_ITERATIONS = 20
"""EM iterations of the warm-up fits (their answer is not used)."""

WARMUP_BOOTSTRAP = 2
"""Bootstrap replicates of the warm-up fit: enough to run the replicate path once."""

WARMUP_GIBBS = {"restarts": 1, "draws_per_restart": 1, "burnin": 2, "delay": 1}
"""SourceTracker2 settings of the warm-up: the fewest draws that run the sampler."""

GROUPS = ("model", "tracker", "published")
"""Kernel groups: the cohort model (``simulate``), this package's tracker (``track``) and the
published methods (``track --method feast|sourcetracker``)."""


def warm_model(scenario_names: Iterable[str] = (WARMUP_SCENARIO,), days: int = WARMUP_DAYS) -> int:
    """Run a tiny chunk of each scenario (built-in names) so that every model kernel is compiled or loaded.

    Returns the number of scenarios run.
    """
    from lactobiome.model.engine import run_chunk
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import prepare

    names = list(scenario_names)
    for name in names:
        scenario = load_scenario(name, {"cohort": {"dyads": WARMUP_DYADS, "days": days}})
        parameters, taxa = prepare(scenario)
        run_chunk(scenario, parameters, taxa, np.arange(WARMUP_DYADS))
    return len(names)


def _tracking_frames() -> tuple[Any, Any]:
    """A synthetic count table and metadata: two sinks, each with its own two sources."""
    import pandas as pd

    rng = np.random.default_rng(WARMUP_SEED)
    columns: dict[str, np.ndarray] = {}
    rows = []
    for sink in range(2):
        profiles = rng.dirichlet(np.ones(WARMUP_TAXA), size=2)
        for j, profile in enumerate(profiles):
            columns[f"src{sink}_{j}"] = rng.multinomial(WARMUP_READS, profile)
            rows.append((f"src{sink}_{j}", f"Env{j}", "Source", str(sink)))
        columns[f"sink{sink}"] = rng.multinomial(WARMUP_READS, profiles.mean(axis=0))
        rows.append((f"sink{sink}", "sink", "Sink", str(sink)))
    counts = pd.DataFrame(columns, index=[f"t{k}" for k in range(WARMUP_TAXA)])
    metadata = pd.DataFrame(rows, columns=["SampleID", "Env", "SourceSink", "id"]).set_index("SampleID")
    return counts, metadata


def warm_tracker() -> int:
    """Track a synthetic problem with this package's engine (point fit and bootstrap)."""
    from lactobiome.tracking.core import track

    counts, metadata = _tracking_frames()
    track(counts, metadata, bootstrap=WARMUP_BOOTSTRAP, iterations=WARMUP_ITERATIONS)
    return 1


def warm_published() -> int:
    """Track a synthetic problem with FEAST's EM and SourceTracker2's Gibbs sampler (a few draws)."""
    from lactobiome.tracking.core import track

    counts, metadata = _tracking_frames()
    track(counts, metadata, method="feast", iterations=WARMUP_ITERATIONS)
    track(counts, metadata, method="sourcetracker", method_options=WARMUP_GIBBS)
    return 2


_WARMERS: dict[str, Callable[[], int]] = {"model": warm_model, "tracker": warm_tracker,
                                          "published": warm_published}


def warm_group(group: str) -> tuple[str, float, float]:
    """Compile or load one group's kernels in this process: ``(group, CPU s, wall s)``."""
    import numba

    numba.set_num_threads(1)  # one core per group; the groups run side by side
    cpu, wall = time.process_time(), time.perf_counter()
    _WARMERS[group]()
    return group, time.process_time() - cpu, time.perf_counter() - wall


def compile_kernels(groups: Sequence[str] = GROUPS, processes: int | None = None,
                    on_done: Callable[[tuple[str, float, float]], None] | None = None,
                    ) -> list[tuple[str, float, float]]:
    """Fill Numba's on-disk cache for ``groups`` in ``processes`` fresh processes.

    ``processes`` defaults to the number of cores (at most one per group). Each group runs in
    its own ``spawn``-ed process, so this process loads none of them. ``on_done`` is called
    with each group's ``(group, CPU s, wall s)`` as it finishes.

    Raises
    ------
    ValueError
        If a group name is not one of :data:`GROUPS`.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    unknown = [g for g in groups if g not in _WARMERS]
    if unknown:
        raise ValueError(f"unknown kernel group(s) {', '.join(unknown)}; expected {', '.join(GROUPS)}")
    width = max(1, min(len(groups), processes or os.cpu_count() or 1))
    done = []
    context = multiprocessing.get_context("spawn")  # no fork of a process holding Numba threads
    with ProcessPoolExecutor(max_workers=width, mp_context=context) as pool:
        for future in as_completed([pool.submit(warm_group, g) for g in groups]):
            done.append(future.result())
            if on_done is not None:
                on_done(done[-1])
    return done


def dispatchers(modules: Iterable[ModuleType]) -> dict[str, Any]:
    """The Numba dispatchers defined in ``modules``, by ``module.name``."""
    from numba.core.registry import CPUDispatcher

    found = {}
    for module in modules:
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


def model_modules() -> list[ModuleType]:
    """The model's modules that define Numba kernels (imported)."""
    import importlib
    import pkgutil

    import lactobiome.model as model
    from lactobiome.model import processes

    names = [f"{model.__name__}.{m.name}" for m in pkgutil.iter_modules(model.__path__) if not m.ispkg]
    names += [f"{processes.__name__}.{m.name}" for m in pkgutil.iter_modules(processes.__path__)]
    return [importlib.import_module(n) for n in names]


def kernel_loads(modules: Iterable[ModuleType] | None = None) -> dict[str, int]:
    """How often each kernel of ``modules`` (default: the model's) was loaded from the cache or
    compiled in this process so far, counting each type signature; kernels never called are left out.

    A process that loads a kernel once keeps it: the count stays at the kernel's number of
    signatures however many chunks the process then runs.
    """
    loads = {}
    for name, kernel in dispatchers(modules if modules is not None else model_modules()).items():
        stats = kernel.stats
        count = sum(stats.cache_hits.values()) + sum(stats.cache_misses.values())
        if kernel.signatures:
            loads[name] = count
    return loads


def kernel_signatures(modules: Iterable[ModuleType] | None = None) -> dict[str, int]:
    """The number of type signatures each kernel of ``modules`` (default: the model's) holds in
    this process; kernels never called are left out."""
    kernels = dispatchers(modules if modules is not None else model_modules()).items()
    return {name: len(kernel.signatures) for name, kernel in kernels if kernel.signatures}
