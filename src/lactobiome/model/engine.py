"""The one-day step and the run of a chunk of dyads.

A day applies the process modules in a fixed order (DESIGN §2):

0. ``feeding_plan`` – today's breast-milk share and solids intake (feeding plans)
1. ``lactation``  – today's milk volume, feeds, tight-junction permeability
2. ``residents``  – day 1: the mother's resident communities
3. ``birth``      – day 1: the birth inoculum
4. ``milk_carryover`` – the infant drains the milk that was in the pool at dawn
5. ``feeding``    – contact routes of feeds at the breast (skin, retrograde flow, saliva)
6. ``translocation`` – stroma, maternal gut (entero-mammary) and mouth → milk
7. ``milk_today`` – the infant drains the day's new milk cells; milk film on the skin
8. ``environment`` – background immigration
9. ``probiotics`` – dosed strains
9b. ``infant_gut`` – oxygen, HMOs, sIgA, solids and stool washout in the infant gut
9c. ``colonisation_resistance`` – protective commensals slow pathobionts in stroma and milk
10. ``growth``    – growth and competition within each site
11. ``mammary_immunity`` – inflammation, leucocyte recruitment and clearance, milk cells, fever
12. ``antibiotics`` – intrapartum, scheduled and treatment courses kill susceptible taxa
13. ``entero_mammary_immunity`` – sIgA specificity follows the maternal gut
14. ``mastitis``  – the mastitis-spectrum state; treatment policies start courses
15. record

``skin_barrier`` (nipple fissures let skin pathobionts in) runs after ``feeding`` and
``treatment_probiotic`` (probiotic courses started by a treatment policy) after
``probiotics``.

Steps 4 and 7 integrate the continuously drained milk pool exactly over the day.

Processes are plain functions ``step(state, ctx) -> state``; the list is data, so a
scenario or a test can run any subset in any order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lactobiome.model.context import SimulationContext
from lactobiome.model.parameters import ParameterTable
from lactobiome.model.population import draw_population
from lactobiome.model.processes import (
    antibiotics,
    birth,
    colonisation_resistance,
    entero_mammary_immunity,
    environment,
    feeding,
    feeding_plan,
    growth,
    infant_gut,
    lactation,
    mammary_immunity,
    mastitis,
    milk_removal,
    probiotics,
    residents,
    skin_barrier,
    translocation,
)
from lactobiome.model.random import RandomStreams
from lactobiome.model.scenario import Scenario
from lactobiome.model.sites import SITE_INDEX
from lactobiome.model.state import DyadState
from lactobiome.model.taxa import TaxaCatalogue

Process = Callable[[DyadState, SimulationContext], DyadState]

DEFAULT_PROCESSES: tuple[tuple[str, Process], ...] = (
    ("feeding_plan", feeding_plan.step),
    ("lactation", lactation.step),
    ("residents", residents.step),
    ("birth", birth.step),
    ("milk_carryover", milk_removal.carryover),
    ("feeding", feeding.step),
    ("skin_barrier", skin_barrier.step),
    ("translocation", translocation.step),
    ("milk_today", milk_removal.today),
    ("environment", environment.step),
    ("probiotics", probiotics.step),
    ("treatment_probiotic", mastitis.dose_probiotic),
    ("infant_gut", infant_gut.step),
    ("colonisation_resistance", colonisation_resistance.step),
    ("growth", growth.step),
    ("mammary_immunity", mammary_immunity.step),
    ("antibiotics", antibiotics.step),
    ("entero_mammary_immunity", entero_mammary_immunity.step),
    ("mastitis", mastitis.step),
)

PANEL_VARIABLES: tuple[str, ...] = (
    "milk_volume_ml", "milk_bacteria_per_ml", "milk_staphylococci_per_ml", "infant_gut_oxygen",
    "breast_milk_share_today", "solids_fraction",
)
HOST_PANEL_VARIABLES: tuple[str, ...] = (
    "hmo_g_per_l", "siga_g_per_l", "na_k_ratio", "somatic_cells_per_ml", "leucocyte_fraction",
    "epithelial_fraction", "stem_cell_fraction", "inflammation", "fever", "mastitis_state", "treatment", "stasis",
)
PANEL_VARIABLES = PANEL_VARIABLES + HOST_PANEL_VARIABLES
"""Host variables recorded every day, shape (dyad, day)."""


@dataclass
class ChunkResult:
    """What a chunk of dyads produced."""

    dyad_ids: np.ndarray
    attributes: dict[str, np.ndarray]
    record_days: list[int]
    abundance: np.ndarray  # (dyad, sample_day, site, taxon, origin), float32
    panel: dict[str, np.ndarray]  # name -> (dyad, day)


def _panel_values(state: DyadState, staphylococci: np.ndarray) -> dict[str, np.ndarray]:
    """Today's panel row per dyad; ``staphylococci`` marks the Staphylococcus taxa (the count a
    mastitis milk culture reports)."""
    milk = state.cells_in(SITE_INDEX["milk"])
    values = {name: state.host[name] for name in PANEL_VARIABLES if name in state.host}
    values["milk_bacteria_per_ml"] = milk.sum(axis=1) / state.host["milk_pool_ml"]
    values["milk_staphylococci_per_ml"] = milk[:, staphylococci].sum(axis=1) / state.host["milk_pool_ml"]
    return values


def run_chunk(
    scenario: Scenario,
    parameters: ParameterTable,
    taxa: TaxaCatalogue,
    dyad_ids: np.ndarray,
    processes: Sequence[tuple[str, Process]] = DEFAULT_PROCESSES,
    on_day: Callable[[int], None] | None = None,
) -> ChunkResult:
    """Simulate the dyads ``dyad_ids`` for the scenario's days.

    Parameters
    ----------
    scenario, parameters, taxa
        The run's inputs; ``parameters`` should already carry the scenario's overrides.
    dyad_ids
        Global ids; a dyad's result depends only on its id and the seed.
    processes
        The ordered (name, step) list of the one-day step.
    on_day
        Called after each day with the day number (for progress bars).
    """
    dyad_ids = np.asarray(dyad_ids, dtype=np.int64)
    attributes = draw_population(scenario, parameters, dyad_ids)
    state = DyadState.empty(dyad_ids, len(taxa), attributes)
    ctx = SimulationContext(scenario, parameters, taxa, RandomStreams(scenario.cohort.seed, dyad_ids))
    days = scenario.cohort.days
    record_days = scenario.record_days()
    record_at = {day: i for i, day in enumerate(record_days)}
    abundance = np.zeros((len(dyad_ids), len(record_days), *state.abundance.shape[1:]), dtype=np.float32)
    panel: dict[str, np.ndarray] = {}
    staphylococci = np.asarray(taxa["genus"]).astype(str) == "Staphylococcus"
    for day in range(1, days + 1):
        state.day = day
        state.growth_modifier.fill(1.0)
        for _, process in processes:
            state = process(state, ctx)
        for name, values in _panel_values(state, staphylococci).items():
            if name not in panel:  # allocated once: a fresh (dyad, day) array every day cost ~5%
                panel[name] = np.zeros((len(dyad_ids), days))
            panel[name][:, day - 1] = values
        if day in record_at:
            abundance[:, record_at[day]] = state.abundance
        if on_day is not None:
            on_day(day)
    return ChunkResult(dyad_ids, attributes, record_days, abundance, panel)
