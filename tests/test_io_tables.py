"""Tests of the count-table and metadata readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lactobiome.errors import InputError
from lactobiome.io.tables import (
    detect_format,
    read_biom,
    read_classic_table,
    read_counts,
    read_feast_counts,
    read_metadata,
    read_metaphlan,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_feast_header_with_and_without_taxon_column(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    a.write_text("s1\ts2\nt1\t1\t2\nt2\t3\t4\n")
    b = tmp_path / "b.txt"
    b.write_text("taxon\ts1\ts2\r\nt1\t1\t2\r\nt2\t3\t4\r\n")  # CRLF is fine
    fa, fb = read_feast_counts(a), read_feast_counts(b)
    assert list(fa.columns) == ["s1", "s2"] and fa.equals(fb)


def test_json_biom_and_classic(tmp_path: Path) -> None:
    doc = {"id": "x", "format": "Biological Observation Matrix 1.0.0", "type": "OTU table",
           "matrix_type": "sparse", "shape": [2, 2],
           "rows": [{"id": "o1"}, {"id": "o2"}], "columns": [{"id": "s1"}, {"id": "s2"}],
           "data": [[0, 0, 5], [1, 1, 7]]}
    path = tmp_path / "t.biom"
    path.write_text(json.dumps(doc))
    assert detect_format(path) == "biom-json"
    frame = read_biom(path)
    np.testing.assert_array_equal(frame.to_numpy(), [[5, 0], [0, 7]])
    classic = tmp_path / "t.txt"
    classic.write_text("# Constructed from biom file\n#OTU ID\ts1\ts2\ttaxonomy\no1\t5.0\t0\tk__A\n")
    assert read_classic_table(classic).loc["o1", "s1"] == 5


def test_errors_name_file_and_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("s1\ts2\nt1\t1\t2\nt2\t3\n")
    with pytest.raises(InputError, match=r"bad.txt: line 3 \(taxon 't2'\)"):
        read_feast_counts(bad)
    cr = tmp_path / "map.txt"
    cr.write_text("#SampleID\tSourceSink\tEnv\rs1\tsink\tx\r")
    with pytest.raises(InputError, match="map.txt: lines end in a bare carriage return"):
        read_metadata(cr)


def test_shared_files_read() -> None:
    if not SHARED.exists():
        pytest.skip(f"shared data not found at {SHARED}")
    h5 = read_counts(SHARED / "st2_tiny_test" / "otu_table.biom")
    txt = read_counts(SHARED / "st2_tiny_test" / "otu_table.txt")
    assert h5.shape == (20, 10) and h5.equals(txt[h5.columns].loc[h5.index])
    st2 = read_counts(SHARED / "feast_example" / "otu_example_st2.tsv")
    feast = read_counts(SHARED / "feast_example" / "otu_example.txt")
    assert st2.equals(feast)
    meta = read_metadata(SHARED / "feast_example" / "metadata_example_with_id.txt")
    assert meta.loc["ERR525698", "id"] == "1" and meta.loc["ERR525693", "id"] == ""
    mp = read_metaphlan(
        SHARED / "blekhman_milk_infant" / "milk_infant_rel_abundance_contam_rm_keepOnly.txt"
    )
    assert all(t.startswith("s__") for t in mp.index)
    sums = mp.sum(axis=0)
    assert ((np.abs(sums - 1) < 1e-9) | (sums == 0)).all()
