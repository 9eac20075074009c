"""Microbial source tracking: what share of each sink came from each source.

The public entry point is :func:`track`; the compiled EM kernel lives in
:mod:`lactobiome.tracking.engine` and is imported only when a fit runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "UNKNOWN", "track", "to_wide"]

UNKNOWN = "Unknown"
"""Label of the unknown source in every result."""
COLUMNS: list[str] = ["sink", "source", "proportion", "ci_low", "ci_high"]
"""Columns of the long result (docs/design.md §11), also those of a simulated ``truth.tsv``."""


def track(counts: pd.DataFrame, metadata: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    """Estimate source proportions with intervals; see :func:`lactobiome.tracking.core.track`."""
    from lactobiome.tracking.core import track as _track

    return _track(counts, metadata, **kwargs)


def to_wide(table: pd.DataFrame, value: str = "proportion") -> pd.DataFrame:
    """Pivot the long result to a sinks x sources matrix (``Unknown`` last).

    Parameters
    ----------
    table
        Output of :func:`track`.
    value
        Column to spread (``proportion``, ``ci_low`` or ``ci_high``).

    Returns
    -------
    pandas.DataFrame
        One row per sink, one column per source label; NaN where a source was not offered
        to that sink.
    """
    wide = table.pivot(index="sink", columns="source", values=value)
    sinks = list(dict.fromkeys(table["sink"]))
    cols = [c for c in dict.fromkeys(table["source"]) if c != UNKNOWN] + [UNKNOWN]
    return wide.loc[sinks, cols]
