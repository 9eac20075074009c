"""Settings of the compiled EM, kept apart from the kernel so they can be made without Numba."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SINGLETON_MAX", "FitOptions"]

SINGLETON_MAX = 1.0
"""Largest count of a taxon in a source sample that counts as a singleton for Good-Turing's
unseen-mass estimate (counts may be fractional after relative abundances are scaled). Shared
by ``core.source_pseudocounts`` and the compiled replicates (``engine.pseudocounts_row``),
which freeze it when compiled: a change here needs ``lactobiome compile`` after clearing the
tracker's cache (Numba checks only ``engine.py`` itself)."""


class FitOptions(NamedTuple):
    """Settings shared by every fit of a batch (a named tuple, so compiled code can take it).

    Per-source settings (prior pseudo-counts, seeding draw sizes) travel as arrays instead.

    Attributes
    ----------
    max_iter
        Most EM steps per fit.
    tol
        Convergence: no proportion moves by more than this in one plain EM step.
    update_sources
        Re-estimate the source profiles from the sink reads too (FEAST's joint update).
    loss
        Largest share of a source's mass that may be lost (0: lost taxa off).
    lost_below
        A taxon is lost below this fraction of the source's expected contribution.
    adapt_lost
        Find the lost set (point estimates) rather than start from a given one (bootstrap).
    lost_min_gain
        Keep the lost taxa only if they lower the unknown share by this much.
    marginal
        Communities integrated out rather than fitted, as bits: 1 the seeding communities,
        2 the unknown (0: all fitted; see ``engine._em_step``).
    unknown_strength
        Pseudo-reads of the unknown community's Dirichlet prior when it is integrated out.
    unknown_pseudo
        Pseudo-reads of a community prior (spread as the pooled profile) added to a fitted
        unknown profile's M step; 0 (the default) for a free profile. Only the bias
        correction's world ``community`` sets it.
    """

    max_iter: int
    tol: float
    update_sources: bool
    loss: float
    lost_below: float
    adapt_lost: bool
    lost_min_gain: float
    marginal: int = 0
    unknown_strength: float = 1.0
    unknown_pseudo: float = 0.0
