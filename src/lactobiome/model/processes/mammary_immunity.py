"""The mammary immune response coupled to the microbes, and the living cells of milk.

Inflammation ``I`` (dimensionless; 1 = the level of clinical mastitis) relaxes each day
towards a stimulus made of milk stasis above a threshold and the pathobiont load of milk
(cells/mL) and stroma (cells), each taxon weighted by its ``pathogenic_potential``:
``I_t = I_{t-1} a + (1 - a) S_t`` with ``a = exp(-1 / tau)``.

Leucocytes are recruited into milk as a steep (Hill) function of ``I`` — the lactating
breast tolerates low-grade stimulation but answers clinical inflammation with a flood of
neutrophils (Hassiotou et al. 2013: leucocytes up to ~94% of milk cells in infection, back
to baseline on recovery). Recruited leucocytes kill bacteria in milk and stroma at a rate
proportional to their number and to each taxon's ``immunogenicity``: the predator–prey
form of Detilleux et al.'s dairy mastitis model (bacteria removed at a rate ∝ phagocytes ×
bacteria), here in closed form over one day. Taxa that form biofilm on the ductal epithelium
partly escape (slime, ica polysaccharide: Delgado et al. 2009 for S. epidermidis from
mastitis milk): the clearance weight is ``immunogenicity × (1 - e × ductal_biofilm)``, so
planktonic streptococci are cleared first and coagulase-negative staphylococci last.
The cells of a ductal biofilm on the duct wall (mothers with a biofilm-forming strain:
:func:`lactobiome.model.biofilm.attached_share`) do not enter the stimulus:
in their matrix they are hidden from the milk's immune sensing, the reason biofilm infections
by S. epidermidis are indolent rather than acute (Delgado et al. 2009 for mastitis strains).

Milk cells per mL: epithelial cells (lactocytes, myoepithelial cells) shed from renewing
alveoli, more in colostrum; stem cells as a per-dyad share of epithelial cells (present
throughout lactation); leucocytes = a per-dyad mature baseline + a colostral excess that
fades over the first week + recruited leucocytes + an extra influx while the infant is ill
(scenario ``infant_illness`` events).

Fever is the systemic answer to the inflamed gland: the pyrogenic cytokines (IL-1b, IL-6,
TNF) the gland releases reach the blood in proportion to how much tissue is inflamed and how
strongly, which is what ``I`` carries, and the mother is febrile on a day her inflammation is
at or above ``fever_inflammation_threshold`` (:func:`febrile`). Fever has no organism term of
its own: the pathogen acts through the inflammation it causes, and in the studies that
cultured milk the symptoms did not follow the bacteria (Kvist et al. Int Breastfeed J
2008;3:6: no correlation between milk bacterial counts and symptom scores; Thomsen et al. Am
J Obstet Gynecol 1984;149:492-495 told infectious from non-infectious inflammation only by
milk leucocyte counts and culture). Subacute mastitis, whose dysbiosis does not reach clinical inflammation, is afebrile,
as it is defined (Mediano et al. 2014). Fever feeds back on nothing in the model: it is an
output that case definitions and consultation read.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.biofilm import attached_share
from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import Process
from lactobiome.model.leucocytes import recruited_per_ml
from lactobiome.model.population import intervention_attribute
from lactobiome.model.processes.lactation import _decay
from lactobiome.model.scenario import Scenario
from lactobiome.model.sites import SITE_INDEX
from lactobiome.model.state import DyadState

_MILK = SITE_INDEX["milk"]
_STROMA = SITE_INDEX["breast_stroma"]


def pathobiont_load(state: DyadState, ctx: SimulationContext,
                    planktonic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Pathogenic-potential-weighted cells: milk (per mL) and stroma (total), each (dyad,).

    With ``planktonic`` the milk load leaves out the cells attached to the duct wall
    (:func:`lactobiome.model.biofilm.attached_share`): the load the milk's
    immune sensing meets. Without it, every cell of the milk site (what a culture counts).
    """
    milk = milk_pathobiont_per_ml(state, ctx, planktonic)
    stroma = (state.cells_in(_STROMA) * ctx.taxa["pathogenic_potential"].astype(np.float64)).sum(axis=1)
    return milk, stroma


def milk_pathobiont_per_ml(state: DyadState, ctx: SimulationContext, planktonic: bool = False) -> np.ndarray:
    """The milk part of :func:`pathobiont_load` alone (cells/mL), shape (dyad,)."""
    pp = ctx.taxa["pathogenic_potential"].astype(np.float64)
    cells = state.cells_in(_MILK)
    if planktonic:
        cells = cells * (1.0 - attached_share(state, ctx))
    return (cells * pp).sum(axis=1) / state.host["milk_pool_ml"]


def infant_ill(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Whether each dyad's infant is ill today (scenario ``infant_illness`` events)."""
    ill = np.zeros(state.n_dyads, dtype=bool)
    for number, event in enumerate(ctx.scenario.interventions):
        if event.kind != "infant_illness" or not event.start_day <= state.day <= event.stop_day:
            continue
        ill |= state.attributes[intervention_attribute(number)]
    return ill


def febrile(inflammation: np.ndarray, ctx: SimulationContext) -> np.ndarray:
    """Whether each mother has fever today, from her inflammation (dimensionless), (dyad,) bool.

    The threshold is an assumption fitted to the share of women with mastitis who have fever
    (target D33; see ``fever_inflammation_threshold`` in the parameter table).
    """
    return inflammation >= ctx.p("fever_inflammation_threshold", "1")


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    host = state.host
    day = state.day

    # --- inflammation from stasis and pathobiont load; cells of a ductal biofilm sit in their
    # matrix on the duct wall and do not stimulate: only the milk-borne ones count
    sensed_load, stroma_load = pathobiont_load(state, ctx, planktonic=True)
    stimulus = (ctx.p("stasis_inflammation_gain", "1")
                * np.maximum(host["stasis"] - ctx.p("stasis_inflammation_threshold", "1"), 0.0)
                + sensed_load / ctx.p("milk_pathobiont_inflammation_ref", "cells/mL")
                + stroma_load / ctx.p("stroma_pathobiont_inflammation_ref", "cells"))
    # a mother who does not lactate (no breast milk given) has no lactational mastitis
    stimulus = np.where(host["milk_production_ml"] > 0.0, stimulus, 0.0)
    keep = np.exp(-1.0 / ctx.p("inflammation_time_days", "day"))
    inflammation = host["inflammation"] * keep + (1.0 - keep) * stimulus

    # --- leucocyte recruitment (steep in I) and clearance weighted by immunogenicity
    recruited = recruited_per_ml(inflammation, ctx)
    pressure = recruited / ctx.p("leucocyte_clearance_reference_per_ml", "cells/mL")
    active = pressure > 0.0
    if active.any():
        # cells in ductal biofilm escape phagocytes (slime, ica polysaccharide): clearance falls
        # with the taxon's ductal biofilm trait, so planktonic streptococci go first
        evasion = np.clip(ctx.p("leucocyte_evasion_per_biofilm", "1") * ctx.taxa["ductal_biofilm"], 0.0, 1.0)
        immunogenicity = (ctx.taxa["immunogenicity"] * (1.0 - evasion))[None, :]
        every_dyad = bool(active.all())
        for site, rate in ((_MILK, ctx.p("leucocyte_clearance_milk_per_day", "1/day")),
                           (_STROMA, ctx.p("leucocyte_clearance_stroma_per_day", "1/day"))):
            if every_dyad:  # the same float32 factors without the masked gather and scatter
                state.scale_site(site, np.exp(-rate * immunogenicity * pressure[:, None]))
                continue
            survival = np.ones((state.n_dyads, immunogenicity.shape[1]), dtype=np.float32)  # x 1 changes nothing
            survival[active] = np.exp(-rate * immunogenicity * pressure[active, None])
            state.scale_site(site, survival)
    # what a culture of the milk counts: every cell, attached or milk-borne
    milk_load = milk_pathobiont_per_ml(state, ctx)

    # --- milk cells
    epithelial = (ctx.p("milk_epithelial_mature_per_ml", "cells/mL")
                  * state.attributes["milk_epithelial_factor"]
                  * (1.0 + ctx.p("milk_epithelial_colostrum_excess", "1")
                     * _decay(day, ctx.p("milk_cells_colostrum_time_days", "day"))))
    stem = epithelial * ctx.p("milk_stem_cells_per_epithelial", "1") * state.attributes["milk_stem_cell_factor"]
    leucocytes = (ctx.p("milk_leucocytes_mature_per_ml", "cells/mL")
                  * state.attributes["milk_leucocyte_factor"]
                  + ctx.p("milk_leucocytes_colostrum_excess_per_ml", "cells/mL")
                  * _decay(day, ctx.p("milk_leucocytes_colostrum_time_days", "day"))
                  + recruited
                  + ctx.p("infant_illness_leucocytes_per_ml", "cells/mL") * infant_ill(state, ctx))
    total = epithelial + stem + leucocytes

    host["inflammation"] = inflammation
    host["pathobiont_per_ml"] = milk_load
    host["somatic_cells_per_ml"] = total
    host["leucocyte_fraction"] = leucocytes / total
    host["epithelial_fraction"] = epithelial / total
    host["stem_cell_fraction"] = stem / total
    host["fever"] = febrile(inflammation, ctx)
    return state


def _ill(scenario: Scenario) -> set[str]:
    return {intervention_attribute(i) for i, e in enumerate(scenario.interventions) if e.kind == "infant_illness"}


PROCESS = Process(
    "mammary_immunity", step,
    reads={"stasis", "milk_production_ml", "milk_pool_ml", "milk_volume_ml"},
    reads_previous={"inflammation"},
    writes={"inflammation", "pathobiont_per_ml", "somatic_cells_per_ml", "leucocyte_fraction",
            "epithelial_fraction", "stem_cell_fraction", "fever"},
    attributes={"milk_epithelial_factor", "milk_stem_cell_factor", "milk_leucocyte_factor", "biofilm_strain"},
    scenario_attributes=_ill,
)
