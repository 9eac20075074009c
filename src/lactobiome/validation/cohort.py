"""Simulating a cohort for validation, and its model value per target."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import xarray as xr

from lactobiome.model.parameters import ParameterTable
from lactobiome.validation.targets import Target
from lactobiome.validation.verdicts import validate_dataset

VALIDATION_DAYS: tuple[int, ...] = (1, 2, 3, 5, 6, 7, 10, 14, 30, 60, 90, 120, 150, 180, 182)
"""Recorded days the measurements need (added to the scenario's own sampling days)."""


def run_cohort(scenario: str = "default", dyads: int | None = None, days: int | None = None,
               seed: int | None = None, parameters: ParameterTable | None = None,
               overrides: Mapping[str, float] | None = None) -> xr.Dataset:
    """Simulate a cohort for validation, recording the days the measurements need.

    Parameters
    ----------
    scenario
        Built-in scenario name or YAML path.
    dyads, days, seed
        Cohort overrides (the scenario's own when None).
    parameters
        A :class:`~lactobiome.model.parameters.ParameterTable` (the shipped table when None).
    overrides
        Parameter values overriding the table (name -> value).

    Returns
    -------
    xarray.Dataset
        The simulation result, in memory.
    """
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import simulate_in_memory

    base = load_scenario(scenario)
    horizon = days if days is not None else base.cohort.days
    cohort = {k: v for k, v in {"dyads": dyads, "days": days, "seed": seed}.items() if v is not None}
    recorded = sorted({int(d) for d in base.sampling.days if d <= horizon}
                      | {d for d in VALIDATION_DAYS if d <= horizon})
    changes: dict[str, Any] = {"cohort": cohort, "sampling": {"days": recorded}}
    if overrides:
        changes["parameters"] = {**base.parameters, **{k: float(v) for k, v in overrides.items()}}
    ds: xr.Dataset = simulate_in_memory(load_scenario(scenario, changes), parameters)
    return ds


def model_values(ds: xr.Dataset, targets: Sequence[Target]) -> dict[str, float]:
    """Each target's model value on ``ds`` (no bootstrap; NaN when not modelled), by id."""
    table = validate_dataset(ds, targets, n_boot=0)
    return {str(i): float(v) for i, v in zip(table["id"], table["model"].astype(float), strict=True)}
