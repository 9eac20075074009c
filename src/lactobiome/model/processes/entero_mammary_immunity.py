"""Entero-mammary immunity: milk sIgA is specific for the mother's own gut microbes.

IgA plasma cells primed in the maternal gut home to the lactating breast, so the repertoire
of milk sIgA follows the maternal gut community with a lag (the time to prime and home).
``siga_specificity[dyad, taxon]`` in [0, 1] is the share of a taxon's cells that milk sIgA
targets. It relaxes each day towards ``immunogenicity × r / (r + h)``, ``r`` the taxon's
relative abundance in the maternal gut and ``h`` a priming half-share (a taxon the mother
carries in any number primes IgA; one she lacks does not); it starts on day 1 at the
birth-day gut community (primed in pregnancy). The infant-gut processes read it with
``siga_g_per_l`` to target sIgA coating.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import Process
from lactobiome.model.sites import SITE_INDEX
from lactobiome.model.state import DyadState


def target(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """The specificity the maternal gut community primes today, (dyad, taxon) in [0, 1]."""
    gut = state.cells_in(SITE_INDEX["maternal_gut"])
    total = gut.sum(axis=1, keepdims=True)
    share = np.divide(gut, total, out=np.zeros_like(gut), where=total > 0.0)
    half = ctx.p("siga_priming_half_share", "fraction")
    return ctx.taxa["immunogenicity"][None, :] * share / (share + half)


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    now = target(state, ctx)
    if state.day == 1:  # primed in pregnancy by the birth-day gut community
        state.host["siga_specificity"] = now
        return state
    previous = state.host["siga_specificity"]
    follow = 1.0 - np.exp(-1.0 / ctx.p("siga_specificity_lag_days", "day"))
    state.host["siga_specificity"] = previous + follow * (now - previous)
    return state


PROCESS = Process("entero_mammary_immunity", step, writes={"siga_specificity"})
