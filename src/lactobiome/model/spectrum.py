"""The mastitis spectrum's states and the one definition of a mastitis episode.

States follow Mitchell et al. 2022 (ABM protocol #36); the rules that set a dyad's state
each day are in :mod:`lactobiome.model.processes.mastitis`. This module holds what every
reader of the daily ``mastitis_state`` panel shares: the state names and their codes, the
severity order, the treatment bits, which states are *inflamed* (and which of those are
*bacterial*) and what a mastitis *episode* is.

An **episode** is a run of consecutive days in an inflamed state: ``inflammatory_mastitis``,
``bacterial_mastitis``, ``phlegmon`` or ``abscess``. Moving between inflamed states (an
inflammatory mastitis that becomes bacterial, then a phlegmon) stays within one episode; a
day in any other state ends it. Ductal narrowing (a blocked duct, no inflammation) and
subacute mastitis (dysbiotic milk without inflammation) are not episodes: the studies the
validation targets come from count clinical mastitis — a woman with an inflamed, painful
breast — and their onsets (incidence, recurrence, timing of the first episode). The events
table, the validation measurements and the benchmarks all count episodes with
:func:`episode_onsets` / :func:`episodes`; :func:`runs` lists runs of any other set of
states when something needs them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

MASTITIS_STATES: tuple[str, ...] = (
    "none",
    "ductal_narrowing",
    "inflammatory_mastitis",
    "bacterial_mastitis",
    "phlegmon",
    "abscess",
    "subacute_mastitis",
)
"""State names; the engine stores a state as its index here."""

STATE_CODE: dict[str, int] = {name: i for i, name in enumerate(MASTITIS_STATES)}
"""State name -> code (its index in :data:`MASTITIS_STATES`)."""

SEVERITY: np.ndarray = np.array([0, 1, 3, 4, 5, 6, 2], dtype=np.int8)
"""Severity rank of each state code (subacute sits between narrowing and inflammatory)."""

TREATMENTS: tuple[str, ...] = ("antibiotic", "probiotic", "frequent_emptying")
"""Bit ``i`` of the daily ``treatment`` panel value marks ``TREATMENTS[i]`` as active."""

INFLAMED_STATES: tuple[str, ...] = ("inflammatory_mastitis", "bacterial_mastitis", "phlegmon", "abscess")
"""States of a mastitis episode: the breast is inflamed."""

BACTERIAL_STATES: tuple[str, ...] = ("bacterial_mastitis", "phlegmon", "abscess")
"""Inflamed states with a pathobiont load (bacterial mastitis and its complications)."""


def _mask(names: Iterable[str]) -> np.ndarray:
    wanted = {STATE_CODE[name] for name in names}
    return np.array([code in wanted for code in range(len(MASTITIS_STATES))], dtype=bool)


INFLAMED: np.ndarray = _mask(INFLAMED_STATES)
"""Boolean mask over state codes: ``INFLAMED[codes]`` marks inflamed days."""

BACTERIAL: np.ndarray = _mask(BACTERIAL_STATES)
"""Boolean mask over state codes: ``BACTERIAL[codes]`` marks bacterial days."""


def state_codes(names: np.ndarray) -> np.ndarray:
    """State names to codes, same shape.

    Parameters
    ----------
    names
        Array of state names (as the result file stores them).

    Returns
    -------
    numpy.ndarray
        ``int64`` codes (indices in :data:`MASTITIS_STATES`).

    Raises
    ------
    ValueError
        A name is not a state of the spectrum.
    """
    names = np.asarray(names)
    # a hash lookup: a Python call per name took seconds on a large cohort
    codes = pd.Categorical(names.ravel(), categories=list(MASTITIS_STATES)).codes.astype(np.int64)
    if (codes < 0).any():
        unknown = sorted({str(n) for n in names.ravel()[codes < 0]})
        raise ValueError(f"unknown mastitis state(s) {unknown}; expected one of {list(MASTITIS_STATES)}")
    return codes.reshape(names.shape)


def run_starts(mask: np.ndarray) -> np.ndarray:
    """First days of the runs of ``True`` along the last axis (a run may start on day index 0).

    Parameters
    ----------
    mask
        Boolean array, shape (dyad, day).

    Returns
    -------
    numpy.ndarray
        Boolean array of the same shape, ``True`` on the first day of each run.
    """
    mask = np.asarray(mask, dtype=bool)
    start = np.zeros_like(mask)
    start[..., :1] = mask[..., :1]
    start[..., 1:] = mask[..., 1:] & ~mask[..., :-1]
    return start


def episode_onsets(codes: np.ndarray) -> np.ndarray:
    """Days on which a mastitis episode starts, from a (dyad, day) array of state codes.

    Parameters
    ----------
    codes
        State codes, shape (dyad, day).

    Returns
    -------
    numpy.ndarray
        Boolean (dyad, day): the first day of each run of inflamed days.
    """
    return run_starts(INFLAMED[np.asarray(codes, dtype=np.int64)])


def runs(codes: np.ndarray, states: np.ndarray, treatment: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Runs of consecutive days in any of the states marked by ``states``.

    Parameters
    ----------
    codes
        State codes, shape (dyad, day); day index 0 is day of life 1.
    states
        Boolean mask over state codes: :data:`INFLAMED` for episodes, or e.g.
        ``np.arange(len(MASTITIS_STATES)) != STATE_CODE["none"]`` for runs of any state but none.
    treatment
        Daily treatment bitmask of the same shape (bits as in :data:`TREATMENTS`), optional.

    Returns
    -------
    dict
        Arrays of one row per run, in (dyad, onset) order: ``dyad_index``, ``onset_day`` (day
        of life), ``duration_days``, ``peak_state`` (code of the most severe state in the run),
        ``treatment`` (bitmask of treatments active on its days; 0 without ``treatment``).
    """
    codes = np.asarray(codes).astype(np.int64)
    n, days = codes.shape
    active = np.zeros((n, days + 2), dtype=np.int8)
    active[:, 1:-1] = np.asarray(states, dtype=bool)[codes]
    edges = np.diff(active, axis=1).ravel()  # per row: days + 1 entries
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    if len(starts) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return {"dyad_index": empty, "onset_day": empty, "duration_days": empty, "peak_state": empty,
                "treatment": empty}
    width = days + 1
    dyad = starts // width
    onset = starts % width  # 0-based day index of the first day
    end = ends % width  # 0-based day index after the last day
    bounds = np.stack([dyad * width + onset, dyad * width + end], axis=1).ravel()
    severity = np.zeros((n, width), dtype=np.int64)
    severity[:, :days] = SEVERITY[codes]
    peak = np.argsort(SEVERITY)[np.maximum.reduceat(severity.ravel(), bounds)[::2]]
    bits = np.zeros(len(starts), dtype=np.int64)
    if treatment is not None:
        flags = np.zeros((n, width), dtype=np.int64)
        flags[:, :days] = np.asarray(treatment).astype(np.int64)
        bits = np.bitwise_or.reduceat(flags.ravel(), bounds)[::2]
    return {"dyad_index": dyad, "onset_day": onset + 1, "duration_days": end - onset,
            "peak_state": peak.astype(np.int64), "treatment": bits}


def episodes(states: np.ndarray, treatment: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Mastitis episodes (runs of inflamed days) from a (dyad, day) state-code array.

    Parameters
    ----------
    states
        State codes, shape (dyad, day); day index 0 is day of life 1.
    treatment
        Daily treatment bitmask of the same shape (bits as in :data:`TREATMENTS`), optional.

    Returns
    -------
    dict
        As :func:`runs` with the :data:`INFLAMED` states: one row per episode, with
        ``dyad_index``, ``onset_day``, ``duration_days``, ``peak_state`` (code) and
        ``treatment`` (bitmask). ``onset_day`` is where :func:`episode_onsets` is true.
    """
    return runs(states, INFLAMED, treatment)
