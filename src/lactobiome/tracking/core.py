"""Source tracking on pandas tables: validation, problem set-up, bootstrap and output."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from lactobiome.errors import InputError, LactobiomeWarning
from lactobiome.tracking import COLUMNS, UNKNOWN
from lactobiome.tracking.inputs import ROLE_ALIASES, check_counts, stream_seed
from lactobiome.tracking.options import SINGLETON_MAX, FitOptions

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    import pandas as pd

BOOTSTRAP_CHUNK_VALUES = 1_000_000
"""Output values (each sink's unknown reads per taxon, proportions and drawn rows) of the
bootstrap replicates solved at once; bounds memory (8 bytes per value), not a statistical
setting (the replicates' streams do not depend on it)."""
BIAS_ROUNDS = 3
"""Rounds of the iterated bootstrap bias correction; the replicates are shared out among them
(a statistical procedure, not a fitted value: each round is one fixed-point step
``theta <- theta + (estimate - mean of replicates drawn at theta)``, and the shift left after
the third is within the replicates' Monte Carlo error at 100 replicates)."""
BIAS_CORRECTIONS = ("bootstrap", "analytic")
"""Ways ``track`` removes the free unknown's take of chance excess from its point estimate:
the iterated parametric bootstrap (default) or :func:`chance_corrected_unknown`."""
LOST_NULL_DRAWS = 19
"""Sinks drawn without lost taxa for each sink whose fit keeps some (``track(lost_test=True)``):
the lost set is kept only if it lowers the sink's Unknown by more than it does in every one
of them, the exact one-sided Monte Carlo test at level 1/(19 + 1) = 0.05 (Barnard 1963,
J R Stat Soc B 25:294; Davison & Hinkley 1997, section 4.2.5). A statistical convention, not a
fitted value."""
LOST_NULL_STREAM = 0x105E
"""Tag of the random streams of the lost-taxa test's null sinks, mixed with the run's seed and
the sink's number (so the test leaves the run's other draws, and so its bootstrap, as they are)."""
MARGINALS = ("none", "sources", "unknown", "both")
"""Communities the fit integrates out rather than fits (``track(marginal=...)``; the index is
the kernel's bit set, see :class:`lactobiome.tracking.options.FitOptions`)."""
UNKNOWN_WORLDS = ("fit", "free", "corrected", "stiff", "community")
"""Unknown community of the bias correction's world when the unknown is integrated out
(``track(unknown_world=...)``): the integrated fit's; a free-profile fit's of the same
sink, which keeps the rare reads the integrated fit gives to the known sources
(docs/tracking.md, "Round 5"); or that free fit's with its take of the sink's chance excess
removed per taxon (:func:`chance_corrected_reads`; "Round 6"); or a free-profile fit's
whose sources are their samples' own (no seeding draw), so the unknown also keeps the reads
that the flexible sources bend towards ("Round 6"); or that stiff fit's with the unknown
profile drawn, as a community, from the analysis' own population of communities
(:func:`community_precision`; "Round 9")."""
PRECISION_LOG_BOUNDS = (-6.0, 16.0)
"""Natural-log bounds of the Dirichlet-multinomial precision searched by
:func:`community_precision` (0.0025 to 9e6 pseudo-reads: from communities with almost nothing
in common to communities that are multinomial draws of one profile). A search range, not a
fitted value."""
SOURCE_REDRAWS = ("fitted", "posterior")
"""What a bootstrap replicate's source sample is redrawn around: the fitted seeding community
(default: the world the fit describes, in which the sample is one draw away from what seeded
the sink) or the sample's own posterior (a profile drawn about what the sample showed, one
draw more than the data had; docs/tracking.md, "Round 3")."""


@dataclass
class _Problem:
    """One sink with its own source samples (counts restricted to active taxa)."""

    sink: str
    x: np.ndarray  # sink counts over active taxa
    Y: np.ndarray  # source counts, samples x active taxa
    sources: list[str]  # source sample ids, rows of Y
    labels: list[str]  # output label of each row (Env, or the sample id with by_sample)
    prior: np.ndarray  # pooled profile over active taxa (sums to 1)
    groups: dict[str, list[int]] = field(default_factory=dict)  # Env -> rows, for resampling
    pseudo: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # prior pseudo-counts, as Y
    tau: np.ndarray = field(default_factory=lambda: np.zeros(0))  # seeding draw size per row, reads
    # pooled profile of the analysis' other samples (not this sink nor its sources), over active
    # taxa: the population an unseen community of this sink is drawn from (world "community")
    others: np.ndarray = field(default_factory=lambda: np.zeros(0))


def unseen_mass(y: np.ndarray) -> float:
    """Good-Turing estimate of the share of a sample's community in taxa the sample missed.

    Turing's estimate (Good 1953, Biometrika 40:237): the chance that the next read is of a
    taxon not yet seen is the share of reads that are singletons, ``f1 / m``.

    Parameters
    ----------
    y
        Read counts of one sample over taxa.

    Returns
    -------
    float
        Estimated unseen mass in [0, 1] (0 for an empty sample).
    """
    m = float(y.sum())
    if m <= 0:
        return 0.0
    f1 = float(((y > 0) & (y <= SINGLETON_MAX)).sum())
    return min(f1 / m, 1.0)


def source_pseudocounts(Y: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """Dirichlet pseudo-counts of each source's profile: the pooled profile plus its unseen mass.

    A weak ``strength * prior`` everywhere (so no taxon is impossible), plus pseudo-counts on
    the taxa a sample missed, spread as the pooled profile over them and sized so that the
    posterior mean mass of those taxa equals the sample's Good-Turing unseen mass
    (:func:`unseen_mass`). A deep, complete sample gets almost nothing; a shallow one with
    many singletons gets a prior that expects its seeding community to hold taxa it missed.

    Parameters
    ----------
    Y
        Source counts, samples x taxa (any leading dimensions; taxa last).
    prior
        Pooled profile over the same taxa (sums to 1, positive).
    strength
        Total pseudo-count of the flat part (``prior_strength``).

    Returns
    -------
    numpy.ndarray
        Pseudo-counts, shaped as ``Y``.
    """
    m = Y.sum(axis=-1)
    f1 = ((Y > 0) & (Y <= SINGLETON_MAX)).sum(axis=-1)
    u = np.where(m > 0, np.minimum(f1 / np.where(m > 0, m, 1.0), 1.0), 0.0)
    missed = Y <= 0
    pi_u = (missed * prior).sum(axis=-1)
    # extra pseudo-counts e on the missed taxa so that (strength pi_u + e) / (m + strength + e) = u;
    # a sample of singletons only (u = 1) gets as many as it has reads
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = np.where(u < 1.0, (u * (m + strength) - strength * pi_u) / (1.0 - u), m)
    extra = np.where((pi_u > 0) & (m > 0), np.maximum(extra, 0.0), 0.0)
    spread = np.where(missed, prior, 0.0) / np.where(pi_u > 0, pi_u, 1.0)[..., None]
    return strength * prior + extra[..., None] * spread


def community_precision(counts: np.ndarray) -> float:
    """Maximum-likelihood precision of the analysis' samples as Dirichlet-multinomial draws
    about their pooled profile.

    Each sample (a column of ``counts``) is taken as a multinomial draw from a community
    that is itself a draw from ``Dirichlet(alpha pi)``, ``pi`` the mean of the samples'
    relative abundances (the pooled profile of :func:`_build_problems`); ``alpha`` maximises
    ``sum_s [lnG(alpha) - lnG(n_s + alpha) + sum_t (lnG(x_st + alpha pi_t) - lnG(alpha pi_t))]``
    (Mosimann 1962, Biometrika 49:65; Minka 2000, "Estimating a Dirichlet distribution").
    It says how far one community of the study may be from the pooled profile: the prior of
    the bias-correction world ``community`` for an unseen community of the same study.

    Parameters
    ----------
    counts
        Taxa x samples reads (or scaled relative abundances).

    Returns
    -------
    float
        ``alpha``, pseudo-reads (within ``exp(PRECISION_LOG_BOUNDS)``).
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import gammaln

    X = np.asarray(counts, dtype=np.float64)
    n = X.sum(axis=0)
    X = X[:, n > 0]
    n = n[n > 0]
    pi = (X / n).mean(axis=1)
    keep = pi > 0
    X, pi = X[keep], pi[keep]

    def minus_ll(log_alpha: float) -> float:
        alpha = float(np.exp(log_alpha))
        ap = alpha * pi[:, None]
        ll = (gammaln(alpha) - gammaln(n + alpha)).sum() + (gammaln(X + ap) - gammaln(ap)).sum()
        return float(-ll)

    best = minimize_scalar(minus_ll, bounds=PRECISION_LOG_BOUNDS, method="bounded")
    return float(np.exp(best.x))


def seeding_draw_size(Y: np.ndarray, B: np.ndarray, fidelity: float | None) -> np.ndarray:
    """Reads' worth of information of each seeding community's draw from its source community.

    ``None``: the sequenced sample and the cells that seeded the sink are two exchangeable
    draws of the source community, so the seeding draw is worth as much as the sample (its
    reads plus pseudo-counts) and the sample's information about it is halved. 0: the
    seeding community is the source community (the sample is a draw of it). A positive value
    is that many reads for every source.
    """
    if fidelity is None:
        return Y.sum(axis=-1) + B.sum(axis=-1)
    return np.full(Y.shape[:-1], float(fidelity))


CHANCE_BISECTIONS = 14
"""Bisection steps for the shrinkage of :func:`chance_corrected_unknown` (numerical)."""
CHANCE_DRAWS = 200
"""Sinks drawn per evaluation of the expected chance take (Monte Carlo size; its error,
about ``sd / sqrt(200)`` of the take, is far below the 0.03 at which Unknown is judged)."""
CHANCE_STEPS = 60
"""Most fixed-point steps of the known sources' scale in :func:`free_unknown_take` (numerical)."""
CHANCE_SETTLED = 1e-9
"""The known scale has settled when no sink's moves by more than this in a step (numerical)."""


def free_unknown_take(x: np.ndarray, known: np.ndarray, lam: float) -> np.ndarray:
    """Share a free unknown takes of sinks ``x`` when the known mixture's profile is ``known``.

    The optimum of ``sum_t x_t log(c k_t + v_t) - lam n (1 - c)`` over the known scale ``c``
    and a free ``v >= 0`` (``sum k = 1``, ``c + sum v = 1``): the unknown holds
    ``x_t / D - c k_t`` wherever that is positive, with ``D = n (1 + c lam)``, and
    ``c = X_rest / (D (1 - K_A) - lam n)`` (``K_A`` the known mass on the taxa the unknown
    holds, ``X_rest`` the sink reads elsewhere), from the Lagrange conditions. Scaling the
    known mixture down fits the taxa where the sink fell short, so the take is well above
    the Poisson excess at a fixed known expectation.

    Parameters
    ----------
    x
        Sinks, draws x taxa (reads).
    known
        Known mixture's profile over taxa (sums to 1).
    lam
        Relative cost of an unknown read.

    Returns
    -------
    numpy.ndarray
        Unknown share ``1 - c`` per sink.
    """
    n = x.sum(axis=-1, keepdims=True)
    c = np.ones_like(n)
    for _ in range(CHANCE_STEPS):
        d = n * (1.0 + c * lam)
        held = x / d > c * known
        k_held = (known * held).sum(axis=-1, keepdims=True)
        rest = (x * ~held).sum(axis=-1, keepdims=True)
        c_new = np.clip(rest / np.maximum(d * (1.0 - k_held) - lam * n, np.finfo(float).tiny), 0.0, 1.0)
        settled = bool(np.all(np.abs(c_new - c) <= CHANCE_SETTLED))
        c = c_new
        if settled:
            break
    return 1.0 - c[..., 0]


def _chance_shrinkage(x: np.ndarray, known: np.ndarray, unknown: np.ndarray, lam: float,
                      rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """The sink's own free-unknown take, and the fitted unknown reads shrunk until they show it.

    The engine of :func:`chance_corrected_unknown` and :func:`chance_corrected_reads` (see
    there): returns the take the real sink shows (a share) and the shrunk unknown reads per
    taxon ``v(s)`` at the bisection's last ``s`` (all zero where chance alone takes as much
    as the sink shows).
    """
    n = float(x.sum())
    k = known / known.sum() if known.sum() > 0 else known
    if unknown.sum() <= 0 or known.sum() <= 0:
        return 0.0, np.asarray(unknown, dtype=np.float64).copy()
    observed = float(free_unknown_take(x[None, :], k, lam)[0])
    sd = np.sqrt(np.maximum(known + unknown, np.finfo(float).tiny))
    stream = int(rng.integers(2**63))

    def mean_take(s: float) -> tuple[float, np.ndarray]:
        v = np.maximum(unknown - s * sd, 0.0)
        u = float(v.sum()) / n
        mean = (1.0 - u) * n * k + v
        # the same stream for every s (common random numbers), so the bisection sees a
        # smooth function of s rather than fresh Monte Carlo noise at each step
        draws = np.random.default_rng(stream).poisson(mean, size=(CHANCE_DRAWS, len(x)))
        return float(free_unknown_take(draws.astype(np.float64), k, lam).mean()), v

    hi = float(np.max(unknown / sd))
    take, v = mean_take(hi)
    if take >= observed:  # chance alone takes as much as the sink shows: no unknown
        return observed, np.zeros_like(v)
    lo = 0.0
    for _ in range(CHANCE_BISECTIONS):
        mid = 0.5 * (lo + hi)
        take, v = mean_take(mid)
        if take > observed:
            lo = mid
        else:
            hi = mid
    return observed, v


def chance_corrected_unknown(x: np.ndarray, known: np.ndarray, unknown: np.ndarray, lam: float,
                             rng: np.random.Generator) -> float:
    """Unknown share of a fit with the free unknown's take of the sink's chance excess removed.

    The fitted unknown holds, besides any true unknown community, the sink's Poisson excess
    over the known mixture (:func:`free_unknown_take`). The true unknown reads are taken to
    be the fitted ones shrunk by ``s`` Poisson standard deviations per taxon,
    ``v_t(s) = max(0, v_t - s sqrt(mu_t + v_t))``, and ``s`` is chosen so that sinks drawn
    from that community (known mixture at the rest) show on average the take the real sink
    shows (a method-of-moments step on the estimator: indirect inference). Shrinking by
    standard deviations leaves a true unknown that is far above the noise, and clears taxa
    whose fitted unknown is noise, which a draw at the fitted profile would not.

    Parameters
    ----------
    x
        Sink reads per taxon.
    known
        The known sources' fitted expected reads per taxon (``n sum_j a_j g_jt``).
    unknown
        The unknown's fitted expected reads per taxon (``n a_u g_ut``).
    lam
        Relative cost of an unknown read (the fit's ``unknown_cost``).
    rng
        Source of the Monte Carlo sinks (the same draws for every ``s``).

    Returns
    -------
    float
        The correction: the fitted unknown share minus the corrected one (>= 0).
    """
    if unknown.sum() <= 0 or known.sum() <= 0:
        return 0.0
    observed, v = _chance_shrinkage(x, known, unknown, lam, rng)
    return max(observed - float(v.sum()) / float(x.sum()), 0.0)


def chance_corrected_reads(x: np.ndarray, known: np.ndarray, unknown: np.ndarray, lam: float,
                           rng: np.random.Generator) -> np.ndarray:
    """A free unknown's fitted reads per taxon with its take of the sink's chance excess removed.

    The per-taxon form of :func:`chance_corrected_unknown` (same shrinkage and the same
    indirect-inference choice of ``s``): the reads ``v_t(s)`` themselves rather than the
    share they give up. Taxa whose fitted unknown reads are within the sink's noise lose
    them; a true unknown far above the noise keeps its shape. Used for the bias correction's
    world (``track(unknown_world="corrected")``; docs/tracking.md, "Round 6").

    Parameters
    ----------
    x, known, unknown, lam, rng
        As :func:`chance_corrected_unknown`.

    Returns
    -------
    numpy.ndarray
        Corrected unknown reads per taxon (>= 0; all zero where chance alone explains the
        fitted unknown; ``unknown`` itself where there is nothing to correct).
    """
    return _chance_shrinkage(x, known, unknown, lam, rng)[1]


def _sink_noise_cost(x: np.ndarray, Y: np.ndarray, kappa: float) -> float:
    """Per-read cost of the unknown source, scaled to the sampling noise of this fit.

    Poisson noise lets a free unknown profile soak up about ``sum_t sqrt(n p_t)`` reads of
    chance excess, i.e. a share ``sum_t sqrt(p_t) / sqrt(n)`` of the sink; source depth adds
    the same kind of noise to the known profiles. The cost is ``kappa`` times that scale.
    """
    n = x.sum()
    p = x / n
    m = Y.sum(axis=1).mean()
    return float(kappa * np.sqrt(p).sum() * np.sqrt(1.0 / n + 1.0 / m))


def _validate(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    counts_name: str,
    metadata_name: str,
    relative: bool | None,
) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    import pandas as pd

    if not isinstance(counts, pd.DataFrame) or counts.shape[0] == 0 or counts.shape[1] == 0:
        raise InputError(f"{counts_name}: empty count table")
    meta = metadata.copy()
    if "SampleID" in meta.columns:
        meta = meta.set_index("SampleID")
    for col in ("Env", "SourceSink"):
        if col not in meta.columns:
            raise InputError(f"{metadata_name}: no {col!r} column")
    if "id" not in meta.columns:
        meta["id"] = ""
    meta.index = meta.index.map(str)
    dup = meta.index[meta.index.duplicated()]
    if len(dup):
        raise InputError(f"{metadata_name}: duplicate SampleID {dup[0]!r}")
    role = meta["SourceSink"].astype(str).str.strip().str.lower()
    role = role.map(ROLE_ALIASES)
    if role.isna().any():
        s = role.index[role.isna()][0]
        raise InputError(
            f"{metadata_name}: sample {s!r}: SourceSink is {meta.loc[s, 'SourceSink']!r}, "
            "expected 'Source' or 'Sink'"
        )
    meta["SourceSink"] = role
    meta["Env"] = meta["Env"].astype(str).str.strip()
    ids = meta["id"].astype(object).where(meta["id"].notna(), "")
    meta["id"] = ids.map(lambda v: "" if str(v).strip().upper() in ("", "NA", "NAN") else str(v))
    meta["id"] = meta["id"].map(lambda v: v[:-2] if v.endswith(".0") else v)

    counts = counts.copy()
    counts.columns = counts.columns.map(str)
    dup = counts.columns[counts.columns.duplicated()]
    if len(dup):
        raise InputError(f"{counts_name}: duplicate sample id {dup[0]!r}")
    dup = counts.index[counts.index.duplicated()]
    if len(dup):
        raise InputError(f"{counts_name}: duplicate taxon id {dup[0]!r}")
    missing = [s for s in meta.index if s not in counts.columns]
    if missing:
        raise InputError(
            f"{metadata_name}: sample {missing[0]!r} is not a column of {counts_name} "
            f"({len(missing)} metadata sample(s) missing from the count table)"
        )
    if (meta["SourceSink"] == "Sink").sum() == 0:
        raise InputError(f"{metadata_name}: no sample has SourceSink 'Sink'")
    if (meta["SourceSink"] == "Source").sum() == 0:
        raise InputError(f"{metadata_name}: no sample has SourceSink 'Source'")
    sub = counts[list(meta.index)]
    try:
        sub = sub.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{counts_name}: non-numeric values in the count table") from None
    values = sub.to_numpy()
    if relative is None:
        # proportions or percentages: fractional values and every sample summing to <= 100
        finite = np.isfinite(values).all()
        relative = bool(
            finite
            and (values != np.round(values)).any()
            and (values.sum(axis=0) <= 100.0 + 1e-6).all()
        )
    check_counts(sub, counts_name, integer=not relative)
    return sub, meta, relative


def _build_problems(
    counts: pd.DataFrame,
    meta: pd.DataFrame,
    counts_name: str,
    metadata_name: str,
    by_sample: bool,
    skipped: dict[str, tuple[str, str]],
    dropped: list[str],
) -> list[_Problem]:
    """One fit per sink; sinks that cannot be tracked go to ``skipped`` (sink -> (file, reason))
    and source samples without reads to ``dropped``."""
    X = counts.to_numpy(dtype=np.float64)  # taxa x samples
    col = {s: i for i, s in enumerate(counts.columns)}
    depth = X.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(depth > 0, X / np.where(depth > 0, depth, 1.0), 0.0)
    pool = rel.mean(axis=1)
    pool_sum = rel.sum(axis=1)
    sinks = meta.index[meta["SourceSink"] == "Sink"]
    sources = meta[meta["SourceSink"] == "Source"]
    # a source sample with no reads (a failed low-biomass library) cannot describe its source:
    # it is set aside with a warning, and the run goes on without it
    empty = [str(s) for s in sources.index if depth[col[s]] <= 0]
    dropped.extend(empty)
    sources = sources.drop(index=empty)
    shared = list(sources.index[sources["id"] == ""])
    by_id: dict[str, list[str]] = {}
    for s, ident in zip(sources.index, sources["id"], strict=True):
        if ident:
            by_id.setdefault(ident, []).append(s)
    problems = []
    for s in sinks:
        if depth[col[s]] <= 0:
            skipped[str(s)] = (counts_name, "no reads")
            continue
        ident = meta.loc[s, "id"]
        own = by_id.get(ident, []) if ident else []
        srcs = own + shared
        if not srcs:
            where = f"no source samples with reads for id {ident!r}" if ident else "no source samples with reads"
            skipped[str(s)] = (metadata_name, where)
            continue
        x_full = X[:, col[s]]
        Y_full = X[:, [col[k] for k in srcs]].T
        active = (x_full > 0) | (Y_full > 0).any(axis=0)
        prior = pool[active]
        prior = prior / prior.sum()
        rest = X.shape[1] - len(srcs) - 1
        others = (pool_sum - rel[:, [col[k] for k in [*srcs, s]]].sum(axis=1))[active] if rest > 0 else prior
        others = np.maximum(others, 0.0)
        others = others / others.sum() if others.sum() > 0 else prior
        envs = [str(sources.loc[k, "Env"]) for k in srcs]
        labels = list(srcs) if by_sample else envs
        groups: dict[str, list[int]] = {}
        for r, e in enumerate(envs):
            groups.setdefault(e, []).append(r)
        problems.append(
            _Problem(
                sink=str(s),
                x=x_full[active],
                Y=Y_full[:, active],
                sources=[str(k) for k in srcs],
                labels=labels,
                prior=prior,
                groups=groups,
                others=others,
            )
        )
    return problems


def _with_untracked(table: pd.DataFrame, skipped: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """``table`` with a row of missing proportions for each sink that could not be tracked."""
    import pandas as pd

    attrs = dict(table.attrs)
    if skipped:
        missing = pd.DataFrame([(sink, UNKNOWN, np.nan, np.nan, np.nan) for sink in skipped], columns=COLUMNS)
        table = pd.concat([table, missing], ignore_index=True)
    table.attrs = {**attrs, "skipped": {sink: why for sink, (_, why) in skipped.items()}}
    return table


def _rarefy(counts: np.ndarray, depth: int, rng: np.random.Generator) -> np.ndarray:
    """Subsample reads without replacement to ``depth`` (FEAST's rarefaction)."""
    c = counts.astype(np.int64)
    if c.sum() <= depth:
        return c.astype(np.float64)
    return rng.multivariate_hypergeometric(c, depth).astype(np.float64)


def _solve(
    xs: list[np.ndarray],
    Ys: list[np.ndarray],
    Bs: list[np.ndarray],
    taus: list[np.ndarray],
    a0: list[np.ndarray],
    gu0: list[np.ndarray],
    kappa: float,
    options: FitOptions,
    lost0: list[np.ndarray] | None = None,
    priors: list[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Pack a list of fits into flat arrays, run the compiled EM, unpack.

    ``Bs`` are each fit's source pseudo-counts (as ``Ys``) and ``taus`` its seeding draws'
    sizes (one per source).

    ``lost0`` (one K x T boolean array per fit) starts each fit from a known set of lost
    taxa instead of finding it (``options.adapt_lost`` must then be false); the sets found
    are returned fifth and the fitted source profiles (K x T each) last. ``priors`` (one
    profile over each fit's taxa; uniform if not given) spread the unknown's prior when
    ``options.marginal`` integrates the unknown out.
    """
    from lactobiome.tracking.engine import fit_batch

    F = len(xs)
    t_len = np.array([len(x) for x in xs], dtype=np.int64)
    k_arr = np.array([Y.shape[0] for Y in Ys], dtype=np.int64)
    t_off = np.concatenate([[0], np.cumsum(t_len)])
    y_off = np.concatenate([[0], np.cumsum(t_len * k_arr)])
    a_off = np.concatenate([[0], np.cumsum(k_arr + 1)])
    k_off = np.concatenate([[0], np.cumsum(k_arr)])
    lam = np.array([_sink_noise_cost(x, Y, kappa) for x, Y in zip(xs, Ys, strict=True)])
    a_flat = np.concatenate(a0).astype(np.float64)
    gu_flat = np.concatenate(gu0).astype(np.float64)
    iters = np.zeros(F, dtype=np.int64)
    conv = np.zeros(F, dtype=np.bool_)
    if lost0 is None:
        lost_flat = np.zeros(int(y_off[-1]), dtype=np.bool_)
    else:
        lost_flat = np.concatenate([m.ravel() for m in lost0]).astype(np.bool_)
    g_flat = np.zeros(int(y_off[-1]), dtype=np.float64)
    fit_batch(
        np.concatenate(xs),
        t_off,
        np.concatenate([Y.ravel() for Y in Ys]),
        y_off,
        k_arr,
        np.concatenate([B.ravel() for B in Bs]).astype(np.float64),
        np.concatenate(taus).astype(np.float64),
        k_off,
        a_flat,
        a_off,
        gu_flat,
        lam,
        lost_flat,
        g_flat,
        options,
        iters,
        conv,
        np.concatenate(priors if priors is not None else [np.full(len(x), 1.0 / len(x)) for x in xs]),
    )
    a_out = [a_flat[a_off[f] : a_off[f + 1]].copy() for f in range(F)]
    gu_out = [gu_flat[t_off[f] : t_off[f + 1]].copy() for f in range(F)]
    lost_out = [
        lost_flat[y_off[f] : y_off[f + 1]].reshape(k_arr[f], t_len[f]).copy() for f in range(F)
    ]
    g_out = [g_flat[y_off[f] : y_off[f + 1]].reshape(k_arr[f], t_len[f]).copy() for f in range(F)]
    return a_out, gu_out, iters, conv, lost_out, g_out


def _collapse(a: np.ndarray, labels: list[str], order: list[str]) -> np.ndarray:
    """Sum per-sample proportions into output labels (``order``), unknown last."""
    out = np.zeros(len(order) + 1)
    pos = {lab: i for i, lab in enumerate(order)}
    for j, lab in enumerate(labels):
        out[pos[lab]] += a[j]
    out[-1] = a[-1]
    return out


def track(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    *,
    by_sample: bool = False,
    rarefy: bool | int = False,
    iterations: int = 1000,
    tolerance: float = 1e-6,
    seed: int = 0,
    bootstrap: int = 100,
    level: float = 0.9,
    relative: bool | None = None,
    effective_depth: float = 10_000.0,
    overdispersion: float = 0.0,
    unknown_cost: float = 0.2,
    prior_strength: float = 1.0,
    source_fidelity: float | None = None,
    model_error: float = 0.05,
    update_sources: bool = True,
    max_loss: float = 0.25,
    lost_below: float = 1.0,
    lost_min_gain: float = 0.25,
    lost_test: bool = False,
    progress: Callable[[int], None] | None = None,
    counts_name: str = "counts",
    metadata_name: str = "metadata",
    method: str = "lactobiome",
    method_options: Mapping[str, Any] | None = None,
    bias_correction: str = "bootstrap",
    source_redraw: str = "fitted",
    marginal: str = "unknown",
    unknown_world: str = "stiff",
) -> pd.DataFrame:
    """Estimate, for every sink, the share contributed by each source and by an unknown source.

    Parameters
    ----------
    counts
        Taxa x samples table (read counts; or relative abundances, see ``relative``).
    metadata
        Indexed by sample id (or with a ``SampleID`` column), with ``Env``, ``SourceSink``
        (``Source``/``Sink``) and optionally ``id``. A sink with an id uses the sources with
        the same id plus every source with an empty id; a sink without an id uses the
        sources without an id (FEAST's two layouts, and their combination).
    by_sample
        Report each source sample separately instead of summing them by ``Env``.
    rarefy
        ``False`` (default) uses all reads; ``True`` rarefies each sink and its sources to
        their smallest depth, as FEAST does; an integer rarefies to that depth.
    iterations, tolerance
        EM stops when no proportion changes by more than ``tolerance`` in one iteration, or
        after ``iterations`` iterations.
    seed
        Seed for rarefaction, the bootstrap and the lost-taxa test (any integer; a negative
        one is taken modulo 2**64, see :func:`lactobiome.tracking.inputs.stream_seed`).
    bootstrap
        Number of bootstrap replicates for the intervals (0: no intervals, ``ci_low`` and
        ``ci_high`` are NaN).
    level
        Coverage of the intervals (0.9: 5th to 95th percentile).
    relative
        Treat the table as relative abundances (proportions or percentages). ``None`` (default)
        decides from the data: fractional values and every sample summing to <= 100.
    effective_depth
        For relative abundances: the number of independent reads a sample is taken to be
        worth. Each sample becomes ``effective_depth`` fractional pseudo-counts in the same
        proportions (no rounding); intervals widen as it shrinks.
    overdispersion
        Dirichlet-multinomial intra-class correlation ``rho`` of the reads' technical noise
        (PCR and library preparation), as technical replicates of the study measure it
        (:func:`lactobiome.tracking.overdispersion.overdispersion_from_replicates`). 0
        (default): reads are multinomial and the table is used as it is. A positive value:
        each read-count sample of ``n`` reads is scaled to its effective depth
        ``n / (1 + (n - 1) rho)`` before the fit (the default engine only; the published
        methods take the reads as they are). It is told, not estimated from the table.
    unknown_cost
        Cost of a read assigned to the unknown source, in units of the fit's sampling-noise
        scale (see :mod:`lactobiome.tracking.engine` and docs/tracking.md).
    prior_strength
        Total pseudo-count of the flat part of the Dirichlet prior on each source profile
        (spread as the pooled profile of all samples); each sample's Good-Turing unseen mass
        is added on the taxa it missed (:func:`source_pseudocounts`).
    source_fidelity
        Size, in reads, of the seeding community's own draw from the source community
        (docs/tracking.md, "Source sampling noise"). ``None`` (default): the sequenced sample
        and the cells that seeded the sink are two exchangeable draws, so the seeding draw is
        worth as much as the sample and a source's profile may differ from its sample by
        both draws' noise. 0: the sample is a draw of the seeding community itself (the
        engine before issue 15). A positive value: that many reads for every source.
    model_error
        Standard deviation of the model error at a proportion of 0.5 (scaled by
        ``2 sqrt(p (1 - p))`` elsewhere), added in quadrature to the bootstrap spread. The
        default was calibrated on mixtures of real stool samples (benchmarks/track.py) so
        that 90% intervals cover the truth about 90% of the time; 0 gives bootstrap-only
        intervals.
    max_loss
        Largest share of a source's mass that may be lost between the source and the sink
        (default 0.25; 0 turns lost taxa off). Every sink is fitted with and without lost
        taxa; see ``lost_below`` and ``lost_min_gain`` and docs/tracking.md, "Lost taxa".
    lost_below
        A taxon of a source counts as lost when the sink holds fewer reads of it than this
        fraction of the source's expected contribution (``n a_j g_jt``; default 1.0), by more
        than half a standard deviation of sampling noise. Lost
        taxa, up to ``max_loss`` of the source's mass, are dropped from that source's profile
        and the rest renormalised (docs/tracking.md, "Lost taxa").
    lost_min_gain
        The fit with lost taxa is kept only if it lowers the sink's Unknown share by at
        least this much (default 0.25); otherwise the fit without them stands. Chance
        deficits of sampled taxa move Unknown by less than 0.15 on real-sample mixtures;
        a sink that is a source with some taxa lost moves by most of its mass. With
        ``lost_test`` set 0 is the natural choice (any drop, then the test decides).
    lost_test
        Also keep a sink's lost taxa only if they lower its Unknown by more than they do in
        each of ``LOST_NULL_DRAWS`` sinks drawn with nothing lost (a parametric-bootstrap
        null at level 0.05; :func:`_lost_taxa_test`). Default False: on the realistic
        benchmark the null is too narrow and keeps more lost sets than the 0.25 gain
        (docs/tracking.md, "Round 7").
    update_sources
        Re-estimate source profiles from their own reads and the sink reads (default), or
        keep them fixed at their posterior mean.
    progress
        Called with the number of fits finished after each batch (for a progress bar).
    counts_name, metadata_name
        File names used in error messages.
    method
        ``"lactobiome"`` (default: this engine), ``"feast"`` (FEAST 0.1.0's EM) or
        ``"sourcetracker"`` (SourceTracker2's Gibbs sampler with its defaults); see
        docs/tracking.md. The published methods use ``rarefy`` (an integer sets their depth),
        ``iterations``, ``tolerance``, ``seed`` and ``level``, and ignore the engine settings.
    method_options
        Settings of a published method (:mod:`lactobiome.tracking.methods`).
    bias_correction
        ``"bootstrap"`` (default): the point estimate is moved by the iterated parametric
        bootstrap's overshoot (``BIAS_ROUNDS`` rounds; needs ``bootstrap`` > 0); each round
        moves the world's shares and its unknown reads per taxon (the unknown profile).
        ``"analytic"``: the sink's chance take is computed from the fit
        (:func:`chance_corrected_unknown`) and removed, whatever ``bootstrap`` is; the
        replicates then give the intervals only. See docs/tracking.md, "Round 2".
    source_redraw
        What a bootstrap replicate redraws each source sample around (``SOURCE_REDRAWS``):
        ``"fitted"`` (default), the fitted seeding community, so the replicate's sample is
        one draw from what seeded its sink, as the data's was; or ``"posterior"``, the
        sample's own posterior mean (round 2's engine: one draw more than the data had). See
        docs/tracking.md, "Round 3".
    marginal
        Communities integrated out under their Dirichlet priors instead of fitted
        (``MARGINALS``): ``"unknown"`` (default since round 8: the unknown community, about
        the pooled profile with ``prior_strength`` pseudo-reads), ``"none"`` (every community
        fitted: the default before round 8), ``"sources"`` (the seeding communities, about
        their samples' posteriors) or ``"both"``. A read is then given to an integrated
        community by its predictive probability with that read left out (docs/tracking.md,
        "Round 4" and "Round 8").
    unknown_world
        Unknown community of the bias correction's world (``UNKNOWN_WORLDS``; used when
        ``marginal`` integrates the unknown out and ``bias_correction`` is ``"bootstrap"``):
        ``"fit"``, the integrated fit's; ``"free"``, the unknown profile of a
        free-profile fit of the same sink (one fit more per sink), so the world holds the
        rare reads the integrated fit gives away and its replicates show that loss;
        ``"corrected"``, that free fit's unknown with its take of the sink's chance excess
        removed per taxon (:func:`chance_corrected_reads`), so the world keeps the rare reads
        without the noise the integrated fit never took; ``"stiff"``, the unknown of a
        free-profile fit whose sources are their samples' own (no seeding draw,
        ``source_fidelity=0``), so the world also keeps the unknown's reads that flexible
        source profiles bend towards (default; docs/tracking.md, "Round 6" and "Round 8");
        ``"community"``, that stiff fit's with the unknown profile under a Dirichlet prior of
        the study's own communities (:func:`community_precision` pseudo-reads about the
        pooled profile of the analysis' other samples), so the world's unknown keeps reads on
        the taxa it shares with the sources as a real community does (opt-in: it removes the
        deep sinks' mean bias but adds per-sink error; "Round 9").
        Ignored with ``marginal="none"``.

    Returns
    -------
    pandas.DataFrame
        Long table with columns ``sink``, ``source``, ``proportion``, ``ci_low``,
        ``ci_high``; the unknown source is ``"Unknown"``. ``attrs["diagnostics"]`` holds per
        sink EM iterations, convergence, reads and the unknown cost used.
    """
    import pandas as pd

    if bootstrap < 0:
        raise InputError(f"bootstrap must be >= 0, got {bootstrap}")
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level}")
    if not 0.0 <= max_loss < 1.0:
        raise InputError(f"max_loss must be in [0, 1), got {max_loss}")
    if lost_below < 0:
        raise InputError(f"lost_below must be >= 0, got {lost_below}")
    if lost_min_gain < 0:
        raise InputError(f"lost_min_gain must be >= 0, got {lost_min_gain}")
    if iterations < 1:
        raise InputError(f"iterations must be >= 1, got {iterations}")
    seed = stream_seed(seed)  # a negative seed is a valid stream too (NumPy refuses negative entropy)
    if not tolerance >= 0:
        raise InputError(f"tolerance must be >= 0, got {tolerance}")
    if not effective_depth > 0:
        raise InputError(f"effective_depth must be > 0 reads, got {effective_depth}")
    for name, value in (("unknown_cost", unknown_cost), ("prior_strength", prior_strength),
                        ("model_error", model_error)):
        if not value >= 0:  # also refuses NaN
            raise InputError(f"{name} must be >= 0, got {value}")
    if source_redraw not in SOURCE_REDRAWS:
        raise InputError(f"source_redraw must be one of {', '.join(SOURCE_REDRAWS)}, got {source_redraw!r}")
    if marginal not in MARGINALS:
        raise InputError(f"marginal must be one of {', '.join(MARGINALS)}, got {marginal!r}")
    if unknown_world not in UNKNOWN_WORLDS:
        raise InputError(f"unknown_world must be one of {', '.join(UNKNOWN_WORLDS)}, got {unknown_world!r}")
    if bias_correction not in BIAS_CORRECTIONS:
        raise InputError(f"bias_correction must be one of {', '.join(BIAS_CORRECTIONS)}, got {bias_correction!r}")
    from lactobiome.tracking.methods import METHODS, run_method

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}, expected one of {', '.join(METHODS)}")
    sub, meta, relative = _validate(counts, metadata, counts_name, metadata_name, relative)
    if method != "lactobiome" and relative:
        raise InputError(f"{counts_name}: method {method!r} needs read counts, not relative abundances")
    if not 0.0 <= overdispersion < 1.0:
        raise InputError(f"overdispersion must be in [0, 1), got {overdispersion}")
    if overdispersion > 0.0 and method != "lactobiome":
        raise InputError(f"overdispersion applies to the default engine only, not to method {method!r}")
    if overdispersion > 0.0 and relative:
        raise InputError(f"{counts_name}: overdispersion applies to read counts; "
                         "for relative abundances set effective_depth")
    if overdispersion > 0.0 and rarefy:
        raise InputError(f"{counts_name}: rarefying and overdispersion together are not supported")
    if relative:
        if rarefy:
            raise InputError(f"{counts_name}: relative abundances cannot be rarefied")
        totals = sub.sum(axis=0)
        totals[totals == 0] = 1.0
        sub = sub / totals * effective_depth
    elif overdispersion > 0.0:
        from lactobiome.tracking.overdispersion import effective_reads

        sub = effective_reads(sub, overdispersion)
    skipped: dict[str, tuple[str, str]] = {}
    dropped: list[str] = []
    problems = _build_problems(sub, meta, counts_name, metadata_name, by_sample, skipped, dropped)
    if not problems:
        sink, (where, why) = next(iter(skipped.items()))
        more = f" (and {len(skipped) - 1} more sink(s))" if len(skipped) > 1 else ""
        raise InputError(f"{where}: no sink can be tracked: sink {sink!r}: {why}{more}")
    if dropped:
        warnings.warn(f"{counts_name}: {len(dropped)} source sample(s) with no reads left out: "
                      f"{', '.join(map(repr, dropped[:5]))}{' ...' if len(dropped) > 5 else ''}",
                      LactobiomeWarning, stacklevel=2)
    if skipped:
        listed = "; ".join(f"{s!r} ({why})" for s, (_, why) in list(skipped.items())[:5])
        warnings.warn(f"{counts_name}: {len(skipped)} sink(s) not tracked: {listed}"
                      f"{' ...' if len(skipped) > 5 else ''}", LactobiomeWarning, stacklevel=2)
    if method != "lactobiome":
        published = run_method(
            method, problems, int(sub.shape[0]), rarefy=rarefy, iterations=iterations,
            tolerance=tolerance, seed=seed, level=level, options=method_options,
            progress=progress, counts_name=counts_name,
        )
        return _with_untracked(published, skipped)
    rng = np.random.default_rng(seed)
    if rarefy:
        for p in problems:
            depth = int(min(p.x.sum(), p.Y.sum(axis=1).min())) if rarefy is True else int(rarefy)
            p.x = _rarefy(p.x, depth, rng)
            p.Y = np.stack([_rarefy(y, depth, rng) for y in p.Y])
            if p.x.sum() == 0:
                raise InputError(f"{counts_name}: sink {p.sink!r} has no reads after rarefying")

    def init(p: _Problem) -> tuple[np.ndarray, np.ndarray]:
        k = p.Y.shape[0]
        return np.full(k + 1, 1.0 / (k + 1)), p.x / p.x.sum()

    if source_fidelity is not None and source_fidelity < 0:
        raise InputError(f"source_fidelity must be >= 0 or None, got {source_fidelity}")
    if prior_strength <= 0:
        raise InputError(f"prior_strength must be > 0, got {prior_strength}")
    for p in problems:
        p.pseudo = source_pseudocounts(p.Y, p.prior, prior_strength)
        p.tau = seeding_draw_size(p.Y, p.pseudo, source_fidelity)
    starts = [init(p) for p in problems]
    options = FitOptions(
        max_iter=int(iterations),
        tol=float(tolerance),
        update_sources=bool(update_sources),
        loss=float(max_loss),
        lost_below=float(lost_below),
        adapt_lost=True,
        lost_min_gain=float(lost_min_gain),
        marginal=MARGINALS.index(marginal),
        unknown_strength=float(prior_strength),
    )
    a_hat, gu_hat, iters, conv, lost_hat, g_hat = _solve(
        [p.x for p in problems],
        [p.Y for p in problems],
        [p.pseudo for p in problems],
        [p.tau for p in problems],
        [s[0] for s in starts],
        [s[1] for s in starts],
        unknown_cost,
        options,
        priors=[p.prior for p in problems],
    )
    tested_lost = lost_test and max_loss > 0
    if tested_lost:
        _lost_taxa_test(problems, a_hat, gu_hat, g_hat, lost_hat, iters, conv, unknown_cost,
                        options, init, seed)
    if progress is not None:
        progress(len(problems))
    orders = [list(dict.fromkeys(p.labels)) for p in problems]
    point = [_collapse(a, p.labels, o) for a, p, o in zip(a_hat, problems, orders, strict=True)]
    if bias_correction == "analytic":
        for i, p in enumerate(problems):
            point[i] = _analytic_point(p, a_hat[i], g_hat[i], gu_hat[i], point[i],
                                       _sink_noise_cost(p.x, p.Y, unknown_cost), rng)

    lows: list[np.ndarray] = [np.full(len(v), np.nan) for v in point]
    highs: list[np.ndarray] = [np.full(len(v), np.nan) for v in point]
    if bootstrap > 0:
        # replicates are the data's estimator applied to data drawn from the fitted world, so
        # they are solved to the data's tolerance (a looser one stops on the flat ridge of a
        # free unknown near the start, and the replicates' spread and overshoot come out
        # too small), with the point estimate's lost taxa
        replicate_options = options._replace(adapt_lost=False, lost_min_gain=0.0)
        # rounds of replicates: the first from the fit, each next one from the estimate moved
        # by the bias the previous one showed (the iterated bootstrap bias correction)
        n_rounds = min(BIAS_ROUNDS, bootstrap) if bias_correction == "bootstrap" else 1
        sizes = [bootstrap // n_rounds + (1 if r < bootstrap % n_rounds else 0) for r in range(n_rounds)]
        rounds: list[tuple[int, list[np.ndarray] | None]] = [
            (size, a_hat if r == 0 else None) for r, size in enumerate(sizes)
        ]
        target = [v.copy() for v in point]
        estimate = [v.copy() for v in point]
        spread: list[list[np.ndarray]] = [[] for _ in point]
        unknown_hat = [float(p.x.sum()) * a[-1] * g for p, a, g in zip(problems, a_hat, gu_hat, strict=True)]
        world_gu = [g.copy() for g in gu_hat]
        # every replicate draws from its own stream, keyed by this and its number (rounds
        # number their replicates on from the last one's)
        stream = int(rng.integers(2**63))
        if unknown_world != "fit" and options.marginal & 2 and bias_correction == "bootstrap":
            # the world's unknown community from a free-profile fit, which keeps the rare reads
            # the integrated fit gives to the known sources, at the integrated fit's share:
            # its replicates then lose those reads as the data's fit did, and the correction
            # gives them back
            # world community: the unknown is a community of the study, not a residual: its
            # profile is the posterior mean under the study's own population of communities
            # (Dirichlet(alpha pi), alpha from every sample of the analysis), so it keeps reads
            # on the taxa it shares with the sources, as a real unknown does
            pseudo_u = community_precision(sub.to_numpy()) if unknown_world == "community" else 0.0
            a_free, gu_free, _, _, _, g_free = _solve(
                [p.x for p in problems], [p.Y for p in problems], [p.pseudo for p in problems],
                [np.zeros_like(p.tau) if unknown_world in ("stiff", "community") else p.tau
                 for p in problems],
                [s[0] for s in starts], [s[1] for s in starts], unknown_cost,
                # with the lost-taxa test, the point fit's lost taxa (judged again at
                # convergence): the world keeps the tested choice rather than making its own
                options._replace(marginal=options.marginal & 1, adapt_lost=not tested_lost,
                                 unknown_pseudo=pseudo_u),
                lost0=[m.copy() for m in lost_hat] if tested_lost else None,
                # the community prior is centred on the study's other communities: the unknown
                # is by definition none of this sink's own sources
                priors=[p.others if unknown_world == "community" else p.prior for p in problems],
            )
            world_gu = [g.copy() for g in gu_free]
            if unknown_world == "corrected":
                # the free profile also holds the sink's chance excess, which the integrated
                # fit never took; a world that keeps it shows a loss the data did not have, so
                # that excess is shrunk away per taxon first (each sink's Monte Carlo draws
                # from its own stream, so a sink's world does not depend on the batch)
                for i, p in enumerate(problems):
                    n_i = float(p.x.sum())
                    known = n_i * (a_free[i][:-1] @ g_free[i])
                    h = chance_corrected_reads(p.x, known, n_i * a_free[i][-1] * gu_free[i],
                                               _sink_noise_cost(p.x, p.Y, unknown_cost),
                                               np.random.default_rng([stream, i]))
                    world_gu[i] = h / h.sum() if h.sum() > 0 else gu_hat[i].copy()
        world_reads = [float(p.x.sum()) * a[-1] * g for p, a, g in zip(problems, a_hat, world_gu, strict=True)]
        worlds_c: list[list[np.ndarray]] = []
        means_c: list[list[np.ndarray]] = []
        first = 0
        for n_round, world in rounds:
            worlds_c.append([e.copy() for e in estimate])
            means_c.append([])
            if world is None:
                world = [_rows_at(a, p.labels, o, e, v)
                         for a, p, o, e, v in zip(a_hat, problems, orders, estimate, target, strict=True)]
            reps, unknown_reps = _bootstrap(
                problems, a_hat, world_gu, g_hat, lost_hat, orders, stream, first, n_round, unknown_cost,
                replicate_options, by_sample, progress, prior_strength, source_fidelity, world,
                source_redraw,
            )
            first += n_round
            if bias_correction == "bootstrap":
                # the unknown's profile is corrected as its share is: the fitted one holds the
                # sink's chance excess, and a world whose unknown keeps it shows too small a
                # take; each taxon's unknown reads move by the replicates' overshoot on it
                for i in range(len(problems)):
                    h = corrected_unknown_reads(world_reads[i], unknown_hat[i], unknown_reps[i])
                    if h.sum() > 0:
                        world_reads[i] = h
                        world_gu[i] = h / h.sum()
            for i, r in enumerate(reps):
                centre = r.mean(axis=0)
                means_c[-1].append(centre)
                # the replicates, drawn at the current estimate, overshoot it as the fit
                # overshoots the truth: move the estimate by the difference
                shift = target[i] - centre if bias_correction == "bootstrap" else 0.0
                e = np.clip(estimate[i] + shift, 0.0, 1.0)
                estimate[i] = e / e.sum() if e.sum() > 0 else estimate[i]
                spread[i].append(r - centre)
        from statistics import NormalDist

        q = (1.0 - level) / 2.0
        z = NormalDist().inv_cdf(1.0 - q)
        # the corrected estimate solves "mean of replicates at theta = the fit", so its spread
        # is the replicates' divided by how fast that mean follows theta (the delta method)
        slope_known, slope_unknown = binding_slopes(worlds_c, means_c)
        for i in range(len(point)):
            v = estimate[i]
            point[i] = v
            dev = np.concatenate(spread[i])
            dev = dev / np.append(np.full(dev.shape[1] - 1, slope_known), slope_unknown)
            # the bootstrap sees sampling noise only; the model error (sources that are not
            # exactly the seeding communities, the unknown-cost trade-off) is added in
            # quadrature as a binomial-shaped floor, calibrated on real-sample mixtures
            floor = z * model_error * 2.0 * np.sqrt(v * (1.0 - v))
            down = -np.quantile(dev, q, axis=0)
            up = np.quantile(dev, 1.0 - q, axis=0)
            lows[i] = np.clip(v - np.sqrt(np.maximum(down, 0) ** 2 + floor**2), 0.0, 1.0)
            highs[i] = np.clip(v + np.sqrt(np.maximum(up, 0) ** 2 + floor**2), 0.0, 1.0)

    rows = []
    for p, o, v, lo, hi in zip(problems, orders, point, lows, highs, strict=True):
        for j, lab in enumerate([*o, UNKNOWN]):
            rows.append((p.sink, lab, v[j], lo[j], hi[j]))
    table = _with_untracked(pd.DataFrame(rows, columns=COLUMNS), skipped)
    table.attrs["diagnostics"] = pd.DataFrame(
        {
            "sink": [p.sink for p in problems],
            "reads": [float(p.x.sum()) for p in problems],
            "taxa": [len(p.x) for p in problems],
            "iterations": iters,
            "converged": conv,
            "unknown_cost": [_sink_noise_cost(p.x, p.Y, unknown_cost) for p in problems],
        }
    )
    table.attrs["relative"] = relative
    return table


def _lost_taxa_test(
    problems: list[_Problem],
    a_hat: list[np.ndarray],
    gu_hat: list[np.ndarray],
    g_hat: list[np.ndarray],
    lost_hat: list[np.ndarray],
    iters: np.ndarray,
    conv: np.ndarray,
    unknown_cost: float,
    options: FitOptions,
    init: Callable[[_Problem], tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> None:
    """Keep each sink's lost taxa only if chance deficits could not have given its drop.

    The statistic is the drop of the sink's Unknown share from the fit without lost taxa to
    the fit with them. Its null distribution is that of sinks with nothing lost, fitted both
    ways as the data were: ``n`` reads (multinomial) drawn at the lost-taxa fit's shares from
    whole seeding communities (each a Dirichlet draw about its sample's reads and
    pseudo-counts with the fit's weight of them, so the null has the source samples' noise
    as well as the sink's) and the fit without lost taxa's unknown profile (which keeps the
    reads it shares with the sources; the lost-taxa fit's unknown holds only what the
    thinned sources leave and gave too narrow a null). The lost set stands only when the
    sink's drop exceeds every one of ``LOST_NULL_DRAWS`` null drops; otherwise the sink's
    fit without lost taxa replaces it, in place (``a_hat``, ``gu_hat``, ``g_hat``, ``lost_hat``; ``iters`` gains the test's
    fits on the data, ``conv`` becomes the kept fit's).
    """
    tested = [i for i, m in enumerate(lost_hat) if m.any()]
    if not tested:
        return
    off_options = options._replace(loss=0.0)
    sub = [problems[i] for i in tested]
    starts = [init(p) for p in sub]
    a_off, gu_off, it_off, conv_off, _, g_off = _solve(
        [p.x for p in sub], [p.Y for p in sub], [p.pseudo for p in sub], [p.tau for p in sub],
        [s[0] for s in starts], [s[1] for s in starts], unknown_cost, off_options,
        priors=[p.prior for p in sub],
    )
    drops = np.array([a_off[k][-1] - a_hat[i][-1] for k, i in enumerate(tested)])
    rngs = [np.random.default_rng([seed, LOST_NULL_STREAM, i]) for i in tested]
    # the seeding community's spread about its sample: the fit's own weight of the sample's
    # reads (sample and seeding draw are two draws of the source community; engine._fit_one)
    concentrations = []
    for i in tested:
        p = problems[i]
        mass = p.Y.sum(axis=1) + p.pseudo.sum(axis=1)
        weight = np.where(p.tau > 0, 1.0 / (1.0 / np.where(p.tau > 0, p.tau, 1.0) + 1.0 / mass), mass)
        concentrations.append(np.maximum((p.Y + p.pseudo) * (weight / mass)[:, None], np.finfo(float).tiny))
    # sequential: a sink is settled (no loss) at its first null drop that reaches its own, so
    # null sinks are drawn in growing rounds for the sinks still open; the decisions are
    # those of all LOST_NULL_DRAWS draws, as each sink's stream gives its draws in order
    open_ = list(range(len(tested)))
    for size in _sequential_rounds(LOST_NULL_DRAWS):
        null_problems: list[_Problem] = []
        for k in open_:
            p, i = problems[tested[k]], tested[k]
            n = int(round(float(p.x.sum())))
            for _ in range(size):
                seeding = np.stack([rngs[k].dirichlet(c) for c in concentrations[k]])
                q = a_hat[i][:-1] @ seeding + a_hat[i][-1] * gu_off[k]
                null_problems.append(replace(p, x=rngs[k].multinomial(n, q / q.sum()).astype(np.float64)))
        null_starts = [init(p) for p in null_problems]
        fits = []
        for opts in (options, off_options):
            a_null, *_ = _solve(
                [p.x for p in null_problems], [p.Y for p in null_problems],
                [p.pseudo for p in null_problems], [p.tau for p in null_problems],
                [s[0] for s in null_starts], [s[1] for s in null_starts], unknown_cost, opts,
                priors=[p.prior for p in null_problems],
            )
            fits.append(np.array([a[-1] for a in a_null]))
        null_drops = (fits[1] - fits[0]).reshape(len(open_), size)
        open_ = [k for k, row in zip(open_, null_drops, strict=True) if drops[k] > row.max()]
        if not open_:
            break
    kept = set(open_)
    for k, i in enumerate(tested):
        iters[i] += it_off[k]
        if k in kept:
            continue
        a_hat[i], gu_hat[i], g_hat[i] = a_off[k], gu_off[k], g_off[k]
        lost_hat[i] = np.zeros_like(lost_hat[i])
        conv[i] = conv_off[k]


def _sequential_rounds(total: int) -> list[int]:
    """Sizes of the rounds of a sequential Monte Carlo test of ``total`` draws: 1, 2, 4, ...
    and the rest last (a round per doubling keeps each batch of fits parallel)."""
    sizes: list[int] = []
    size = 1
    while sum(sizes) + size < total:
        sizes.append(size)
        size *= 2
    sizes.append(total - sum(sizes))
    return sizes


SLOPE_FLOOR = 0.1
"""Smallest slope :func:`binding_slopes` returns, so intervals widen at most tenfold (a
numerical guard for a mean that barely follows the world, not a fitted value)."""


def binding_slopes(worlds: list[list[np.ndarray]], means: list[list[np.ndarray]]) -> tuple[float, float]:
    """How fast the replicates' mean shares follow the world's shares, pooled over the sinks.

    The bias-corrected estimate is the world ``theta`` whose replicates' mean ``b(theta)``
    equals the fit (indirect inference; Gourieroux, Monfort & Renault 1993, J Appl Econom
    8:S85), so its sampling spread is the fit's divided by the slope ``b'`` (the delta
    method). Where the free unknown takes chance excess, ``b`` follows ``theta`` at less
    than 1:1 and the corrected estimate is noisier than the replicates about their mean.
    The slope is the least-squares one through the origin of the change of the rounds'
    means on the change of their worlds, over every sink of the batch (three rounds give
    two changes per sink, too few for a slope per sink), separately for the known shares
    and the unknown; clipped to ``[SLOPE_FLOOR, 1]`` (a steeper slope would narrow the
    intervals on Monte Carlo noise, which biases the estimate upwards anyway).

    Parameters
    ----------
    worlds, means
        Per round, per sink: the world's shares (labels, unknown last) and the replicates'
        mean shares drawn from it.

    Returns
    -------
    tuple of float
        (slope of the known shares, slope of the unknown share); 1 where fewer than two
        rounds were run or the worlds did not move.
    """
    num = np.zeros(2)
    den = np.zeros(2)
    for k in range(1, len(worlds)):
        for w0, w1, m0, m1 in zip(worlds[k - 1], worlds[k], means[k - 1], means[k], strict=True):
            dt, dm = w1 - w0, m1 - m0
            num += [(dt[:-1] * dm[:-1]).sum(), dt[-1] * dm[-1]]
            den += [(dt[:-1] ** 2).sum(), dt[-1] ** 2]
    slopes = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
    known, unknown = np.clip(slopes, SLOPE_FLOOR, 1.0)
    return float(known), float(unknown)


def corrected_unknown_reads(world: np.ndarray, fitted: np.ndarray, replicates: np.ndarray) -> np.ndarray:
    """One fixed-point step of the bootstrap bias correction, on the unknown's reads per taxon.

    Replicates drawn from a world whose unknown holds ``world`` reads per taxon gave, on
    average, ``replicates`` unknown reads; the data's fit gave ``fitted``. The world's reads
    move by the fit's excess over the replicates' mean (as the shares do), clipped at 0: a
    taxon where the replicates' free unknown takes chance excess loses the reads the data's
    fit took the same way.

    Parameters
    ----------
    world, fitted, replicates
        Unknown reads per taxon: the current world's, the data fit's and the replicates'
        mean (reads).

    Returns
    -------
    numpy.ndarray
        The next world's unknown reads per taxon (>= 0).
    """
    return np.maximum(world + (fitted - replicates), 0.0)


def _analytic_point(p: _Problem, a: np.ndarray, G: np.ndarray, gu: np.ndarray, shares: np.ndarray,
                    lam: float, rng: np.random.Generator) -> np.ndarray:
    """The point estimate ``shares`` (labels, unknown last) with the chance take removed."""
    n = float(p.x.sum())
    known = n * (a[:-1] @ G)
    unknown = n * a[-1] * gu
    u = max(shares[-1] - chance_corrected_unknown(p.x, known, unknown, lam, rng), 0.0)
    out = shares.copy()
    rest = 1.0 - shares[-1]
    # the known sources share what the unknown gives back, in their fitted ratios
    out[:-1] = shares[:-1] * ((1.0 - u) / rest) if rest > 0 else shares[:-1]
    out[-1] = u if rest > 0 else shares[-1]
    return out


def _rows_at(a: np.ndarray, labels: list[str], order: list[str], shares: np.ndarray,
             fitted: np.ndarray) -> np.ndarray:
    """Per-sample proportions ``a`` (unknown last) rescaled so their labels sum to ``shares``.

    ``fitted`` are the labels' sums of ``a`` (as :func:`_collapse` gives them); a label whose
    fitted share is 0 keeps 0.
    """
    pos = {lab: i for i, lab in enumerate(order)}
    scale = np.where(fitted > 0, shares / np.where(fitted > 0, fitted, 1.0), 0.0)
    out = np.array([a[j] * scale[pos[lab]] for j, lab in enumerate(labels)] + [shares[-1]])
    return out / out.sum() if out.sum() > 0 else a


def _bootstrap(
    problems: list[_Problem],
    a_hat: list[np.ndarray],
    world_gu: list[np.ndarray],
    g_hat: list[np.ndarray],
    lost_hat: list[np.ndarray],
    orders: list[list[str]],
    stream: int,
    first: int,
    n_boot: int,
    kappa: float,
    options: FitOptions,
    by_sample: bool,
    progress: Callable[[int], None] | None,
    prior_strength: float,
    source_fidelity: float | None,
    world: list[np.ndarray],
    source_redraw: str = "fitted",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Bootstrap replicates ``first .. first + n_boot - 1`` of every sink's proportions
    (replicates x labels+1), and the replicates' mean unknown reads per taxon (one array per
    sink, over its active taxa).

    Each replicate redraws the sink's reads and every source sample's reads (multinomial at
    the observed depth), and, where an Env has several source samples and they are pooled,
    resamples those samples with replacement; each replicate is fitted to the data's own
    tolerance. With a seeding draw (``p.tau`` > 0) a source
    sample is redrawn from a profile that is itself drawn from ``Dirichlet(tau c)``, so the
    replicates carry the difference between the sample and the seeding community too; the
    centre ``c`` is the sample's posterior mean ``(y + b) / (m + sum b)`` (``source_redraw``
    ``"posterior"``) or the fitted seeding community (``"fitted"``; a source whose fit
    thinned lost taxa keeps its posterior, which still holds them). Each replicate's
    pseudo-counts and draw sizes are estimated from its own reads, as for the data. The sink
    is redrawn from the mixture of the fitted source profiles and the unknown profile
    ``world_gu`` at the shares ``world`` (per source sample, unknown last). Fits start
    near the point estimate (its proportions, the world's unknown profile mixed with the
    replicate sink's own) and from its lost taxa.

    The draws and fits run in one compiled kernel
    (:func:`lactobiome.tracking.engine.replicate_batch`); replicate ``b`` of sink ``i``
    draws from its own stream keyed by ``(stream, i, b)``, so results do not depend on how
    the replicates are chunked or on the number of threads.
    """
    from lactobiome.tracking.engine import replicate_batch

    t_len = np.array([len(p.x) for p in problems], dtype=np.int64)
    k_len = np.array([p.Y.shape[0] for p in problems], dtype=np.int64)
    t_off = np.concatenate([[0], np.cumsum(t_len)]).astype(np.int64)
    k_off = np.concatenate([[0], np.cumsum(k_len)]).astype(np.int64)
    y_off = np.concatenate([[0], np.cumsum(t_len * k_len)]).astype(np.int64)
    a_off = np.concatenate([[0], np.cumsum(k_len + 1)]).astype(np.int64)
    mixes, centres, seeded, starts, sizes, members, labels = [], [], [], [], [], [], []
    for i, p in enumerate(problems):
        # the sink is redrawn from the fitted mixture (a parametric bootstrap), so the
        # replicates also show how much of their own noise the free unknown profile takes
        mixes.append(np.maximum(world[i][:-1] @ g_hat[i] + world[i][-1] * world_gu[i], 0.0))
        with_draw = bool((p.tau > 0).all())
        seeded.append(with_draw)
        if with_draw:
            centre = (p.Y + p.pseudo) / (p.Y + p.pseudo).sum(axis=1, keepdims=True)
            if source_redraw == "fitted":
                # the world's seeding community; the sample is one draw of tau away from it
                fitted_g = g_hat[i] / g_hat[i].sum(axis=1, keepdims=True)
                thinned = np.asarray(np.any(lost_hat[i], axis=1), dtype=bool)
                centre = np.where(thinned[:, None], centre, fitted_g)
        else:
            centre = p.Y / p.Y.sum(axis=1, keepdims=True)
        centres.append(centre.ravel())
        # source samples are resampled within their Env (none with by_sample): slots run
        # group by group, each drawing a row of its own group
        groups = [[r] for r in range(len(p.Y))] if by_sample else list(p.groups.values())
        offset = 0
        for g in groups:
            starts.extend([offset] * len(g))
            sizes.extend([len(g)] * len(g))
            members.extend(g)
            offset += len(g)
        pos = {lab: j for j, lab in enumerate(orders[i])}
        labels.append(np.array([pos[lab] for lab in p.labels], dtype=np.int64))
    fidelity = -1.0 if source_fidelity is None else float(source_fidelity)
    common = (
        t_off, k_off, np.array([round(float(p.x.sum())) for p in problems], dtype=np.float64),
        np.concatenate(mixes), np.concatenate(centres), y_off,
        np.concatenate([p.tau for p in problems]).astype(np.float64),
        np.concatenate([np.round(p.Y.sum(axis=1)) for p in problems]).astype(np.float64),
        np.concatenate([(p.Y > 0).any(axis=0) for p in problems]),
        np.array(seeded, dtype=np.bool_),
        np.array(starts, dtype=np.int64), np.array(sizes, dtype=np.int64), np.array(members, dtype=np.int64),
        np.concatenate([p.prior for p in problems]).astype(np.float64),
        np.concatenate(a_hat).astype(np.float64), a_off,
        np.concatenate(world_gu).astype(np.float64),
        np.concatenate([m.ravel() for m in lost_hat]).astype(np.bool_),
        float(prior_strength), fidelity, float(kappa), options,
    )
    out = [np.empty((n_boot, len(o) + 1)) for o in orders]
    unknown_reads = [np.zeros(len(p.x)) for p in problems]
    # replicates are solved in chunks so that their outputs stay bounded on large analyses
    per_rep = int(t_off[-1] + a_off[-1] + k_off[-1])
    chunk = max(1, min(n_boot, int(BOOTSTRAP_CHUNK_VALUES // max(per_rep, 1))))
    done = 0
    while done < n_boot:
        count = min(chunk, n_boot - done)
        rows_out = np.empty(int(k_off[-1]) * count, dtype=np.int64)
        a_out = np.empty(int(a_off[-1]) * count)
        unknown_out = np.empty(int(t_off[-1]) * count)
        replicate_batch(np.uint64(stream), np.int64(first + done), np.int64(count), *common,
                        rows_out, a_out, unknown_out)
        for i in range(len(problems)):
            K, T, L = int(k_len[i]), int(t_len[i]), len(orders[i])
            rows = rows_out[k_off[i] * count : k_off[i + 1] * count].reshape(count, K)
            a = a_out[a_off[i] * count : a_off[i + 1] * count].reshape(count, K + 1)
            shares = np.zeros((count, L + 1))
            # per-sample proportions summed into their labels (as _collapse), unknown last
            np.add.at(shares, (np.arange(count)[:, None], labels[i][rows]), a[:, :K])
            shares[:, L] = a[:, K]
            out[i][done : done + count] = shares
            # added replicate by replicate, so the sum (which moves the next round's world, and
            # so its draws) is the same to the last bit however the replicates are chunked
            for reads_b in unknown_out[t_off[i] * count : t_off[i + 1] * count].reshape(count, T):
                unknown_reads[i] += reads_b / n_boot
        done += count
        if progress is not None:
            progress(count * len(problems))
    return out, unknown_reads
