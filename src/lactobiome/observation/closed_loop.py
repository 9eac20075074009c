"""The closed loop: simulate, observe, track with each method, score against the truth.

Scores are per sink type, method and source, across sinks: Pearson r, bias, mean absolute
error and interval coverage (never one r pooled over sources with Unknown in it: a constant
guess of a large Unknown scores well there). A **positive control** replaces every real sink
by a mixture of its own visit's source samples' *true* communities at known Dirichlet(1, ...)
shares, read through the same amplicon model at the design's depth, so every method should
recover the shares; one copy of it is analysed after dropping the blanks' taxa
(:data:`BLANK_FILTERED`). The default engine is told the observation model's 16S
overdispersion (``track(..., overdispersion=rho)``), as a study with technical replicates
would know it; the published methods get the reads as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from lactobiome.model.parameters import load_parameters
from lactobiome.model.taxa import load_taxa
from lactobiome.observation import models
from lactobiome.observation.design import SAMPLE_SITES
from lactobiome.observation.observe import Observation
from lactobiome.tracking import COLUMNS, UNKNOWN

__all__ = ["BLANK_FILTERED", "LOOPS", "SCORE_COLUMNS", "closed_loop", "closed_loop_grid", "positive_control", "score_per_source"]

SCORE_COLUMNS = ["source", "n", "true_mean", "estimate_mean", "r", "bias", "mae", "coverage"]
"""Columns of :func:`score_per_source`."""


def score_per_source(estimate: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per source, across sinks: r, bias, MAE and interval coverage of ``estimate``.

    Parameters
    ----------
    estimate, truth
        Long tables as ``track`` writes them (``truth``'s proportion is the true share).

    Returns
    -------
    pandas.DataFrame
        One row per source with :data:`SCORE_COLUMNS`; ``r`` is NaN when either side is
        constant across sinks, ``coverage`` NaN when the method gives no intervals.
    """
    t = truth.rename(columns={"proportion": "true"})[["sink", "source", "true"]]
    joined = t.merge(estimate, on=["sink", "source"], how="inner")
    rows = []
    for source, g in joined.groupby("source", sort=False):
        varied = g["true"].std() > 0 and g["proportion"].std() > 0
        r = float(np.corrcoef(g["true"], g["proportion"])[0, 1]) if varied and len(g) > 2 else math.nan
        has_ci = g["ci_low"].notna().any()
        covered = (g["ci_low"] <= g["true"] + 1e-9) & (g["true"] - 1e-9 <= g["ci_high"])
        rows.append({
            "source": source, "n": len(g), "true_mean": float(g["true"].mean()),
            "estimate_mean": float(g["proportion"].mean()), "r": r,
            "bias": float((g["proportion"] - g["true"]).mean()),
            "mae": float((g["proportion"] - g["true"]).abs().mean()),
            "coverage": float(covered.mean()) if has_ci else math.nan,
        })
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def positive_control(ds: xr.Dataset, obs: Observation, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts with every sink replaced by a known mixture of its sources' true communities.

    Parameters
    ----------
    ds
        The simulated cohort ``obs`` was observed from.
    obs
        An observation (16S or shotgun reads in ``obs.counts``).
    seed
        Seed of the shares and the reads.

    Returns
    -------
    tuple
        The counts table (same samples, the sinks remade) and the truth (long form; Unknown
        is 0 for every sink).
    """
    params = load_parameters()
    cat = load_taxa()
    taxa = [str(t) for t in ds["taxon"].values]
    copies = np.asarray(cat["copies_16s"], dtype=np.float64)[[cat.index(t) for t in taxa]]
    rho = params.value("obs_dm_overdispersion", "fraction")
    depth = int(obs.settings["depth"])
    meta = obs.metadata
    counts = obs.counts.copy()
    truth = []
    rng = np.random.default_rng(seed)
    for sink, row in meta[meta["SourceSink"] == "Sink"].iterrows():
        sources = meta[(meta["SourceSink"] == "Source") & (meta["id"] == row["id"])]
        envs = list(dict.fromkeys(sources["Env"]))
        share = rng.dirichlet(np.ones(len(envs)))
        cells = np.zeros(len(taxa))
        for w, env in zip(share, envs, strict=True):
            true = ds["abundance"].sel(dyad=int(row["dyad"]), sample_day=int(row["day"]),
                                       site=SAMPLE_SITES[env]).sum("origin").values
            total = float(true.sum())
            if total > 0:
                cells += w * true / total
        if obs.relative is None:  # 16S: copy-number weighted amplicon reads
            reads = models.amplicon_counts(rng, cells, copies, depth, rho)
        else:
            reads = models.dirichlet_multinomial(rng, cells, depth, rho)
        counts[sink] = reads
        for w, env in zip(share, envs, strict=True):
            truth.append((sink, env, float(w), float(w), float(w)))
        truth.append((sink, UNKNOWN, 0.0, 0.0, 0.0))
    return counts, pd.DataFrame(truth, columns=COLUMNS)


LOOPS: tuple[tuple[str, str, tuple[int, ...], bool, float | None], ...] = (
    ("positive control, no kit DNA: infant gut, day 30", "pannaraj2017", (30,), True, 0.0),
    ("positive control: infant gut, day 30", "pannaraj2017", (30,), True, None),
    ("positive control, blank taxa removed: infant gut, day 30", "pannaraj2017", (30,), True, None),
    ("infant gut, day 30", "pannaraj2017", (30,), False, None),
    ("infant gut, day 180", "pannaraj2017", (180,), False, None),
    ("milk, days 30 and 180", "milk_routes", (30, 180), False, None),
)
"""(label, design, days, positive control, kit contamination or None for the run's) of each
closed loop :func:`closed_loop` runs."""

BLANK_FILTERED: frozenset[str] = frozenset({"positive control, blank taxa removed: infant gut, day 30"})
"""Loops analysed as a study that drops every taxon its negative controls (blanks) hold, from
every sample, before tracking (the simplest blank-based decontamination). The control with
kit DNA fails on the kit reads of the low-biomass milk sample, which its sink lacks; this
loop shows what removing them gives."""


def closed_loop(
    ds: xr.Dataset,
    methods: tuple[str, ...] = ("lactobiome", "feast", "sourcetracker"),
    seed: int = 0,
    depth: int | None = None,
    bootstrap: int = 30,
    contamination: float = 1.0,
    loops: tuple[str, ...] | None = None,
    tell_overdispersion: bool = True,
) -> pd.DataFrame:
    """Score every method on every loop of :data:`LOOPS`, per source.

    Parameters
    ----------
    ds
        A simulated cohort recording the loops' days (``simulate --design`` for each design).
    methods
        ``track`` methods to run.
    seed
        Observation, control and tracking seed.
    depth
        Reads per sample (the design's by default).
    bootstrap
        Bootstrap replicates of the default engine's intervals.
    contamination
        Multiplier of the kit contaminant DNA (as ``observe --contamination``).
    loops
        Labels of :data:`LOOPS` to run (all by default).
    tell_overdispersion
        Give the default engine the observation model's 16S overdispersion
        (``obs_dm_overdispersion``) as ``track(..., overdispersion=rho)``, as a study that
        sequenced technical replicates would know it (told, not estimated from the reads).
        The published methods take the reads as they are either way.

    Returns
    -------
    pandas.DataFrame
        ``loop``, ``method`` then :data:`SCORE_COLUMNS`.
    """
    from lactobiome.observation.design import load_design, restrict_days
    from lactobiome.observation.observe import observe
    from lactobiome.tracking import track

    rho = load_parameters().value("obs_dm_overdispersion", "fraction") if tell_overdispersion else 0.0
    frames = []
    for label, design_name, days, control, kit in LOOPS:
        if loops is not None and label not in loops:
            continue
        design = restrict_days(load_design(design_name), list(days))
        obs = observe(ds, design, depth=depth, seed=seed,
                      contamination=contamination if kit is None else kit)
        counts, truth = positive_control(ds, obs, seed) if control else (obs.counts, obs.truth)
        if label in BLANK_FILTERED:
            counts = counts.drop(index=obs.blanks.index[obs.blanks.sum(axis=1) > 0])
        meta = obs.metadata[["Env", "SourceSink", "id"]]
        for method in methods:
            told = {"overdispersion": rho} if method == "lactobiome" and obs.relative is None else {}
            est = track(counts[meta.index], meta, method=method, seed=seed, bootstrap=bootstrap, **told)
            scored = score_per_source(est, truth)
            scored.insert(0, "method", method)
            scored.insert(0, "loop", label)
            frames.append(scored)
    return pd.concat(frames, ignore_index=True)


def closed_loop_grid(
    ds: xr.Dataset,
    methods: tuple[str, ...],
    depths: Sequence[int | None],
    contaminations: Sequence[float],
    seed: int = 0,
    bootstrap: int = 30,
    loops: tuple[str, ...] | None = None,
    tell_overdispersion: bool = True,
) -> pd.DataFrame:
    """:func:`closed_loop` at every read depth and kit-contamination multiplier asked for.

    A loop whose contamination is fixed in :data:`LOOPS` (the control without kit DNA) does
    not depend on the multiplier, so it is run once per depth, under the first multiplier.

    Parameters
    ----------
    ds, methods, seed, bootstrap, loops, tell_overdispersion
        As :func:`closed_loop`.
    depths
        Reads per sample (``None``: the design's own depth).
    contaminations
        Multipliers of the kit contaminant DNA.

    Returns
    -------
    pandas.DataFrame
        ``depth`` (reads; the design's own where ``None`` was asked), ``contamination``, then
        :func:`closed_loop`'s columns.
    """
    from lactobiome.observation.design import load_design

    wanted = [label for label, *_ in LOOPS if loops is None or label in loops]
    frames = []
    for depth in depths:
        for i, contamination in enumerate(contaminations):
            # loops with a fixed contamination give the same table under every multiplier
            run = tuple(lab for lab, _, _, _, kit in LOOPS if lab in wanted and (i == 0 or kit is None))
            if not run:
                continue
            table = closed_loop(ds, methods, seed=seed, depth=depth, bootstrap=bootstrap,
                                contamination=contamination, loops=run,
                                tell_overdispersion=tell_overdispersion)
            fixed = {lab: kit for lab, _, _, _, kit in LOOPS}
            own = {lab: load_design(d).depth for lab, d, *_ in LOOPS}
            table.insert(0, "contamination", [
                fixed[lab] if fixed[lab] is not None else contamination for lab in table["loop"]
            ])
            table.insert(0, "depth", [depth if depth is not None else own[lab] for lab in table["loop"]])
            frames.append(table)
    return pd.concat(frames, ignore_index=True)
