"""``lactobiome track``: microbial source tracking from the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from lactobiome.errors import InputError
from lactobiome.io import TABLE_FLOAT_FORMAT
from lactobiome.io.atomic import write_text_atomic

F = TypeVar("F", bound=Callable[..., object])


def _setting(flag: str, default: float, help: str) -> Callable[[F], F]:
    """A numeric option whose default is shown in ``--help`` (its type is the default's)."""
    return click.option(flag, default=default, show_default=True, help=help)


@click.command("track")
@click.argument("table", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("metadata", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SourceTracker2 mapping file (instead of the METADATA argument).",
)
@click.option(
    "--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Output TSV (long form: sink, source, proportion, ci_low, ci_high).",
)
@click.option("--wide", is_flag=True, help="Write a sinks x sources matrix instead.")
@click.option(
    "--format", "fmt", default="auto", show_default=True,
    type=click.Choice(["auto", "feast", "biom", "classic", "metaphlan"]),
    help="Layout of TABLE.",
)
@click.option(
    "--method", default="lactobiome", show_default=True,
    type=click.Choice(["lactobiome", "feast", "sourcetracker"]),
    help="lactobiome: this engine; feast: FEAST 0.1.0's EM; sourcetracker: SourceTracker2's "
    "Gibbs sampler with its defaults (docs/tracking.md). The published methods use "
    "--rarefy DEPTH, --seed, --level (and feast --iterations, --tolerance) only.",
)
@click.option("--by-sample", is_flag=True, help="Keep each source sample separate (not by Env).")
@click.option(
    "--rarefy", "rarefy", default=None, type=int, is_flag=False, flag_value=-1,
    help="Rarefy each sink and its sources (to their smallest depth, or to the given depth).",
)
@_setting("--iterations", 1000, "Maximum EM iterations.")
@_setting("--tolerance", 1e-6, "EM convergence tolerance.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed (bootstrap, rarefying); a non-negative integer.")
@_setting("--bootstrap", 100, "Bootstrap replicates.")
@_setting("--level", 0.9, "Interval coverage.")
@click.option(
    "--relative/--counts", "relative", default=None,
    help="Treat TABLE as relative abundances (default: decide from the data).",
)
@_setting("--effective-depth", 10_000.0, "Reads a relative-abundance sample is taken to be worth.")
@_setting(
    "--overdispersion", 0.0,
    "Dirichlet-multinomial intra-class correlation of the reads' technical noise, as the "
    "study's technical replicates measure it: each sample of n reads then counts as "
    "n / (1 + (n - 1) rho) reads (default engine only; 0: multinomial reads).",
)
@_setting(
    "--unknown-cost", 0.2,
    "Cost of an unknown-source read, in units of the sampling-noise scale.",
)
@click.option(
    "--source-fidelity", type=float, default=None,
    help="Size in reads of the seeding community's own draw from the source community "
    "(default: as large as the source sample, the two being exchangeable draws; "
    "0: the sample is a draw of the seeding community itself).",
)
@_setting(
    "--max-loss", 0.25,
    "Largest share of a source's mass that may be lost on the way to the sink "
    "(taxa the sink lacks; 0: off).",
)
@_setting(
    "--lost-min-gain", 0.25,
    "Lost taxa are kept only if they lower the sink's Unknown share by at least this.",
)
@_setting(
    "--lost-below", 1.0,
    "A source taxon counts as lost when the sink holds fewer reads of it than this "
    "fraction of the source's expected contribution.",
)
@click.option(
    "--marginal", default="unknown", show_default=True,
    type=click.Choice(["unknown", "none"]),
    help="unknown: integrate the unknown community out under its Dirichlet prior (default "
    "since round 8 of docs/tracking.md); none: fit every community's profile (the default "
    "before round 8).",
)
@click.option(
    "--unknown-world", default="stiff", show_default=True,
    type=click.Choice(["stiff", "fit", "free", "corrected", "community"]),
    help="Unknown community of the bias correction's bootstrap world with --marginal unknown: "
    "stiff (default), a free-profile fit's with the sources at their samples; fit, the "
    "integrated fit's; free, a free-profile fit's; corrected, that with its chance excess "
    "removed; community, stiff's with the unknown drawn from the study's own population of "
    "communities (docs/tracking.md, rounds 5-6 and 9). Ignored with --marginal none.",
)
def track(
    table: Path,
    metadata: Path | None,
    mapping: Path | None,
    out: Path,
    wide: bool,
    fmt: str,
    method: str,
    by_sample: bool,
    rarefy: int | None,
    iterations: int,
    tolerance: float,
    seed: int,
    bootstrap: int,
    level: float,
    relative: bool | None,
    effective_depth: float,
    overdispersion: float,
    unknown_cost: float,
    source_fidelity: float | None,
    max_loss: float,
    lost_below: float,
    lost_min_gain: float,
    marginal: str,
    unknown_world: str,
) -> None:
    """Estimate what share of each sink came from each source (and from an unknown source).

    TABLE is a FEAST count table, a BIOM file (HDF5 or JSON), a classic tab table or a
    MetaPhlAn relative-abundance table; METADATA (or --mapping) is FEAST metadata or a
    SourceTracker2 mapping file with SampleID, Env, SourceSink and optionally id.
    """
    from tqdm import tqdm

    from lactobiome.io.tables import read_counts, read_metadata
    from lactobiome.tracking import to_wide
    from lactobiome.tracking.core import track as run_track

    meta_path = metadata or mapping
    if metadata is not None and mapping is not None:
        raise InputError("give the metadata either as an argument or with --mapping, not both")
    if meta_path is None:
        raise InputError("no metadata: give METADATA or --mapping MAP")
    # whole numbers are required here only with --counts; otherwise the tracker decides
    # (fractional values summing to <= 100 per sample are relative abundances)
    counts = read_counts(table, fmt, integer=relative is False)
    meta = read_metadata(meta_path)
    n_sinks = int((meta["SourceSink"] == "Sink").sum())
    total = n_sinks * (1 + bootstrap) if method == "lactobiome" else n_sinks
    _say_if_compiling(method)
    with tqdm(total=total, desc="tracking", unit="fit", disable=None, leave=False) as bar:
        result = run_track(
            counts,
            meta,
            by_sample=by_sample,
            rarefy=False if rarefy is None else (True if rarefy < 0 else rarefy),
            iterations=iterations,
            tolerance=tolerance,
            seed=seed,
            bootstrap=bootstrap,
            level=level,
            relative=relative,
            effective_depth=effective_depth,
            overdispersion=overdispersion,
            unknown_cost=unknown_cost,
            source_fidelity=source_fidelity,
            max_loss=max_loss,
            lost_below=lost_below,
            lost_min_gain=lost_min_gain,
            marginal=marginal,
            unknown_world=unknown_world,
            progress=bar.update,
            counts_name=str(table),
            metadata_name=str(meta_path),
            method=method,
        )
    if wide:
        text = to_wide(result).to_csv(sep="\t", float_format=TABLE_FLOAT_FORMAT, na_rep="NA")
    else:
        text = result.to_csv(sep="\t", index=False, float_format=TABLE_FLOAT_FORMAT, na_rep="NA")
    write_text_atomic(text, out)

    diag = result.attrs["diagnostics"]
    means = result.groupby("source", sort=False)["proportion"].mean()
    skipped = result.attrs.get("skipped", {})
    untracked = f"; {len(skipped)} sink(s) not tracked (NA rows)" if skipped else ""
    click.echo(
        f"{method}: tracked {len(diag)} sink(s) against {len(means) - 1} source label(s); "
        f"{int(diag['converged'].sum())}/{len(diag)} converged{untracked}; wrote {out}"
    )
    click.echo("mean proportion: " + ", ".join(f"{k} {v:.3f}" for k, v in means.items()))
    if result.attrs.get("relative"):
        click.echo(
            f"note: relative abundances treated as {effective_depth:g} reads per sample"
        )


def _say_if_compiling(method: str) -> None:
    """On a terminal, say that the first run compiles the method's kernels (the bar waits for them).

    ``lactobiome compile`` (run by ``make`` at install) fills the cache beforehand.
    """
    import sys
    from typing import Any

    from lactobiome.model._kernel_cache import uncached_kernels

    kernels: list[Any]
    if method == "feast":
        from lactobiome.tracking import feast

        kernels = [feast._em]
    elif method == "sourcetracker":
        from lactobiome.tracking import sourcetracker

        kernels = [sourcetracker._gibbs]
    else:
        from lactobiome.tracking import engine

        kernels = [engine.fit_batch, engine.replicate_batch]
    if sys.stderr.isatty() and uncached_kernels(kernels):
        click.echo(f"compiling the {method} tracker's kernels (first run after an install or an update; cached "
                   "for later runs; `lactobiome compile` does it ahead)...", err=True)
