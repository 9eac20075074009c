"""Chunks as Dask tasks on a LocalCluster give the single-process file, dyad for dyad."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed")

import xarray as xr  # noqa: E402

from lactobiome.dask_backend import close, connect  # noqa: E402
from lactobiome.errors import InputError  # noqa: E402
from lactobiome.scenarios import load_scenario  # noqa: E402
from lactobiome.simulation import simulate_to_file  # noqa: E402


def test_local_cluster_of_two_workers_writes_the_single_process_file(tmp_path):
    scenario = load_scenario("mastitis_probiotic_treatment", {"cohort": {"dyads": 7, "days": 8}})
    serial, on_dask = tmp_path / "serial.nc", tmp_path / "dask.nc"
    simulate_to_file(scenario, serial, chunk_size=3, progress=False)
    client = connect("local:2")
    try:
        assert len(client.scheduler_info()["workers"]) == 2
        simulate_to_file(scenario, on_dask, chunk_size=3, progress=False, client=client)
    finally:
        close(client)
    made = ("date_created", "history")  # when and how each file was made differ, the data must not
    left, right = xr.load_dataset(serial), xr.load_dataset(on_dask)
    for ds in (left, right):
        ds.attrs = {k: v for k, v in ds.attrs.items() if k not in made}
    xr.testing.assert_identical(left, right)
    assert on_dask.with_name("dask.nc.events.csv").read_bytes() == serial.with_name("serial.nc.events.csv").read_bytes()


@pytest.mark.parametrize("spec", ["local:0", "local:two", "local:-1"])
def test_a_bad_local_worker_count_is_one_line_input_error(spec):
    with pytest.raises(InputError, match=f"--dask {spec}: expected local or local:N"):
        connect(spec)
