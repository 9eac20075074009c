"""``lactobiome parameters diff``: what moved between two parameter tables, held against the priors."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from lactobiome.cli import main
from lactobiome.model.parameters import load_parameters
from lactobiome.validation.parameter_changes import CHANGE_COLUMNS, compare_parameters

HEADER = "name,value,unit,prior,source,note,calibrated_to"


def _shipped_rows() -> list[dict[str, str]]:
    text = resources.files("lactobiome.data").joinpath("parameters.csv").read_text("utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#")))


def _write(rows: list[dict[str, str]], path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER.split(","))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_table_has_no_changes_against_itself() -> None:
    shipped = load_parameters()
    assert compare_parameters(shipped, shipped) == []
    assert "fever_inflammation_threshold" in shipped and "no_such_parameter" not in shipped
    assert shipped.get("no_such_parameter") is None


def test_moves_priors_additions_and_removals_are_each_reported_once(tmp_path: Path) -> None:
    rows = _shipped_rows()
    by_name = {r["name"]: r for r in rows}
    # a move inside the prior, a move outside it, a widened prior, one row dropped, one added
    by_name["fever_inflammation_threshold"]["value"] = "1.5"  # prior uniform(1,2)
    by_name["milk_pathobiont_inflammation_ref"]["value"] = "500000"  # prior loguniform(1e4,2e5)
    by_name["acid_death_per_day"]["prior"] = "uniform(0.1,2)"
    dropped = rows.pop(next(i for i, r in enumerate(rows) if r["name"] == "infant_colon_content_ml"))
    rows.append({**dropped, "name": "a_new_rate_per_day", "value": "0.2", "prior": "uniform(0,1)"})
    new = load_parameters(_write(rows, tmp_path / "new.csv"))
    changes = {c.name: c for c in compare_parameters(load_parameters(), new)}
    assert set(changes) == {"fever_inflammation_threshold", "milk_pathobiont_inflammation_ref", "acid_death_per_day",
                            "infant_colon_content_ml", "a_new_rate_per_day"}
    inside, outside = changes["fever_inflammation_threshold"], changes["milk_pathobiont_inflammation_ref"]
    assert (inside.kind, inside.old_value, inside.new_value) == ("moved", 1.08, 1.5)
    assert inside.within_old_prior is inside.within_new_prior is True
    assert outside.within_new_prior is False and outside.calibrated_to == ("D15", "D16", "A06")
    assert changes["acid_death_per_day"].kind == "prior changed"
    assert changes["infant_colon_content_ml"].kind == "removed" and changes["infant_colon_content_ml"].new_value is None
    assert changes["a_new_rate_per_day"].kind == "added" and changes["a_new_rate_per_day"].within_old_prior is None
    # moves come first, then prior changes, additions, removals
    order = [c.kind for c in compare_parameters(load_parameters(), new)]
    assert order == sorted(order, key=["moved", "prior changed", "added", "removed"].index)


def test_the_command_prints_the_table_and_flags_a_value_outside_its_prior(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rows = _shipped_rows()
    for row in rows:
        if row["name"] == "milk_pathobiont_inflammation_ref":
            row["value"] = "500000"
    new = _write(rows, tmp_path / "fitted.csv")
    assert main(["parameters", "diff", "shipped", str(new)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Parameters of `{new}` against `shipped`: 1 moved, 0 prior changed, 0 added, 0 removed.")
    assert "**Outside their own prior (a defect):** milk_pathobiont_inflammation_ref." in out
    assert "| milk_pathobiont_inflammation_ref | moved | cells/mL | 35000 | 500000 |" in out
    assert main(["parameters", "diff", str(new), str(new)]) == 0
    assert "No value or prior differs." in capsys.readouterr().out


def test_the_command_writes_csv_atomically_and_refuses_bad_input_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _shipped_rows()
    rows[0]["value"] = str(float(rows[0]["value"]) * 1.01)
    new = _write(rows, tmp_path / "new.csv")
    out = tmp_path / "changes.csv"
    assert main(["parameters", "diff", "shipped", str(new), "--out", str(out)]) == 0
    written = list(csv.DictReader(out.open()))
    assert tuple(written[0]) == CHANGE_COLUMNS and [r["name"] for r in written] == [rows[0]["name"]]
    assert not list(tmp_path.glob("*.tmp*"))
    capsys.readouterr()
    # a wrong suffix, a missing table and a malformed one: exit 2, one line naming the file, the output kept
    bad = tmp_path / "bad.csv"
    bad.write_text("name,value\nx,1\n")
    cases = ((["shipped", str(new), "--out", str(tmp_path / "changes.txt")], "must end in .md or .csv"),
             (["shipped", str(tmp_path / "absent.csv"), "--out", str(out)], "no such parameter file"),
             (["shipped", str(bad), "--out", str(out)], "header must be"))
    for args, message in cases:
        assert main(["parameters", "diff", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err and err.startswith("lactobiome: error: ")
    assert [r["name"] for r in csv.DictReader(out.open())] == [rows[0]["name"]]
