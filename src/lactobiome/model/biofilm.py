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


def attached_share(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Share of each taxon's milk-site cells attached to the duct wall today, shape (dyad, taxon).

    Zero for a mother without a biofilm-forming strain and for taxa of ``ductal_biofilm`` 0,
    else ``h b / (h b + k)`` (module docstring).
    """
    hold = ctx.p("biofilm_shear_half_turnover_per_day", "1/day") * ctx.taxa["ductal_biofilm"].astype(np.float64)
    k = turnover(state)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(hold[None, :] > 0.0, hold[None, :] / (hold[None, :] + k), 0.0)
    return np.where(np.asarray(state.attributes["biofilm_strain"], dtype=bool)[:, None], share, 0.0)


def milk_borne_share(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Share of each taxon's milk-site cells carried by the milk today, ``1 - attached_share``."""
    return 1.0 - attached_share(state, ctx)
