"""Figures of a simulated trial, from its tables (``arms.tsv``, ``effects.tsv``, ``paired.tsv``, ``power.tsv``).

Each function returns a :class:`~lactobiome.report.figures.Section` for the trial's primary
endpoint: per arm the value measured as the trial measured it beside the model's truth; the
effect between arms with its interval and p-value beside the truth's effect; the paired
within-woman contrast (measured and true); the power curve when one was run. The explorer's
trial view and ``lactobiome report`` of a trial folder draw the same sections.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import yaml

from lactobiome.errors import InputError
from lactobiome.report.figures import Section

MEASURED_COLOUR = "#1565c0"
"""Colour of what the trial measured (presentation choice)."""

TRUTH_COLOUR = "#6d6d6d"
"""Colour of the model's truth drawn beside it (presentation choice)."""

# Horizontal figures set orientation="h" on their traces: in scattermode "group" the offset
# between measured and truth goes along the category axis only then (else it shifts the values).
RATIO_MEASURES: frozenset[str] = frozenset({"risk_ratio", "odds_ratio", "incidence_rate_ratio"})
"""Effect measures whose 'no effect' is 1 (drawn on a log axis); the others' is 0."""

POWER_GOAL = 0.8
"""The power the curve's reference line marks (the design convention the power table reports)."""

TABLES: tuple[str, ...] = ("arms", "effects", "paired")
"""The trial tables every trial folder holds (``power`` is optional)."""


def _finite(value: object) -> float | None:
    """A float for a figure, or None (drawn as a gap) when missing or infinite."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _error(rows: pd.DataFrame, value: str, low: str, high: str) -> dict[str, Any]:
    """Asymmetric error bars from interval columns (gaps where an end is not finite)."""
    plus, minus = [], []
    for _, row in rows.iterrows():
        v, lo, hi = _finite(row[value]), _finite(row[low]), _finite(row[high])
        plus.append(None if v is None or hi is None else hi - v)
        minus.append(None if v is None or lo is None else v - lo)
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus}


def _text(value: object) -> str:
    number = _finite(value)
    return "not estimable" if number is None else f"{number:.3g}"


def arms_section(design: Mapping[str, Any], arms: pd.DataFrame) -> Section:
    """The primary endpoint in each arm: measured with its 95% interval, the model's truth beside it."""
    primary = design["primary"]
    rows = arms[arms["endpoint"] == primary["name"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=rows["arm"].tolist(), y=[_finite(v) for v in rows["value"]], mode="markers", name="measured (trial's assay)",
        marker={"color": MEASURED_COLOUR, "size": 11}, error_y=_error(rows, "value", "ci_low", "ci_high"),
        offsetgroup="measured", text=[f"n = {n}: {_text(v)} [{_text(lo)}, {_text(hi)}]" for n, v, lo, hi in
                                      zip(rows["n"], rows["value"], rows["ci_low"], rows["ci_high"], strict=True)],
        hovertemplate="%{x}, measured: %{text}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=rows["arm"].tolist(), y=[_finite(v) for v in rows["truth"]], mode="markers", name="model truth",
        marker={"color": TRUTH_COLOUR, "size": 11, "symbol": "diamond-open", "line": {"width": 2}},
        error_y=_error(rows, "truth", "truth_ci_low", "truth_ci_high"), offsetgroup="truth",
        text=[_text(v) for v in rows["truth"]], hovertemplate="%{x}, model truth: %{text}<extra></extra>"))
    fig.update_layout(scattermode="group", height=380, margin={"t": 30},
                      yaxis={"title": {"text": f"{primary['name']} ({primary['unit']})"}},
                      xaxis={"title": {"text": "arm"}})
    return Section("trial-arms", f"Primary endpoint per arm: {primary['name']}", fig, (
        f"{primary['name']} ({primary['unit']}) in each arm among the women allocated to it: the value measured as the "
        "trial measured it (blue dot, 95% interval) and the model's truth for the same women (grey diamond).",
        "Look at the gap between measured and truth (what the assay and case definition hide) and at how wide the "
        "intervals are at this n.",
    ))


def _null(measure: str) -> float:
    return 1.0 if measure in RATIO_MEASURES else 0.0


def effects_section(design: Mapping[str, Any], effects: pd.DataFrame) -> Section:
    """Each arm against the control on the primary endpoint: estimate, 95% interval, p-value, truth."""
    primary = design["primary"]
    rows = effects[effects["endpoint"] == primary["name"]]
    measure = primary["analysis"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[_finite(v) for v in rows["estimate"]], y=rows["comparison"].tolist(), mode="markers+text",
        name="measured effect", marker={"color": MEASURED_COLOUR, "size": 11},
        error_x=_error(rows, "estimate", "ci_low", "ci_high"), offsetgroup="measured", orientation="h",
        text=[f"p = {_text(p)}" for p in rows["p_value"]], textposition="top center",
        customdata=[[_text(v), _text(lo), _text(hi)] for v, lo, hi in
                    zip(rows["estimate"], rows["ci_low"], rows["ci_high"], strict=True)],
        hovertemplate=f"{measure} %{{customdata[0]}} [%{{customdata[1]}}, %{{customdata[2]}}], %{{text}}"
                      "<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[_finite(v) for v in rows["truth_estimate"]], y=rows["comparison"].tolist(), mode="markers",
        name="effect of the arms' truth", offsetgroup="truth", orientation="h",
        marker={"color": TRUTH_COLOUR, "size": 11, "symbol": "diamond-open", "line": {"width": 2}},
        text=[_text(v) for v in rows["truth_estimate"]], hovertemplate=f"{measure} of the truth: %{{text}}<extra></extra>"))
    fig.add_vline(x=_null(measure), line={"color": "#c62828", "dash": "dot"})
    for comparison, estimate in zip(rows["comparison"], rows["estimate"], strict=True):
        if _finite(estimate) is None:  # e.g. no events in either arm: say so where the dot would be
            fig.add_annotation(text=f"{measure.replace('_', ' ')} not estimable at this n", x=0.5, xref="paper",
                               y=comparison, yref="y", showarrow=False, bgcolor="white", font={"color": MEASURED_COLOUR})
    fig.update_layout(scattermode="group", height=max(260, 110 * len(rows) + 120), margin={"t": 30},
                      xaxis={"title": {"text": f"{measure.replace('_', ' ')} (arm vs {design['control']})"},
                             "type": "log" if measure in RATIO_MEASURES else "linear"},
                      yaxis={"type": "category"})
    return Section("trial-effects", f"Effect between arms: {measure.replace('_', ' ')}", fig, (
        f"The trial's analysis of {primary['name']} ({measure}): estimate with its 95% interval and p-value (blue), "
        f"the same measure of the arms' true values (grey diamond); the dotted line is no effect.",
        "Look at whether the interval crosses the line; an estimate not estimable (no events) has no dot.",
    ))


def paired_section(design: Mapping[str, Any], paired: pd.DataFrame) -> Section:
    """The within-woman contrast: every enrolled woman under both arms, measured and true."""
    primary = design["primary"]
    rows = paired[paired["endpoint"] == primary["name"]] if len(paired) else paired
    fig = go.Figure()
    for basis, colour, symbol in (("measured", MEASURED_COLOUR, "circle"), ("truth", TRUTH_COLOUR, "diamond-open")):
        chosen = rows[rows["basis"] == basis] if len(rows) else rows
        if not len(chosen):
            continue
        fig.add_trace(go.Scatter(
            x=[_finite(v) for v in chosen["estimate"]], y=chosen["comparison"].tolist(), mode="markers",
            name=f"{basis} (same women, both arms)", offsetgroup=basis, orientation="h",
            marker={"color": colour, "size": 11, "symbol": symbol, "line": {"width": 2}},
            error_x=_error(chosen, "estimate", "ci_low", "ci_high"),
            text=[f"{m} {_text(v)} [{_text(lo)}, {_text(hi)}], p = {_text(p)}, n = {n}" for m, v, lo, hi, p, n in
                  zip(chosen["measure"], chosen["estimate"], chosen["ci_low"], chosen["ci_high"], chosen["p_value"],
                      chosen["n"], strict=True)],
            hovertemplate=f"{basis}: %{{text}}<extra></extra>"))
    fig.add_vline(x=0.0, line={"color": "#c62828", "dash": "dot"})
    fig.update_layout(scattermode="group", height=max(260, 110 * max(1, len(rows) // 2) + 120), margin={"t": 30},
                      xaxis={"title": {"text": f"within-woman difference in {primary['name']} (arm minus "
                                               f"{design['control']})"}}, yaxis={"type": "category"})
    note = ("Each enrolled woman simulated under both arms (common random numbers): the mean within-woman difference "
            "with its 95% interval, measured (blue) and true (grey diamond).")
    if not len(rows):
        note = "The run simulated each woman only under her own arm (--no-paired): there is no within-woman contrast."
    return Section("trial-paired", "Paired within-woman contrast (simulation only)", fig, (
        note, "No real trial can see this: compare its interval with the between-arm one above at the same n."))


def power_section(design: Mapping[str, Any], power: pd.DataFrame) -> Section:
    """Share of replicate trials reaching p < 0.05, by n per arm, with its Monte Carlo interval."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=power["n_per_arm"].tolist(), y=[_finite(v) for v in power["power"]],
                             mode="lines+markers", name="power", line={"color": MEASURED_COLOUR},
                             error_y=_error(power, "power", "ci_low", "ci_high")))
    fig.add_hline(y=POWER_GOAL, line={"color": "#c62828", "dash": "dot"})
    fig.update_layout(height=340, margin={"t": 30}, yaxis={"range": [0, 1], "tickformat": ".0%", "title": {
        "text": "share of replicates with p < 0.05"}}, xaxis={"title": {"text": "women per arm"}})
    return Section("trial-power", "Power of the primary endpoint", fig, (
        f"Independent replicate trials at each n per arm: the share whose {design['primary']['name']} analysis reached "
        "p < 0.05, with its Monte Carlo interval; the dotted line is 80%.",
        "Look for the n where the curve crosses the line, and how wide the intervals are at few replicates.",
    ))


def trial_sections(design: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> list[Section]:
    """The trial's sections in page order (power only when its table is given).

    Parameters
    ----------
    design
        :func:`lactobiome.trials.results.design_summary` of the trial run.
    tables
        ``arms``, ``effects``, ``paired`` (and optionally ``power``) as the trial writes them.
    """
    sections = [arms_section(design, tables["arms"]), effects_section(design, tables["effects"]),
                paired_section(design, tables["paired"])]
    if tables.get("power") is not None:
        sections.append(power_section(design, tables["power"]))
    return sections


def read_trial_folder(folder: str | Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The design summary and tables of a folder written by ``lactobiome trial NAME --out DIR``.

    Raises
    ------
    InputError
        The folder lacks ``trial.yaml`` or one of the tables, or they do not read.
    """
    from lactobiome.trials.definition import parse_trial
    from lactobiome.trials.results import design_summary

    folder = Path(folder)
    record_path = folder / "trial.yaml"
    if not record_path.is_file():
        raise InputError(f"{folder}: no trial.yaml; expected a folder written by `lactobiome trial NAME --out DIR`")
    try:
        record = yaml.safe_load(record_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{record_path}: not readable YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(record, dict) or not isinstance(record.get("trial"), dict):
        raise InputError(f"{record_path}: no 'trial' mapping; expected the record `lactobiome trial --out` writes")
    design = design_summary(parse_trial(record["trial"], str(record_path)))
    tables: dict[str, pd.DataFrame] = {}
    for name in (*TABLES, "power"):
        path = folder / f"{name}.tsv"
        if not path.is_file():
            if name == "power":
                continue
            raise InputError(f"{path}: missing; expected the tables `lactobiome trial --out` writes")
        try:
            tables[name] = pd.read_csv(path, sep="\t")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a readable table ({str(exc).splitlines()[0]})") from None
    design["meta"] = {k: record.get(k) for k in ("lactobiome_version", "women_screened", "women_enrolled",
                                                 "dyad_days_simulated")}
    return design, tables
