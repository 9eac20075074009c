"""Milk removal: the ductal pool's cells leave with the milk the infant takes.

The pool is well mixed and drained continuously at rate ``k = V / P`` per day (``V`` the
day's breast-milk volume, ``P`` the pool volume) while new cells arrive through the day.
Integrated exactly over a day, a cell already in the pool at dawn stays with probability
``exp(-k)`` and a cell arriving at a uniform time during the day with probability
``(1 - exp(-k)) / k``. The day is therefore drained in two moves: ``carryover`` before the
day's inputs, with the share ``g`` chosen so that ``(1 - g)(1 - f) = exp(-k)``, and ``today``
after them, with ``f = 1 - (1 - exp(-k)) / k``. All removed milk reaches the infant: a
small share of its cells settles in the infant mouth, the rest is swallowed into the
infant gut tagged ``milk``.

Cells attached to the duct wall (mothers with a biofilm-forming strain) stay: a taxon
drains at ``k (1 - f)`` per day, ``f`` its attached share (:mod:`lactobiome.model.biofilm`).
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.biofilm import NEEDS_ATTRIBUTES, daily_shares
from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.routes import apply_contact_routes
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import Moves


def _rates(state: DyadState, ctx: SimulationContext) -> tuple[np.ndarray, np.ndarray]:
    """(carryover, today) drain shares per (dyad, taxon); formed once a day for both drains.

    Both drains read the same host variables (only ``lactation`` writes them), so the second
    call of a day takes the first one's arrays (kept with the day's attached shares, and
    dropped with them when an input differs: :func:`lactobiome.model.biofilm.daily_shares`).
    """
    shares = daily_shares(state, ctx)
    kept = shares.derived.get("milk_removal.rates")
    if kept is None:
        kept = shares.derived["milk_removal.rates"] = _form_rates(shares.turnover, shares.share)
    return kept  # type: ignore[return-value]


def _form_rates(turnover: np.ndarray, attached: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # the wall-attached share of a taxon does not leave with the milk: it drains at k (1 - f)
    k = turnover[:, None] * (1.0 - attached)
    # (1 - exp(-k)) / k -> 1 as k -> 0; expm1 keeps precision for small k
    with np.errstate(invalid="ignore", divide="ignore"):
        stay_new = np.where(k > 1e-9, -np.expm1(-k) / k, 1.0)
    today = 1.0 - stay_new
    carryover = 1.0 - np.exp(-k) / np.maximum(stay_new, 1e-300)
    carryover, today = np.clip(carryover, 0.0, 1.0), np.clip(today, 0.0, 1.0)
    carryover.flags.writeable = False
    today.flags.writeable = False
    return carryover, today


def _drain(moves: Moves, ctx: SimulationContext, removed: np.ndarray, label: str) -> None:
    settle = ctx.p("milk_settling_in_infant_mouth", "fraction")
    to_mouth = removed * settle
    moves.add("milk", "infant_mouth", to_mouth, stream_id(f"milk_removal.{label}.mouth"))
    to_gut = removed * (1.0 - settle) / np.maximum(1.0 - to_mouth, 1e-12)
    moves.add("milk", "infant_gut", to_gut, stream_id(f"milk_removal.{label}.gut"))


def carryover(state: DyadState, ctx: SimulationContext) -> DyadState:
    """Drain the cells that were in the pool at the start of the day (before inputs)."""
    if ctx.scenario.routes.milk_to_infant:
        moves = Moves(state, ctx.rng)
        _drain(moves, ctx, _rates(state, ctx)[0], "carryover")
        moves.apply()
    return state


def today(state: DyadState, ctx: SimulationContext) -> DyadState:
    """Drain the cells that arrived today (after all inputs), and leave the milk film on the skin."""
    if ctx.scenario.routes.milk_to_infant:
        moves = Moves(state, ctx.rng)
        _drain(moves, ctx, _rates(state, ctx)[1], "today")
        moves.apply()
    # the film: a contact route of the route table carried by "milk_today"
    apply_contact_routes(state, ctx, "milk_today")
    return state


CARRYOVER = Process("milk_carryover", carryover, reads={"milk_volume_ml", "milk_pool_ml"},
                    attributes=NEEDS_ATTRIBUTES)
TODAY = Process("milk_today", today, reads={"milk_volume_ml", "milk_pool_ml", "direct_feeds_per_day"},
                attributes=NEEDS_ATTRIBUTES)
