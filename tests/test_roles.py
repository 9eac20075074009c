"""Target roles, fitted parameters and headline figures (issue 13)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lactobiome.cli import main
from lactobiome.errors import InputError
from lactobiome.model.parameters import load_parameters
from lactobiome.validation import load_targets, write_parameter_table
from lactobiome.validation.measures.risk import _odds_ratio, _risk_ratio
from lactobiome.validation.priors import prior_bounds
from lactobiome.validation.report import PROSE_END, PROSE_START, write_tables
from lactobiome.validation.roles import ALL, groups, headline, in_headline, seed_summary
from lactobiome.validation.targets import CALIBRATION, CHECK, ROLES, Target
from lactobiome.validation.verdicts import NOT_MODELLED, OUTSIDE, WITHIN

HEADER = "name,value,unit,prior,source,note"


def test_every_shipped_target_has_a_role_and_shared_measurements_share_it() -> None:
    targets = load_targets()
    assert all(t.role in ROLES for t in targets)
    assert {t.role for t in targets} == set(ROLES)
    for key, members in groups(targets).items():
        assert len({t.role for t in members}) == 1, f"targets sharing {key} differ in role"


def test_calibrated_to_names_existing_calibration_targets() -> None:
    by_id = {t.id: t for t in load_targets()}
    fitted = {p.name: p.calibrated_to for p in load_parameters().values() if p.calibrated_to}
    assert fitted, "the shipped table names no fitted parameter"
    for name, ids in fitted.items():
        for tid in ids:
            assert tid in by_id, f"{name}: calibrated_to {tid} is not a target"
            assert by_id[tid].role == CALIBRATION, f"{name} was fitted to {tid}, which is marked check"


def test_every_parameter_value_lies_within_its_prior() -> None:
    for p in load_parameters().values():
        bounds = prior_bounds(p.prior_kind, p.prior_args)
        if bounds is not None:
            assert bounds[0] <= p.value <= bounds[1], f"{p.name} = {p.value:g} outside its prior {p.prior}"


def test_bad_role_and_bad_calibrated_to_give_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("targets:\n- {id: X, role: fitted, system: s, quantity: q, published: p, unit: u, "
                    "population: p, time_point: t, source: s, not_modelled: why}\n")
    with pytest.raises(InputError, match=r"t.yaml: target 1 \(X\): role must be one of \['check', 'calibration'\]"):
        load_targets(path)
    table = tmp_path / "p.csv"
    table.write_text(f"{HEADER},calibrated_to\nx,1,cells,fixed,assumption,,D11 d15\n")
    with pytest.raises(InputError, match=r"p.csv: line 2 \(x\): calibrated_to 'd15' is not a target id"):
        load_parameters(table)


SECONDARY_SOURCE = re.compile(r"wikipedia|statpearls|encyclop|textbook|derived from|programme", re.IGNORECASE)
"""Words that mark a source as an encyclopaedia, a point-of-care summary, a textbook or a derived figure."""
YEAR = re.compile(r"\b(19|20)\d\d\b")


def test_encyclopaedic_textbook_derived_or_title_only_sources_stay_out_of_the_headline() -> None:
    """Issue 13 item 3: a figure whose source is not a citable primary paper is confidence low."""
    for t in load_targets():
        if t.measure is None:
            continue
        secondary = bool(SECONDARY_SOURCE.search(t.source))
        bare = not YEAR.search(t.source)  # a bare title or name: no year, so no citable paper
        if secondary or bare:
            assert (t.confidence or "").lower() == "low", f"{t.id}: {t.source!r} needs confidence low"
            assert not in_headline(t), t.id


def test_rule_for_secondary_sources_catches_a_bare_title_and_an_encyclopaedia() -> None:
    assert SECONDARY_SOURCE.search("Wikipedia 'Mastitis'") and SECONDARY_SOURCE.search("StatPearls 'Acute Mastitis'")
    assert not YEAR.search("'Increases of IgA milk concentrations correlate with IgA2 increment' (immunonephelometry)")
    assert YEAR.search("Saint L, Smith M, Hartmann PE. Br J Nutr 1984;52(1):87-95")
    assert not SECONDARY_SOURCE.search("Kinlay JR, O'Connell DL, Kinlay S. Med J Aust 1998;169(6):310-312")


def test_six_column_table_loads_and_calibration_adds_the_column(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"
    old.write_text(f"{HEADER}\nx,1,cells,\"uniform(0,2)\",assumption,a note\ny,2,cells,fixed,assumption,\n")
    assert load_parameters(old)["x"].calibrated_to == ()
    new = write_parameter_table(old, {"x": 1.5}, tmp_path / "new.csv", calibrated_to=["D11", "D15"])
    table = load_parameters(new)
    assert table["x"].value == 1.5 and table["x"].calibrated_to == ("D11", "D15")
    assert table["y"].calibrated_to == ()
    again = write_parameter_table(new, {"x": 1.2}, tmp_path / "again.csv", calibrated_to=["D15", "D01"])
    assert load_parameters(again)["x"].calibrated_to == ("D11", "D15", "D01")


def _target(tid: str, role: str, key: str, confidence: str | None = None) -> Target:
    return Target(id=tid, system="s", quantity="q", published="p", unit="u", population="pop", time_point="t",
                  source="src", low=0.0, high=1.0, measure=key, confidence=confidence, role=role)


def _table(verdicts: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"id": list(verdicts), "verdict": list(verdicts.values())})


def test_headline_counts_a_shared_measurement_once_and_leaves_low_confidence_out() -> None:
    targets = [_target("A", CHECK, "m1"), _target("B", CHECK, "m1"), _target("C", CHECK, "m2"),
               _target("D", CALIBRATION, "m3"), _target("E", CHECK, "m4", confidence="low"),
               _target("F", CHECK, "m5")]
    figures = headline(_table({"A": WITHIN, "B": OUTSIDE, "C": WITHIN, "D": WITHIN, "E": OUTSIDE,
                               "F": NOT_MODELLED}), targets)
    assert (figures[CHECK].within, figures[CHECK].measured) == (1, 2)  # m1 once and not within; E, F left out
    assert (figures[CALIBRATION].within, figures[CALIBRATION].measured) == (1, 1)
    assert (figures[ALL].within, figures[ALL].measured) == (2, 3)
    both = headline(_table({"A": WITHIN, "B": WITHIN, "C": WITHIN, "D": WITHIN, "E": OUTSIDE,
                            "F": OUTSIDE}), targets)
    assert (both[CHECK].within, both[CHECK].measured) == (2, 3)


def test_seed_summary_gives_share_of_seeds_and_the_worst_seed() -> None:
    targets = [_target("A", CHECK, "m1"), _target("C", CHECK, "m2"), _target("D", CALIBRATION, "m3")]
    good = _table({"A": WITHIN, "C": WITHIN, "D": OUTSIDE})
    bad = _table({"A": OUTSIDE, "C": WITHIN, "D": WITHIN})
    share, worst = seed_summary([good, bad, good], targets)
    assert share["A"] == pytest.approx(2 / 3) and share["C"] == 1.0 and share["D"] == pytest.approx(1 / 3)
    assert worst[CHECK].within == 1 and worst[CALIBRATION].within == 0
    assert worst[ALL].share == min(headline(t, targets)[ALL].share for t in (good, bad))


def test_regenerated_page_keeps_the_hand_written_block(tmp_path: Path) -> None:
    md = tmp_path / "v.md"
    md.write_text(f"# old\n\n{PROSE_START}\nHow the roles were chosen.\n{PROSE_END}\n\nold table\n")
    targets = [_target("A", CHECK, "m1"), _target("D", CALIBRATION, "m3")]
    table = pd.DataFrame({"id": ["A", "D"], "quantity": "q", "published": "p", "unit": "u", "acceptance": "0–1",
                          "model": [0.5, 2.0], "ci_low": math.nan, "ci_high": math.nan, "n": 3,
                          "verdict": [WITHIN, OUTSIDE], "reason": "", "measure": ["m1", "m3"], "source": "s",
                          "role": [CHECK, CALIBRATION]})
    write_tables(table, tmp_path / "v.csv", md, "header", targets)
    page = md.read_text()
    assert "How the roles were chosen." in page and "old table" not in page
    assert page.index("## Check targets") < page.index("## Calibration targets")
    assert "check targets (out of sample): 1 of 1 within (100%); calibration targets: 0 of 1 within (0%)" in page


def test_validate_seeds_reports_the_worst_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v.md"
    assert main(["validate", "--dyads", "6", "--days", "8", "--seeds", "1-2", "--bootstrap", "0",
                 "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "Worst of seeds 1-2: check targets (out of sample):" in text
    assert text.index("Check targets:") < text.index("Calibration targets:")
    assert "`lactobiome validate --dyads 6 --days 8 --seeds 1-2 --out" in out.read_text()
    assert "seeds_within" in out.with_suffix(".csv").read_text().splitlines()[0]
    assert "beyond horizon (" in text  # an 8-day cohort cannot reach the later time points
    assert "## Beyond the simulated horizon" in out.read_text()
    assert main(["validate", "--seeds", "5-1", "--out", str(tmp_path / "w.md")]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_odds_and_risk_ratios_of_case_exposure_rows() -> None:
    # exposed: 2 cases of 3; unexposed: 1 case of 5
    rows = np.array([[1, 1], [1, 1], [0, 1], [1, 0], [0, 0], [0, 0], [0, 0], [0, 0]], dtype=np.float64)
    assert _odds_ratio(rows) == pytest.approx((2 * 4) / (1 * 1))
    assert _risk_ratio(rows) == pytest.approx((2 / 3) / (1 / 5))
    assert math.isnan(_risk_ratio(rows[rows[:, 1] > 0]))  # nobody unexposed
    assert math.isnan(_odds_ratio(rows[[0, 1, 3, 4]]))  # no exposed non-case


def test_calibrate_lists_and_marks_what_it_fits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "  na_k_closed = 0.45 1 [0.3, 0.8] B08" in listing
    assert "  D21   check       2.64–6.11      mastitis_or_previous_mastitis_12wk" in listing
    assert main(["calibrate", "--targets", "F07a", "--out", str(tmp_path / "p.csv")]) == 2
    assert "--parameters" in capsys.readouterr().err
    out = tmp_path / "fitted.csv"
    assert main(["calibrate", "--parameters", "milk_intake_day1_ml_per_day", "--targets", "F07a", "--out", str(out),
                 "--dyads", "4", "--days", "1", "--max-evals", "3", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "stopped: Maximum number of function evaluations" in captured.out
    assert "warning: F07a marked check" in captured.err
    assert load_parameters(out)["milk_intake_day1_ml_per_day"].calibrated_to == ("F07a",)


def test_simulate_takes_a_parameter_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lactobiome.io.dataset import open_result

    table = write_parameter_table(None, {"milk_intake_day1_ml_per_day": 100.0}, tmp_path / "p.csv")
    out = tmp_path / "r.nc"
    assert main(["simulate", "--dyads", "3", "--days", "2", "--parameters", str(table), "--out", str(out),
                 "--no-progress"]) == 0
    with open_result(out) as ds:
        digest = ds.attrs["parameter_table_sha256"]
    assert digest == load_parameters(table).digest() != load_parameters().digest()
    assert main(["simulate", "--dyads", "3", "--days", "2", "--parameters", str(tmp_path / "none.csv"),
                 "--out", str(tmp_path / "s.nc")]) == 2
    assert "none.csv: no such parameter file" in capsys.readouterr().err
