"""Nipple fissures break the skin barrier: pathobionts on the areolar skin enter the breast.

Only damage that opens the skin (a crack or fissure, attribute ``nipple_fissure``: a share of
the damaged, ``prevalence_nipple_fissure_given_damage``) is a way in; redness and swelling of the
epidermis hurt but keep the barrier closed (Nakamura M et al. Breastfeed Med 2018;13:479).
Until such a nipple has healed (its ``nipple_healing_day``: most within the first weeks,
an eighth still open at 8 weeks; :func:`lactobiome.model.population.nipple_healing_day`),
each direct feed carries areolar-skin
cells through the fissures into the stroma and the ducts. Entry is weighted by each
taxon's ``pathogenic_potential`` (adhesins and invasion factors: Staphylococcus aureus
enters, Cutibacterium hardly), so nipple damage raises the pathobiont load of milk and
stroma — its mechanism as a risk factor, not an odds ratio.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import Moves


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    damaged = state.attributes["nipple_fissure"] & (state.day <= state.attributes["nipple_healing_day"])
    # fissures are part of the skin-to-milk route: switching that route off closes them too
    if not damaged.any() or not ctx.scenario.routes.areolar_skin_to_milk:
        return state
    feeds = np.where(damaged, state.host["direct_feeds_per_day"], 0.0)[:, None]
    invasive = ctx.taxa["pathogenic_potential"][None, :]
    moves = Moves(state, ctx.rng)  # in order, as one move after the other
    for receiver, name in (("breast_stroma", "nipple_fissure_to_stroma_per_feed"),
                           ("milk", "nipple_fissure_to_milk_per_feed")):
        fraction = 1.0 - np.exp(-ctx.p(name, "1/feed") * invasive * feeds)
        moves.add("areolar_skin", receiver, fraction, stream_id(f"skin_barrier.{receiver}"))
    moves.apply()
    return state


PROCESS = Process("skin_barrier", step, reads={"direct_feeds_per_day"}, attributes={"nipple_fissure", "nipple_healing_day"})
