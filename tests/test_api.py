"""The notebook API: lactobiome.simulate, observe, track, validate, and cli.main."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import lactobiome as lb
from lactobiome.errors import InputError, ScenarioError
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import simulate_in_memory


def test_simulate_is_the_model_run_of_the_scenario():
    ds = lb.simulate(dyads=20, days=10, seed=1)
    assert isinstance(ds, xr.Dataset)
    assert ds.sizes["dyad"] == 20 and ds.sizes["day"] == 10
    same = simulate_in_memory(load_scenario("default", {"cohort": {"dyads": 20, "days": 10, "seed": 1}}))
    np.testing.assert_array_equal(ds["abundance"].values, same["abundance"].values)
    other_seed = lb.simulate(dyads=20, days=10, seed=2)
    assert not np.array_equal(other_seed["abundance"].values, ds["abundance"].values)


def test_simulate_takes_a_scenario_object_and_parameter_overrides():
    scenario = load_scenario("pumping_only", {"cohort": {"dyads": 8, "days": 6}})
    ds = lb.simulate(scenario, days=5)
    assert ds.sizes["day"] == 5 and (ds["direct_breastfeeding_share"].values == 0).all()
    base = lb.simulate(dyads=8, days=6)
    more = lb.simulate(dyads=8, days=6, parameters={"milk_intake_mature_ml_per_day": 1000.0})
    assert float(more["milk_volume_ml"].isel(day=-1).mean()) > float(base["milk_volume_ml"].isel(day=-1).mean())
    with pytest.raises(InputError, match="parameters.no_such_parameter: unknown parameter"):
        lb.simulate(dyads=2, days=2, parameters={"no_such_parameter": 1.0})
    with pytest.raises(ScenarioError, match="cohort.dyads"):
        lb.simulate(dyads=0, days=2)


def test_simulate_to_a_file_gives_the_in_memory_result(tmp_path):
    on_disk = lb.simulate(dyads=6, days=4, seed=3, out=tmp_path / "cohort.nc")
    in_memory = lb.simulate(dyads=6, days=4, seed=3)
    np.testing.assert_array_equal(on_disk["abundance"].values, in_memory["abundance"].values)
    np.testing.assert_array_equal(on_disk["inflammation"].values, in_memory["inflammation"].values)
    on_disk.close()


def test_track_is_the_tracker_with_its_real_signature():
    from lactobiome.tracking.core import track

    assert lb.track is track
    parameters = inspect.signature(lb.track).parameters
    assert {"counts", "metadata", "bootstrap", "seed", "level"} <= set(parameters)
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def test_observe_then_track_runs_the_closed_loop():
    scenario = load_scenario("default", {"cohort": {"dyads": 12, "days": 180, "seed": 4},
                                         "sampling": {"days": [30, 90, 180]}})
    ds = lb.simulate(scenario)
    obs = lb.observe(ds, "milk_infant_metagenomes", depth=5000, seed=1)
    assert set(obs.metadata["SourceSink"]) == {"Source", "Sink"}
    shares = lb.track(obs.counts, obs.metadata, bootstrap=0)
    per_sink = shares.groupby("sink")["proportion"].sum()
    np.testing.assert_allclose(per_sink.values, 1.0, atol=1e-6)
    # the truth sits beside the estimate, for the same sinks
    assert set(obs.truth["sink"]) >= set(shares["sink"])


def test_validate_returns_one_verdict_per_target():
    ds = lb.simulate(dyads=60, days=40, seed=1)
    table = lb.validate(ds, bootstrap=0)
    assert table["id"].is_unique and len(table) > 50
    assert set(table["verdict"]) <= {"within", "outside", "not modelled", "beyond horizon"}
    assert (table["verdict"] == "within").any()


def test_importing_the_library_leaves_the_environment_alone():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import os, lactobiome; lactobiome.simulate; print(os.environ.get('OMP_WAIT_POLICY'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "None"


def test_cli_main_returns_its_exit_code(capsys, tmp_path):
    from lactobiome.cli import main

    assert main(["scenarios"]) == 0
    assert "default" in capsys.readouterr().out
    assert main(["simulate", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lactobiome: error: ") and err.count("\n") == 1
