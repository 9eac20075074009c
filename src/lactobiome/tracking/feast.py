"""FEAST's expectation-maximisation, as the FEAST 0.1.0 R package runs it (Shenhav et al. 2019).

What this module reproduces, read from ``R/FEAST.R``, ``R/Infer_LatentVariables.R`` and
``R/utils.R`` of cozygene/FEAST (commit 2f8f3df, May 2024); the code here is our own:

* **Rarefaction.** Each sink and its sources are rarefied to ``COVERAGE`` (by default the
  smallest depth among them) by drawing reads *with replacement* in proportion to the counts
  (``FEAST_rarefy``); a sample at or below that depth is left as it is.
* **Unknown-source initialisation** (``unknown_initialize_1``, the package default): the sink
  minus the summed sources, floored at zero; taxa present in at least ``round(K / 2)`` of the
  ``K`` sources (R's round-half-to-even) are set to half the smallest source count, rounded,
  when more than one such taxon exists; taxa absent from every source keep the sink count
  less a Poisson(0.5) draw. The vector is then rarefied to ``COVERAGE``.
* **EM** (``do_EM``): the first E step weights the random initial proportions by each
  source's read total; every M step re-estimates each source profile as its own reads plus
  the sink's *relative* abundances apportioned to it (so a known source of thousands of reads
  barely moves, while the unknown source, which has no reads of its own, becomes the part of
  the sink the known sources do not explain), then re-estimates the proportions with the new
  profiles. Initial proportions are uniform random draws, normalised.
* **Stopping rule**: at most ``EM_iterations`` (1000) steps, stopping when the *first*
  source's proportion moves by at most 1e-6 in one step.

The published default run reuses the first sink's ``COVERAGE`` for every later sink (the R
code sets it once); ``coverage="first"`` reproduces that, ``None`` (default) rarefies every
sink to its own group's smallest depth, as FEAST's documentation describes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "FEAST_ITERATIONS",
    "FEAST_TOLERANCE",
    "FEAST_UNKNOWN_POISSON_MEAN",
    "feast_rarefy",
    "feast_unknown",
    "feast_em",
]

FEAST_ITERATIONS = 1000
"""Most EM steps per sink: FEAST's ``EM_iterations`` default (R/FEAST.R)."""
FEAST_TOLERANCE = 1e-6
"""Stop when the first source's proportion moves by at most this in one step (do_EM)."""
FEAST_UNKNOWN_POISSON_MEAN = 0.5
"""Mean of the Poisson draw subtracted from sink counts of taxa no source has
(``unknown_initialize_1``)."""
FEAST_CORE_SHARE = 0.5
"""A taxon is 'core' when present in at least ``round(K x this)`` of the K sources."""


def feast_rarefy(counts: np.ndarray, depth: int, rng: np.random.Generator) -> np.ndarray:
    """Rarefy as ``FEAST_rarefy`` does: ``depth`` reads drawn with replacement, if deeper.

    Parameters
    ----------
    counts
        One sample's counts over taxa.
    depth
        Target depth in reads.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Float counts summing to ``depth``, or ``counts`` unchanged when not deeper.
    """
    total = counts.sum()
    if total <= depth:
        return counts.astype(np.float64)
    return rng.multinomial(depth, counts / total).astype(np.float64)


def _round_half_even(v: np.ndarray | float) -> np.ndarray:
    """R's ``round``: halves go to the even neighbour (NumPy's ``rint`` does the same)."""
    return np.rint(v)


def feast_unknown(
    x: np.ndarray, Y: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """FEAST's default initial unknown source (``unknown_initialize_1``), before rarefying.

    Parameters
    ----------
    x
        Sink counts over taxa (rarefied).
    Y
        Source counts, sources x taxa (rarefied).
    rng
        Random generator (the Poisson draws).

    Returns
    -------
    numpy.ndarray
        Initial unknown-source counts over taxa.
    """
    k = Y.shape[0]
    total = Y.sum(axis=0)
    unknown = np.maximum(x - total, 0.0)
    if k > 1:
        present = (Y > 0).sum(axis=0)
        core = np.flatnonzero(present >= _round_half_even(k * FEAST_CORE_SHARE))
        if core.size > 1:
            unknown[core] = _round_half_even(Y[:, core].min(axis=0) / 2.0)
    absent = np.flatnonzero(total == 0)
    if absent.size:
        draws = rng.poisson(FEAST_UNKNOWN_POISSON_MEAN, size=absent.size)
        unknown[absent] = np.maximum(x[absent] - draws, 0.0)
    return unknown


@njit(cache=True, nogil=True)
def _em(
    sink: np.ndarray, sources: np.ndarray, alpha0: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, int, bool]:  # pragma: no cover - compiled
    """FEAST's ``do_EM`` on one sink: ``sources`` rows are the K known sources then unknown."""
    n_src, n_tax = sources.shape
    rel = sink / sink.sum()
    observed = sources.copy()
    observed[n_src - 1, :] = 0.0
    # first E step: proportions weighted by each source's read total
    alpha = alpha0.copy()
    s = 0.0
    for i in range(n_src):
        alpha[i] = alpha0[i] * sources[i].sum()
        s += alpha[i]
    for i in range(n_src):
        alpha[i] /= s
    prof = np.zeros((n_src, n_tax))
    for i in range(n_src):
        tot = sources[i].sum()
        if tot > 0:
            prof[i] = sources[i] / tot
    prev = alpha0[0]
    mix = np.zeros(n_tax)
    steps = 0
    converged = False
    for it in range(1, max_iter + 1):
        steps = it
        # M step, profiles: own reads plus the sink's relative abundance apportioned
        mix[:] = 0.0
        for i in range(n_src):
            mix += alpha[i] * prof[i]
        for i in range(n_src):
            tot = 0.0
            for t in range(n_tax):
                v = observed[i, t]
                if mix[t] > 0:
                    v += alpha[i] * prof[i, t] * rel[t] / mix[t]
                prof[i, t] = v
                tot += v
            if tot > 0:
                for t in range(n_tax):
                    prof[i, t] /= tot
        # M step, proportions with the new profiles
        mix[:] = 0.0
        for i in range(n_src):
            mix += alpha[i] * prof[i]
        new = np.zeros(n_src)
        for i in range(n_src):
            acc = 0.0
            for t in range(n_tax):
                if mix[t] > 0:
                    acc += alpha[i] * prof[i, t] * rel[t] / mix[t]
            new[i] = acc
        s = new.sum()
        alpha = new / s
        if abs(alpha[0] - prev) <= tol:
            converged = True
            break
        prev = alpha[0]
    return alpha, steps, converged


def feast_em(
    x: np.ndarray,
    Y: np.ndarray,
    coverage: int,
    rng: np.random.Generator,
    iterations: int = FEAST_ITERATIONS,
    tolerance: float = FEAST_TOLERANCE,
) -> tuple[np.ndarray, int, bool]:
    """FEAST on one sink: rarefy, initialise the unknown source, run the EM.

    Parameters
    ----------
    x
        Sink counts over taxa.
    Y
        Source counts, sources x taxa.
    coverage
        Rarefaction depth (reads).
    rng
        Random generator (rarefaction, the unknown's Poisson draws, initial proportions).
    iterations, tolerance
        FEAST's stopping rule (see the module docstring).

    Returns
    -------
    tuple
        Proportions (K sources then unknown), EM steps taken, whether the rule was met.
    """
    Yr = np.stack([feast_rarefy(y, coverage, rng) for y in Y])
    xr = feast_rarefy(x, coverage, rng)
    unknown = feast_rarefy(feast_unknown(xr, Yr, rng), coverage, rng)
    sources = np.vstack([Yr, unknown[None, :]])
    alpha0 = np.asarray(rng.uniform(0.0, 1.0, size=sources.shape[0]), dtype=np.float64)
    alpha0 /= alpha0.sum()
    a, iters, conv = _em(xr, sources, alpha0, int(iterations), float(tolerance))
    return a, int(iters), bool(conv)
