"""One definition of a mastitis episode: the spectrum module, the events table and validation agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from lactobiome.cli import main
from lactobiome.io.dataset import open_result
from lactobiome.io.events import episodes_table, events_path
from lactobiome.model import spectrum
from lactobiome.model.processes import mastitis
from lactobiome.model.spectrum import (
    MASTITIS_STATES,
    STATE_CODE,
    TREATMENTS,
    episode_onsets,
    episodes,
    runs,
)
from lactobiome.validation import measure

NO, IM, BM, PH, AB, DN, SM = (STATE_CODE[s] for s in ("none", "inflammatory_mastitis", "bacterial_mastitis",
                                                            "phlegmon", "abscess", "ductal_narrowing",
                                                            "subacute_mastitis"))
ANTIBIOTIC = 1 << TREATMENTS.index("antibiotic")
EMPTYING = 1 << TREATMENTS.index("frequent_emptying")


def test_an_episode_is_a_run_of_inflamed_days_only() -> None:
    codes = np.array([
        [NO, DN, DN, DN, NO, NO, NO, NO, NO, NO],  # ductal narrowing alone: no episode
        [DN, DN, IM, BM, BM, DN, NO, NO, NO, NO],  # narrowing around an inflamed run: the episode is days 3-5
        [IM, IM, DN, IM, NO, NO, SM, SM, SM, NO],  # a narrowing day splits two episodes; subacute is none
        [BM, PH, PH, AB, AB, NO, NO, NO, NO, IM],  # complications stay in one episode; a run may start on day 10
    ])
    treatment = np.zeros_like(codes)
    treatment[1, 0] = EMPTYING  # on a narrowing day, before the episode
    treatment[1, 3:7] = ANTIBIOTIC
    ep = episodes(codes, treatment)
    assert ep["dyad_index"].tolist() == [1, 2, 2, 3, 3]
    assert ep["onset_day"].tolist() == [3, 1, 4, 1, 10]
    assert ep["duration_days"].tolist() == [3, 2, 1, 5, 1]
    assert [MASTITIS_STATES[c] for c in ep["peak_state"]] == [
        "bacterial_mastitis", "inflammatory_mastitis", "inflammatory_mastitis", "abscess", "inflammatory_mastitis"]
    assert ep["treatment"].tolist() == [ANTIBIOTIC, 0, 0, 0, 0]
    # the onsets validation counts are the episodes' first days
    onsets = episode_onsets(codes)
    assert sorted(zip(*np.nonzero(onsets), strict=True)) == sorted(
        zip(ep["dyad_index"].tolist(), (ep["onset_day"] - 1).tolist(), strict=True))


def test_runs_of_other_states_are_listed_apart_from_episodes() -> None:
    codes = np.array([[NO, DN, DN, IM, DN, NO, SM, SM]])
    narrowing = runs(codes, np.array([s == "ductal_narrowing" for s in MASTITIS_STATES]))
    assert narrowing["onset_day"].tolist() == [2, 5] and narrowing["duration_days"].tolist() == [2, 1]
    assert len(episodes(codes)["onset_day"]) == 1
    assert len(episodes(np.zeros((3, 0), dtype=np.int64))["onset_day"]) == 0  # no days at all


def test_the_mastitis_process_uses_the_same_definitions() -> None:
    assert mastitis.episodes is spectrum.episodes
    assert mastitis.MASTITIS_STATES is spectrum.MASTITIS_STATES
    assert mastitis.TREATMENTS is spectrum.TREATMENTS
    assert [MASTITIS_STATES[c] for c in np.flatnonzero(spectrum.INFLAMED)] == list(spectrum.INFLAMED_STATES)
    assert [MASTITIS_STATES[c] for c in np.flatnonzero(spectrum.BACTERIAL)] == list(spectrum.BACTERIAL_STATES)
    assert set(spectrum.BACTERIAL_STATES) < set(spectrum.INFLAMED_STATES)


def _cohort(states: list[list[str]]) -> xr.Dataset:
    """Breastfed dyads with the given daily states (every day lactating, no fever or treatment)."""
    names = np.array(states, dtype=object)
    n, days = names.shape
    panel = ("dyad", "day")
    return xr.Dataset(
        {"mastitis_state": (panel, names), "milk_volume_ml": (panel, np.full((n, days), 600.0)),
         "fever": (panel, np.zeros((n, days), dtype=bool)), "treatment": (panel, np.zeros((n, days), np.int8)),
         "breast_milk_share": ("dyad", np.ones(n))},
        coords={"dyad": np.arange(10, 10 + n), "day": np.arange(1, days + 1)},
    )


def test_events_table_and_validation_count_the_same_episodes() -> None:
    days = 182
    states = [["none"] * days for _ in range(3)]
    states[0][4:9] = ["ductal_narrowing"] * 5  # narrowing only
    states[1][9:12] = ["ductal_narrowing"] * 3  # narrowing, then mastitis, narrowing, mastitis
    states[1][12:16] = ["inflammatory_mastitis", "bacterial_mastitis", "bacterial_mastitis", "inflammatory_mastitis"]
    states[1][16] = "ductal_narrowing"
    states[1][17:19] = ["inflammatory_mastitis"] * 2
    states[2][99:104] = ["subacute_mastitis"] * 5  # not inflamed
    states[2][120:125] = ["phlegmon"] * 5
    ds = _cohort(states)
    table = episodes_table(ds)
    assert table["dyad"].tolist() == [11, 11, 12]
    assert table["onset_day"].tolist() == [13, 18, 121]
    assert table["peak_state"].tolist() == ["bacterial_mastitis", "inflammatory_mastitis", "phlegmon"]
    weeks = 3 * 175 / 7.0
    assert measure(ds, "mastitis_incidence").value == pytest.approx(1000.0 * len(table) / weeks)
    per_dyad = table.groupby("dyad").size()
    assert measure(ds, "mastitis_recurrence_share").value == pytest.approx((per_dyad >= 2).mean())
    assert measure(ds, "mastitis_prevalence").value == pytest.approx(per_dyad.size / 3)


def test_simulated_events_file_agrees_with_validation(tmp_path: Path) -> None:
    out = tmp_path / "cohort.nc"
    assert main(["simulate", "--dyads", "150", "--days", "182", "--seed", "5", "--out", str(out)]) == 0
    events = pd.read_csv(events_path(out))
    with open_result(out) as opened:
        ds = opened.load()
    states = ds["mastitis_state"].values.astype(str)
    assert (states == "ductal_narrowing").any()  # the cohort has narrowing days, and none is an episode
    assert set(events["peak_state"]) <= set(spectrum.INFLAMED_STATES)
    assert len(events) > 0
    breastfed = ds["dyad"].values[ds["breast_milk_share"].values > 0]
    counted = events[events["dyad"].isin(breastfed) & (events["onset_day"] <= 175)]
    weeks = (ds["milk_volume_ml"].values[ds["breast_milk_share"].values > 0, :175] > 0).sum() / 7.0
    assert measure(ds, "mastitis_incidence", n_boot=0).value == pytest.approx(1000.0 * len(counted) / weeks)
    affected = events[events["dyad"].isin(breastfed)].groupby("dyad").size()
    assert measure(ds, "mastitis_recurrence_share", n_boot=0).value == pytest.approx((affected >= 2).mean())
    # each episode's days are inflamed, and the days before and after it are not
    index = {d: i for i, d in enumerate(ds["dyad"].values)}
    for row in events.itertuples():
        run = states[index[row.dyad], row.onset_day - 1:row.end_day]
        assert np.isin(run, spectrum.INFLAMED_STATES).all()
        for edge in (row.onset_day - 2, row.end_day):
            if 0 <= edge < states.shape[1]:
                assert states[index[row.dyad], edge] not in spectrum.INFLAMED_STATES
