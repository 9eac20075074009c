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

import math

import numpy as np
from numba import njit, prange

from lactobiome.tracking.options import SINGLETON_MAX, FitOptions

__all__ = ["FitOptions", "fit_batch", "replicate_batch"]


LOST_SET_STABLE_ITERATIONS = 20
"""Iterations without a change after which the set of lost taxa is held fixed (numerical
setting of the solver, not a biological parameter)."""
LOST_SET_MAX_ITERATIONS = 300
"""Iteration after which the set of lost taxa is held fixed even if it still changes."""
LOST_SET_ROUNDS = 5
"""Times the lost set is judged again at a converged fit before the fit is accepted."""
SQUAREM_FLOOR = 0.01
"""Smallest share of its plain EM value an extrapolated component may fall to."""


@njit(cache=True, inline="always")
def _left_out(a: np.ndarray, G: np.ndarray, gu: np.ndarray, weight: np.ndarray, n: float, q: float,
              j: int, t: int, K: int, marginal: int, prior: np.ndarray, unknown_strength: float) -> float:
    """Predictive probability of taxon ``t`` under community ``j`` (``K``: the unknown) with
    one read of it left out, where ``marginal`` integrates that community out (else its
    fitted profile). See :func:`_em_step`."""
    if j < K:
        g = G[j, t]
        if marginal & 1:
            d = weight[j] + n * a[j]
            share = a[j] * g / q
            if d - share > 0.0:
                return max(g * d - share, 0.0) / (d - share)
        return g
    g = gu[t]
    if marginal & 2:
        d = n * a[K]
        share = a[K] * g / q
        return (max(g * d - share, 0.0) + unknown_strength * prior[t]) / (d - share + unknown_strength)
    return g


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
    marginal: int,
    prior: np.ndarray,
    unknown_strength: float,
    unknown_pseudo: float,
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

    ``marginal`` (bits: 1 the seeding communities, 2 the unknown community) integrates that
    community out instead of fitting it: a read is given to a source by the source's
    predictive probability with the read itself left out (the collapsed, zero-order
    variational E-step; Asuncion et al. 2009, UAI), so no community explains a read by the
    profile that read has bent towards itself. The unknown's predictive then has a
    Dirichlet prior of ``unknown_strength`` pseudo-reads spread as ``prior``. A fitted
    (not integrated) unknown profile gets ``unknown_pseudo`` pseudo-reads spread as ``prior``
    in its M step (a community prior; 0 for every fit but world ``community``'s).
    """
    K, T = Y.shape
    a = theta[: K + 1]
    G = theta[K + 1 : K + 1 + K * T].reshape((K, T))
    gu = theta[K + 1 + K * T :]
    a_out = out[: K + 1]
    G_out = out[K + 1 : K + 1 + K * T].reshape((K, T))
    gu_out = out[K + 1 + K * T :]
    R[:] = 0.0
    n = 0.0
    if marginal > 0:
        for t in range(T):
            n += x[t]
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
        if marginal == 2:
            # the unknown alone integrated out: its left-out predictive
            # (max(g d - a_u g / q, 0) + s pi) / (d - a_u g / q + s) (d = n a_u), with numerator and
            # denominator multiplied by q, so the step costs one division per taxon (the
            # general path below takes three; divisions dominate the step's cost)
            held = n * a[K]  # sink reads the unknown holds
            num = max(gu[t] * (held * q - a[K]), 0.0) + unknown_strength * prior[t] * q
            den = (held + unknown_strength) * q - a[K] * gu[t]
            known = 0.0  # summed, not q - a_u g_u, which cancels where the unknown dominates
            for j in range(K):
                known += a[j] * G[j, t]
            mix = known * den + a[K] * num
            if mix > 0.0 and den > 0.0:
                w = x[t] / mix
                wd = w * den
                for j in range(K):
                    z = a[j] * G[j, t] * wd
                    Z[j, t] = z
                    R[j] += z
                z = a[K] * num * w
                Z[K, t] = z
                R[K] += z
                continue
        if marginal > 0:
            # leave-one-out predictive of each community: its profile's reads (weight plus
            # the sink reads it holds, about n a_j) less this read's expected share
            qq = 0.0
            for j in range(K + 1):
                Z[j, t] = _left_out(a, G, gu, weight, n, q, j, t, K, marginal, prior, unknown_strength)
                qq += a[j] * Z[j, t]
            if qq > 0.0:
                w = x[t] / qq
                for j in range(K + 1):
                    z = a[j] * Z[j, t] * w
                    Z[j, t] = z
                    R[j] += z
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
            # one division per source, not per taxon (divisions dominate the step's cost)
            inv = 1.0 / (weight[j] + R[j])
            s = weight[j] / (depth[j] + bsum[j]) * inv
            for t in range(T):
                G_out[j, t] = s * (Y[j, t] + B[j, t]) + Z[j, t] * inv
        else:
            for t in range(T):
                G_out[j, t] = (Y[j, t] + B[j, t]) / (depth[j] + bsum[j])
        if loss > 0.0:
            _drop_lost(G_out[j], lost[j], loss)
    if unknown_pseudo > 0.0 and not marginal & 2:
        # the posterior mean of a community drawn from Dirichlet(unknown_pseudo * prior)
        inv_u = 1.0 / (R[K] + unknown_pseudo)
        for t in range(T):
            gu_out[t] = (Z[K, t] + unknown_pseudo * prior[t]) * inv_u
    elif R[K] > 0.0:
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
    theta[: K + 1] *= 1.0 / s
    for j in range(K):
        row = theta[K + 1 + j * T : K + 1 + (j + 1) * T]
        s = row.sum()
        if s > 0.0:
            row *= 1.0 / s
    tail = theta[K + 1 + K * T :]
    s = tail.sum()
    if s > 0.0:
        tail *= 1.0 / s


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
    prior: np.ndarray,
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
    marginal, strength, pseudo_u = options.marginal, options.unknown_strength, options.unknown_pseudo
    off = (x, Y, B, depth, bsum, weight, c, update_sources, 0.0, lost, marginal, prior, strength, pseudo_u)
    on = (x, Y, B, depth, bsum, weight, c, update_sources, loss, lost, marginal, prior, strength, pseudo_u)
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
    prior_flat: np.ndarray,
) -> None:
    """Solve a ragged batch of fits in parallel; ``a_flat`` and ``gu_flat`` are updated in place.

    Fit ``f`` uses taxa ``t_off[f]:t_off[f+1]`` of ``x_flat`` and ``gu_flat``, a
    ``k_arr[f] x T`` block of ``y_flat`` and of the prior pseudo-counts ``b_flat`` starting at
    ``y_off[f]`` (row-major), the seeding draws' sizes ``tau_flat[k_off[f]:k_off[f+1]]`` and
    proportions ``a_flat[a_off[f]:a_off[f+1]]`` (known sources then the unknown).
    ``lost_flat`` (laid out as ``y_flat``) holds each fit's lost taxa, in and out, and
    ``g_flat`` (laid out the same) receives the fitted source profiles;
    ``lam`` is each fit's unknown-read cost, ``options`` the settings they share and
    ``prior_flat`` (laid out as ``x_flat``) each fit's pooled profile.
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
            prior_flat[t0:t1],
        )
        iters[f] = it
        conv[f] = ok


# ---------------------------------------------------------------------------------------------
# Bootstrap replicates: seeded random streams and exact draws, then the fit, in one kernel
# ---------------------------------------------------------------------------------------------
# Each replicate of a sink draws from its own stream, keyed by (run seed, sink, replicate
# number): a replicate's draws, and so every result, are the same whatever the chunk size and
# the number of threads. The stream is SplitMix64 (Steele, Lea & Flood 2014, OOPSLA: a 64-bit
# counter advanced by the golden-ratio increment and put through a mixing function); the
# constants are the published ones.

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_UNIT = 2.0**-53  # spacing of the 53-bit uniforms

BINOMIAL_INVERSION_MEAN = 10.0
"""Below this mean (``n min(p, 1 - p)``) a binomial is drawn by inversion, above it by
Hormann's BTRS rejection (valid from a mean of 10; Hormann 1993, J Stat Comput Simul
46:101). Both are exact; the switch only chooses the faster one."""

START_FLOOR = 1e-3
"""Smallest proportion a replicate's fit starts from (EM's multiplicative updates cannot
revive a zero; numerical, the fit converges to the data's tolerance from any start)."""

START_SINK_WEIGHT = 0.1
"""Weight of the replicate sink's own profile in its fit's starting unknown profile (the rest
is the world's unknown profile; a start only, numerical)."""


@njit(cache=True, inline="always")
def _mix64(z: np.uint64) -> np.uint64:
    """SplitMix64's finaliser: a bijective scramble of 64 bits."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def replicate_key(seed: np.uint64, sink: np.int64, replicate: np.int64) -> np.uint64:
    """The starting state of the stream of one replicate of one sink under a run's seed."""
    k = _mix64(seed + _GOLDEN)
    k = _mix64(k ^ (np.uint64(sink) * _MIX1 + _GOLDEN))
    return _mix64(k ^ (np.uint64(replicate) * _MIX2 + _GOLDEN))


@njit(cache=True, inline="always")
def _uniform(state: np.ndarray) -> float:
    """Next uniform on the open interval (0, 1) of the stream ``state`` (advanced in place)."""
    state[0] += _GOLDEN
    return (float(_mix64(state[0]) >> np.uint64(11)) + 0.5) * _UNIT


ZIGGURAT_LAYERS = 128
"""Layers of the ziggurat for normal draws (Marsaglia & Tsang 2000, J Stat Softw 5(8); the
128-layer table of Doornik 2005, "An improved ziggurat method to generate normal random
samples"). Any table gives exact normals; this one accepts ~99% of draws in a rectangle."""
ZIGGURAT_EDGE = 3.442619855899
"""Start of the tail of the 128-layer ziggurat (Doornik 2005), in standard deviations."""


def _ziggurat_tables(layers: int, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Layer edges ``x`` (``layers + 1``, decreasing to 0) and the share of each layer that
    lies under the next one's edge (``x[i + 1] / x[i]``) for ``f(x) = exp(-x^2 / 2)``.

    Every layer has the area of the base (the rectangle to ``edge`` plus the tail beyond);
    the base's ``x[0]`` is that area over ``f(edge)`` (the width a rectangle of it would have).
    """
    f = math.exp(-0.5 * edge * edge)
    area = edge * f + math.sqrt(math.pi / 2.0) * math.erfc(edge / math.sqrt(2.0))
    x = np.zeros(layers + 1)
    x[0] = area / f
    x[1] = edge
    for i in range(2, layers):
        x[i] = math.sqrt(-2.0 * math.log(area / x[i - 1] + f))
        f = math.exp(-0.5 * x[i] * x[i])
    return x, x[1:] / x[:-1]


_ZIG_X, _ZIG_RATIO = _ziggurat_tables(ZIGGURAT_LAYERS, ZIGGURAT_EDGE)


@njit(cache=True)
def _normal(state: np.ndarray) -> float:
    """Standard normal by the ziggurat method (exact; see ``ZIGGURAT_LAYERS``)."""
    while True:
        state[0] += _GOLDEN
        bits = _mix64(state[0])
        layer = int(bits & np.uint64(ZIGGURAT_LAYERS - 1))  # the low bits pick the layer,
        u = 2.0 * (float(bits >> np.uint64(11)) + 0.5) * _UNIT - 1.0  # the high ones the point
        if abs(u) < _ZIG_RATIO[layer]:
            return u * _ZIG_X[layer]
        if layer == 0:
            # the tail beyond the edge (Marsaglia 1964's method)
            while True:
                a = -np.log(_uniform(state)) / ZIGGURAT_EDGE
                b = -np.log(_uniform(state))
                if 2.0 * b > a * a:
                    return ZIGGURAT_EDGE + a if u > 0.0 else -(ZIGGURAT_EDGE + a)
        x = u * _ZIG_X[layer]
        f_low = np.exp(-0.5 * (_ZIG_X[layer] ** 2 - x * x))  # f(x[layer]) / f(x)
        f_high = np.exp(-0.5 * (_ZIG_X[layer + 1] ** 2 - x * x))  # f(x[layer + 1]) / f(x)
        if f_low + _uniform(state) * (f_high - f_low) < 1.0:
            return x


@njit(cache=True)
def gamma_draw(state: np.ndarray, shape: float) -> float:
    """Gamma(shape, 1): Marsaglia & Tsang (2000, ACM TOMS 26:363) rejection for shape >= 1;
    below 1, ``Gamma(shape + 1) U^(1/shape)`` (their boost). 0 for shape <= 0 (or not a
    number)."""
    if not shape > 0.0:
        return 0.0
    boost = 1.0
    if shape < 1.0:
        boost = np.exp(np.log(_uniform(state)) / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    while True:
        z = _normal(state)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform(state)
        # the squeeze accepts most draws without a logarithm
        if u < 1.0 - 0.0331 * z**4 or np.log(u) < 0.5 * z * z + d * (1.0 - v + np.log(v)):
            return d * v * boost


@njit(cache=True)
def _binomial_inversion(state: np.ndarray, n: float, p: float) -> float:
    """Binomial(n, p) by sequential search of the cumulative probabilities (small means)."""
    q = 1.0 - p
    s = p / q
    a = (n + 1.0) * s
    r = np.exp(n * np.log1p(-p))
    u = _uniform(state)
    k = 0.0
    while u > r and k < n:
        u -= r
        k += 1.0
        r *= a / k - s
    return k


@njit(cache=True)
def _binomial_btrs(state: np.ndarray, n: float, p: float) -> float:
    """Binomial(n, p), p <= 1/2 and mean >= 10: Hormann's (1993) transformed rejection with
    squeeze (BTRS), accepting against the exact log-probabilities; the constants of that
    test are computed only when a draw first needs it (most pass the squeeze)."""
    q = 1.0 - p
    spq = np.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = -1.0
    lpq = m = h = 0.0
    while True:
        u = _uniform(state) - 0.5
        v = _uniform(state)
        us = 0.5 - abs(u)
        k = np.floor((2.0 * a / us + b) * u + c)
        if k < 0.0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        if alpha < 0.0:
            alpha = (2.83 + 5.1 / b) * spq
            lpq = np.log(p / q)
            m = np.floor((n + 1.0) * p)
            h = math.lgamma(m + 1.0) + math.lgamma(n - m + 1.0)
        v = np.log(v * alpha / (a / (us * us) + b))
        if v <= h - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + (k - m) * lpq:
            return k


@njit(cache=True)
def binomial_draw(state: np.ndarray, n: float, p: float) -> float:
    """Binomial(n, p) for a whole number ``n`` >= 0 (as a float), exact (0 for a p that is
    not a number, so no rejection loop can spin on one)."""
    if not (n > 0.0 and p > 0.0):
        return 0.0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial_draw(state, n, 1.0 - p)
    if n * p < BINOMIAL_INVERSION_MEAN:
        return _binomial_inversion(state, n, p)
    return _binomial_btrs(state, n, p)


MULTINOMIAL_BINOMIAL_READS = 4.0
"""Categories expected to get at least this many reads of a multinomial draw are drawn by
conditional binomials, the rest read by read (a speed setting: both ways are exact, and a
binomial costs about as much as a few reads' categorical draws)."""


@njit(cache=True)
def multinomial_draw(state: np.ndarray, n: float, weights: np.ndarray, out: np.ndarray) -> None:
    """``out`` = Multinomial(n, weights / sum(weights)) for a whole ``n`` >= 0, exact.

    Categories expected to hold ``MULTINOMIAL_BINOMIAL_READS`` or more reads get conditional
    binomials in turn, the rest being one last category; the reads that fall to it are then
    spread over its categories one by one (each a categorical draw by bisection of their
    cumulative weights). Weights need not sum to 1; the counts sum to ``n`` exactly.
    """
    T = weights.shape[0]
    out[:] = 0.0
    total = 0.0
    for t in range(T):
        if weights[t] > 0.0:
            total += weights[t]
    if total <= 0.0 or n <= 0.0:
        return
    cut = MULTINOMIAL_BINOMIAL_READS * total / n
    small = 0.0
    last = -1
    for t in range(T):
        w = weights[t]
        if w > 0.0 and w < cut:
            small += w
        elif w >= cut:
            last = t
    remaining = n
    left = total
    for t in range(last + 1):
        w = weights[t]
        if w < cut or w <= 0.0:
            continue
        if remaining <= 0.0:
            break
        if t == last and small <= 0.0:
            out[t] = remaining  # the last category takes what is left
            remaining = 0.0
            break
        k = binomial_draw(state, remaining, w / left) if w < left else remaining
        out[t] = k
        remaining -= k
        left -= w
    if remaining <= 0.0:
        return
    idx = np.empty(T, dtype=np.int64)
    cum = np.empty(T)
    m = 0
    acc = 0.0
    for t in range(T):
        w = weights[t]
        if w > 0.0 and w < cut:
            acc += w
            idx[m] = t
            cum[m] = acc
            m += 1
    if m == 0:  # rounding left reads but no small category: the last one takes them
        out[last] += remaining
        return
    for _ in range(int(remaining)):
        target = _uniform(state) * acc
        lo = 0
        hi = m - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cum[mid] < target:
                lo = mid + 1
            else:
                hi = mid
        out[idx[lo]] += 1.0


@njit(cache=True)
def pseudocounts_row(y: np.ndarray, prior: np.ndarray, strength: float, out: np.ndarray) -> None:
    """:func:`lactobiome.tracking.core.source_pseudocounts` of one sample ``y``, into ``out``."""
    T = y.shape[0]
    m = 0.0
    f1 = 0.0
    pi_u = 0.0
    for t in range(T):
        m += y[t]
        if y[t] > 0.0 and y[t] <= SINGLETON_MAX:
            f1 += 1.0
        if y[t] <= 0.0:
            pi_u += prior[t]
    u = min(f1 / m, 1.0) if m > 0.0 else 0.0
    extra = 0.0
    if pi_u > 0.0 and m > 0.0:
        extra = (u * (m + strength) - strength * pi_u) / (1.0 - u) if u < 1.0 else m
        extra = max(extra, 0.0)
    for t in range(T):
        out[t] = strength * prior[t]
        if y[t] <= 0.0 and pi_u > 0.0:
            out[t] += extra * prior[t] / pi_u


@njit(cache=True)
def _draw_source(state: np.ndarray, depth: float, centre: np.ndarray, tau: float, seen: np.ndarray,
                 seeded: bool, profile: np.ndarray, out: np.ndarray) -> None:
    """One replicate source sample into ``out``: ``depth`` reads from ``centre``, or, with a
    seeding draw (``seeded``), from a profile drawn from ``Dirichlet(tau centre)``.

    Taxa that no source sample of the sink shows (``seen`` false) form one Dirichlet
    component, spread over them as ``centre`` is: the same law for every seen taxon and the
    unseen total, with a gamma draw per seen taxon only.
    """
    T = centre.shape[0]
    if not seeded:
        multinomial_draw(state, depth, centre, out)
        return
    rest = 0.0
    for t in range(T):
        if not seen[t]:
            rest += centre[t]
    total = 0.0
    for t in range(T):
        if seen[t]:
            profile[t] = gamma_draw(state, tau * centre[t])
            total += profile[t]
    unseen = gamma_draw(state, tau * rest)
    total += unseen
    if total <= 0.0:  # every shape so small that all draws underflowed: the centre itself
        profile[:] = centre
    else:
        spread = unseen / rest if rest > 0.0 else 0.0
        for t in range(T):
            profile[t] = profile[t] / total if seen[t] else centre[t] * spread / total
    multinomial_draw(state, depth, profile, out)


@njit(cache=True)
def _replicate(
    state: np.ndarray,
    n: float,
    sink_mix: np.ndarray,
    centre: np.ndarray,
    tau: np.ndarray,
    depth: np.ndarray,
    seen: np.ndarray,
    seeded: bool,
    group_start: np.ndarray,
    group_size: np.ndarray,
    group_rows: np.ndarray,
    prior: np.ndarray,
    a_hat: np.ndarray,
    world_gu: np.ndarray,
    lost_hat: np.ndarray,
    strength: float,
    fidelity: float,
    kappa: float,
    options: FitOptions,
    rows: np.ndarray,
    a: np.ndarray,
    gu: np.ndarray,
) -> None:
    """Draw one bootstrap replicate of a sink and fit it; ``rows``, ``a`` and ``gu`` receive
    the source samples drawn (rows of the sink's sources), the fitted proportions (one per
    drawn row, unknown last) and the fitted unknown profile. See :func:`replicate_batch`."""
    K, T = centre.shape
    x = np.empty(T)
    multinomial_draw(state, n, sink_mix, x)
    for s in range(K):
        size = group_size[s]
        pick = group_rows[s]
        if size > 1:
            pick = group_rows[group_start[s] + min(int(_uniform(state) * size), size - 1)]
        rows[s] = pick
    Y = np.empty((K, T))
    B = np.empty((K, T))
    tau_b = np.empty(K)
    lost = np.empty((K, T), dtype=np.bool_)
    profile = np.empty(T)
    mean_depth = 0.0
    for s in range(K):
        r = rows[s]
        _draw_source(state, depth[r], centre[r], tau[r], seen, seeded, profile, Y[s])
        pseudocounts_row(Y[s], prior, strength, B[s])
        m = 0.0
        b = 0.0
        for t in range(T):
            m += Y[s, t]
            b += B[s, t]
        mean_depth += m / K
        # the replicate's seeding-draw size is estimated from its own reads, as the data's is
        tau_b[s] = m + b if fidelity < 0.0 else fidelity
        lost[s] = lost_hat[r]
    total = 0.0
    for s in range(K):
        a[s] = max(a_hat[rows[s]], START_FLOOR)
        total += a[s]
    a[K] = max(a_hat[K], START_FLOOR)
    total += float(a[K])
    a /= total
    root = 0.0
    norm = 0.0
    for t in range(T):
        root += np.sqrt(x[t] / n)
        gu[t] = (1.0 - START_SINK_WEIGHT) * world_gu[t] + START_SINK_WEIGHT * x[t] / n
        norm += gu[t]
    gu /= norm
    # the unknown-read cost of the replicate, from its own reads (core._sink_noise_cost)
    lam = kappa * root * np.sqrt(1.0 / n + 1.0 / mean_depth)
    g_out = np.empty((K, T))
    _fit_one(x, Y, B, tau_b, a, gu, lam, lost, g_out, options, prior)


@njit(parallel=True, cache=True)
def replicate_batch(
    seed: np.uint64,
    first: np.int64,
    count: np.int64,
    t_off: np.ndarray,
    k_off: np.ndarray,
    reads: np.ndarray,
    mix_flat: np.ndarray,
    centre_flat: np.ndarray,
    y_off: np.ndarray,
    tau_flat: np.ndarray,
    depth_flat: np.ndarray,
    seen_flat: np.ndarray,
    seeded: np.ndarray,
    group_start: np.ndarray,
    group_size: np.ndarray,
    group_rows: np.ndarray,
    prior_flat: np.ndarray,
    a_hat_flat: np.ndarray,
    a_off: np.ndarray,
    gu_flat: np.ndarray,
    lost_flat: np.ndarray,
    strength: float,
    fidelity: float,
    kappa: float,
    options: FitOptions,
    rows_out: np.ndarray,
    a_out: np.ndarray,
    unknown_out: np.ndarray,
) -> None:
    """Draw and fit replicates ``first .. first + count - 1`` of every sink, in parallel.

    Sink ``i`` has taxa ``t_off[i]:t_off[i+1]`` (its sink reads' world mixture ``mix_flat``,
    unnormalised; which taxa any of its source samples shows, ``seen_flat``; its pooled
    prior ``prior_flat``; the world's unknown profile ``gu_flat``), source rows
    ``k_off[i]:k_off[i+1]`` (each row's seeding-draw size ``tau_flat`` and depth
    ``depth_flat``, reads) and ``K x T`` blocks at ``y_off[i]`` of the centres its source
    samples are redrawn around (``centre_flat``) and of its lost taxa (``lost_flat``);
    ``a_hat_flat[a_off[i]:a_off[i+1]]`` are its point estimate's proportions (rows, unknown
    last). ``seeded[i]``: redraw its source samples through a seeding draw. The sources are
    resampled within their groups: slot ``s`` (a row index in ``k_off`` order) takes a row
    of ``group_rows`` drawn uniformly from the ``group_size[s]`` entries from
    ``group_start[s]`` (relative to the sink's first row), or ``group_rows[s]`` itself when
    its group has one row.

    Replicate ``first + b`` of sink ``i`` writes the rows it drew to
    ``rows_out[k_off[i] count + b K ...]`` (``K`` entries), its proportions to
    ``a_out[a_off[i] count + b (K + 1) ...]`` and its unknown reads per taxon (``n a_u g_u``)
    to ``unknown_out[t_off[i] count + b T ...]``. Its random draws
    come from the stream :func:`replicate_key` ``(seed, i, first + b)`` only.
    """
    S = reads.shape[0]
    for f in prange(S * count):
        # replicate-major order, so that the threads' equal shares of the loop hold every
        # sink alike (sinks differ in cost)
        b = f // S
        i = f - b * S
        t0, t1 = t_off[i], t_off[i + 1]
        k0, k1 = k_off[i], k_off[i + 1]
        T = t1 - t0
        K = k1 - k0
        state = np.empty(1, dtype=np.uint64)
        state[0] = replicate_key(seed, np.int64(i), np.int64(first + b))
        y0 = y_off[i]
        a0 = a_off[i]
        ro = k0 * count + b * K
        ao = a0 * count + b * (K + 1)
        uo = t0 * count + b * T
        gu = np.empty(T)
        _replicate(
            state,
            reads[i],
            mix_flat[t0:t1],
            centre_flat[y0 : y0 + K * T].reshape((K, T)),
            tau_flat[k0:k1],
            depth_flat[k0:k1],
            seen_flat[t0:t1],
            seeded[i],
            group_start[k0:k1],
            group_size[k0:k1],
            group_rows[k0:k1],
            prior_flat[t0:t1],
            a_hat_flat[a0 : a0 + K + 1],
            gu_flat[t0:t1],
            lost_flat[y0 : y0 + K * T].reshape((K, T)),
            strength,
            fidelity,
            kappa,
            options,
            rows_out[ro : ro + K],
            a_out[ao : ao + K + 1],
            gu,
        )
        share = a_out[ao + K] * reads[i]
        for t in range(T):
            unknown_out[uo + t] = share * gu[t]
