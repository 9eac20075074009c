"""Observation models, study designs and the ``observe`` command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lactobiome.errors import InputError
from lactobiome.model.taxa import load_taxa
from lactobiome.observation import load_design, models, observe
from lactobiome.observation.design import parse_design

DAYS = [7, 14, 30]
SMALL = {
    "name": "small",
    "depth": 5000,
    "blanks": 3,
    "samples": [
        {"type": "infant_stool", "role": "sink", "days": DAYS},
        {"type": "milk", "role": "source", "days": DAYS},
        {"type": "areolar_skin", "role": "source", "days": DAYS},
        {"type": "maternal_stool", "role": "source", "days": [7, 30]},
    ],
}


@pytest.fixture(scope="module")
def result():
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import simulate_in_memory

    sc = load_scenario("default", {"cohort": {"dyads": 5, "days": 30}, "sampling": {"days": DAYS}})
    return simulate_in_memory(sc)


@pytest.fixture(scope="module")
def design():
    return parse_design(SMALL, "small")


def test_contaminant_share_falls_as_biomass_rises():
    taxa = load_taxa()
    contaminant = np.asarray(taxa["contaminant"], dtype=bool)
    copies = np.asarray(taxa["copies_16s"], dtype=float)
    sample = np.where(contaminant, 0.0, 1.0)
    sample /= sample.sum()
    shares = []
    for biomass in (1e2, 1e3, 1e4, 1e6, 1e10):
        rng = models.sample_rng(3, 0, 1, "milk")
        profile = models.contaminant_profile(rng, contaminant, 20.0)
        extract = models.add_contamination(sample * biomass, profile, 3000.0)
        reads = models.amplicon_counts(rng, extract, copies, 20000, 0.005)
        shares.append(reads[contaminant].sum() / reads.sum())
    assert all(a > b for a, b in zip(shares, shares[1:], strict=False))
    assert shares[0] > 0.9 and shares[-1] < 1e-3


def test_blanks_only_contaminants_and_counts_sum_to_depth(result, design):
    obs = observe(result, design, seed=2)
    contaminant = np.asarray(load_taxa()["contaminant"], dtype=bool)
    assert obs.blanks.shape[1] == 3
    assert (obs.blanks.to_numpy()[~contaminant] == 0).all()
    assert (obs.counts.sum(axis=0) == 5000).all()
    assert (observe(result, design, depth=777, seed=2).counts.sum(axis=0) == 777).all()


def test_sample_list_matches_design(result, design):
    obs = observe(result, design)
    meta = obs.metadata
    expected = {(d, day, s["type"]) for d in range(5) for s in SMALL["samples"] for day in s["days"]}
    got = set(zip(meta["dyad"], meta["day"], meta["Env"], strict=True))
    assert got == expected and len(meta) == len(expected)
    assert set(meta.loc[meta["Env"] == "infant_stool", "SourceSink"]) == {"Sink"}
    # each sink is paired with its own mother's samples of the same visit
    sinks = meta[meta["SourceSink"] == "Sink"]
    for sid, row in sinks.iterrows():
        mates = meta[(meta["id"] == row["id"]) & (meta.index != sid)]
        assert set(mates["dyad"]) == {row["dyad"]} and set(mates["day"]) == {row["day"]}
    pann = load_design("pannaraj2017")
    n = sum(len(set(s.days)) for s in pann.samples)
    assert len(pann.sample_list([0, 1, 2])) == 3 * n


def test_identical_for_identical_seeds_and_independent_of_other_dyads(result, design):
    a = observe(result, design, seed=5)
    b = observe(result, design, seed=5)
    pd.testing.assert_frame_equal(a.counts, b.counts)
    pd.testing.assert_frame_equal(a.blanks, b.blanks)
    c = observe(result, design, seed=6)
    assert not a.counts.equals(c.counts)
    sub = observe(result, design, seed=5, dyads=[3, 1])
    pd.testing.assert_frame_equal(sub.counts, a.counts[sub.counts.columns])


def test_truth_sums_to_one_per_sink(result, design):
    obs = observe(result, design)
    sums = obs.truth.groupby("sink")["proportion"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)
    assert set(sums.index) == set(obs.metadata.index[obs.metadata["SourceSink"] == "Sink"])
    day14 = obs.truth[obs.truth["sink"].str.endswith("day14")]
    assert "maternal_stool" not in set(day14["source"])


def test_missing_day_is_a_clear_error(result):
    design = load_design("pannaraj2017")
    with pytest.raises(InputError, match=r"day 21 is not a recorded day .*recorded days: 7, 14, 30"):
        observe(result, design)


def test_observe_cli_writes_tables_and_bad_design_exits_2(result, tmp_path):
    from lactobiome.cli import cli
    from lactobiome.io.tables import read_biom, read_feast_counts, read_metadata

    path = tmp_path / "r.nc"
    result.to_netcdf(path)
    good = tmp_path / "small.yaml"
    import yaml

    good.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "obs"
    runner = CliRunner()
    res = runner.invoke(cli, ["observe", str(path), "--design", str(good), "--out", str(out)])
    assert res.exit_code == 0, res.output
    counts = read_feast_counts(out / "counts.txt")
    meta = read_metadata(out / "metadata.txt")
    assert set(meta.index) == set(counts.columns)
    pd.testing.assert_frame_equal(read_biom(out / "table.biom"), counts, check_names=False)
    truth = pd.read_csv(out / "truth.tsv", sep="\t")
    assert list(truth.columns) == ["sink", "source", "proportion", "ci_low", "ci_high"]

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**SMALL, "depth": -3}))
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "lactobiome", "observe", str(path), "--design", str(bad), "--out",
         str(out)], capture_output=True, text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "depth" in lines[0], proc.stderr
