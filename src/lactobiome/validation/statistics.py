"""Model values with 95% intervals: per-dyad samples, their statistics and the bootstrap.

A measurement turns a simulation result into a :class:`Sample` (one row per dyad and the
statistic that makes the model value of them); :func:`bootstrap` gives the value and its
95% percentile-bootstrap interval over dyads as a :class:`Measurement`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

Statistic = Callable[[np.ndarray], float]
"""A function of the per-dyad rows giving the model value."""


@dataclass(frozen=True)
class Measurement:
    """A model value with its 95% interval; ``value`` is NaN with a ``reason`` when unmeasurable."""

    value: float
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Sample:
    """Per-dyad data (rows = dyads) and the statistic that turns them into the model value."""

    data: np.ndarray
    statistic: Statistic


def bootstrap(sample: Sample, n_boot: int = 200, seed: int = 0) -> Measurement:
    """Value of ``sample.statistic`` and its 95% percentile-bootstrap interval over dyads.

    Parameters
    ----------
    sample
        Per-dyad rows and the statistic.
    n_boot
        Resamples; 0 gives the value alone.
    seed
        Seed of the resampling (fixed so that reports are reproducible).

    Returns
    -------
    Measurement
        NaN with a reason when the sample has no dyad or its statistic is not finite.
    """
    data = np.asarray(sample.data, dtype=np.float64)
    n = data.shape[0]
    if n == 0:
        return Measurement(math.nan, reason="no dyads in this population in the cohort")
    with np.errstate(all="ignore"):
        value = float(sample.statistic(data))
        if not math.isfinite(value):
            return Measurement(math.nan, n=n, reason="no dyad-day in this cohort falls in the population the "
                               "figure applies to (none occurred; rerun with more dyads)")
        if n_boot <= 0:
            return Measurement(value, n=n)
        rng = np.random.default_rng(seed)
        boots = np.array([sample.statistic(data[rng.integers(0, n, n)]) for _ in range(n_boot)], dtype=np.float64)
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return Measurement(value, n=n)
    low, high = np.percentile(boots, [2.5, 97.5])
    return Measurement(value, float(low), float(high), n)


# statistics of per-dyad rows ----------------------------------------------------------
def nanmedian(x: np.ndarray) -> float:
    """Median of the finite values (NaN when none)."""
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


def nanmean(x: np.ndarray) -> float:
    """Mean of the finite values (NaN when none)."""
    x = x[np.isfinite(x)]
    return float(np.mean(x)) if x.size else math.nan


def percentile_95(x: np.ndarray) -> float:
    """95th percentile of the rows (NaN when there are none)."""
    return float(np.percentile(x, 95)) if x.size else math.nan


def spearman(x: np.ndarray) -> float:
    """Spearman correlation of the two columns over rows where both are finite.

    NaN with fewer than three such rows or when a column is constant.
    """
    ok = np.isfinite(x).all(axis=1)
    x = x[ok]
    if x.shape[0] < 3:
        return math.nan
    ranks = np.column_stack([pd.Series(x[:, j]).rank().to_numpy() for j in range(2)])
    if ranks[:, 0].std() == 0 or ranks[:, 1].std() == 0:
        return math.nan
    return float(np.corrcoef(ranks[:, 0], ranks[:, 1])[0, 1])


def ratio_of_sums(x: np.ndarray) -> float:
    """Sum of column 0 over sum of column 1 (NaN when the denominator is not positive)."""
    den = float(np.nansum(x[:, 1]))
    return float(np.nansum(x[:, 0]) / den) if den > 0 else math.nan


def odds_ratio(x: np.ndarray) -> float:
    """Odds ratio of a 2x2 table summed over rows of columns (a, b, c, d): ad / bc.

    0.5 is added to every cell when one is empty (Haldane's correction).
    """
    a, b, c, d = (float(np.nansum(x[:, j])) for j in range(4))
    if min(a, b, c, d) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    return (a * d) / (b * c)


def difference_of_group_means(x: np.ndarray) -> float:
    """Mean of column 0 where column 1 is 1 minus its mean where column 1 is 0."""
    a, b = x[x[:, 1] == 1, 0], x[x[:, 1] == 0, 0]
    return nanmean(a) - nanmean(b)


def ratio_of_group_means(x: np.ndarray) -> float:
    """Mean of column 0 where column 1 is 1 over its mean where column 1 is 0 (NaN if that is not positive)."""
    a, b = nanmean(x[x[:, 1] == 1, 0]), nanmean(x[x[:, 1] == 0, 0])
    return a / b if b > 0 else math.nan


def ratio_of_column_medians(x: np.ndarray) -> float:
    """Median of column 0 over median of column 1."""
    return nanmedian(x[:, 0]) / nanmedian(x[:, 1])
