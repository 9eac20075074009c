"""The mixture-model EM kernel, compiled with Numba and run over many fits in parallel.

A *fit* is one sink with its own known sources (one bootstrap replicate of a sink is a fit
too). Fits have different numbers of sources and taxa, so they are packed into flat arrays
with offsets (a ragged batch) and solved by one parallel loop; nothing in the hot path is a
Python loop over sinks, sources or taxa.

Model (per fit)
---------------
Sink counts ``x_t`` (taxa t) are a multinomial draw from ``q = sum_j a_j g_j + a_u g_u``.
Each known source profile ``g_j`` (the seeding community) is observed through its own
counts ``y_j`` (depth ``m_j``), with Dirichlet pseudo-counts ``b_j`` (the pooled profile of
all samples in the analysis plus the sample's Good-Turing unseen mass on the taxa it missed)
so that a taxon a source sample missed by chance is not impossible in that source. The
sample and the seeding community are two draws of the source community, so the source's own
reads count with weight ``w_j = 1 / (1/tau_j + 1/(m_j + sum b_j))`` (``tau_j`` the size of
the seeding draw; 0: the sample is a draw of the seeding community, weight ``m_j + sum b_j``).
EM updates ``a`` and every ``g_j`` jointly from the sink reads and the source's own weighted
reads (as FEAST does, Shenhav et al. 2019, Nat Methods 16:627), and the unknown profile
``g_u`` from the sink reads it is given.

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
into the unknown; reads in excess of what the sources hold still go to the unknown. The lost
set is found by plain EM steps that re-mark it every step until it settles, then held fixed
(so EM is an ordinary EM again), and judged anew at convergence. Because chance deficits of
sampled taxa also look like small losses, each sink is fitted with and without lost taxa
and the lost taxa are kept only when they lower the unknown share by ``lost_min_gain``.

Solver: EM with a free unknown profile converges linearly and can crawl (thousands of steps
on FEAST's demo sink), so steps are accelerated with SQUAREM (Varadhan & Roland 2008, Scand
J Stat 35:335); convergence is still judged on a plain EM step.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from lactobiome.tracking.options import FitOptions

__all__ = ["FitOptions", "fit_batch"]


LOST_SET_STABLE_ITERATIONS = 20
"""Iterations without a change after which the set of lost taxa is held fixed (numerical
setting of the solver, not a biological parameter)."""
LOST_SET_MAX_ITERATIONS = 300
"""Iteration after which the set of lost taxa is held fixed even if it still changes."""
LOST_SET_ROUNDS = 5
"""Times the lost set is judged again at a converged fit before the fit is accepted."""
SQUAREM_FLOOR = 0.01
"""Smallest share of its plain EM value an extrapolated component may fall to."""


@njit(cache=True, nogil=True)
def _em_step(
    x: np.ndarray,
    Y: np.ndarray,
    B: np.ndarray,
    depth: np.ndarray,
    bsum: np.ndarray,
    weight: np.ndarray,
    c: float,
    update_sources: bool,
    loss: float,
    lost: np.ndarray,
    theta: np.ndarray,
    out: np.ndarray,
    Z: np.ndarray,
    R: np.ndarray,
) -> float:
    """One EM update ``out = F(theta)``; returns the largest change of a proportion.

    ``theta`` packs the proportions ``a`` (K+1, unknown last), the source profiles ``G``
    (K x T, row-major) and the unknown profile ``g_u`` (T). ``B`` (K x T) holds each source's
    prior pseudo-counts and ``bsum`` their totals. Taxa marked in ``lost`` are thinned out of
    their source's profile (see :func:`_drop_lost`).
    """
    K, T = Y.shape
    a = theta[: K + 1]
    G = theta[K + 1 : K + 1 + K * T].reshape((K, T))
    gu = theta[K + 1 + K * T :]
    a_out = out[: K + 1]
    G_out = out[K + 1 : K + 1 + K * T].reshape((K, T))
    gu_out = out[K + 1 + K * T :]
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
        a_out[j] = R[j] / mu if mu > 0 else 0.0
        norm += a_out[j]
    a_out[K] = R[K] / (mu + c) if mu + c > 0 else 0.0
    norm += a_out[K]  # type: ignore[assignment]  # a float64 scalar under Numba
    diff = 0.0
    for j in range(K + 1):
        a_out[j] /= norm
        d = abs(a_out[j] - a[j])
        if d > diff:
            diff = d
    for j in range(K):
        if update_sources:
            s = weight[j] / (depth[j] + bsum[j])
            den = weight[j] + R[j]
            for t in range(T):
                G_out[j, t] = (s * (Y[j, t] + B[j, t]) + Z[j, t]) / den
        else:
            for t in range(T):
                G_out[j, t] = (Y[j, t] + B[j, t]) / (depth[j] + bsum[j])
        if loss > 0.0:
            _drop_lost(G_out[j], lost[j], loss)
    if R[K] > 0.0:
        for t in range(T):
            gu_out[t] = Z[K, t] / R[K]
    else:
        gu_out[:] = gu
    return diff


@njit(cache=True, nogil=True)
def _update_lost(
    x: np.ndarray,
    Y: np.ndarray,
    B: np.ndarray,
    depth: np.ndarray,
    bsum: np.ndarray,
    lost_below: float,
    theta: np.ndarray,
    lost: np.ndarray,
) -> bool:
    """Re-mark the lost taxa of every source from the current proportions; True if changed.

    The expected contribution of a taxon is judged on the source's own profile (its reads and
    the prior), not on the thinned profile, so a taxon once thinned can still be judged.
    """
    K, T = Y.shape
    n = 0.0
    for t in range(T):
        n += x[t]
    g = np.empty(T)
    changed = False
    for j in range(K):
        for t in range(T):
            g[t] = (Y[j, t] + B[j, t]) / (depth[j] + bsum[j])
        reads = n * theta[j]
        changed |= _mark_lost(x, reads, reads / depth[j], lost_below, g, lost[j])
    return changed


@njit(cache=True, nogil=True)
def _squarem(
    args: tuple,
    theta: np.ndarray,
    t1: np.ndarray,
    t2: np.ndarray,
    Z: np.ndarray,
    R: np.ndarray,
    max_iter: int,
    tol: float,
    rejudge: bool,
    lost_below: float,
) -> tuple[int, bool]:
    """Iterate EM from ``theta`` (in place) with SQUAREM steps until no proportion moves by
    ``tol``; with ``rejudge`` the lost set is judged again at convergence (up to
    ``LOST_SET_ROUNDS`` times) and iteration goes on if it moved. Returns (EM steps, converged).
    """
    x, Y, B, depth, bsum = args[0], args[1], args[2], args[3], args[4]
    lost = args[9]
    K, T = Y.shape
    P = theta.shape[0]
    it = 0
    rounds = 0
    converged = False
    while it < max_iter:
        d1 = _em_step(*args, theta, t1, Z, R)  # type: ignore[call-arg]  # args: a tuple
        it += 1
        if d1 < tol:
            theta[:] = t1
            converged = True
        else:
            _em_step(*args, t1, t2, Z, R)  # type: ignore[call-arg]  # args: a tuple
            it += 1
            rr = 0.0
            vv = 0.0
            for i in range(P):
                r = t1[i] - theta[i]
                v = t2[i] - 2.0 * t1[i] + theta[i]
                rr += r * r
                vv += v * v
            alpha = -np.sqrt(rr / vv) if vv > 0.0 else -1.0
            alpha = min(alpha, -1.0)
            # the extrapolated point, put back on the simplexes; a component the step would
            # push below zero keeps a share of its EM value instead, because EM's updates are
            # multiplicative and can never bring back a zero
            for i in range(P):
                r = t1[i] - theta[i]
                v = t2[i] - 2.0 * t1[i] + theta[i]
                t1[i] = max(theta[i] - 2.0 * alpha * r + alpha * alpha * v,
                            SQUAREM_FLOOR * t2[i])
            _renormalise(t1, K, T)
            d = _em_step(*args, t1, theta, Z, R)  # type: ignore[call-arg]  # args: a tuple
            it += 1
            converged = d < tol
        if converged and rejudge and rounds < LOST_SET_ROUNDS:
            # judge the lost set again at the converged proportions; go on if it moved
            rounds += 1
            if _update_lost(x, Y, B, depth, bsum, lost_below, theta, lost):
                converged = False
                continue
        if converged:
            break
    return it, converged


@njit(cache=True, nogil=True)
def _renormalise(theta: np.ndarray, K: int, T: int) -> None:
    """Rescale the blocks of ``theta`` (proportions, each source profile, unknown) to sum 1."""
    s = theta[: K + 1].sum()
    theta[: K + 1] /= s
    for j in range(K):
        row = theta[K + 1 + j * T : K + 1 + (j + 1) * T]
        s = row.sum()
        if s > 0.0:
            row /= s
    tail = theta[K + 1 + K * T :]
    s = tail.sum()
    if s > 0.0:
        tail /= s


@njit(cache=True, nogil=True)
def _fit_one(
    x: np.ndarray,
    Y: np.ndarray,
    B: np.ndarray,
    tau: np.ndarray,
    a: np.ndarray,
    gu: np.ndarray,
    lam: float,
    lost: np.ndarray,
    g_out: np.ndarray,
    options: FitOptions,
) -> tuple[int, bool]:
    """EM for one sink; ``a`` (K+1, unknown last), ``gu`` and ``lost`` are updated in place.

    ``options`` holds the settings every fit of the batch shares (:class:`FitOptions`).
    ``B`` (K x T) is each source's prior pseudo-counts (the pooled profile plus its unseen
    mass) and ``tau`` (K) the reads' worth of information in the seeding community's own
    draw from the source community (0: the seeding community is the source community).

    ``lost`` (K x T) is the set of lost taxa of each source (only used when ``loss`` > 0);
    ``g_out`` (K x T) receives the fitted source profiles.
    With ``adapt_lost`` it is first found by plain EM steps that re-mark it every step until
    it settles; otherwise the given set is the start (a bootstrap replicate starts from the
    point estimate's set). Either way it is judged again whenever the fit has converged.
    When the set is found here, the fit without lost taxa is made too, and the lost taxa are
    kept only if they lower the unknown share by at least ``lost_min_gain``; a bootstrap
    replicate whose start set is empty stays without.

    With a free unknown profile plain EM converges linearly and can crawl (thousands of
    iterations on FEAST's demo), so once the lost set is fixed the iterations are
    accelerated with SQUAREM (Varadhan & Roland 2008, Scand J Stat 35:335): two EM steps
    give a direction, an extrapolated point along it is taken when it stays a valid set of
    proportions and profiles, and one more EM step from there. ``max_iter`` counts EM steps.
    """
    max_iter, tol = options.max_iter, options.tol
    update_sources, loss, lost_below = options.update_sources, options.loss, options.lost_below
    adapt_lost, lost_min_gain = options.adapt_lost, options.lost_min_gain
    K, T = Y.shape
    n = 0.0
    for t in range(T):
        n += x[t]
    P = K + 1 + K * T + T
    theta = np.empty(P)
    depth = np.empty(K)
    bsum = np.empty(K)
    weight = np.empty(K)
    for j in range(K):
        m = 0.0
        b = 0.0
        for t in range(T):
            m += Y[j, t]
            b += B[j, t]
        depth[j] = m
        bsum[j] = b
        # weight of the source's own reads: the sample and the seeding community are two
        # draws of the source community, so the sample tells about the seeding community
        # only as much as both noises together allow (variances add: 1/w = 1/tau + 1/(m+b))
        weight[j] = 1.0 / (1.0 / tau[j] + 1.0 / (m + b)) if tau[j] > 0 else m + b
        for t in range(T):
            theta[K + 1 + j * T + t] = (Y[j, t] + B[j, t]) / (m + b)
    theta[: K + 1] = a
    theta[K + 1 + K * T :] = gu
    t1 = np.empty(P)
    t2 = np.empty(P)
    Z = np.zeros((K + 1, T))
    R = np.empty(K + 1)
    c = lam * n
    off = (x, Y, B, depth, bsum, weight, c, update_sources, 0.0, lost)
    on = (x, Y, B, depth, bsum, weight, c, update_sources, loss, lost)
    if loss <= 0.0 or not (adapt_lost or lost.any()):
        # no loss, or a bootstrap replicate of a fit that chose the model without it
        lost[:] = False
        it, converged = _squarem(off, theta, t1, t2, Z, R, max_iter, tol, False, lost_below)
    elif not adapt_lost:
        it, converged = _squarem(on, theta, t1, t2, Z, R, max_iter, tol, True, lost_below)
    else:
        # fit both models and keep lost taxa only if they pay for themselves
        start = theta.copy()
        lost[:] = False
        it, converged = _squarem(off, theta, t1, t2, Z, R, max_iter, tol, False, lost_below)
        unknown_off = theta[K]
        theta_off = theta.copy()
        theta[:] = start
        # the lost set follows the proportions, which follow the lost set: plain EM steps
        # with the set re-marked every step until it settles
        stable = 0
        k = 0
        while k < max_iter and k < LOST_SET_MAX_ITERATIONS:
            changed = _update_lost(x, Y, B, depth, bsum, lost_below, theta, lost)
            _em_step(*on, theta, t1, Z, R)
            theta[:] = t1
            k += 1
            stable = 0 if changed else stable + 1
            if stable >= LOST_SET_STABLE_ITERATIONS:
                break
        k2, conv_on = _squarem(on, theta, t1, t2, Z, R, max_iter - k, tol, True, lost_below)
        it += k + k2
        if unknown_off - theta[K] >= lost_min_gain:
            converged = conv_on
        else:
            theta[:] = theta_off
            lost[:] = False
    a[:] = theta[: K + 1]
    gu[:] = theta[K + 1 + K * T :]
    g_out[:, :] = theta[K + 1 : K + 1 + K * T].reshape((K, T))
    return it, converged


@njit(cache=True, nogil=True)
def _mark_lost(
    x: np.ndarray, reads: float, ratio: float, below: float, g: np.ndarray, lost: np.ndarray
) -> bool:
    """Mark in ``lost`` the taxa of profile ``g`` that the sink has lost; True if it changed.

    The source is expected to put ``e_t = reads * g_t`` reads of taxon ``t`` into the sink.
    The taxon is lost when the sink holds fewer than ``below * e_t`` reads by more than half a
    standard deviation of sampling noise (the sink's, Poisson ``e_t``, plus the source
    sample's, ``e_t * ratio`` with ``ratio`` = sink reads of the source / source depth).
    ``g`` is the profile before any thinning.
    """
    changed = False
    for t in range(x.shape[0]):
        e = reads * g[t]
        now = x[t] < below * e - 0.5 * np.sqrt(e * (1.0 + ratio))
        if now != lost[t]:
            lost[t] = now
            changed = True
    return changed


@njit(cache=True, nogil=True)
def _drop_lost(g: np.ndarray, lost: np.ndarray, loss: float) -> None:
    """Thin profile ``g`` in place: drop the ``lost`` taxa, up to ``loss`` of the mass.

    If the lost taxa hold more than ``loss`` of the mass they are scaled down together so
    exactly ``loss`` is dropped; the profile is renormalised, so kept taxa rise by up to
    ``1 / (1 - loss)``.
    """
    T = g.shape[0]
    mass = 0.0
    for t in range(T):
        if lost[t]:
            mass += g[t]
    if mass <= 0.0:
        return
    keep = 0.0 if mass <= loss else (mass - loss) / mass
    s = 0.0
    for t in range(T):
        if lost[t]:
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
    b_flat: np.ndarray,
    tau_flat: np.ndarray,
    k_off: np.ndarray,
    a_flat: np.ndarray,
    a_off: np.ndarray,
    gu_flat: np.ndarray,
    lam: np.ndarray,
    lost_flat: np.ndarray,
    g_flat: np.ndarray,
    options: FitOptions,
    iters: np.ndarray,
    conv: np.ndarray,
) -> None:
    """Solve a ragged batch of fits in parallel; ``a_flat`` and ``gu_flat`` are updated in place.

    Fit ``f`` uses taxa ``t_off[f]:t_off[f+1]`` of ``x_flat`` and ``gu_flat``, a
    ``k_arr[f] x T`` block of ``y_flat`` and of the prior pseudo-counts ``b_flat`` starting at
    ``y_off[f]`` (row-major), the seeding draws' sizes ``tau_flat[k_off[f]:k_off[f+1]]`` and
    proportions ``a_flat[a_off[f]:a_off[f+1]]`` (known sources then the unknown).
    ``lost_flat`` (laid out as ``y_flat``) holds each fit's lost taxa, in and out, and
    ``g_flat`` (laid out the same) receives the fitted source profiles;
    ``lam`` is each fit's unknown-read cost and ``options`` the settings they share.
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
            b_flat[y_off[f] : y_off[f] + K * T].reshape((K, T)),
            tau_flat[k_off[f] : k_off[f + 1]],
            a_flat[a_off[f] : a_off[f + 1]],
            gu_flat[t0:t1],
            lam[f],
            lost_flat[y_off[f] : y_off[f] + K * T].reshape((K, T)),
            g_flat[y_off[f] : y_off[f] + K * T].reshape((K, T)),
            options,
        )
        iters[f] = it
        conv[f] = ok
