"""Translocation into milk from the mother's tissues.

* Breast stroma → milk through the junctions between lactocytes, in proportion to their
  permeability (open at birth, closing over ~3 days, re-opening under strain); and back
  from milk into the stroma through the part of the opening that strain (a distended,
  inflamed alveolus) forces, plus the share ``milk_back_flow_colostral_share`` of the rest
  (the colostral opening and the residual leak, through which interstitial fluid flows into
  milk; 1 keeps the whole permeability as the back-flow exposure, 0 lets milk back only
  under pressure).
* Maternal gut → milk (entero-mammary pathway): dendritic cells and leucocytes carry live
  bacteria from the gut lumen via lymph to the gland, selectively (catalogue trait
  ``entero_mammary``).
* Maternal mouth → milk: the same immune-cell transfer from the oral cavity, smaller.
"""

from __future__ import annotations

from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import Process
from lactobiome.model.routes import apply_contact_routes
from lactobiome.model.state import DyadState


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    # rows of the route table carried by "translocation" (permeability and trait exposures)
    apply_contact_routes(state, ctx, "translocation")
    return state


PROCESS = Process("translocation", step, reads={"tight_junction_permeability", "junction_strain_opening"})
