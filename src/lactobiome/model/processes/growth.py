"""Growth and competition within each site.

Beverton–Holt growth (stable at any rate, unlike the discrete logistic) with Lotka–Volterra
crowding: a taxon with niche share ``k`` in a site of capacity ``K`` grows by the factor
``λ / (1 + (λ - 1) * (n / (k K) + α (N - n) / K))`` per day, where ``λ = exp(r m)``, ``r``
is the taxon's growth rate, ``m`` today's growth modifier from host processes, ``n`` the
taxon's and ``N`` the site's cells, and ``α`` the strength of competition between taxa.
Taxa with no niche in a site (``k = 0``) only pass through: they are lost at the site's
transient-loss rate. Environmental noise multiplies growth log-normally; populations below
the demographic threshold are redrawn as Poisson numbers, so whether a few immigrants
establish is itself random. Growth and death scale all origins of a taxon alike, which
keeps provenance shares within a taxon unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit, prange

from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.random import (
    counter_hashes,
    normal_hashed,
    poisson_hashed,
    stream_day,
    stream_key,
)
from lactobiome.model.sites import SITES
from lactobiome.model.state import DyadState

# far below one cell; provenance components smaller than this are set to zero
_NEGLIGIBLE_CELLS = np.float32(1e-20)


def site_capacity(state: DyadState, ctx: SimulationContext, milk_pool_ml: np.ndarray | None = None) -> np.ndarray:
    """Carrying capacity of each site today (cells), shape (dyad, site).

    ``milk_pool_ml`` is today's ductal milk pool (mL); by default the host variable. Before
    birth there is no milk (:data:`PRENATAL`), so the milk site has no capacity.
    """
    if milk_pool_ml is None:
        milk_pool_ml = state.host["milk_pool_ml"]
    capacity = np.empty((state.n_dyads, len(SITES)))
    for i, site in enumerate(SITES):
        if site == "milk":
            capacity[:, i] = ctx.p("capacity_milk_cells_per_ml", "cells/mL") * milk_pool_ml
        elif site == "infant_gut":
            start = ctx.p("capacity_infant_gut_birth_cells", "cells")
            mature = ctx.p("capacity_infant_gut_mature_cells", "cells")
            tau = ctx.p("infant_gut_capacity_time_days", "day")
            # the infant gut exists from birth: a prenatal day has the day-1 capacity (the site is empty)
            capacity[:, i] = mature - (mature - start) * np.exp(-(max(state.day, 1) - 1) / tau)
        else:
            capacity[:, i] = ctx.p(f"capacity_{site}_cells", "cells")
    return capacity


def prepare(ctx: SimulationContext, attributes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-site growth scales and transient losses, and each taxon's base rate per site, once per chunk."""
    scale = np.array([ctx.p(f"growth_scale_{s}", "1") for s in SITES])
    loss = np.array([ctx.p(f"transient_loss_{s}_per_day", "1/day") for s in SITES])
    # the day's rate is base_rate * modifier, formed in the kernel
    base_rate = np.ascontiguousarray(ctx.taxa["growth_rate_per_day"][None, :] * scale[:, None], dtype=np.float64)
    return {"loss": loss, "base_rate": base_rate}


@njit(cache=True, parallel=True)
def _growth_kernel(abundance, capacity, niche, base_rate, modifier, alpha, loss, noise_sd, threshold,
                   seed, dyad_ids, day, noise_stream, demographic_stream, live_lists, live_counts):
    n_sites = abundance.shape[1]
    n_taxa = abundance.shape[2]
    n_origins = abundance.shape[3]
    # λ and the transient survival of an unmodified day, once per call rather than per element:
    # most sites have no host modifier, and rate * 1.0 is exactly rate
    base_lam = np.exp(np.maximum(base_rate, 0.0))
    survival = np.exp(-loss)
    noise_shift = 0.5 * noise_sd * noise_sd
    normal_hash, uniform_hash = counter_hashes(n_sites * n_taxa)
    for i in prange(abundance.shape[0]):
        noise_key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(noise_stream))
        demo_key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day),
                              np.uint64(demographic_stream))
        totals = np.empty(n_taxa)
        for s in range(n_sites):
            cells = abundance[i, s]
            # sum only the origins the site can hold: the others are +0.0 and change no sum;
            # origin outermost: each taxon's sum keeps its order, without a branch per taxon
            totals[:] = 0.0
            for j in range(live_counts[s]):
                o = live_lists[s, j]
                for t in range(n_taxa):
                    totals[t] += cells[t, o]
            site_total = 0.0
            for t in range(n_taxa):
                site_total += totals[t]
            k_site = capacity[i, s]
            for t in range(n_taxa):
                n = totals[t]
                if n <= 0.0:
                    continue
                if niche[s, t] > 0.0:
                    m = modifier[i, s, t]
                    lam = base_lam[s, t] if m == 1.0 else np.exp(max(base_rate[s, t] * m, 0.0))
                    crowding = n / (niche[s, t] * k_site) + alpha * (site_total - n) / k_site
                    expected = n * lam / (1.0 + (lam - 1.0) * crowding)
                else:
                    expected = n * survival[s]
                j = s * n_taxa + t
                if noise_sd > 0.0:
                    expected *= np.exp(noise_sd * normal_hashed(noise_key, normal_hash[j]) - noise_shift)
                if expected < threshold:
                    expected = poisson_hashed(demo_key, normal_hash[j], uniform_hash[j], expected)
                factor = np.float32(expected / n)
                for o in range(n_origins):  # contiguous: faster than the live list, 0 stays 0
                    v = cells[t, o] * factor
                    # flush vanishing origin shares: float32 subnormals slow arithmetic ~100x
                    cells[t, o] = v if v > _NEGLIGIBLE_CELLS else np.float32(0.0)


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    return _grow(state, ctx, site_capacity(state, ctx))


def prenatal_step(state: DyadState, ctx: SimulationContext) -> DyadState:
    """A day of growth before birth: the mother's sites only hold cells, and there is no milk."""
    return _grow(state, ctx, site_capacity(state, ctx, np.zeros(state.n_dyads)))


def _grow(state: DyadState, ctx: SimulationContext, capacity: np.ndarray) -> DyadState:
    tables = ctx.table("growth")
    live_lists, live_counts = state.origins
    if ctx.unread_sites:
        # a site with no live origin sums to no cells, so the kernel passes over it; the other
        # sites' draws are numbered by site and taxon, so they are the same as in a full run
        live_counts = live_counts.copy()
        live_counts[[SITES.index(site) for site in ctx.unread_sites]] = 0
    _growth_kernel(
        state.abundance,
        np.ascontiguousarray(capacity),
        ctx.taxa.niche_share,
        tables["base_rate"],
        np.ascontiguousarray(state.growth_modifier, dtype=np.float64),
        ctx.p("competition_alpha", "1"),
        tables["loss"],
        ctx.p("growth_noise_sd_log", "1"),
        ctx.p("demographic_threshold_cells", "cells"),
        ctx.rng.seed,
        ctx.rng.dyad_ids,
        stream_day(state.day),
        stream_id("growth.noise"),
        stream_id("growth.demographic"),
        live_lists,
        live_counts,
    )
    return state


PROCESS = Process("growth", step, reads={"milk_pool_ml"}, reads_growth=True, prepare=prepare)

PRENATAL = Process("growth", prenatal_step, reads_growth=True, prepare=prepare)
"""Growth on a prenatal day (:data:`lactobiome.model.engine.PRENATAL_PROCESSES`); same name and
tables as :data:`PROCESS`, no host variable read (no milk pool before birth)."""
