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
