"""Tests of the source-tracking engine, its intervals and the `lactobiome track` command."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import lactobiome.tracking
from lactobiome.cli import cli
from lactobiome.errors import InputError
from lactobiome.tracking import to_wide, track
from shared_data import SHARED, require

FEAST = SHARED / "feast_example"


def _communities(rng: np.random.Generator, k: int, taxa: int = 300) -> np.ndarray:
    """k random communities, each with its own taxa plus a shared core."""
    prof = np.zeros((k, taxa))
    for j in range(k):
        k = min(60, taxa // 2)
        own = rng.choice(taxa, size=k, replace=False)
        prof[j, own] = rng.lognormal(0, 1.5, size=k)
        prof[j, :10] += rng.lognormal(0, 1, size=10)  # shared core
    return prof / prof.sum(axis=1, keepdims=True)


def _frames(sinks: list[np.ndarray], sources: list[np.ndarray]) -> tuple[pd.DataFrame, ...]:
    cols, meta = {}, []
    for i, (x, Y) in enumerate(zip(sinks, sources, strict=True)):
        cols[f"sink{i}"] = x
        meta.append((f"sink{i}", "sink", "Sink", str(i)))
        for j, y in enumerate(Y):
            cols[f"src{i}_{j}"] = y
            meta.append((f"src{i}_{j}", f"Env{j}", "Source", str(i)))
    counts = pd.DataFrame(cols, index=[f"t{k}" for k in range(len(sinks[0]))])
    md = pd.DataFrame(meta, columns=["SampleID", "Env", "SourceSink", "id"]).set_index("SampleID")
    return counts, md


def test_noise_free_recovery_and_sum_to_one() -> None:
    rng = np.random.default_rng(0)
    prof = _communities(rng, 4)
    truth = np.array([0.5, 0.2, 0.1, 0.2])  # last: unknown community, not offered
    sink = truth @ prof * 1e6
    counts, md = _frames([sink], [prof[:3] * 1e6])
    out = track(
        counts, md, bootstrap=0, iterations=5000, tolerance=1e-9, relative=True,
        effective_depth=1e6,
    )
    assert list(out.columns) == ["sink", "source", "proportion", "ci_low", "ci_high"]
    assert out["proportion"].sum() == pytest.approx(1.0)
    est = out.set_index("source")["proportion"]
    np.testing.assert_allclose(est[["Env0", "Env1", "Env2", "Unknown"]], truth, atol=0.01)


def test_identical_and_unrelated_sinks() -> None:
    rng = np.random.default_rng(1)
    prof = _communities(rng, 4)
    src = [rng.multinomial(20000, p).astype(float) for p in prof[:3]]
    same = rng.multinomial(20000, prof[1]).astype(float)
    other = rng.multinomial(20000, prof[3]).astype(float)
    counts, md = _frames([same, other], [np.array(src), np.array(src)])
    wide = to_wide(track(counts, md, bootstrap=0))
    assert wide.loc["sink0", "Env1"] > 0.95
    assert wide.loc["sink1", "Unknown"] > 0.95
    np.testing.assert_allclose(wide.sum(axis=1), 1.0)


def test_intervals_cover_simulated_mixtures() -> None:
    rng = np.random.default_rng(2)
    hits, total, sinks, sources, truths = 0, 0, [], [], []
    for _ in range(12):
        prof = _communities(rng, 4)
        a = rng.dirichlet(np.ones(4))
        sinks.append(rng.multinomial(30000, a @ prof).astype(float))
        sources.append(np.array([rng.multinomial(30000, p) for p in prof[:3]], dtype=float))
        truths.append(a)
    counts, md = _frames(sinks, sources)
    out = track(counts, md, bootstrap=60, seed=3)
    for i, a in enumerate(truths):
        rows = out[out["sink"] == f"sink{i}"].set_index("source")
        for lab, t in zip(["Env0", "Env1", "Env2", "Unknown"], a, strict=True):
            lo, hi = rows.loc[lab, "ci_low"], rows.loc[lab, "ci_high"]
            hits += lo - 0.005 <= t <= hi + 0.005
            total += 1
    assert hits / total >= 0.8


def test_relative_abundance_input_is_not_rounded() -> None:
    rng = np.random.default_rng(4)
    prof = _communities(rng, 3)
    sink = 0.7 * prof[0] + 0.3 * prof[1]
    counts, md = _frames([sink * 100], [prof[:2] * 100])  # percentages
    out = track(counts, md, bootstrap=10)
    assert out.attrs["relative"] is True
    est = out.set_index("source")["proportion"]
    assert est["Env0"] == pytest.approx(0.7, abs=0.03)


def test_shared_sources_when_id_is_empty() -> None:
    rng = np.random.default_rng(5)
    prof = _communities(rng, 2)
    counts = pd.DataFrame(
        {
            "k1": rng.multinomial(5000, prof[0]),
            "k2": rng.multinomial(5000, prof[1]),
            "s1": rng.multinomial(5000, prof[0]),
            "s2": rng.multinomial(5000, prof[1]),
        }
    )
    md = pd.DataFrame(
        {"Env": ["x", "x", "A", "B"], "SourceSink": ["Sink", "Sink", "Source", "Source"],
         "id": ["1", "2", "", ""]},
        index=["k1", "k2", "s1", "s2"],
    )
    wide = to_wide(track(counts, md, bootstrap=0))
    assert wide.loc["k1", "A"] > 0.9 and wide.loc["k2", "B"] > 0.9


# --- the command line --------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture()
def small_files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(6)
    prof = _communities(rng, 3, taxa=50)
    lines = ["taxon\tsink\tsa\tsb"]
    data = np.stack(
        [rng.multinomial(4000, 0.6 * prof[0] + 0.4 * prof[1]),
         rng.multinomial(4000, prof[0]), rng.multinomial(4000, prof[1])], axis=1
    )
    lines += [f"t{i}\t" + "\t".join(str(v) for v in row) for i, row in enumerate(data)]
    counts = _write(tmp_path / "counts.txt", "\n".join(lines) + "\n")
    meta = _write(
        tmp_path / "meta.txt",
        "SampleID\tEnv\tSourceSink\tid\nsink\tgut\tSink\t1\nsa\tmilk\tSource\t1\n"
        "sb\tskin\tSource\t1\n",
    )
    return counts, meta


def _run(args: list[str]) -> tuple[int, str]:
    from lactobiome.cli import main

    runner = CliRunner()
    res = runner.invoke(cli, ["track", *args], standalone_mode=False, catch_exceptions=True)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        # route through main() so LactobiomeError becomes exit 2 like the installed program
        return main(["track", *args]), ""
    return res.exit_code, res.output


def test_cli_writes_long_and_wide(small_files: tuple[Path, Path], tmp_path: Path) -> None:
    counts, meta = small_files
    out = tmp_path / "res.tsv"
    code, text = _run([str(counts), str(meta), "--out", str(out), "--bootstrap", "20"])
    assert code == 0, text
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["sink", "source", "proportion", "ci_low", "ci_high"]
    assert set(table["source"]) == {"milk", "skin", "Unknown"}
    assert table["proportion"].sum() == pytest.approx(1.0, abs=1e-5)
    assert "mean proportion" in text
    wide_out = tmp_path / "wide.tsv"
    code, _ = _run([str(counts), str(meta), "--out", str(wide_out), "--wide", "--bootstrap", "0"])
    assert code == 0
    assert list(pd.read_csv(wide_out, sep="\t", index_col=0).columns) == [
        "milk", "skin", "Unknown"]


def test_cli_marginal_options_reach_the_api(small_files: tuple[Path, Path], tmp_path: Path) -> None:
    """The CLI's default is the API's (integrated unknown, world stiff) and ``--marginal none``
    is the fitted unknown, the default before round 8; the two settings give different shares."""
    from lactobiome.io.tables import read_counts, read_metadata

    counts, meta = small_files
    table, md = read_counts(counts, "auto"), read_metadata(meta)
    got = {}
    for name, extra in (("default", []), ("none", ["--marginal", "none"]),
                        ("fit", ["--unknown-world", "fit"]),
                        ("community", ["--unknown-world", "community"])):
        out = tmp_path / f"{name}.tsv"
        code, text = _run([str(counts), str(meta), "--out", str(out), "--bootstrap", "12", *extra])
        assert code == 0, text
        got[name] = pd.read_csv(out, sep="\t")
    api = {"default": {}, "none": {"marginal": "none"}, "fit": {"unknown_world": "fit"},
           "community": {"unknown_world": "community"}}
    for name, options in api.items():
        want = track(table, md, bootstrap=12, **options)
        np.testing.assert_allclose(got[name]["proportion"], want["proportion"], atol=1e-5)
    assert np.abs(got["default"]["proportion"] - got["none"]["proportion"]).max() > 1e-4
    code, _ = _run([str(counts), str(meta), "--out", str(tmp_path / "x.tsv"), "--marginal", "both"])
    assert code != 0


BAD_INPUTS = {
    "negative": ("taxon\tsink\tsa\tsb\nt0\t5\t-1\t3\nt1\t2\t2\t2\n", None, "negative"),
    "nan": ("taxon\tsink\tsa\tsb\nt0\t5\t\t3\nt1\t2\t2\t2\n", None, "line 2"),
    "fraction": ("taxon\tsink\tsa\tsb\nt0\t5\t1.5\t300\nt1\t2\t2\t2\n", None, "whole number"),
    "empty_sink": ("taxon\tsink\tsa\tsb\nt0\t0\t1\t3\nt1\t0\t2\t2\n", None, "no reads"),
    "dup_taxon": ("taxon\tsink\tsa\tsb\nt0\t5\t1\t3\nt0\t2\t2\t2\n", None, "duplicate taxon"),
    "mismatch": (
        None, "SampleID\tEnv\tSourceSink\tid\nsink\tgut\tSink\t1\nzz\tmilk\tSource\t1\n",
        "'zz'"),
    "dup_sample": (
        None, "SampleID\tEnv\tSourceSink\tid\nsink\tgut\tSink\t1\nsink\tmilk\tSource\t1\n",
        "duplicate SampleID"),
    "no_sources_for_id": (
        None, "SampleID\tEnv\tSourceSink\tid\nsink\tgut\tSink\t1\nsa\tmilk\tSource\t2\n",
        "no source samples"),
    "bad_role": (
        None, "SampleID\tEnv\tSourceSink\tid\nsink\tgut\tDrain\t1\nsa\tmilk\tSource\t1\n",
        "expected 'Source' or 'Sink'"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_cli_bad_input_exit_2(
    case: str, small_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from lactobiome.cli import main

    counts, meta = small_files
    table_text, meta_text, needle = BAD_INPUTS[case]
    if table_text is not None:
        counts = _write(tmp_path / "bad_counts.txt", table_text)
    if meta_text is not None:
        meta = _write(tmp_path / "bad_meta.txt", meta_text)
    code = main(["track", str(counts), str(meta), "--out", str(tmp_path / "o.tsv")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("lactobiome: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert needle in err
    bad_file = "bad_counts.txt" if table_text is not None else "bad_meta.txt"
    assert bad_file in err
    assert not (tmp_path / "o.tsv").exists()


# --- real-sample mixtures (shared data) ---------------------------------------------------


@pytest.fixture(scope="module")
def feast_multi() -> pd.DataFrame:
    from lactobiome.io.tables import read_counts

    return read_counts(require(FEAST / "otu_example_multi.txt"))


@pytest.mark.parametrize("max_loss", [0.0, 0.25])
def test_real_sample_mixtures(feast_multi: pd.DataFrame, max_loss: float) -> None:
    """Sinks mixed from real stool samples plus a hidden sample; sources are fresh draws."""
    rng = np.random.default_rng(11)
    X = feast_multi.to_numpy().T
    depth = X.sum(axis=1)
    P = X / depth[:, None]
    sinks, sources, truths = [], [], []
    for _ in range(30):
        idx = rng.choice(len(P), size=4, replace=False)
        a = rng.dirichlet(np.ones(4))
        sinks.append(rng.multinomial(int(rng.choice(depth)), a @ P[idx]).astype(float))
        sources.append(
            np.array([rng.multinomial(int(rng.choice(depth)), P[k]) for k in idx[:3]], float)
        )
        truths.append(a)
    counts, md = _frames(sinks, sources)
    out = track(counts, md, bootstrap=40, seed=1, max_loss=max_loss)
    est = to_wide(out)[["Env0", "Env1", "Env2", "Unknown"]].to_numpy()
    truth = np.array(truths)
    assert np.corrcoef(est.ravel(), truth.ravel())[0, 1] > 0.93
    assert np.abs(est - truth).mean() < 0.04
    assert abs(est[:, -1].mean() - truth[:, -1].mean()) < 0.05
    lo = to_wide(out, "ci_low")[["Env0", "Env1", "Env2", "Unknown"]].to_numpy()
    hi = to_wide(out, "ci_high")[["Env0", "Env1", "Env2", "Unknown"]].to_numpy()
    assert ((lo <= truth) & (truth <= hi)).mean() > 0.75


def test_feast_files_through_cli(tmp_path: Path) -> None:
    require(FEAST / "otu_example.txt")
    out = tmp_path / "o.tsv"
    code, text = _run([str(FEAST / "otu_example.txt"), str(FEAST / "metadata_example_with_id.txt"),
                       "--out", str(out), "--bootstrap", "5"])
    assert code == 0, text
    table = pd.read_csv(out, sep="\t")
    assert table["proportion"].sum() == pytest.approx(1.0, abs=1e-5)
    assert len(table) == 10  # nine source Envs + Unknown


def test_sink_with_lost_taxa_fits_its_source() -> None:
    """A sink that is a source with some taxa lost: the source, not the unknown (lost taxa)."""
    rng = np.random.default_rng(5)
    prof = _communities(rng, 3)
    thinned = prof[0].copy()
    order = np.argsort(-thinned)
    thinned[order[[1, 3, 4]]] = 0.0  # three abundant taxa lost on the way to the sink
    lost = 1.0 - thinned.sum()
    assert 0.05 < lost < 0.25
    thinned /= thinned.sum()
    src = np.array([rng.multinomial(30000, p) for p in prof], float)
    sink = rng.multinomial(30000, thinned).astype(float)
    counts, md = _frames([sink], [src])
    wide = to_wide(track(counts, md, bootstrap=0))  # lost taxa are on by default
    assert wide.loc["sink0", "Env0"] > 0.9
    off = to_wide(track(counts, md, bootstrap=0, max_loss=0.0))
    assert off.loc["sink0", "Env0"] < wide.loc["sink0", "Env0"]


def test_shallow_fresh_draw_keeps_its_source_with_lost_taxa_on() -> None:
    """Chance deficits at shallow depth must not be read as losses that cost the source share.

    Each sink is a fresh 5,000-read draw of one source community; the default fit (lost taxa
    allowed, kept only when they lower Unknown by ``lost_min_gain``) must give that source the
    sink, as the fit without lost taxa does.
    """
    rng = np.random.default_rng(21)
    prof = _communities(rng, 3)
    src = np.array([rng.multinomial(5000, p) for p in prof], float)
    sinks = [rng.multinomial(5000, prof[j]).astype(float) for j in (0, 1, 2, 0, 1, 2)]
    counts, md = _frames(sinks, [src] * len(sinks))
    on = to_wide(track(counts, md, bootstrap=0))
    off = to_wide(track(counts, md, bootstrap=0, max_loss=0.0))
    for i, j in enumerate((0, 1, 2, 0, 1, 2)):
        assert on.loc[f"sink{i}", f"Env{j}"] > 0.9
        assert on.loc[f"sink{i}", f"Env{j}"] == pytest.approx(off.loc[f"sink{i}", f"Env{j}"], abs=1e-3)


def test_lost_taxa_test_keeps_a_real_loss_and_not_chance_deficits() -> None:
    """The null test keeps a lost set that a sink really has and drops one chance made.

    Sink 0 is source 0 with three abundant taxa gone (30,000 reads); sinks 1-6 are fresh
    5,000-read draws of one source each, with nothing lost, whose chance deficits still mark
    taxa (the fit that keeps any drop, ``lost_min_gain=0`` without the test, moves some of
    them). With the test the lossy sink keeps its source and the others come out as the fit
    without lost taxa.
    """
    rng = np.random.default_rng(5)
    prof = _communities(rng, 3)
    thinned = prof[0].copy()
    thinned[np.argsort(-thinned)[[1, 3, 4]]] = 0.0
    thinned /= thinned.sum()
    sinks = [rng.multinomial(30000, thinned).astype(float)]
    sources = [np.array([rng.multinomial(30000, p) for p in prof], float)]
    rng = np.random.default_rng(21)
    prof = _communities(rng, 3)
    src = np.array([rng.multinomial(5000, p) for p in prof], float)
    sinks += [rng.multinomial(5000, prof[j]).astype(float) for j in (0, 1, 2, 0, 1, 2)]
    sources += [src] * 6
    counts, md = _frames(sinks, sources)
    # the fitted unknown (marginal="none"), on which chance deficits do move the fit that keeps
    # any drop; with the integrated unknown (the default since round 8) none of sinks 1-6 moves
    # even without the test, so there would be nothing for the test to undo
    common = dict(bootstrap=0, marginal="none")
    tested = to_wide(track(counts, md, lost_test=True, lost_min_gain=0.0, **common))
    untested = to_wide(track(counts, md, lost_min_gain=0.0, **common))
    off = to_wide(track(counts, md, max_loss=0.0, **common))
    assert tested.loc["sink0", "Env0"] > 0.9
    assert tested.loc["sink0", "Unknown"] < off.loc["sink0", "Unknown"] - 0.05
    chance = [f"sink{i}" for i in range(1, 7)]
    assert np.abs(untested.loc[chance] - off.loc[chance]).to_numpy().max() > 1e-4
    np.testing.assert_allclose(tested.loc[chance].to_numpy(), off.loc[chance].to_numpy(), atol=1e-9)


def test_bad_lost_taxa_options_are_refused() -> None:
    rng = np.random.default_rng(2)
    prof = _communities(rng, 2)
    counts, md = _frames([rng.multinomial(1000, prof[0]).astype(float)],
                         [np.array([rng.multinomial(1000, p) for p in prof], float)])
    with pytest.raises(InputError, match="lost_min_gain must be >= 0"):
        track(counts, md, bootstrap=0, lost_min_gain=-0.1)
    with pytest.raises(InputError, match=r"max_loss must be in \[0, 1\)"):
        track(counts, md, bootstrap=0, max_loss=1.0)


def test_feast_demo_near_twin() -> None:
    """FEAST's single-sink demo: ERR525698 is ERR525693 with ~21% of its mass (a few taxa) lost."""
    require(FEAST / "otu_example.txt")
    from lactobiome.io.tables import read_counts, read_metadata

    out = track(
        read_counts(FEAST / "otu_example.txt"),
        read_metadata(FEAST / "metadata_example_with_id.txt"),
        by_sample=True,
        bootstrap=0,
    ).set_index("source")["proportion"]  # default options
    assert out["ERR525693"] >= 0.7
    assert out.sum() == pytest.approx(1.0)


def test_tracking_never_imports_io_or_cli() -> None:
    """The dependency points from io/CLI to tracking, never back (lazy imports included)."""
    folder = Path(lactobiome.tracking.__file__).parent
    offending = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[:2] in (["lactobiome", "io"], ["lactobiome", "cli"]):
                    offending.append(f"{path.name}:{node.lineno} imports {name}")
    assert offending == []


def test_relative_feast_table_through_cli(tmp_path: Path) -> None:
    """A FEAST table of proportions is tracked as relative abundances (--relative or auto)."""
    rng = np.random.default_rng(8)
    prof = _communities(rng, 2, taxa=40)
    sink = 0.7 * prof[0] + 0.3 * prof[1]
    lines = ["taxon\tsink\tsa\tsb"] + [
        f"t{i}\t{a:.6g}\t{b:.6g}\t{c:.6g}" for i, (a, b, c) in enumerate(zip(sink, *prof[:2], strict=True))
    ]
    counts = _write(tmp_path / "relative.txt", "\n".join(lines) + "\n")
    meta = _write(tmp_path / "meta.txt", "SampleID\tEnv\tSourceSink\nsink\tgut\tSink\n"
                  "sa\tmilk\tSource\nsb\tskin\tSource\n")
    for flag in ("--relative", None):
        out = tmp_path / "o.tsv"
        args = [str(counts), str(meta), "--out", str(out), "--bootstrap", "0"]
        code, text = _run(args + ([flag] if flag else []))
        assert code == 0, text
        est = pd.read_csv(out, sep="\t").set_index("source")["proportion"]
        assert est["milk"] == pytest.approx(0.7, abs=0.05)
    code, _ = _run([str(counts), str(meta), "--out", str(tmp_path / "c.tsv"), "--counts"])
    assert code == 2  # --counts insists on whole numbers
