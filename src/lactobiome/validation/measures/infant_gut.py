"""Measurements of the infant gut (targets ``E``, system ``infant_gut``).

What share of the infant gut came from milk and from the areolar skin, diversity against
the breast-milk dose, Bacteroides after caesarean birth, and bifidobacteria against
Enterobacteriaceae in breastfed and formula-fed infants.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar, Unmeasurable
from lactobiome.validation.statistics import (
    Sample,
    nanmean,
    nanmedian,
    ratio_of_group_means,
    spearman,
)

register = Registrar("infant_gut")

RATIO_FLOOR = 1e-9
"""Relative-abundance floor added to both sides of a log ratio of two taxa."""

_GUT = (*c.COMPOSITION_NEEDS, *c.BREASTFED_NEEDS)


def _infant_gut_share(origin: str) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        found = c.origin_share(ds, "infant_gut", c.recorded_day(ds, 30), (origin,))[c.share(ds) >= 0.75]
        return Sample(found[np.isfinite(found)], nanmean)

    return function


register("infant_gut_milk_share_d30", "mean over dyads with breast-milk share >= 0.75 of the share of "
         "infant-gut cells of milk origin, day 30", needs=_GUT)(_infant_gut_share("milk"))
register("infant_gut_areolar_share_d30", "mean over dyads with breast-milk share >= 0.75 of the share of "
         "infant-gut cells of areolar-skin origin, day 30", needs=_GUT)(_infant_gut_share("areolar_skin"))


@register("infant_gut_shannon_dose_rho_d30",
          "Spearman correlation across dyads with any breast milk of breast-milk share and the Shannon "
          "diversity (natural log, taxa) of infant-gut cells, day 30", needs=_GUT)
def _dose(ds: xr.Dataset) -> Sample:
    rel = c.relative(ds, "infant_gut", c.recorded_day(ds, 30), "taxon").to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        shannon = -np.nansum(np.where(rel > 0.0, rel * np.log(rel), 0.0), axis=1)
    shannon = np.where(np.isfinite(rel).any(axis=1), shannon, np.nan)
    bf = c.breastfed(ds)
    return Sample(np.column_stack([c.share(ds)[bf], shannon[bf]]), spearman)


@register("infant_gut_bacteroides_caesarean_ratio_d7",
          "mean Bacteroides + Phocaeicola share of infant-gut cells at day 7, caesarean / vaginal dyads",
          needs=(*c.COMPOSITION_NEEDS, "genus", "delivery_mode"))
def _caesarean(ds: xr.Dataset) -> Sample:
    rel = c.relative(ds, "infant_gut", c.recorded_day(ds, 7, tolerance=1), "genus")
    bacteroides = c.column(rel, "Bacteroides") + c.column(rel, "Phocaeicola")
    caesarean = (np.asarray(ds["delivery_mode"].values).astype(str) == "caesarean").astype(np.float64)
    if caesarean.all() or not caesarean.any():
        raise Unmeasurable("the cohort lacks caesarean or vaginal births")
    return Sample(np.column_stack([bacteroides, caesarean]), ratio_of_group_means)


def _bif_entero(select: Callable[[xr.Dataset], np.ndarray]) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        rel = c.relative(ds, "infant_gut", c.recorded_day(ds, BIF_ENTERO_DAY, tolerance=1), "family")
        ratio = c.log10((c.column(rel, "Bifidobacteriaceae") + RATIO_FLOOR)
                        / (c.column(rel, "Enterobacteriaceae") + RATIO_FLOOR))[select(ds)]
        return Sample(ratio[np.isfinite(ratio)], nanmedian)

    return function


def _formula_only(ds: xr.Dataset) -> np.ndarray:
    return c.share(ds) <= 0.0


BIF_ENTERO_GROUPS: dict[str, Callable[[xr.Dataset], np.ndarray]] = {
    "bif_entero_log_ratio_breastfed_d6": c.exclusive,
    "bif_entero_log_ratio_formula_d6": _formula_only,
}
"""The feeding group of each day-6 Bifidobacteriaceae:Enterobacteriaceae measure (Yoshioka 1983)."""
BIF_ENTERO_DAY = 6
"""Day of life of Yoshioka et al.'s (1983) breastfed/formula-fed contrast."""


register("bif_entero_log_ratio_breastfed_d6", "median over exclusively breastfed dyads of log10 "
         "(Bifidobacteriaceae / Enterobacteriaceae share of infant-gut cells), recorded day nearest day 6",
         needs=(*_GUT, "family"))(_bif_entero(c.exclusive))
register("bif_entero_log_ratio_formula_d6", "as bif_entero_log_ratio_breastfed_d6, formula-only dyads",
         needs=(*_GUT, "family"))(_bif_entero(_formula_only))
