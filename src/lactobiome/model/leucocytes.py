"""Leucocyte recruitment into milk as a function of the gland's inflammation.

Shared by :mod:`lactobiome.model.processes.mammary_immunity` (milk cells, clearance) and
:mod:`lactobiome.model.processes.lactation` (the junction leak that transmigrating
neutrophils open), so both read one curve.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext


def recruited_per_ml(inflammation: np.ndarray, ctx: SimulationContext) -> np.ndarray:
    """Leucocytes recruited into milk (cells/mL) at ``inflammation`` (dimensionless), same shape.

    A Hill curve, steep in inflammation: the lactating breast tolerates low-grade stimulation
    but answers clinical inflammation with a flood of neutrophils (Hassiotou et al. 2013).
    """
    hill = ctx.p("leucocyte_recruitment_hill", "1")
    ratio = (np.maximum(inflammation, 0.0) / ctx.p("leucocyte_recruitment_half_inflammation", "1")) ** hill
    return np.asarray(ctx.p("leucocyte_recruitment_max_per_ml", "cells/mL") * ratio / (1.0 + ratio))
