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

All three inflows cross the secreting epithelium, so they scale with the breast's
``secretory_tissue_share`` (lactation): a breast that gives the infant a twentieth of its
milk keeps about a twentieth of its alveoli, junctions and immune-cell traffic into milk
(proportionality is an assumption; that secreting tissue follows production is Kent et al.
1999). The back-flow from milk is per milk cell and needs no such factor: the pool shrinks
with the tissue.

Before birth (:data:`PRENATAL`, on the prenatal days of a run with ``cohort.pregnancy_days``)
there is no milk: in late pregnancy the entero-mammary route carries maternal-gut bacteria to
the gland itself (breast stroma), from which they reach the first milk after birth
(Rodríguez 2014, Adv Nutr 5:779-784; bacterial translocation to mesenteric lymph nodes and the
mammary gland rises in late pregnancy in mice: Perez et al. 2007, Pediatrics 119:e724-e732).
"""

from __future__ import annotations

from lactobiome.model.biofilm import NEEDS_ATTRIBUTES, NEEDS_HOST
from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import Process
from lactobiome.model.routes import apply_contact_routes
from lactobiome.model.state import DyadState


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    # rows of the route table carried by "translocation" (permeability and trait exposures)
    apply_contact_routes(state, ctx, "translocation")
    return state


PROCESS = Process("translocation", step, reads={"tight_junction_permeability", "junction_strain_opening",
                                                "secretory_tissue_share", *NEEDS_HOST},
                  attributes=NEEDS_ATTRIBUTES)


def prenatal_step(state: DyadState, ctx: SimulationContext) -> DyadState:
    # the prenatal rows of the route table (the entero-mammary route to the gland)
    apply_contact_routes(state, ctx, "translocation_prenatal")
    return state


PRENATAL = Process("translocation_prenatal", prenatal_step)
"""Translocation on a prenatal day: maternal gut → breast stroma in late pregnancy."""
