"""Measurements of mastitis epidemiology (targets ``D``, system ``mastitis_epi``).

Incidence, prevalence, recurrence and timing of mastitis episodes, and the organisms found
in the milk of bacterial mastitis. An episode and its onset are those of
:mod:`lactobiome.model.spectrum` (a run of days in an inflamed state), the definition the
events table beside a result also uses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from lactobiome.model.spectrum import BACTERIAL, INFLAMED, STATE_CODE, episode_onsets
from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar, Unmeasurable
from lactobiome.validation.statistics import Sample, nanmean, ratio_of_sums

register = Registrar("mastitis_epi")


def episode_counts(ds: xr.Dataset, first: int = 1, last: int = 182) -> np.ndarray:
    """Mastitis episodes starting on days ``first..last``, per dyad (all dyads).

    Parameters
    ----------
    ds
        A simulation result with ``mastitis_state``.
    first, last
        Days of life of the onsets counted.

    Returns
    -------
    numpy.ndarray
        Integer count per dyad; unmeasurable past the simulated horizon.
    """
    return (episode_onsets(c.mastitis_codes(ds)) & c.window(ds, first, last)).sum(axis=1)


@register("mastitis_incidence",
          "1000 x onsets of inflammatory or bacterial mastitis, phlegmon or abscess / breastfeeding weeks "
          "(days with milk volume > 0, / 7), days 1-175, breastfed dyads",
          needs=("mastitis_state", "milk_volume_ml", *c.BREASTFED_NEEDS))
def _incidence(ds: xr.Dataset) -> Sample:
    window = c.window(ds, 1, 175)
    onsets = episode_counts(ds, 1, 175)
    weeks = (c.panel(ds, "milk_volume_ml")[:, window] > 0).sum(axis=1) / 7.0
    bf = c.breastfed(ds)
    return Sample(np.column_stack([1000.0 * onsets[bf], weeks[bf]]), ratio_of_sums)


@register("mastitis_onsets_first_6_weeks",
          "share of onsets of inflammatory or bacterial mastitis, phlegmon or abscess (days 1-182) that fall "
          "on days 1-42", needs=("mastitis_state",))
def _first_six_weeks(ds: xr.Dataset) -> Sample:
    return c.onsets_by_day(ds, 42)


def _bacterial_sample_days(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Recorded days and a (dyad, recorded day) mask of bacterial mastitis on them."""
    recorded = np.asarray(ds["sample_day"].values)
    simulated = c.days(ds)
    recorded = recorded[np.isin(recorded, simulated)]
    index = np.searchsorted(simulated, recorded)
    return recorded, BACTERIAL[c.mastitis_codes(ds)[:, index]]


def _mastitis_detected(share: Callable[[xr.Dataset, int], np.ndarray]) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        recorded, mask = _bacterial_sample_days(ds)
        if not mask.any():
            raise Unmeasurable("no recorded day falls in a bacterial mastitis episode in this cohort")
        found = np.column_stack([share(ds, int(d)) >= c.DETECTION_SHARE for d in recorded])
        return Sample(np.column_stack([(found & mask).sum(axis=1), mask.sum(axis=1)]), ratio_of_sums)

    return function


def _taxon_share(taxon: str) -> Callable[[xr.Dataset, int], np.ndarray]:
    def share(ds: xr.Dataset, day: int) -> np.ndarray:
        return c.column(c.relative(ds, "milk", day, "taxon"), taxon)

    return share


def _genus_share(genus: str) -> Callable[[xr.Dataset, int], np.ndarray]:
    def share(ds: xr.Dataset, day: int) -> np.ndarray:
        return c.column(c.relative(ds, "milk", day, "genus"), genus)

    return share


_DETECTED = ("mastitis_state", *c.COMPOSITION_NEEDS)
register("mastitis_milk_s_epidermidis", "share of recorded bacterial-mastitis milk samples with S. epidermidis "
         ">= 1% of cells", needs=_DETECTED)(_mastitis_detected(_taxon_share("staphylococcus_epidermidis")))
register("mastitis_milk_s_aureus", "share of recorded bacterial-mastitis milk samples with S. aureus >= 1% of "
         "cells", needs=_DETECTED)(_mastitis_detected(_taxon_share("staphylococcus_aureus")))
register("mastitis_milk_streptococci", "share of recorded bacterial-mastitis milk samples with Streptococcus "
         ">= 1% of cells", needs=(*_DETECTED, "genus"))(_mastitis_detected(_genus_share("Streptococcus")))


@register("mastitis_prevalence",
          "share of breastfed dyads with at least one day of inflammatory or bacterial mastitis, phlegmon or "
          "abscess on days 1-182", needs=("mastitis_state", *c.BREASTFED_NEEDS))
def _prevalence(ds: xr.Dataset) -> Sample:
    ever = (INFLAMED[c.mastitis_codes(ds)] & c.window(ds, 1, 182)).any(axis=1)
    return Sample(ever[c.breastfed(ds)].astype(np.float64), nanmean)


@register("mastitis_recurrence_share",
          "share of breastfed dyads with an onset of inflammatory or bacterial mastitis, phlegmon or abscess on "
          "days 1-182 that have two or more such onsets", needs=("mastitis_state", *c.BREASTFED_NEEDS))
def _recurrence(ds: xr.Dataset) -> Sample:
    count = episode_counts(ds)[c.breastfed(ds)]
    affected = count >= 1
    if not affected.any():
        raise Unmeasurable("no mastitis episode on days 1-182 in this cohort")
    return Sample((count[affected] >= 2).astype(np.float64), nanmean)


@register("mastitis_first_onset_7_weeks",
          "share of breastfed dyads with an onset on days 1-182 whose first onset falls on days 1-49",
          needs=("mastitis_state", *c.BREASTFED_NEEDS))
def _first_onset_seven_weeks(ds: xr.Dataset) -> Sample:
    return c.first_onsets_by_day(ds, 49)


@register("subacute_mastitis_share",
          "share of breastfed dyads with at least one day of subacute mastitis (dysbiotic milk without "
          "inflammation) on days 1-182", needs=("mastitis_state", *c.BREASTFED_NEEDS))
def _subacute_share(ds: xr.Dataset) -> Sample:
    ever = ((c.mastitis_codes(ds) == STATE_CODE["subacute_mastitis"]) & c.window(ds, 1, 182)).any(axis=1)
    return Sample(ever[c.breastfed(ds)].astype(np.float64), nanmean)


# ---------------------------------------------------------------- course of untreated episodes
# Thomsen et al. (Am J Obstet Gynecol 1983;146:938-941 and 1984;149:492-495) classified nursing women
# with breast symptoms by milk leucocytes and culture into milk stasis, non-infectious inflammation and
# infectious mastitis, and followed the untreated course of each. The model's spectrum states are read
# as those classes at presentation: ductal narrowing, an episode that begins as inflammatory mastitis,
# and an episode that reaches a bacterial state.
THOMSEN_ONSETS = (1, 182)
"""Days of life on which a run or episode must begin to be counted (the six months of the other D targets)."""


def _runs_starting(ds: xr.Dataset, states: np.ndarray) -> dict[str, np.ndarray]:
    """Untreated runs of ``states`` (a mask over state codes) that begin on :data:`THOMSEN_ONSETS` in
    breastfed dyads (Thomsen's comparison group had no intervention)."""
    from lactobiome.model.spectrum import runs

    window = c.window(ds, *THOMSEN_ONSETS)
    treatment = np.asarray(ds["treatment"].values).astype(np.int64)
    found = runs(c.mastitis_codes(ds), states, treatment)
    keep = window[found["onset_day"] - 1] & c.breastfed(ds)[found["dyad_index"]] & (found["treatment"] == 0)
    return {key: values[keep] for key, values in found.items()}


def _per_dyad(ds: xr.Dataset, dyad_index: np.ndarray, numerator: np.ndarray, what: str) -> Sample:
    """Rows (dyad): the sum of ``numerator`` and the count of runs, for a ratio of sums over dyads."""
    if dyad_index.size == 0:
        raise Unmeasurable(f"no {what} begins on days {THOMSEN_ONSETS[0]}-{THOMSEN_ONSETS[1]} in this cohort")
    n = ds.sizes["dyad"]
    total = np.bincount(dyad_index, weights=numerator.astype(np.float64), minlength=n)
    count = np.bincount(dyad_index, minlength=n).astype(np.float64)
    has = count > 0
    return Sample(np.column_stack([total[has], count[has]]), ratio_of_sums)


_NARROWING = np.arange(len(BACTERIAL)) == STATE_CODE["ductal_narrowing"]
_COURSE_NEEDS = ("mastitis_state", "treatment", *c.BREASTFED_NEEDS)


@register("stasis_symptom_days_mean",
          "mean length in days of a run of ductal narrowing (Thomsen's milk stasis) beginning on days 1-182, "
          "breastfed dyads, untreated", needs=_COURSE_NEEDS)
def _stasis_days(ds: xr.Dataset) -> Sample:
    found = _runs_starting(ds, _NARROWING)
    return _per_dyad(ds, found["dyad_index"], found["duration_days"], "run of ductal narrowing")


def _presenting_inflammatory(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Episodes beginning on days 1-182 whose first day is inflammatory mastitis (non-infectious at presentation)."""
    found = _runs_starting(ds, INFLAMED)
    codes = c.mastitis_codes(ds)
    first_state = codes[found["dyad_index"], found["onset_day"] - 1]
    keep = first_state == STATE_CODE["inflammatory_mastitis"]
    return {key: values[keep] for key, values in found.items()}


@register("noninfectious_inflammation_days_mean",
          "mean duration in days of mastitis episodes that begin as inflammatory (non-infectious) mastitis on "
          "days 1-182, breastfed dyads, untreated", needs=_COURSE_NEEDS)
def _noninfectious_days(ds: xr.Dataset) -> Sample:
    found = _presenting_inflammatory(ds)
    return _per_dyad(ds, found["dyad_index"], found["duration_days"], "episode beginning as inflammatory mastitis")


@register("noninfectious_to_infectious_share",
          "share of mastitis episodes beginning as inflammatory (non-infectious) mastitis on days 1-182 that "
          "become bacterial (bacterial mastitis, phlegmon or abscess), breastfed dyads, untreated",
          needs=_COURSE_NEEDS)
def _noninfectious_progression(ds: xr.Dataset) -> Sample:
    found = _presenting_inflammatory(ds)
    return _per_dyad(ds, found["dyad_index"], BACTERIAL[found["peak_state"]],
                     "episode beginning as inflammatory mastitis")


@register("infectious_abscess_share",
          "share of mastitis episodes beginning on days 1-182 that reach a bacterial state and in which an "
          "abscess forms, breastfed dyads, untreated", needs=_COURSE_NEEDS)
def _infectious_abscess(ds: xr.Dataset) -> Sample:
    found = _runs_starting(ds, INFLAMED)
    bacterial = BACTERIAL[found["peak_state"]]
    return _per_dyad(ds, found["dyad_index"][bacterial], found["peak_state"][bacterial] == STATE_CODE["abscess"],
                     "episode reaching a bacterial state")
