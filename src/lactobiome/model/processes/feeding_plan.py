"""Feeding plans over time: today's breast-milk share and solids intake.

A dyad's ``breast_milk_share`` attribute is its share in month 1. Its feeding
group may carry a plan, ``breast_milk_share_factor_by_week``: knots of (week of life,
multiplier of the month-1 share), interpolated linearly between knots and held beyond the
ends. Exclusive breastfeeding, pumping only and formula only are flat plans; mixed feeding
with a share that changes by week and weaning are plans with knots. Today's share (clipped
to [0, 1]) goes to ``host["breast_milk_share_today"]``, which lactation and feeding use.

Solids start on the dyad's ``solids_start_day`` and become a full part of the diet with the
e-folding time ``solids_ramp_time_days``; ``host["solids_fraction"]`` (0–1) is read by the
infant-gut process.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import Process
from lactobiome.model.state import DyadState

_DAYS_PER_WEEK = 7.0


def prepare(ctx: SimulationContext, attributes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Index of each dyad's feeding group in the scenario (once per chunk)."""
    lookup = {g.name: i for i, g in enumerate(ctx.scenario.population.feeding_groups)}
    return {"group": np.array([lookup[str(g)] for g in attributes["feeding_group"]], dtype=np.int64)}


def share_factor(day: int, knots: list[tuple[int, float]]) -> float:
    """Multiplier of the month-1 breast-milk share on ``day`` for a plan's knots.

    Parameters
    ----------
    day
        Day of life (day 1 = first 24 h); week ``w`` starts on day ``7 w + 1``.
    knots
        (week, factor) pairs in increasing week order; empty means 1 throughout.
    """
    if not knots:
        return 1.0
    weeks = np.array([w for w, _ in knots], dtype=np.float64)
    factors = np.array([f for _, f in knots], dtype=np.float64)
    return float(np.interp((day - 1) / _DAYS_PER_WEEK, weeks, factors))


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    groups = ctx.scenario.population.feeding_groups
    factors = np.array([share_factor(state.day, g.breast_milk_share_factor_by_week) for g in groups])
    share = state.attributes["breast_milk_share"] * factors[ctx.table("feeding_plan")["group"]]
    state.host["breast_milk_share_today"] = np.clip(share, 0.0, 1.0)

    since = state.day - state.attributes["solids_start_day"]
    tau = ctx.p("solids_ramp_time_days", "day")
    state.host["solids_fraction"] = np.where(since >= 0.0, -np.expm1(-np.maximum(since, 0.0) / tau), 0.0)
    return state


PROCESS = Process(
    "feeding_plan", step,
    writes={"breast_milk_share_today", "solids_fraction"},
    attributes={"breast_milk_share", "solids_start_day", "feeding_group"},
    prepare=prepare,
)
