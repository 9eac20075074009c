"""FEAST and SourceTracker as `track(method=...)`: published means, reproducibility, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lactobiome.cli import cli, main
from lactobiome.errors import InputError
from lactobiome.tracking import to_wide, track
from lactobiome.tracking.feast import feast_rarefy, feast_unknown
from lactobiome.tracking.sourcetracker import collapse_sources
from shared_data import SHARED, require

FEAST = SHARED / "feast_example"


def _mixtures(seed: int, n_sinks: int = 6, taxa: int = 200, depth: int = 5000) -> tuple:
    """Sinks mixed from three known source communities plus an unoffered one."""
    rng = np.random.default_rng(seed)
    prof = np.zeros((4, taxa))
    for j in range(4):
        own = rng.choice(taxa, size=50, replace=False)
        prof[j, own] = rng.lognormal(0, 1.2, size=50)
    prof /= prof.sum(axis=1, keepdims=True)
    cols: dict[str, np.ndarray] = {}
    meta, truth = [], {}
    for i in range(n_sinks):
        w = rng.dirichlet(np.ones(4))
        truth[f"sink{i}"] = w
        cols[f"sink{i}"] = rng.multinomial(depth, w @ prof)
        meta.append((f"sink{i}", "sink", "Sink", str(i)))
        for j in range(3):
            cols[f"s{i}_{j}"] = rng.multinomial(depth, prof[j])
            meta.append((f"s{i}_{j}", f"Env{j}", "Source", str(i)))
    counts = pd.DataFrame(cols, index=[f"t{k}" for k in range(taxa)])
    md = pd.DataFrame(meta, columns=["SampleID", "Env", "SourceSink", "id"]).set_index("SampleID")
    return counts, md, pd.DataFrame(truth, index=["Env0", "Env1", "Env2", "Unknown"]).T


@pytest.fixture(scope="module")
def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    from lactobiome.io.tables import read_counts, read_metadata

    counts = read_counts(require(FEAST / "otu_example_multi.txt"))
    meta = read_metadata(require(FEAST / "metadata_example_multi.txt"))
    return counts, meta


def test_feast_reproduces_published_means(example: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """FEAST 0.1.0 on the 97 sinks: mean Unknown 0.80, Env_2 0.13 (shared/data/README.md)."""
    means = to_wide(track(*example, method="feast", seed=1)).mean()
    assert means["Unknown"] == pytest.approx(0.80, abs=0.05)
    assert means["Env_2"] == pytest.approx(0.13, abs=0.05)


def test_sourcetracker_reproduces_published_means(
    example: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """SourceTracker2 defaults on the 97 sinks: mean Env_2 0.60, Unknown 0.13."""
    result = track(*example, method="sourcetracker", seed=1)
    wide = to_wide(result)
    means = wide.mean()
    assert means["Env_2"] == pytest.approx(0.60, abs=0.07)
    assert means["Unknown"] == pytest.approx(0.13, abs=0.07)
    np.testing.assert_allclose(wide.sum(axis=1), 1.0)  # NaN: a source not offered
    lo, hi = to_wide(result, "ci_low"), to_wide(result, "ci_high")
    inside = (lo <= wide + 1e-12) & (wide <= hi + 1e-12)
    assert (inside | wide.isna()).all().all()


@pytest.mark.parametrize("method", ["feast", "sourcetracker"])
def test_seeded_and_reproducible(method: str) -> None:
    counts, md, _ = _mixtures(3)
    a = track(counts, md, method=method, seed=7)
    b = track(counts, md, method=method, seed=7)
    c = track(counts, md, method=method, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["proportion"], c["proportion"])


@pytest.mark.parametrize("method", ["feast", "sourcetracker"])
def test_known_mixtures_recovered(method: str) -> None:
    """Sources that are the seeding communities: known shares come back (Pearson r >= 0.9)."""
    counts, md, truth = _mixtures(5, n_sinks=12)
    est = to_wide(track(counts, md, method=method, seed=0))
    for env in ["Env0", "Env1", "Env2"]:
        r = np.corrcoef(est[env], truth.loc[est.index, env])[0, 1]
        assert r >= 0.9, (method, env, r)


def test_feast_unknown_initialisation_rules() -> None:
    rng = np.random.default_rng(0)
    Y = np.array([[6.0, 6.0, 0.0, 3.0, 0.0], [5.0, 0.0, 0.0, 7.0, 0.0], [7.0, 1.0, 2.0, 0.0, 0.0]])
    x = np.array([20.0, 3.0, 9.0, 1.0, 30.0])
    u = feast_unknown(x, Y, rng)
    # taxa 0, 1 and 3 are in >= round(1.5) = 2 sources: half the smallest count, rounded
    # half to even as R does (5 / 2 = 2.5 -> 2)
    assert u[0] == 2.0 and u[1] == 0.0 and u[3] == 0.0
    assert u[2] == 7.0  # in one source only: sink minus the sources, floored at zero
    assert 20.0 <= u[4] <= 30.0  # in no source: the sink count less a Poisson(0.5) draw
    rr = feast_rarefy(np.array([500.0, 300.0, 200.0]), 100, rng)
    assert rr.sum() == 100
    shallow = np.array([5.0, 3.0])
    np.testing.assert_array_equal(feast_rarefy(shallow, 100, rng), shallow)


def test_sourcetracker_collapses_by_mean_truncated() -> None:
    Y = np.array([[3, 4], [4, 4], [10, 0]], dtype=float)
    out, order = collapse_sources(Y, ["a", "a", "b"])
    assert order == ["a", "b"]
    np.testing.assert_array_equal(out, [[3, 4], [10, 0]])


def test_methods_refuse_relative_and_shallow_input() -> None:
    counts, md, _ = _mixtures(1, n_sinks=2, depth=500)
    with pytest.raises(InputError, match=r"t.tsv: sink .sink0.: source .Env0. has 500 reads.*depth 1000"):
        track(counts, md, method="sourcetracker", counts_name="t.tsv")
    with pytest.raises(InputError, match="needs read counts"):
        track(counts / counts.sum() * 100, md, method="feast", relative=True)
    with pytest.raises(InputError, match="unknown method"):
        track(counts, md, method="bayes")
    with pytest.raises(InputError, match="unknown option 'restart'"):
        track(counts, md, method="sourcetracker", method_options={"restart": 2})


def test_cli_method_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    counts, md, _ = _mixtures(2, n_sinks=2)
    table, meta, out = tmp_path / "t.tsv", tmp_path / "m.tsv", tmp_path / "o.tsv"
    counts.to_csv(table, sep="\t")
    md.to_csv(meta, sep="\t")
    runner = CliRunner()
    ok = runner.invoke(cli, ["track", str(table), str(meta), "--method", "feast", "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "feast: tracked 2 sink(s)" in ok.output
    assert set(pd.read_csv(out, sep="\t")["source"]) == {"Env0", "Env1", "Env2", "Unknown"}
    out.write_text("kept")
    code = main(["track", str(table), str(meta), "--method", "sourcetracker", "--rarefy", "99999",
                 "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "t.tsv: sink 'sink0': source 'Env0' has 5000 reads" in err
    assert out.read_text() == "kept"
