"""The report's figures, one function per section, each from a simulation result.

Every function returns a :class:`Section`: a Plotly figure and a two-line caption (what is
shown; what to look at). Published ranges come from the targets file
(``data/targets.yaml``) and the model's value for a target from the validation measurement
that validation itself uses, so a band and the point beside it are the same comparison as
``lactobiome validate`` makes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from lactobiome.errors import InputError
from lactobiome.model.spectrum import MASTITIS_STATES, STATE_CODE, episodes, state_codes
from lactobiome.validation import Target
from lactobiome.validation.cohort import model_values
from lactobiome.validation.verdicts import BEYOND_HORIZON, NOT_MODELLED, OUTSIDE, WITHIN

# Presentation choices (not model parameters): how many genera a composition panel names,
# and the colours of the verdicts.
TOP_GENERA = 8
VERDICT_COLOURS: dict[str, str] = {WITHIN: "#2e7d32", OUTSIDE: "#c62828", NOT_MODELLED: "#9e9e9e",
                                   BEYOND_HORIZON: "#bdbdbd"}
BAND_COLOUR = "rgba(46, 125, 50, 0.18)"

COMPOSITION_SITES: tuple[str, ...] = ("milk", "infant_gut", "infant_mouth", "areolar_skin")
PROVENANCE_SITES: tuple[str, ...] = ("infant_gut", "milk")
PROVENANCE_TARGETS: tuple[str, ...] = ("E01", "E02")
INCIDENCE_TARGET = "D01"
RISK_FACTORS: tuple[str, ...] = ("intrapartum_antibiotics", "first_time_mother", "previous_mastitis",
                                 "oversupply", "tight_bra", "nipple_damage", "secretor", "preterm")

# milk panel: variable -> (title, axis type, ids of the targets drawn as bands over it)
PANEL: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "leucocyte_fraction": ("leucocyte share of milk cells", "linear", ("C01a", "C01b")),
    "somatic_cells_per_ml": ("somatic cell count (cells/mL)", "log", ("C10a",)),
    "na_k_ratio": ("Na:K ratio", "log", ("B08",)),
    "siga_g_per_l": ("sIgA (g/L)", "log", ("F01a", "F01b", "F01c")),
    "hmo_g_per_l": ("total HMO (g/L)", "linear", ("F06a", "F06b", "F06c", "F06d")),
    "milk_volume_ml": ("milk volume (mL/day)", "linear", ("F07a", "F07b", "F07c", "F07d", "F09a", "F09b",
                                                          "F10a", "F10b", "F12a", "F12b")),
}

_DAYS = re.compile(r"^\s*days?\s+(\d+)(?:\s*-\s*(\d+))?")


@dataclass(frozen=True)
class Section:
    """One section of the report: an anchor, a title, a figure and a two-line caption."""

    key: str
    title: str
    figure: go.Figure
    caption: tuple[str, str]


def target_days(target: Target) -> tuple[int, int] | None:
    """The day window a target's ``time_point`` names (``day 7``, ``days 30-182``), or None."""
    match = _DAYS.match(target.time_point)
    if match is None:
        return None
    first = int(match.group(1))
    return first, int(match.group(2) or first)


def _band_limits(target: Target, scale_log10: bool) -> tuple[float, float] | None:
    """The acceptance range in plot units (10**x for log10 targets); None when unbounded."""
    low, high = target.low, target.high
    if scale_log10:
        low = 10.0**low if math.isfinite(low) else low
        high = 10.0**high if math.isfinite(high) else high
    if not math.isfinite(low) and not math.isfinite(high):
        return None
    return low, high


def _breastfed(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["breast_milk_share"].values) > 0.0


def _need(ds: xr.Dataset, names: tuple[str, ...], section: str) -> None:
    missing = [n for n in names if n not in ds]
    if missing:
        raise InputError(f"result lacks {', '.join(missing)}, needed for the report's {section} section; "
                         "expected a result written by `lactobiome simulate`")


def cohort_section(ds: xr.Dataset) -> Section:
    """Cohort: feeding groups, delivery modes and the share of dyads with each risk factor."""
    _need(ds, ("feeding_group", "delivery_mode"), "cohort")
    fig = make_subplots(rows=1, cols=3, subplot_titles=("feeding group", "delivery mode", "risk factors"))
    for col, name in ((1, "feeding_group"), (2, "delivery_mode")):
        counts = pd.Series(np.asarray(ds[name].values).astype(str)).value_counts()
        fig.add_trace(go.Bar(x=counts.index.tolist(), y=counts.values.tolist(), name=name, showlegend=False,
                             hovertemplate="%{x}: %{y} dyads<extra></extra>"), row=1, col=col)
    present = [r for r in RISK_FACTORS if r in ds]
    shares = [float(np.asarray(ds[r].values, dtype=bool).mean()) for r in present]
    fig.add_trace(go.Bar(x=present, y=shares, showlegend=False,
                         hovertemplate="%{x}: %{y:.1%} of dyads<extra></extra>"), row=1, col=3)
    fig.update_yaxes(title_text="dyads", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=1, col=3)
    n = ds.sizes["dyad"]
    return Section("cohort", "Cohort", fig, (
        f"{n} dyads over {ds.sizes['day']} days of life (scenario {ds.attrs.get('scenario', '?')}, "
        f"seed {ds.attrs.get('seed', '?')}): how they feed, how they were born and which risk factors they carry.",
        "Look at the feeding mix first: milk-to-infant seeding and mastitis only concern dyads with breast milk.",
    ))


def _genus_shares(ds: xr.Dataset, site: str) -> xr.DataArray:
    """Per-dyad genus shares in ``site``, (dyad, sample_day, genus); NaN where the site is empty."""
    cells = ds["abundance"].sel(site=site).sum("origin")
    by_genus = cells.groupby("genus").sum("taxon")
    total = by_genus.sum("genus")
    return by_genus / total.where(total > 0)


def composition_section(ds: xr.Dataset, dyad: int | None = None) -> Section:
    """Genus composition over recorded days per site: cohort median and one dyad."""
    _need(ds, ("abundance",), "composition")
    sites = [s for s in COMPOSITION_SITES if s in ds["site"].values]
    chosen = int(np.flatnonzero(_breastfed(ds))[0]) if dyad is None and _breastfed(ds).any() else int(dyad or 0)
    if not 0 <= chosen < ds.sizes["dyad"]:
        raise InputError(f"--dyad {chosen}: expected a dyad index from 0 to {ds.sizes['dyad'] - 1}")
    fig = make_subplots(rows=len(sites), cols=2, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=[f"{s}: {w}" for s in sites for w in ("cohort median", f"dyad {chosen}")])
    days = ds["sample_day"].values.tolist()
    palette = _palette()
    colours: dict[str, str] = {}
    shown: set[str] = set()
    for row, site in enumerate(sites, start=1):
        shares = _genus_shares(ds, site).load()
        median = shares.median("dyad", skipna=True)
        top = median.mean("sample_day").to_series().sort_values(ascending=False).index[:TOP_GENERA]
        for genus in top:
            colour = colours.setdefault(str(genus), palette[len(colours) % len(palette)])
            for col, values in ((1, median.sel(genus=genus)), (2, shares.isel(dyad=chosen).sel(genus=genus))):
                fig.add_trace(go.Bar(x=days, y=np.nan_to_num(values.values).tolist(), name=str(genus),
                                     marker_color=colour, legendgroup=str(genus),
                                     showlegend=col == 1 and str(genus) not in shown,
                                     hovertemplate=f"{genus}: %{{y:.1%}} on day %{{x}}<extra>{site}</extra>"),
                              row=row, col=col)
            shown.add(str(genus))
    fig.update_layout(barmode="stack", height=260 * len(sites))
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")  # medians may stack above 100%
    fig.update_xaxes(type="category")
    fig.update_xaxes(title_text="day of life", row=len(sites))
    return Section("composition", "Composition over time", fig, (
        f"Genus shares on each recorded day in {', '.join(sites)}: left the cohort median of each genus "
        f"(the {TOP_GENERA} largest per site; medians need not sum to 100%), right one breastfed dyad.",
        "Look for the infant gut turning from skin and oral genera to Bifidobacterium, and for how far one "
        "dyad strays from the median.",
    ))


def _palette() -> list[str]:
    import plotly.express as px

    return list(px.colors.qualitative.Plotly) + list(px.colors.qualitative.Safe)


def provenance_section(ds: xr.Dataset, targets: dict[str, Target]) -> Section:
    """Origin shares of the infant gut and milk over recorded days, with E01/E02 as ranges."""
    _need(ds, ("abundance", "breast_milk_share"), "provenance")
    sites = [s for s in PROVENANCE_SITES if s in ds["site"].values]
    fig = make_subplots(rows=1, cols=len(sites) + 1, subplot_titles=[
        *[f"{s}: mean share by origin" for s in sites], "infant gut, day 30: model vs published"])
    days = ds["sample_day"].values.tolist()
    palette = _palette()
    breastfed = _breastfed(ds)
    origins = [str(o) for o in ds["origin"].values]
    for col, site in enumerate(sites, start=1):
        cells = ds["abundance"].sel(site=site).sum("taxon").load()
        total = cells.sum("origin")
        share = (cells / total.where(total > 0)).isel(dyad=np.flatnonzero(breastfed)).mean("dyad", skipna=True)
        for i, origin in enumerate(origins):
            values = np.nan_to_num(share.sel(origin=origin).values)
            if values.max() <= 0.0:
                continue
            fig.add_trace(go.Scatter(x=days, y=values.tolist(), name=origin, stackgroup=site, mode="lines",
                                     line={"width": 0.5, "color": palette[i % len(palette)]},
                                     legendgroup=origin, showlegend=col == 1,
                                     hovertemplate=f"{origin}: %{{y:.1%}} on day %{{x}}<extra>{site}</extra>"),
                          row=1, col=col)
        fig.update_yaxes(tickformat=".0%", range=[0, 1], row=1, col=col)
        fig.update_xaxes(title_text="day of life", row=1, col=col)
    chosen = [targets[t] for t in PROVENANCE_TARGETS if t in targets]
    col = len(sites) + 1
    _target_points(fig, ds, chosen, [f"{t.id}: from {t.quantity.split()[-1]}" for t in chosen], ".1%", col)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", row=1, col=col)
    fig.update_layout(height=420)
    names = ", ".join(f"{t.id} ({t.source.split(' ')[0]} {_year(t.source)})" for t in chosen)
    return Section("provenance", "Where the bacteria came from", fig, (
        "True origin of the cells in the infant gut and in milk (mean over breastfed dyads, stacked); right, against "
        f"the published range (band) of {names}: what that study's pipeline (design, 16S, SourceTracker) reports on "
        "this cohort (diamond) beside the model's truth (open circle).",
        "Look at how much of the infant gut is milk-borne, and at the gap between circle and diamond: a published "
        "share is what a method reports about community similarity, not a count of transmitted cells.",
    ))


def _target_points(fig: go.Figure, ds: xr.Dataset, chosen: list[Target], labels: list[str], fmt: str,
                   col: int) -> None:
    """Published ranges (bands) with the model's value through the validation measurement (diamonds).

    A target the run cannot measure (too short, no dyad in its population) gets a note instead.
    """
    values = model_values(ds, chosen) if chosen else {}
    truth = _truth_values(ds, chosen)
    for i, target in enumerate(chosen):
        fig.add_shape(type="rect", x0=i - 0.35, x1=i + 0.35, y0=target.low, y1=target.high, fillcolor=BAND_COLOUR,
                      line={"width": 0}, row=1, col=col)
        value = values.get(target.id, math.nan)
        if not math.isfinite(value):
            fig.add_annotation(x=i, y=target.high, text="not measurable in this run", showarrow=False,
                               yshift=12, row=1, col=col)
            continue
        measured = target.measured_by != "truth"
        how = f"what {target.measured_by} reports" if measured else "model"
        fig.add_trace(go.Scatter(x=[i], y=[value], mode="markers", showlegend=False,
                                 marker={"size": 12, "color": "#1a237e", "symbol": "diamond"},
                                 hovertemplate=f"{target.id} {target.quantity}: {how} %{{y:{fmt}}}, published "
                                               f"{target.acceptance_text} ({target.time_point})<extra></extra>"),
                      row=1, col=col)
        true_value = truth.get(target.id, math.nan)
        if measured and math.isfinite(true_value):
            # the model's truth beside what the study's pipeline would have reported
            fig.add_trace(go.Scatter(x=[i + 0.18], y=[true_value], mode="markers", showlegend=False,
                                     marker={"size": 11, "color": "#ef6c00", "symbol": "circle-open",
                                             "line": {"width": 2}},
                                     hovertemplate=f"{target.id}: the model's truth %{{y:{fmt}}}<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(tickvals=list(range(len(chosen))), ticktext=labels, range=[-0.6, len(chosen) - 0.4],
                     row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=col)


def _truth_values(ds: xr.Dataset, chosen: list[Target]) -> dict[str, float]:
    """The model's true value of each target measured through a study pipeline (by id)."""
    piped = [t for t in chosen if t.measured_by != "truth"]
    if not piped:
        return {}
    from lactobiome.validation.verdicts import validate_dataset

    table = validate_dataset(ds, piped, n_boot=0)
    return {str(i): float(v) for i, v in zip(table["id"], table["truth_value"].astype(float), strict=True)}


def _year(source: str) -> str:
    match = re.search(r"(19|20)\d\d", source)
    return match.group(0) if match else ""


def _daily_quantiles(values: np.ndarray) -> np.ndarray:
    """Quartiles over dyads per day, (3, day); NaN-free days only."""
    with np.errstate(all="ignore"):
        return np.nanquantile(values, [0.25, 0.5, 0.75], axis=0)


def panel_section(ds: xr.Dataset, targets: dict[str, Target]) -> Section:
    """The milk cell panel over days of life (breastfed dyads' median and IQR) with published bands."""
    names = [n for n in PANEL if n in ds]
    if not names:
        _need(ds, tuple(PANEL), "milk panel")
    cols = 2
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[PANEL[n][0] for n in names], vertical_spacing=0.1)
    days = ds["day"].values
    breastfed = _breastfed(ds)
    last_day = int(days[-1])
    for i, name in enumerate(names):
        row, col = i // cols + 1, i % cols + 1
        values = np.asarray(ds[name].values, dtype=np.float64)[breastfed]
        if name != "milk_volume_ml":
            values = np.where(np.asarray(ds["milk_volume_ml"].values)[breastfed] > 0.0, values, np.nan)
        q = _daily_quantiles(values) if len(values) else np.full((3, len(days)), np.nan)
        title, axis, ids = PANEL[name]
        for target_id in ids:
            target = targets.get(target_id)
            window = target_days(target) if target is not None else None
            if target is None or window is None or window[0] > last_day:
                continue
            limits = _band_limits(target, target.unit.startswith("log10"))
            if limits is None:
                continue
            low, high = limits
            y0 = low if math.isfinite(low) else float(np.nanmin(q[0])) if np.isfinite(q[0]).any() else 0.0
            y1 = high if math.isfinite(high) else float(np.nanmax(q[2])) if np.isfinite(q[2]).any() else 1.0
            x0, x1 = window[0] - 0.5, min(window[1], last_day) + 0.5
            fig.add_trace(go.Scatter(x=[x0, x1, x1, x0, x0], y=[y0, y0, y1, y1, y0], fill="toself", mode="lines",
                                     line={"width": 0}, fillcolor=BAND_COLOUR, showlegend=False,
                                     hovertemplate=f"{target.id}: {target.quantity}, {target.acceptance_text} "
                                                   f"{target.unit} ({target.time_point})<extra></extra>"),
                          row=row, col=col)
        fig.add_trace(go.Scatter(x=np.concatenate([days, days[::-1]]).tolist(),
                                 y=np.concatenate([q[2], q[0][::-1]]).tolist(), fill="toself", mode="lines",
                                 line={"width": 0}, fillcolor="rgba(26, 35, 126, 0.15)", showlegend=False,
                                 hoverinfo="skip"), row=row, col=col)
        fig.add_trace(go.Scatter(x=days.tolist(), y=q[1].tolist(), mode="lines", line={"color": "#1a237e"},
                                 showlegend=False, hovertemplate=f"{title}: %{{y:.3g}} on day %{{x}}<extra>median"
                                                                 "</extra>"), row=row, col=col)
        fig.update_yaxes(type=axis, row=row, col=col)
        fig.update_xaxes(type="log", title_text="day of life", row=row, col=col)
    fig.update_layout(height=300 * rows)
    return Section("panel", "Milk cell panel", fig, (
        "Median (line) and interquartile range (shade) over breastfed dyads on days they give milk; green bands are "
        "the published ranges of the targets (hover for id and source) over their days.",
        "Look at the colostrum-to-mature transition in the first two weeks (day axis is logarithmic) and whether the "
        "median runs through each band; mastitis days are included, so the upper quartile of SCC rises with them.",
    ))


def mastitis_section(ds: xr.Dataset, targets: dict[str, Target]) -> Section:
    """Spectrum states by week, episode onsets, and incidence against D01."""
    _need(ds, ("mastitis_state", "milk_volume_ml"), "mastitis")
    codes = state_codes(np.asarray(ds["mastitis_state"].values))
    feeding = np.asarray(ds["milk_volume_ml"].values) > 0.0
    n_days = codes.shape[1]
    weeks = np.arange(n_days) // 7
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "breastfeeding women by state, per week", "episode onsets", "incidence per 1,000 breastfeeding weeks"))
    palette = _palette()
    week_index = np.unique(weeks)
    fed_weeks = np.array([feeding[:, weeks == w].sum() for w in week_index], dtype=np.float64)
    for i, state in enumerate(MASTITIS_STATES):
        if state == "none":
            continue
        in_state = (codes == STATE_CODE[state]) & feeding
        share = np.array([in_state[:, weeks == w].sum() for w in week_index]) / np.maximum(fed_weeks, 1.0)
        fig.add_trace(go.Scatter(x=(week_index + 1).tolist(), y=share.tolist(), name=state, stackgroup="states",
                                 mode="lines", line={"width": 0.5, "color": palette[i % len(palette)]},
                                 hovertemplate=f"{state}: %{{y:.2%}} of breastfeeding days in week %{{x}}"
                                               "<extra></extra>"), row=1, col=1)
    found = episodes(codes)
    fig.add_trace(go.Histogram(x=found["onset_day"].tolist(), xbins={"start": 0.5, "size": 7}, showlegend=False,
                               marker_color="#c62828", hovertemplate="days %{x}: %{y} onsets<extra></extra>"),
                  row=1, col=2)
    target = targets.get(INCIDENCE_TARGET)
    if target is not None:
        _target_points(fig, ds, [target], [f"{target.id} ({_year(target.source)})"], ".1f", 3)
    fig.update_xaxes(title_text="week of life", row=1, col=1)
    fig.update_xaxes(title_text="day of life (weekly bins)", row=1, col=2)
    fig.update_yaxes(tickformat=".1%", row=1, col=1)
    fig.update_layout(height=420)
    return Section("mastitis", "Mastitis", fig, (
        f"Share of breastfeeding days in each state of the 2022 spectrum by week; onsets of the {len(found['onset_day'])} "
        "episodes (runs of inflamed days, lactobiome.model.spectrum); incidence through the validation measurement "
        "(diamond) vs the published range (band).",
        "Look for the early peak in the first six weeks and whether the diamond sits in the band.",
    ))


def validation_section(table: pd.DataFrame, origin: str) -> Section:
    """Every target's model value and interval on its own acceptance scale, coloured by verdict."""
    missing = [c for c in ("id", "quantity", "acceptance", "model", "ci_low", "ci_high", "verdict") if c not in table]
    if missing:
        raise InputError(f"{origin}: missing column(s) {', '.join(missing)}; expected the CSV of `lactobiome validate`")
    rows: list[dict[str, Any]] = []
    for i, record in enumerate(table.to_dict("records"), start=2):
        verdict = str(record["verdict"])
        if verdict not in VERDICT_COLOURS:
            raise InputError(f"{origin}: row {i}: verdict {verdict!r}; expected one of {sorted(VERDICT_COLOURS)}")
        low, high = _acceptance(record, origin, i)
        rows.append({"id": str(record["id"]), "quantity": str(record["quantity"]), "verdict": verdict,
                     "position": [_position(_float(record[k]), low, high) for k in ("model", "ci_low", "ci_high")],
                     "text": f"{record['id']} {record['quantity']}: model {record['model']} "
                             f"[{record['ci_low']}, {record['ci_high']}], accepted {record['acceptance']}"})
    fig = go.Figure()
    fig.add_vrect(x0=0.0, x1=1.0, fillcolor=BAND_COLOUR, line_width=0)
    for verdict, colour in VERDICT_COLOURS.items():
        chosen = [r for r in rows if r["verdict"] == verdict]
        if not chosen:
            continue
        x = [r["position"][0] if verdict != NOT_MODELLED else None for r in chosen]
        err_hi = [None if r["position"][2] is None or r["position"][0] is None else r["position"][2] - r["position"][0]
                  for r in chosen]
        err_lo = [None if r["position"][1] is None or r["position"][0] is None else r["position"][0] - r["position"][1]
                  for r in chosen]
        fig.add_trace(go.Scatter(x=x, y=[r["id"] for r in chosen], mode="markers", name=f"{verdict} ({len(chosen)})",
                                 marker={"color": colour, "size": 9},
                                 error_x={"type": "data", "symmetric": False, "array": err_hi, "arrayminus": err_lo},
                                 text=[r["text"] for r in chosen], hovertemplate="%{text}<extra></extra>"))
    fig.update_xaxes(title_text="position in the acceptance range (0 = low end, 1 = high end; clipped to [-2, 3])",
                     range=[-2.1, 3.1])
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=[r["id"] for r in rows][::-1])
    fig.update_layout(height=max(400, 16 * len(rows) + 120))
    return Section("validation", "Validation against published figures", fig, (
        f"Each target of {origin}: the model value (dot) and its 95% interval placed on its own acceptance range "
        "(green, 0 to 1), coloured by verdict; hover for the figures and units.",
        "Look at the red dots: how far outside and on which side; grey targets are not modelled and have no dot.",
    ))


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _acceptance(record: Mapping[Any, Any], origin: str, row: int) -> tuple[float, float]:
    """Acceptance range of a validation row from its text (``a–b``, ``≤ x``, ``≥ x``; blank when unbounded)."""
    text = "" if pd.isna(record["acceptance"]) else str(record["acceptance"]).strip()
    if not text:
        return -math.inf, math.inf
    if text[0] in "≤≥":
        bound = _float(text[1:])
        if math.isfinite(bound):
            return (-math.inf, bound) if text[0] == "≤" else (bound, math.inf)
    else:
        parts = text.split("–")
        if len(parts) == 2 and all(math.isfinite(_float(p)) for p in parts):
            return _float(parts[0]), _float(parts[1])
    raise InputError(f"{origin}: row {row}: acceptance {text!r}; expected 'low–high', '≤ x' or '≥ x' "
                     "as `lactobiome validate` writes it")


def _position(value: float, low: float, high: float) -> float | None:
    """``value`` on the acceptance scale: 0 at ``low``, 1 at ``high``; one-sided ranges use the bound."""
    if not math.isfinite(value):
        return None
    if math.isfinite(low) and math.isfinite(high) and high > low:
        pos = (value - low) / (high - low)
    elif math.isfinite(low):
        pos = 0.5 if value >= low else -1.0
    elif math.isfinite(high):
        pos = 0.5 if value <= high else 2.0
    else:
        return None
    return float(min(max(pos, -2.0), 3.0))
