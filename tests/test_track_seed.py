"""Any integer seeds the tracker (the lost-taxa test included) and the observation model;
the command line takes seeds >= 0 and refuses others in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lactobiome.cli import main
from lactobiome.errors import InputError
from lactobiome.tracking import track
from lactobiome.tracking.inputs import SEED_MODULUS, stream_seed


def _lossy_problem() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One 20,000-read sink: source 0 with three abundant taxa gone (the lost-taxa test runs)."""
    rng = np.random.default_rng(5)
    taxa = 200
    prof = np.zeros((2, taxa))
    for j in range(2):
        own = rng.choice(taxa, size=60, replace=False)
        prof[j, own] = rng.lognormal(0, 1.5, size=60)
        prof[j, :10] += rng.lognormal(0, 1, size=10)
    prof /= prof.sum(axis=1, keepdims=True)
    thinned = prof[0].copy()
    thinned[np.argsort(-thinned)[[1, 3, 4]]] = 0.0
    thinned /= thinned.sum()
    columns = {"sink": rng.multinomial(20000, thinned), "a": rng.multinomial(20000, prof[0]),
               "b": rng.multinomial(20000, prof[1])}
    counts = pd.DataFrame(columns, index=[f"t{i}" for i in range(taxa)]).astype(float)
    metadata = pd.DataFrame({"Env": ["gut", "milk", "skin"], "SourceSink": ["Sink", "Source", "Source"]},
                            index=pd.Index(["sink", "a", "b"], name="SampleID"))
    return counts, metadata


def test_stream_seed_is_identity_for_non_negative_and_twos_complement_for_negative() -> None:
    assert [stream_seed(s) for s in (0, 1, 12345, SEED_MODULUS - 1)] == [0, 1, 12345, SEED_MODULUS - 1]
    assert stream_seed(-1) == SEED_MODULUS - 1 and stream_seed(-7) == SEED_MODULUS - 7
    assert stream_seed(np.int64(-3)) == SEED_MODULUS - 3
    for bad in (1.5, "3", True):
        with pytest.raises(InputError, match="seed must be an integer"):
            stream_seed(bad)  # type: ignore[arg-type]


def test_a_negative_seed_runs_the_lost_taxa_test_deterministically() -> None:
    counts, metadata = _lossy_problem()
    common = dict(bootstrap=8, lost_test=True, lost_min_gain=0.0, marginal="none")
    first = track(counts, metadata, seed=-7, **common)
    again = track(counts, metadata, seed=-7, **common)
    pd.testing.assert_frame_equal(first, again)
    # the negative seed is the stream of its two's complement, not some other stream
    pd.testing.assert_frame_equal(first, track(counts, metadata, seed=SEED_MODULUS - 7, **common))
    other = track(counts, metadata, seed=7, **common)
    assert not np.allclose(first[["ci_low", "ci_high"]].to_numpy(), other[["ci_low", "ci_high"]].to_numpy())
    np.testing.assert_allclose(first.groupby("sink")["proportion"].sum(), 1.0, atol=1e-9)


@pytest.mark.parametrize("command", ["track", "simulate"])
def test_the_command_line_refuses_a_negative_seed_in_one_line(tmp_path, capsys, command) -> None:
    counts, metadata = _lossy_problem()
    table, meta = tmp_path / "counts.txt", tmp_path / "meta.txt"
    counts.astype(int).rename_axis("taxon").to_csv(table, sep="\t")
    metadata.to_csv(meta, sep="\t")
    out = tmp_path / ("out.tsv" if command == "track" else "out.nc")
    inputs = [str(table), str(meta)] if command == "track" else []
    assert main([command, *inputs, "--seed", "-1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lactobiome: error: "), err
    assert "'--seed': -1 is not in the range x>=0" in err and f"lactobiome {command} --help" in err
    assert not out.exists()


def test_a_negative_observation_seed_is_its_twos_complement_stream() -> None:
    from lactobiome.observation.models import sample_rng

    negative = sample_rng(-1, 3, 30, "milk").random(4)
    np.testing.assert_array_equal(negative, sample_rng(SEED_MODULUS - 1, 3, 30, "milk").random(4))
    assert not np.array_equal(negative, sample_rng(1, 3, 30, "milk").random(4))


@pytest.mark.parametrize("command", [["observe", "r.nc", "--out", "obs"], ["benchmark-tracking", "--dyads", "2"]])
def test_observe_and_benchmark_refuse_a_negative_seed_in_one_line(tmp_path, capsys, command) -> None:
    args = [str(tmp_path / a) if a in ("r.nc", "obs") else a for a in command]
    assert main([*args, "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'--seed': -1 is not in the range x>=0" in err, err
    assert not (tmp_path / "obs").exists()


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--unknown-cost", "-1", "unknown_cost must be >= 0, got -1.0"),
    ("--effective-depth", "-3", "effective_depth must be > 0 reads, got -3.0"),
    ("--tolerance", "-1", "tolerance must be >= 0, got -1.0"),
    ("--unknown-cost", "nan", "unknown_cost must be >= 0, got nan"),
])
def test_nonsense_engine_settings_are_refused_in_one_line(tmp_path, capsys, option, value, needle) -> None:
    """Settings that were accepted silently (a negative unknown cost gave Unknown 0.95)."""
    counts, metadata = _lossy_problem()
    table, meta = tmp_path / "counts.txt", tmp_path / "meta.txt"
    counts.astype(int).rename_axis("taxon").to_csv(table, sep="\t")
    metadata.to_csv(meta, sep="\t")
    out = tmp_path / "out.tsv"
    assert main(["track", str(table), str(meta), "--out", str(out), "--bootstrap", "0", option, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert not out.exists()
