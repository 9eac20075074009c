"""Benchmark of `lactobiome track`: speed on FEAST's 97-sink example, accuracy on mixtures.

Run from the repository root: ``.venv/bin/python benchmarks/track.py``. Prints wall time and
peak memory of the 97-sink run (the peak RSS of the ``lactobiome track`` command run as a
child process, measured by ``/usr/bin/time -v`` where present and by
``getrusage(RUSAGE_CHILDREN)`` otherwise, beside the peak traced allocation of the run in this
process) next to FEAST's published figures
(../shared/data/README.md) and a naive per-sink NumPy EM measured here, then accuracy on
mixtures of real samples (each sink: the family's three source samples plus a hidden sample
from another family, Dirichlet(1,1,1,1) weights; sink and sources are independent
multinomial draws at real depths).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "feast_example"


def naive_em(x: np.ndarray, Y: np.ndarray, iters: int = 1000, tol: float = 1e-6) -> np.ndarray:
    """Straightforward reference: fixed source profiles, unknown = residual, per-sink loop."""
    G = (Y + 1e-12) / Y.sum(axis=1, keepdims=True)
    p = x / x.sum()
    u = np.maximum(p - G.mean(axis=0), 0) + 1e-9
    G = np.vstack([G, u / u.sum()])
    a = np.full(len(G), 1.0 / len(G))
    for _ in range(iters):
        q = a @ G
        r = (a[:, None] * G) * (x / np.where(q > 0, q, 1))[None, :]
        new = r.sum(axis=1) / x.sum()
        if np.abs(new - a).max() < tol:
            return new
        a = new
    return a


def cli_peak_rss_mb(args: list[str]) -> tuple[float, float, str]:
    """Run ``lactobiome track ARGS`` as a child process; return (peak RSS MB, wall s, how)."""
    exe = Path(sys.executable).with_name("lactobiome")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from lactobiome.cli import cli; cli()"]
    cmd += ["track", *args]
    time_bin = Path("/usr/bin/time")
    t0 = time.perf_counter()
    if time_bin.exists():
        proc = subprocess.run([str(time_bin), "-v", *cmd], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        if proc.returncode == 0 and m:
            return int(m.group(1)) / 1024, wall, "/usr/bin/time -v"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest single child; it only grows, so report the max
    return max(after, before) / 1024, wall, "getrusage(RUSAGE_CHILDREN)"


def methods_97(counts: pd.DataFrame, meta: pd.DataFrame) -> None:
    """The three `track --method`s on the 97 sinks: CPU seconds and means beside the tools'."""
    from lactobiome.tracking import to_wide, track

    small_c, small_m = counts.iloc[:, :8], meta.iloc[:4]
    for method in ("feast", "sourcetracker"):  # compile / load the kernel caches
        track(small_c, small_m, method=method)
    print("== track --method on the 97 sinks (CPU seconds of this process, this run)")
    published = {
        "lactobiome": "no published counterpart (100 bootstrap replicates)",
        "feast": "FEAST 0.1.0: 218 s wall (2.2 s/sink); Unknown 0.80, Env_2 0.13",
        "sourcetracker": "SourceTracker2: ~17.5 s/sink (1,698 s); Env_2 0.60, Unknown 0.13",
    }
    for method in ("lactobiome", "feast", "sourcetracker"):
        c0, w0 = time.process_time(), time.perf_counter()
        res = track(counts, meta, method=method, seed=1)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        means = to_wide(res).mean().round(3).to_dict()
        n = res["sink"].nunique()
        print(f"{method:>13}: {cpu:6.2f} CPU s ({cpu / n * 1000:6.1f} ms/sink; wall {wall:.2f} s "
              f"on a shared machine); means {means}")
        print(f"{'':>13}  published: {published[method]}")
        if method == "sourcetracker":
            print(f"{'':>13}  speed-up over 17.5 s/sink: {17.5 / (cpu / n):.0f}x")
        if method == "feast":
            print(f"{'':>13}  speed-up over 218 s: {218 / cpu:.0f}x")


def methods_on_mixtures(
    mc: pd.DataFrame, mm: pd.DataFrame, truth: np.ndarray, labels: list[str]
) -> None:
    """Per source: Pearson r across sinks, bias, MAE and coverage for FEAST and SourceTracker."""
    from lactobiome.tracking import to_wide, track

    for method in ("lactobiome", "feast", "sourcetracker"):
        c0 = time.process_time()
        out = track(mc, mm, method=method, seed=7, bootstrap=100)
        cpu = time.process_time() - c0
        est = to_wide(out)[labels].to_numpy()
        lo = to_wide(out, "ci_low")[labels].to_numpy()
        hi = to_wide(out, "ci_high")[labels].to_numpy()
        parts = []
        for j, lab in enumerate(labels):
            r = np.corrcoef(est[:, j], truth[:, j])[0, 1]
            bias = (est[:, j] - truth[:, j]).mean()
            mae = np.abs(est[:, j] - truth[:, j]).mean()
            cov = ((lo[:, j] <= truth[:, j]) & (truth[:, j] <= hi[:, j])).mean()
            cover = "n/a" if np.isnan(lo[:, j]).all() else f"{cov:.2f}"
            parts.append(f"{lab} r {r:.2f} bias {bias:+.3f} MAE {mae:.3f} cover {cover}")
        print(f"{method} ({cpu:.1f} CPU s): " + "; ".join(parts))


def main() -> int:
    if not DATA.exists():
        print(f"shared data not found at {DATA}; nothing to benchmark")
        return 0
    from lactobiome.io.tables import read_counts, read_metadata
    from lactobiome.tracking import to_wide, track

    t0 = time.perf_counter()
    counts = read_counts(DATA / "otu_example_multi.txt")
    meta = read_metadata(DATA / "metadata_example_multi.txt")
    track(counts.iloc[:, :8], meta.iloc[:4], bootstrap=1)  # compile / load the kernel cache
    t1 = time.perf_counter()
    res = track(counts, meta, bootstrap=100)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cli_mb, cli_s, how = cli_peak_rss_mb(
            [str(DATA / "otu_example_multi.txt"), str(DATA / "metadata_example_multi.txt"),
             "--out", str(Path(tmp) / "t97.tsv")]
        )
    import tracemalloc

    tracemalloc.start()
    track(counts, meta, bootstrap=100)
    traced_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    wide = to_wide(res)
    print("== 97-sink FEAST example (metadata_example_multi.txt), 100 bootstrap replicates")
    print(f"lactobiome: read+warm-up {t1 - t0:.2f} s, track {t2 - t1:.2f} s "
          f"({(t2 - t1) / len(wide) * 1000:.1f} ms/sink); peak traced allocation of the run "
          f"{traced_mb:.0f} MB")
    print(f"CLI `lactobiome track otu_example_multi.txt metadata_example_multi.txt --out ...`: "
          f"peak RSS {cli_mb:.0f} MB ({how}; whole process, interpreter and libraries "
          f"included), wall {cli_s:.2f} s")
    print("FEAST 0.1.0 (published, README): 218 s, 319 MB; SourceTracker2 ~17.5 s/sink")
    print("mean proportions:", wide.mean().round(3).to_dict())
    print("FEAST means: Unknown 0.80, Env_2 0.13, Env_3 0.03, Env_4 0.03; ST2: Env_2 0.60, "
          "Unknown 0.13")

    methods_97(counts, meta)

    X = counts.to_numpy().T
    col = {s: i for i, s in enumerate(counts.columns)}
    sinks = meta.index[meta["SourceSink"] == "Sink"]
    t3 = time.perf_counter()
    naive = []
    for s in sinks[:20]:
        srcs = meta.index[(meta["SourceSink"] == "Source") & (meta["id"] == meta.loc[s, "id"])]
        naive.append(naive_em(X[col[s]], X[[col[k] for k in srcs]]))
    t4 = time.perf_counter()
    print(f"naive per-sink NumPy EM (no intervals): {(t4 - t3) / 20 * 1000:.1f} ms/sink, "
          f"{(t4 - t3) / 20 * len(sinks):.2f} s for 97 sinks (estimated from 20); its mean "
          f"Unknown on those 20: {np.mean([a[-1] for a in naive]):.3f}")

    # ---- mixtures of real samples
    rng = np.random.default_rng(2025)
    depth = X.sum(axis=1)
    P = X / depth[:, None]
    fam: dict[str, dict[str, int]] = {}
    for s, row in meta.iterrows():
        fam.setdefault(row["id"], {})[row["Env"]] = col[s]
    fams = [f for f in fam.values() if len(f) == 4]
    sink_cols, rows, truths = {}, [], []
    for i in range(200):
        f = fams[rng.integers(len(fams))]
        known = [f["Env_2"], f["Env_3"], f["Env_4"]]
        while True:
            u = int(rng.integers(len(P)))
            if u not in f.values():
                break
        a = rng.dirichlet(np.ones(4))
        sink_cols[f"mix{i}"] = rng.multinomial(int(rng.choice(depth)), a[:3] @ P[known] + a[3] * P[u])
        rows.append((f"mix{i}", "sink", "Sink", str(i)))
        for j, k in enumerate(known):
            sink_cols[f"mix{i}_s{j}"] = rng.multinomial(int(depth[k]), P[k])
            rows.append((f"mix{i}_s{j}", f"Env_{j + 2}", "Source", str(i)))
        truths.append(a)
    mc = pd.DataFrame(sink_cols, index=counts.index)
    mm = pd.DataFrame(rows, columns=["SampleID", "Env", "SourceSink", "id"]).set_index("SampleID")
    truth = np.array(truths)
    labels = ["Env_2", "Env_3", "Env_4", "Unknown"]
    print("== 200 real-sample mixtures (family sources + hidden unrelated sample)")
    for max_loss in (0.25, 0.0):  # the default (lost taxa on), then lost taxa off
        t5 = time.perf_counter()
        out = track(mc, mm, bootstrap=100, seed=7, max_loss=max_loss)
        t6 = time.perf_counter()
        est = to_wide(out)[labels].to_numpy()
        lo = to_wide(out, "ci_low")[labels].to_numpy()
        hi = to_wide(out, "ci_high")[labels].to_numpy()
        r = np.corrcoef(est.ravel(), truth.ravel())[0, 1]
        mae = np.abs(est - truth).mean()
        bias = est[:, 3].mean() - truth[:, 3].mean()
        cover = ((lo <= truth) & (truth <= hi)).mean()
        print(f"lactobiome max_loss={max_loss}: Pearson r {r:.3f}, MAE {mae:.4f}, mean Unknown "
              f"{est[:, 3].mean():.3f} vs true {truth[:, 3].mean():.3f} (bias {bias:+.3f}), "
              f"90% interval coverage {cover:.3f}; {t6 - t5:.2f} s")
    nv = []
    for i in range(200):
        Y = mc[[f"mix{i}_s{j}" for j in range(3)]].to_numpy().T
        nv.append(naive_em(mc[f"mix{i}"].to_numpy(), Y))
    nv = np.array(nv)
    rn = np.corrcoef(nv.ravel(), truth.ravel())[0, 1]
    print(f"naive EM: Pearson r {rn:.3f}, MAE {np.abs(nv - truth).mean():.4f}, Unknown bias "
          f"{nv[:, 3].mean() - truth[:, 3].mean():+.3f}")
    methods_on_mixtures(mc, mm, truth, labels)
    print("FEAST (README/issue): r 0.81-0.90, MAE 0.048-0.054, Unknown bias -0.08..-0.10; "
          "SourceTracker2: r 0.78, MAE 0.071")

    c1 = read_counts(DATA / "otu_example.txt")
    m1 = read_metadata(DATA / "metadata_example_with_id.txt")
    for max_loss in (0.25, 0.0):
        single = track(c1, m1, by_sample=True, bootstrap=100, max_loss=max_loss)
        single = single.set_index("source")
        print(f"== FEAST single-sink demo, by sample, max_loss={max_loss}: ERR525693 "
              f"{single.loc['ERR525693', 'proportion']:.3f} "
              f"[{single.loc['ERR525693', 'ci_low']:.3f}, "
              f"{single.loc['ERR525693', 'ci_high']:.3f}], "
              f"Unknown {single.loc['Unknown', 'proportion']:.3f}")
    lost = to_wide(track(counts, meta, bootstrap=0, max_loss=0.0))
    print("97-sink mean proportions with lost taxa off (max_loss=0):",
          lost.mean().round(3).to_dict())
    print("97-sink sinks whose fit kept lost taxa (default):",
          int((wide["Unknown"] < lost["Unknown"] - 0.2).sum()), "of", len(wide))
    ids = list(meta.loc[sinks, "id"])
    rot = meta.copy()
    rot.loc[sinks, "id"] = ids[1:] + ids[:1]  # each sink offered another family's sources
    for max_loss in (0.25, 0.0):
        w = to_wide(track(counts, rot, bootstrap=0, max_loss=max_loss))
        print(f"97 sinks with another family's sources, max_loss={max_loss}: mean Unknown "
              f"{w['Unknown'].mean():.3f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program sets it
    sys.exit(main())
