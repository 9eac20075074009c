"""Health outcomes computed from a simulation result (outside the dyad model).

An outcome model reads the early-life state a simulation recorded (an ``xarray.Dataset`` from
:func:`lactobiome.api.simulate` or :func:`lactobiome.simulation.simulate_in_memory`) and
gives each dyad's risk and a draw of the event. It lives outside :mod:`lactobiome.model`
because it reads the dataset, not the day-by-day state.

* :func:`atopic_dermatitis` — the infant's atopic dermatitis (eczema) by a given age.
"""

from __future__ import annotations

from lactobiome.outcomes.atopic_dermatitis import (
    MIN_DAYS,
    SAMPLE_DAY,
    atopic_dermatitis,
    baseline_logit_for,
    early_life_state,
)

__all__ = ["MIN_DAYS", "SAMPLE_DAY", "atopic_dermatitis", "baseline_logit_for", "early_life_state"]
