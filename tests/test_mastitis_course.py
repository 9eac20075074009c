"""The course of untreated episodes as Thomsen read it (D41-D44): hand-made states with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from lactobiome.validation import measure


def _cohort(rows: list[list[str]], days: int = 190, treated: int | None = None) -> xr.Dataset:
    states = np.full((len(rows), days), "none", dtype=object)
    for d, row in enumerate(rows):
        states[d, 9:9 + len(row)] = row  # every run starts on day 10
    treatment = np.zeros((len(rows), days), dtype=np.int64)
    if treated is not None:
        treatment[treated, 9:12] = 1
    return xr.Dataset(
        {"mastitis_state": (("dyad", "day"), states), "treatment": (("dyad", "day"), treatment),
         "breast_milk_share": ("dyad", np.ones(len(rows)))},
        coords={"dyad": np.arange(len(rows)), "day": np.arange(1, days + 1)})


NARROW, INFL, BACT, ABSC = "ductal_narrowing", "inflammatory_mastitis", "bacterial_mastitis", "abscess"


def test_stasis_and_inflammation_durations_and_progressions_are_counted_per_run() -> None:
    ds = _cohort([
        [NARROW, NARROW, NARROW],            # stasis, 3 days
        [NARROW],                            # stasis, 1 day
        [INFL, INFL, INFL, INFL],            # non-infectious, 4 days, stays so
        [INFL, INFL, BACT, BACT, BACT, BACT],  # non-infectious at presentation, becomes infectious: 6 days
        [BACT, BACT, ABSC, ABSC],            # infectious, abscess
        [BACT, BACT],                        # infectious, no abscess
    ])
    assert measure(ds, "stasis_symptom_days_mean", n_boot=0).value == pytest.approx(2.0)
    assert measure(ds, "noninfectious_inflammation_days_mean", n_boot=0).value == pytest.approx(5.0)
    assert measure(ds, "noninfectious_to_infectious_share", n_boot=0).value == pytest.approx(0.5)
    # three episodes reach a bacterial state (rows 3, 4, 5); one of them forms an abscess
    assert measure(ds, "infectious_abscess_share", n_boot=0).value == pytest.approx(1 / 3)


def test_treated_episodes_and_short_horizons_are_left_out() -> None:
    ds = _cohort([[INFL, INFL, BACT], [INFL, INFL]], treated=0)
    assert measure(ds, "noninfectious_to_infectious_share", n_boot=0).value == pytest.approx(0.0)
    short = measure(_cohort([[INFL]], days=100), "noninfectious_inflammation_days_mean", n_boot=0)
    assert math.isnan(short.value) and "horizon" in short.reason
    none = measure(_cohort([[NARROW]]), "infectious_abscess_share", n_boot=0)
    assert math.isnan(none.value) and "reaching a bacterial state" in none.reason
