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

import numpy as np

from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.sites import SITES
from lactobiome.model.state import DyadState


def site_capacity(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Carrying capacity of each site today (cells), shape (dyad, site)."""
    capacity = np.empty((state.n_dyads, len(SITES)))
    for i, site in enumerate(SITES):
        if site == "milk":
            capacity[:, i] = ctx.p("capacity_milk_cells_per_ml", "cells/mL") * state.host["milk_pool_ml"]
        elif site == "infant_gut":
            start = ctx.p("capacity_infant_gut_birth_cells", "cells")
            mature = ctx.p("capacity_infant_gut_mature_cells", "cells")
            tau = ctx.p("infant_gut_capacity_time_days", "day")
            capacity[:, i] = mature - (mature - start) * np.exp(-(state.day - 1) / tau)
        else:
            capacity[:, i] = ctx.p(f"capacity_{site}_cells", "cells")
    return capacity


def _site_rates(ctx: SimulationContext) -> tuple[np.ndarray, np.ndarray]:
    if "growth.scale" not in ctx.cache:
        ctx.cache["growth.scale"] = np.array([ctx.p(f"growth_scale_{s}", "1") for s in SITES])
        ctx.cache["growth.loss"] = np.array([ctx.p(f"transient_loss_{s}_per_day", "1/day") for s in SITES])
    return ctx.cache["growth.scale"], ctx.cache["growth.loss"]


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    totals = state.site_totals()  # (dyad, site, taxon)
    capacity = site_capacity(state, ctx)[:, :, None]
    niche = ctx.taxa.niche_share[None, :, :]
    scale, loss = _site_rates(ctx)
    alpha = ctx.p("competition_alpha", "1")
    rate = ctx.taxa["growth_rate_per_day"][None, None, :] * scale[None, :, None] * state.growth_modifier
    growth = np.exp(np.maximum(rate, 0.0))
    site_total = totals.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        crowding = np.where(niche > 0.0, totals / (niche * capacity), 0.0) + alpha * (site_total - totals) / capacity
    resident_next = totals * growth / (1.0 + (growth - 1.0) * crowding)
    transient_next = totals * np.exp(-loss)[None, :, None]
    expected = np.where(niche > 0.0, resident_next, transient_next)
    sd = ctx.p("growth_noise_sd_log", "1")
    if sd > 0.0:
        noise = ctx.rng.normal(state.day, stream_id("growth.noise"), totals.shape[1:])
        expected *= np.exp(sd * noise - 0.5 * sd * sd)
    small = expected < ctx.p("demographic_threshold_cells", "cells")
    if small.any():
        drawn = ctx.rng.poisson(state.day, stream_id("growth.demographic"), np.where(small, expected, 0.0))
        expected = np.where(small, drawn, expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(totals > 0.0, expected / totals, 0.0)
    state.abundance *= factor[..., None].astype(np.float32)
    return state
