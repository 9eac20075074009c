"""Verdicts: each target's model value against its acceptance range, as one table.

The verdict is ``within`` when the value lies in the acceptance range, ``outside`` when it
does not, and ``not modelled`` when there is no mechanism (or the cohort holds no dyad the
figure applies to, with the reason said); ``beyond horizon`` when the mechanism is there but
the figure's days lie past the simulated ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import xarray as xr

from lactobiome.validation.measures import check_needs, measure
from lactobiome.validation.statistics import Measurement
from lactobiome.validation.targets import Target, load_targets

WITHIN = "within"
OUTSIDE = "outside"
NOT_MODELLED = "not modelled"
BEYOND_HORIZON = "beyond horizon"
"""Verdict of a modelled target whose time point lies past the simulated days."""
VERDICTS: tuple[str, ...] = (WITHIN, OUTSIDE, NOT_MODELLED, BEYOND_HORIZON)
HORIZON_REASON = "beyond the simulated horizon"
"""How a measurement's reason begins when its days lie past the simulated horizon."""

COLUMNS: tuple[str, ...] = ("id", "quantity", "published", "unit", "acceptance", "model", "ci_low", "ci_high",
                            "n", "verdict", "reason", "measure", "source", "role", "truth_value", "measured_by")
"""Columns of the validation table (``model`` is what the target's study would have measured,
``truth_value`` the model's true value; they differ only when ``measured_by`` is a pipeline)."""


def verdict(target: Target, value: float | None) -> str:
    """``within`` / ``outside`` for a measured target, ``not modelled`` when unmeasured (NaN)."""
    if target.measure is None or value is None or not math.isfinite(value):
        return NOT_MODELLED
    return WITHIN if target.contains(value) else OUTSIDE


def check_dataset(ds: xr.Dataset, targets: Sequence[Target], source: str | Path | None = None) -> None:
    """Check that ``ds`` holds every variable the measured ``targets`` need.

    Parameters
    ----------
    ds
        A simulation result.
    targets
        Targets to be measured (those without a measurement are skipped).
    source
        The file ``ds`` was read from, for the message.

    Raises
    ------
    InputError
        One line naming the first target whose measurement needs a variable ``ds`` lacks,
        the variable and the file.
    """
    for t in targets:
        if t.measure is not None:
            check_needs(ds, t.measure, target=t.id, source=None if source is None else str(source))


def validate_dataset(ds: xr.Dataset, targets: Sequence[Target] | None = None, n_boot: int = 200,
                     seed: int = 0, source: str | Path | None = None) -> pd.DataFrame:
    """The validation table of a simulation result.

    Parameters
    ----------
    ds
        A simulation result.
    targets
        Targets to check; the shipped file when omitted.
    n_boot
        Bootstrap resamples over dyads for the 95% intervals (0: none).
    seed
        Seed of the resampling.
    source
        The file ``ds`` was read from (named in the error when a variable is missing).

    Returns
    -------
    pandas.DataFrame
        One row per target with the columns of :data:`COLUMNS`; ``reason`` says why a target
        is not modelled, or (for ``outside``) the known reason from the targets file.

    Raises
    ------
    InputError
        ``ds`` lacks a variable that a target's measurement needs (checked before measuring).
    """
    targets = load_targets() if targets is None else list(targets)
    check_dataset(ds, targets, source)
    from lactobiome.validation.pipelines import TRUTH, Run, run_pipeline

    cache: dict[str, Measurement] = {}
    pipeline_cache: dict[tuple[str, int], Run] = {}
    rows = []
    for t in targets:
        if t.measure is None:
            m = Measurement(math.nan, reason=t.not_modelled or "")
        else:
            if t.measure not in cache:
                cache[t.measure] = measure(ds, t.measure, n_boot, seed)
            m = cache[t.measure]
        truth_value = m.value
        if t.measure is not None and t.measured_by != TRUTH:
            m = run_pipeline(ds, t.measured_by, t.measure, n_boot, seed, pipeline_cache)
        v = verdict(t, m.value)
        if v == NOT_MODELLED and t.measure is not None and m.reason.startswith(HORIZON_REASON):
            v = BEYOND_HORIZON
        reason = m.reason if v in (NOT_MODELLED, BEYOND_HORIZON) else (t.outside_reason or "" if v == OUTSIDE else "")
        rows.append({"id": t.id, "quantity": t.quantity, "published": t.published, "unit": t.unit,
                     "acceptance": t.acceptance_text, "model": m.value, "ci_low": m.low, "ci_high": m.high,
                     "n": m.n, "verdict": v, "reason": reason, "measure": t.measure or "", "source": t.source,
                     "role": t.role, "truth_value": truth_value, "measured_by": t.measured_by})
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table.attrs["pipeline_notes"] = {k: run[2] for (k, _), run in pipeline_cache.items() if run[2]}
    return table


def counts(table: pd.DataFrame) -> dict[str, int]:
    """Number of targets per verdict."""
    return {v: int((table["verdict"] == v).sum()) for v in VERDICTS}
