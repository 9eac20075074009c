"""Chunks as Dask tasks on a LocalCluster give the single-process file, dyad for dyad, even
when a worker is killed in the middle of the run; each worker loads the kernels once."""

from __future__ import annotations

import os
import signal

import pytest

pytest.importorskip("distributed")

import xarray as xr  # noqa: E402
from distributed.diagnostics.plugin import WorkerPlugin  # noqa: E402

import lactobiome as lb  # noqa: E402
from lactobiome.dask_backend import close, connect, worker_summary  # noqa: E402
from lactobiome.errors import InputError  # noqa: E402
from lactobiome.scenarios import load_scenario  # noqa: E402
from lactobiome.simulation import simulate_to_file  # noqa: E402

DYADS = 8
"""Chunks of one dyad each: enough that one worker runs several and is killed at its second."""


class KillAtSecondChunk(WorkerPlugin):
    """Kills its worker process (SIGKILL, no clean-up) as the worker's second chunk task starts.

    Only once per run: the first worker to get there creates ``marker`` and dies; every chunk
    task that starts anywhere is logged to ``log`` as ``key pid``.
    """

    name = "kill-at-second-chunk"

    def __init__(self, marker: str, log: str) -> None:
        self.marker, self.log, self.started = marker, log, 0

    def transition(self, key, start, finish, **kwargs) -> None:
        if finish != "executing" or not str(key).startswith("lactobiome-chunk"):
            return
        with open(self.log, "a") as log:
            log.write(f"{key} {os.getpid()}\n")
        self.started += 1
        if self.started < 2:
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return  # a worker was killed already
        os.kill(os.getpid(), signal.SIGKILL)


def _data(path):
    # when, how and under which name each file was made differ, the data must not
    made = ("date_created", "history", "events_file")
    ds = xr.load_dataset(path)
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in made}
    return ds


def test_a_killed_worker_loses_only_its_chunk_and_the_file_is_the_single_process_one(tmp_path):
    scenario = load_scenario("mastitis_probiotic_treatment", {"cohort": {"dyads": DYADS, "days": 8}})
    serial, on_dask = tmp_path / "serial.nc", tmp_path / "dask.nc"
    marker, log, from_python = tmp_path / "killed", tmp_path / "started.log", tmp_path / "api.nc"
    simulate_to_file(scenario, serial, chunk_size=1, progress=False)
    client = connect("local:2")
    try:
        assert len(client.scheduler_info()["workers"]) == 2
        client.register_plugin(KillAtSecondChunk(str(marker), str(log)))
        simulate_to_file(scenario, on_dask, chunk_size=1, progress=False, client=client)
        summaries = list(client.run(worker_summary).values())
        lb.simulate(scenario, out=from_python, client=client).close()  # the Python API, one chunk
    finally:
        close(client)
    assert marker.exists()  # a worker died in the middle of the run
    started = [line.split() for line in log.read_text().splitlines()]
    killed_pid = next(pid for key, pid in started if [k for k, _ in started].count(key) > 1)
    assert killed_pid not in {str(s["pid"]) for s in summaries}
    # the dead worker had simulated one chunk and was killed starting its second; every other
    # chunk was simulated exactly once by the workers alive at the end (none was redone)
    assert sum(s["chunks"] for s in summaries) == DYADS - 1
    # kernels are loaded once per worker process, not once per task: each kernel's count is
    # its number of type signatures however many chunks the worker ran (pigeonhole: >= 4 here)
    for s in summaries:
        if s["chunks"]:
            assert s["kernel_loads"], s
            assert s["kernel_loads"] == s["kernel_signatures"], s
    xr.testing.assert_identical(_data(serial), _data(on_dask))
    xr.testing.assert_identical(_data(serial), _data(from_python))
    assert on_dask.with_name("dask.nc.events.csv").read_bytes() == serial.with_name("serial.nc.events.csv").read_bytes()


@pytest.mark.parametrize("spec", ["local:0", "local:two", "local:-1"])
def test_a_bad_local_worker_count_is_one_line_input_error(spec):
    with pytest.raises(InputError, match=f"--dask {spec}: expected local or local:N"):
        connect(spec)
