"""Measurements of mastitis risk factors and subclinical mastitis (targets ``D19``–``D40``; the course of untreated episodes, D41–D44, is in :mod:`lactobiome.validation.measures.mastitis`).

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

Studies that counted only *provider-diagnosed* mastitis (Foxman 2002) saw the episodes a
woman took to a doctor or midwife. :func:`consulted` says which episodes those are, by the rule
the clinical guidance gives her: she consults when she is acutely ill (fever on a day of the
episode) or when her symptoms have not begun to improve after a day of self-care (inflammation
on the episode's :data:`CONSULT_AFTER_DAYS`-th day no lower than on its first). A breastfeeding
clinic open to every woman with symptoms (Kvist et al. 2007, D35) sees every episode that is not a
recurrence within six weeks of the last (:func:`clinic_episodes`), and takes her temperature on its
first day (:data:`CLINIC_VISIT_EPISODE_DAY`); Amir et al. 2007 (D20, D23, D27)
counted only episodes with fever or flu-like symptoms (:func:`febrile_onsets`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from lactobiome.errors import InputError
from lactobiome.model.spectrum import INFLAMED, STATE_CODE, episode_onsets, episodes
from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar, Unmeasurable
from lactobiome.validation.statistics import Sample, nanmean, ratio_of_sums

register = Registrar("mastitis_epi")

SUBCLINICAL_NAK = 0.6
"""Na:K above which milk counts as subclinical mastitis (Samuel TM et al. Nutrients 2020;12:105)."""

SUBCLINICAL_SCC_PER_ML = 2.5e5
"""Somatic cells per mL at or above which milk of a woman without symptoms counts as subclinical
mastitis (the dairy threshold Angelopoulou A et al. Microbiol Spectr 2024;12:e04051-23 applied)."""

CONSULT_AFTER_DAYS = 3
"""Day of an episode on which a woman whose symptoms are not improving seeks a provider. Guidance
tells her to seek care when symptoms do not improve after 12-24 h of self-care (frequent milk
removal) or when she feels acutely ill (Amir LH, ABM clinical protocol #4, Breastfeed Med
2014;9:239-243; NHS 'Mastitis'). Days
are whole: onset falls during day 1, so the third day has outlasted a full day of self-care; an
episode not improving is one whose inflammation that day is no lower than on its first day (one
subsiding but not yet over is improving). Fever makes her consult on any day."""


def affected_by(ds: xr.Dataset, last: int) -> np.ndarray:
    """Whether each dyad has a mastitis onset on days 1..``last`` (all dyads)."""
    return (episode_onsets(c.mastitis_codes(ds)) & c.window(ds, 1, last)).any(axis=1)


def febrile_onsets(ds: xr.Dataset) -> np.ndarray:
    """Onsets (dyad, day) of the episodes with fever on one of their days: the mastitis of Amir et al.
    2007 (D20, D23, D27), who counted two breast symptoms *and* fever or flu-like symptoms."""
    codes = c.mastitis_codes(ds)
    ep = episodes(codes)
    fever = np.zeros((codes.shape[0], codes.shape[1] + 1))
    fever[:, 1:] = np.cumsum(c.panel(ds, "fever") > 0, axis=1)
    start = ep["onset_day"] - 1
    rows = ep["dyad_index"]
    febrile = fever[rows, start + ep["duration_days"]] > fever[rows, start]
    onsets = np.zeros(codes.shape, dtype=bool)
    onsets[rows[febrile], start[febrile]] = True
    return onsets


def _febrile_affected_by(ds: xr.Dataset, last: int) -> np.ndarray:
    """Whether each dyad has the onset of a febrile episode on days 1..``last``."""
    return (febrile_onsets(ds) & c.window(ds, 1, last)).any(axis=1)


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
           among_first_time: bool = False,
           cases: Callable[[xr.Dataset, int], np.ndarray] = affected_by) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        dyads = c.breastfed(ds)
        if among_first_time:
            dyads &= np.asarray(ds["first_time_mother"].values, dtype=bool)
        exposed = np.asarray(ds[attribute].values, dtype=bool)[dyads]
        case = cases(ds, last)[dyads]
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


@register("mastitis_onsets_first_4_weeks_first_time",
          "share of the onsets (days 1-182) of breastfed first-time mothers that fall on days 1-28 (Amir 2007 "
          "followed primiparous women only)", needs=(*_NEEDS, "first_time_mother"))
def _first_four_weeks_first_time(ds: xr.Dataset) -> Sample:
    mothers = np.flatnonzero(_first_time_breastfed(ds))
    if mothers.size == 0:
        raise Unmeasurable("the cohort has no breastfed first-time mother")
    return c.onsets_by_day(ds.isel(dyad=mothers), 28)


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


def _first_time_breastfed(ds: xr.Dataset) -> np.ndarray:
    return c.breastfed(ds) & np.asarray(ds["first_time_mother"].values, dtype=bool)


def amir_cumulative_26_weeks_first_time(ds: xr.Dataset) -> Sample:
    """Amir 2007's count (D27): share of breastfed first-time mothers with the onset of a febrile episode
    on days 1-182."""
    dyads = _first_time_breastfed(ds)
    if not dyads.any():
        raise Unmeasurable("the cohort has no breastfed first-time mother")
    return Sample(_febrile_affected_by(ds, 182)[dyads].astype(np.float64), nanmean)


amir_or_nipple_damage_first_time_26wk = _ratio("nipple_damage", 182, _odds_ratio, among_first_time=True,
                                               cases=_febrile_affected_by)
"""Amir 2007's count (D23): odds ratio of a febrile episode's onset on days 1-182, breastfed first-time
mothers with vs without nipple damage (crude)."""


def amir_onsets_first_4_weeks_first_time(ds: xr.Dataset) -> Sample:
    """Amir 2007's count (D20): share of the febrile episodes' onsets (days 1-182) of breastfed first-time
    mothers that fall on days 1-28 (per dyad: early, all)."""
    mothers = _first_time_breastfed(ds)
    if not mothers.any():
        raise Unmeasurable("the cohort has no breastfed first-time mother")
    onsets = (febrile_onsets(ds) & c.window(ds, 1, 182))[mothers]
    early = onsets & (c.days(ds) <= 28)
    return Sample(np.column_stack([early.sum(axis=1), onsets.sum(axis=1)]).astype(np.float64), ratio_of_sums)


def _cumulative(last: int, first_time: bool) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        dyads = _first_time_breastfed(ds) if first_time else c.breastfed(ds)
        if not dyads.any():
            raise Unmeasurable("the cohort has no breastfed first-time mother")
        return Sample(affected_by(ds, last)[dyads].astype(np.float64), nanmean)

    return function


register("mastitis_cumulative_26_weeks_first_time",
         "share of breastfed first-time mothers with a mastitis onset on days 1-182",
         needs=(*_NEEDS, "first_time_mother"))(_cumulative(182, True))
register("mastitis_cumulative_8_weeks_first_time",
         "share of breastfed first-time mothers with a mastitis onset on days 1-56",
         needs=(*_NEEDS, "first_time_mother"))(_cumulative(56, True))
register("mastitis_rr_first_time_7wk",
         "risk ratio of a mastitis onset on days 1-49, breastfed first-time vs multiparous mothers (crude)",
         needs=(*_NEEDS, "first_time_mother"))(_ratio("first_time_mother", 49, _risk_ratio))



def _caesarean(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with a boolean ``caesarean`` per dyad, read from ``delivery_mode``."""
    return ds.assign(caesarean=("dyad", np.asarray(ds["delivery_mode"].values).astype(str) == "caesarean"))


register("mastitis_or_first_time_26wk",
         "odds ratio of a mastitis onset on days 1-182, breastfed first-time vs multiparous mothers (crude)",
         needs=(*_NEEDS, "first_time_mother"))(_ratio("first_time_mother", 182, _odds_ratio))
_or_caesarean = _ratio("caesarean", 182, _odds_ratio)
register("mastitis_or_caesarean_26wk",
         "odds ratio of a mastitis onset on days 1-182, breastfed dyads born by caesarean vs vaginally (crude)",
         needs=(*_NEEDS, "delivery_mode"))(lambda ds: _or_caesarean(_caesarean(ds)))

@register("mastitis_first_onset_4_weeks",
          "share of breastfed dyads with an onset on days 1-182 whose first onset falls on days 1-28",
          needs=_NEEDS)
def _first_onset_four_weeks(ds: xr.Dataset) -> Sample:
    return c.first_onsets_by_day(ds, 28)


def _episodes_with_fever(
        ds: xr.Dataset, last: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The state codes, the episodes, the running count of fever days and which episodes had fever.

    ``fever[d, k]`` is the number of fever days of dyad ``d`` before day index ``k`` (a running
    sum, read at both ends of an episode's run); ``last`` only checks the horizon.
    """
    codes = c.mastitis_codes(ds)
    c.window(ds, 1, last)  # unmeasurable past the horizon
    ep = episodes(codes)
    fever = np.zeros((codes.shape[0], codes.shape[1] + 1))
    fever[:, 1:] = np.cumsum(c.panel(ds, "fever") > 0, axis=1)
    start = ep["onset_day"] - 1
    febrile = fever[ep["dyad_index"], start + ep["duration_days"]] > fever[ep["dyad_index"], start]
    return codes, ep, fever, febrile


def _visits(ds: xr.Dataset, last: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Each episode with onset on days 1..``last``: whether it was taken to a provider, and with fever.

    A woman consults on the first day of an episode with fever, or on its
    :data:`CONSULT_AFTER_DAYS`-th day if it is still inflamed then and not improving (its
    inflammation no lower than on its first day); she is febrile *at the visit* when fever came
    on one of the episode's days up to that one.

    Returns
    -------
    tuple
        ``(episodes, in_window, taken, febrile_at_visit)``: the episodes of
        :func:`lactobiome.model.spectrum.episodes` and three booleans of shape (episode,).
    """
    codes, ep, fever, febrile = _episodes_with_fever(ds, last)
    start = ep["onset_day"] - 1
    rows = ep["dyad_index"]
    by_visit = fever[rows, start + np.minimum(ep["duration_days"], CONSULT_AFTER_DAYS)] > fever[rows, start]
    in_window = ep["onset_day"] <= last
    # not improving after a day of self-care: still inflamed on the consultation day and no
    # less inflamed than at onset (an episode that is subsiding is managed at home)
    inflammation = c.panel(ds, "inflammation")
    lasting = ep["duration_days"] >= CONSULT_AFTER_DAYS
    check_day = np.minimum(start + CONSULT_AFTER_DAYS - 1, codes.shape[1] - 1)
    not_improving = lasting & (inflammation[rows, check_day] >= inflammation[rows, start])
    taken = in_window & (febrile | not_improving)
    return ep, in_window, taken, taken & by_visit


def consulted(ds: xr.Dataset, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Which dyads had an onset on days 1..``last``, and which took one of those episodes to a provider.

    An episode is taken to a provider when the woman has fever on one of its days or it is still
    inflamed and not improving on its :data:`CONSULT_AFTER_DAYS`-th day (inflammation no lower
    than on its first day; episodes of :func:`lactobiome.model.spectrum.episodes`).

    Returns
    -------
    tuple of numpy.ndarray
        ``(affected, diagnosed)``, booleans of shape (dyad,).
    """
    ep, in_window, taken, _ = _visits(ds, last)
    n = c.mastitis_codes(ds).shape[0]
    affected = np.zeros(n, dtype=bool)
    affected[ep["dyad_index"][in_window]] = True
    diagnosed = np.zeros(n, dtype=bool)
    diagnosed[ep["dyad_index"][taken]] = True
    return affected, diagnosed


CLINIC_VISIT_EPISODE_DAY = 1
"""Day of an episode on which a woman with breast inflammation is first seen at an open-access
breastfeeding clinic, where her temperature is taken (Kvist et al. Int Breastfeed J 2007;2:2, D35).
Kvist's midwife-led clinic took every breastfeeding woman who contacted it with two of erythema,
tension, resistance, pain or pyrexia, mild or severe, and recorded the temperature at the first visit;
it was the first line of care, not a referral after a day of failed self-care, so the visit is read
on the episode's first day (she calls when the symptoms begin and is seen; an assumption: neither the
paper's abstract nor the trial it recruited from, Kvist et al. Midwifery 2007;23:184-195, gives the
delay from onset to the first contact, and no other mastitis cohort found gives it)."""

CLINIC_RECURRENCE_WINDOW_DAYS = 42
"""Days after the end of a woman's clinic episode within which a new onset is a recurrence of that
episode, not a new clinic episode. Kvist's cohort (Int Breastfeed J 2007;2:2) was 205 women with 210
episodes, each followed to a postal questionnaire six weeks after recovery; of the 176 who answered,
21 (12%) had sought care again for recurring symptoms in those weeks, yet only five women were counted
twice, randomised again for symptoms after the six weeks (Kvist et al. Midwifery 2007;23:184-195, as
the Cochrane review CD006946.pub3, 2016, describes it). Six weeks are 42 days."""


def clinic_episodes(ep: dict[str, np.ndarray]) -> np.ndarray:
    """Which episodes open a new clinic episode in Kvist's cohort, boolean of shape (episode,).

    A woman's first episode does; a later one does when it begins more than
    :data:`CLINIC_RECURRENCE_WINDOW_DAYS` days after the last day of the clinic episode before it
    (an onset inside that window is a recurrence of it, followed within the same episode).

    Parameters
    ----------
    ep
        Episodes of :func:`lactobiome.model.spectrum.episodes` (``dyad_index``, ``onset_day``,
        ``duration_days``).
    """
    rows, onset, duration = ep["dyad_index"], ep["onset_day"], ep["duration_days"]
    opens = np.zeros(len(rows), dtype=bool)
    last_day_of_open: dict[int, int] = {}
    for i in np.lexsort((onset, rows)):  # by dyad, then by onset
        dyad = int(rows[i])
        previous_end = last_day_of_open.get(dyad)
        if previous_end is None or int(onset[i]) > previous_end + CLINIC_RECURRENCE_WINDOW_DAYS:
            opens[i] = True
            last_day_of_open[dyad] = int(onset[i]) + int(duration[i]) - 1
    return opens


def _episode_fever(ds: xr.Dataset, last: int, visit_day: int = CLINIC_VISIT_EPISODE_DAY,
                   ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Episodes with onset on days 1..``last``, whether each had fever on any of its days, and on its
    ``visit_day``-th day (its last day when it is shorter).

    Returns
    -------
    tuple
        ``(episodes, in_window, febrile, febrile_at_visit)``: the episodes of
        :func:`lactobiome.model.spectrum.episodes` and three booleans of shape (episode,).
    """
    if isinstance(visit_day, bool) or not isinstance(visit_day, int | np.integer) or visit_day < 1:
        raise InputError(f"visit_day: expected a whole day of the episode, 1 or later (1 = onset day), "
                         f"got {visit_day!r}")
    _, ep, fever, febrile = _episodes_with_fever(ds, last)
    start = ep["onset_day"] - 1
    rows = ep["dyad_index"]
    visit = start + np.minimum(ep["duration_days"], int(visit_day))
    at_visit = fever[rows, visit] > fever[rows, visit - 1]
    return ep, ep["onset_day"] <= last, febrile, at_visit


def _episode_shares(ds: xr.Dataset, last: int, at_visit: bool,
                    visit_day: int = CLINIC_VISIT_EPISODE_DAY) -> Sample:
    """Per breastfed dyad with an episode in the window: (febrile episodes, episodes).

    With ``at_visit`` the episodes are Kvist's clinic episodes (:func:`clinic_episodes`), febrile
    when fever falls on the ``visit_day``-th day; otherwise every episode, febrile on any of its days.
    """
    ep, in_window, febrile, visit = _episode_fever(ds, last, visit_day)
    if at_visit:
        in_window &= clinic_episodes(ep)
    n = c.mastitis_codes(ds).shape[0]
    counted = np.bincount(ep["dyad_index"][in_window], minlength=n).astype(np.float64)
    hot = np.bincount(ep["dyad_index"][in_window & (visit if at_visit else febrile)], minlength=n).astype(np.float64)
    bf = c.breastfed(ds) & (counted > 0)
    if not bf.any():
        raise Unmeasurable(f"no mastitis episode on days 1-{last} in this cohort")
    return Sample(np.column_stack([hot[bf], counted[bf]]), ratio_of_sums)


@register("mastitis_febrile_episodes_26wk",
          "share of mastitis episodes (onsets on days 1-182, breastfed dyads) with fever on one of their days; "
          "per dyad: febrile episodes, episodes", needs=(*_NEEDS, "fever"))
def _febrile_episodes(ds: xr.Dataset) -> Sample:
    return _episode_shares(ds, 182, at_visit=False)


def febrile_at_clinic_visit_26wk(ds: xr.Dataset, visit_day: int = CLINIC_VISIT_EPISODE_DAY) -> Sample:
    """Kvist 2007's reading (D35): her clinic episodes with onset on days 1-182 (:func:`clinic_episodes`:
    a recurrence within :data:`CLINIC_RECURRENCE_WINDOW_DAYS` days of the end of the last one is not a
    new episode), febrile when she has fever on the episode's ``visit_day``-th day (its last day when it
    is shorter; default :data:`CLINIC_VISIT_EPISODE_DAY`); per dyad: (febrile visits, visits).

    Raises
    ------
    lactobiome.errors.InputError
        When ``visit_day`` is not a whole day of 1 or later.
    """
    return _episode_shares(ds, 182, at_visit=True, visit_day=visit_day)


@register("mastitis_consulted_share_26wk",
          f"share of breastfed dyads with a mastitis onset on days 1-182 who took an episode to a provider "
          f"(fever, or on its day {CONSULT_AFTER_DAYS} still inflamed and no less than at onset)",
          needs=(*_NEEDS, "fever", "inflammation"))
def _consulted_share(ds: xr.Dataset) -> Sample:
    affected, diagnosed = consulted(ds, 182)
    bf = c.breastfed(ds)
    if not (affected & bf).any():
        raise Unmeasurable("no mastitis episode on days 1-182 in this cohort")
    return Sample(diagnosed[affected & bf].astype(np.float64), nanmean)


def _diagnosed_by(ds: xr.Dataset, last: int) -> np.ndarray:
    """Whether each dyad took an episode with onset on days 1..``last`` to a provider (:func:`consulted`)."""
    return consulted(ds, last)[1]


provider_diagnosed_or_previous_mastitis_12wk = _ratio("previous_mastitis", 84, _odds_ratio, cases=_diagnosed_by)
"""Foxman 2002's count (D21): odds ratio of a provider-diagnosed mastitis with onset on days 1-84, breastfed
dyads with vs without a mastitis in an earlier lactation (crude)."""


def provider_diagnosed_12_weeks(ds: xr.Dataset) -> Sample:
    """Share of breastfed dyads with a provider-diagnosed mastitis onset on days 1-84 (Foxman 2002's count)."""
    _, diagnosed = consulted(ds, 84)
    return Sample(diagnosed[c.breastfed(ds)].astype(np.float64), nanmean)


@register("subclinical_scc_healthy_days",
          "share of days 14-182 of breastfed dyads in no inflamed state whose milk SCC is at or above 2.5e5/mL "
          "(per dyad: raised days, days)", needs=("somatic_cells_per_ml", *_NEEDS))
def _subclinical_scc(ds: xr.Dataset) -> Sample:
    window = c.window(ds, 14, 182)
    scc = c.panel(ds, "somatic_cells_per_ml")[:, window]
    calm = ~INFLAMED[c.mastitis_codes(ds)][:, window]
    bf = c.breastfed(ds)
    raised = ((scc >= SUBCLINICAL_SCC_PER_ML) & calm).sum(axis=1)
    return Sample(np.column_stack([raised[bf], calm.sum(axis=1)[bf]]), ratio_of_sums)


@register("mastitis_febrile_share_1yr",
          "share of breastfed dyads with a mastitis onset on days 1-365 who had fever on a day of one of "
          "their episodes", needs=(*_NEEDS, "fever"))
def _febrile_share(ds: xr.Dataset) -> Sample:
    codes = c.mastitis_codes(ds)
    in_window = c.window(ds, 1, 365)
    inflamed = INFLAMED[codes] & in_window
    affected = inflamed.any(axis=1)
    febrile = ((c.panel(ds, "fever") > 0) & inflamed).any(axis=1)
    bf = c.breastfed(ds)
    if not (affected & bf).any():
        raise Unmeasurable("no mastitis episode on days 1-365 in this cohort")
    return Sample(febrile[affected & bf].astype(np.float64), nanmean)


NIPPLE_SWAB_DAY = 7
"""Day of the nipple swab read for CASTLE's S. aureus exposure (its first postpartum week)."""
AUREUS = "staphylococcus_aureus"
"""The taxon CASTLE cultured from nipple swabs."""


@register("mastitis_rr_nipple_aureus_first_time_8wk",
          f"risk ratio of a mastitis onset on days 1-56, breastfed first-time mothers with vs without S. aureus "
          f"detected on the areolar skin (at least {c.DETECTION_SHARE:g} of its cells) on the recorded day nearest "
          f"day {NIPPLE_SWAB_DAY} (crude)",
          needs=(*_NEEDS, "first_time_mother", *c.COMPOSITION_NEEDS))
def _rr_nipple_aureus(ds: xr.Dataset) -> Sample:
    day = c.recorded_day(ds, NIPPLE_SWAB_DAY)
    skin = np.asarray(c.cells(ds, "areolar_skin", day).transpose("dyad", "taxon").values, dtype=np.float64)
    names = [str(t) for t in ds["taxon"].values]
    if AUREUS not in names:
        raise Unmeasurable(f"the result has no taxon {AUREUS!r}")
    total = skin.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        carried = np.where(total > 0, skin[:, names.index(AUREUS)] / total, 0.0) >= c.DETECTION_SHARE
    dyads = _first_time_breastfed(ds)
    exposed, case = carried[dyads], affected_by(ds, 56)[dyads]
    if not exposed.any() or exposed.all():
        raise Unmeasurable(f"the cohort has no breastfed first-time mother {'with' if not exposed.any() else 'without'} "
                           "S. aureus on the areolar skin")
    return Sample(np.column_stack([case, exposed]).astype(np.float64), _risk_ratio)


COX_ITERATIONS = 30
"""Most Newton-Raphson steps of :func:`cox_log_hazard_ratios` (it stops once a step is below 1e-8)."""


def cox_log_hazard_ratios(data: np.ndarray) -> np.ndarray:
    """Log hazard ratios of a proportional-hazards model on a daily time scale (Breslow's ties).

    Parameters
    ----------
    data
        Rows (dyad): the day of the first event or of censoring, whether it was an event, then
        the covariates (fixed over follow-up); a dyad is at risk on every day up to its own.

    Returns
    -------
    numpy.ndarray
        The maximum partial-likelihood coefficients, one per covariate; NaN where the fit does
        not converge (a covariate that separates events from non-events).
    """
    order = np.argsort(-data[:, 0], kind="stable")
    time, event, x = data[order, 0], data[order, 1] > 0, data[order, 2:]
    event_days, deaths = np.unique(time[event], return_counts=True)
    # dyads at risk on an event day: those whose own day is no earlier (a prefix of the order)
    at_risk = np.searchsorted(-time, -event_days, side="right") - 1
    outer = x[:, :, None] * x[:, None, :]
    beta = np.zeros(x.shape[1])
    for _ in range(COX_ITERATIONS):
        w = np.exp(x @ beta)
        s0 = np.cumsum(w)[at_risk]
        s1 = np.cumsum(w[:, None] * x, axis=0)[at_risk]
        s2 = np.cumsum(w[:, None, None] * outer, axis=0)[at_risk]
        mean = s1 / s0[:, None]
        gradient = x[event].sum(axis=0) - (deaths[:, None] * mean).sum(axis=0)
        hessian = -(deaths[:, None, None] * (s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :])).sum(axis=0)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return np.full_like(beta, np.nan)
        beta = beta - step
        if not np.all(np.isfinite(beta)):
            return np.full_like(beta, np.nan)
        if np.abs(step).max() < 1e-8:
            return beta
    return np.full_like(beta, np.nan)


def _hazard_ratio(covariate: int) -> Callable[[np.ndarray], float]:
    """Hazard ratio of covariate ``covariate`` of :func:`cox_log_hazard_ratios`, adjusted for the others."""

    def statistic(data: np.ndarray) -> float:
        return float(np.exp(cox_log_hazard_ratios(data)[covariate]))

    return statistic


KINLAY_HORIZON_DAYS = 182
"""Kinlay et al. 2001 followed each woman for six months (questionnaires at 3, 8 and 26 weeks)."""

KINLAY_FACTORS = ("previous_mastitis", "nipple_fissure", "blocked_duct")
"""The covariates of Kinlay's final model that the simulation has, in the order of the fitted model."""


def blocked_duct_26wk(ds: xr.Dataset) -> np.ndarray:
    """Whether each dyad had a blocked duct in Kinlay's six months: a day of ``ductal_narrowing`` on days
    1-182 (the questionnaires at 3, 8 and 26 weeks asked over each interval)."""
    codes = c.mastitis_codes(ds)
    return ((codes == STATE_CODE["ductal_narrowing"]) & c.window(ds, 1, KINLAY_HORIZON_DAYS)).any(axis=1)


def _kinlay_model(factor: str) -> Callable[[xr.Dataset], Sample]:
    """Kinlay 2001's analysis: the hazard ratio of a first mastitis on days 1-182 for ``factor``, one of
    :data:`KINLAY_FACTORS`, from one proportional-hazards model of breastfed dyads of every parity that
    holds all three factors: a mastitis in an earlier lactation, cracked nipples (``nipple_fissure``,
    damage that opens the skin) and a blocked duct (:func:`blocked_duct_26wk`); the woman is censored at
    day 182."""
    covariate = KINLAY_FACTORS.index(factor)

    def reading(ds: xr.Dataset) -> Sample:
        codes = c.mastitis_codes(ds)
        window = c.window(ds, 1, KINLAY_HORIZON_DAYS)
        dyads = c.breastfed(ds)
        if not dyads.any():
            raise Unmeasurable("the cohort has no breastfed dyad")
        onsets = episode_onsets(codes) & window
        event = onsets.any(axis=1)
        day = np.where(event, c.days(ds)[np.argmax(onsets, axis=1)], KINLAY_HORIZON_DAYS).astype(np.float64)
        covariates = [np.asarray(ds[name].values, dtype=bool) for name in KINLAY_FACTORS[:2]]
        covariates.append(blocked_duct_26wk(ds))
        described = ("a mastitis in an earlier lactation", "cracked nipples", "a blocked duct")
        for values, what in zip(covariates, described, strict=True):
            if not values[dyads].any() or values[dyads].all():
                raise Unmeasurable(f"the cohort has no breastfed dyad with and without {what}")
        return Sample(np.column_stack([day, event, *covariates]).astype(np.float64)[dyads], _hazard_ratio(covariate))

    return reading


kinlay_adjusted_hr_previous_mastitis_26wk = _kinlay_model("previous_mastitis")
kinlay_adjusted_hr_nipple_fissure_26wk = _kinlay_model("nipple_fissure")
kinlay_adjusted_hr_blocked_duct_26wk = _kinlay_model("blocked_duct")


def _blocked_duct_risk_ratio(ds: xr.Dataset) -> Sample:
    dyads = c.breastfed(ds)
    exposed = blocked_duct_26wk(ds)[dyads]
    case = affected_by(ds, KINLAY_HORIZON_DAYS)[dyads]
    if not exposed.any() or exposed.all():
        raise Unmeasurable(f"the cohort has no breastfed dyad {'with' if not exposed.any() else 'without'} "
                           "a blocked duct on days 1-182")
    return Sample(np.column_stack([case, exposed]).astype(np.float64), _risk_ratio)


register("mastitis_rr_nipple_fissure_26wk",
         "risk ratio of a mastitis onset on days 1-182, breastfed dyads with vs without cracked nipples "
         "(nipple damage that opens the skin; crude)", needs=(*_NEEDS, "nipple_fissure"))(
    _ratio("nipple_fissure", KINLAY_HORIZON_DAYS, _risk_ratio))
register("mastitis_rr_blocked_duct_26wk",
         "risk ratio of a mastitis onset on days 1-182, breastfed dyads with vs without a blocked duct (a day of "
         "ductal narrowing) on days 1-182 (crude)", needs=_NEEDS)(_blocked_duct_risk_ratio)
