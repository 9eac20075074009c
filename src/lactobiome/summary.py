"""Summaries of a simulation result: provenance shares by origin and feeding group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def origin_shares(ds: xr.Dataset, site: str, day: int) -> xr.DataArray:
    """Share of each dyad's cells in ``site`` on recorded ``day`` by origin, (dyad, origin).

    Dyads with no cells in the site get NaN.
    """
    cells = ds["abundance"].sel(site=site, sample_day=day).sum("taxon")
    total = cells.sum("origin")
    return (cells / total.where(total > 0)).astype(np.float64)


def nearest_recorded_day(ds: xr.Dataset, day: int) -> int:
    """The recorded day closest to ``day`` (earlier wins a tie)."""
    recorded = ds["sample_day"].values
    return int(recorded[np.argmin(np.abs(recorded - day) + (recorded > day) * 0.1)])


def provenance_table(ds: xr.Dataset, day: int = 30, sites: tuple[str, ...] = ("infant_gut", "milk"),
                     min_share: float = 0.005) -> pd.DataFrame:
    """Mean share by origin per feeding group, for each site, on the recorded day nearest ``day``.

    Origins whose mean share is below ``min_share`` in every row are left out.
    """
    day = nearest_recorded_day(ds, day)
    groups = pd.Series(ds["feeding_group"].values.astype(str))
    frames = []
    for site in sites:
        shares = origin_shares(ds, site, day).to_pandas()
        shares.index = groups.values
        table = shares.groupby(level=0, sort=False).mean()
        table.loc["all dyads"] = shares.mean()
        table.insert(0, "dyads", list(groups.value_counts(sort=False).reindex(table.index[:-1]).values) + [len(groups)])
        table.insert(0, "site", site)
        frames.append(table)
    out = pd.concat(frames)
    keep = [c for c in out.columns if c in ("site", "dyads") or out[c].max() >= min_share]
    out = out[keep]
    out.index.name = f"day {day}"
    return out
