"""The published methods behind ``track(method=...)``: FEAST's EM and SourceTracker's Gibbs.

:func:`lactobiome.tracking.core.track` checks the tables and builds one problem per sink
(its counts and its own sources) exactly as for the default engine, then hands them here.
Both methods need read counts (FEAST refuses non-integral data; SourceTracker rarefies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from lactobiome.errors import InputError
from lactobiome.tracking import COLUMNS, UNKNOWN

if TYPE_CHECKING:
    import pandas as pd

    from lactobiome.tracking.core import _Problem

__all__ = ["METHODS", "run_method"]

METHODS = ("lactobiome", "feast", "sourcetracker")
"""Names accepted by ``track(method=...)`` and ``lactobiome track --method``."""

FEAST_OPTIONS = ("coverage",)
"""``method_options`` FEAST accepts: ``coverage`` (int, ``"first"`` or None)."""
ST2_OPTIONS = (
    "alpha1", "alpha2", "beta", "restarts", "draws_per_restart", "burnin", "delay",
    "source_depth", "sink_depth",
)
"""``method_options`` SourceTracker accepts (see :func:`sourcetracker.gibbs_sink`)."""


def _check_options(method: str, options: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in options:
        if key not in allowed:
            raise InputError(
                f"method {method!r}: unknown option {key!r}, expected one of {', '.join(allowed)}"
            )


def run_method(
    method: str,
    problems: list[_Problem],
    n_taxa: int,
    *,
    rarefy: bool | int,
    iterations: int,
    tolerance: float,
    seed: int,
    level: float,
    options: Mapping[str, Any] | None,
    progress: Callable[[int], None] | None,
    counts_name: str = "counts",
) -> pd.DataFrame:
    """Run FEAST or SourceTracker on every sink; return the long result table.

    Parameters
    ----------
    method
        ``"feast"`` or ``"sourcetracker"``.
    problems
        One per sink, from :func:`lactobiome.tracking.core._build_problems` (read counts).
    n_taxa
        Taxa in the whole table (SourceTracker's ``tau``).
    rarefy
        An integer sets the rarefaction depth (FEAST's ``COVERAGE``; SourceTracker's source
        and sink depths); ``True``/``False`` keep each method's default.
    iterations, tolerance
        FEAST's EM steps and stopping tolerance (ignored by SourceTracker).
    seed
        Seed of every random draw (rarefaction, initial values, the sampler).
    level
        Coverage of SourceTracker's intervals (quantiles of its draws); FEAST gives none.
    options
        Method settings: FEAST ``coverage``; SourceTracker ``alpha1``, ``alpha2``, ``beta``,
        ``restarts``, ``draws_per_restart``, ``burnin``, ``delay``, ``source_depth``,
        ``sink_depth``.
    progress
        Called with the number of sinks finished.
    counts_name
        File name used in error messages.

    Returns
    -------
    pandas.DataFrame
        Columns ``sink``, ``source``, ``proportion``, ``ci_low``, ``ci_high``;
        ``attrs["diagnostics"]`` per sink and ``attrs["method"]``.
    """
    import pandas as pd

    opts = dict(options or {})
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, float, float, float]] = []
    diag: dict[str, list[Any]] = {"sink": [], "reads": [], "taxa": [], "iterations": [],
                                  "converged": []}
    depth_given = None if isinstance(rarefy, bool) else int(rarefy)
    if method == "feast":
        from lactobiome.tracking.core import _collapse
        from lactobiome.tracking.feast import feast_em

        _check_options(method, opts, FEAST_OPTIONS)
        coverage = opts.get("coverage", depth_given)
        first = None
        if coverage == "first":
            p0 = problems[0]
            first = int(min(p0.x.sum(), p0.Y.sum(axis=1).min()))
        elif coverage is not None and (not isinstance(coverage, int) or coverage < 1):
            raise InputError(f"method 'feast': coverage must be a positive integer, "
                             f"'first' or None, got {coverage!r}")
        for p in problems:
            if first is not None:
                depth = first
            elif coverage is None:
                depth = int(min(p.x.sum(), p.Y.sum(axis=1).min()))
            else:
                depth = int(coverage)
            a, iters, conv = feast_em(p.x, p.Y, depth, rng, iterations, tolerance)
            order = list(dict.fromkeys(p.labels))
            v = _collapse(a, p.labels, order)
            for j, lab in enumerate([*order, UNKNOWN]):
                rows.append((p.sink, lab, float(v[j]), np.nan, np.nan))
            diag["iterations"].append(iters)
            diag["converged"].append(conv)
            diag["reads"].append(float(min(p.x.sum(), depth)))
            diag["sink"].append(p.sink)
            diag["taxa"].append(len(p.x))
            if progress is not None:
                progress(1)
    elif method == "sourcetracker":
        from lactobiome.tracking.sourcetracker import ST2_DEPTH, gibbs_sink

        _check_options(method, opts, ST2_OPTIONS)
        if depth_given is not None:
            opts.setdefault("source_depth", depth_given)
            opts.setdefault("sink_depth", depth_given)
        q = (1.0 - level) / 2.0
        for p in problems:
            share, order = gibbs_sink(p.x, p.Y, p.labels, n_taxa, rng, where=f"{counts_name}: sink {p.sink!r}", **opts)
            v = share.mean(axis=0)
            lo = np.quantile(share, q, axis=0)
            hi = np.quantile(share, 1.0 - q, axis=0)
            for j, lab in enumerate([*order, UNKNOWN]):
                rows.append((p.sink, lab, float(v[j]), float(lo[j]), float(hi[j])))
            diag["iterations"].append(len(share))
            diag["converged"].append(True)
            sink_depth = int(opts.get("sink_depth", ST2_DEPTH))
            diag["reads"].append(float(sink_depth or np.floor(p.x).sum()))
            diag["sink"].append(p.sink)
            diag["taxa"].append(len(p.x))
            if progress is not None:
                progress(1)
    else:
        raise InputError(f"unknown method {method!r}, expected one of {', '.join(METHODS)}")
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs["diagnostics"] = pd.DataFrame(diag)
    table.attrs["method"] = method
    table.attrs["relative"] = False
    return table
