"""``lactobiome observe`` and ``lactobiome benchmark-tracking``: the closed loop."""

from __future__ import annotations

import math
from pathlib import Path

import click
import numpy as np
import pandas as pd

from lactobiome.errors import InputError


def _design_help() -> str:
    from lactobiome.observation.design import builtin_designs

    return ("Built-in design name or a design YAML file; built-in: "
            + ", ".join(builtin_designs()) + ".")


@click.command("observe")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--design", "design_name", default="pannaraj2017", show_default=True,
              help=_design_help())
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the tables.")
@click.option("--depth", type=int, default=None, help="Reads per sample (default: the design's).")
@click.option("--contamination", type=float, default=1.0, show_default=True,
              help="Multiplier of kit contaminant DNA per extraction (0: none).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Observation seed.")
def observe(results: Path, design_name: str, out: Path, depth: int | None, contamination: float,
            seed: int) -> None:
    """Sample the simulated cohort RESULTS as a study design prescribes.

    Writes FEAST counts and metadata (each infant sink paired by ``id`` with its own
    mother's samples of the same visit), a JSON BIOM table, negative controls, cultures,
    the measured milk panel, and ``truth.tsv``: the true provenance of every sink by source.
    """
    from lactobiome.io.dataset import open_result
    from lactobiome.io.observed import write_observation
    from lactobiome.observation import load_design
    from lactobiome.observation import observe as run_observe

    if not results.exists():
        raise InputError(f"{results}: no such result")
    design = load_design(design_name)
    ds = open_result(results)
    obs = run_observe(ds, design, depth=depth, contamination=contamination, seed=seed)
    taxonomy = {
        str(t): [f"g__{g}", f"f__{f}"]
        for t, g, f in zip(ds["taxon"].values, ds["genus"].values, ds["family"].values, strict=True)
    }
    write_observation(obs, out, taxonomy)
    meta = obs.metadata
    click.echo(
        f"observed {len(meta)} samples of {meta['dyad'].nunique()} dyads "
        f"({design.name}, {obs.settings['depth']} reads, contamination x{contamination:g}) "
        f"and {obs.blanks.shape[1]} blanks -> {out}"
    )
    if obs.settings["dropped_days"]:
        click.echo(
            f"design days after the result's last day ({int(ds['day'].values.max())}) not "
            f"sampled: {', '.join(map(str, obs.settings['dropped_days']))}"
        )
    share = meta.groupby("Env")["contaminant_read_share"].median()
    click.echo("median contaminant read share: " + ", ".join(f"{k} {v:.3f}" for k, v in share.items()))


def score(estimate: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Join ``track`` output with the truth on (sink, source).

    Returns
    -------
    pandas.DataFrame
        ``sink``, ``source``, ``true``, ``proportion``, ``ci_low``, ``ci_high``, ``covered``.
    """
    t = truth.rename(columns={"proportion": "true"})[["sink", "source", "true"]]
    joined = t.merge(estimate, on=["sink", "source"], how="inner")
    joined["covered"] = (joined["ci_low"] <= joined["true"] + 1e-9) & (
        joined["true"] - 1e-9 <= joined["ci_high"]
    )
    return joined


def summarise(joined: pd.DataFrame) -> dict[str, float]:
    """Pearson r over known sources, per-source r across sinks, bias per source, interval
    coverage (no r pooled with Unknown: a constant large Unknown would score well)."""
    known = joined[joined["source"] != "Unknown"]
    out = {
        "r_sources": float(np.corrcoef(known["true"], known["proportion"])[0, 1]),
        "coverage": float(joined["covered"].mean()),
        "mae": float((joined["proportion"] - joined["true"]).abs().mean()),
    }
    for source, g in joined.groupby("source"):
        out[f"bias_{source}"] = float((g["proportion"] - g["true"]).mean())
    for source, g in joined.groupby("source"):
        # across sinks, per source: does the estimate follow the truth from infant to infant?
        varied = g["true"].std() > 0 and g["proportion"].std() > 0
        out[f"r_{source}"] = float(np.corrcoef(g["true"], g["proportion"])[0, 1]) if varied else math.nan
    return out


@click.command("benchmark-tracking")
@click.option("--design", "design_name", default="pannaraj2017", show_default=True)
@click.option("--scenario", default="default", show_default=True, help="Scenario to simulate.")
@click.option("--dyads", type=int, default=30, show_default=True)
@click.option("--depths", default="1000,5000,20000", show_default=True,
              help="Comma-separated reads per sample; both tables are run at each.")
@click.option("--contamination", "contaminations", default="0,1,10", show_default=True,
              help="Comma-separated multipliers of kit contaminant DNA; both tables are run at "
                   "each (the control without kit DNA once per depth).")
@click.option("--max-day", type=int, default=30, show_default=True,
              help="Track sinks up to this day (month 1 by default).")
@click.option("--bootstrap", type=int, default=30, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--methods", default="lactobiome,feast,sourcetracker", show_default=True,
              help="Comma-separated track methods scored per source on the closed loops "
                   "(positive controls, infant gut months 1 and 6, milk as a sink); '' skips them.")
@click.option("--tell-overdispersion/--no-tell-overdispersion", default=True, show_default=True,
              help="Give our engine the observation model's 16S overdispersion "
                   "(obs_dm_overdispersion), as a study with technical replicates would know it; "
                   "it is told, not estimated.")
def benchmark_tracking(design_name: str, scenario: str, dyads: int, depths: str,
                       contaminations: str, max_day: int, bootstrap: int, seed: int,
                       methods: str = "lactobiome,feast,sourcetracker",
                       tell_overdispersion: bool = True) -> None:
    """Simulate -> observe -> track -> compare with the provenance truth.

    Then, per loop, method and source: Pearson r across sinks, bias, MAE and interval
    coverage (lactobiome.observation.closed_loop).
    """
    from lactobiome.observation import load_design
    from lactobiome.observation import observe as run_observe
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import simulate_in_memory
    from lactobiome.tracking import track

    try:
        depth_list = [int(x) for x in depths.split(",") if x.strip()]
        contam_list = [float(x) for x in contaminations.split(",") if x.strip()]
    except ValueError:
        raise InputError("--depths and --contamination take comma-separated numbers") from None
    if not depth_list or min(depth_list) < 1:
        raise InputError(f"--depths: expected read depths >= 1, got {depths!r}")
    if not contam_list or not all(math.isfinite(c) and c >= 0 for c in contam_list):
        raise InputError(f"--contamination: expected finite multipliers >= 0, got {contaminations!r}")
    design = load_design(design_name)
    from lactobiome.observation.closed_loop import LOOPS, closed_loop_grid
    from lactobiome.tracking.methods import METHODS

    method_list = [m.strip() for m in methods.split(",") if m.strip()]
    bad = [m for m in method_list if m not in METHODS]
    if bad:
        raise InputError(f"--methods: unknown method {bad[0]!r}, expected some of {', '.join(METHODS)}")
    from lactobiome.model.parameters import load_parameters

    rho = load_parameters().value("obs_dm_overdispersion", "fraction") if tell_overdispersion else 0.0
    loop_days = {d for _, name, days, _, _ in LOOPS for d in days} if method_list else set()
    horizon = max([*design.days, *loop_days])
    sc = load_scenario(scenario, {"cohort": {"dyads": dyads, "days": horizon},
                                  "sampling": {"days": sorted(set(design.days) | loop_days)}})
    click.echo(f"simulating {dyads} dyads of {scenario!r} for {horizon} days ...")
    ds = simulate_in_memory(sc)
    rows = []
    first: pd.DataFrame | None = None
    for contamination in contam_list:
        for depth in depth_list:
            obs = run_observe(ds, design, depth=depth, contamination=contamination, seed=seed)
            meta = obs.metadata
            keep = meta[(meta["day"] <= max_day)]
            est = track(obs.counts[keep.index], keep[["Env", "SourceSink", "id"]],
                        bootstrap=bootstrap, seed=seed, overdispersion=rho)
            joined = score(est, obs.truth)
            joined = joined.merge(meta[["Env", "day"]], left_on="sink", right_index=True)
            milk_share = float(meta.loc[meta["Env"] == "milk", "contaminant_read_share"].median())
            stool = meta["Env"].isin(["infant_stool", "maternal_stool"])
            stool_share = float(meta.loc[stool, "contaminant_read_share"].median())
            rows.append({"depth": depth, "contamination": contamination, **summarise(joined),
                         "contam_reads_milk": milk_share, "contam_reads_stool": stool_share})
            if first is None:
                first = joined
    assert first is not None
    click.echo("\nestimated vs true share by source (first setting; sinks by sample type):")
    by = first.groupby(["Env", "source"])[["true", "proportion"]].mean().round(3)
    by["coverage"] = first.groupby(["Env", "source"])["covered"].mean().round(2)
    click.echo(by.to_string())
    click.echo("\naccuracy across depth and contamination:")
    click.echo(pd.DataFrame(rows).round(3).to_string(index=False))
    if method_list:
        # every depth and contamination asked for (the control without kit DNA once per depth)
        table = closed_loop_grid(ds, tuple(method_list), depth_list, contam_list,
                                 seed=seed, bootstrap=bootstrap,
                                 tell_overdispersion=tell_overdispersion)
        click.echo("\nper loop, depth, contamination, method and source "
                   "(r across sinks; coverage NaN: no intervals):")
        with pd.option_context("display.width", 200):
            click.echo(table.round(3).to_string(index=False))
