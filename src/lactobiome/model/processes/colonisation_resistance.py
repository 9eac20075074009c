"""Colonisation resistance: protective commensals of the breast hold pathobionts back.

Lactic-acid bacteria and other commensals of milk and the breast stroma inhibit
Staphylococcus aureus and other pathobionts (bacteriocins, lactic acid, competition for
adhesion sites: Heikkilä & Saris 2003, J Appl Microbiol 95:471-478 — 20% of milk commensal
isolates inhibited S. aureus; Fernández et al. 2014, Pharmacol Res 85:1-8 — mastitis milk
has lost its lactobacilli). Depleting them (peripartum antibiotics, a risk factor) lets
staphylococci take the space.

Rule (a documented derivation from existing traits, no new catalogue column): a commensal
or probiotic taxon protects with weight ``w = clip(1 - pathogenic_potential / c, 0, 1)``
(``c`` = ``colonisation_resistance_pathogenic_cutoff``); pathobionts and contaminants have
``w = 0``. A taxon is inhibited in proportion to ``pathogenic_potential × (1 - w)``. In each
protected site (breast stroma and milk) the protective share ``P`` is the weighted
protective cells over all the site's cells, and a taxon with susceptibility ``σ`` loses
cells at the daily rate ``m σ P / (P + h)`` (``m`` = ``colonisation_resistance_max``, per
day; ``h`` = ``colonisation_resistance_half_share``), all origins alike. A death rate rather
than a slower growth rate: under Beverton–Holt crowding a slower rate only delays the
pathobiont, whereas a loss lowers the level it settles at (``λ f = 1 + (λ - 1) c`` at
equilibrium, with ``f`` the daily survival), so depleting the protectors raises the
pathobiont load of milk and stroma. Runs after the day's arrivals and before ``growth``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import Process
from lactobiome.model.sites import SITE_INDEX
from lactobiome.model.state import DyadState
from lactobiome.model.taxa import TaxaCatalogue

PROTECTED_SITES: tuple[str, ...] = ("breast_stroma", "milk")


def weights(taxa: TaxaCatalogue, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Protective weight and susceptibility of each taxon, each shape (taxon,).

    ``cutoff`` is ``colonisation_resistance_pathogenic_cutoff``.
    """
    pp = taxa["pathogenic_potential"].astype(np.float64)
    kind = np.asarray(taxa["kind"]).astype(str)
    weight = np.where(np.isin(kind, ("commensal", "probiotic")), np.clip(1.0 - pp / cutoff, 0.0, 1.0), 0.0)
    return weight, pp * (1.0 - weight)


def prepare(ctx: SimulationContext, attributes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The catalogue's protective weights and susceptibilities, once per chunk."""
    weight, susceptibility = weights(ctx.taxa, ctx.p("colonisation_resistance_pathogenic_cutoff", "1"))
    return {"weight": weight, "susceptibility": susceptibility}


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    tables = ctx.table("colonisation_resistance")
    weight, susceptibility = tables["weight"], tables["susceptibility"]
    top = ctx.p("colonisation_resistance_max_per_day", "1/day")
    if top <= 0.0:
        return state
    half = ctx.p("colonisation_resistance_half_share", "fraction")
    for name in PROTECTED_SITES:
        s = SITE_INDEX[name]
        # row sums rather than a BLAS product: identical whatever the batch size (chunking)
        cells = state.cells_in(s)
        protective = (cells * weight[None, :]).sum(axis=1)
        total = cells.sum(axis=1)
        density = np.divide(protective, total, out=np.zeros(state.n_dyads), where=total > 0.0)
        rate = top * density / (density + half)
        state.scale_site(s, np.exp(-rate[:, None] * susceptibility[None, :]).astype(np.float32))
    return state


PROCESS = Process("colonisation_resistance", step, prepare=prepare)
