"""``lactobiome report``: one self-contained HTML file of a simulation result."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("result", type=click.Path(path_type=Path))
@click.option("--validation", type=click.Path(path_type=Path),
              help="Validation CSV from `lactobiome validate` to add its figure.")
@click.option("--dyad", type=click.IntRange(min=0), default=None,
              help="Dyad index shown beside the cohort median (default: the first breastfed one).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="HTML file to write.")
def report(result: Path, validation: Path | None, dyad: int | None, out: Path) -> None:
    """Write one HTML file (opens offline) with the figures of a simulation RESULT.

    Sections: cohort, composition over time, provenance with the published shares, the milk
    cell panel with published bands, mastitis, and validation when --validation is given.
    A trial folder (`lactobiome trial NAME --out DIR`) as RESULT gives the trial's figures:
    the primary endpoint per arm beside the model truth, the effect, the paired contrast, power.
    """
    from lactobiome.report import write_report, write_trial_report

    if result.is_dir() and (result / "trial.yaml").is_file():
        if validation is not None or dyad is not None:
            raise click.UsageError("--validation and --dyad are for a simulation result, not a trial folder")
        path = write_trial_report(result, out)
    else:
        path = write_report(result, out, validation=validation, dyad=dyad)
    click.echo(f"Report written to {path}")
    click.echo("(research and teaching model; not medical advice)")
