"""The bootstrap's compiled random draws: exact laws, seeded streams, results free of chunking.

Replicates are drawn inside the compiled kernel (``engine.replicate_batch``) from a stream per
(run seed, sink, replicate). The samplers are checked against their distributions with a
fixed stream (so the checks are deterministic), and a ``track`` result must not depend on how
the replicates are chunked or on the number of threads.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pytest
from numba import njit
from scipy import stats

from lactobiome.tracking import core, engine, track
from lactobiome.tracking.core import source_pseudocounts


@njit(cache=False)
def _binomials(count: int, n: float, p: float, key: int) -> np.ndarray:
    state = np.empty(1, dtype=np.uint64)
    state[0] = key
    out = np.empty(count)
    for i in range(count):
        out[i] = engine.binomial_draw(state, n, p)
    return out


@njit(cache=False)
def _gammas(count: int, shape: float, key: int) -> np.ndarray:
    state = np.empty(1, dtype=np.uint64)
    state[0] = key
    out = np.empty(count)
    for i in range(count):
        out[i] = engine.gamma_draw(state, shape)
    return out


@njit(cache=False)
def _normals(count: int, key: int) -> np.ndarray:
    state = np.empty(1, dtype=np.uint64)
    state[0] = key
    out = np.empty(count)
    for i in range(count):
        out[i] = engine._normal(state)
    return out


@njit(cache=False)
def _multinomials(count: int, n: float, weights: np.ndarray, key: int) -> np.ndarray:
    state = np.empty(1, dtype=np.uint64)
    state[0] = key
    out = np.empty((count, weights.shape[0]))
    for i in range(count):
        engine.multinomial_draw(state, n, weights, out[i])
    return out


@njit(cache=False)
def _pseudocounts(Y: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    out = np.empty_like(Y)
    for r in range(Y.shape[0]):
        engine.pseudocounts_row(Y[r], prior, strength, out[r])
    return out


def _chi2_pvalue(draws: np.ndarray, pmf: np.ndarray) -> float:
    """Pearson's goodness of fit of integer draws to a pmf (cells expected >= 5 reads)."""
    observed = np.bincount(draws.astype(np.int64), minlength=len(pmf))[: len(pmf)]
    keep = pmf * len(draws) >= 5
    expected = pmf[keep] * len(draws)
    chi2 = float(((observed[keep] - expected) ** 2 / expected).sum())
    return float(stats.chi2.sf(chi2, keep.sum() - 1))


# inversion (small means), BTRS (mean >= 10) and the mirrored p > 1/2 of both
@pytest.mark.parametrize(("n", "p"), [(20.0, 0.2), (45_000.0, 1e-4), (1_000.0, 0.011), (45_000.0, 0.3),
                                      (200.0, 0.97), (45_000.0, 0.8)])
def test_binomial_draws_follow_the_binomial_law(n: float, p: float) -> None:
    draws = _binomials(100_000, n, p, 11)
    assert draws.min() >= 0 and draws.max() <= n and (draws == np.round(draws)).all()
    pmf = stats.binom.pmf(np.arange(int(n) + 1), int(n), p)
    assert _chi2_pvalue(draws, pmf) > 1e-3
    assert draws.mean() == pytest.approx(n * p, abs=5 * np.sqrt(n * p * (1 - p) / len(draws)))


def test_binomial_edge_cases() -> None:
    assert (_binomials(10, 0.0, 0.3, 1) == 0).all()
    assert (_binomials(10, 7.0, 0.0, 1) == 0).all()
    assert (_binomials(10, 7.0, 1.0, 1) == 7).all()


@pytest.mark.parametrize("shape", [0.02, 0.4, 1.0, 3.0, 50.0])
def test_gamma_draws_follow_the_gamma_law(shape: float) -> None:
    draws = _gammas(200_000, shape, 5)
    assert (draws >= 0).all()
    assert stats.kstest(draws, stats.gamma(shape).cdf).pvalue > 1e-3
    # Gamma(a): mean a, variance a; the mean within 5 standard errors
    assert draws.mean() == pytest.approx(shape, abs=5 * np.sqrt(shape / len(draws)))
    assert _gammas(5, 0.0, 5).max() == 0.0


def test_normal_draws_are_standard_normal_tails_included() -> None:
    draws = _normals(1_000_000, 3)
    assert stats.kstest(draws, "norm").pvalue > 1e-3
    assert draws.mean() == pytest.approx(0.0, abs=0.005)
    assert draws.var() == pytest.approx(1.0, abs=0.005)
    # beyond the ziggurat's edge (3.44 sd) the tail is drawn separately: it must be there too
    tail = float((np.abs(draws) > engine.ZIGGURAT_EDGE).mean())
    assert tail == pytest.approx(2 * stats.norm.sf(engine.ZIGGURAT_EDGE), rel=0.15)


def test_multinomial_draws_sum_to_n_and_have_multinomial_moments() -> None:
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.full(300, 0.2)) * 3.0  # need not sum to 1
    weights[[4, 150]] = 0.0
    n = 5_000.0
    draws = _multinomials(20_000, n, weights, 7)
    p = weights / weights.sum()
    assert (draws.sum(axis=1) == n).all()
    assert draws[:, [4, 150]].max() == 0.0
    # categories on both sides of the split (binomials above a few expected reads, reads one by
    # one below): means and variances of every category within sampling error
    se = np.sqrt(n * p * (1 - p) / len(draws))
    seen = n * p * len(draws) > 100  # categories expected to get reads at all in these draws
    assert (np.abs(draws.mean(axis=0) - n * p)[seen] <= 5 * se[seen]).all()
    big = n * p > 20
    small = (n * p > 0.5) & (n * p < engine.MULTINOMIAL_BINOMIAL_READS)
    assert big.sum() > 20 and small.sum() > 20
    for part in (big, small):
        ratio = draws.var(axis=0)[part] / (n * p * (1 - p))[part]
        assert np.median(ratio) == pytest.approx(1.0, abs=0.05)
    # the largest categories are negatively correlated as a multinomial's are (standard error
    # of a correlation ~ 1 / sqrt(draws) = 0.007)
    i, j = np.argsort(p)[-2:]
    corr = np.corrcoef(draws[:, i], draws[:, j])[0, 1]
    assert corr == pytest.approx(-np.sqrt(p[i] * p[j] / ((1 - p[i]) * (1 - p[j]))), abs=0.035)


def test_compiled_pseudocounts_are_source_pseudocounts() -> None:
    rng = np.random.default_rng(4)
    prior = rng.dirichlet(np.ones(60))
    Y = np.zeros((4, 60))
    Y[0, :25] = rng.integers(1, 4, size=25)
    Y[1, :40] = rng.integers(20, 60, size=40)
    Y[2, :30] = 1.0
    Y[3, :10] = rng.uniform(0.2, 3.0, size=10)  # fractional (scaled relative abundances)
    np.testing.assert_allclose(_pseudocounts(Y, prior, 1.0), source_pseudocounts(Y, prior, 1.0), rtol=1e-12)


def test_replicate_streams_differ_by_sink_replicate_and_seed() -> None:
    keys = {int(engine.replicate_key(np.uint64(s), np.int64(i), np.int64(b)))
            for s in (0, 1) for i in range(20) for b in range(50)}
    assert len(keys) == 2 * 20 * 50


def _mixtures() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four sinks, two with a pooled Env of two source samples (resampled in the bootstrap)."""
    rng = np.random.default_rng(8)
    profiles = rng.dirichlet(np.full(80, 0.3), size=3)
    columns, rows = {}, []
    for s in range(4):
        columns[f"a{s}"] = rng.multinomial(3_000, profiles[0])
        columns[f"b{s}"] = rng.multinomial(2_000, profiles[1])
        rows += [(f"a{s}", "A", "Source", str(s)), (f"b{s}", "B", "Source", str(s))]
        if s < 2:
            columns[f"c{s}"] = rng.multinomial(2_500, profiles[0])
            rows.append((f"c{s}", "A", "Source", str(s)))
        w = rng.dirichlet(np.ones(3))
        columns[f"sink{s}"] = rng.multinomial(4_000, w @ profiles)
        rows.append((f"sink{s}", "sink", "Sink", str(s)))
    counts = pd.DataFrame(columns, index=[f"t{k}" for k in range(80)])
    meta = pd.DataFrame(rows, columns=["SampleID", "Env", "SourceSink", "id"]).set_index("SampleID")
    return counts, meta


def test_results_do_not_depend_on_chunking_or_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    counts, meta = _mixtures()
    whole = track(counts, meta, bootstrap=14, seed=3)
    # one replicate of every sink per chunk instead of all of a round's at once
    monkeypatch.setattr(core, "BOOTSTRAP_CHUNK_VALUES", 1)
    pd.testing.assert_frame_equal(track(counts, meta, bootstrap=14, seed=3), whole)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        pd.testing.assert_frame_equal(track(counts, meta, bootstrap=14, seed=3), whole)
    finally:
        numba.set_num_threads(threads)
    other = track(counts, meta, bootstrap=14, seed=4)
    assert not np.allclose(other["ci_low"], whole["ci_low"])


def test_draws_of_undefined_laws_return_zero_rather_than_spin() -> None:
    assert (_binomials(3, 50.0, float("nan"), 1) == 0).all()
    assert (_gammas(3, float("nan"), 1) == 0).all()
