"""Readers shared by the measurement modules: windows, panels, populations, compositions.

Each takes a simulation result whose needed variables have been checked (see
:func:`lactobiome.validation.measures.registry.check_needs`) and raises
:class:`~lactobiome.validation.measures.registry.Unmeasurable` when the cohort cannot give
what is asked (a day past the horizon, a day not recorded).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from lactobiome.errors import InputError
from lactobiome.model.spectrum import STATE_CODE, episode_onsets, state_codes
from lactobiome.validation.measures.registry import Unmeasurable
from lactobiome.validation.statistics import Sample, Statistic, nanmean, nanmedian, ratio_of_sums

DETECTION_SHARE = 0.01
"""Relative abundance at which a taxon counts as detected in a sample (assumption)."""

BREASTFED_NEEDS: tuple[str, ...] = ("breast_milk_share",)
"""What :func:`breastfed`, :func:`exclusive` and :func:`share` read."""
HEALTHY_NEEDS: tuple[str, ...] = ("mastitis_state",)
"""What the ``healthy`` option of :func:`panel_window` reads beside the panel."""
COMPOSITION_NEEDS: tuple[str, ...] = ("abundance", "sample_day")
"""What :func:`cells`, :func:`relative`, :func:`origin_share` and :func:`recorded_day` read."""


def log10(x: np.ndarray) -> np.ndarray:
    """log10 of the positive values, NaN elsewhere."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), np.nan)


def days(ds: xr.Dataset) -> np.ndarray:
    """Days of life of the daily panels."""
    return np.asarray(ds["day"].values)


def window(ds: xr.Dataset, first: int, last: int) -> np.ndarray:
    """Boolean mask over ``day`` for days ``first..last``; unmeasurable past the horizon."""
    simulated = days(ds)
    if simulated.size == 0 or simulated.max() < last:
        raise Unmeasurable(f"beyond the simulated horizon ({int(simulated.max()) if simulated.size else 0} days; "
                           f"needs day {last})")
    return (simulated >= first) & (simulated <= last)


def panel(ds: xr.Dataset, name: str) -> np.ndarray:
    """A daily panel variable as a float (dyad, day) array."""
    return np.asarray(ds[name].values, dtype=np.float64)


def mastitis_codes(ds: xr.Dataset) -> np.ndarray:
    """The daily mastitis-spectrum states as codes of :data:`lactobiome.model.spectrum.MASTITIS_STATES`."""
    try:
        return state_codes(np.asarray(ds["mastitis_state"].values).astype(str))
    except ValueError as exc:
        raise InputError(f"mastitis_state: {exc}") from None


def healthy(ds: xr.Dataset) -> np.ndarray:
    """(dyad, day) mask of days in no mastitis-spectrum state."""
    return mastitis_codes(ds) == STATE_CODE["none"]


def share(ds: xr.Dataset) -> np.ndarray:
    """Each dyad's planned breast-milk share of feeds."""
    return np.asarray(ds["breast_milk_share"].values, dtype=np.float64)


def breastfed(ds: xr.Dataset) -> np.ndarray:
    """Dyads given any breast milk."""
    return share(ds) > 0.0


def exclusive(ds: xr.Dataset) -> np.ndarray:
    """Exclusively breastfed dyads."""
    return share(ds) >= 0.999


def per_dyad(values: np.ndarray, mask: np.ndarray, how: str = "mean") -> np.ndarray:
    """Per-dyad mean / median / max / p95 of ``values`` where ``mask`` (NaN when none)."""
    x = np.where(mask, values, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        if how == "mean":
            return np.nanmean(x, axis=1)
        if how == "median":
            return np.nanmedian(x, axis=1)
        if how == "max":
            return np.nanmax(x, axis=1)
        if how == "p95":
            return np.nanpercentile(x, 95, axis=1)
    raise ValueError(how)


def panel_window(ds: xr.Dataset, name: str, first: int, last: int, dyads: np.ndarray, only_healthy: bool = False,
                 how: str = "mean", log: bool = False, statistic: Statistic = nanmedian) -> Sample:
    """Per-dyad summary (``how``) of panel ``name`` on days ``first..last`` for ``dyads``.

    ``only_healthy`` keeps days in no mastitis-spectrum state; ``log`` takes log10 first.
    """
    values = panel(ds, name)
    mask = np.broadcast_to(window(ds, first, last), values.shape).copy()
    if only_healthy:
        mask &= healthy(ds)
    per = per_dyad(log10(values) if log else values, mask, how)[dyads]
    return Sample(per[np.isfinite(per)], statistic)


def stage_mean(name: str, first: int, last: int,
               dyads: Callable[[xr.Dataset], np.ndarray] = breastfed) -> Callable[[xr.Dataset], Sample]:
    """A measurement: median over ``dyads`` of each one's mean panel ``name`` on days ``first..last``."""

    def function(ds: xr.Dataset) -> Sample:
        return panel_window(ds, name, first, last, dyads(ds))

    return function


def recorded_day(ds: xr.Dataset, day: int, tolerance: int = 3) -> int:
    """The recorded day nearest ``day`` (an earlier one wins a tie) within ``tolerance`` days."""
    recorded = np.asarray(ds["sample_day"].values)
    if recorded.size == 0:
        raise Unmeasurable("the result has no recorded days")
    best = int(recorded[np.argmin(np.abs(recorded - day) + (recorded > day) * 0.1)])
    if abs(best - day) > tolerance:
        raise Unmeasurable(f"no recorded day within {tolerance} days of day {day}")
    return best


def cells(ds: xr.Dataset, site: str, day: int) -> xr.DataArray:
    """Cells by (dyad, taxon) in ``site`` on recorded ``day``, origins summed."""
    return ds["abundance"].sel(site=site, sample_day=day).sum("origin")


def relative(ds: xr.Dataset, site: str, day: int, by: str) -> pd.DataFrame:
    """Relative abundance by ``by`` (``taxon``, ``genus``, ``family``, ``phylum``), (dyad, group)."""
    counts = cells(ds, site, day)
    total = counts.sum("taxon")
    rel = (counts / total.where(total > 0)).astype(np.float64)
    if by == "taxon":
        return frame(rel)
    if by == "phylum" and "phylum" not in rel.coords:
        rel = rel.assign_coords(phylum=("taxon", phyla(rel["taxon"].values)))
    return frame(rel.groupby(by).sum(min_count=1))


def frame(table: xr.DataArray) -> pd.DataFrame:
    """A two-dimensional array as a DataFrame (rows: its first dimension)."""
    out = table.to_pandas()
    if not isinstance(out, pd.DataFrame):
        raise ValueError(f"expected a two-dimensional array, got dimensions {table.dims}")
    return out


def phyla(taxa: Iterable[str]) -> list[str]:
    """Phylum of each taxon from the shipped catalogue (``unknown`` when not in it)."""
    from lactobiome.model.taxa import load_taxa

    catalogue = load_taxa()
    lookup = dict(zip(catalogue.names, catalogue.table["phylum"], strict=True))
    return [str(lookup.get(str(t), "unknown")) for t in taxa]


def column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` of a (dyad, group) table; 0 where the dyad has cells but not that group."""
    if name in frame.columns:
        return frame[name].to_numpy(dtype=np.float64)
    return np.where(frame.notna().any(axis=1), 0.0, np.nan)


def origin_share(ds: xr.Dataset, site: str, day: int, origins: Sequence[str]) -> np.ndarray:
    """Per-dyad share of cells in ``site`` on recorded ``day`` whose origin is one of ``origins``."""
    from lactobiome.summary import origin_shares

    shares = origin_shares(ds, site, day)
    present = [o for o in origins if o in shares["origin"].values]
    if not present:
        return np.where(np.isfinite(shares.values).any(axis=1), 0.0, np.nan)
    return shares.sel(origin=present).sum("origin", min_count=1).values


def onsets_by_day(ds: xr.Dataset, last_day: int) -> Sample:
    """Share of the mastitis onsets of days 1-182 that fall on days 1 to ``last_day`` (per dyad: early, all)."""
    onsets = episode_onsets(mastitis_codes(ds)) & window(ds, 1, 182)
    early = onsets & (days(ds) <= last_day)
    return Sample(np.column_stack([early.sum(axis=1), onsets.sum(axis=1)]), ratio_of_sums)


def first_onsets_by_day(ds: xr.Dataset, last_day: int) -> Sample:
    """Share of breastfed dyads with an onset on days 1-182 whose first onset falls on days 1 to ``last_day``."""
    onsets = (episode_onsets(mastitis_codes(ds)) & window(ds, 1, 182))[breastfed(ds)]
    affected = onsets.any(axis=1)
    if not affected.any():
        raise Unmeasurable("no mastitis episode on days 1-182 in this cohort")
    first_day = days(ds)[np.argmax(onsets[affected], axis=1)]
    return Sample((first_day <= last_day).astype(np.float64), nanmean)
