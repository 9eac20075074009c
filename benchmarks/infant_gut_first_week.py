"""The infant gut's first week, and what the Pannaraj pipeline can attribute at day 30.

A diagnostic, not a calibration: E10a/E10b (Yoshioka 1983) and E03 are check targets, so no
parameter is chosen from what this prints. It measures where the model's limitation lies.

1. **Day by day** (days 1-7, 14, 30): mean log10 cells of Bifidobacteriaceae and
   Enterobacteriaceae in the infant gut of exclusively breastfed and formula-only infants,
   and the mean log10 ratio (the truth behind the Yoshioka culture reading). Day 4 (the mean
   of the day-3 and day-5 log10 counts: validation cohorts do not record day 4) is also
   printed per gram of stool beside Rubaltelli et al. (J Perinat Med 1998;26:186-191), an
   independent day-4 culture study: bifidobacteria 7.1 +/- 0.8 log10/g in breastfed and
   5.3 +/- 0.6 in formula-fed infants.
   **Load**: per gram of stool on days 3-7, the two families, the whole community and the day's
   carrying capacity (capacity_infant_gut_*), with the Enterobacteriaceae count a 1000:1 ratio
   would need at the model's own bifidobacterial count; and breastfed bifidobacteria beside an
   independent qPCR series (Clin Nutr 2007;26:559-566, PMID 17507117: 40 breastfed neonates,
   means rising from 5.1 to 9.3 log10/g over days 1-7 after vaginal birth, from < 4.6 to 8.7
   after caesarean birth with cefradine prophylaxis). Shows whether the day-6 shortfall lies in
   the bloom or in the Enterobacteriaceae, and how full the gut is when bifidobacteria bloom.
2. **Levers at the edge of their prior**: the day-6 truth contrast with one mechanism pushed
   to the end of its source/assumption range (or switched to its extreme), all else shipped,
   under common random numbers. Shows how much of the gap each mechanism could close at most.
3. **Who was sampled**: the day-6 truth contrast by delivery mode and intrapartum antibiotics
   (vaginal, caesarean, vaginal term births without intrapartum antibiotics): how much the
   reading depends on which infants a study enrolled (the model's feeding groups hold all births).
4. **Day-30 dose response** (E03): mean Bifidobacteriaceae and Enterobacteriaceae shares and
   Shannon index by share of breast milk (none, 1-25%, 25-75%, 75-99%, exclusive).
5. **E01/E02 through the Pannaraj pipeline**: the pipeline's milk and areolar-skin shares on
   the cohort as simulated, and with the infant gut's bifidobacteria removed on day 30 (same
   reads otherwise), beside the true shares: how much of the shortfall comes from a
   bifidobacterial sink that neither source resembles.

Usage: ``python benchmarks/infant_gut_first_week.py [--dyads N] [--seed S] [--skip-levers]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

from lactobiome.validation import run_cohort
from lactobiome.validation.pipelines import STOOL_CONTENT_G, run_pipeline

DAYS = (1, 2, 3, 5, 6, 7, 14, 30)
PANNARAJ = "pannaraj2017/16S/sourcetracker"
LEVERS: dict[str, dict[str, float]] = {
    "anoxic at birth (infant_gut_oxygen_birth 0)": {"infant_gut_oxygen_birth": 0.0},
    "fastest oxygen uptake (consumption 3/day, reference 1e8 cells)": {
        "infant_gut_oxygen_consumption_per_day": 3.0, "infant_gut_oxygen_reference_cells": 1e8},
    "largest vaginal inoculum in range (1e7 of 1e5-1e8 cells)": {"birth_inoculum_vaginal_cells": 1e7},
    "strongest acidity (acid_death 1.5/day, onset pH 6.5)": {
        "acid_death_per_day": 1.5, "acid_inhibition_onset_ph": 6.5},
    "weakest HMO dependence (hmo_growth_share 0.5)": {"hmo_growth_share": 0.5},
    "no milk lactoferrin check (inhibition 0, kill 0)": {
        "lactoferrin_growth_inhibition_max": 0.0, "lactoferrin_kill_per_day": 0.0},
    "strongest lactoferrin check (inhibition 0.7, kill 1/day, intact share 0.05)": {
        "lactoferrin_growth_inhibition_max": 0.7, "lactoferrin_kill_per_day": 1.0,
        "lactoferrin_intact_colon_share": 0.05},
    "no colonic lactose (lactose_colon_escape_share 0)": {"lactose_colon_escape_share": 0.0},
    "least colonic lactose in range (lactose_colon_escape_share 0.01)": {"lactose_colon_escape_share": 0.01},
    "most colonic lactose in range (lactose_colon_escape_share 0.2)": {"lactose_colon_escape_share": 0.2},
    "most formula-fed acquisition (maternal contact 1e-12/day, environment 1e7 cells/day)": {
        "maternal_gut_to_infant_gut_per_day": 1e-12, "environment_to_infant_gut_cells_per_day": 1e7},
    "no formula buffering (formula_stool_ph_acid 5.0, the breastfed acid pH)": {"formula_stool_ph_acid": 5.0},
    "least formula buffering in range (formula_stool_ph_acid 5.6)": {"formula_stool_ph_acid": 5.6},
    "most formula buffering in range (formula_stool_ph_acid 6.4)": {"formula_stool_ph_acid": 6.4},
    "bound, outside the prior: no carbohydrate limit on bifidobacteria (hmo_growth_share 0)": {
        "hmo_growth_share": 0.0},
    "anoxic at birth, largest inoculum and strongest acidity together": {
        "infant_gut_oxygen_birth": 0.0, "birth_inoculum_vaginal_cells": 1e7,
        "acid_death_per_day": 1.5, "acid_inhibition_onset_ph": 6.5},
}
"""Each lever's overrides (the prior ends of ``data/parameters.csv``; one bound outside its prior, so labelled)."""


def _log_cells(ds: xr.Dataset, day: int, family: str) -> np.ndarray:
    cells = ds["abundance"].sel(site="infant_gut", sample_day=day).sum("origin")
    in_family = np.asarray(ds["family"].values).astype(str) == family
    return np.log10(cells.values[:, in_family].sum(axis=1) + 1.0)


def _groups(ds: xr.Dataset) -> dict[str, np.ndarray]:
    share = ds["breast_milk_share"].values
    return {"breastfed": share >= 0.999, "formula": share <= 0.0}


def day_by_day(ds: xr.Dataset) -> None:
    """Print the first-week table of both feeding groups."""
    for name, g in _groups(ds).items():
        print(f"{name} ({int(g.sum())} infants): day, log10 Bifidobacteriaceae, log10 Enterobacteriaceae, log10 ratio")
        for day in DAYS:
            if day not in ds["sample_day"].values:
                continue
            bif, ent = _log_cells(ds, day, "Bifidobacteriaceae")[g], _log_cells(ds, day, "Enterobacteriaceae")[g]
            print(f"  {day:3d}  {bif.mean():5.2f}  {ent.mean():5.2f}  {np.mean(bif - ent):+5.2f}")


RUBALTELLI_DAY4_BIF_LOG10_PER_G = {"breastfed": 7.1, "formula": 5.3}
"""Day-4 faecal bifidobacteria (mean log10 CFU/g) of Rubaltelli et al. 1998 by feeding group."""


def day4_per_gram(ds: xr.Dataset) -> None:
    """Print the day-4 bifidobacteria per gram (truth, all cells) beside Rubaltelli 1998.

    Day 4 is not a recorded day: its log10 count is the mean of days 3 and 5 (log-linear growth).
    """
    for name, g in _groups(ds).items():
        log_day4 = 0.5 * (_log_cells(ds, 3, "Bifidobacteriaceae") + _log_cells(ds, 5, "Bifidobacteriaceae"))
        bif = log_day4[g] - np.log10(STOOL_CONTENT_G)
        print(f"day 4 {name}: bifidobacteria {bif.mean():.2f} log10 cells/g "
              f"(Rubaltelli 1998: {RUBALTELLI_DAY4_BIF_LOG10_PER_G[name]} log10 CFU/g)")


CLIN_NUTR_2007_DAY7_BIF_LOG10_PER_G = {"vaginal": 9.3, "caesarean": 8.7}
"""Day-7 faecal bifidobacteria (mean log10 per g, qPCR) of breastfed neonates by delivery (PMID 17507117)."""


def first_week_load(ds: xr.Dataset) -> None:
    """Print per gram of stool the two families, the whole community and the capacity on days 3-7."""
    from lactobiome.model.parameters import load_parameters

    table = load_parameters()
    start = table.value("capacity_infant_gut_birth_cells", "cells")
    mature = table.value("capacity_infant_gut_mature_cells", "cells")
    tau = table.value("infant_gut_capacity_time_days", "day")
    per_g = np.log10(STOOL_CONTENT_G)
    for name, g in _groups(ds).items():
        print(f"{name}: day, log10 per g of Bifidobacteriaceae, Enterobacteriaceae, all cells, capacity; "
              "Enterobacteriaceae a 1000:1 ratio needs")
        for day in (3, 5, 6, 7):
            total = np.log10(ds["abundance"].sel(site="infant_gut", sample_day=day).sum(("origin", "taxon")).values + 1.0)
            capacity = np.log10(mature - (mature - start) * np.exp(-(day - 1) / tau))
            bif = _log_cells(ds, day, "Bifidobacteriaceae")[g].mean() - per_g
            ent = _log_cells(ds, day, "Enterobacteriaceae")[g].mean() - per_g
            print(f"  {day:3d}  {bif:5.2f}  {ent:5.2f}  {total[g].mean() - per_g:5.2f}  {capacity - per_g:5.2f}  "
                  f"{bif - 3.0:5.2f}")
    vaginal = np.asarray(ds["delivery_mode"].values).astype(str) == "vaginal"
    breastfed = _groups(ds)["breastfed"]
    for label, m in (("vaginal", vaginal), ("caesarean", ~vaginal)):
        bif = _log_cells(ds, 7, "Bifidobacteriaceae")[breastfed & m].mean() - per_g
        print(f"day 7 breastfed {label}: bifidobacteria {bif:.2f} log10 cells/g "
              f"(qPCR, PMID 17507117: {CLIN_NUTR_2007_DAY7_BIF_LOG10_PER_G[label]} log10/g)")


def day6_contrast(ds: xr.Dataset) -> tuple[float, float]:
    """Mean day-6 log10 ratio (truth) of breastfed and formula-only infants."""
    ratio = _log_cells(ds, 6, "Bifidobacteriaceae") - _log_cells(ds, 6, "Enterobacteriaceae")
    g = _groups(ds)
    return float(ratio[g["breastfed"]].mean()), float(ratio[g["formula"]].mean())


def by_birth(ds: xr.Dataset) -> None:
    """Print the day-6 truth contrast of each feeding group by delivery mode and intrapartum antibiotics."""
    ratio = _log_cells(ds, 6, "Bifidobacteriaceae") - _log_cells(ds, 6, "Enterobacteriaceae")
    vaginal = np.asarray(ds["delivery_mode"].values).astype(str) == "vaginal"
    iap = np.asarray(ds["intrapartum_antibiotics"].values).astype(bool)
    term = ~np.asarray(ds["preterm"].values).astype(bool)
    subgroups = {"all": np.ones_like(vaginal), "vaginal": vaginal, "caesarean": ~vaginal,
                 "vaginal term, no intrapartum antibiotics": vaginal & term & ~iap}
    for name, g in _groups(ds).items():
        cells = ", ".join(f"{label} {ratio[g & m].mean():+.2f} (n={int((g & m).sum())})"
                          for label, m in subgroups.items() if (g & m).any())
        print(f"day-6 log10 ratio (truth), {name}: {cells}")


def day30_by_dose(ds: xr.Dataset) -> None:
    """Print the day-30 family shares and Shannon index by share of breast milk (the E03 mechanism)."""
    cells = ds["abundance"].sel(site="infant_gut", sample_day=30).sum("origin").values.astype(np.float64)
    rel = cells / np.maximum(cells.sum(axis=1, keepdims=True), 1e-300)
    shannon = -np.where(rel > 0.0, rel * np.log(np.where(rel > 0.0, rel, 1.0)), 0.0).sum(axis=1)
    family = np.asarray(ds["family"].values).astype(str)
    share = ds["breast_milk_share"].values
    bins = {"none": share <= 0.0, "1-25%": (share > 0.0) & (share <= 0.25), "25-75%": (share > 0.25) & (share <= 0.75),
            "75-99%": (share > 0.75) & (share < 0.999), "exclusive": share >= 0.999}
    print("day 30 by breast-milk share: n, Bifidobacteriaceae share, Enterobacteriaceae share, Shannon")
    for label, g in bins.items():
        if g.any():
            bif = rel[g][:, family == "Bifidobacteriaceae"].sum(axis=1).mean()
            ent = rel[g][:, family == "Enterobacteriaceae"].sum(axis=1).mean()
            print(f"  {label:9s} {int(g.sum()):4d}  {bif:.2f}  {ent:.3f}  {shannon[g].mean():.2f}")


def pannaraj(ds: xr.Dataset, seed: int) -> None:
    """E01/E02 through the pipeline, as simulated and without the gut's bifidobacteria on day 30."""
    genus = np.asarray(ds["genus"].values).astype(str)
    ab = ds["abundance"].copy(deep=True)
    site = list(ds["site"].values).index("infant_gut")
    day = list(ds["sample_day"].values).index(30)
    ab.values[:, day, site, genus == "Bifidobacterium", :] = 0.0
    for label, cohort in (("as simulated", ds), ("gut bifidobacteria removed on day 30", ds.assign(abundance=ab))):
        cache: dict = {}
        milk = run_pipeline(cohort, PANNARAJ, "infant_gut_milk_share_d30", n_boot=0, seed=seed, cache=cache).value
        skin = run_pipeline(cohort, PANNARAJ, "infant_gut_areolar_share_d30", n_boot=0, seed=seed, cache=cache).value
        print(f"{label}: pipeline milk {milk:.3f}, areolar skin {skin:.3f}")
        print("  " + next(iter(cache.values()))[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dyads", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-levers", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    ds = run_cohort("default", dyads=args.dyads, days=31, seed=args.seed)
    day_by_day(ds)
    day4_per_gram(ds)
    first_week_load(ds)
    bf, ff = day6_contrast(ds)
    print(f"shipped: day-6 log10 ratio (truth) breastfed {bf:+.2f}, formula {ff:+.2f}")
    by_birth(ds)
    day30_by_dose(ds)
    if not args.skip_levers:
        for label, overrides in LEVERS.items():
            bf, ff = day6_contrast(run_cohort("default", dyads=args.dyads, days=31, seed=args.seed, overrides=overrides))
            print(f"{label}: breastfed {bf:+.2f}, formula {ff:+.2f}")
    pannaraj(ds, args.seed)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
