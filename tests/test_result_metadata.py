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
                       if not {"long_name", "units"} <= set(variable.ncattrs())]
        assert not undescribed, undescribed
        assert all("description" in nc[name].ncattrs() for name in ("day", "origin", "dyad", "abundance"))
        assert "day 1 is the first 24 hours" in nc["day"].description
        assert "last donor" in nc["origin"].long_name
        attrs = set(nc.ncattrs())
        assert {"title", "history", "date_created", "Conventions", "disclaimer"} <= attrs
        assert nc.history.endswith(f"lactobiome simulate --dyads 6 --days 8 --out {out} --no-progress")
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
