"""Lactation schedule: today's milk volume, feeds and tight-junction permeability.

A placeholder course for the microbial system (the host-system issue replaces it): milk
intake rises from the day-1 colostrum volume towards the mature volume with the
lactogenesis time constant; the infant takes its breast-milk share of it; junctions between
lactocytes are open at birth and close exponentially (Neville et al. 1991: largely closed
by ~72 h).
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext
from lactobiome.model.state import DyadState


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    day = state.day
    mature = ctx.p("milk_intake_mature_ml_per_day", "mL/day")
    day1 = ctx.p("milk_intake_day1_ml_per_day", "mL/day")
    tau = ctx.p("lactogenesis_time_days", "day")
    volume = mature - (mature - day1) * np.exp(-(day - 1) / tau)
    # a feeding plan may change the share over time (feeding_plan); else the month-1 share
    share = state.host.get("breast_milk_share_today", state.attributes["breast_milk_share"])
    state.host["milk_volume_ml"] = np.full(state.n_dyads, volume) * share
    state.host["feeds_per_day"] = np.full(state.n_dyads, ctx.p("feeds_per_day", "feeds/day"))
    state.host["milk_pool_ml"] = np.full(state.n_dyads, ctx.p("milk_pool_volume_ml", "mL"))
    closed = ctx.p("tight_junction_permeability_closed", "fraction")
    closure = ctx.p("tight_junction_closure_time_days", "day")
    state.host["tight_junction_permeability"] = np.full(
        state.n_dyads, closed + (1.0 - closed) * np.exp(-(day - 1) / closure)
    )
    return state
