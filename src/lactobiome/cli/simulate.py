"""``lactobiome simulate`` and ``lactobiome scenarios``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("scenario", default="default")
@click.option("--dyads", type=click.IntRange(min=1), help="Cohort size (overrides the scenario).")
@click.option("--days", type=click.IntRange(min=1, max=730), help="Days of life to simulate.")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed.")
@click.option("--out", type=click.Path(dir_okay=True, path_type=Path), default=Path("results/simulation.nc"),
              show_default=True, help="Result file: .nc (NetCDF) or .zarr.")
@click.option("--chunk-size", type=click.IntRange(min=1), help="Dyads per chunk (memory vs speed).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes simulating chunks in parallel (results are identical).")
@click.option("--parameters", "parameters_path", type=click.Path(path_type=Path),
              help="Parameter table to simulate with (e.g. one written by `lactobiome calibrate`; default: shipped).")
@click.option("--dask", "dask", metavar="local[:N]|ADDRESS", default=None,
              help="Run the chunks as Dask tasks: a LocalCluster of N workers, or a scheduler address "
                   "(needs lactobiome[dask]; the result's folder must be shared with the workers).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal only).")
@click.option("--design", "design_name", default=None,
              help="Also record the sampling days of this study design (built-in name or YAML "
                   "file), so that `observe --design` finds them.")
def simulate(scenario: str, dyads: int | None, days: int | None, seed: int | None, out: Path,
             chunk_size: int | None, workers: int, parameters_path: Path | None, progress: bool | None,
             dask: str | None = None, design_name: str | None = None) -> None:
    """Simulate a cohort of mother–infant dyads under SCENARIO (a built-in name or a YAML file).

    Writes abundance by site, taxon and origin on the recorded days, the daily milk panel and
    the dyad attributes, then prints the provenance shares of infant-gut and milk cells.
    Research and teaching output, not medical advice.
    """
    from lactobiome.cli import command_line
    from lactobiome.io.dataset import open_result
    from lactobiome.model.parameters import load_parameters
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import simulate_to_file
    from lactobiome.summary import mastitis_summary, panel_table, provenance_table

    if out.suffix not in (".nc", ".zarr"):
        raise click.BadParameter(f"{out}: expected a path ending in .nc or .zarr", param_hint="--out")
    cohort = {k: v for k, v in {"dyads": dyads, "days": days, "seed": seed}.items() if v is not None}
    chosen = load_scenario(scenario, {"cohort": cohort} if cohort else None)
    beyond: list[int] = []
    if design_name is not None:
        from lactobiome.observation import load_design

        design = load_design(design_name)
        horizon = chosen.cohort.days
        beyond = [d for d in design.days if d > horizon]
        recorded = sorted({int(d) for d in chosen.sampling.days if d <= horizon}
                          | {d for d in design.days if d <= horizon})
        chosen = load_scenario(scenario, {"cohort": cohort, "sampling": {"days": recorded}})
    table = load_parameters(parameters_path) if parameters_path else None
    if dask is None:
        simulate_to_file(chosen, out, chunk_size=chunk_size, progress=progress, parameters=table, workers=workers,
                         history=command_line())
    else:
        from lactobiome.dask_backend import close, connect

        client = connect(dask)
        try:
            simulate_to_file(chosen, out, chunk_size=chunk_size, progress=progress, parameters=table,
                             history=command_line(), client=client)
        finally:
            close(client)
    with open_result(out) as ds:
        shares = provenance_table(ds)
        panel = panel_table(ds)
        mastitis = mastitis_summary(ds)
    click.echo(f"scenario {chosen.name}: {chosen.cohort.dyads} dyads x {chosen.cohort.days} days, "
               f"seed {chosen.cohort.seed}")
    past = [d for d in chosen.sampling.days if d > chosen.cohort.days]
    note = f" (sampling days past the {chosen.cohort.days}-day horizon not recorded: {_days(past)})" if past else ""
    click.echo(f"abundance recorded on days {_days(chosen.record_days())}{note}")
    click.echo("Mean share of cells by origin (rows: feeding group in month 1):")
    with _wide_pandas():
        click.echo(shares.round(3).to_string())
        click.echo("Median milk panel of breastfed dyads:")
        click.echo(panel.to_string(float_format=lambda v: f"{v:.3g}"))
    click.echo("Mastitis spectrum:")
    for label, value in mastitis.items():
        click.echo(f"  {label}: {value:.3g}")
    if design_name is not None:
        note = (f"; days beyond the {chosen.cohort.days}-day horizon not recorded: "
                f"{', '.join(map(str, beyond))}") if beyond else ""
        click.echo(f"recorded days include design {design.name!r}'s sampling days{note}")
    click.echo(f"Results written to {out} (mastitis episodes: {out.name}.events.csv)")
    click.echo("(research and teaching model; not medical advice)")


def _days(days: list[int]) -> str:
    return ", ".join(map(str, days))


class _wide_pandas:
    def __enter__(self):
        import pandas as pd

        self._ctx = pd.option_context("display.width", 200, "display.max_columns", 30)
        self._ctx.__enter__()

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)


@click.command()
def scenarios() -> None:
    """List the built-in scenarios, one line each."""
    from lactobiome.scenarios import builtin_names, load_scenario

    for name in builtin_names():
        click.echo(f"{name:32s} {load_scenario(name).description}")
