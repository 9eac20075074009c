"""Measurements of mastitis risk factors and subclinical mastitis (targets ``D19``–``D26``).

Each cohort study is read through its own pipeline as far as the model allows: the risk of a
first mastitis episode (an onset of :mod:`lactobiome.model.spectrum`) by a study's horizon
among dyads with a per-dyad attribute (a mastitis in an earlier lactation, nipple damage,
oversupply) against those without it, as an odds ratio (logistic studies) or a risk ratio
(hazard and incidence-rate studies, whose ratios a cumulative-risk ratio approaches when the
outcome is uncommon); the cumulative incidence by 12 weeks; the share of onsets in the first
4 weeks; and subclinical mastitis by a raised milk Na:K in women without clinical mastitis on
the day.
The model's ratios are crude (no adjustment for the other factors); the published ones are
adjusted, which the acceptance ranges (the published 95% intervals) leave as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from lactobiome.model.spectrum import INFLAMED, episode_onsets
from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar, Unmeasurable
from lactobiome.validation.statistics import Sample, nanmean

register = Registrar("mastitis_epi")

SUBCLINICAL_NAK = 0.6
"""Na:K above which milk counts as subclinical mastitis (Samuel TM et al. Nutrients 2020;12:105)."""


def affected_by(ds: xr.Dataset, last: int) -> np.ndarray:
    """Whether each dyad has a mastitis onset on days 1..``last`` (all dyads)."""
    return (episode_onsets(c.mastitis_codes(ds)) & c.window(ds, 1, last)).any(axis=1)


def _odds_ratio(x: np.ndarray) -> float:
    """Odds ratio of rows (case, exposed): (a d) / (b c)."""
    case, exposed = x[:, 0] > 0, x[:, 1] > 0
    a = float((case & exposed).sum())
    b = float((~case & exposed).sum())
    cc = float((case & ~exposed).sum())
    d = float((~case & ~exposed).sum())
    return a * d / (b * cc) if b > 0 and cc > 0 else float("nan")


def _risk_ratio(x: np.ndarray) -> float:
    """Risk ratio of rows (case, exposed): risk among exposed / risk among unexposed."""
    case, exposed = x[:, 0] > 0, x[:, 1] > 0
    if not exposed.any() or exposed.all():
        return float("nan")
    unexposed_risk = float(case[~exposed].mean())
    return float(case[exposed].mean()) / unexposed_risk if unexposed_risk > 0 else float("nan")


def _ratio(attribute: str, last: int, statistic: Callable[[np.ndarray], float],
           among_first_time: bool = False) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        dyads = c.breastfed(ds)
        if among_first_time:
            dyads &= np.asarray(ds["first_time_mother"].values, dtype=bool)
        exposed = np.asarray(ds[attribute].values, dtype=bool)[dyads]
        case = affected_by(ds, last)[dyads]
        if not exposed.any() or exposed.all():
            raise Unmeasurable(f"the cohort has no breastfed dyad {'with' if not exposed.any() else 'without'} "
                               f"{attribute.replace('_', ' ')}")
        return Sample(np.column_stack([case, exposed]).astype(np.float64), statistic)

    return function


_NEEDS = ("mastitis_state", *c.BREASTFED_NEEDS)
register("mastitis_or_previous_mastitis_12wk",
         "odds ratio of a mastitis onset on days 1-84, breastfed dyads with vs without a mastitis in an earlier "
         "lactation (crude)", needs=(*_NEEDS, "previous_mastitis"))(
    _ratio("previous_mastitis", 84, _odds_ratio))
register("mastitis_rr_previous_mastitis_26wk",
         "risk ratio of a mastitis onset on days 1-182, breastfed dyads with vs without a mastitis in an earlier "
         "lactation (crude)", needs=(*_NEEDS, "previous_mastitis"))(
    _ratio("previous_mastitis", 182, _risk_ratio))
register("mastitis_or_nipple_damage_first_time_26wk",
         "odds ratio of a mastitis onset on days 1-182, breastfed first-time mothers with vs without nipple "
         "damage (crude)", needs=(*_NEEDS, "nipple_damage", "first_time_mother"))(
    _ratio("nipple_damage", 182, _odds_ratio, among_first_time=True))
register("mastitis_rr_nipple_damage_first_time_8wk",
         "risk ratio of a mastitis onset on days 1-56, breastfed first-time mothers with vs without nipple "
         "damage (crude)", needs=(*_NEEDS, "nipple_damage", "first_time_mother"))(
    _ratio("nipple_damage", 56, _risk_ratio, among_first_time=True))
register("mastitis_rr_oversupply_first_time_8wk",
         "risk ratio of a mastitis onset on days 1-56, breastfed first-time mothers with vs without oversupply "
         "(crude)", needs=(*_NEEDS, "oversupply", "first_time_mother"))(
    _ratio("oversupply", 56, _risk_ratio, among_first_time=True))


@register("mastitis_cumulative_12_weeks", "share of breastfed dyads with a mastitis onset on days 1-84",
          needs=_NEEDS)
def _cumulative_12_weeks(ds: xr.Dataset) -> Sample:
    return Sample(affected_by(ds, 84)[c.breastfed(ds)].astype(np.float64), nanmean)


@register("mastitis_onsets_first_4_weeks",
          "share of onsets of inflammatory or bacterial mastitis, phlegmon or abscess (days 1-182) that fall on "
          "days 1-28", needs=("mastitis_state",))
def _first_four_weeks(ds: xr.Dataset) -> Sample:
    return c.onsets_by_day(ds, 28)


@register("subclinical_nak_first_month",
          "share of breastfed dyads without clinical mastitis on the day whose milk Na:K exceeds 0.6 on day 17 "
          "or day 30 (the first-month samples of Samuel 2020)", needs=("na_k_ratio", *_NEEDS))
def _subclinical_first_month(ds: xr.Dataset) -> Sample:
    nak = c.panel(ds, "na_k_ratio")
    inflamed = np.asarray(INFLAMED[c.mastitis_codes(ds)], dtype=bool)
    simulated = c.days(ds)
    if simulated.max() < 30:
        raise Unmeasurable("beyond the simulated horizon (needs day 30)")
    if not np.isin([17, 30], simulated).all():
        raise Unmeasurable("the daily panels lack day 17 or day 30")
    columns = [int(np.searchsorted(simulated, d)) for d in (17, 30)]
    raised = np.zeros(nak.shape[0], dtype=bool)
    for i in columns:
        raised |= (nak[:, i] > SUBCLINICAL_NAK) & ~inflamed[:, i]
    return Sample(raised[c.breastfed(ds)].astype(np.float64), nanmean)
