"""Probiotic dosing: each strain is its own catalogue taxon so its spread can be traced.

Maternal oral strains enter the maternal gut (a share survives gastric transit) and can
reach milk only by the entero-mammary route; infant strains go straight to the infant gut.
Dosed cells are tagged ``probiotic``.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.population import intervention_attribute
from lactobiome.model.scenario import Scenario
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import immigrate

_RECEIVER = {"maternal_oral": "maternal_gut", "infant_oral": "infant_gut"}


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    survival = ctx.p("probiotic_gastric_survival", "fraction")
    for number, regimen in enumerate(ctx.scenario.interventions):
        if regimen.kind != "probiotic" or not regimen.start_day <= state.day <= regimen.stop_day:
            continue
        dosed = state.attributes[intervention_attribute(number)]
        if not dosed.any():
            continue
        expected = np.zeros((state.n_dyads, len(ctx.taxa)))
        expected[dosed, ctx.taxa.index(regimen.strain)] = regimen.cfu_per_day * survival
        immigrate(state, _RECEIVER[regimen.route], "probiotic", expected, ctx.rng,
                  stream_id(f"probiotics.{number}"))
    return state


def _covered(scenario: Scenario) -> set[str]:
    return {intervention_attribute(i) for i, r in enumerate(scenario.interventions) if r.kind == "probiotic"}


PROCESS = Process("probiotics", step, scenario_attributes=_covered)
