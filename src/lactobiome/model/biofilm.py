"""Cells of a ductal biofilm: the share of the milk site's cells attached to the duct wall.

In a mother whose ductal flora carries a biofilm-forming strain (attribute ``biofilm_strain``:
ica-positive coagulase-negative staphylococci above all; Delgado et al. BMC Microbiol
2009;9:82), a share of each biofilm former's cells in the milk site sits attached to the duct
wall. Attachment and the shearing off by milk flow both take hours, fast against a day, so
each day the share is at its balance: ``f = h b / (h b + k)`` for a taxon of ``ductal_biofilm``
``b``, the day's milk turnover ``k`` (milk taken over milk held, 1/day) and
``h = biofilm_shear_half_turnover_per_day``; more milk flow shears more off.

The milk site holds both the attached and the milk-borne cells, and a milk sample counts both
(the wall sheds into the milk that is expressed). What moves with the milk moves only the
milk-borne share: the infant's drain (:mod:`lactobiome.model.processes.milk_removal`), the
milk film on the skin and the back-flow into the tissue
(:func:`lactobiome.model.routes.apply_contact_routes`). In their matrix the attached cells do
not stimulate the gland's inflammation (:mod:`lactobiome.model.processes.mammary_immunity`),
and the wall biofilm narrows the ducts (:mod:`lactobiome.model.processes.lactation`; half of the
largest narrowing at ``biofilm_narrowing_half_per_ml`` cells on the wall per mL of pool).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lactobiome.model.context import SimulationContext
from lactobiome.model.state import DyadState

NEEDS_HOST: frozenset[str] = frozenset({"milk_volume_ml", "milk_pool_ml"})
"""Host variables (today's) :func:`attached_share` reads."""

NEEDS_ATTRIBUTES: frozenset[str] = frozenset({"biofilm_strain"})
"""Dyad attributes :func:`attached_share` reads."""


def turnover(state: DyadState) -> np.ndarray:
    """Today's milk turnover: milk taken over milk held (1/day), shape (dyad,); 0 with no pool."""
    pool = state.host["milk_pool_ml"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pool > 0.0, state.host["milk_volume_ml"] / pool, 0.0)


@dataclass
class DailyShares:
    """One day's attached shares of a chunk, kept on the state for every reader of that day.

    ``turnover``, ``hold`` and ``biofilm_strain`` are the inputs the share was formed from (copies);
    ``derived`` holds what other modules form from the same inputs (the milk drain's rates), so
    it is dropped with the share when any input differs.
    """

    turnover: np.ndarray
    hold: np.ndarray
    biofilm_strain: np.ndarray
    share: np.ndarray
    derived: dict[str, object] = field(default_factory=dict)

    def matches(self, turnover: np.ndarray, hold: np.ndarray, biofilm_strain: np.ndarray) -> bool:
        """Whether the inputs are bit for bit those the share was formed from."""
        return (_same_bits(self.turnover, turnover) and _same_bits(self.hold, hold)
                and np.array_equal(self.biofilm_strain, biofilm_strain))


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    # compared as bits: NaN equals NaN and -0.0 differs from +0.0, so a match is an exact repeat
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.all(a.view(np.uint64) == b.view(np.uint64)))


def daily_shares(state: DyadState, ctx: SimulationContext) -> DailyShares:
    """Today's attached shares with their inputs, formed once per day and shared by every reader.

    Seven calls a day read the share (lactation, both milk drains, the milk film, immunity,
    mastitis); all see the same host variables, which only ``lactation`` writes. The share is
    a pure function of ``turnover``, ``hold`` and ``biofilm_strain``, so it is formed again only
    when one of them differs bit for bit from the last call's (another day, a test's own state).
    """
    hold = np.ascontiguousarray(
        ctx.p("biofilm_shear_half_turnover_per_day", "1/day") * ctx.taxa["ductal_biofilm"].astype(np.float64))
    k = np.ascontiguousarray(turnover(state), dtype=np.float64)
    strain = np.asarray(state.attributes["biofilm_strain"], dtype=bool)
    kept = state.__dict__.get("_biofilm_daily_shares")
    if isinstance(kept, DailyShares) and kept.matches(k, hold, strain):
        return kept
    # h b / (h b + k) only where it can be nonzero: mothers with a biofilm strain, taxa with
    # b > 0; every other entry is +0.0, as the dense np.where gave
    share = np.zeros((len(k), len(hold)))
    rows, columns = np.flatnonzero(strain), np.flatnonzero(hold > 0.0)
    if rows.size and columns.size:
        held = hold[columns][None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            share[np.ix_(rows, columns)] = held / (held + k[rows][:, None])
    share.flags.writeable = False
    kept = DailyShares(k.copy(), hold.copy(), strain.copy(), share)
    state.__dict__["_biofilm_daily_shares"] = kept
    return kept


def attached_share(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Share of each taxon's milk-site cells attached to the duct wall today, shape (dyad, taxon).

    Zero for a mother without a biofilm-forming strain and for taxa of ``ductal_biofilm`` 0,
    else ``h b / (h b + k)`` (module docstring). Read-only: the same array serves every
    reader of the day (:func:`daily_shares`).
    """
    return daily_shares(state, ctx).share


def milk_borne_share(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Share of each taxon's milk-site cells carried by the milk today, ``1 - attached_share``."""
    return 1.0 - attached_share(state, ctx)
