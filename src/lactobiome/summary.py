"""Summaries of a simulation result: provenance shares by origin and feeding group."""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
import xarray as xr

from lactobiome.model.spectrum import (
    INFLAMED,
    MASTITIS_STATES,
    STATE_CODE,
    episode_onsets,
    state_codes,
)


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
    frames: list[pd.DataFrame] = []
    for site in sites:
        shares = cast(pd.DataFrame, origin_shares(ds, site, day).to_pandas())
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


PANEL_SUMMARY: tuple[str, ...] = (
    "milk_volume_ml", "hmo_g_per_l", "siga_g_per_l", "na_k_ratio", "somatic_cells_per_ml",
    "leucocyte_fraction", "epithelial_fraction", "stem_cell_fraction", "milk_bacteria_per_ml", "inflammation",
)


def panel_table(ds: xr.Dataset, days: tuple[int, ...] = (1, 3, 7, 14, 30, 60, 90, 180)) -> pd.DataFrame:
    """Median milk panel of breastfed dyads on the given days (rows) that the run covers."""
    breastfed = ds["breast_milk_share"].values > 0.0
    days = tuple(d for d in days if d <= ds.sizes["day"])
    names = [n for n in PANEL_SUMMARY if n in ds]
    table = pd.DataFrame(
        {n: [float(np.median(ds[n].sel(day=d).values[breastfed])) if breastfed.any() else np.nan for d in days]
         for n in names},
        index=pd.Index(days, name="day"),
    )
    return table


def mastitis_summary(ds: xr.Dataset) -> dict[str, float]:
    """Share of dyads ever in each mastitis state, of dyads with an inflammatory or bacterial
    episode, and episodes per 1,000 breastfeeding weeks (episodes of inflammatory states)."""
    codes = state_codes(ds["mastitis_state"].values)
    out = {f"ever {s}": float((codes == STATE_CODE[s]).any(axis=1).mean()) for s in MASTITIS_STATES if s != "none"}
    out["dyads with an inflammatory or bacterial episode"] = float(INFLAMED[codes].any(axis=1).mean())
    onsets = episode_onsets(codes).sum()
    breastfed_weeks = (ds["milk_volume_ml"].values > 0.0).sum() / 7.0
    out["episodes per 1,000 breastfeeding weeks"] = float(1000.0 * onsets / max(breastfed_weeks, 1e-9))
    return out
