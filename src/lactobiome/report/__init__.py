"""One self-contained HTML report of a simulation result (``lactobiome report``).

The report inlines Plotly's JavaScript once and every figure's data, so it opens offline and
makes no request to any host. Plotly is an optional extra: ``pip install 'lactobiome[report]'``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from lactobiome.errors import InputError, LactobiomeError
from lactobiome.io.atomic import write_text_atomic

if TYPE_CHECKING:
    from lactobiome.report.figures import Section

DISCLAIMER = ("lactobiome is a research and teaching model. Nothing in this report is medical advice, "
              "a diagnosis or a treatment recommendation.")

__all__ = ["DISCLAIMER", "build_sections", "render_html", "write_report", "write_trial_report", "require_plotly"]


def require_plotly() -> None:
    """Raise a one-line :class:`LactobiomeError` when the optional Plotly dependency is missing."""
    try:
        import plotly  # noqa: F401
    except ModuleNotFoundError:
        raise LactobiomeError("the report needs Plotly: pip install 'lactobiome[report]'") from None


def read_validation(path: str | Path) -> pd.DataFrame:
    """Read a validation CSV written by ``lactobiome validate`` (one-line error if unreadable)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such validation table; expected the CSV of `lactobiome validate`")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None


def build_sections(ds: xr.Dataset, validation: pd.DataFrame | None = None, validation_origin: str = "validation",
                   dyad: int | None = None) -> list[Section]:
    """The report's sections for ``ds`` (and a validation table when given), in page order.

    Parameters
    ----------
    ds
        A simulation result (``lactobiome.simulate`` or an opened result file).
    validation
        A validation table (``lactobiome.validate`` or its CSV), optional.
    validation_origin
        What the validation table is called in its caption and errors (its file name).
    dyad
        Index of the dyad shown beside the cohort median (default: the first breastfed one).

    Returns
    -------
    list of Section
        Cohort, composition, provenance, milk panel, mastitis, then validation when given.
    """
    require_plotly()
    from lactobiome.report import figures
    from lactobiome.validation import load_targets

    targets = {t.id: t for t in load_targets()}
    sections = [figures.cohort_section(ds), figures.composition_section(ds, dyad),
                figures.provenance_section(ds, targets), figures.panel_section(ds, targets),
                figures.mastitis_section(ds, targets)]
    if validation is not None:
        sections.append(figures.validation_section(validation, validation_origin))
    return sections


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:0 1rem;color:#212121}
header{border-bottom:2px solid #1a237e;margin-bottom:1rem}
.disclaimer{background:#fff3e0;border-left:4px solid #ef6c00;padding:.6rem 1rem;margin:.8rem 0}
nav a{margin-right:1rem}
section{margin:1.5rem 0;page-break-inside:avoid;break-inside:avoid}
.caption{color:#424242;font-size:.95rem;margin:.2rem 0 .6rem}
.caption p{margin:.1rem 0}
.meta{font-size:.85rem;color:#616161}
@media print{nav{display:none}body{max-width:none}}
"""


def render_html(sections: Sequence[Section], ds: xr.Dataset | None, title: str = "lactobiome report",
                meta: str | None = None, disclaimer: str = DISCLAIMER) -> str:
    """The report page: disclaimer, contents, one figure and caption per section, Plotly inlined once.

    Parameters
    ----------
    sections
        From :func:`build_sections`.
    ds
        The result the sections came from (for the provenance line), or None with ``meta``.
    title
        Page title.
    meta
        The provenance line, in place of the one read from ``ds``.
    disclaimer
        The first-screen disclaimer (a trial's adds that it is not evidence for care).

    Returns
    -------
    str
        A complete HTML document that needs no network.
    """
    from plotly.offline import get_plotlyjs

    from lactobiome import __version__

    if meta is None:
        if ds is None:
            raise ValueError("render_html needs a result or a meta line")
        meta = (f"scenario {ds.attrs.get('scenario', '?')}, seed {ds.attrs.get('seed', '?')}, "
                f"{ds.sizes.get('dyad', 0)} dyads × {ds.sizes.get('day', 0)} days; lactobiome "
                f"{ds.attrs.get('lactobiome_version', __version__)}; parameter table SHA-256 "
                f"{str(ds.attrs.get('parameter_table_sha256', '?'))[:12]}…")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no request to any host: forbid everything but inline script, style and data images
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:; font-src data:\">",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>",
        f"<script>{get_plotlyjs()}</script></head><body>",
        f"<header><h1>{html.escape(title)}</h1>",
        f'<p class="disclaimer" id="disclaimer"><strong>Not medical advice.</strong> {html.escape(disclaimer)}</p>',
        f'<p class="meta">{html.escape(meta)}</p>',
        "<nav>" + "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections) + "</nav></header>",
    ]
    config = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png"}}
    for s in sections:
        fig_json = s.figure.to_json()
        parts += [
            f'<section id="{s.key}"><h2>{html.escape(s.title)}</h2>',
            f'<div class="caption"><p>{html.escape(s.caption[0])}</p><p>{html.escape(s.caption[1])}</p></div>',
            f'<div class="figure" id="fig-{s.key}" data-figure="{s.key}"></div>',
            f'<script type="application/json" id="data-{s.key}">{_script_safe(fig_json)}</script>',
            "</section>",
        ]
    parts += [
        "<script>",
        "for (const el of document.querySelectorAll('div.figure')) {",
        "  const spec = JSON.parse(document.getElementById('data-' + el.dataset.figure).textContent);",
        f"  Plotly.newPlot(el, spec.data, spec.layout, {json.dumps(config)});",
        "}",
        "</script>",
        f'<footer class="meta"><p>{html.escape(disclaimer)}</p></footer></body></html>',
    ]
    return "\n".join(parts)


def _script_safe(text: str) -> str:
    """JSON text that cannot close its ``<script>`` element."""
    return text.replace("</", "<\\/")


def write_report(ds: xr.Dataset | str | Path, out: str | Path, validation: pd.DataFrame | str | Path | None = None,
                 dyad: int | None = None) -> Path:
    """Write the self-contained HTML report of a simulation result, atomically.

    Parameters
    ----------
    ds
        A simulation result, or the path of a result file (``.nc``/``.zarr``).
    out
        The HTML file to write (its folder is created; an existing file is replaced only
        once the new one is complete).
    validation
        A validation table, or the path of its CSV (``lactobiome validate --out``), optional.
    dyad
        Index of the dyad shown beside the cohort median.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    LactobiomeError
        Plotly is missing, the result or the validation table cannot be read, or lacks what a
        section needs (one line naming the file and what was expected).
    """
    require_plotly()
    from lactobiome.io.dataset import open_result

    dataset = open_result(ds) if isinstance(ds, str | Path) else ds
    origin = "validation"
    table: pd.DataFrame | None = None
    if isinstance(validation, str | Path):
        origin = Path(validation).name
        table = read_validation(validation)
    elif validation is not None:
        table = validation
    page = render_html(build_sections(dataset, table, origin, dyad), dataset)
    return write_text_atomic(page, Path(out))


def write_trial_report(folder: str | Path, out: str | Path) -> Path:
    """Write the self-contained HTML report of a trial folder (``lactobiome trial NAME --out DIR``).

    The same figures as the explorer's trial view: the primary endpoint per arm (measured
    beside the model's truth), the effect between arms, the paired within-woman contrast, and
    the power curve when the folder has ``power.tsv``.

    Raises
    ------
    LactobiomeError
        Plotly is missing, or the folder lacks a table or ``trial.yaml`` (one line naming it).
    """
    require_plotly()
    from lactobiome.report.trial_figures import read_trial_folder, trial_sections
    from lactobiome.trials.output import DISCLAIMER as TRIAL_DISCLAIMER

    design, tables = read_trial_folder(folder)
    info = design.get("meta", {})
    arms = tables["arms"][tables["arms"]["endpoint"] == design["primary"]["name"]]
    sizes = ", ".join(f"{arm} {n}" for arm, n in zip(arms["arm"], arms["n"], strict=True))
    meta = (f"trial {design['name']}: {design['source']}; {info.get('women_enrolled', '?')} women enrolled of "
            f"{info.get('women_screened', '?')} screened, allocated {sizes}; follow-up {design['follow_up_days']} "
            f"days; lactobiome {info.get('lactobiome_version', '?')}")
    disclaimer = f"{DISCLAIMER} {TRIAL_DISCLAIMER.strip('()').capitalize()}."
    page = render_html(trial_sections(design, tables), None, f"lactobiome trial {design['name']}", meta, disclaimer)
    return write_text_atomic(page, Path(out))
