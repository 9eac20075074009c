"""A result file describes itself: CF-style attributes, provenance of the run, coded states."""

from __future__ import annotations

import netCDF4
import numpy as np

from lactobiome.cli import main
from lactobiome.io.dataset import open_result
from lactobiome.model.spectrum import MASTITIS_STATES
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import simulate_in_memory


def test_every_variable_and_coordinate_is_described(tmp_path):
    out = tmp_path / "r.nc"
    assert main(["simulate", "--dyads", "6", "--days", "8", "--out", str(out), "--no-progress"]) == 0
    with netCDF4.Dataset(out) as nc:
        undescribed = [name for name, variable in nc.variables.items()
                       if not {"long_name", "units", "description"} <= set(variable.ncattrs())
                       or not all(str(variable.getncattr(a)).strip() for a in ("long_name", "units", "description"))]
        assert not undescribed, undescribed
        # a long name reads as words: the units are in `units`, not spelled into the name
        spelled = [f"{name}: {nc[name].long_name}" for name in nc.variables
                   if any(f" {unit}" in f" {nc[name].long_name} ".lower() for unit in (" ml ", " per l ", " g per "))]
        assert not spelled, spelled
        assert "day 1 is the first 24 hours" in nc["day"].description
        assert "last donor" in nc["origin"].long_name
        attrs = set(nc.ncattrs())
        assert {"title", "history", "date_created", "Conventions", "disclaimer"} <= attrs
        assert nc.history.endswith(f"lactobiome simulate --dyads 6 --days 8 --out {out} --no-progress")
        assert nc.date_created.endswith("Z") and nc.history.startswith(nc.date_created)
        # the mastitis episodes table beside the result is named in the file
        assert nc.events_file == "r.nc.events.csv" and (tmp_path / nc.events_file).exists()
        assert "onset_day" in nc.events_description
        # the mastitis state is a one-byte code with its labels, not a 21-character string
        state = nc["mastitis_state"]
        assert state.dtype == np.int8
        assert state.flag_meanings.split() == list(MASTITIS_STATES)
        assert list(state.flag_values) == list(range(len(MASTITIS_STATES)))
        assert nc["treatment"].flag_meanings.split() == ["antibiotic", "probiotic", "frequent_emptying"]
    # read back, the states are names again, equal to the in-memory model's
    ds = open_result(out)
    same = simulate_in_memory(load_scenario("default", {"cohort": {"dyads": 6, "days": 8}}))
    np.testing.assert_array_equal(ds["mastitis_state"].values, same["mastitis_state"].values)
    assert set(np.unique(ds["mastitis_state"].values)) <= set(MASTITIS_STATES)
    ds.close()


def test_a_treatment_scenarios_extra_variables_are_described_too(tmp_path):
    """Treatment policy and probiotic runs add dyad variables; each is described like the rest."""
    out = tmp_path / "t.nc"
    assert main(["simulate", "mastitis_probiotic_treatment", "--dyads", "6", "--days", "8", "--out", str(out),
                 "--no-progress"]) == 0
    with netCDF4.Dataset(out) as nc:
        assert "treatment_covered" in nc.variables
        undescribed = [name for name, variable in nc.variables.items()
                       if not {"long_name", "units", "description"} <= set(variable.ncattrs())]
        assert not undescribed, undescribed
        assert nc.title == "lactobiome simulation: scenario mastitis_probiotic_treatment"
