"""Technical overdispersion of read counts: effective reads, and an estimate from replicates.

Amplicon reads of one extract are not a multinomial draw of its community: PCR and library
preparation add noise that does not shrink with depth. Under a Dirichlet-multinomial with
intra-class correlation ``rho`` the variance of a count is ``n p (1 - p) (1 + (n - 1) rho)``,
the variance a multinomial of ``n / (1 + (n - 1) rho)`` reads would give. A sample's reads
are therefore worth that many independent reads (its *effective depth*), which is what the
default engine's sampling-noise costs and bootstrap assume when told ``rho``
(``track(..., overdispersion=rho)``; docs/tracking.md, "Overdispersed reads").

``rho`` cannot be read off one sample: a sink's excess over its sources is either
overdispersion or an unknown source. It needs technical replicates (the same extract, or
the same specimen, sequenced more than once); :func:`overdispersion_from_replicates` is the
moment estimator for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lactobiome.errors import InputError

__all__ = ["effective_depth", "effective_reads", "overdispersion_from_replicates"]


def effective_depth(depth: np.ndarray | float, rho: float) -> np.ndarray:
    """Independent reads a Dirichlet-multinomial sample of ``depth`` reads is worth.

    Parameters
    ----------
    depth
        Reads per sample.
    rho
        Intra-class correlation in [0, 1).

    Returns
    -------
    numpy.ndarray
        ``depth / (1 + (depth - 1) rho)`` (equal to ``depth`` at ``rho = 0``; at most
        ``1 / rho`` however deep the sample).
    """
    n = np.asarray(depth, dtype=np.float64)
    return n / (1.0 + np.maximum(n - 1.0, 0.0) * rho)


def effective_reads(counts: pd.DataFrame, rho: float) -> pd.DataFrame:
    """Scale every sample (column) of a read table to its effective depth.

    Parameters
    ----------
    counts
        Taxa x samples read counts.
    rho
        Intra-class correlation of the reads' technical noise, in [0, 1).

    Returns
    -------
    pandas.DataFrame
        Fractional pseudo-counts in each sample's own proportions, summing to its
        :func:`effective_depth`; the table itself when ``rho`` is 0.
    """
    if not 0.0 <= rho < 1.0:
        raise InputError(f"overdispersion must be in [0, 1), got {rho}")
    if rho == 0.0:
        return counts
    totals = counts.sum(axis=0).astype(np.float64)
    scale = np.where(totals > 0, effective_depth(totals.to_numpy(), rho) / np.where(totals > 0, totals, 1.0), 0.0)
    return counts.astype(np.float64) * scale


BISECTION_STEPS = 60
"""Bisection steps of :func:`overdispersion_from_replicates` on [0, 1) (to ~1e-18)."""


def overdispersion_from_replicates(counts: pd.DataFrame, groups: pd.Series) -> float:
    """Moment estimate of the Dirichlet-multinomial ``rho`` from technical replicates.

    Within a group of ``J`` replicate libraries of one extract (or one specimen) with depths
    ``n_j`` (``N`` in all) and pooled proportions ``p_t``, the Dirichlet-multinomial gives

    ``E sum_t sum_j (x_jt - n_j p_t)^2 / n_j = (J - 1)(1 + (n_c - 1) rho) sum_t P_t(1 - P_t)``

    with ``n_c = (N - sum_j n_j^2 / N) / (J - 1)`` and ``P`` the true shares (Mosimann 1962,
    Biometrika 49:65; the unequal-depth form of Tvedebrink 2010, Theor Popul Biol 78:200),
    and ``E sum_t p_t (1 - p_t) = (1 - c) sum_t P_t (1 - P_t)``, ``c = sum_j n_j (1 + (n_j -
    1) rho) / N^2``. The groups are pooled and ``rho`` solved by bisection. The sums are
    not divided by each taxon's share (Pearson's form is): with few replicates a rare
    taxon's pooled share is too noisy a denominator, and that form is biased low at large
    ``rho``.

    Parameters
    ----------
    counts
        Taxa x samples read counts.
    groups
        Replicate group of each sample (indexed by sample id; samples not in it are
        ignored). Groups of one sample carry no information and are skipped.

    Returns
    -------
    float
        ``rho`` in [0, 1) (0 when the replicates are no more dispersed than a multinomial).

    Raises
    ------
    InputError
        If no group has two or more libraries with reads.
    """
    parts = []
    for _, members in groups.groupby(groups, sort=False):
        ids = [s for s in members.index if s in counts.columns]
        x = counts[ids].to_numpy(dtype=np.float64).T  # replicates x taxa
        x = x[x.sum(axis=1) > 0]
        if x.shape[0] < 2:
            continue
        n = x.sum(axis=1)
        big_n = n.sum()
        p = x.sum(axis=0) / big_n
        spread = float((((x - n[:, None] * p[None, :]) ** 2).sum(axis=1) / n).sum())
        diversity = float((p * (1.0 - p)).sum())
        n_c = (big_n - (n**2).sum() / big_n) / (x.shape[0] - 1)
        parts.append((spread, x.shape[0] - 1, n_c, diversity, n, big_n))
    if not parts or all(q == 0.0 for _, _, _, q, _, _ in parts):
        raise InputError("overdispersion: no replicate group has two libraries with reads on two taxa")
    observed = sum(s for s, *_ in parts)

    def expected(rho: float) -> float:
        total = 0.0
        for _, dof, n_c, q, n, big_n in parts:
            c = float((n * (1.0 + (n - 1.0) * rho)).sum()) / big_n**2
            total += dof * (1.0 + (n_c - 1.0) * rho) * q / (1.0 - c)
        return total

    if observed <= expected(0.0):
        return 0.0
    lo, hi = 0.0, 1.0 - 1e-12
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if expected(mid) < observed:
            lo = mid
        else:
            hi = mid
    return float(0.5 * (lo + hi))
