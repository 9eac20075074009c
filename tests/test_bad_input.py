"""Bad input as users meet it: one line naming the file and what was expected, exit code 2.

Each case was a traceback, a silent wrong answer or a needless refusal before.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from lactobiome.cli import main
from shared_data import SHARED, require

META = "SampleID\tEnv\tSourceSink\tid\ns1\tmilk\tSource\t1\ns2\tskin\tSource\t1\nk1\tstool\tSink\t1\n"


def _table(path, cells: dict[str, list[str]], taxa=("t0", "t1", "t2", "t3")):
    lines = ["taxon\t" + "\t".join(cells)]
    for i, taxon in enumerate(taxa):
        lines.append(taxon + "\t" + "\t".join(column[i] for column in cells.values()))
    path.write_text("\n".join(lines) + "\n")
    return path


def _ok_cells() -> dict[str, list[str]]:
    return {"s1": ["40", "30", "0", "5"], "s2": ["0", "10", "50", "2"], "k1": ["20", "20", "20", "3"]}


def _track(tmp_path, table, meta_text=META, *extra):
    meta = tmp_path / "meta.txt"
    meta.write_text(meta_text)
    out = tmp_path / "out.tsv"
    code = main(["track", str(table), str(meta), "--out", str(out), "--bootstrap", "0", *extra])
    return code, out


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("lactobiome: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(("cell", "needle"), [
    ("1e300", "too large for a read count"),
    ("99999999999999999999999", "too large for a read count"),
    ("1000000000000", "is not a read count"),
    ("abc", "'abc' is not a number"),
    ("nan", "expected a count"),
    ("-3", "negative value"),
])
def test_impossible_counts_are_refused_naming_the_cell(tmp_path, capsys, cell, needle):
    cells = _ok_cells()
    cells["s1"][0] = cell
    code, out = _track(tmp_path, _table(tmp_path / "counts.txt", cells))
    assert code == 2
    err = _one_line_error(capsys)
    assert "counts.txt" in err and needle in err
    assert not out.exists()


def test_binary_data_is_named_as_such(tmp_path, capsys):
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)))
    code, _ = _track(tmp_path, junk)
    assert code == 2
    assert "binary data, not a text table" in _one_line_error(capsys)


def test_old_mac_line_endings_are_read(tmp_path):
    table = _table(tmp_path / "counts.txt", _ok_cells())
    unix_code, unix_out = _track(tmp_path, table)
    unix = pd.read_csv(unix_out, sep="\t")
    table.write_bytes(table.read_bytes().replace(b"\n", b"\r"))
    (tmp_path / "meta_cr.txt").write_bytes(META.replace("\n", "\r").encode())
    out = tmp_path / "cr.tsv"
    code = main(["track", str(table), str(tmp_path / "meta_cr.txt"), "--out", str(out), "--bootstrap", "0"])
    assert unix_code == code == 0
    pd.testing.assert_frame_equal(pd.read_csv(out, sep="\t"), unix)


def test_sourcetracker2s_own_tiny_test_is_tracked(tmp_path):
    folder = require(SHARED / "st2_tiny_test")
    out = tmp_path / "st2.tsv"
    assert main(["track", str(folder / "otu_table.txt"), str(folder / "map.txt"), "--out", str(out),
                 "--bootstrap", "0"]) == 0
    result = pd.read_csv(out, sep="\t")
    assert result["sink"].nunique() == 5
    np.testing.assert_allclose(result.groupby("sink")["proportion"].sum(), 1.0, atol=1e-6)


def test_a_source_without_reads_is_left_out_and_its_sink_reported(tmp_path, capsys):
    cells = {**_ok_cells(), "s3": ["0", "0", "0", "0"], "k2": ["5", "40", "10", "1"], "k3": ["0", "0", "0", "0"]}
    meta = META + "s3\tmilk\tSource\t2\nk2\tstool\tSink\t2\nk3\tstool\tSink\t1\n"
    code, out = _track(tmp_path, _table(tmp_path / "counts.txt", cells), meta)
    assert code == 0
    err = capsys.readouterr().err
    assert "lactobiome: warning: " in err and "'s3'" in err
    assert "'k2' (no source samples with reads for id '2')" in err and "'k3' (no reads)" in err
    result = pd.read_csv(out, sep="\t")
    tracked = result[result["sink"] == "k1"]
    assert tracked["proportion"].notna().all() and abs(tracked["proportion"].sum() - 1.0) < 1e-6
    for sink in ("k2", "k3"):
        assert result.loc[result["sink"] == sink, "proportion"].isna().all()
    # nothing left to track: an error, not an empty table
    only = {"s1": ["0", "0", "0", "0"], "k1": ["1", "2", "3", "4"]}
    code, _ = _track(tmp_path, _table(tmp_path / "c2.txt", only), "SampleID\tEnv\tSourceSink\ns1\tmilk\tSource\nk1\tx\tSink\n")
    assert code == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith("lactobiome: error: ") and "no sink can be tracked" in lines[-1]
    assert all(line.startswith("lactobiome: warning: ") for line in lines[:-1])


@pytest.mark.parametrize(("meta_text", "needle"), [
    # ids that differ between the table and the metadata (FEAST and SourceTracker2 users' first error)
    (META.replace("k1\t", "K1\t"), "'K1' is not a column of"),
    # the same sample twice, e.g. listed as a sink and as a source
    (META + "k1\tstool\tSource\t1\n", "duplicate SampleID 'k1'"),
    (META.replace("\tSink\t", "\tSinks\t"), "expected 'Source' or 'Sink'"),
    (META.replace("\tSink\t", "\tSource\t"), "no sample has SourceSink 'Sink'"),
])
def test_metadata_errors_name_the_sample(tmp_path, capsys, meta_text, needle):
    code, _ = _track(tmp_path, _table(tmp_path / "counts.txt", _ok_cells()), meta_text)
    assert code == 2
    assert needle in _one_line_error(capsys)


def test_duplicate_sample_columns_and_relative_values_given_as_counts(tmp_path, capsys):
    table = tmp_path / "dup.txt"
    table.write_text("taxon\ts1\ts1\tk1\nt0\t1\t2\t3\nt1\t4\t5\t6\n")
    code, _ = _track(tmp_path, table)
    assert code == 2
    assert "duplicate sample" in _one_line_error(capsys)
    cells = {k: [f"{float(v) / 100:.3f}" for v in column] for k, column in _ok_cells().items()}
    code, _ = _track(tmp_path, _table(tmp_path / "rel.txt", cells), META, "--counts")
    assert code == 2
    assert "not a whole number" in _one_line_error(capsys)


def test_an_all_zero_taxon_changes_nothing(tmp_path):
    _, out = _track(tmp_path, _table(tmp_path / "a.txt", _ok_cells()))
    plain = pd.read_csv(out, sep="\t")
    cells = {k: [*v, "0"] for k, v in _ok_cells().items()}
    _, out = _track(tmp_path, _table(tmp_path / "b.txt", cells, taxa=("t0", "t1", "t2", "t3", "t4")))
    pd.testing.assert_frame_equal(pd.read_csv(out, sep="\t"), plain)


def test_outputs_are_readable_by_colleagues_and_links_are_kept(tmp_path):
    table = _table(tmp_path / "counts.txt", _ok_cells())
    (tmp_path / "meta.txt").write_text(META)
    old = os.umask(0o022)
    try:
        real = tmp_path / "real.tsv"
        link = tmp_path / "link.tsv"
        link.symlink_to(real)
        assert main(["track", str(table), str(tmp_path / "meta.txt"), "--out", str(link), "--bootstrap", "0"]) == 0
    finally:
        os.umask(old)
    assert link.is_symlink() and real.exists()
    assert stat.S_IMODE(real.stat().st_mode) == 0o644


def test_a_netcdf_that_is_not_a_result_is_refused(tmp_path, capsys):
    other = tmp_path / "other.nc"
    xr.Dataset({"temperature": (("x",), np.arange(3.0))}).to_netcdf(other)
    assert main(["observe", str(other), "--out", str(tmp_path / "obs")]) == 2
    assert "not a lactobiome result (no 'abundance' variable" in _one_line_error(capsys)
    assert main(["validate", "--from", str(other), "--out", str(tmp_path / "v.csv")]) == 2
    assert "not a lactobiome result" in _one_line_error(capsys)
    assert not (tmp_path / "obs").exists() and not (tmp_path / "v.csv").exists()


def test_a_reused_observation_folder_keeps_no_stale_tables(tmp_path):
    import lactobiome as lb
    from lactobiome.io.observed import write_observation
    from lactobiome.scenarios import load_scenario

    scenario = load_scenario("default", {"cohort": {"dyads": 4, "days": 30}, "sampling": {"days": [30]}})
    ds = lb.simulate(scenario)
    folder = tmp_path / "obs"
    folder.mkdir()
    (folder / "relative.tsv").write_text("from an earlier shotgun design\n")
    (folder / "notes.md").write_text("the user's own file\n")
    from lactobiome.observation.design import Design

    design = Design.model_validate({"name": "one_visit", "samples": [
        {"type": "infant_stool", "role": "sink", "days": [30]}, {"type": "milk", "role": "source", "days": [30]}]})
    write_observation(lb.observe(ds, design, depth=2000), folder)
    assert not (folder / "relative.tsv").exists()
    assert (folder / "notes.md").exists() and (folder / "counts.txt").exists()


def test_the_real_milk_to_infant_stool_run_tracks_every_sink_with_a_source(recwarn):
    """Blekhman's 103 month-1 stools with their mothers' milk: one milk sample has no reads."""
    import warnings

    from lactobiome.io.tables import read_metaphlan
    from lactobiome.tracking import track

    path = require(SHARED / "blekhman_milk_infant" / "milk_infant_rel_abundance_contam_rm_keepOnly.txt")
    table = read_metaphlan(path)
    milk = {c[: -len("MILK")]: c for c in table.columns if c.endswith("MILK")}
    stools = [c for c in table.columns if c.endswith("MO1") and c[: -len("MO1")] in milk]
    columns = sorted(set(stools) | {milk[s[: -len("MO1")]] for s in stools})
    is_milk = [c.endswith("MILK") for c in columns]
    meta = pd.DataFrame({"Env": ["milk" if m else "infant_stool" for m in is_milk],
                         "SourceSink": ["Source" if m else "Sink" for m in is_milk],
                         "id": [c[: -len("MILK")] if m else c[: -len("MO1")] for c, m in zip(columns, is_milk, strict=True)]},
                        index=pd.Index(columns, name="SampleID"))
    empty = [c for c in columns if c.endswith("MILK") and table[c].sum() == 0]
    assert len(stools) == 103 and empty  # the data as the issue met it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = track(table[columns], meta, relative=True, bootstrap=0, counts_name="mpa.txt")
    messages = [str(w.message) for w in caught]
    assert any("source sample(s) with no reads left out" in m and repr(empty[0]) in m for m in messages), messages
    orphan = empty[0][: -len("MILK")] + "MO1"
    assert any(f"{orphan!r} (no source samples with reads for id" in m for m in messages), messages
    untracked = result.groupby("sink")["proportion"].apply(lambda p: p.isna().all())
    assert set(untracked[untracked].index) == {orphan}
    tracked = result[result["sink"] != orphan]
    assert tracked["sink"].nunique() == 102
    np.testing.assert_allclose(tracked.groupby("sink")["proportion"].sum(), 1.0, atol=1e-6)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_every_file_simulate_and_observe_write_has_the_users_umask(tmp_path, umask, mode):
    from lactobiome.observation.design import Design

    design = tmp_path / "one_visit.yaml"
    design.write_text(Design.model_validate({"name": "one_visit", "samples": [
        {"type": "infant_stool", "role": "sink", "days": [3]},
        {"type": "milk", "role": "source", "days": [3]}]}).model_dump_json())
    old = os.umask(umask)
    try:
        result = tmp_path / "out" / "r.nc"
        assert main(["simulate", "--dyads", "3", "--days", "3", "--out", str(result), "--no-progress"]) == 0
        assert main(["observe", str(result), "--design", str(design), "--out", str(tmp_path / "obs")]) == 0
        assert main(["track", str(tmp_path / "obs" / "counts.txt"), str(tmp_path / "obs" / "metadata.txt"),
                     "--out", str(tmp_path / "obs" / "tracked.tsv"), "--bootstrap", "0"]) == 0
    finally:
        os.umask(old)
    written = [p for p in (tmp_path / "out").iterdir()] + [p for p in (tmp_path / "obs").iterdir()]
    assert len(written) >= 9, written
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {p.name: oct(mode) for p in written}
