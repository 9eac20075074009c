"""The birth inoculum: the first cells the newborn receives, by delivery mode.

Vaginal birth passes vaginal and maternal faecal taxa; caesarean birth passes skin and
hospital taxa (catalogue weights ``birth_vaginal`` / ``birth_caesarean``). Intrapartum
antibiotics lower the viable inoculum of penicillin-susceptible taxa. Cells enter the
infant gut and mouth tagged ``birth`` on day 1.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import immigrate


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    if state.day != 1 or not ctx.scenario.routes.birth_inoculum:
        return state
    caesarean = state.attributes["delivery_mode"] == "caesarean"
    vaginal_w = ctx.taxa["birth_vaginal"] / max(ctx.taxa["birth_vaginal"].sum(), 1e-300)
    caesarean_w = ctx.taxa["birth_caesarean"] / max(ctx.taxa["birth_caesarean"].sum(), 1e-300)
    cells = np.where(
        caesarean[:, None],
        ctx.p("birth_inoculum_caesarean_cells", "cells") * caesarean_w[None, :],
        ctx.p("birth_inoculum_vaginal_cells", "cells") * vaginal_w[None, :],
    )
    exposure = ctx.p("intrapartum_antibiotic_inoculum_exposure", "fraction")
    iap = state.attributes["intrapartum_antibiotics"][:, None]
    cells = cells * np.where(iap, 1.0 - exposure * ctx.taxa["kill_penicillin"][None, :], 1.0)
    mouth_share = ctx.p("birth_inoculum_mouth_share", "fraction")
    immigrate(state, "infant_gut", "birth", cells * (1.0 - mouth_share), ctx.rng, stream_id("birth.gut"))
    immigrate(state, "infant_mouth", "birth", cells * mouth_share, ctx.rng, stream_id("birth.mouth"))
    return state


PROCESS = Process("birth", step, attributes={"delivery_mode", "intrapartum_antibiotics"})
