"""The one atomic writer (lactobiome.io.atomic) and the writers built on it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lactobiome.io.atomic import write_bytes_atomic, write_file_atomic, write_text_atomic


@pytest.fixture()
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def test_new_files_get_the_umask_mode(tmp_path: Path, umask_022: None) -> None:
    text = write_text_atomic("a\tb\n", tmp_path / "sub" / "t.tsv")  # parents are created
    data = write_bytes_atomic(b"\x00\x01", tmp_path / "b.bin")
    via = write_file_atomic(tmp_path / "c.txt", lambda tmp: tmp.write_text("c"))
    for path in (text, data, via):
        assert _mode(path) == 0o644, oct(_mode(path))  # mkstemp would give 0o600
    assert text.read_bytes() == b"a\tb\n" and data.read_bytes() == b"\x00\x01"
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "sub") == []


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "shared.tsv"
    path.write_text("old")
    path.chmod(0o664)
    write_text_atomic("new", path)
    assert path.read_text() == "new" and _mode(path) == 0o664


def test_a_symlink_target_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "data" / "real.tsv"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.tsv"
    link.symlink_to(real)
    written = write_text_atomic("new", link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new" and written == real.resolve()
    assert _leftovers(tmp_path) == [] and _leftovers(real.parent) == []


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failing_writer_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, failure: BaseException
) -> None:
    path = tmp_path / "result.nc"
    path.write_text("old content")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise failure

    with pytest.raises(type(failure)):
        write_file_atomic(path, half_then_fail)
    assert path.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.nc"]


def test_a_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    with pytest.raises(FileNotFoundError, match="did not create"):
        write_file_atomic(path, lambda tmp: None)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_replaces_a_folder(tmp_path: Path) -> None:
    store = tmp_path / "result.zarr"
    store.mkdir()
    (store / "old").write_text("old")

    def new_store(tmp: Path) -> None:
        tmp.mkdir()
        (tmp / "new").write_text("new")

    write_file_atomic(store, new_store)
    assert sorted(p.name for p in store.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.zarr"]

    def broken_store(tmp: Path) -> None:
        tmp.mkdir()
        (tmp / "part").write_text("part")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_file_atomic(store, broken_store)
    assert sorted(p.name for p in store.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.zarr"]


def test_netcdf_result_written_atomically(tmp_path: Path, umask_022: None) -> None:
    import numpy as np
    import xarray as xr

    from lactobiome.errors import LactobiomeError
    from lactobiome.io.dataset import combine_parts, write_atomic

    parts = []
    for i in range(2):
        ds = xr.Dataset({"x": (("dyad",), np.arange(3.0) + 3 * i)}, coords={"dyad": np.arange(3) + 3 * i})
        parts.append(tmp_path / f"part{i}.nc")
        write_atomic(ds, parts[-1])
    out = tmp_path / "all.nc"
    out.write_text("an older result")
    link = tmp_path / "latest.nc"
    link.symlink_to(out)
    combine_parts(parts, link)
    assert link.is_symlink() and _mode(out) == 0o644
    with xr.open_dataset(out) as ds:
        assert list(ds["x"].values) == [0, 1, 2, 3, 4, 5]
    assert _leftovers(tmp_path) == []
    with pytest.raises(LactobiomeError, match=r"missing_out.nc: cannot write .*nothing was replaced"):
        combine_parts([tmp_path / "missing.nc"], tmp_path / "missing_out.nc")
    assert _leftovers(tmp_path) == [] and not (tmp_path / "missing_out.nc").exists()
