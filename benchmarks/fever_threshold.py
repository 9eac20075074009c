"""How the fever targets move with the fever threshold, read from one simulated cohort.

Fever is an output of the model and nothing in the model reads it (no process takes
``fever`` among its inputs), so a saved result holds everything the fever targets need:
``fever`` is recomputed from the stored ``inflammation`` for each threshold in
``--thresholds``, and the script prints, per threshold,

* D33, the share of affected women with fever on a day of an episode (onsets on days 1-365;
  the target ``fever_inflammation_threshold`` is fitted to, see its ``calibrated_to``);
* D35, the share of clinic episodes febrile on their first day (Kvist's clinic), D31, the share
  of affected women who consulted, and D19, the provider-diagnosed incidence by 12 weeks (checks: read only);
* by the most severe state of the episode, the share of episodes with fever and the
  median peak inflammation, so that the link to the pathogen is shown as the model has it.

Then the threshold at which D33 reaches ``--aim`` (the published share, 61/83), by
interpolation between the two thresholds of the grid that bracket it.

    .venv/bin/python -m lactobiome simulate default --dyads 3000 --days 365 --seed 1 --out /tmp/c.nc
    .venv/bin/python benchmarks/fever_threshold.py /tmp/c.nc --thresholds 1.0,1.05,1.1,1.2,1.3
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import xarray as xr

from lactobiome.io.dataset import open_result
from lactobiome.model.spectrum import MASTITIS_STATES, episodes
from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Unmeasurable, measure
from lactobiome.validation.pipelines import run_pipeline

VOGEL_SHARE = 61 / 83
"""Women with mastitis symptoms in the first year whose symptoms included fever (Vogel et al.
Birth 1999;26:218-225; target D33)."""

KEYS = {"D33": "mastitis_febrile_share_1yr", "D31": "mastitis_consulted_share_26wk"}
"""Targets read for each threshold and their measurements."""


def _value(ds: xr.Dataset, key: str) -> float:
    try:
        return measure(ds, key, n_boot=0).value
    except Unmeasurable:
        return math.nan


def by_peak_state(ds: xr.Dataset) -> list[tuple[str, int, float, float]]:
    """(state, episodes, share with fever, median peak inflammation) by each episode's worst state."""
    codes = c.mastitis_codes(ds)
    inflammation = c.panel(ds, "inflammation")
    fever = c.panel(ds, "fever") > 0
    ep = episodes(codes)
    rows = []
    worst, peak, febrile = [], [], []
    for r, onset, length in zip(ep["dyad_index"], ep["onset_day"] - 1, ep["duration_days"], strict=True):
        worst.append(int(codes[r, onset:onset + length].max()))
        peak.append(float(inflammation[r, onset:onset + length].max()))
        febrile.append(bool(fever[r, onset:onset + length].any()))
    worst_a, peak_a, febrile_a = np.array(worst), np.array(peak), np.array(febrile)
    for code in np.unique(worst_a):
        sel = worst_a == code
        rows.append((MASTITIS_STATES[code], int(sel.sum()), float(febrile_a[sel].mean()),
                     float(np.median(peak_a[sel]))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", help="a simulation result (.nc or .zarr) of at least 365 days")
    parser.add_argument("--thresholds", default="1.0,1.02,1.04,1.06,1.08,1.1,1.15,1.2,1.3")
    parser.add_argument("--aim", type=float, default=VOGEL_SHARE, help="D33 share to reach")
    args = parser.parse_args()
    ds = open_result(args.result).drop_vars("abundance", errors="ignore").load()
    inflammation = ds["inflammation"].values
    grid = sorted(float(x) for x in args.thresholds.split(","))
    d33 = []
    for threshold in grid:
        case = ds.assign(fever=(("dyad", "day"), inflammation >= threshold))
        values = {tid: _value(case, key) for tid, key in KEYS.items()}
        values["D19"] = run_pipeline(case, "foxman2002/provider_diagnosed", "mastitis_cumulative_12_weeks",
                                     n_boot=0).value
        values["D35"] = run_pipeline(case, "kvist2007/first_visit_temperature", "mastitis_febrile_episodes_26wk",
                                     n_boot=0).value
        d33.append(values["D33"])
        print(f"threshold {threshold:.3f}: " + "  ".join(f"{k} {v:.3f}" for k, v in values.items()))
        for state, count, share, peak in by_peak_state(case):
            print(f"    {state:22s} episodes {count:5d}  with fever {share:.2f}  median peak inflammation {peak:.2f}")
    for (lo, vlo), (hi, vhi) in zip(zip(grid, d33, strict=True), zip(grid[1:], d33[1:], strict=True), strict=False):
        if (vlo - args.aim) * (vhi - args.aim) <= 0 and vlo != vhi:
            at = lo + (args.aim - vlo) * (hi - lo) / (vhi - vlo)
            print(f"D33 = {args.aim:.3f} at threshold {at:.3f} (between {lo:g} and {hi:g})")
            break
    else:
        print(f"D33 = {args.aim:.3f} is not bracketed by the grid")


if __name__ == "__main__":
    main()
