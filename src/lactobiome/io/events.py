"""The mastitis events table: one row per episode, written beside a simulation result.

An episode is a run of consecutive days in any mastitis-spectrum state but ``none``
(see :mod:`lactobiome.model.processes.mastitis`). Columns: ``dyad``, ``onset_day``,
``end_day`` (last day in a state), ``duration_days``, ``peak_state`` (the most severe state
reached), ``fever_days``, ``treatment`` (treatments active during the episode, joined by
``+``, or empty).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from lactobiome.model.processes.mastitis import MASTITIS_STATES, STATE_CODE, TREATMENTS, episodes

COLUMNS = ("dyad", "onset_day", "end_day", "duration_days", "peak_state", "fever_days", "treatment")


def _state_codes(names: np.ndarray) -> np.ndarray:
    """State names -> codes, same shape (a hash lookup: a Python call per name took seconds)."""
    codes = pd.Categorical(names.ravel(), categories=list(MASTITIS_STATES)).codes.astype(np.int64)
    if (codes < 0).any():
        unknown = sorted({str(n) for n in names.ravel()[codes < 0]})
        raise ValueError(f"unknown mastitis state(s) {unknown}; expected one of {list(STATE_CODE)}")
    return codes.reshape(names.shape)


def episodes_table(ds: xr.Dataset, block: int = 20_000) -> pd.DataFrame:
    """Episodes of every dyad in a simulation result (read ``block`` dyads at a time)."""
    frames = []
    for start in range(0, ds.sizes["dyad"], block):
        part = ds.isel(dyad=slice(start, start + block))
        codes = _state_codes(part["mastitis_state"].values)
        treatment = part["treatment"].values if "treatment" in part else None
        ep = episodes(codes, treatment)
        fever = part["fever"].values.astype(np.int64)
        cumulative = np.concatenate([np.zeros((fever.shape[0], 1), dtype=np.int64), fever.cumsum(axis=1)], axis=1)
        rows = ep["dyad_index"]
        first = ep["onset_day"] - 1
        fever_days = cumulative[rows, first + ep["duration_days"]] - cumulative[rows, first]
        labels = ["+".join(t for i, t in enumerate(TREATMENTS) if bits >> i & 1) for bits in ep["treatment"]]
        frames.append(pd.DataFrame({
            "dyad": part["dyad"].values[rows],
            "onset_day": ep["onset_day"],
            "end_day": ep["onset_day"] + ep["duration_days"] - 1,
            "duration_days": ep["duration_days"],
            "peak_state": np.array(MASTITIS_STATES, dtype=object)[ep["peak_state"]],
            "fever_days": fever_days,
            "treatment": labels,
        }))
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def events_path(out: Path) -> Path:
    """Where the events table of the result ``out`` goes: ``<out>.events.csv``."""
    return out.with_name(out.name + ".events.csv")


def write_events(ds: xr.Dataset, out: Path) -> Path:
    """Write the events table of ``ds`` beside the result ``out`` (atomically)."""
    path = events_path(Path(out))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    episodes_table(ds).to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def combine_events(parts: Sequence[Path], out: Path) -> Path:
    """Write the events table of ``out`` from those beside its chunk files, in chunk order.

    Each chunk's table is written with the chunk (from memory, in the worker that made it),
    so the whole result need not be read back: its mastitis states alone took seconds. A
    chunk without its table (from an older run being resumed) gets it from its file.
    """
    from lactobiome.io.dataset import open_result

    path = events_path(Path(out))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as target:
        for i, part in enumerate(parts):
            table = events_path(Path(part))
            if not table.exists():
                with open_result(part) as ds:
                    write_events(ds, part)
            lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
            target.writelines(lines if i == 0 else lines[1:])  # one header
    os.replace(tmp, path)
    return path
