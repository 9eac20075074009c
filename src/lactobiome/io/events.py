"""The mastitis events table: one row per mastitis episode, written beside a simulation result.

An episode is a run of consecutive days in an inflamed state (inflammatory or bacterial
mastitis, phlegmon, abscess), as defined once in :mod:`lactobiome.model.spectrum` and
counted the same way by the validation targets; days of ductal narrowing or subacute
mastitis alone are not episodes (they stay in the result's daily ``mastitis_state``).
Columns: ``dyad``, ``onset_day``, ``end_day`` (last inflamed day), ``duration_days``,
``peak_state`` (the most severe state reached), ``fever_days``, ``treatment`` (treatments
active on the episode's days, joined by ``+``, or empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from lactobiome.io.atomic import write_text_atomic
from lactobiome.model.spectrum import MASTITIS_STATES, TREATMENTS, episodes, state_codes

COLUMNS = ("dyad", "onset_day", "end_day", "duration_days", "peak_state", "fever_days", "treatment")


def episodes_table(ds: xr.Dataset, block: int = 20_000) -> pd.DataFrame:
    """Mastitis episodes of every dyad in a simulation result (read ``block`` dyads at a time).

    Parameters
    ----------
    ds
        A simulation result with ``mastitis_state`` and ``fever`` (``treatment`` optional).
    block
        Dyads read at a time.

    Returns
    -------
    pandas.DataFrame
        One row per episode of :func:`lactobiome.model.spectrum.episodes`, columns
        :data:`COLUMNS`, in (dyad, onset) order.
    """
    frames = []
    for start in range(0, ds.sizes["dyad"], block):
        part = ds.isel(dyad=slice(start, start + block))
        codes = state_codes(part["mastitis_state"].values)
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
    write_text_atomic(episodes_table(ds).to_csv(index=False), path)
    return path


def combine_events(parts: Sequence[Path], out: Path) -> Path:
    """Write the events table of ``out`` from those beside its chunk files, in chunk order.

    Each chunk's table is written with the chunk (from memory, in the worker that made it),
    so the whole result need not be read back: its mastitis states alone took seconds. A
    chunk without its table (from an older run being resumed) gets it from its file.
    """
    from lactobiome.io.dataset import open_result

    path = events_path(Path(out))
    lines: list[str] = []
    for i, part in enumerate(parts):
        table = events_path(Path(part))
        if not table.exists():
            with open_result(part) as ds:
                write_events(ds, part)
        rows = table.read_text(encoding="utf-8").splitlines(keepends=True)
        lines.extend(rows if i == 0 else rows[1:])  # one header
    write_text_atomic("".join(lines), path)
    return path
