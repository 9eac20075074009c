"""Interruption and faults: killed runs resume to the same result and leave no litter."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from lactobiome.errors import LactobiomeError, LactobiomeWarning
from lactobiome.io.atomic import remove_stale_temporaries
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import simulate_to_file

ARGS = ["--dyads", "60", "--days", "12", "--chunk-size", "5", "--seed", "3", "--no-progress"]


def _simulate(out: Path, *extra: str, wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    command = [sys.executable, "-m", "lactobiome", "simulate", "--out", str(out), *ARGS, *extra]
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    if wait:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    # a child inherits an ignored SIGINT (background jobs of a non-interactive shell, some CI
    # runners): give it the default disposition so that Python installs its Ctrl-C handler
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _same_data(a: Path, b: Path) -> None:
    with xr.open_dataset(a) as left, xr.open_dataset(b) as right:
        assert set(left.data_vars) == set(right.data_vars)
        for name in left.data_vars:
            np.testing.assert_array_equal(left[name].values, right[name].values, err_msg=name)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "whole.nc"
    done = _simulate(out)
    assert done.returncode == 0, done.stderr
    return out


def test_a_run_killed_mid_way_resumes_to_the_same_result(tmp_path, uninterrupted):
    out = tmp_path / "killed.nc"
    parts = out.with_name(out.name + ".parts")
    run = _simulate(out, wait=False)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(parts.glob("chunk-*.nc"))) < 2 and run.poll() is None:
        time.sleep(0.05)
    if run.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert not out.exists()
    kept = len(list(parts.glob("chunk-*.nc")))
    assert kept >= 2
    rerun = _simulate(out)
    assert rerun.returncode == 0, rerun.stderr
    assert f"lactobiome: warning: resuming from {parts}:" in rerun.stderr
    assert "chunk(s) already done" in rerun.stderr
    _same_data(out, uninterrupted)
    # no litter: the parts folder and every temporary file are gone
    assert not parts.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed.nc", "killed.nc.events.csv"]


def test_ctrl_c_says_in_one_line_what_was_kept_and_how_to_resume(tmp_path):
    out = tmp_path / "interrupted.nc"
    parts = out.with_name(out.name + ".parts")
    run = _simulate(out, wait=False)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(parts.glob("chunk-*.nc")) and run.poll() is None:
        time.sleep(0.05)
    if run.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 130
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("lactobiome: interrupted;") and "rerun the same command to resume" in lines[-1]
    assert "Traceback" not in err
    assert list(parts.glob("chunk-*.nc")) and not out.exists()


def test_a_killed_merge_leaves_no_litter_after_the_rerun(tmp_path, uninterrupted):
    out = tmp_path / "merged.nc"
    # a merge killed with SIGKILL leaves its temporary file, named after its (now dead) writer
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    litter = tmp_path / f".{out.name}.tmp-{dead.pid}-0123abcd"
    litter.write_bytes(b"\0" * 4096)
    live = tmp_path / f".{out.name}.tmp-{os.getpid()}-0123abcd"
    live.write_bytes(b"")
    done = _simulate(out)
    assert done.returncode == 0, done.stderr
    assert not litter.exists()
    assert live.exists()  # a live writer's temporary file is not touched
    _same_data(out, uninterrupted)


def test_stale_temporaries_of_live_writers_are_kept(tmp_path):
    target = tmp_path / "x.nc"
    mine = tmp_path / f".x.nc.tmp-{os.getpid()}-ffff"
    mine.write_text("")
    other = tmp_path / ".y.nc.tmp-1-ffff"
    other.write_text("")
    assert remove_stale_temporaries(target) == []
    assert mine.exists() and other.exists()


def test_a_damaged_chunk_is_recomputed_and_a_changed_chunk_size_says_what_it_discards(tmp_path, uninterrupted):
    scenario = load_scenario("default", {"cohort": {"dyads": 60, "days": 12, "seed": 3}})
    out = tmp_path / "r.nc"
    parts = out.with_name(out.name + ".parts")

    class Stop(Exception):
        pass

    calls = {"n": 0}

    def stop_after_three(_result):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Stop

    with pytest.raises(Stop):
        simulate_to_file(scenario, out, chunk_size=5, progress=False, on_chunk=stop_after_three)
    chunks = sorted(parts.glob("chunk-*.nc"))
    assert len(chunks) == 3
    chunks[1].write_bytes(b"not a netcdf file")
    with pytest.warns(LactobiomeWarning, match="damaged chunk file removed"):
        simulate_to_file(scenario, out, chunk_size=5, progress=False)
    _same_data(out, uninterrupted)

    with pytest.raises(Stop):
        calls["n"] = 0
        simulate_to_file(scenario, out, chunk_size=5, progress=False, on_chunk=stop_after_three)
    with pytest.warns(LactobiomeWarning, match=r"3 finished chunk\(s\) of an earlier run .* discarded"):
        simulate_to_file(scenario, out, chunk_size=7, progress=False)
    _same_data(out, uninterrupted)


def test_a_full_disk_leaves_no_partial_result(tmp_path, monkeypatch):
    import lactobiome.io.dataset as dataset

    scenario = load_scenario("default", {"cohort": {"dyads": 10, "days": 3, "seed": 3}})
    out = tmp_path / "full.nc"

    def no_space(parts, tmp):
        Path(tmp).write_bytes(b"\0" * 1024)  # the disk fills half-way through the merge
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

    monkeypatch.setattr(dataset, "_combine_netcdf", no_space)
    with pytest.raises(Exception, match="No space left on device|nothing was replaced") as caught:
        simulate_to_file(scenario, out, chunk_size=5, progress=False)
    assert "\n" not in str(caught.value)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".full.nc.tmp-")]
    # the finished chunks are kept for the rerun
    assert len(list((tmp_path / "full.nc.parts").glob("chunk-*.nc"))) == 2


KILL_IN = {
    # the chunks are all done and the merge has written its temporary file, not yet renamed it
    "merge": ("lactobiome.io.dataset", "_combine_netcdf", True),
    # the merged result is in place, its events table and the parts folder not yet
    "events": ("lactobiome.io.events", "combine_events", False),
}


@pytest.mark.parametrize("stage", sorted(KILL_IN))
def test_a_run_killed_with_sigkill_mid_merge_reruns_to_the_same_result_with_no_litter(tmp_path, uninterrupted, stage):
    """A real SIGKILL of the process inside the merge (not a planted file), then the same command."""
    out = tmp_path / "merged.nc"
    module, function, run_first = KILL_IN[stage]
    script = (
        "import importlib, os, signal, sys\n"
        f"target = importlib.import_module({module!r})\n"
        f"real = getattr(target, {function!r})\n"
        "def killed(*args, **kwargs):\n"
        f"    if {run_first!r}:\n"
        "        real(*args, **kwargs)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"setattr(target, {function!r}, killed)\n"
        "from lactobiome.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    command = [sys.executable, "-c", script, "simulate", "--out", str(out), *ARGS]
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    killed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    parts = out.with_name(out.name + ".parts")
    assert len(list(parts.glob("chunk-*.nc"))) == 12  # 60 dyads in chunks of 5, all finished
    if stage == "merge":
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".merged.nc.tmp-")]  # the litter
    rerun = _simulate(out)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming from" in rerun.stderr and "12 of 12 chunk(s) already done" in rerun.stderr
    _same_data(out, uninterrupted)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.nc", "merged.nc.events.csv"]
    assert out.with_name("merged.nc.events.csv").read_bytes() == uninterrupted.with_name(
        uninterrupted.name + ".events.csv").read_bytes()


def test_a_disk_that_fills_while_a_chunk_is_written_leaves_no_partial_chunk(tmp_path, monkeypatch):
    scenario = load_scenario("default", {"cohort": {"dyads": 10, "days": 3, "seed": 3}})
    out = tmp_path / "full.nc"
    parts = tmp_path / "full.nc.parts"
    real = xr.Dataset.to_netcdf
    calls = {"n": 0}

    def fills_on_the_second_chunk(self, path=None, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            Path(path).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 512)  # half a file, then no space
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", fills_on_the_second_chunk)
    with pytest.raises(LactobiomeError, match=r"chunk-000001.nc: cannot write \(No space left on device\); "
                                              "nothing was replaced") as caught:
        simulate_to_file(scenario, out, chunk_size=5, progress=False)
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in parts.glob("chunk-*.nc")) == ["chunk-000000.nc"]  # no half-written chunk
    assert not [p for p in parts.iterdir() if ".tmp-" in p.name] and not out.exists()
    monkeypatch.setattr(xr.Dataset, "to_netcdf", real)
    with pytest.warns(LactobiomeWarning, match=r"1 of 2 chunk\(s\) already done"):
        simulate_to_file(scenario, out, chunk_size=5, progress=False)
    whole = tmp_path / "whole.nc"
    simulate_to_file(scenario, whole, chunk_size=5, progress=False)
    _same_data(out, whole)
