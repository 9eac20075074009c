"""Running a cohort: chunks of dyads, resumable parts, progress, and the combined result."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lactobiome import __version__
from lactobiome.errors import InputError, LactobiomeWarning
from lactobiome.model.engine import ChunkResult, run_chunk
from lactobiome.model.parameters import ParameterTable, load_parameters
from lactobiome.model.scenario import Scenario
from lactobiome.model.taxa import TaxaCatalogue, load_taxa


def prepare(scenario: Scenario, parameters: ParameterTable | None = None,
            taxa: TaxaCatalogue | None = None) -> tuple[ParameterTable, TaxaCatalogue]:
    """The parameter table with the scenario's overrides, and the checked catalogue."""
    taxa = taxa or load_taxa()
    parameters = (parameters or load_parameters()).with_values(scenario.parameters, scenario.origin)
    strains = [(f"interventions.{i}.strain", r.strain) for i, r in enumerate(scenario.interventions)
               if r.kind == "probiotic"]
    if scenario.treatment is not None and scenario.treatment.probiotic is not None:
        strains.append(("treatment.probiotic.strain", scenario.treatment.probiotic.strain))
    for field, strain in strains:
        try:
            taxa.index(strain)
        except InputError as exc:
            raise InputError(f"{scenario.origin}: {field}: {exc}") from None
    return parameters, taxa


ASSAY_PARAMETER_PREFIX = "obs_"
"""Parameters of the observation models (sampling, culture, sequencing) are named with this prefix."""


def run_attributes(scenario: Scenario, parameters: ParameterTable) -> dict[str, str]:
    """Attributes that say how a result was made."""
    return {
        "scenario": scenario.name,
        "scenario_yaml": yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False),
        "seed": str(scenario.cohort.seed),
        "lactobiome_version": __version__,
        "parameter_table_sha256": parameters.digest(),
        # the observation models' values, so that an assay read later (observe, validate,
        # trial endpoints) uses the table the result was made with, not the shipped one
        "assay_parameters_yaml": yaml.safe_dump(
            {name: float(parameters[name].value) for name in sorted(parameters)
             if name.startswith(ASSAY_PARAMETER_PREFIX)}, sort_keys=True),
    }


def simulate_in_memory(scenario: Scenario, parameters: ParameterTable | None = None,
                       taxa: TaxaCatalogue | None = None, chunk_size: int | None = None,
                       on_dyad_days: Callable[[int], None] | None = None):
    """Simulate a whole cohort and return it as one ``xarray.Dataset`` (small cohorts).

    ``on_dyad_days(n)`` is called after each simulated day of a chunk with the chunk's size
    (progress in dyad-days, as the explorer shows it).
    """
    import xarray as xr

    from lactobiome.io.dataset import chunk_dataset
    from lactobiome.io.metadata import decode_states

    parameters, taxa = prepare(scenario, parameters, taxa)
    attrs = run_attributes(scenario, parameters)
    size = chunk_size or scenario.cohort.chunk_size
    ids = np.arange(scenario.cohort.dyads)
    parts = [
        chunk_dataset(run_chunk(scenario, parameters, taxa, ids[i : i + size],
                                on_day=_dyad_days(on_dyad_days, len(ids[i : i + size]))), taxa, attrs)
        for i in range(0, len(ids), size)
    ]
    whole = parts[0] if len(parts) == 1 else xr.concat(parts, dim="dyad", data_vars="minimal",
                                                        coords="minimal", compat="override")
    return decode_states(whole)


def _dyad_days(callback: Callable[[int], None] | None, n: int) -> Callable[[int], None] | None:
    """A per-day callback of :func:`run_chunk` reporting ``n`` dyad-days to ``callback``."""
    if callback is None:
        return None
    return lambda _day: callback(n)


def simulate_to_file(
    scenario: Scenario,
    out: Path,
    chunk_size: int | None = None,
    progress: bool | None = None,
    parameters: ParameterTable | None = None,
    taxa: TaxaCatalogue | None = None,
    on_chunk: Callable[[ChunkResult], None] | None = None,
    workers: int = 1,
    history: str | None = None,
    client: Any = None,
) -> Path:
    """Simulate the cohort chunk by chunk into ``out`` (``.nc`` or ``.zarr``).

    Finished chunks are kept in ``<out>.parts/``; a rerun with the same scenario, seed,
    parameters and chunk size resumes after them. ``progress=None`` shows a bar only on a
    terminal. ``history`` (the command line) is recorded in the file with its creation time.
    ``workers > 1`` simulates chunks in that many processes (one compute thread
    each); the result is identical, because a dyad's random streams depend only on its id.
    ``client`` (a ``distributed.Client``) runs the chunks as Dask tasks instead
    (:mod:`lactobiome.dask_backend`); ``<out>.parts/`` must then be on storage every worker sees.
    """
    from tqdm import tqdm

    from lactobiome.io.dataset import combine_parts
    from lactobiome.io.events import combine_events

    parameters, taxa = prepare(scenario, parameters, taxa)
    attrs = run_attributes(scenario, parameters)
    size = chunk_size or scenario.cohort.chunk_size
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parts_dir = out.with_name(out.name + ".parts")
    fingerprint = hashlib.sha256(
        json.dumps({**attrs, "chunk_size": size, "taxa": list(taxa.names)}, sort_keys=True).encode()
    ).hexdigest()
    manifest = parts_dir / "run.json"
    if parts_dir.exists():
        try:
            same = json.loads(manifest.read_text())["fingerprint"] == fingerprint
        except (OSError, ValueError, KeyError):
            same = False
        if not same:
            finished = len(list(parts_dir.glob("chunk-*.nc")))
            if finished:
                warnings.warn(f"{parts_dir}: {finished} finished chunk(s) of an earlier run with another scenario, "
                              "seed, parameter table or chunk size discarded; rerun with that run's options to "
                              "resume it instead", LactobiomeWarning, stacklevel=2)
            shutil.rmtree(parts_dir)
    parts_dir.mkdir(exist_ok=True)
    manifest.write_text(json.dumps({"fingerprint": fingerprint}))

    ids = np.arange(scenario.cohort.dyads)
    starts = list(range(0, len(ids), size))
    paths = [parts_dir / f"chunk-{i:06d}.nc" for i in range(len(starts))]
    days = scenario.cohort.days
    disable = (not sys.stderr.isatty()) if progress is None else not progress
    todo = [(ids[start : start + size], path) for start, path in zip(starts, paths, strict=True)]
    done = [path for _, path in todo if path.exists() and _readable_part(path)]
    if done:
        warnings.warn(f"resuming from {parts_dir}: {len(done)} of {len(paths)} chunk(s) already done",
                      LactobiomeWarning, stacklevel=2)
    with tqdm(total=len(ids) * days, unit="dyad-day", unit_scale=True, disable=disable,
              desc="simulate", file=sys.stderr) as bar:
        _say_if_compiling(bar, disable)
        for chunk_ids, path in todo:
            if path.exists():
                bar.update(len(chunk_ids) * days)
        todo = [(chunk_ids, path) for chunk_ids, path in todo if not path.exists()]
        if client is not None:
            from lactobiome.dask_backend import run_chunks

            run_chunks(client, todo, scenario, parameters, taxa, attrs, bar, days)
            todo = []
        elif workers > 1 and len(todo) > 1:
            _run_parallel(todo, workers, scenario, parameters, taxa, attrs, bar, days)
        for chunk_ids, path in todo if workers <= 1 or len(todo) <= 1 else ():
            n_chunk = len(chunk_ids)

            def advance(_day: int, n: int = n_chunk) -> None:
                bar.update(n)

            result = run_chunk(scenario, parameters, taxa, chunk_ids, on_day=advance)
            _write_chunk(result, taxa, attrs, path)
            if on_chunk is not None:
                on_chunk(result)
    combine_parts(paths, out, history=history)
    combine_events(paths, out)  # mastitis episodes beside the result: <out>.events.csv
    shutil.rmtree(parts_dir)
    return out


def _readable_part(path: Path) -> bool:
    """Whether a finished chunk file opens; a damaged one is removed (and recomputed) with a warning."""
    import netCDF4

    try:
        with netCDF4.Dataset(path) as part:
            part.variables["abundance"].shape  # noqa: B018 (touch the header)
    except (OSError, KeyError, RuntimeError):
        warnings.warn(f"{path}: damaged chunk file removed; it is simulated again", LactobiomeWarning, stacklevel=3)
        path.unlink(missing_ok=True)
        events = path.with_name(path.name + ".events.csv")
        events.unlink(missing_ok=True)
        return False
    return True


def _say_if_compiling(bar, disable: bool) -> None:
    """Tell a terminal user that the first run compiles the model's kernels (else the bar sits at 0%)."""
    from lactobiome.model import state, transfer
    from lactobiome.model._kernel_cache import uncached_kernels
    from lactobiome.model.processes import growth

    if disable:
        return
    # the kernels every simulated day calls
    missing = uncached_kernels((transfer._move_kernel, transfer._immigrate_kernel, growth._growth_kernel,
                                state._cells_in_site, state._scale_site))
    if missing:
        bar.write(f"compiling {len(missing)} model kernels (first run after an install or an update; "
                  "cached for later runs; `lactobiome compile` does it ahead)...", file=sys.stderr)


def _write_chunk(result: ChunkResult, taxa: TaxaCatalogue, attrs: dict[str, str], path: Path) -> None:
    """Write a chunk's file and, first, its mastitis episodes beside it (``<path>.events.csv``)."""
    from lactobiome.io.dataset import chunk_dataset, write_atomic
    from lactobiome.io.events import write_events
    from lactobiome.io.metadata import decode_states

    ds = chunk_dataset(result, taxa, attrs)
    write_events(decode_states(ds.copy()), path)  # before the chunk file, whose presence marks the chunk done
    write_atomic(ds, path)


def _limit_threads() -> None:
    import numba

    numba.set_num_threads(1)


def _simulate_chunk_file(scenario: Scenario, parameters: ParameterTable, taxa: TaxaCatalogue,
                         chunk_ids: np.ndarray, attrs: dict[str, str], path: Path) -> int:
    _write_chunk(run_chunk(scenario, parameters, taxa, chunk_ids), taxa, attrs, path)
    return len(chunk_ids)


def _simulate_chunk_only(scenario: Scenario, parameters: ParameterTable, taxa: TaxaCatalogue,
                         chunk_ids: np.ndarray) -> int:
    """Simulate a chunk and drop its result (throughput measurements); returns its size."""
    run_chunk(scenario, parameters, taxa, chunk_ids)
    return len(chunk_ids)


def _run_parallel(todo, workers, scenario, parameters, taxa, attrs, bar, days) -> None:
    """Simulate the chunks in ``todo`` in worker processes; each writes its own part file."""
    tasks = [(_simulate_chunk_file, (scenario, parameters, taxa, chunk_ids, attrs, path)) for chunk_ids, path in todo]
    run_in_workers(tasks, workers, lambda n: bar.update(n * days))


def run_in_workers(tasks: list[tuple[Callable[..., int], tuple[Any, ...]]], workers: int,
                   on_done: Callable[[int], None] | None = None) -> None:
    """Run ``function(*arguments)`` for each task in ``workers`` spawned processes.

    Each worker runs one Numba thread: on a machine of a few cores, one single-threaded
    process per core keeps every core busy through the NumPy code between kernels too, and
    no thread waits at the end of a parallel region. ``on_done`` gets each task's return
    value (dyads done) as tasks finish.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")  # no fork of a process holding Numba threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_limit_threads) as pool:
        pending = {pool.submit(function, *arguments) for function, arguments in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    count = future.result()
                    if on_done is not None:
                        on_done(count)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
