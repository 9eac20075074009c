"""Background immigration from the environment into the infant's sites and the areolar skin."""

from __future__ import annotations

from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import immigrate

_RECEIVERS = ("infant_mouth", "infant_gut", "areolar_skin")


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    if not ctx.scenario.routes.environment:
        return state
    weights = ctx.taxa["environment"]
    weights = weights / max(weights.sum(), 1e-300)
    for site in _RECEIVERS:
        if site in ctx.unread_sites:  # its own stream: the other sites' draws are unchanged
            continue
        daily = ctx.p(f"environment_to_{site}_cells_per_day", "cells/day")
        immigrate(state, site, "environment", (daily * weights)[None, :], ctx.rng, stream_id(f"environment.{site}"))
    return state


PROCESS = Process("environment", step)
