"""Feeding and the routes it drives.

At each feed at the breast (direct feed) the infant's mouth touches the nipple–areolar skin
and milk flows back into the ducts after each milk ejection (retrograde flow; Ramsay et al.
2004 counted ~2.5 ejections per feed). Expressed milk given by bottle drives none of these
contact routes. All milk removed from the breast reaches the infant: a small share of its
cells settles in the infant mouth, the rest is swallowed straight into the infant gut
(tagged ``milk``). Saliva swallowing carries infant-mouth cells into the gut (tagged
``infant_mouth``).

Per-feed probabilities combine over ``n`` feeds as ``1 - exp(-rate * n)``.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import Moves


def _per_events(rate: float, events: np.ndarray) -> np.ndarray:
    return (1.0 - np.exp(-rate * events))[:, None]


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    routes = ctx.scenario.routes
    moves = Moves(state, ctx.rng)
    share = state.host.get("breast_milk_share_today", state.attributes["breast_milk_share"])
    feeds = state.host["feeds_per_day"] * share
    direct_feeds = feeds * state.attributes["direct_breastfeeding_share"]
    state.host["direct_feeds_per_day"] = direct_feeds
    ejections = direct_feeds * ctx.p("milk_ejections_per_feed", "ejections/feed")

    if routes.areolar_skin_to_milk:
        rate = ctx.p("areolar_skin_to_milk_per_feed", "1/feed")
        moves.add(
            "areolar_skin", "milk", _per_events(rate, direct_feeds), stream_id("feeding.areolar_skin_to_milk")
        )
    if routes.retrograde:
        rate = ctx.p("retrograde_infant_mouth_to_milk_per_ejection", "1/ejection")
        moves.add("infant_mouth", "milk", _per_events(rate, ejections), stream_id("feeding.retrograde"))
    if routes.areolar_skin_to_infant_mouth:
        rate = ctx.p("areolar_skin_to_infant_mouth_per_feed", "1/feed")
        moves.add(
            "areolar_skin",
            "infant_mouth",
            _per_events(rate, direct_feeds),
            stream_id("feeding.areolar_skin_to_infant_mouth"),
        )
    if routes.areolar_skin_to_infant_gut:
        rate = ctx.p("areolar_skin_swallowed_per_feed", "1/feed")
        moves.add(
            "areolar_skin",
            "infant_gut",
            _per_events(rate, direct_feeds),
            stream_id("feeding.areolar_skin_to_infant_gut"),
        )
    if routes.infant_mouth_to_areolar_skin:
        rate = ctx.p("infant_mouth_to_areolar_skin_per_feed", "1/feed")
        moves.add(
            "infant_mouth",
            "areolar_skin",
            _per_events(rate, direct_feeds),
            stream_id("feeding.infant_mouth_to_areolar_skin"),
        )

    if routes.maternal_mouth_to_infant_mouth:
        rate = ctx.p("maternal_mouth_to_infant_mouth_per_day", "1/day")
        moves.add(
            "maternal_mouth",
            "infant_mouth",
            np.full((state.n_dyads, 1), 1.0 - np.exp(-rate)),
            stream_id("feeding.maternal_mouth_to_infant_mouth"),
        )
    if routes.infant_mouth_to_infant_gut:
        rate = ctx.p("infant_mouth_swallowed_per_day", "1/day")
        moves.add(
            "infant_mouth",
            "infant_gut",
            np.full((state.n_dyads, 1), 1.0 - np.exp(-rate)),
            stream_id("feeding.infant_mouth_to_infant_gut"),
        )
    moves.apply()
    return state
