"""Measurements of the milk microbiome (targets ``A``, system ``milk_microbiome``).

Bacterial loads of healthy and mastitic milk, detection and shares of genera and families,
and the bacteria an infant ingests a day.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from lactobiome.model.spectrum import BACTERIAL, run_starts
from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar, Unmeasurable
from lactobiome.validation.statistics import Sample, nanmean, nanmedian, ratio_of_sums, spearman

register = Registrar("milk_microbiome")

PHYLUM_ALIASES: dict[str, tuple[str, ...]] = {
    "Proteobacteria": ("Proteobacteria", "Pseudomonadota"),
    "Firmicutes": ("Firmicutes", "Bacillota"),
}
"""Old and current names of the phyla that published figures use."""

STAPHYLOCOCCAL_MAJORITY = 0.5
"""Staphylococcus share of milk cells above which a bacterial-mastitis sample counts as
staphylococcal mastitis (the agent a culture would report)."""

WILLIAMS_2019_MILK_SAMPLES: dict[int, int] = {2: 10, 5: 18, 10: 15, 30: 20, 60: 18, 90: 17, 120: 17, 150: 16,
                                               180: 16}
"""Milk samples sequenced per visit (day of life: count) in Williams et al. 2019 (target A11)."""

_HEALTHY_LOAD = ("milk_bacteria_per_ml", *c.BREASTFED_NEEDS, *c.HEALTHY_NEEDS)
_MILK_COMPOSITION = (*c.COMPOSITION_NEEDS, *c.BREASTFED_NEEDS)


def _milk_bacteria(first: int, last: int) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        return c.panel_window(ds, "milk_bacteria_per_ml", first, last, c.breastfed(ds), only_healthy=True,
                              how="median", log=True)

    return function


register("milk_bacteria_healthy_mature",
         "median over breastfed dyads of each dyad's median log10 milk bacteria/mL on days 30-182 with no "
         "mastitis-spectrum state", needs=_HEALTHY_LOAD)(_milk_bacteria(30, 182))
register("milk_bacteria_healthy_3_6mo",
         "as milk_bacteria_healthy_mature, days 90-182", needs=_HEALTHY_LOAD)(_milk_bacteria(90, 182))
register("milk_bacteria_healthy_early",
         "as milk_bacteria_healthy_mature, days 3-14 (transitional milk: after the colostral days, before "
         "mature milk)", needs=_HEALTHY_LOAD)(_milk_bacteria(3, 14))


def at_diagnosis(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Dyads with a bacterial-mastitis episode and the day index of the first one's onset.

    Trials enrol a woman when her mastitis is diagnosed and sample her milk before treatment,
    so a mastitis load is read on the first day of her first bacterial state.
    """
    onsets = run_starts(BACTERIAL[c.mastitis_codes(ds)])
    dyads = np.flatnonzero(onsets.any(axis=1))
    if dyads.size == 0:
        raise Unmeasurable("no bacterial mastitis episode in this cohort")
    return dyads, np.argmax(onsets[dyads], axis=1)


@register("milk_bacteria_mastitis",
          "mean over dyads of log10 milk bacteria/mL on the first day of each dyad's first episode of "
          "bacterial mastitis, phlegmon or abscess (diagnosis, before treatment)",
          needs=("milk_bacteria_per_ml", "mastitis_state"))
def _milk_bacteria_mastitis(ds: xr.Dataset) -> Sample:
    dyads, day = at_diagnosis(ds)
    # the trials report the group mean of the women's log10 counts (Arroyo 2010; Jimenez 2008, Fig. 1)
    return Sample(c.log10(c.panel(ds, "milk_bacteria_per_ml")[dyads, day]), nanmean)


@register("milk_staphylococci_mastitis",
          "mean over dyads of log10 milk staphylococci/mL on the first day of each dyad's first episode of "
          "bacterial mastitis, phlegmon or abscess, among episodes in which staphylococci are the majority of "
          "milk bacteria that day (staphylococcal mastitis at enrolment)",
          needs=("milk_staphylococci_per_ml", "milk_bacteria_per_ml", "mastitis_state"))
def _milk_staph_mastitis(ds: xr.Dataset) -> Sample:
    dyads, day = at_diagnosis(ds)
    staph = c.panel(ds, "milk_staphylococci_per_ml")[dyads, day]
    total = c.panel(ds, "milk_bacteria_per_ml")[dyads, day]
    staphylococcal = staph > STAPHYLOCOCCAL_MAJORITY * total
    if not staphylococcal.any():
        raise Unmeasurable("no bacterial mastitis episode in this cohort has staphylococci as the majority")
    return Sample(c.log10(staph[staphylococcal]), nanmean)


def _genus_detected(genus: str) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        day = c.recorded_day(ds, 30)
        found = c.column(c.relative(ds, "milk", day, "genus"), genus)[c.breastfed(ds)]
        found = found[np.isfinite(found)]
        return Sample((found >= c.DETECTION_SHARE).astype(np.float64), nanmean)

    return function


register("milk_streptococcus_detected_d30", "share of breastfed dyads with Streptococcus >= 1% of milk cells, "
         "day 30", needs=(*_MILK_COMPOSITION, "genus"))(_genus_detected("Streptococcus"))
register("milk_staphylococcus_detected_d30", "share of breastfed dyads with Staphylococcus >= 1% of milk "
         "cells, day 30", needs=(*_MILK_COMPOSITION, "genus"))(_genus_detected("Staphylococcus"))


@register("milk_streptococcus_share",
          "mean over breastfed dyads of each dyad's Streptococcus share of milk cells averaged over days 2, 5, "
          "10, 30, 60, 90, 120, 150 and 180, weighted by the milk samples Williams 2019 sequenced at each visit",
          needs=(*_MILK_COMPOSITION, "genus"))
def _milk_strep_share(ds: xr.Dataset) -> Sample:
    recorded = {int(d) for d in ds["sample_day"].values}
    missing = sorted(set(WILLIAMS_2019_MILK_SAMPLES) - recorded)
    if missing:
        raise Unmeasurable(f"days {', '.join(map(str, missing))} are not recorded")
    weights = np.array(list(WILLIAMS_2019_MILK_SAMPLES.values()), dtype=np.float64)
    shares = np.column_stack([c.column(c.relative(ds, "milk", d, "genus"), "Streptococcus")
                              for d in WILLIAMS_2019_MILK_SAMPLES])
    per = (shares * weights).sum(axis=1) / weights.sum()
    per = per[c.breastfed(ds)]
    return Sample(per[np.isfinite(per)], nanmean)


def _family_share(family: str) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        found = c.column(c.relative(ds, "milk", c.recorded_day(ds, 30), "family"), family)[c.breastfed(ds)]
        return Sample(found[np.isfinite(found)], nanmean)

    return function


for _family, _key in (("Streptococcaceae", "milk_streptococcaceae_d30"),
                      ("Bifidobacteriaceae", "milk_bifidobacteriaceae_d30"),
                      ("Staphylococcaceae", "milk_staphylococcaceae_d30")):
    register(_key, f"mean over breastfed dyads of the {_family} share of milk cells, day 30",
             needs=(*_MILK_COMPOSITION, "family"))(_family_share(_family))


@register("milk_staph_of_staph_strep_d30",
          "Staphylococcus cells / (Staphylococcus + Streptococcus cells) in milk, pooled over breastfed dyads, "
          "day 30", needs=(*_MILK_COMPOSITION, "genus"))
def _staph_of_staph_strep(ds: xr.Dataset) -> Sample:
    genera = c.frame(c.cells(ds, "milk", c.recorded_day(ds, 30)).groupby("genus").sum())
    staph, strep = c.column(genera, "Staphylococcus"), c.column(genera, "Streptococcus")
    bf = c.breastfed(ds)
    return Sample(np.column_stack([staph[bf], staph[bf] + strep[bf]]), ratio_of_sums)


@register("milk_proteo_firmicutes_rho_d90",
          "Spearman correlation across breastfed dyads of the Proteobacteria and Firmicutes shares of milk "
          "cells, recorded day nearest day 90", needs=_MILK_COMPOSITION)
def _proteo_firmicutes(ds: xr.Dataset) -> Sample:
    rel = c.relative(ds, "milk", c.recorded_day(ds, 90, tolerance=10), "phylum")
    proteo = [c.column(rel, name) for name in PHYLUM_ALIASES["Proteobacteria"] if name in rel.columns]
    firmicutes = [c.column(rel, name) for name in PHYLUM_ALIASES["Firmicutes"] if name in rel.columns]
    if not proteo or not firmicutes:
        raise Unmeasurable("the catalogue has no Proteobacteria or no Firmicutes")
    pair = np.column_stack([sum(proteo[1:], proteo[0]), sum(firmicutes[1:], firmicutes[0])])[c.breastfed(ds)]
    return Sample(pair, spearman)


@register("bacteria_ingested_per_day",
          "median over exclusively breastfed dyads of each dyad's median log10 (milk bacteria/mL x milk "
          "volume mL/day), days 30-182", needs=("milk_bacteria_per_ml", "milk_volume_ml", *c.BREASTFED_NEEDS))
def _ingested(ds: xr.Dataset) -> Sample:
    values = c.panel(ds, "milk_bacteria_per_ml") * c.panel(ds, "milk_volume_ml")
    mask = np.broadcast_to(c.window(ds, 30, 182), values.shape)
    per = c.per_dyad(c.log10(values), mask, "median")[c.exclusive(ds)]
    return Sample(per[np.isfinite(per)], nanmedian)
