"""Property-based fuzzing of every reader: any input gives a result or one line naming the file.

``make test`` runs a few hundred generated inputs; ``make fuzz`` runs over 15,000
(``LACTOBIOME_FUZZ_EXAMPLES`` sets the examples per reader). A reader may accept an input or
refuse it with a :class:`lactobiome.errors.LactobiomeError` whose message is one line that
names the file; any other exception (a traceback for the user) fails the property, and
Hypothesis shrinks the input to the smallest one that breaks it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lactobiome.errors import LactobiomeError  # noqa: E402

EXAMPLES = int(os.environ.get("LACTOBIOME_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize="CI" in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

# cells a user's table may hold: counts, fractions, words, missing values, absurd numbers
CELL = st.one_of(
    st.integers(0, 10_000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NA", "nan", "-1", "1e300", "99999999999999999999", "abc", "1,5", " 3 ", "0x10",
                     "Inf", "-0", "1e-320", "\u00a0", '"7"']),
)
NAME = st.one_of(st.text(alphabet="abcdefgKS_|.0123 ", min_size=0, max_size=12),
                 st.sampled_from(["k__Bacteria|p__Firmicutes", "s__x", "#OTU ID", "taxon", "SampleID", "clade_name"]))
NEWLINE = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def text_table(draw: st.DrawFn) -> bytes:
    """A tab-separated table of random shape, header, ids and cells, with any line endings."""
    n_cols = draw(st.integers(1, 5))
    n_rows = draw(st.integers(0, 6))
    header = [draw(st.sampled_from(["", "#OTU ID", "taxon", "clade_name", "SampleID", "#SampleID"]))]
    header += [draw(NAME) for _ in range(n_cols)]
    lines = ["\t".join(header)]
    for _ in range(n_rows):
        width = n_cols + draw(st.sampled_from([0, 0, 0, 1, -1]))
        lines.append("\t".join([draw(NAME)] + [draw(CELL) for _ in range(max(width, 0))]))
    if draw(st.booleans()):
        lines.insert(0, draw(st.sampled_from(["#mpa_v31_CHOCOPhlAn_201901", "# Constructed from biom file", "#"])))
    newline = draw(NEWLINE)
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    raw = text.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:  # now and then, bytes that are not text at all
        raw = draw(st.binary(max_size=200)) + raw
    return raw


@st.composite
def metadata_table(draw: st.DrawFn) -> bytes:
    columns = draw(st.permutations(["SampleID", "Env", "SourceSink", "id"]).map(
        lambda c: c[: draw(st.integers(1, 4))]))
    role = st.sampled_from(["Source", "Sink", "source", "sink", "Drain", "", "NA"])
    rows = ["\t".join(columns)]
    for _ in range(draw(st.integers(0, 6))):
        cells = {"SampleID": draw(NAME), "Env": draw(NAME), "SourceSink": draw(role),
                 "id": draw(st.one_of(st.integers(0, 3).map(str), st.just(""), st.just("NA")))}
        rows.append("\t".join(cells[c] for c in columns))
    return draw(NEWLINE).join(rows).encode()


@st.composite
def biom_json(draw: st.DrawFn) -> bytes:
    n_rows, n_cols = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    doc: dict[str, object] = {
        "id": "x", "format": "Biological Observation Matrix 1.0.0", "type": "OTU table",
        "rows": [{"id": draw(NAME), "metadata": None} for _ in range(n_rows)],
        "columns": [{"id": draw(NAME), "metadata": None} for _ in range(n_cols)],
        "matrix_type": draw(st.sampled_from(["dense", "sparse", "other"])),
        "shape": [draw(st.integers(0, 5)), draw(st.integers(0, 5))],
    }
    value = st.one_of(st.integers(-2, 1000), st.floats(allow_nan=True), st.text(max_size=3), st.none())
    if doc["matrix_type"] == "dense":
        doc["data"] = [[draw(value) for _ in range(n_cols)] for _ in range(draw(st.integers(0, 4)))]
    else:
        doc["data"] = [[draw(st.integers(-1, 5)), draw(st.integers(-1, 5)), draw(value)]
                       for _ in range(draw(st.integers(0, 5)))]
    for key in draw(st.lists(st.sampled_from(["rows", "columns", "data", "shape", "matrix_type"]), max_size=2)):
        doc.pop(key, None)
    return json.dumps(doc).encode()


@st.composite
def yaml_document(draw: st.DrawFn) -> bytes:
    """Scenario/design-like YAML: known sections with random values, or no YAML at all."""
    leaf = st.one_of(st.integers(-5, 10**7), st.floats(allow_nan=True), st.booleans(), st.text(max_size=8),
                     st.none(), st.lists(st.integers(-1, 400), max_size=4))
    section = st.dictionaries(st.sampled_from(["dyads", "days", "seed", "chunk_size", "caesarean", "name",
                                               "days_", "strain", "route", "cfu_per_day", "type", "role",
                                               "depth", "assay", "colour"]), leaf, max_size=4)
    doc = st.dictionaries(st.sampled_from(["name", "cohort", "population", "routes", "interventions",
                                           "sampling", "parameters", "treatment", "samples", "depth", "assay",
                                           "unknown_section"]),
                          st.one_of(leaf, section, st.lists(section, max_size=3)), max_size=5)
    import yaml

    text = yaml.safe_dump(draw(doc))
    mangle = draw(st.sampled_from(["", "", "", ": :", "\t- [", "%YAML 9\n", "---\n---\n", "\x00"]))
    return (mangle + text).encode("utf-8", "surrogatepass")


@st.composite
def parameter_table(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from(["name,value,unit,prior,source,note,calibrated_to",
                                   "name,value,unit,prior,source,note", "name,value", ""]))
    rows = [header]
    for _ in range(draw(st.integers(0, 4))):
        rows.append(",".join([
            draw(st.sampled_from(["milk_pool_volume_ml", "x", "Bad Name", ""])),
            draw(CELL),
            draw(st.sampled_from(["mL", "1", "fraction", "furlongs", ""])),
            draw(st.sampled_from(["fixed", "uniform(1,2)", "beta(1)", "normal(a,b)", ""])),
            draw(st.sampled_from(["assumption", "", "Smith 2020"])),
            draw(st.text(alphabet='ab,"\n', max_size=6)),
        ]))
    return "\n".join(rows).encode()


def _one_line_naming(error: LactobiomeError, path: Path) -> None:
    message = str(error)
    assert "\n" not in message, message
    assert path.name in message or str(path) in message, message


def _check(reader: Callable[[Path], object], raw: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(raw)
        try:
            reader(path)
        except LactobiomeError as error:
            _one_line_naming(error, path)


def _tables():
    from lactobiome.io import tables

    return tables


@FUZZ
@given(text_table())
def test_count_table_readers_never_crash(raw):
    tables = _tables()
    for fmt in ("auto", "feast", "classic", "metaphlan"):
        _check(lambda p, fmt=fmt: tables.read_counts(p, fmt=fmt), raw, ".txt")


@FUZZ
@given(metadata_table())
def test_metadata_reader_never_crashes(raw):
    _check(_tables().read_metadata, raw, ".txt")


@FUZZ
@given(biom_json())
def test_biom_json_reader_never_crashes(raw):
    _check(_tables().read_biom, raw, ".biom")


@FUZZ
@given(st.binary(max_size=400))
def test_biom_and_tables_survive_random_bytes(raw):
    tables = _tables()
    _check(tables.read_biom, b"\x89HDF\r\n\x1a\n" + raw, ".biom")
    _check(tables.read_counts, raw, ".txt")


@FUZZ
@given(yaml_document())
def test_scenario_and_design_loaders_never_crash(raw):
    from lactobiome.observation.design import load_design
    from lactobiome.scenarios import load_scenario

    _check(lambda p: load_scenario(str(p)), raw, ".yaml")
    _check(lambda p: load_design(str(p)), raw, ".yaml")


@FUZZ
@given(parameter_table())
def test_parameter_table_loader_never_crashes(raw):
    from lactobiome.model.parameters import load_parameters

    _check(load_parameters, raw, ".csv")


@FUZZ
@given(st.binary(max_size=300), st.booleans())
def test_result_reader_never_crashes(raw, netcdf_like):
    from lactobiome.io.dataset import open_result

    prefix = b"\x89HDF\r\n\x1a\n" if netcdf_like else b"CDF\x01"
    _check(open_result, prefix + raw, ".nc")


@FUZZ
@given(st.lists(st.lists(st.integers(0, 50), min_size=3, max_size=3), min_size=1, max_size=6),
       st.lists(st.sampled_from(["Source", "Sink"]), min_size=3, max_size=3), st.integers(0, 2))
def test_tracking_any_small_valid_table_gives_proportions_or_one_line(cells, roles, ids):
    """Valid files with awkward content (zero rows, no sinks, sources without reads) through `track`."""
    import pandas as pd

    from lactobiome.tracking.core import track

    counts = pd.DataFrame(np.array(cells, dtype=float), index=[f"t{i}" for i in range(len(cells))],
                          columns=["a", "b", "c"])
    metadata = pd.DataFrame({"SampleID": ["a", "b", "c"], "Env": ["x", "y", "z"], "SourceSink": roles,
                             "id": [str(i % (ids + 1)) for i in range(3)]})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = track(counts, metadata, bootstrap=0, counts_name="counts.txt", metadata_name="meta.txt")
        except LactobiomeError as error:
            assert "\n" not in str(error)
            return
    tracked = result.dropna(subset=["proportion"])
    assert ((tracked["proportion"] >= -1e-12) & (tracked["proportion"] <= 1 + 1e-12)).all()
    sums = tracked.groupby("sink")["proportion"].sum()
    np.testing.assert_allclose(sums.values, 1.0, atol=1e-6)


# --- formats the properties above reach only as random bytes: real HDF5 and NetCDF files with
# random content, SourceTracker2 mapping files, and the whole `track` command ---------------

ARRAY = st.one_of(
    st.lists(st.integers(-3, 10), max_size=6).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6).map(lambda v: np.array(v, dtype=np.float64)),
    st.lists(st.sampled_from([b"a", b"b", b"", b"\xff", b"7"]), max_size=6).map(lambda v: np.array(v, dtype=object)),
    st.just(np.zeros((2, 2), dtype=np.int32)),
)
BIOM_KEYS = ("observation/ids", "sample/ids", "observation/matrix/data", "observation/matrix/indices",
             "observation/matrix/indptr")


@st.composite
def biom_hdf5_layout(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """The datasets of a BIOM 2 file: mostly consistent, then one or more of them broken."""
    n_obs, n_samples = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    counts = np.array(draw(st.lists(st.integers(0, 9), min_size=n_obs * n_samples, max_size=n_obs * n_samples)),
                      dtype=np.float64).reshape(n_obs, n_samples)
    rows, cols = np.nonzero(counts)
    layout: dict[str, np.ndarray] = {
        "observation/ids": np.array([f"t{i}".encode() for i in range(n_obs)], dtype=object),
        "sample/ids": np.array([f"s{j}".encode() for j in range(n_samples)], dtype=object),
        "observation/matrix/data": counts[rows, cols],
        "observation/matrix/indices": cols.astype(np.int32),
        "observation/matrix/indptr": np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_obs))]).astype(np.int32),
    }
    for key in draw(st.lists(st.sampled_from(BIOM_KEYS), max_size=3, unique=True)):
        if draw(st.booleans()):
            layout.pop(key)
        else:
            layout[key] = draw(ARRAY)
    return layout


def _write_hdf5(layout: dict[str, np.ndarray], path: Path) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        for key, values in layout.items():
            if values.dtype == object:
                f.create_dataset(key, data=values, dtype=h5py.string_dtype(encoding="ascii"))
            else:
                f.create_dataset(key, data=values)


@FUZZ
@given(biom_hdf5_layout())
def test_biom_hdf5_reader_never_crashes(layout):
    from lactobiome.io import tables

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.biom"
        _write_hdf5(layout, path)
        for reader in (tables.read_biom, tables.read_counts):
            try:
                frame = reader(path)
            except LactobiomeError as error:
                _one_line_naming(error, path)
            else:
                assert frame.shape == (len(layout["observation/ids"]), len(layout["sample/ids"]))


@st.composite
def st2_mapping(draw: st.DrawFn) -> bytes:
    """SourceTracker2 mapping files: '#SampleID', its column aliases, src/snk, extra columns."""
    sample = draw(st.sampled_from(["#SampleID", "SampleID", "#sample-id", "sample_id"]))
    env = draw(st.sampled_from(["Env", "sample-type", "env"]))
    role = draw(st.sampled_from(["SourceSink", "source-or-sink", "sourcesink"]))
    columns = draw(st.permutations([sample, env, role, "Description", "BarcodeSequence"]))
    columns = columns[: draw(st.integers(2, 5))]
    lines = ["\t".join(columns)]
    for _ in range(draw(st.integers(0, 6))):
        cells = {sample: draw(NAME), env: draw(NAME),
                 role: draw(st.sampled_from(["source", "sink", "src", "snk", "Source", "both", ""])),
                 "Description": draw(st.text(max_size=5)), "BarcodeSequence": draw(st.sampled_from(["ACGT", ""]))}
        lines.append("\t".join(cells[c].replace("\t", " ") for c in columns))
    if draw(st.booleans()):  # QIIME 1 mapping files put comment lines after the header
        lines.insert(1, "#a comment line")
    return (draw(NEWLINE).join(lines) + draw(st.sampled_from(["", "\n", "\r"]))).encode("utf-8", "surrogatepass")


@FUZZ
@given(st2_mapping())
def test_sourcetracker2_mapping_reader_never_crashes(raw):
    _check(_tables().read_metadata, raw, ".txt")


VARIABLE_NAMES = ["abundance", "milk_volume_ml", "mastitis_state", "temperature"]
DIMENSION_NAMES = ["dyad", "sample_day", "site", "taxon", "origin", "day", "x"]


@st.composite
def netcdf_dataset(draw: st.DrawFn):
    """A valid NetCDF file that may or may not be shaped like a lactobiome result."""
    import xarray as xr

    variables = {}
    for name in draw(st.lists(st.sampled_from(VARIABLE_NAMES), max_size=3, unique=True)):
        dims = tuple(draw(st.lists(st.sampled_from(DIMENSION_NAMES), max_size=5, unique=True)))
        attrs = {}
        if name == "mastitis_state" and draw(st.booleans()):
            attrs = {"flag_values": np.array(draw(st.lists(st.integers(-2, 9), min_size=1, max_size=4)), dtype=np.int8),
                     "flag_meanings": draw(st.sampled_from(["none", "a b", "", "a b c d e"]))}
        dtype = np.int8 if name == "mastitis_state" else np.float32
        variables[name] = (dims, np.full((2,) * len(dims), draw(st.integers(-1, 8)), dtype=dtype), attrs)
    return xr.Dataset(variables)


@FUZZ
@given(netcdf_dataset())
def test_result_reader_never_crashes_on_real_netcdf_files(ds):
    from lactobiome.io.dataset import open_result

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.nc"
        ds.to_netcdf(path, engine="netcdf4")
        try:
            open_result(path).close()
        except LactobiomeError as error:
            _one_line_naming(error, path)


POOL = ["s1", "s2", "k1", "k2"]


@st.composite
def study_files(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A count table and a metadata file over the same few samples, with awkward content.

    Half the pairs are clean (distinct samples, every one in the metadata, whole counts) so
    that many are tracked; the others mix in the users' mistakes: ids that differ in case,
    duplicate samples, unknown roles, cells that are not counts.
    """
    clean = draw(st.booleans())
    if clean:
        columns = draw(st.lists(st.sampled_from(POOL), min_size=2, max_size=4, unique=True))
        listed = list(columns)
        cell = st.integers(0, 60).map(str)
        roles = st.sampled_from(["Source", "Sink", "source", "sink"])
        ids = st.sampled_from(["", "1"])
    else:
        columns = draw(st.lists(st.sampled_from(POOL + ["K1", "s1"]), min_size=1, max_size=4))
        listed = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=5))
        cell = st.one_of(st.integers(0, 60).map(str), CELL)
        roles = st.sampled_from(["Source", "Sink", "sink", "Sinks"])
        ids = st.sampled_from(["", "1", "2", "NA"])
    lines = ["taxon\t" + "\t".join(columns)]
    for i in range(draw(st.integers(0 if not clean else 1, 5))):
        lines.append("\t".join([f"t{i}"] + [draw(cell) for _ in columns]))
    meta = ["SampleID\tEnv\tSourceSink\tid"]
    for sample in listed:
        meta.append("\t".join([sample, draw(st.sampled_from(["milk", "skin", "gut"])), draw(roles), draw(ids)]))
    return ("\n".join(lines) + "\n").encode(), ("\n".join(meta) + "\n").encode()


@FUZZ
@given(study_files(), st.sampled_from([[], ["--counts"], ["--relative"], ["--wide"], ["--by-sample"]]))
def test_the_track_command_exits_0_or_2_with_one_line_and_writes_nothing_when_refused(files, flags):
    """`lactobiome track` end to end: a result, or exit 2 with one error line and no output file."""
    import contextlib
    import io
    import warnings

    from lactobiome.cli import main

    with tempfile.TemporaryDirectory() as folder:
        table, meta, out = Path(folder) / "counts.txt", Path(folder) / "meta.txt", Path(folder) / "out.tsv"
        table.write_bytes(files[0])
        meta.write_bytes(files[1])
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            code = main(["track", str(table), str(meta), "--out", str(out), "--bootstrap", "0", *flags])
        lines = err.getvalue().splitlines()
        event(f"exit {code}")  # --hypothesis-show-statistics: how many inputs were tracked, how many refused
        assert code in (0, 2), err.getvalue()
        assert "Traceback" not in err.getvalue()
        if code == 2:
            assert lines and lines[-1].startswith("lactobiome: error: "), lines
            assert all(line.startswith("lactobiome: warning: ") for line in lines[:-1]), lines
            assert not out.exists()
            assert "counts.txt" in lines[-1] or "meta.txt" in lines[-1], lines[-1]
        else:
            assert out.exists()
