"""Sampling days follow the design: simulate --design records them, observe covers a shorter result."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from lactobiome.cli import cli, main
from lactobiome.errors import InputError
from lactobiome.observation import load_design, observe
from lactobiome.observation.design import builtin_designs, restrict_days


def test_restrict_days_keeps_only_those_days() -> None:
    design = load_design("pannaraj2017")
    short = restrict_days(design, [7, 30])
    assert short.days == [7, 30]
    assert {s.type for s in short.samples} == {s.type for s in design.samples}
    with pytest.raises(InputError, match="no sink sample on day"):
        restrict_days(design, [2])


def test_simulate_with_design_then_observe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`simulate --design pannaraj2017` on a 35-day horizon, then `observe --design` works."""
    out = tmp_path / "r.nc"
    code = main(["simulate", "--dyads", "3", "--days", "35", "--seed", "2", "--design",
                 "pannaraj2017", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "not recorded: 60, 90, 180, 270, 365" in text
    obs_dir = tmp_path / "obs"
    assert main(["observe", str(out), "--design", "pannaraj2017", "--out", str(obs_dir)]) == 0
    text = capsys.readouterr().out
    assert "not sampled: 60, 90, 180, 270, 365" in text
    meta = pd.read_csv(obs_dir / "metadata.txt", sep="\t", index_col=0)
    design = load_design("pannaraj2017")
    assert sorted(meta["day"].unique()) == [d for d in design.days if d <= 35]
    # every sink keeps its own mother's sources of the same visit
    sinks = meta[meta["SourceSink"] == "Sink"]
    assert set(sinks["id"]) <= set(meta.loc[meta["SourceSink"] == "Source", "id"])


def test_unrecorded_day_inside_the_horizon_is_an_error() -> None:
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import simulate_in_memory

    sc = load_scenario("default", {"cohort": {"dyads": 2, "days": 30}, "sampling": {"days": [7, 30]}})
    ds = simulate_in_memory(sc)
    with pytest.raises(InputError, match=r"day 14 is not a recorded day.*simulate --design"):
        observe(ds, load_design("pannaraj2017"))


def test_observe_help_lists_builtin_designs() -> None:
    text = CliRunner().invoke(cli, ["observe", "--help"]).output
    for name in builtin_designs():
        assert name in text


def test_sampling_days_past_the_horizon_are_named_not_dropped_silently(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "late.yaml"
    scenario.write_text("name: late\nsampling:\n  days: [3, 7, 60, 90]\n")
    out = tmp_path / "late.nc"
    assert main(["simulate", str(scenario), "--dyads", "2", "--days", "10", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "abundance recorded on days 3, 7, 10 (sampling days past the 10-day horizon not recorded: 60, 90)" in text
    import xarray as xr

    with xr.open_dataset(out) as ds:
        assert list(ds["sample_day"].values) == [3, 7, 10]  # the last day is always recorded
