"""The mixture-model EM kernel, compiled with Numba and run over many fits in parallel.

A *fit* is one sink with its own known sources (one bootstrap replicate of a sink is a fit
too). Fits have different numbers of sources and taxa, so they are packed into flat arrays
with offsets (a ragged batch) and solved by one parallel loop; nothing in the hot path is a
Python loop over sinks, sources or taxa.

Model (per fit)
---------------
Sink counts ``x_t`` (taxa t) are a multinomial draw from ``q = sum_j a_j g_j + a_u g_u``.
Each known source profile ``g_j`` is itself observed through its own counts ``y_j`` (a
multinomial draw of depth ``m_j``), with a weak Dirichlet prior ``beta * pi`` (``pi`` is the
pooled profile of all samples in the analysis) so that a taxon a source sample missed by
chance is not impossible in that source. EM updates ``a`` and every ``g_j`` jointly from the
sink reads and the source's own reads (as FEAST does, Shenhav et al. 2019, Nat Methods
16:627), and the unknown profile ``g_u`` from the sink reads it is given.

With a free ``g_u`` the plain likelihood is flat: any split in which the known sources
explain no more than the sink contains fits equally well, which is why FEAST's answer depends
on how its unknown source is initialised. ``unknown_cost`` (``lam``) resolves this: each read
assigned to the unknown source costs ``lam`` nats, i.e. the prior on ``a_u`` is
``exp(-lam * n * a_u)``. The optimum is then the *smallest unknown share consistent with the
data*, the one identified decomposition when each source has some taxa that the unknown
lacks; ``lam`` is the relative mismatch the fit may accept at taxa the unknown does not
explain (see docs/tracking.md).

Lost taxa (``loss`` > 0): what seeded the sink from source ``j`` need not be the whole
community: a few taxa may be lost on the way (a strain that did not colonise, or died out
by the time the sink was sampled). In every M-step, taxa of source ``j`` for which the sink
holds clearly fewer reads than ``lost_below`` times the source's expected contribution
(``n a_j g_jt``) are dropped from that source's profile, up to a share ``loss`` of its mass,
and the profile is renormalised, so the kept taxa rise by up to ``1 / (1 - loss)``. A sink
that is a source with some taxa lost then fits that source, instead of pushing everything
into the unknown; reads in excess of what the sources hold still go to the unknown.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def _fit_one(
    x: np.ndarray,
    Y: np.ndarray,
    prior: np.ndarray,
    a: np.ndarray,
    gu: np.ndarray,
    lam: float,
    beta: float,
    tau: float,
    max_iter: int,
    tol: float,
    update_sources: bool,
    loss: float,
    lost_below: float,
) -> tuple[int, bool]:
    """EM for one sink; ``a`` (K+1, unknown last) and ``gu`` are updated in place."""
    K, T = Y.shape
    n = 0.0
    for t in range(T):
        n += x[t]
    G = np.empty((K, T))
    depth = np.empty(K)
    weight = np.empty(K)
    for j in range(K):
        m = 0.0
        for t in range(T):
            m += Y[j, t]
        depth[j] = m
        # weight of the source's own reads: the sample is only as informative about the
        # community that seeded the sink as the source fidelity tau allows
        weight[j] = 1.0 / (1.0 / tau + 1.0 / (m + beta)) if tau > 0 else m + beta
        for t in range(T):
            G[j, t] = (Y[j, t] + beta * prior[t]) / (m + beta)
    Z = np.zeros((K + 1, T))
    R = np.empty(K + 1)
    a_new = np.empty(K + 1)
    c = lam * n
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        R[:] = 0.0
        for t in range(T):
            if x[t] <= 0.0:
                for j in range(K + 1):
                    Z[j, t] = 0.0
                continue
            q = a[K] * gu[t]
            for j in range(K):
                q += a[j] * G[j, t]
            if q <= 0.0:
                for j in range(K + 1):
                    Z[j, t] = 0.0
                continue
            w = x[t] / q
            for j in range(K):
                z = a[j] * G[j, t] * w
                Z[j, t] = z
                R[j] += z
            z = a[K] * gu[t] * w
            Z[K, t] = z
            R[K] += z
        # M-step for a with the unknown-read cost: R_j / mu and R_u / (mu + c), summing to 1.
        S = 0.0
        for j in range(K):
            S += R[j]
        tot = S + R[K]
        mu = 0.5 * ((tot - c) + np.sqrt((tot - c) ** 2 + 4.0 * S * c))
        norm = 0.0
        for j in range(K):
            a_new[j] = R[j] / mu if mu > 0 else 0.0
            norm += a_new[j]
        a_new[K] = R[K] / (mu + c) if mu + c > 0 else 0.0
        norm += a_new[K]
        diff = 0.0
        for j in range(K + 1):
            v = a_new[j] / norm
            d = abs(v - a[j])
            if d > diff:
                diff = d
            a[j] = v
        if update_sources:
            for j in range(K):
                s = weight[j] / (depth[j] + beta)
                den = weight[j] + R[j]
                for t in range(T):
                    G[j, t] = (s * (Y[j, t] + beta * prior[t]) + Z[j, t]) / den
        if loss > 0.0:
            for j in range(K):
                if not update_sources:
                    for t in range(T):
                        G[j, t] = (Y[j, t] + beta * prior[t]) / (depth[j] + beta)
                _drop_lost(x, n * a[j], n * a[j] / depth[j], lost_below, G[j], loss)
        if R[K] > 0.0:
            for t in range(T):
                gu[t] = Z[K, t] / R[K]
        if diff < tol:
            converged = True
            break
    return it, converged


@njit(cache=True, nogil=True)
def _drop_lost(
    x: np.ndarray, reads: float, ratio: float, below: float, g: np.ndarray, loss: float
) -> None:
    """Thin profile ``g`` in place: drop the taxa the sink has lost, up to ``loss`` of the mass.

    The source is expected to put ``e_t = reads * g_t`` reads of taxon ``t`` into the sink.
    The taxon is lost when the sink holds fewer than ``below * e_t`` reads by more than half a
    standard deviation of sampling noise (the sink's, Poisson ``e_t``, plus the source
    sample's, ``e_t * ratio`` with ``ratio`` = sink reads of the source / source depth). If the
    lost taxa hold more than ``loss`` of the mass they are scaled down together so exactly
    ``loss`` is dropped; the profile is renormalised, so kept taxa rise by up to
    ``1 / (1 - loss)``.
    """
    T = x.shape[0]
    lost = 0.0
    for t in range(T):
        e = reads * g[t]
        if x[t] < below * e - 0.5 * np.sqrt(e * (1.0 + ratio)):
            lost += g[t]
    if lost <= 0.0:
        return
    keep = 0.0 if lost <= loss else (lost - loss) / lost
    s = 0.0
    for t in range(T):
        e = reads * g[t]
        if x[t] < below * e - 0.5 * np.sqrt(e * (1.0 + ratio)):
            g[t] *= keep
        s += g[t]
    for t in range(T):
        g[t] /= s


@njit(parallel=True, cache=True)
def fit_batch(
    x_flat: np.ndarray,
    t_off: np.ndarray,
    y_flat: np.ndarray,
    y_off: np.ndarray,
    k_arr: np.ndarray,
    prior_flat: np.ndarray,
    a_flat: np.ndarray,
    a_off: np.ndarray,
    gu_flat: np.ndarray,
    lam: np.ndarray,
    beta: float,
    tau: float,
    max_iter: int,
    tol: float,
    update_sources: bool,
    loss: float,
    lost_below: float,
    iters: np.ndarray,
    conv: np.ndarray,
) -> None:
    """Solve a ragged batch of fits in parallel; ``a_flat`` and ``gu_flat`` are updated in place.

    Fit ``f`` uses taxa ``t_off[f]:t_off[f+1]`` of ``x_flat``, ``prior_flat`` and ``gu_flat``,
    a ``k_arr[f] x T`` block of ``y_flat`` starting at ``y_off[f]`` (row-major) and
    proportions ``a_flat[a_off[f]:a_off[f+1]]`` (known sources then the unknown).
    """
    F = k_arr.shape[0]
    for f in prange(F):
        t0 = t_off[f]
        t1 = t_off[f + 1]
        T = t1 - t0
        K = k_arr[f]
        Y = y_flat[y_off[f] : y_off[f] + K * T].reshape((K, T))
        it, ok = _fit_one(
            x_flat[t0:t1],
            Y,
            prior_flat[t0:t1],
            a_flat[a_off[f] : a_off[f + 1]],
            gu_flat[t0:t1],
            lam[f],
            beta,
            tau,
            max_iter,
            tol,
            update_sources,
            loss,
            lost_below,
        )
        iters[f] = it
        conv[f] = ok
