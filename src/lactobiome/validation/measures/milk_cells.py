"""Measurements of the cells in milk (targets ``C``, system ``milk_cells``).

Leucocyte, epithelial and stem-cell shares, leucocytes and somatic cells per mL in health
and in mastitis, and the somatic cell count as a predictor of a mastitis episode.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from lactobiome.model.spectrum import INFLAMED, episode_onsets
from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar, Unmeasurable
from lactobiome.validation.statistics import Sample, nanmedian, odds_ratio, percentile_95

register = Registrar("milk_cells")

SCC_HIGH_PER_ML = 4.76e5
"""Somatic cell count above which a day counts as high for target C09 (cells/mL)."""


def _share_window(name: str, first: int, last: int, only_healthy: bool) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        return c.panel_window(ds, name, first, last, c.breastfed(ds), only_healthy=only_healthy)

    return function


for _key, _name, _what, _first, _last, _healthy in (
        ("leucocyte_fraction_colostrum", "leucocyte_fraction", "leucocyte", 1, 3, False),
        ("epithelial_fraction_colostrum", "epithelial_fraction", "epithelial", 1, 3, False),
        ("epithelial_fraction_mature", "epithelial_fraction", "epithelial", 30, 182, True)):
    _when = (f" on days {_first}-{_last} with no mastitis-spectrum state" if _healthy
             else f", days {_first}-{_last}")
    register(_key, f"median over breastfed dyads of the mean {_what} share of milk cells{_when}",
             needs=(_name, *c.BREASTFED_NEEDS, *(c.HEALTHY_NEEDS if _healthy else ())))(
        _share_window(_name, _first, _last, _healthy))


HASSIOTOU_SAMPLE_SEED = 17
"""Seed of the draw of each dyad's one sampling day in the Hassiotou 2013 readings (C01b, C01c; fixed,
so the measurement is reproducible)."""


def one_sample_per_dyad(values: np.ndarray, eligible: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One value per dyad, on a day drawn uniformly from its ``eligible`` days.

    Parameters
    ----------
    values, eligible
        (dyad, day) panel and the boolean mask of the days a sample may be taken on.
    seed
        Seed of the draw.

    Returns
    -------
    tuple of numpy.ndarray
        The sampled value of each dyad (NaN where it has no eligible day) and whether it was sampled.
    """
    rng = np.random.default_rng(seed)
    # a uniform key per dyad-day; the eligible day with the largest key is the dyad's sampling day
    key = np.where(eligible, rng.random(values.shape), -1.0)
    day = np.argmax(key, axis=1)
    sampled = eligible.any(axis=1)
    return np.where(sampled, values[np.arange(values.shape[0]), day], np.nan), np.asarray(sampled, dtype=bool)


@register("leucocyte_fraction_mature_sample",
          "median over breastfed dyads of the leucocyte share of one milk sample per dyad, taken on a day drawn "
          "from its days 30-182 with no mastitis-spectrum state (Hassiotou 2013: single samples of healthy "
          "dyads' mature milk, CD45+ cells of all cells by flow cytometry)",
          needs=("leucocyte_fraction", *c.BREASTFED_NEEDS, *c.HEALTHY_NEEDS))
def _leucocyte_mature_sample(ds: xr.Dataset) -> Sample:
    window = c.window(ds, 30, 182)
    eligible = c.healthy(ds)[:, window]
    values, sampled = one_sample_per_dyad(c.panel(ds, "leucocyte_fraction")[:, window], eligible,
                                          HASSIOTOU_SAMPLE_SEED)
    per = values[sampled & c.breastfed(ds)]
    return Sample(per[np.isfinite(per)], nanmedian)


@register("leucocyte_fraction_mastitis_sample",
          "median over dyads with a mastitis episode of the leucocyte share of one milk sample per dyad, taken on "
          "a day drawn from its days in inflammatory or bacterial mastitis, phlegmon or abscess (Hassiotou 2013: "
          "one sample while the mother had clinical mastitis, not the episode's peak)",
          needs=("leucocyte_fraction", "mastitis_state"))
def _leucocyte_mastitis_sample(ds: xr.Dataset) -> Sample:
    values, sampled = one_sample_per_dyad(c.panel(ds, "leucocyte_fraction"), INFLAMED[c.mastitis_codes(ds)],
                                          HASSIOTOU_SAMPLE_SEED)
    per = values[sampled]
    return Sample(per[np.isfinite(per)], nanmedian)


def _leucocytes_per_ml(first: int, last: int, only_healthy: bool) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        values = c.log10(c.panel(ds, "somatic_cells_per_ml") * c.panel(ds, "leucocyte_fraction"))
        mask = np.broadcast_to(c.window(ds, first, last), values.shape).copy()
        if only_healthy:
            mask &= c.healthy(ds)
        per = c.per_dyad(values, mask, "median")[c.breastfed(ds)]
        return Sample(per[np.isfinite(per)], nanmedian)

    return function


_LEUCOCYTES = ("somatic_cells_per_ml", "leucocyte_fraction", *c.BREASTFED_NEEDS)
register("leucocytes_per_ml_colostrum", "median over breastfed dyads of each dyad's median log10 "
         "(SCC x leucocyte share), days 1-3", needs=_LEUCOCYTES)(_leucocytes_per_ml(1, 3, False))
register("leucocytes_per_ml_mature", "as leucocytes_per_ml_colostrum, days 90-182 with no mastitis-spectrum "
         "state", needs=(*_LEUCOCYTES, *c.HEALTHY_NEEDS))(_leucocytes_per_ml(90, 182, True))
register("leucocytes_per_ml_day4_on", "as leucocytes_per_ml_colostrum, days 4-182 with no mastitis-spectrum "
         "state", needs=(*_LEUCOCYTES, *c.HEALTHY_NEEDS))(_leucocytes_per_ml(4, 182, True))


@register("somatic_cells_all", "median over breastfed dyads of each dyad's median log10 SCC, days 1-182",
          needs=("somatic_cells_per_ml", *c.BREASTFED_NEEDS))
def _somatic_cells_all(ds: xr.Dataset) -> Sample:
    return c.panel_window(ds, "somatic_cells_per_ml", 1, 182, c.breastfed(ds), how="median", log=True)


@register("stem_cell_fraction_high",
          "95th percentile across breastfed dyads of each dyad's peak stem-cell share of milk cells, days 1-182",
          needs=("stem_cell_fraction", *c.BREASTFED_NEEDS))
def _stem_high(ds: xr.Dataset) -> Sample:
    return c.panel_window(ds, "stem_cell_fraction", 1, 182, c.breastfed(ds), how="max", statistic=percentile_95)


@register("scc_predicts_mastitis_or",
          "odds ratio, over breastfed dyad-days 1-42 not in an inflammatory state, of an inflammatory onset in "
          "the next 7 days for SCC > 4.76e5/mL vs below (0.5 added to each cell when one is empty)",
          needs=("somatic_cells_per_ml", "mastitis_state", *c.BREASTFED_NEEDS))
def _scc_or(ds: xr.Dataset) -> Sample:
    scc = c.panel(ds, "somatic_cells_per_ml")
    codes = c.mastitis_codes(ds)
    inflamed = INFLAMED[codes]
    if c.days(ds).max() < 49:
        raise Unmeasurable("beyond the simulated horizon (needs day 49)")
    onset = episode_onsets(codes)
    cum = np.concatenate([np.zeros((onset.shape[0], 1)), np.cumsum(onset, axis=1)], axis=1)
    index = np.arange(42)
    soon = (cum[:, index + 8] - cum[:, index + 1]) > 0  # onset on days d+1..d+7
    at_risk = ~inflamed[:, index]
    high = scc[:, index] > SCC_HIGH_PER_ML
    counts = np.column_stack([
        (at_risk & high & soon).sum(axis=1), (at_risk & high & ~soon).sum(axis=1),
        (at_risk & ~high & soon).sum(axis=1), (at_risk & ~high & ~soon).sum(axis=1),
    ])[c.breastfed(ds)]
    if counts[:, 0].sum() + counts[:, 2].sum() == 0:
        raise Unmeasurable("no inflammatory onset in days 2-49 in this cohort")
    return Sample(counts, odds_ratio)


def _healthy_scc(how: str) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        return c.panel_window(ds, "somatic_cells_per_ml", 14, 182, c.breastfed(ds), only_healthy=True, how=how,
                              log=True)

    return function


_HEALTHY_SCC = ("somatic_cells_per_ml", *c.BREASTFED_NEEDS, *c.HEALTHY_NEEDS)
register("scc_healthy_median", "median over breastfed dyads of each dyad's median log10 SCC on days 14-182 "
         "with no mastitis-spectrum state", needs=_HEALTHY_SCC)(_healthy_scc("median"))


ASYMPTOMATIC_SAMPLE_SEED = 13
"""Seed of the draw of each dyad's one sampling day in :func:`_asymptomatic_sample_p95` (fixed, so the
measurement is reproducible)."""


@register("scc_asymptomatic_sample_p95",
          "95th percentile over breastfed dyads of the log10 SCC of one milk sample per dyad, taken on a day "
          "drawn from the dyad's days 14-182 in no inflamed state (Angelopoulou 2024: one sample per woman "
          "without symptoms, stage not given)", needs=("somatic_cells_per_ml", "mastitis_state", *c.BREASTFED_NEEDS))
def _asymptomatic_sample_p95(ds: xr.Dataset) -> Sample:
    window = c.window(ds, 14, 182)
    scc = c.panel(ds, "somatic_cells_per_ml")[:, window]
    calm = ~INFLAMED[c.mastitis_codes(ds)][:, window]
    rng = np.random.default_rng(ASYMPTOMATIC_SAMPLE_SEED)
    # a uniform key per dyad-day; the calm day with the largest key is the dyad's sampling day
    key = np.where(calm, rng.random(scc.shape), -1.0)
    day = np.argmax(key, axis=1)
    sampled = calm.any(axis=1) & c.breastfed(ds)
    values = c.log10(scc[np.arange(scc.shape[0]), day])[sampled]
    return Sample(values[np.isfinite(values)], percentile_95)


@register("scc_mastitis", "median over dyads of each dyad's median log10 SCC on days in inflammatory or "
          "bacterial mastitis, phlegmon or abscess", needs=("somatic_cells_per_ml", "mastitis_state"))
def _scc_mastitis(ds: xr.Dataset) -> Sample:
    per = c.per_dyad(c.log10(c.panel(ds, "somatic_cells_per_ml")), INFLAMED[c.mastitis_codes(ds)], "median")
    return Sample(per[np.isfinite(per)], nanmedian)
