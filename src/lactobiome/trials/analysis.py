"""The trial's analysis: each arm with a 95% interval, the effect between arms, the paired contrast.

Every test and interval comes from SciPy or statsmodels, not from formulas written here:

* a mean: the t interval (``scipy.stats.ttest_1samp(...).confidence_interval``);
* a share: the Wilson interval (``statsmodels.stats.proportion.proportion_confint``);
* a rate: the exact Poisson interval (``statsmodels.stats.rates.confint_poisson``, ``exact-c``);
* difference in means: Welch's t test and its interval (``scipy.stats.ttest_ind``);
* risk ratio: ``scipy.stats.contingency.relative_risk`` (Katz log interval), p from Fisher's
  exact test (``scipy.stats.fisher_exact``);
* odds ratio: ``scipy.stats.contingency.odds_ratio`` (conditional maximum likelihood, exact
  interval), p from Fisher's exact test;
* incidence rate ratio: the exact conditional test and the score interval of
  ``statsmodels.stats.rates`` (``test_poisson_2indep``, ``confint_poisson_2indep``);
* paired contrast (the same woman under two arms): the mean within-woman difference with its
  t interval (``scipy.stats.ttest_1samp`` on the differences; for a yes/no endpoint that mean
  is the paired risk difference).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
"""Level of every interval."""


@dataclass(frozen=True)
class Estimate:
    """A value with its 95% interval and, for a comparison, the p-value."""

    value: float
    low: float = math.nan
    high: float = math.nan
    p_value: float = math.nan
    n: int = 0


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the warnings of an estimate at a zero count (it comes back as 0, inf or NaN)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def mean(values: np.ndarray) -> Estimate:
    """Mean of the finite values with its t interval."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Estimate(math.nan)
    if x.size < 2 or np.ptp(x) == 0:
        return Estimate(float(x.mean()), float(x.mean()), float(x.mean()), n=int(x.size))
    with _quiet():  # nearly equal values (plates at the detection limit) warn of precision loss
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(CONFIDENCE)
    return Estimate(float(x.mean()), float(ci.low), float(ci.high), n=int(x.size))


def share(values: np.ndarray) -> Estimate:
    """Share of women with the event (values 0/1) and its Wilson interval."""
    from statsmodels.stats.proportion import proportion_confint

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Estimate(math.nan)
    k = int(x.sum())
    low, high = proportion_confint(k, x.size, alpha=1 - CONFIDENCE, method="wilson")
    return Estimate(k / x.size, float(low), float(high), n=int(x.size))


def rate(events: np.ndarray, woman_weeks: np.ndarray, per: float) -> Estimate:
    """Events per ``per`` woman-weeks with the exact Poisson interval."""
    from statsmodels.stats.rates import confint_poisson

    k, t = float(np.nansum(events)), float(np.nansum(woman_weeks))
    if t <= 0:
        return Estimate(math.nan, n=len(events))
    low, high = confint_poisson(k, t, method="exact-c", alpha=1 - CONFIDENCE)
    return Estimate(k / t * per, float(low) * per, float(high) * per, n=len(events))


def difference_in_means(treated: np.ndarray, control: np.ndarray) -> Estimate:
    """Mean of ``treated`` minus mean of ``control``: Welch's t test and interval."""
    from scipy import stats

    a = np.asarray(treated, dtype=np.float64)
    b = np.asarray(control, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        return Estimate(math.nan)
    estimate = float(a.mean() - b.mean())
    if np.ptp(np.concatenate([a, b])) == 0:
        return Estimate(estimate, estimate, estimate, 1.0, int(a.size + b.size))
    with _quiet():
        result = stats.ttest_ind(a, b, equal_var=False)
        ci = result.confidence_interval(CONFIDENCE)
    return Estimate(estimate, float(ci.low), float(ci.high), float(result.pvalue), int(a.size + b.size))


def _counts(values: np.ndarray) -> tuple[int, int]:
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    return int(x.sum()), int(x.size)


def risk_ratio(treated: np.ndarray, control: np.ndarray) -> Estimate:
    """Risk in ``treated`` over risk in ``control`` (0/1 values), Fisher's exact p."""
    from scipy.stats import fisher_exact
    from scipy.stats.contingency import relative_risk

    (kt, nt), (kc, nc) = _counts(treated), _counts(control)
    if nt == 0 or nc == 0:
        return Estimate(math.nan)
    p = float(fisher_exact([[kt, nt - kt], [kc, nc - kc]]).pvalue)
    with _quiet():
        result = relative_risk(kt, nt, kc, nc)
        ci = result.confidence_interval(CONFIDENCE)
    return Estimate(float(result.relative_risk), float(ci.low), float(ci.high), p, nt + nc)


def odds_ratio(treated: np.ndarray, control: np.ndarray) -> Estimate:
    """Odds ratio of ``treated`` against ``control`` (0/1 values), Fisher's exact p."""
    from scipy.stats import fisher_exact
    from scipy.stats.contingency import odds_ratio as scipy_odds_ratio

    (kt, nt), (kc, nc) = _counts(treated), _counts(control)
    if nt == 0 or nc == 0:
        return Estimate(math.nan)
    table = [[kt, nt - kt], [kc, nc - kc]]
    p = float(fisher_exact(table).pvalue)
    with _quiet():
        result = scipy_odds_ratio(table)
        ci = result.confidence_interval(CONFIDENCE)
    return Estimate(float(result.statistic), float(ci.low), float(ci.high), p, nt + nc)


def incidence_rate_ratio(events_treated: np.ndarray, weeks_treated: np.ndarray, events_control: np.ndarray,
                         weeks_control: np.ndarray) -> Estimate:
    """Rate in ``treated`` over rate in ``control``: exact conditional test, score interval."""
    from statsmodels.stats.rates import confint_poisson_2indep, test_poisson_2indep

    kt, tt = int(np.nansum(events_treated)), float(np.nansum(weeks_treated))
    kc, tc = int(np.nansum(events_control)), float(np.nansum(weeks_control))
    n = len(events_treated) + len(events_control)
    if tt <= 0 or tc <= 0 or kt + kc == 0:
        return Estimate(math.nan, n=n)
    with _quiet():
        test = test_poisson_2indep(kt, tt, kc, tc, method="exact-cond", compare="ratio")
        low, high = confint_poisson_2indep(kt, tt, kc, tc, method="score", compare="ratio", alpha=1 - CONFIDENCE)
    estimate = (kt / tt) / (kc / tc) if kc > 0 else math.inf
    return Estimate(float(estimate), float(low), float(high), float(test.pvalue), n)


def paired_difference(differences: np.ndarray) -> Estimate:
    """Mean within-woman difference with its t interval (and the paired t test's p)."""
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return Estimate(math.nan)
    if d.size < 2 or np.ptp(d) == 0:
        value = float(d.mean())
        return Estimate(value, value, value, 1.0 if value == 0 else 0.0, int(d.size))
    with _quiet():
        result = stats.ttest_1samp(d, 0.0)
        ci = result.confidence_interval(CONFIDENCE)
    return Estimate(float(d.mean()), float(ci.low), float(ci.high), float(result.pvalue), int(d.size))
