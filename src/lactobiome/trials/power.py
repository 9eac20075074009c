"""Power over n per arm: the share of independent replicate trials whose primary effect has p < 0.05.

Replicate ``r`` is a cohort of its own: its women are screened from dyad id
``r * ID_BLOCK`` on (:data:`lactobiome.trials.runner.ID_BLOCK`), so no two replicates share a
woman, and each woman is simulated only under the arm she is allocated to (what a real trial
observes). Within a replicate the largest n is simulated once and the smaller trials take its
first women of each arm in enrolment (dyad-id) order (nested designs); the points of one replicate are
therefore related, but every point's estimate is over independent replicates. The Monte Carlo
interval is Wilson's (``statsmodels.stats.proportion.proportion_confint``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lactobiome.model.parameters import ParameterTable
from lactobiome.trials.definition import TrialDefinition
from lactobiome.trials.runner import ID_BLOCK, run_trial

ALPHA = 0.05
"""Significance level a replicate must reach."""

TARGET_POWER = 0.8
"""Power the smallest n is reported for."""


@dataclass
class PowerCurve:
    """Power at each n per arm, with its Monte Carlo interval, and the cost of getting it."""

    table: pd.DataFrame
    replicates: int
    smallest_n: int | None
    dyad_days: int
    wall_s: float
    cpu_s: float
    comparison: str


def _nested(allocated: pd.DataFrame, trial: TrialDefinition, n: int) -> dict[str, pd.DataFrame]:
    """Each arm's first women in enrolment (dyad-id) order, ``n`` in the smallest arm."""
    return {arm: allocated[allocated["arm"] == arm].iloc[:size] for arm, size in trial.arm_sizes(n).items()}


def _replicate(trial: TrialDefinition, n: int, seed: int | None, replicate: int,
               parameters: ParameterTable | None) -> tuple[pd.DataFrame, int]:
    """One independent trial of ``n`` in the smallest arm: its allocated women and its dyad-days."""
    run = run_trial(trial, n_per_arm=n, seed=seed, counterfactual=False, first_id=replicate * ID_BLOCK,
                    parameters=parameters)
    return run.allocated, run.dyad_days


def _one_thread() -> None:
    """Worker initialiser: one Numba thread per process (one process per core)."""
    import numba

    numba.set_num_threads(1)


def _replicates(trial: TrialDefinition, n: int, seed: int | None, replicates: int,
                parameters: ParameterTable | None, workers: int) -> Iterator[tuple[pd.DataFrame, int]]:
    """The replicate trials, in ``workers`` spawned processes when more than one (identical results)."""
    if workers <= 1 or replicates <= 1:
        for r in range(replicates):
            yield _replicate(trial, n, seed, r, parameters)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # no fork of a process holding Numba threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_one_thread) as pool:
        futures = [pool.submit(_replicate, trial, n, seed, r, parameters) for r in range(replicates)]
        for future in as_completed(futures):
            yield future.result()


def power_curve(trial: TrialDefinition, n_values: list[int], replicates: int = 50, *, seed: int | None = None,
                comparison: str | None = None, parameters: ParameterTable | None = None,
                progress: bool | None = False, workers: int = 1) -> PowerCurve:
    """Power of the trial's primary endpoint at each n per arm.

    Parameters
    ----------
    trial
        The validated definition.
    n_values
        Sizes of the smallest arm to try (the weights keep the allocation ratio).
    replicates
        Independent trials per n.
    seed
        Seed of the model and allocation, in place of the design's.
    comparison
        Arm compared with the control (default: the first arm that is not the control).
    parameters
        The base parameter table (default: shipped).
    progress
        Progress bar over replicates on stderr (``None``: only on a terminal).
    workers
        Processes running replicates in parallel (the curve is the same for any number).

    Returns
    -------
    PowerCurve
        ``table`` with ``n_per_arm``, ``power``, ``ci_low``, ``ci_high``, ``replicates``.
    """
    import sys

    from statsmodels.stats.proportion import proportion_confint
    from tqdm import tqdm

    from lactobiome.trials.results import effect

    started, cpu_started = time.perf_counter(), time.process_time()
    endpoint = next(e for e in trial.endpoints if e.name == trial.primary)
    treated_arm = comparison or next(a.name for a in trial.arms if a.name != trial.control_arm)
    sizes = sorted(set(n_values))
    hits = {n: 0 for n in sizes}
    valid = {n: 0 for n in sizes}
    dyad_days = 0
    disable = (not sys.stderr.isatty()) if progress is None else not progress
    runs = _replicates(trial, max(sizes), seed, replicates, parameters, workers)
    for allocated, simulated in tqdm(runs, total=replicates, desc=f"power {trial.name}", unit="trial",
                                     disable=disable, file=sys.stderr):
        dyad_days += simulated
        for n in sizes:
            arms = _nested(allocated, trial, n)
            result = effect(endpoint, arms[treated_arm], arms[trial.control_arm])
            if np.isfinite(result.p_value):
                valid[n] += 1
                hits[n] += int(result.p_value < ALPHA)
    rows = []
    for n in sizes:
        low, high = proportion_confint(hits[n], replicates, alpha=ALPHA, method="wilson")
        rows.append({"n_per_arm": n, "power": hits[n] / replicates, "ci_low": float(low), "ci_high": float(high),
                     "replicates": replicates, "replicates_with_p": valid[n]})
    table = pd.DataFrame(rows)
    reached = table.loc[table["power"] >= TARGET_POWER, "n_per_arm"]
    return PowerCurve(table, replicates, int(reached.iloc[0]) if len(reached) else None, dyad_days,
                      time.perf_counter() - started, time.process_time() - cpu_started,
                      f"{treated_arm} vs {trial.control_arm}")
