"""Overdispersed reads: effective depth, the replicate estimate of rho, and the engine told rho."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lactobiome.errors import InputError
from lactobiome.model.parameters import load_parameters
from lactobiome.observation.models import dirichlet_multinomial
from lactobiome.tracking import track
from lactobiome.tracking.overdispersion import (
    effective_depth,
    effective_reads,
    overdispersion_from_replicates,
)


def _community(rng: np.random.Generator, taxa: int) -> np.ndarray:
    p = rng.lognormal(0.0, 1.5, taxa)
    return p / p.sum()


def test_effective_depth_follows_the_dm_variance() -> None:
    # rho = 0 is a multinomial; a deep sample is worth at most 1 / rho reads
    assert effective_depth(20_000, 0.0) == 20_000
    assert effective_depth(1, 0.3) == 1.0
    assert effective_depth(20_000, 0.005) == pytest.approx(20_000 / (1 + 19_999 * 0.005))
    assert effective_depth(1e9, 0.005) < 1 / 0.005
    table = pd.DataFrame({"a": [3, 1], "b": [0, 0]})
    assert effective_reads(table, 0.0) is table
    scaled = effective_reads(table, 0.1)
    assert scaled["a"].sum() == pytest.approx(4 / 1.3) and scaled["b"].sum() == 0
    assert scaled.loc[0, "a"] / scaled.loc[1, "a"] == pytest.approx(3.0)
    with pytest.raises(InputError, match="overdispersion"):
        effective_reads(table, 1.0)


@pytest.mark.parametrize("rho", [0.002, 0.005, 0.02])
def test_replicates_give_back_the_rho_they_were_drawn_with(rho: float) -> None:
    rng = np.random.default_rng(3)
    columns, groups = {}, {}
    for g in range(12):  # twelve extracts, three libraries each at unequal depths
        p = _community(rng, 40)
        for j, depth in enumerate((8_000, 20_000, 35_000)):
            columns[f"x{g}_{j}"] = dirichlet_multinomial(rng, p, depth, rho)
            groups[f"x{g}_{j}"] = f"x{g}"
    est = overdispersion_from_replicates(pd.DataFrame(columns), pd.Series(groups))
    assert est == pytest.approx(rho, rel=0.25)


def test_multinomial_replicates_give_no_overdispersion() -> None:
    rng = np.random.default_rng(4)
    p = _community(rng, 30)
    counts = pd.DataFrame({f"r{j}": rng.multinomial(20_000, p) for j in range(6)})
    est = overdispersion_from_replicates(counts, pd.Series("one", index=counts.columns))
    assert est < 5e-4
    with pytest.raises(InputError, match="replicate"):
        overdispersion_from_replicates(counts, pd.Series([f"g{j}" for j in range(6)], index=counts.columns))


def _planted(rho: float, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Sinks that are known mixtures of two sources' true communities; every sample is a DM draw."""
    rng = np.random.default_rng(seed)
    columns, rows, shares = {}, [], []
    for i in range(10):
        a, b = _community(rng, 50), _community(rng, 50)
        w = rng.uniform(0.1, 0.9)
        columns[f"A{i}"] = dirichlet_multinomial(rng, a, 20_000, rho)
        columns[f"B{i}"] = dirichlet_multinomial(rng, b, 20_000, rho)
        columns[f"S{i}"] = dirichlet_multinomial(rng, w * a + (1 - w) * b, 20_000, rho)
        rows += [(f"A{i}", "A", "Source", i), (f"B{i}", "B", "Source", i), (f"S{i}", "S", "Sink", i)]
        shares.append(w)
    meta = pd.DataFrame(rows, columns=["SampleID", "Env", "SourceSink", "id"]).set_index("SampleID")
    return pd.DataFrame(columns), meta, np.array(shares)


def test_told_rho_the_engine_recovers_a_planted_mixture_better_than_from_raw_reads() -> None:
    rho = 0.01
    counts, meta, shares = _planted(rho)
    raw = track(counts, meta, bootstrap=0).pivot(index="sink", columns="source", values="proportion")
    told = track(counts, meta, bootstrap=0, overdispersion=rho).pivot(
        index="sink", columns="source", values="proportion")
    sinks = [f"S{i}" for i in range(len(shares))]
    err_raw = np.abs(raw.loc[sinks, "A"].to_numpy() - shares).mean()
    err_told = np.abs(told.loc[sinks, "A"].to_numpy() - shares).mean()
    # raw reads: the overdispersed excess is taken for an unknown source
    assert raw.loc[sinks, "Unknown"].mean() > 0.1
    assert told.loc[sinks, "Unknown"].mean() < raw.loc[sinks, "Unknown"].mean() / 2
    assert err_told < err_raw


def test_zero_overdispersion_leaves_the_engine_as_it_was() -> None:
    counts, meta, _ = _planted(0.0, seed=6)
    a = track(counts, meta, bootstrap=0)
    b = track(counts, meta, bootstrap=0, overdispersion=0.0)
    pd.testing.assert_frame_equal(a, b)


def test_overdispersion_is_refused_where_it_does_not_apply() -> None:
    counts, meta, _ = _planted(0.0, seed=7)
    with pytest.raises(InputError, match="default engine only"):
        track(counts, meta, method="feast", overdispersion=0.005)
    with pytest.raises(InputError, match=r"\[0, 1\)"):
        track(counts, meta, overdispersion=-0.1)
    with pytest.raises(InputError, match="relative abundances"):
        track(counts / counts.sum(), meta, overdispersion=0.005)


def test_the_16s_overdispersion_has_a_source_and_sits_in_its_range() -> None:
    row = load_parameters()["obs_dm_overdispersion"]
    assert row.source != "assumption" and "Bender" in row.source
    low, high = row.prior_args
    assert low <= row.value <= high


def test_cli_track_takes_the_overdispersion(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lactobiome.cli import cli

    counts, meta, _ = _planted(0.01, seed=8)
    counts.index = [f"t{i}" for i in range(len(counts))]
    counts.index.name = "taxon"
    table, mapping = tmp_path / "c.txt", tmp_path / "m.txt"
    counts.to_csv(table, sep="\t")
    meta.to_csv(mapping, sep="\t")
    runs = {}
    for rho in ("0", "0.01"):
        out = tmp_path / f"o{rho}.tsv"
        res = CliRunner().invoke(cli, ["track", str(table), str(mapping), "--out", str(out), "--bootstrap", "0",
                                       "--overdispersion", rho])
        assert res.exit_code == 0, res.output
        runs[rho] = pd.read_csv(out, sep="\t")
    unknown = {k: v.loc[v["source"] == "Unknown", "proportion"].mean() for k, v in runs.items()}
    assert unknown["0.01"] < unknown["0"]
    res = CliRunner().invoke(cli, ["track", str(table), str(mapping), "--out", str(tmp_path / "x.tsv"),
                                   "--method", "feast", "--overdispersion", "0.01"])
    assert isinstance(res.exception, InputError) and "default engine only" in str(res.exception)
