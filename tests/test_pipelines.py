"""Targets measured as their study measured them: measured_by, the Pannaraj pipeline, the report."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import xarray as xr

from lactobiome.errors import InputError
from lactobiome.validation import load_targets, run_cohort, to_markdown, validate_dataset
from lactobiome.validation.pipelines import CASE_DEFINITIONS, PIPELINES, TRUTH, run_pipeline


@pytest.fixture(scope="module")
def cohort() -> xr.Dataset:
    return run_cohort("default", dyads=40, days=31, seed=3)


def test_shipped_targets_say_how_they_were_measured() -> None:
    targets = {t.id: t for t in load_targets()}
    assert targets["E01"].measured_by == "pannaraj2017/16S/sourcetracker"
    assert targets["E02"].measured_by == "pannaraj2017/16S/sourcetracker"
    assert targets["D19"].measured_by == "foxman2002/provider_diagnosed"
    others = [t.measured_by for k, t in targets.items() if k not in ("E01", "E02", "D19")]
    assert set(others) == {TRUTH}
    assert set(PIPELINES) >= {targets["E01"].measured_by}
    assert set(CASE_DEFINITIONS) >= {targets["D19"].measured_by}


def test_unknown_pipeline_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "targets:\n- {id: X1, role: check, system: milk, quantity: q, published: '1', unit: fraction, "
        "population: all, time_point: day 30, source: s, measure: infant_gut_milk_share_d30, "
        "acceptance: [0, 1], measured_by: nobody/16S/guess}\n"
    )
    with pytest.raises(InputError, match=r"t.yaml: target 1 \(X1\): measured_by 'nobody/16S/guess'"):
        load_targets(path)


def test_validate_reports_pipeline_value_with_truth_beside_it(cohort: xr.Dataset) -> None:
    targets = [t for t in load_targets() if t.id in ("E01", "E02", "E03")]
    full = validate_dataset(cohort, targets, n_boot=20, seed=1)
    table = full.set_index("id")
    for col in ("truth_value", "measured_by"):
        assert col in table.columns
    for tid in ("E01", "E02"):
        row = table.loc[tid]
        assert 0.0 <= row["model"] <= 1.0 and 0.0 <= row["truth_value"] <= 1.0
        assert row["ci_low"] <= row["model"] <= row["ci_high"]
        assert 0 < row["n"] <= 107
        assert row["model"] != row["truth_value"]  # a pipeline, not the truth
    # a truth target's model value is its true value
    e03 = table.loc["E03"]
    assert e03["measured_by"] == TRUTH
    assert (math.isnan(e03["model"]) and math.isnan(e03["truth_value"])) or (
        e03["model"] == e03["truth_value"]
    )
    again = validate_dataset(cohort, targets, n_boot=20, seed=1).set_index("id")
    assert again.loc["E01", "model"] == table.loc["E01", "model"]
    md = to_markdown(full)
    section = md[md.index("## Measured as the study measured it"):]
    assert "Why the two differ" in section and "milk: true share" in section
    assert "Kit contaminants are a median" in section


def test_pipeline_needs_its_day(cohort: xr.Dataset) -> None:
    short = run_cohort("default", dyads=3, days=10, seed=1)
    m = run_pipeline(short, "pannaraj2017/16S/sourcetracker", "infant_gut_milk_share_d30", 0)
    assert math.isnan(m.value) and "day 30 is not a recorded day" in m.reason
