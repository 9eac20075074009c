"""Tests of `lactobiome validate` / `calibrate`: targets file, measurements, verdicts, command."""

from __future__ import annotations

import hashlib
import math
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from lactobiome.cli import main
from lactobiome.errors import InputError
from lactobiome.model.parameters import load_parameters
from lactobiome.validation import (
    BEYOND_HORIZON,
    MEASURES,
    NOT_MODELLED,
    OUTSIDE,
    WITHIN,
    Target,
    calibrate,
    load_targets,
    loss,
    measure,
    model_values,
    prior_bounds,
    run_cohort,
    validate_dataset,
    verdict,
    write_parameter_table,
)
from lactobiome.validation.measures.milk_cells import one_sample_per_dyad

SITES = ["maternal_gut", "maternal_mouth", "breast_stroma", "milk", "areolar_skin", "infant_mouth", "infant_gut"]
ORIGINS = SITES + ["resident", "birth", "environment", "probiotic"]
TAXA = [("staphylococcus_epidermidis", "Staphylococcus", "Staphylococcaceae"),
        ("streptococcus_mitis", "Streptococcus", "Streptococcaceae"),
        ("bifidobacterium_breve", "Bifidobacterium", "Bifidobacteriaceae"),
        ("escherichia_coli", "Escherichia", "Enterobacteriaceae")]
DAYS = 182
SAMPLE_DAYS = [1, 2, 3, 5, 6, 7, 10, 14, 30, 60, 90, 120, 150, 180]


def tiny() -> xr.Dataset:
    """Four dyads with hand-set panels and compositions (values chosen to check the arithmetic)."""
    n = 4
    day = np.arange(1, DAYS + 1)
    abundance = np.zeros((n, len(SAMPLE_DAYS), len(SITES), len(TAXA), len(ORIGINS)), dtype=np.float32)
    milk, gut = SITES.index("milk"), SITES.index("infant_gut")
    # milk: staphylococci 10, streptococci 30 cells (resident) on every recorded day
    abundance[:, :, milk, 0, ORIGINS.index("resident")] = 10.0
    abundance[:, :, milk, 1, ORIGINS.index("resident")] = 30.0
    # infant gut: milk-origin share 0.1, 0.2, 0.3, 0.4; areolar 0.05 for all
    for d, share in enumerate([0.1, 0.2, 0.3, 0.4]):
        abundance[d, :, gut, 2, ORIGINS.index("milk")] = 100.0 * share
        abundance[d, :, gut, 2, ORIGINS.index("areolar_skin")] = 5.0
        abundance[d, :, gut, 3, ORIGINS.index("resident")] = 100.0 - 100.0 * share - 5.0
    leuco = np.tile(np.where(day <= 3, 0.4, 0.01), (n, 1))
    leuco[1, :3] = 0.2
    states = np.full((n, DAYS), "none", dtype=object)
    states[0, 9:14] = "bacterial_mastitis"  # one episode, onset day 10
    states[1, 59:61] = "inflammatory_mastitis"  # two episodes, onsets days 60 and 100
    states[1, 99:101] = "inflammatory_mastitis"
    states[2, 19:22] = "bacterial_mastitis"  # one episode, onset day 20
    states[3, 40:45] = "ductal_narrowing"  # not an episode
    # inflammation on episode days: dyad 0 rising to day 3 (not improving), dyad 2 level on day 3
    inflammation = np.full((n, DAYS), 0.2)
    inflammation[0, 9:14] = [1.2, 1.25, 1.3, 1.1, 1.0]
    inflammation[1, 59:61] = inflammation[1, 99:101] = [1.1, 1.0]
    inflammation[2, 19:22] = [1.1, 1.2, 1.1]
    bacteria = np.full((n, DAYS), 1e4)
    staphylococci = np.full((n, DAYS), 1e3)
    # at diagnosis: dyad 0 staphylococcal (6e3 of 1e4), dyad 2 not (2e4 of 1e5); later days differ
    staphylococci[0, 9], bacteria[0, 10:14], staphylococci[0, 10:14] = 6e3, 1e6, 9e5
    bacteria[2, 19], staphylococci[2, 19] = 1e5, 2e4
    panel = ("dyad", "day")
    ds = xr.Dataset(
        {
            "abundance": (("dyad", "sample_day", "site", "taxon", "origin"), abundance),
            "breast_milk_share": ("dyad", np.array([1.0, 1.0, 0.8, 0.0])),
            "direct_breastfeeding_share": ("dyad", np.array([1.0, 0.9, 0.0, 0.0])),
            "delivery_mode": ("dyad", np.array(["vaginal", "caesarean", "vaginal", "vaginal"], dtype=object)),
            "previous_mastitis": ("dyad", np.array([True, False, False, False])),
            "first_time_mother": ("dyad", np.array([False, True, True, False])),
            "nipple_damage": ("dyad", np.array([False, True, False, False])),
            "nipple_fissure": ("dyad", np.array([False, True, False, False])),
            "oversupply": ("dyad", np.array([False, False, True, False])),
            "maternal_atopy": ("dyad", np.array([True, False, False, True])),
            "leucocyte_fraction": (panel, leuco),
            "epithelial_fraction": (panel, 1.0 - leuco - 0.01),
            "stem_cell_fraction": (panel, np.full((n, DAYS), 0.01)),
            "milk_volume_ml": (panel, np.tile([700.0, 700.0, 700.0, 0.0], (DAYS, 1)).T),
            "milk_bacteria_per_ml": (panel, bacteria),
            "milk_staphylococci_per_ml": (panel, staphylococci),
            "somatic_cells_per_ml": (panel, np.full((n, DAYS), 1e5)),
            # Na:K 2 on day 1, 1 on days 2-3, 0.5 from day 4: two thirds of the fall done by day 3
            "na_k_ratio": (panel, np.tile(np.select([day == 1, day <= 3], [2.0, 1.0], 0.5), (n, 1))),
            # sIgA 8 g/L in colostrum (days 1-5), 1 g/L after; HMO 20 then 10 g/L
            "siga_g_per_l": (panel, np.tile(np.where(day <= 5, 8.0, 1.0), (n, 1))),
            "hmo_g_per_l": (panel, np.tile(np.where(day <= 5, 20.0, 10.0), (n, 1))),
            "mastitis_state": (panel, states),
            "fever": (panel, np.zeros((n, DAYS), dtype=bool)),
            "inflammation": (panel, inflammation),
            "treatment": (panel, np.zeros((n, DAYS), dtype=np.int8)),
        },
        coords={"dyad": np.arange(n), "day": day, "sample_day": SAMPLE_DAYS, "site": SITES,
                "origin": ORIGINS, "taxon": [t[0] for t in TAXA], "genus": ("taxon", [t[1] for t in TAXA]),
                "family": ("taxon", [t[2] for t in TAXA])},
        attrs={"seed": "1"},
    )
    return ds


def target(low: float = 0.0, high: float = 1.0, key: str | None = "leucocyte_fraction_colostrum") -> Target:
    return Target(id="T1", system="s", quantity="q", published="p", unit="u", population="pop", time_point="t",
                  source="src", low=low, high=high, measure=key, not_modelled=None if key else "no mechanism")


@pytest.fixture(scope="module")
def simulated() -> xr.Dataset:
    """A small cohort from the simulator itself: the variables a real result has."""
    return run_cohort("default", dyads=4, days=3, seed=2)


# --------------------------------------------------------------------------- targets file
def test_shipped_targets_are_measured_by_their_own_system() -> None:
    targets = load_targets()
    ids = {t.id for t in targets}
    for required in ("E01", "E02", "E03", "C01a", "C08", "C09", "C10b", "A01", "A06", "A07", "B08", "F03",
                     "F06a", "F07a", "F11", "D01", "D11", "E10a", "A11", "A13a", "A14"):
        assert required in ids
    for t in targets:
        if t.measure is None:
            assert len(t.not_modelled or "") > 10, t.id  # a reason, not a placeholder
        else:  # each measurement lives in the module of the system its targets belong to
            assert MEASURES[t.measure].system == t.system, t.id
    # every measurement serves at least one shipped target
    assert {t.measure for t in targets if t.measure} == set(MEASURES)


def test_measurements_need_only_variables_a_simulated_result_has(simulated: xr.Dataset) -> None:
    for key, m in MEASURES.items():
        absent = [name for name in m.needs if name not in simulated.variables]
        assert not absent, f"{key} needs {absent}, which `lactobiome simulate` does not write"


def test_declared_needs_are_all_a_measurement_reads() -> None:
    ds = tiny()
    for key, m in MEASURES.items():
        drop = [name for name in ds.variables if name not in m.needs and name not in ds.dims]
        alone = measure(ds.drop_vars(drop), key, n_boot=0)
        full = measure(ds, key, n_boot=0)
        assert alone.reason == full.reason, key
        assert alone.value == pytest.approx(full.value, nan_ok=True), key


@pytest.mark.parametrize("body, message", [
    ("targets: []\n", "non-empty 'targets'"),
    ("targets: [\n", "not valid YAML"),
    ("targets:\n- 3\n", "must be a mapping"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t}\n",
     "missing field(s) ['source']"),
    ("targets:\n- {id: '', role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, not_modelled: why}\n", "id is empty"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nope, acceptance: [0, 1]}\n", "not in the registry"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nak_day7, not_modelled: why, acceptance: [0, 1]}\n", "exactly one"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s}\n", "exactly one"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nak_day7, acceptance: [2, 1]}\n", "above high"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nak_day7, acceptance: [a, 1]}\n", "must be numbers"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nak_day7, acceptance: [.inf, null]}\n", "finite"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nak_day7, acceptance: [null, null]}\n", "at least one bound"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nak_day7, acceptance: 0.5}\n", "list [low, high]"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, not_modelled: why}\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, "
     "time_point: t, source: s, not_modelled: why}\n", "more than once"),
    ("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, not_modelled: why, colour: red}\n", "unknown field"),
])
def test_bad_targets_file_gives_one_line_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(body)
    with pytest.raises(InputError) as info:
        load_targets(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_targets_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_targets(tmp_path / "absent.yaml")


def test_open_acceptance_bounds_are_read_as_infinite(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, "
                    "time_point: t, source: s, measure: nak_day7, acceptance: [null, 5.4]}\n")
    (t,) = load_targets(path)
    assert t.low == -math.inf and t.high == 5.4
    assert t.acceptance_text == "≤ 5.4"
    assert t.centre == 5.4  # calibration aims at the closed side


# --------------------------------------------------------------------------- verdicts
@pytest.mark.parametrize("value, expected", [
    (0.1, WITHIN), (0.5, WITHIN), (0.3, WITHIN), (0.0999, OUTSIDE), (0.51, OUTSIDE), (math.nan, NOT_MODELLED),
])
def test_verdict_of_a_closed_range_includes_its_bounds(value: float, expected: str) -> None:
    assert verdict(target(0.1, 0.5), value) == expected


def test_verdict_of_an_open_range_and_of_a_target_without_measurement() -> None:
    open_low = target(-math.inf, 5.4)
    assert verdict(open_low, -100.0) == WITHIN
    assert verdict(open_low, 5.5) == OUTSIDE
    assert verdict(target(key=None), 0.3) == NOT_MODELLED  # a value does not make an unmodelled target within


# --------------------------------------------------------------------------- measurements
def test_measurements_compute_what_they_claim() -> None:
    ds = tiny()
    # leucocyte share days 1-3 among breastfed dyads 0-2: per-dyad means 0.4, 0.2, 0.4 -> median 0.4
    assert measure(ds, "leucocyte_fraction_colostrum").value == pytest.approx(0.4)
    # dyads with breast-milk share >= 0.75 (0, 1, 2): milk shares 0.1, 0.2, 0.3 -> mean 0.2
    m = measure(ds, "infant_gut_milk_share_d30")
    assert m.value == pytest.approx(0.2, rel=1e-5) and m.n == 3
    # resampling three dyads' shares (float32 cells): an interval around the value, within their range
    assert 0.1 - 1e-6 <= m.low < m.value < m.high <= 0.3 + 1e-6
    assert measure(ds, "infant_gut_areolar_share_d30").value == pytest.approx(0.05, rel=1e-5)
    # dose response: breast-milk share 1, 1, 0.8 vs gut Shannon rising with dyad (B. breve 0.15, 0.25, 0.35 of
    # cells): ranks (2.5, 2.5, 1) against (1, 2, 3) -> rho = -1.5 / sqrt(1.5 * 2)
    assert measure(ds, "infant_gut_shannon_dose_rho_d30").value == pytest.approx(-1.5 / math.sqrt(3.0))
    # staphylococci 10 of 10 + 30 cells
    assert measure(ds, "milk_staph_of_staph_strep_d30").value == pytest.approx(0.25)
    assert measure(ds, "milk_streptococcus_detected_d30").value == pytest.approx(1.0)
    # streptococci 30 of 40 milk cells at every one of Williams 2019's visits
    assert measure(ds, "milk_streptococcus_share").value == pytest.approx(0.75)
    assert math.isnan(measure(ds.sel(sample_day=[d for d in SAMPLE_DAYS if d != 5]),
                              "milk_streptococcus_share").value)
    # healthy mature milk 1e4 bacteria/mL -> 4 log10
    assert measure(ds, "milk_bacteria_healthy_mature").value == pytest.approx(4.0)
    # Na:K 2 -> 1 -> 0.5: (2 - 1) / (2 - 0.5) of the fall done by day 3; 0.5 on day 7
    assert measure(ds, "nak_fall_done_by_day3").value == pytest.approx(2 / 3)
    assert measure(ds, "nak_day7").value == pytest.approx(0.5)
    # sIgA 8 g/L in colostrum, 1 g/L after: 8-fold day 3 against week 4
    assert measure(ds, "siga_colostrum").value == pytest.approx(8.0)
    assert measure(ds, "siga_fold_d3_vs_week4").value == pytest.approx(8.0)
    assert measure(ds, "hmo_transitional").value == pytest.approx(10.0)


def test_mastitis_measurements_count_episodes_of_inflamed_days() -> None:
    ds = tiny()
    # four onsets (days 10, 60, 100, 20) in 3 breastfeeding dyads x 175 days = 75 weeks; dyad 3's ductal
    # narrowing is not an episode (and dyad 3 has no breast milk)
    assert measure(ds, "mastitis_incidence").value == pytest.approx(1000.0 * 4 / 75.0)
    assert measure(ds, "mastitis_onsets_first_6_weeks").value == pytest.approx(2 / 4)
    assert measure(ds, "mastitis_prevalence").value == pytest.approx(1.0)
    # one of three affected dyads has a second episode; first onsets on days 10, 60, 20
    assert measure(ds, "mastitis_recurrence_share").value == pytest.approx(1 / 3)
    assert measure(ds, "mastitis_first_onset_7_weeks").value == pytest.approx(2 / 3)
    # loads on the day of diagnosis (days 10 and 20), not later in the episode
    assert measure(ds, "milk_bacteria_mastitis").value == pytest.approx(4.5)
    # only dyad 0's episode is staphylococcal at diagnosis
    staph = measure(ds, "milk_staphylococci_mastitis")
    assert staph.value == pytest.approx(np.log10(6e3)) and staph.n == 1
    # bacterial mastitis (dyad 0, days 10-14) holds recorded days 10 and 14
    assert measure(ds, "mastitis_milk_s_epidermidis").value == pytest.approx(1.0)


def test_mastitis_loads_through_culture_count_colonies_of_the_live_cells_at_diagnosis() -> None:
    from lactobiome.validation.pipelines import run_pipeline

    ds = tiny()
    recovery = load_parameters().value("obs_culture_recovery", "fraction")
    staph_truth = measure(ds, "milk_staphylococci_mastitis", 0).value
    staph = run_pipeline(ds, "culture/plate", "milk_staphylococci_mastitis", 0, seed=3)
    # every staphylococcus is culturable: the plate count is the live count times the recovery
    # (about 300 colonies on the plate, so Poisson noise is ~0.03 log10)
    assert staph.value == pytest.approx(staph_truth + math.log10(recovery), abs=0.1) and staph.n == 1
    total_truth = measure(ds, "milk_bacteria_mastitis", 0).value
    total = run_pipeline(ds, "culture/plate", "milk_bacteria_mastitis", 0, seed=3)
    # never more colonies than the recovered live cells; fewer where some taxa do not grow
    assert total_truth + math.log10(recovery) - 0.1 < total.value < total_truth
    assert run_pipeline(ds, "culture/plate", "milk_bacteria_mastitis", 0, seed=3).value == total.value
    targets = {t.id: t for t in load_targets()}
    assert targets["A06"].measured_by == targets["A07"].measured_by == "culture/plate"



def test_marin_culture_finds_a_minority_taxon_in_fewer_mastitis_milks_than_the_one_percent_reading() -> None:
    from lactobiome.validation.pipelines import run_pipeline

    ds = tiny()
    identified = int(load_parameters().value("obs_colonies_identified", "1"))
    # dyad 0's recorded bacterial days 10 and 14: S. epidermidis a quarter of the cells (above 1%), S. mitis
    # three quarters; hundreds of colonies on each plate, so an S. epidermidis colony is among those identified
    # with probability about 1 - 0.75^k
    truth = measure(ds, "mastitis_milk_s_epidermidis", 0).value
    found = run_pipeline(ds, "marin2017/culture", "mastitis_milk_s_epidermidis", 0, seed=3).value
    assert truth == pytest.approx(1.0)
    assert found == pytest.approx(1.0 - 0.75 ** identified, abs=0.01) and found < truth
    # the majority taxon is found in (nearly) every sample
    assert run_pipeline(ds, "marin2017/culture", "mastitis_milk_streptococci", 0, seed=3).value > 0.999
    targets = {t.id: t for t in load_targets()}
    assert {targets[i].measured_by for i in ("D14a", "D14b", "D14c")} == {"marin2017/culture"}

def test_ductal_narrowing_next_to_an_episode_does_not_change_the_counts() -> None:
    ds = tiny()
    before = {k: measure(ds, k, n_boot=0).value for k in ("mastitis_incidence", "mastitis_recurrence_share",
                                                          "mastitis_prevalence", "scc_mastitis")}
    states = ds["mastitis_state"].values.copy()
    states[1, 55:59] = "ductal_narrowing"  # leads into dyad 1's first episode
    states[1, 61:64] = "ductal_narrowing"  # and follows it
    states[2, 120:125] = "ductal_narrowing"  # alone
    states[0, 100:110] = "subacute_mastitis"  # not inflamed either
    changed = ds.assign(mastitis_state=(("dyad", "day"), states))
    after = {k: measure(changed, k, n_boot=0).value for k in before}
    assert after == pytest.approx(before)
    # an inflamed day between two episodes joins them
    states[1, 61:99] = "inflammatory_mastitis"
    joined = ds.assign(mastitis_state=(("dyad", "day"), states))
    assert measure(joined, "mastitis_incidence").value == pytest.approx(1000.0 * 3 / 75.0)
    assert measure(joined, "mastitis_recurrence_share").value == pytest.approx(0.0)


def test_unmeasurable_targets_are_not_modelled_with_a_reason() -> None:
    ds = tiny()
    m = measure(ds, "milk_volume_month12")
    assert math.isnan(m.value) and "horizon" in m.reason
    no_bacterial = ds.assign(mastitis_state=ds["mastitis_state"].where(
        ds["mastitis_state"] != "bacterial_mastitis", "inflammatory_mastitis"))
    m = measure(no_bacterial, "milk_bacteria_mastitis")
    assert math.isnan(m.value) and "no bacterial mastitis episode" in m.reason
    table = validate_dataset(ds, n_boot=20).set_index("id")
    assert table.loc["F12b", "verdict"] == BEYOND_HORIZON and "horizon" in table.loc["F12b", "reason"]
    assert table.loc["F11", "verdict"] == NOT_MODELLED and table.loc["F11", "measure"] == ""
    assert (table.loc[table["verdict"] == NOT_MODELLED, "reason"].str.len() > 0).all()
    assert table.loc["C01a", "model"] == pytest.approx(0.4)  # the same measurement as measure() gives


def test_a_missing_variable_is_a_one_line_error_naming_target_variable_and_file(tmp_path: Path) -> None:
    ds = tiny().drop_vars("na_k_ratio")
    with pytest.raises(InputError) as info:
        validate_dataset(ds, n_boot=0, source="cohort.nc")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("cohort.nc: ")
    assert "target B05" in text and "'na_k_ratio'" in text  # the first target measured from Na:K
    with pytest.raises(InputError, match="measurement nak_day7 needs the variable 'na_k_ratio'"):
        measure(ds, "nak_day7")
    # targets that do not read the variable are still measured
    table = validate_dataset(ds, [t for t in load_targets() if t.id in ("C01a", "F11")], n_boot=0)
    assert list(table["verdict"]) == [WITHIN, NOT_MODELLED]


# --------------------------------------------------------------------------- command
def _write(ds: xr.Dataset, path: Path) -> Path:
    ds.to_netcdf(path, engine="netcdf4")
    return path


def test_validate_command_writes_tables_and_strict_exit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = _write(tiny(), tmp_path / "tiny.nc")
    out = tmp_path / "report" / "validation.md"
    assert main(["validate", "--from", str(result), "--out", str(out), "--bootstrap", "10"]) == 0
    text = out.read_text()
    assert "## Why each `outside` target is outside" in text and "not medical advice" in text
    csv = out.with_suffix(".csv").read_text().splitlines()
    assert csv[0].split(",")[:3] == ["id", "quantity", "published"] and len(csv) == 1 + len(load_targets())
    assert sorted(p.name for p in out.parent.iterdir()) == ["validation.csv", "validation.md"]  # no temp files
    strict = ["validate", "--from", str(result), "--out", str(tmp_path / "v.csv"), "--bootstrap", "0", "--strict"]
    assert main(strict) == 1  # the tiny dataset puts some target outside
    ok = tmp_path / "ok.yaml"
    ok.write_text("targets:\n- {id: X, role: check, system: s, quantity: q, published: p, unit: u, population: p, "
                  "time_point: t, source: s, measure: leucocyte_fraction_colostrum, acceptance: [0.3, 0.5]}\n")
    assert main(["validate", "--from", str(result), "--targets", str(ok), "--out", str(tmp_path / "w.csv"),
                 "--strict"]) == 0
    assert "1 within, 0 outside, 0 not modelled" in capsys.readouterr().out


def test_validate_command_names_the_file_lacking_a_variable(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = _write(tiny().drop_vars("siga_g_per_l"), tmp_path / "old.nc")
    assert main(["validate", "--from", str(result), "--out", str(tmp_path / "v.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert str(result) in err and "target F01a" in err and "'siga_g_per_l'" in err
    assert not (tmp_path / "v.csv").exists()


def test_bad_targets_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: 3\n")
    assert main(["validate", "--from", str(_write(tiny(), tmp_path / "t.nc")), "--targets", str(bad),
                 "--out", str(tmp_path / "v.csv")]) == 2
    assert "lactobiome: error:" in capsys.readouterr().err


# --------------------------------------------------------------------------- priors, calibration
def test_prior_bounds() -> None:
    assert prior_bounds("uniform", (1.0, 3.0)) == (1.0, 3.0)
    assert prior_bounds("normal", (1.0, 0.5)) == (0.0, 2.0)
    assert prior_bounds("lognormal", (0.0, 0.5)) == pytest.approx((math.exp(-1.0), math.e))
    assert prior_bounds("fixed", ()) is None
    # beta(2, 2) has CDF 3x^2 - 2x^3: its bounds are where that is 2.5% and 97.5%
    low, high = prior_bounds("beta", (2.0, 2.0))
    assert 3 * low**2 - 2 * low**3 == pytest.approx(0.025)
    assert 3 * high**2 - 2 * high**3 == pytest.approx(0.975)


def test_parameter_table_copy_never_touches_the_shipped_one(tmp_path: Path) -> None:
    shipped = Path(str(resources.files("lactobiome.data").joinpath("parameters.csv")))
    digest = hashlib.sha256(shipped.read_bytes()).hexdigest()
    out = write_parameter_table(None, {"feeds_per_day": 12.5}, tmp_path / "p.csv", note="test fit")
    copy, original = load_parameters(out), load_parameters()
    assert copy["feeds_per_day"].value == 12.5
    assert copy["feeds_per_day"].note.endswith("[test fit]")
    assert [n for n in original if copy[n] != original[n]] == ["feeds_per_day"]
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]  # no temp file left behind
    with pytest.raises(InputError, match="refusing"):
        write_parameter_table(None, {"feeds_per_day": 1.0}, shipped)
    with pytest.raises(InputError, match="refusing"):
        write_parameter_table(out, {"feeds_per_day": 1.0}, out)
    with pytest.raises(InputError, match="not in the parameter table: no_such"):
        write_parameter_table(None, {"no_such": 1.0}, tmp_path / "q.csv")


DAY1 = "milk_intake_day1_ml_per_day"


def _day1_target() -> Target:
    return Target(id="V1", system="milk_volume", quantity="q", published="p", unit="mL/day", population="pop",
                  time_point="day 1", source="test", low=60.0, high=70.0, measure="milk_volume_day1")


def test_calibration_moves_the_model_towards_its_target() -> None:
    goal = _day1_target()
    start = load_parameters().with_values({DAY1: 12.0})  # far below the range
    fit = calibrate([DAY1], [goal], dyads=6, days=1, seed=4, max_evals=8, parameters=start, progress=False)
    assert fit.evaluations <= 8
    # measured independently, at the start and at the fitted value, on the same cohort
    before = model_values(run_cohort("default", 6, 1, 4, start), [goal])["V1"]
    after = model_values(run_cohort("default", 6, 1, 4, start.with_values(fit.values)), [goal])["V1"]
    assert loss({"V1": after}, [goal]) < loss({"V1": before}, [goal])
    assert abs(after - goal.centre) < abs(before - goal.centre)
    assert fit.loss_before == pytest.approx(loss({"V1": before}, [goal]))
    assert fit.loss_after == pytest.approx(loss({"V1": after}, [goal]))
    assert fit.target_values["V1"] == pytest.approx(after)


def test_calibrate_command_writes_a_table_that_fits_better(tmp_path: Path) -> None:
    start_path = write_parameter_table(None, {DAY1: 12.0}, tmp_path / "start.csv")
    out = tmp_path / "fitted.csv"
    assert main(["calibrate", "--parameters", DAY1, "--targets", "F07a", "--out", str(out), "--from-parameters",
                 str(start_path), "--dyads", "6", "--days", "1", "--max-evals", "4", "--no-progress"]) == 0
    f07a = next(t for t in load_targets() if t.id == "F07a")
    start, fitted = load_parameters(start_path), load_parameters(out)
    assert [n for n in start if fitted[n].value != start[n].value] == [DAY1]
    before = model_values(run_cohort("default", 6, 1, 1, start), [f07a])["F07a"]
    after = model_values(run_cohort("default", 6, 1, 1, fitted), [f07a])["F07a"]
    assert loss({"F07a": after}, [f07a]) < loss({"F07a": before}, [f07a])
    assert main(["calibrate", "--parameters", DAY1, "--targets", "F11", "--out",
                 str(tmp_path / "x.csv"), "--dyads", "4", "--days", "2"]) == 2  # F11 is not modelled
    assert not (tmp_path / "x.csv").exists()


def test_sensitivity_screen_runs_each_parameter_at_its_prior_ends() -> None:
    from lactobiome.validation import sensitivity, top_effects

    f07a = next(t for t in load_targets() if t.id == "F07a")
    screen = sensitivity([f07a], dyads=4, days=2, seed=3, names=[DAY1, "feeds_per_day"], progress=False)
    assert set(screen["parameter"]) == {DAY1, "feeds_per_day"}
    row = screen[screen["parameter"] == DAY1].iloc[0]
    assert (row["low"], row["high"]) == (10.0, 120.0)  # uniform(10, 120)
    low = model_values(run_cohort("default", 4, 2, 3, overrides={DAY1: 10.0}), [f07a])["F07a"]
    high = model_values(run_cohort("default", 4, 2, 3, overrides={DAY1: 120.0}), [f07a])["F07a"]
    assert (row["value_low"], row["value_high"]) == pytest.approx((low, high))
    assert row["value_low"] < row["baseline"] < row["value_high"]  # the shipped 40 mL lies between
    assert top_effects(screen).iloc[0]["parameter"] == DAY1
    with pytest.raises(InputError, match="not free parameters"):
        sensitivity([f07a], dyads=2, days=1, names=["no_such_parameter"], progress=False)


def test_validation_does_not_import_the_command_line() -> None:
    import subprocess
    import sys

    code = ("import sys, lactobiome.validation; "
            "print(sorted(m for m in sys.modules if m.startswith('lactobiome.cli')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_provider_diagnosed_counts_febrile_or_not_improving_episodes_only() -> None:
    from lactobiome.validation.measures.risk import CONSULT_AFTER_DAYS, consulted
    from lactobiome.validation.pipelines import run_pipeline

    assert CONSULT_AFTER_DAYS == 3  # the rule the tiny cohort's episodes are laid out for
    ds = tiny()
    # dyad 0: 5 inflamed days, dyad 2: 3 days, neither less inflamed on day 3 than at onset -> taken
    # to a provider; dyad 1: two 2-day episodes, no fever
    affected, diagnosed = consulted(ds, 182)
    assert affected.tolist() == [True, True, True, False]
    assert diagnosed.tolist() == [True, False, True, False]
    assert measure(ds, "mastitis_consulted_share_26wk", n_boot=0).value == pytest.approx(2 / 3)
    # an episode still inflamed on day 3 but subsiding (below its onset level) is managed at home
    inflammation = ds["inflammation"].values.copy()
    inflammation[2, 21] = 1.05
    subsiding = ds.assign(inflammation=(("dyad", "day"), inflammation))
    assert consulted(subsiding, 182)[1].tolist() == [True, False, False, False]
    fever = ds["fever"].values.copy()
    fever[1, 100] = True  # fever on the second day of dyad 1's second episode (onset day 100)
    febrile = ds.assign(fever=(("dyad", "day"), fever))
    assert consulted(febrile, 182)[1].tolist() == [True, True, True, False]
    # by 12 weeks dyad 1's febrile episode (day 100) is not yet there: 2 of 3 breastfed dyads diagnosed
    truth = measure(febrile, "mastitis_cumulative_12_weeks", n_boot=0).value
    seen = run_pipeline(febrile, "foxman2002/provider_diagnosed", "mastitis_cumulative_12_weeks", n_boot=0)
    assert truth == pytest.approx(1.0) and seen.value == pytest.approx(2 / 3)
    none = run_pipeline(ds, "foxman2002/provider_diagnosed", "mastitis_incidence", n_boot=0)
    assert math.isnan(none.value) and "no reading" in none.reason


def test_first_onset_and_first_time_mother_measures() -> None:
    ds = tiny()
    # first onsets of the breastfed dyads: day 10, 60, 20 -> two of three within 4 weeks
    assert measure(ds, "mastitis_first_onset_4_weeks", n_boot=0).value == pytest.approx(2 / 3)
    # first-time breastfed mothers are dyads 1 and 2: both affected by day 182, only dyad 2 by day 56
    assert measure(ds, "mastitis_cumulative_26_weeks_first_time", n_boot=0).value == pytest.approx(1.0)
    assert measure(ds, "mastitis_cumulative_8_weeks_first_time", n_boot=0).value == pytest.approx(0.5)
    # SCC 1e5 everywhere: no raised day
    assert measure(ds, "subclinical_scc_healthy_days", n_boot=0).value == pytest.approx(0.0)


def test_foxman_odds_ratio_counts_provider_diagnosed_cases_only() -> None:
    from lactobiome.validation.pipelines import run_pipeline

    # previous mastitis for dyads 0 and 1; dyad 3 breastfed without an episode
    ds = tiny().assign(previous_mastitis=("dyad", np.array([True, True, False, False])),
                       breast_milk_share=("dyad", np.array([1.0, 1.0, 0.8, 1.0])))
    # dyad 1's episode (day 60) is never taken to a provider: exposed 1 case of 2, unexposed 1 of 2
    seen = run_pipeline(ds, "foxman2002/provider_diagnosed", "mastitis_or_previous_mastitis_12wk", n_boot=0)
    assert seen.value == pytest.approx(1.0)
    # counted as a case (fever on its first day), the exposed have no non-case left: no odds ratio
    fever = ds["fever"].values.copy()
    fever[1, 59] = True
    febrile = ds.assign(fever=(("dyad", "day"), fever))
    assert math.isnan(run_pipeline(febrile, "foxman2002/provider_diagnosed", "mastitis_or_previous_mastitis_12wk",
                                   n_boot=0).value)


def test_kvist_clinic_reads_fever_on_the_first_day_of_every_episode() -> None:
    from lactobiome.validation.pipelines import run_pipeline

    ds = tiny()
    fever = ds["fever"].values.copy()
    fever[0, 9] = True  # day 10, the first day of dyad 0's episode: febrile when first seen
    fever[2, 20] = True  # day 21, the second day of dyad 2's episode: afebrile at the first visit
    ds = ds.assign(fever=(("dyad", "day"), fever))
    # four episodes of the three breastfed dyads (dyad 1 has two, both afebrile): whatever the
    # consultation rule would have sent to a provider, each woman's first is a clinic episode; dyad 1's
    # second (onset day 100) began 39 days after her first ended (day 61), a recurrence within six weeks
    truth = measure(ds, "mastitis_febrile_episodes_26wk", n_boot=0).value
    seen = run_pipeline(ds, "kvist2007/first_visit_temperature", "mastitis_febrile_episodes_26wk", n_boot=0)
    assert truth == pytest.approx(2 / 4) and seen.value == pytest.approx(1 / 3)
    other = run_pipeline(ds, "kvist2007/first_visit_temperature", "mastitis_cumulative_12_weeks", n_boot=0)
    assert math.isnan(other.value) and "no reading" in other.reason


def test_kvist_clinic_counts_a_recurrence_within_six_weeks_as_the_same_episode() -> None:
    from lactobiome.validation.measures.risk import CLINIC_RECURRENCE_WINDOW_DAYS, clinic_episodes

    assert CLINIC_RECURRENCE_WINDOW_DAYS == 42
    # dyad 0: days 10-11, then onsets on day 40 and day 53 (42 days after day 11, the last day of
    # her clinic episode: recurrences) and day 100 (a new clinic episode); dyad 1: day 30
    ep = {"dyad_index": np.array([0, 0, 1, 0, 0]), "onset_day": np.array([10, 53, 30, 100, 40]),
          "duration_days": np.array([2, 1, 4, 3, 1])}
    assert clinic_episodes(ep).tolist() == [True, False, True, True, False]
    # day 54 is 43 days on: a new episode, whose own window then holds day 96 (54 + 42) but not day 100
    ep["onset_day"] = np.array([10, 54, 30, 100, 96])
    assert clinic_episodes(ep).tolist() == [True, True, True, True, False]


def test_kvist_clinic_reads_fewer_febrile_women_at_a_later_visit_when_fever_resolves() -> None:
    from lactobiome.validation.measures.risk import febrile_at_clinic_visit_26wk

    ds = tiny()
    fever = ds["fever"].values.copy()
    fever[0, 9:11] = True  # dyad 0: fever on days 1-2 of her episode (days 10-11)
    fever[2, 19] = True  # dyad 2: fever on day 1 only (day 20), resolved by day 2
    ds = ds.assign(fever=(("dyad", "day"), fever))

    def share(day: int) -> float:
        counts = febrile_at_clinic_visit_26wk(ds, visit_day=day).data
        return float(counts[:, 0].sum() / counts[:, 1].sum())

    # clinic episodes: dyads 0 and 2 and dyad 1's first (afebrile)
    assert share(1) == pytest.approx(2 / 3)
    assert share(2) == pytest.approx(1 / 3)  # dyad 2's fever is over
    assert share(3) == pytest.approx(0.0)
    # a visit past the end of an episode reads its last day (dyad 1's 2-day episode: day 2)
    assert share(9) == pytest.approx(0.0)
    for bad in (0, -1, 1.5, True, "1"):
        with pytest.raises(InputError, match=re.escape(
                f"visit_day: expected a whole day of the episode, 1 or later (1 = onset day), got {bad!r}")):
            febrile_at_clinic_visit_26wk(ds, visit_day=bad)  # type: ignore[arg-type]


def test_amir_case_definition_counts_febrile_episodes_only() -> None:
    from lactobiome.validation.pipelines import run_pipeline

    key = "amir2007/fever_or_flu_like"
    ds = tiny()  # first-time breastfed mothers: dyads 1 (onsets days 60, 100; nipple damage) and 2 (day 20)
    fever = ds["fever"].values.copy()
    fever[2, 21] = True  # the third day of dyad 2's episode
    febrile = ds.assign(fever=(("dyad", "day"), fever))
    # every episode counts in the truth; only dyad 2's febrile one meets Amir's definition
    assert measure(febrile, "mastitis_cumulative_26_weeks_first_time", n_boot=0).value == pytest.approx(1.0)
    assert run_pipeline(febrile, key, "mastitis_cumulative_26_weeks_first_time",
                        n_boot=0).value == pytest.approx(0.5)
    assert run_pipeline(febrile, key, "mastitis_onsets_first_4_weeks_first_time",
                        n_boot=0).value == pytest.approx(1.0)
    # the damaged mother (dyad 1) has no febrile episode: no case among the exposed, odds ratio 0
    assert run_pipeline(febrile, key, "mastitis_or_nipple_damage_first_time_26wk",
                        n_boot=0).value == pytest.approx(0.0)
    # with fever on dyad 1's second episode (day 101) her late onset is the only one outside weeks 1-4
    fever[1, 100] = True
    both = ds.assign(fever=(("dyad", "day"), fever))
    assert run_pipeline(both, key, "mastitis_onsets_first_4_weeks_first_time",
                        n_boot=0).value == pytest.approx(0.5)
    assert run_pipeline(both, key, "mastitis_cumulative_26_weeks_first_time", n_boot=0).value == pytest.approx(1.0)


def test_nipple_aureus_risk_ratio_reads_detected_carriage_of_first_time_mothers() -> None:
    ds = tiny().assign(first_time_mother=("dyad", np.ones(4, dtype=bool)))
    ds = ds.assign_coords(taxon=["staphylococcus_aureus", *[t[0] for t in TAXA[1:]]])
    abundance = ds["abundance"].values.copy()
    skin, resident = SITES.index("areolar_skin"), ORIGINS.index("resident")
    abundance[:, :, skin, 1, resident] = 100.0
    abundance[[0, 1], :, skin, 0, resident] = 5.0  # detected (5 of 105 cells)
    abundance[2, :, skin, 0, resident] = 0.5  # below the detection share
    ds = ds.assign(abundance=(ds["abundance"].dims, abundance))
    # breastfed dyads 0-2; onsets by day 56: dyads 0 (day 10) and 2 (day 20); carriers 0 and 1
    assert measure(ds, "mastitis_rr_nipple_aureus_first_time_8wk", n_boot=0).value == pytest.approx(0.5)
    abundance[:, :, skin, 0, resident] = 0.0
    none = measure(ds.assign(abundance=(ds["abundance"].dims, abundance)), "mastitis_rr_nipple_aureus_first_time_8wk",
                   n_boot=0)
    assert math.isnan(none.value) and "with S. aureus" in none.reason


def test_caesarean_odds_ratio_reads_the_delivery_mode() -> None:
    ds = tiny().assign(breast_milk_share=("dyad", np.ones(4)),
                       delivery_mode=("dyad", np.array(["caesarean", "vaginal", "vaginal", "caesarean"], dtype=object)))
    # cases by day 182: dyads 0-2; caesarean: 0 (case) and 3 (no case) -> a=1, b=1, c=2, d=0
    assert measure(ds, "mastitis_or_caesarean_26wk", n_boot=0).value == pytest.approx(0.0)


def test_asymptomatic_sample_reads_one_calm_day_per_breastfed_dyad() -> None:
    ds = tiny()
    scc = ds["somatic_cells_per_ml"].values.copy()
    # dyad 0: 1e6/mL on every episode day, 1e4 on its calm days: its one sample is a calm day
    scc[0, :] = 1e4
    scc[0, 9:14] = 1e6
    scc[1, :] = 1e5
    scc[2, :] = 1e3
    scc[3, :] = 1e7  # formula-fed: never sampled
    value = measure(ds.assign(somatic_cells_per_ml=(("dyad", "day"), scc)), "scc_asymptomatic_sample_p95",
                    n_boot=0).value
    # the three breastfed samples are 1e4, 1e5 and 1e3 whatever day is drawn
    assert value == pytest.approx(float(np.percentile([4.0, 5.0, 3.0], 95)))


def test_saint_reading_weighs_each_exclusively_breastfed_mother_once_on_day_14_or_28() -> None:
    ds = tiny()
    # intake rising 10 mL/day in dyads 0 and 1 (the exclusively breastfed), flat elsewhere
    volume = ds["milk_volume_ml"].values.copy()
    volume[:2] = 500.0 + 10.0 * np.arange(1, DAYS + 1)
    ds["milk_volume_ml"] = (("dyad", "day"), volume)
    # dyad 0 weighed on day 14 (640 mL), dyad 1 on day 28 (780 mL); the mean of the two readings
    assert measure(ds, "milk_volume_days14_28").value == pytest.approx((640.0 + 780.0) / 2)
    # dyad 2 (breast-milk share 0.8) is not exclusively breastfed and is not weighed
    assert measure(ds, "milk_volume_days14_28").n == 2


def test_hassiotou_readings_take_one_sample_per_dyad_on_an_eligible_day() -> None:
    ds = tiny()
    leuco = ds["leucocyte_fraction"].values.copy()
    # healthy mature milk: 0.005, 0.01 and 0.03 in the breastfed dyads 0-2; dyad 1's inflamed days carry 0.5
    for d, value in enumerate([0.005, 0.01, 0.03]):
        leuco[d, 29:] = value
    leuco[1, 59:61] = leuco[1, 99:101] = 0.5
    # clinical mastitis days: 0.9 in dyad 0 (bacterial), 0.8 in dyad 1 (inflammatory), 0.7 in dyad 2
    leuco[0, 9:14], leuco[2, 19:22] = 0.9, 0.7
    leuco[1, 59:61] = leuco[1, 99:101] = 0.8
    ds["leucocyte_fraction"] = (("dyad", "day"), leuco)
    healthy = measure(ds, "leucocyte_fraction_mature_sample")
    # an inflamed day is never sampled as healthy milk; dyad 3 (no breast milk) is not sampled
    assert healthy.value == pytest.approx(0.01) and healthy.n == 3
    sick = measure(ds, "leucocyte_fraction_mastitis_sample")
    # inflammatory as well as bacterial episodes count; dyad 3's ductal narrowing is not an episode
    assert sick.value == pytest.approx(0.8) and sick.n == 3
    # a dyad's sample is one of its own eligible days
    values = np.arange(12, dtype=np.float64).reshape(2, 6)
    eligible = np.array([[False, True, False, True, False, False], [False] * 6])
    got, sampled = one_sample_per_dyad(values, eligible, seed=3)
    assert got[0] in (1.0, 3.0) and math.isnan(got[1]) and sampled.tolist() == [True, False]
