"""Feeding and the routes it drives.

At each feed at the breast (direct feed) the infant's mouth touches the nipple–areolar skin
and milk flows back into the ducts after each milk ejection (retrograde flow; Ramsay et al.
2004 counted ~2.5 ejections per feed). Expressed milk given by bottle drives none of these
contact routes. All milk removed from the breast reaches the infant: a small share of its
cells settles in the infant mouth, the rest is swallowed straight into the infant gut
(tagged ``milk``). Saliva swallowing carries infant-mouth cells into the gut (tagged
``infant_mouth``).

Per-feed probabilities combine over ``n`` feeds as ``1 - exp(-rate * n)``; the routes, their
switches and rates are rows of :data:`lactobiome.model.routes.ROUTES`.
"""

from __future__ import annotations

from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import Process
from lactobiome.model.routes import apply_contact_routes
from lactobiome.model.state import DyadState


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    feeds = state.host["feeds_per_day"] * state.host["breast_milk_share_today"]
    state.host["direct_feeds_per_day"] = feeds * state.attributes["direct_breastfeeding_share"]
    # the contact routes of feeds at the breast: rows of the route table carried by "feeding"
    apply_contact_routes(state, ctx, "feeding")
    return state


PROCESS = Process(
    "feeding", step,
    reads={"feeds_per_day", "breast_milk_share_today"},
    writes={"direct_feeds_per_day"},
    attributes={"direct_breastfeeding_share"},
)
