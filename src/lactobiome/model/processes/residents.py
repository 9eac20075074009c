"""Resident communities of the maternal sites, founded on the first simulated day.

That is day 1, or the first prenatal day when the cohort simulates ``pregnancy_days``: the
mother's own communities then grow and compete through late pregnancy before birth.

Each mother carries a taxon at a maternal site with the catalogue's prevalence; present
taxa start at their niche share of the site's capacity with log-normal between-mother
variation, tagged ``resident``. Which taxa she carries is drawn from her ``resident_seed``
attribute (the cohort seed), so her earlier lactation
(:mod:`lactobiome.model.previous_lactation`) founds the same taxa at her sites; the sizes come
from the lactation's own streams.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.random import RandomStreams
from lactobiome.model.sites import MATERNAL_SITES, ORIGIN_INDEX, SITE_INDEX
from lactobiome.model.state import DyadState

FOUNDING_KEY_DAY = 1
"""Stream-key day of the founding draws, whatever day founds the communities: a mother founded
on a prenatal day starts from exactly the community she would have on day 1 without pregnancy
days (and the one her earlier lactation, founded on day 1, drew from her seed)."""


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    if state.day != ctx.scenario.cohort.first_day:
        return state
    n_taxa = len(ctx.taxa)
    sd = ctx.p("resident_abundance_sd_log", "1")
    seeds = np.asarray(state.attributes["resident_seed"], dtype=np.int64)
    for site in MATERNAL_SITES:
        capacity = ctx.p(f"capacity_{site}_cells", "cells")
        niche = ctx.taxa[f"k_{site}"]
        prevalence = ctx.taxa[f"prevalence_{site}"]
        # carriage is the mother's own: drawn from her lasting seed, the same in every lactation
        draw = np.empty((state.n_dyads, n_taxa))
        for seed in np.unique(seeds):
            rows = seeds == seed
            draw[rows] = RandomStreams(int(seed), state.dyad_ids[rows]).uniform(
                FOUNDING_KEY_DAY, stream_id(f"residents.{site}.present"), (n_taxa,))
        present = draw < prevalence
        spread = np.exp(sd * ctx.rng.normal(FOUNDING_KEY_DAY, stream_id(f"residents.{site}.size"), (n_taxa,)))
        weight = np.where(present, niche * spread, 0.0)
        total = weight.sum(axis=1, keepdims=True)
        # the community fills its site; a mother with no resident taxon there stays empty
        with np.errstate(invalid="ignore", divide="ignore"):
            cells = np.where(total > 0.0, capacity * weight / np.maximum(total, 1.0), 0.0)
        state.abundance[:, SITE_INDEX[site], :, ORIGIN_INDEX["resident"]] += cells.astype(np.float32)
    return state


PROCESS = Process("residents", step, attributes={"resident_seed"})
