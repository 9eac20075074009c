"""``lactobiome parameters``: read and compare parameter tables."""

from __future__ import annotations

from pathlib import Path

import click

SHIPPED = "shipped"
"""What ``OLD`` or ``NEW`` may be instead of a path: the table shipped in the package."""


@click.group("parameters")
def parameters() -> None:
    """Read and compare parameter tables (CSV: name, value, unit, prior, source, note, calibrated_to)."""


@parameters.command("diff")
@click.argument("old")
@click.argument("new", default=SHIPPED)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the comparison to this .md or .csv file instead of printing it.")
def diff(old: str, new: str, out: Path | None) -> None:
    """Compare parameter table OLD with NEW (default: the shipped table).

    Lists every parameter whose value moved, whose prior changed, or that only one table has,
    with both values and priors, whether the new value lies within each prior (a value outside
    its own prior is a defect), the targets it was fitted to and its source. Either table may
    be given as 'shipped'. Example, after a calibration: ``lactobiome parameters diff shipped
    fitted.csv``.
    """
    from lactobiome.errors import InputError
    from lactobiome.model.parameters import load_parameters
    from lactobiome.validation.parameter_changes import (
        CHANGE_COLUMNS,
        changes_markdown,
        changes_rows,
        compare_parameters,
    )

    if out is not None and out.suffix not in (".md", ".csv"):
        raise InputError(f"{out}: --out must end in .md or .csv")
    tables = [load_parameters(None if label == SHIPPED else label) for label in (old, new)]
    changes = compare_parameters(*tables)
    text = changes_markdown(changes, old, new)
    if out is None:
        click.echo(text, nl=False)
        return
    from lactobiome.io.atomic import write_text_atomic

    if out.suffix == ".csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CHANGE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(changes_rows(changes))
        text = buffer.getvalue()
    write_text_atomic(text, out)
    click.echo(f"{len(changes)} changes written to {out}", err=True)
