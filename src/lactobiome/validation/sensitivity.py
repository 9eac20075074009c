"""One-at-a-time sensitivity screen of the targets over the parameter priors."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lactobiome.errors import InputError
from lactobiome.model.parameters import ParameterTable
from lactobiome.validation.cohort import model_values, run_cohort
from lactobiome.validation.priors import free_parameters
from lactobiome.validation.targets import Target

SCREEN_COLUMNS: tuple[str, ...] = ("parameter", "low", "high", "target", "value_low", "value_high", "baseline",
                                   "effect")
"""Columns of the table :func:`sensitivity` returns."""


def sensitivity(targets: Sequence[Target], scenario: str = "default", dyads: int = 40, days: int = 120,
                seed: int = 1, names: Sequence[str] | None = None, parameters: ParameterTable | None = None,
                budget_s: float = 600.0, progress: bool | None = None) -> pd.DataFrame:
    """One-at-a-time screen: each free parameter at the low and high end of its prior.

    Every run shares the seed (common random numbers), so differences come from the
    parameter alone. The effect of a parameter on a target is (value at high - value at low)
    divided by half the width of the target's acceptance range: an effect of 2 moves the
    target across its whole range.

    Parameters
    ----------
    targets
        Targets to measure (those without a measurement are skipped).
    scenario, dyads, days, seed
        The screening cohort (small, for speed).
    names
        Parameters to screen; every non-fixed parameter when None.
    parameters
        The parameter table (the shipped one when None).
    budget_s
        Stop starting new parameters after this many seconds; the rows say which were done.
    progress
        Progress bar (None: on a terminal only).

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`SCREEN_COLUMNS`.

    Raises
    ------
    InputError
        A name in ``names`` is not a free parameter of the table.
    """
    from tqdm import tqdm

    from lactobiome.model.parameters import load_parameters

    table = parameters if parameters is not None else load_parameters()
    free = free_parameters(table)
    if names:
        unknown = [n for n in names if n not in free]
        if unknown:
            raise InputError(f"not free parameters of the table (fixed or unknown): {', '.join(unknown)}")
        free = {n: free[n] for n in names}
    measured = [t for t in targets if t.measure is not None]
    start = time.perf_counter()
    baseline = model_values(run_cohort(scenario, dyads, days, seed, table), measured)
    rows = []
    for name, (low, high, _log) in tqdm(free.items(), desc="sensitivity", unit="parameter",
                                        disable=None if progress is None else not progress):
        if time.perf_counter() - start > budget_s:
            break
        lo = model_values(run_cohort(scenario, dyads, days, seed, table, {name: low}), measured)
        hi = model_values(run_cohort(scenario, dyads, days, seed, table, {name: high}), measured)
        for t in measured:
            effect = (hi[t.id] - lo[t.id]) / t.scale
            rows.append({"parameter": name, "low": low, "high": high, "target": t.id, "value_low": lo[t.id],
                         "value_high": hi[t.id], "baseline": baseline[t.id], "effect": effect})
    return pd.DataFrame(rows, columns=list(SCREEN_COLUMNS))


def top_effects(screen: pd.DataFrame, per_target: int = 3) -> pd.DataFrame:
    """The parameters with the largest absolute effect on each target (NaN and zero effects dropped).

    Parameters
    ----------
    screen
        From :func:`sensitivity`.
    per_target
        How many parameters to keep per target.

    Returns
    -------
    pandas.DataFrame
        Columns ``target, parameter, effect``, strongest first within each target.
    """
    ok = screen[np.isfinite(screen["effect"].astype(float))].copy()
    ok["size"] = ok["effect"].abs()
    ok = ok[ok["size"] > 0]
    ok = ok.sort_values(["target", "size"], ascending=[True, False])
    return ok.groupby("target", sort=False).head(per_target)[["target", "parameter", "effect"]]
