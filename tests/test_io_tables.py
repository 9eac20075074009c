"""Tests of the count-table and metadata readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
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
from shared_data import SHARED, require


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
    # old Mac OS line endings (SourceTracker2's own tiny-test map.txt) are read, not refused
    cr = tmp_path / "map.txt"
    cr.write_text("#SampleID\tSourceSink\tEnv\rs1\tsink\tx\rs2\tsource\ty\r")
    lf = tmp_path / "map_lf.txt"
    lf.write_text("#SampleID\tSourceSink\tEnv\ns1\tsink\tx\ns2\tsource\ty\n")
    pd.testing.assert_frame_equal(read_metadata(cr), read_metadata(lf))


def test_shared_files_read() -> None:
    require(SHARED / "st2_tiny_test" / "otu_table.biom")
    require(SHARED / "feast_example" / "otu_example.txt")
    require(SHARED / "blekhman_milk_infant")
    h5 = read_counts(SHARED / "st2_tiny_test" / "otu_table.biom")
    txt = read_counts(SHARED / "st2_tiny_test" / "otu_table.txt")
    assert h5.shape == (20, 10) and h5.equals(txt[h5.columns].loc[h5.index])
    st2 = read_counts(SHARED / "feast_example" / "otu_example_st2.tsv")
    feast = read_counts(SHARED / "feast_example" / "otu_example.txt")
    assert st2.equals(feast)
    meta = read_metadata(SHARED / "feast_example" / "metadata_example_with_id.txt")
    assert meta.loc["ERR525698", "id"] == "1" and meta.loc["ERR525693", "id"] == ""
    mpa_file = SHARED / "blekhman_milk_infant" / "milk_infant_rel_abundance_contam_rm_keepOnly.txt"
    assert detect_format(mpa_file) == "metaphlan"
    mp = read_metaphlan(mpa_file)
    assert read_counts(mpa_file).equals(mp)
    assert all(t.startswith("s__") for t in mp.index)
    sums = mp.sum(axis=0)
    assert ((np.abs(sums - 1) < 1e-9) | (sums == 0)).all()


# --- lineage ids: FEAST counts or MetaPhlAn? -----------------------------------------------

LINEAGE = "k__Bacteria|p__Firmicutes|c__Bacilli|o__Lactobacillales|f__Streptococcaceae"
BIFIDO = "k__Bacteria|p__Actinobacteria|c__Actinobacteria|o__Bifidobacteriales|f__Bifidobacteriaceae"


def _lineage_counts(path: Path) -> Path:
    """A FEAST count table whose taxon ids are lineages, two rows without a species."""
    path.write_text(
        "taxon\tsink\tsa\tsb\n"
        f"{LINEAGE}|g__Streptococcus|s__Streptococcus_salivarius\t120\t300\t0\n"
        f"{LINEAGE}|g__Streptococcus\t40\t12\t3\n"  # resolved to the genus only
        f"{BIFIDO}|g__Bifidobacterium|s__Bifidobacterium_longum\t500\t2\t900\n"
        f"{BIFIDO}\t7\t0\t1\n"  # resolved to the family only
    )
    return path


def test_lineage_count_table_is_read_as_counts(tmp_path: Path) -> None:
    path = _lineage_counts(tmp_path / "lineage_counts.txt")
    assert detect_format(path) == "feast"
    frame = read_counts(path)
    assert frame.shape == (4, 3)  # every row kept, including those without a species
    assert frame.index[1] == f"{LINEAGE}|g__Streptococcus"
    np.testing.assert_array_equal(
        frame.to_numpy(), [[120, 300, 0], [40, 12, 3], [500, 2, 900], [7, 0, 1]]
    )
    assert frame.equals(read_feast_counts(path))


def _metaphlan_profile(header: str) -> str:
    """A MetaPhlAn profile at every rank (percent), species summing to 100 per sample."""
    species = {
        f"{LINEAGE}|g__Streptococcus|s__Streptococcus_salivarius|t__SGB1": (60.0, 25.5),
        f"{BIFIDO}|g__Bifidobacterium|s__Bifidobacterium_longum": (40.0, 74.5),
    }
    clades: dict[str, list[float]] = {}
    for lineage, values in species.items():
        ranks = lineage.split("|")
        for k in range(1, len(ranks) + 1):  # every rank is a row holding its clade's share
            row = clades.setdefault("|".join(ranks[:k]), [0.0, 0.0])
            row[0] += values[0]
            row[1] += values[1]
    body = "".join(f"{name}\t{a:.5f}\t{b:.5f}\n" for name, (a, b) in clades.items())
    return header + body


@pytest.mark.parametrize(
    "header",
    [
        "#mpa_vJun23_CHOCOPhlAnSGB_202307\nclade_name\tm1\tm2\n",  # MetaPhlAn 4 merged
        "clade_name\tm1\tm2\n",
        "ID\tm1\tm2\n",  # MetaPhlAn 2 merged: no tell-tale header, the values decide
    ],
)
def test_metaphlan_profiles_still_read_as_metaphlan(tmp_path: Path, header: str) -> None:
    path = tmp_path / "profile.txt"
    path.write_text(_metaphlan_profile(header))
    assert detect_format(path) == "metaphlan"
    frame = read_counts(path)
    assert list(frame.index) == ["s__Streptococcus_salivarius", "s__Bifidobacterium_longum"]
    np.testing.assert_allclose(frame.to_numpy(), [[0.6, 0.255], [0.4, 0.745]])


AMBIGUOUS = {
    # fractions with lineage ids, some rows without a species, no MetaPhlAn header
    "fractions": (
        "taxon\tm1\tm2\n"
        f"{LINEAGE}|g__Streptococcus|s__Streptococcus_salivarius\t55.5\t20\n"
        f"{LINEAGE}|g__Streptococcus\t44.5\t80\n",
        "not whole-number read counts",
    ),
    # read counts at every rank (a read would count once per rank)
    "counts_at_every_rank": (
        "taxon\tm1\tm2\n"
        "k__Bacteria\t500\t300\n"
        "k__Bacteria|p__Firmicutes\t420\t300\n"
        "k__Bacteria|p__Firmicutes|c__Bacilli\t400\t250\n",
        "tree of ranks",
    ),
}


@pytest.mark.parametrize("case", sorted(AMBIGUOUS))
def test_ambiguous_lineage_tables_are_refused(tmp_path: Path, case: str) -> None:
    text, needle = AMBIGUOUS[case]
    path = tmp_path / f"{case}.txt"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_counts(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert needle in message and "--format feast" in message and "metaphlan" in message
    # the way out: say which it is
    assert read_counts(path, fmt="feast", integer=False).shape == (len(text.splitlines()) - 1, 2)


def test_metaphlan_header_with_counts_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "counts_with_clade_name.txt"
    path.write_text(f"clade_name\tm1\tm2\n{LINEAGE}|g__Streptococcus\t4000\t12\n")
    with pytest.raises(InputError, match=r"counts_with_clade_name.txt: the header is MetaPhlAn's "
                       r"but sample 'm1' sums to 4000"):
        read_counts(path)


def test_track_counts_every_read_of_a_lineage_table(tmp_path: Path) -> None:
    from lactobiome.cli import main
    from lactobiome.tracking import track

    counts = _lineage_counts(tmp_path / "lineage_counts.txt")
    meta = tmp_path / "meta.txt"
    meta.write_text("SampleID\tEnv\tSourceSink\nsink\tgut\tSink\nsa\tmilk\tSource\n"
                    "sb\tskin\tSource\n")
    result = track(read_counts(counts), read_metadata(meta), bootstrap=0)
    diagnostics = result.attrs["diagnostics"].iloc[0]
    assert result.attrs["relative"] is False
    assert diagnostics["taxa"] == 4 and diagnostics["reads"] == 120 + 40 + 500 + 7
    out = tmp_path / "out.tsv"
    assert main(["track", str(counts), str(meta), "--out", str(out), "--bootstrap", "0"]) == 0
    assert out.exists()


# --- line numbers in messages are the file's lines -----------------------------------------


def test_a_word_among_counts_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "word.txt"
    path.write_text("s1\ts2\nt1\t1\t2\nt2\t3\tmany\n")
    with pytest.raises(InputError, match=r"word.txt: line 3 \(taxon 't2'\), sample 's2': 'many' "
                       r"is not a number"):
        read_feast_counts(path)


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    feast = tmp_path / "gaps.txt"
    feast.write_text("s1\ts2\n\nt1\t1\t2\n\n\nt2\t3\t-4\n")
    with pytest.raises(InputError, match=r"gaps.txt: line 6 \(taxon 't2'\), sample 's2': negative"):
        read_feast_counts(feast)
    meta = tmp_path / "meta.txt"
    meta.write_text("SampleID\tEnv\tSourceSink\n\ns1\tgut\tSink\n\ns2\tmilk\tDrain\n")
    with pytest.raises(InputError, match=r"meta.txt: line 5 \(sample 's2'\)"):
        read_metadata(meta)


def test_metaphlan_errors_name_the_species_line(tmp_path: Path) -> None:
    text = _metaphlan_profile("#mpa_v30_CHOCOPhlAn_201901\nclade_name\tm1\tm2\n")
    lines = text.splitlines()
    bad = next(i for i, ln in enumerate(lines) if ln.split("\t")[0].endswith("s__Bifidobacterium_longum"))
    lines[bad] = lines[bad].replace("74.50000", "oops")
    path = tmp_path / "bad_profile.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"bad_profile.txt: line {bad + 1} \(taxon "):
        read_metaphlan(path)


def test_a_dense_json_biom_with_ragged_rows_is_one_input_error(tmp_path):
    path = tmp_path / "ragged.biom"
    path.write_text(json.dumps({
        "rows": [{"id": "t1"}, {"id": "t2"}], "columns": [{"id": "s1"}, {"id": "s2"}], "shape": [2, 2],
        "matrix_type": "dense", "data": [[1, 2], [3]]}))
    with pytest.raises(InputError, match=r"ragged.biom: dense 'data' is not a 2 x 2 table of numbers"):
        read_biom(path)
