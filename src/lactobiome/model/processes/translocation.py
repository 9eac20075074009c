"""Translocation into milk from the mother's tissues.

* Breast stroma → milk through the junctions between lactocytes, in proportion to their
  permeability (open at birth, closing over ~3 days, re-opening under strain); and back
  from milk into the stroma when junctions are strained.
* Maternal gut → milk (entero-mammary pathway): dendritic cells and leucocytes carry live
  bacteria from the gut lumen via lymph to the gland, selectively (catalogue trait
  ``entero_mammary``).
* Maternal mouth → milk: the same immune-cell transfer from the oral cavity, smaller.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import Moves


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    routes = ctx.scenario.routes
    moves = Moves(state, ctx.rng)
    permeability = state.host["tight_junction_permeability"][:, None]
    if routes.stroma_to_milk:
        rate = ctx.p("stroma_to_milk_per_day", "1/day")
        moves.add(
            "breast_stroma",
            "milk",
            1.0 - np.exp(-rate * permeability),
            stream_id("translocation.stroma_to_milk"),
        )
    if routes.milk_to_stroma:
        rate = ctx.p("milk_to_stroma_per_day", "1/day")
        moves.add(
            "milk",
            "breast_stroma",
            1.0 - np.exp(-rate * permeability),
            stream_id("translocation.milk_to_stroma"),
        )
    if routes.entero_mammary:
        rate = ctx.p("entero_mammary_per_day", "1/day")
        fraction = 1.0 - np.exp(-rate * ctx.taxa["entero_mammary"])
        moves.add("maternal_gut", "milk", fraction[None, :], stream_id("translocation.entero_mammary"))
    if routes.maternal_mouth_to_milk:
        rate = ctx.p("oral_mammary_per_day", "1/day")
        moves.add(
            "maternal_mouth",
            "milk",
            np.full((1, 1), 1.0 - np.exp(-rate)),
            stream_id("translocation.maternal_mouth_to_milk"),
        )
    moves.apply()
    return state
