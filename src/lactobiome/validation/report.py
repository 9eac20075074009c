"""The validation table as text: terminal lines, CSV and a Markdown page, written atomically."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lactobiome.io import TABLE_FLOAT_FORMAT
from lactobiome.io.atomic import write_text_atomic
from lactobiome.model.parameters import Parameter
from lactobiome.validation.roles import (
    Headline,
    by_role,
    fitted_parameters,
    headline,
    headline_text,
)
from lactobiome.validation.targets import CALIBRATION, CHECK, Target, format_number
from lactobiome.validation.verdicts import BEYOND_HORIZON, NOT_MODELLED, OUTSIDE, WITHIN, counts


def model_text(row: Mapping[Any, object]) -> str:
    """``value [low, high]`` of one table row (empty when not modelled)."""
    value = _number(row["model"])
    if not math.isfinite(value):
        return ""
    low, high = _number(row["ci_low"]), _number(row["ci_high"])
    if math.isfinite(low) and math.isfinite(high):
        return f"{format_number(value)} [{format_number(low)}, {format_number(high)}]"
    return format_number(value)


def _number(value: object) -> float:
    """A table cell as a float (NaN when it is not a number)."""
    if isinstance(value, int | float | str | np.number):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def to_text(table: pd.DataFrame, width: int = 44) -> str:
    """The table as fixed-width text for the terminal."""

    def cut(text: object, n: int) -> str:
        s = str(text)
        return s if len(s) <= n else s[: n - 1] + "…"

    lines = [f"{'id':5s} {'quantity':{width}s} {'accept':14s} {'model [95% interval]':30s} {'verdict':12s} source"]
    for row in table.to_dict("records"):
        lines.append(f"{row['id']:5s} {cut(row['quantity'], width):{width}s} {cut(row['acceptance'], 14):14s} "
                     f"{cut(model_text(row), 30):30s} {row['verdict']:12s} {cut(row['source'], 40)}")
    return "\n".join(lines)


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(table: pd.DataFrame, header: str = "", targets: Sequence[Target] | None = None,
                parameters: Mapping[str, Parameter] | None = None,
                worst: Mapping[str, Headline] | None = None) -> str:
    """The table as a Markdown page: summary, check targets, calibration targets, reasons.

    Parameters
    ----------
    table
        From :func:`lactobiome.validation.validate_dataset` (with ``seeds_within`` when
        several seeds were run).
    header
        A line under the title (cohort, version, parameter table, how to regenerate).
    targets
        The table's targets; with them the page gives the headline by role (each shared
        measurement once, low-confidence targets left out).
    parameters
        The parameter table; with it the page lists the fitted parameters (``calibrated_to``).
    worst
        Per role, the headline of the worst seed (from :func:`lactobiome.validation.roles.seed_summary`).
    """
    c = counts(table)
    measured = c[WITHIN] + c[OUTSIDE]
    share = f"{100.0 * c[WITHIN] / measured:.0f}%" if measured else "n/a"
    out = ["# Validation: the model against published figures", ""]
    if header:
        out += [header, ""]
    if targets is not None:
        out += [f"**Headline: {headline_text(headline(table, targets))}.**", ""]
    if worst is not None:
        out += [f"**Worst seed: {headline_text(worst)}.**", ""]
    unmeasured = table[(table["verdict"] == NOT_MODELLED) & (table["measure"] != "")]
    out += [f"Every target row: {c[WITHIN]} within, {c[OUTSIDE]} outside, {c[NOT_MODELLED]} not modelled "
            f"({share} of measured targets within their acceptance range; {len(unmeasured)} of the not-modelled "
            "targets have a mechanism but nothing to measure in this cohort).", "",
            "The model value is the measurement named in `src/lactobiome/data/targets.yaml` (see "
            "`lactobiome.validation.MEASURES`); the interval is a 95% percentile bootstrap over dyads. "
            "Each target's acceptance range and how it was set (`acceptance_basis`) are in the targets file. "
            "`not modelled` means the model has no mechanism for the figure, or the cohort holds no dyad-day "
            "it applies to (the reason says which). `lactobiome validate --sensitivity` screens every free "
            "parameter over its prior; `lactobiome calibrate --parameters a,b --targets X,Y --out p.csv` fits "
            "chosen parameters to chosen targets and writes a new parameter table.", ""]
    seeds = "seeds_within" in table.columns
    titles = {CHECK: "Check targets (never used to choose a parameter value)",
              CALIBRATION: "Calibration targets (parameter values were chosen for them)"}
    ordered = by_role(table) if "role" in table.columns else table
    for role in (CHECK, CALIBRATION):
        rows = ordered[ordered["role"] == role] if "role" in ordered.columns else ordered
        if rows.empty:
            continue
        out += [f"## {titles[role]}", "",
                "| id | quantity | published | unit | acceptance | model [95% interval] | verdict | "
                + ("seeds within | " if seeds else "") + "source |",
                "|---|---|---|---|---|---|---|" + ("---|" if seeds else "") + "---|"]
        for row in rows.to_dict("records"):
            seed_cell = f"{_share(row['seeds_within'])} | " if seeds else ""
            out.append(f"| {row['id']} | {_md(row['quantity'])} | {_md(row['published'])} | {_md(row['unit'])} | "
                       f"{_md(row['acceptance'])} | {_md(model_text(row))} | {row['verdict']} | {seed_cell}"
                       f"{_md(row['source'])} |")
        out.append("")
        if "role" not in ordered.columns:
            break
    if parameters is not None:
        out += ["## Fitted parameters (`calibrated_to` in the parameter table)", ""]
        fitted = fitted_parameters(parameters)
        if not fitted:
            out.append("None.")
        for p in fitted:
            out.append(f"* `{p.name}` = {format_number(p.value)} {p.unit} (prior {p.prior}): "
                       f"{', '.join(p.calibrated_to)}")
        out.append("")
    out += _pipeline_section(table)
    out += ["", "## Why each `outside` target is outside", ""]
    outside = ordered[ordered["verdict"] == OUTSIDE]
    if outside.empty:
        out.append("None.")
    for row in outside.to_dict("records"):
        why = row["reason"] or "no reason recorded yet: an open question for the model (known gap to investigate)"
        out.append(f"* **{row['id']}** ({_md(row['quantity'])}): {_md(why)}")
    out += ["", "## Mechanism present, nothing to measure in this cohort", ""]
    if unmeasured.empty:
        out.append("None.")
    for row in unmeasured.to_dict("records"):
        out.append(f"* **{row['id']}** ({_md(row['quantity'])}; `{row['measure']}`): {_md(row['reason'])}")
    beyond = table[table["verdict"] == BEYOND_HORIZON]
    if not beyond.empty:
        out += ["", "## Beyond the simulated horizon (rerun with more `--days`)", ""]
        for row in beyond.to_dict("records"):
            out.append(f"* **{row['id']}** ({_md(row['quantity'])}; `{row['measure']}`): {_md(row['reason'])}")
    out += ["", "## Targets not modelled", ""]
    for row in table[(table["verdict"] == NOT_MODELLED) & (table["measure"] == "")].to_dict("records"):
        out.append(f"* **{row['id']}** ({_md(row['quantity'])}): {_md(row['reason'])}")
    out += ["", "Research and teaching model output; not medical advice.", ""]
    return "\n".join(out)


WHY_PIPELINES_DIFFER = (
    "Why the two differ: the truth counts a cell by the last body site it came from (an "
    "infant-gut cell that arrived with milk is milk-derived, whatever it grew into), while the "
    "study's pipeline sees only reads. It samples the sites at one visit, adds kit "
    "contaminants, reads the 16S gene and asks SourceTracker which *sampled community* each "
    "read looks like. Cells that came from milk and then grew on the infant's own terms "
    "(bifidobacteria on human-milk oligosaccharides) make up an infant gut whose composition no "
    "longer resembles the milk sample, so the pipeline gives their reads to Unknown; a share "
    "that the pipeline reports is a statement about similarity of communities, not a count of "
    "transmitted cells. The figures from this cohort:"
)
"""The paragraph of the report that explains pipeline values against the truth."""
WHY_CULTURE_DIFFERS = (
    "Culture readings (`.../culture/...`) count colonies instead: only culturable taxa, per "
    "gram of stool, a count below the plates' detection limit read at that limit, and group "
    "means of log counts rather than the median of each infant's ratio of cell shares."
)
"""The sentence that explains culture readings against the truth."""

WHY_ASSAYS_DIFFER = (
    "Assay pipelines count what the study's laboratory counted in the same milk: light "
    "microscopy cannot tell lipid-laden epithelial cells from macrophages, so its leucocyte "
    "count holds every nucleated cell; qPCR amplifies the DNA of dead cells and of the "
    "extraction kit as well as that of live cells; culture counts colonies, which only the live "
    "cells of culturable taxa form, and not all of them. What each counts:"
)
"""The paragraph of the report that explains assay-pipeline values against the truth."""


def _pipeline_section(table: pd.DataFrame) -> list[str]:
    """Targets measured through their study's pipeline: value, truth, and why they differ."""
    if "measured_by" not in table.columns:
        return []
    piped = table[table["measured_by"].fillna("truth") != "truth"]
    if piped.empty:
        return []
    out = ["", "## Measured as the study measured it", "",
           "For these targets `model` is what the study's own pipeline (`measured_by`) reports on "
           "the simulated cohort; `truth_value` is the model's true value of the same quantity.", "",
           "| id | quantity | published | measured_by | model (pipeline) [95% interval] | truth_value | verdict |",
           "|---|---|---|---|---|---|---|"]
    for row in piped.to_dict("records"):
        out.append(f"| {row['id']} | {_md(row['quantity'])} | {_md(row['published'])} | `{row['measured_by']}` | "
                   f"{_md(model_text(row))} | {format_number(_number(row['truth_value']))} | {row['verdict']} |")
    from lactobiome.validation.assays import ASSAYS

    notes = table.attrs.get("pipeline_notes", {})
    tracked = {key: text for key, text in notes.items() if key not in ASSAYS}
    keys = [str(k) for k in piped["measured_by"]]
    if any(k not in ASSAYS and "/culture/" not in k for k in keys) or not notes:
        figures = " ".join(f"`{key}`: {_md(text)}" for key, text in tracked.items())
        out += ["", f"{WHY_PIPELINES_DIFFER} {figures}".rstrip()]
    if any("/culture/" in k for k in keys):
        out += ["", WHY_CULTURE_DIFFERS]
    assays = [f"`{key}`: {_md(text)}." for key, text in notes.items() if key in ASSAYS]
    if assays:
        out += ["", f"{WHY_ASSAYS_DIFFER} {' '.join(assays)}"]
    return out


PROSE_START = "<!-- prose: kept when the page is regenerated -->"
PROSE_END = "<!-- /prose -->"
"""Markers of the hand-written part of the page, carried over by :func:`write_tables`."""


def kept_prose(path: str | Path) -> str:
    """The hand-written block (markers included) of an existing page, or empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""
    start, end = text.find(PROSE_START), text.find(PROSE_END)
    return text[start:end + len(PROSE_END)] if 0 <= start < end else ""


def _share(value: object) -> str:
    """A share of seeds as a percentage (empty when never measured)."""
    number = _number(value)
    return f"{100.0 * number:.0f}%" if math.isfinite(number) else ""


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` as CSV (no index) to ``path`` atomically; returns the path."""
    path = Path(path)
    write_text_atomic(table.to_csv(index=False, float_format=TABLE_FLOAT_FORMAT), path)
    return path


def write_tables(table: pd.DataFrame, csv_path: str | Path, md_path: str | Path, header: str = "",
                 targets: Sequence[Target] | None = None, parameters: Mapping[str, Parameter] | None = None,
                 worst: Mapping[str, Headline] | None = None) -> None:
    """Write the validation table as CSV and as the Markdown page of :func:`to_markdown`, atomically.

    Parameters
    ----------
    table
        From :func:`lactobiome.validation.validate_dataset`.
    csv_path, md_path
        Where the two files go (folders are created).
    header
        A line under the page title (the cohort, version, parameter table).
    targets, parameters, worst
        Passed to :func:`to_markdown` (headline by role, fitted parameters, worst seed).

    A block between :data:`PROSE_START` and :data:`PROSE_END` in an existing page at
    ``md_path`` (the hand-written account of how targets were chosen) is kept under the title.
    """
    page = to_markdown(table, header, targets, parameters, worst)
    prose = kept_prose(md_path)
    if prose:
        title, _, rest = page.partition("\n\n")
        page = f"{title}\n\n{prose}\n\n{rest}"
    write_csv(table, csv_path)
    write_text_atomic(page, Path(md_path))
