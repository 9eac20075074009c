"""SourceTracker's Gibbs sampler with SourceTracker2's defaults (Knights et al. 2011).

What this module reproduces, read from ``sourcetracker/_sourcetracker.py``,
``sourcetracker/_gibbs.py`` and ``sourcetracker/_gibbs_defaults.py`` of
caporaso-lab/sourcetracker2 (the code here is our own, compiled with Numba):

* **Sources** of one label (``Env``) are collapsed to their *mean* counts, truncated to whole
  numbers, then rarefied without replacement to ``source_depth`` reads (default 1000); a
  collapsed source or a sink shallower than its depth is an error, as in SourceTracker2.
* **Sinks** are rarefied without replacement to ``sink_depth`` reads (default 1000).
* **Sampler**: every sink read carries a source label (the K sources and Unknown). A
  restart draws the labels uniformly, then makes ``burnin + (draws_per_restart - 1) x delay
  + 1`` passes; each pass visits the reads in a fresh random order, removes the read's label
  and draws a new one with weights ``p_kt (n_k + beta)`` for a known source ``k``, where
  ``p_kt = (m_kt + alpha1) / (m_k + tau alpha1)`` is the source's smoothed profile over the
  ``tau`` taxa of the table, and ``(u_t + alpha2 n) (n_U + beta) / (u + alpha2 n tau)`` for
  Unknown, whose profile ``u`` is the sink reads currently labelled Unknown (``n`` is the sink
  depth, ``n_k`` the reads labelled ``k``). Draws are taken after the burn-in and every
  ``delay`` passes; the proportions are the label counts summed over all draws of all
  restarts, divided by their total.
* **Defaults** (``_gibbs_defaults.py``): alpha1 0.001, alpha2 0.1, beta 10, restarts 10,
  draws per restart 1, burn-in 100, delay 1, source and sink rarefaction depth 1000.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from lactobiome.errors import InputError

__all__ = [
    "ST2_ALPHA1",
    "ST2_ALPHA2",
    "ST2_BETA",
    "ST2_BURNIN",
    "ST2_DELAY",
    "ST2_DEPTH",
    "ST2_DRAWS_PER_RESTART",
    "ST2_RESTARTS",
    "collapse_sources",
    "gibbs_sink",
]

ST2_ALPHA1 = 0.001
"""Prior counts of each taxon in each known source (DEFAULT_ALPH1)."""
ST2_ALPHA2 = 0.1
"""Prior counts of each taxon in the Unknown source, per sink read (DEFAULT_ALPH2)."""
ST2_BETA = 10.0
"""Prior counts of sink reads from each source (DEFAULT_TEN, --beta)."""
ST2_RESTARTS = 10
"""Independent chains per sink (DEFAULT_TEN, --restarts)."""
ST2_DRAWS_PER_RESTART = 1
"""Draws kept per chain (DEFAULT_ONE, --draws_per_restart)."""
ST2_BURNIN = 100
"""Passes before the first draw (DEFAULT_HUND, --burnin)."""
ST2_DELAY = 1
"""Passes between draws (DEFAULT_ONE, --delay)."""
ST2_DEPTH = 1000
"""Source and sink rarefaction depth in reads (DEFAULT_THOUS)."""


def _subsample(counts: np.ndarray, depth: int, rng: np.random.Generator) -> np.ndarray:
    """``depth`` reads drawn without replacement (SourceTracker2's ``subsample_counts``)."""
    return rng.multivariate_hypergeometric(counts.astype(np.int64), depth).astype(np.int64)


def collapse_sources(Y: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Mean counts of the source samples of each label, truncated to whole numbers.

    Parameters
    ----------
    Y
        Source counts, samples x taxa.
    labels
        Label of each row (its ``Env``, or the sample id when sources are kept apart).

    Returns
    -------
    tuple
        Collapsed counts (labels x taxa, int64) and the labels in first-seen order.
    """
    order = list(dict.fromkeys(labels))
    out = np.zeros((len(order), Y.shape[1]), dtype=np.int64)
    for i, lab in enumerate(order):
        rows = [r for r, v in enumerate(labels) if v == lab]
        out[i] = np.floor(Y[rows].mean(axis=0)).astype(np.int64)
    return out, order


@njit(cache=True, nogil=True)
def _gibbs(
    sink: np.ndarray,
    known: np.ndarray,
    alpha1: float,
    alpha2: float,
    beta: float,
    tau: int,
    restarts: int,
    draws_per_restart: int,
    burnin: int,
    delay: int,
    seed: int,
) -> np.ndarray:  # pragma: no cover - compiled
    """Label counts per draw (draws x K+1) for one sink; ``known`` is K x taxa counts."""
    # compiled code draws from Numba's own generator, seeded here from the caller's Generator
    np.random.seed(seed)  # noqa: NPY002
    n_known, n_tax = known.shape
    n_env = n_known + 1
    unk = n_env - 1
    n = int(sink.sum())
    denom = n - 1 + beta * n_env
    p_known = np.empty((n_tax, n_known))
    for k in range(n_known):
        tot = known[k].sum()
        for t in range(n_tax):
            p_known[t, k] = (known[k, t] + alpha1) / (tot + tau * alpha1)
            p_known[t, k] /= denom
    a2n = alpha2 * n
    a2n_tau = a2n * tau
    taxon = np.empty(n, dtype=np.int64)
    pos = 0
    for t in range(n_tax):
        for _ in range(int(sink[t])):
            taxon[pos] = t
            pos += 1
    passes = burnin + (draws_per_restart - 1) * delay + 1
    out = np.zeros((restarts * draws_per_restart, n_env), dtype=np.int64)
    label = np.empty(n, dtype=np.int64)
    counts = np.zeros(n_env, dtype=np.int64)
    unknown = np.zeros(n_tax, dtype=np.int64)
    order = np.arange(n)
    weights = np.empty(n_env)
    draw = 0
    for _r in range(restarts):
        counts[:] = 0
        unknown[:] = 0
        unknown_sum = 0
        for i in range(n):
            e = np.random.randint(0, n_env)  # noqa: NPY002
            label[i] = e
            counts[e] += 1
            if e == unk:
                unknown[taxon[i]] += 1
                unknown_sum += 1
        for rep in range(1, passes + 1):
            np.random.shuffle(order)  # noqa: NPY002
            for j in range(n):
                i = order[j]
                e = label[i]
                t = taxon[i]
                counts[e] -= 1
                if e == unk:
                    unknown[t] -= 1
                    unknown_sum -= 1
                acc = 0.0
                for k in range(n_known):
                    acc += p_known[t, k] * (counts[k] + beta)
                    weights[k] = acc
                acc += (unknown[t] + a2n) * (counts[unk] + beta) / (
                    (unknown_sum + a2n_tau) * denom
                )
                weights[unk] = acc
                u = np.random.uniform(0.0, acc)  # noqa: NPY002
                e = 0
                while e < unk and weights[e] <= u:
                    e += 1
                label[i] = e
                counts[e] += 1
                if e == unk:
                    unknown[t] += 1
                    unknown_sum += 1
            if rep > burnin and (rep - (burnin + 1)) % delay == 0:
                out[draw] = counts
                draw += 1
    return out


def gibbs_sink(
    x: np.ndarray,
    Y: np.ndarray,
    labels: list[str],
    n_taxa: int,
    rng: np.random.Generator,
    *,
    where: str = "sink",
    alpha1: float = ST2_ALPHA1,
    alpha2: float = ST2_ALPHA2,
    beta: float = ST2_BETA,
    restarts: int = ST2_RESTARTS,
    draws_per_restart: int = ST2_DRAWS_PER_RESTART,
    burnin: int = ST2_BURNIN,
    delay: int = ST2_DELAY,
    source_depth: int = ST2_DEPTH,
    sink_depth: int = ST2_DEPTH,
) -> tuple[np.ndarray, list[str]]:
    """SourceTracker2 on one sink: collapse and rarefy the sources, rarefy the sink, sample.

    Parameters
    ----------
    x
        Sink counts over taxa.
    Y
        Source counts, samples x taxa (same taxa as ``x``).
    labels
        Label of each source row; rows with the same label are collapsed to their mean.
    n_taxa
        Number of taxa of the whole table (SourceTracker's ``tau``, which sets how smooth the
        priors are); at least ``len(x)``.
    rng
        Random generator (rarefaction and the sampler's seed).
    where
        What to call this sink in error messages (e.g. ``"counts.tsv: sink 'S1'"``).
    alpha1, alpha2, beta, restarts, draws_per_restart, burnin, delay
        Sampler settings (module docstring).
    source_depth, sink_depth
        Rarefaction depths in reads; 0 keeps all reads.

    Returns
    -------
    tuple
        Label counts per draw (draws x K+1, Unknown last, as proportions of each draw's
        reads) and the K source labels.

    Raises
    ------
    InputError
        When a collapsed source or the sink is shallower than its rarefaction depth.
    """
    known, order = collapse_sources(Y, labels)
    if source_depth > 0:
        depth = known.sum(axis=1)
        for lab, d in zip(order, depth, strict=True):
            if d < source_depth:
                raise InputError(
                    f"{where}: source {lab!r} has {int(d)} reads after collapsing, "
                    f"fewer than the source rarefaction depth {source_depth}"
                )
        known = np.stack([_subsample(k, source_depth, rng) for k in known])
    sink = np.floor(x).astype(np.int64)
    if sink_depth > 0:
        if sink.sum() < sink_depth:
            raise InputError(
                f"{where} has {int(sink.sum())} reads, fewer than the sink "
                f"rarefaction depth {sink_depth}"
            )
        sink = _subsample(sink, sink_depth, rng)
    seed = int(rng.integers(0, 2**31 - 1))
    draws = _gibbs(
        sink, known.astype(np.float64), float(alpha1), float(alpha2), float(beta),
        int(max(n_taxa, len(x))), int(restarts), int(draws_per_restart), int(burnin),
        int(delay), seed,
    )
    share = draws / np.maximum(draws.sum(axis=1, keepdims=True), 1)
    return share, order
