"""Tests of `lactobiome validate` / `calibrate`: targets file, measurements, verdicts, command."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from lactobiome.cli import main
from lactobiome.errors import InputError
from lactobiome.model.parameters import load_parameters
from lactobiome.validation import (
    MEASURES,
    NOT_MODELLED,
    OUTSIDE,
    WITHIN,
    Target,
    load_targets,
    measure,
    prior_bounds,
    validate_dataset,
    verdict,
    write_parameter_table,
)

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
    leuco = np.tile(np.where(np.arange(1, DAYS + 1) <= 3, 0.4, 0.01), (n, 1))
    leuco[1, :3] = 0.2
    states = np.full((n, DAYS), "none", dtype=object)
    states[0, 9:14] = "bacterial_mastitis"  # one episode, onset day 10
    states[1, 59:61] = "inflammatory_mastitis"  # two episodes, onsets days 60 and 100
    states[1, 99:101] = "inflammatory_mastitis"
    states[2, 19:22] = "bacterial_mastitis"  # one episode, onset day 20
    bacteria = np.full((n, DAYS), 1e4)
    staphylococci = np.full((n, DAYS), 1e3)
    # at diagnosis: dyad 0 staphylococcal (6e3 of 1e4), dyad 2 not (2e4 of 1e5); later days differ
    staphylococci[0, 9], bacteria[0, 10:14], staphylococci[0, 10:14] = 6e3, 1e6, 9e5
    bacteria[2, 19], staphylococci[2, 19] = 1e5, 2e4
    ds = xr.Dataset(
        {
            "abundance": (("dyad", "sample_day", "site", "taxon", "origin"), abundance),
            "breast_milk_share": ("dyad", np.array([1.0, 1.0, 0.8, 0.0])),
            "direct_breastfeeding_share": ("dyad", np.array([1.0, 0.9, 0.0, 0.0])),
            "delivery_mode": ("dyad", np.array(["vaginal", "caesarean", "vaginal", "vaginal"], dtype=object)),
            "leucocyte_fraction": (("dyad", "day"), leuco),
            "milk_volume_ml": (("dyad", "day"), np.tile([700.0, 700.0, 700.0, 0.0], (DAYS, 1)).T),
            "milk_bacteria_per_ml": (("dyad", "day"), bacteria),
            "milk_staphylococci_per_ml": (("dyad", "day"), staphylococci),
            "somatic_cells_per_ml": (("dyad", "day"), np.full((n, DAYS), 1e5)),
            "mastitis_state": (("dyad", "day"), states),
        },
        coords={"dyad": np.arange(n), "day": np.arange(1, DAYS + 1), "sample_day": SAMPLE_DAYS, "site": SITES,
                "origin": ORIGINS, "taxon": [t[0] for t in TAXA], "genus": ("taxon", [t[1] for t in TAXA]),
                "family": ("taxon", [t[2] for t in TAXA])},
    )
    return ds


def target(low: float = 0.0, high: float = 1.0, key: str | None = "leucocyte_fraction_colostrum") -> Target:
    return Target(id="T1", system="s", quantity="q", published="p", unit="u", population="pop", time_point="t",
                  source="src", low=low, high=high, measure=key, not_modelled=None if key else "no mechanism")


# --------------------------------------------------------------------------- targets file
def test_every_shipped_target_has_a_measurement_or_a_reason() -> None:
    targets = load_targets()
    assert len(targets) >= 60
    for t in targets:
        assert (t.measure is None) != (t.not_modelled is None), t.id
        if t.measure is not None:
            assert t.measure in MEASURES, t.id
            assert t.low <= t.high
        else:
            assert len(t.not_modelled) > 10, t.id
    ids = {t.id for t in targets}
    for required in ("E01", "E02", "E03", "C01a", "C08", "C09", "C10b", "A01", "A06", "A07", "B08", "F03",
                     "F06a", "F07a", "F11", "D01", "D11", "E10a", "A11", "A13a", "A14"):
        assert required in ids


@pytest.mark.parametrize("body, message", [
    ("targets: []\n", "non-empty 'targets'"),
    ("targets: [\n", "not valid YAML"),
    ("targets:\n- {id: X, system: s, quantity: q, published: p, unit: u, population: p, time_point: t}\n",
     "missing field(s) ['source']"),
    ("targets:\n- {id: X, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nope, acceptance: [0, 1]}\n", "not in the registry"),
    ("targets:\n- {id: X, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nak_day7, not_modelled: why, acceptance: [0, 1]}\n", "exactly one"),
    ("targets:\n- {id: X, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nak_day7, acceptance: [2, 1]}\n", "above high"),
    ("targets:\n- {id: X, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, measure: nak_day7, acceptance: [a, 1]}\n", "must be numbers"),
    ("targets:\n- {id: X, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, not_modelled: why}\n- {id: X, system: s, quantity: q, published: p, unit: u, population: p, "
     "time_point: t, source: s, not_modelled: why}\n", "more than once"),
    ("targets:\n- {id: X, system: s, quantity: q, published: p, unit: u, population: p, time_point: t, "
     "source: s, not_modelled: why, colour: red}\n", "unknown field"),
])
def test_bad_targets_file_gives_one_line_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(body)
    with pytest.raises(InputError, match=None) as info:
        load_targets(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_targets_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_targets(tmp_path / "absent.yaml")


# --------------------------------------------------------------------------- verdicts
def test_verdict_logic() -> None:
    t = target(0.1, 0.5)
    assert verdict(t, 0.1) == WITHIN and verdict(t, 0.5) == WITHIN and verdict(t, 0.3) == WITHIN
    assert verdict(t, 0.0999) == OUTSIDE and verdict(t, 0.51) == OUTSIDE
    assert verdict(t, math.nan) == NOT_MODELLED
    assert verdict(target(key=None), 0.3) == NOT_MODELLED
    open_low = target(-math.inf, 5.4)
    assert verdict(open_low, -100.0) == WITHIN and verdict(open_low, 5.5) == OUTSIDE
    assert open_low.acceptance_text == "≤ 5.4"


# --------------------------------------------------------------------------- measurements
def test_measurements_compute_what_they_claim() -> None:
    ds = tiny()
    # leucocyte share days 1-3 among breastfed dyads 0-2: per-dyad means 0.4, 0.2, 0.4 -> median 0.4
    assert measure(ds, "leucocyte_fraction_colostrum").value == pytest.approx(0.4)
    # dyads with breast-milk share >= 0.75 (0, 1, 2): milk shares 0.1, 0.2, 0.3 -> mean 0.2
    m = measure(ds, "infant_gut_milk_share_d30")
    assert m.value == pytest.approx(0.2, rel=1e-5)
    assert m.low <= m.value <= m.high and m.n == 3
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
    # four onsets (days 10, 60, 100, 20) in 3 breastfeeding dyads x 175 days = 75 weeks
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


def test_unmeasurable_targets_are_not_modelled_with_a_reason() -> None:
    ds = tiny()
    m = measure(ds, "milk_volume_month12")
    assert math.isnan(m.value) and "horizon" in m.reason
    assert math.isnan(measure(ds, "hmo_colostrum").value)  # variable absent from this dataset
    table = validate_dataset(ds, n_boot=20)
    assert set(table["verdict"]) <= {WITHIN, OUTSIDE, NOT_MODELLED}
    assert (table.loc[table["verdict"] == NOT_MODELLED, "reason"].str.len() > 0).all()
    assert len(table) == len(load_targets())


# --------------------------------------------------------------------------- command
def _write(ds: xr.Dataset, path: Path) -> Path:
    ds.to_netcdf(path, engine="netcdf4")
    return path


def test_validate_command_writes_tables_and_strict_exit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = _write(tiny(), tmp_path / "tiny.nc")
    out = tmp_path / "report" / "validation.md"
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--from", str(result), "--out", str(out), "--bootstrap", "10"])
    assert exit_info.value.code == 0
    assert out.exists() and out.with_suffix(".csv").exists()
    text = out.read_text()
    assert "## Why each `outside` target is outside" in text and "not medical advice" in text
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--from", str(result), "--out", str(tmp_path / "v.csv"), "--bootstrap", "0", "--strict"])
    assert exit_info.value.code == 1  # the tiny dataset puts some target outside
    ok = tmp_path / "ok.yaml"
    ok.write_text("targets:\n- {id: X, system: s, quantity: q, published: p, unit: u, population: p, "
                  "time_point: t, source: s, measure: leucocyte_fraction_colostrum, acceptance: [0.3, 0.5]}\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--from", str(result), "--targets", str(ok), "--out", str(tmp_path / "w.csv"), "--strict"])
    assert exit_info.value.code == 0
    assert "1 within, 0 outside, 0 not modelled" in capsys.readouterr().out


def test_bad_targets_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: 3\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--from", str(_write(tiny(), tmp_path / "t.nc")), "--targets", str(bad),
              "--out", str(tmp_path / "v.csv")])
    assert exit_info.value.code == 2
    assert "lactobiome: error:" in capsys.readouterr().err


# --------------------------------------------------------------------------- priors, calibration
def test_prior_bounds() -> None:
    assert prior_bounds("uniform", (1.0, 3.0)) == (1.0, 3.0)
    assert prior_bounds("normal", (1.0, 0.5)) == (0.0, 2.0)
    assert prior_bounds("fixed", ()) is None
    low, high = prior_bounds("beta", (2.0, 2.0))
    assert 0.0 < low < 0.5 < high < 1.0


def test_parameter_table_copy_never_touches_the_shipped_one(tmp_path: Path) -> None:
    shipped = load_parameters()
    out = write_parameter_table(None, {"feeds_per_day": 12.5}, tmp_path / "p.csv")
    assert load_parameters(out)["feeds_per_day"].value == 12.5
    assert load_parameters()["feeds_per_day"].value == shipped["feeds_per_day"].value
    from importlib import resources

    with pytest.raises(InputError, match="refusing"):
        write_parameter_table(None, {"feeds_per_day": 1.0}, Path(str(resources.files("lactobiome.data")
                                                                      .joinpath("parameters.csv"))))


def test_calibrate_command_moves_a_parameter_towards_its_target(tmp_path: Path) -> None:
    out = tmp_path / "fitted.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(["calibrate", "--parameters", "milk_intake_day1_ml_per_day", "--targets", "F07a", "--out", str(out),
              "--dyads", "6", "--days", "3", "--max-evals", "4", "--no-progress"])
    assert exit_info.value.code == 0
    fitted = load_parameters(out)["milk_intake_day1_ml_per_day"].value
    assert 10.0 <= fitted <= 120.0
    with pytest.raises(SystemExit) as exit_info:
        main(["calibrate", "--parameters", "milk_intake_day1_ml_per_day", "--targets", "F11", "--out",
              str(tmp_path / "x.csv"), "--dyads", "4", "--days", "2"])
    assert exit_info.value.code == 2  # F11 is not modelled


def test_sensitivity_screen_reports_effects_of_each_parameter() -> None:
    from lactobiome.validation import sensitivity, top_effects

    f07a = next(t for t in load_targets() if t.id == "F07a")
    screen = sensitivity([f07a], dyads=4, days=2, seed=3, names=["milk_intake_day1_ml_per_day", "feeds_per_day"],
                         progress=False)
    assert set(screen["parameter"]) == {"milk_intake_day1_ml_per_day", "feeds_per_day"}
    day1 = screen[screen["parameter"] == "milk_intake_day1_ml_per_day"].iloc[0]
    assert day1["value_high"] > day1["value_low"] and day1["effect"] > 0
    assert top_effects(screen).iloc[0]["parameter"] == "milk_intake_day1_ml_per_day"
    with pytest.raises(InputError, match="not free parameters"):
        sensitivity([f07a], dyads=2, days=1, names=["no_such_parameter"], progress=False)
