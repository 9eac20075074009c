"""Antibiotic exposure: intrapartum prophylaxis, scheduled courses and treatment courses.

A day of exposure to a class kills the catalogue's ``kill_<class>`` share of each taxon
(all origins alike, so provenance is kept) in the exposed sites. A maternal course exposes
the mother's sites and milk; a small share of the dose reaches a breastfed infant through
milk (relative infant dose), acting on the infant's sites. An infant course exposes the
infant's sites. Intrapartum prophylaxis is penicillin exposure of the mother's sites (gut, mouth,
breast stroma, milk, areolar skin) over the first ``intrapartum_antibiotic_maternal_days``
(labour and doses until delivery): it depletes protective, penicillin-susceptible commensals (lactobacilli,
streptococci, bifidobacteria) while the mostly resistant staphylococci survive and take
the space, as colonisation resistance (``colonisation_resistance``) no longer holds them
back (the risk-factor mechanism). Its effect on the newborn is the birth inoculum's.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import Process
from lactobiome.model.population import intervention_attribute
from lactobiome.model.scenario import Scenario
from lactobiome.model.sites import SITE_INDEX
from lactobiome.model.state import DyadState
from lactobiome.model.taxa import ANTIBIOTIC_CLASSES

_MATERNAL = [SITE_INDEX[s] for s in ("maternal_gut", "maternal_mouth", "breast_stroma", "milk", "areolar_skin")]
_INFANT = [SITE_INDEX[s] for s in ("infant_mouth", "infant_gut")]
_CLASS = {c: i for i, c in enumerate(ANTIBIOTIC_CLASSES)}


def exposure(state: DyadState, ctx: SimulationContext) -> tuple[np.ndarray, np.ndarray]:
    """Today's exposure of mother and infant to each class, each (dyad, class) in [0, 1]."""
    n, day = state.n_dyads, state.day
    mother = np.zeros((n, len(ANTIBIOTIC_CLASSES)))
    infant = np.zeros_like(mother)
    if 1 <= day <= ctx.p("intrapartum_antibiotic_maternal_days", "day"):
        mother[:, _CLASS["penicillin"]] = np.maximum(
            mother[:, _CLASS["penicillin"]],
            ctx.p("intrapartum_antibiotic_maternal_exposure", "fraction") * state.attributes["intrapartum_antibiotics"])
    for number, course in enumerate(ctx.scenario.interventions):
        if course.kind != "antibiotic" or not course.start_day <= day <= course.stop_day:
            continue
        covered = state.attributes[intervention_attribute(number)]
        target = mother if course.recipient == "mother" else infant
        c = _CLASS[course.antibiotic_class]
        target[:, c] = np.maximum(target[:, c], covered.astype(np.float64))
    policy = ctx.scenario.treatment
    if policy is not None and policy.antibiotic is not None:  # courses started by mastitis (yesterday)
        c = _CLASS[policy.antibiotic.antibiotic_class]
        until = state.host["treatment_antibiotic_until"]
        mother[:, c] = np.maximum(mother[:, c], (until >= day).astype(np.float64))
    # a small share of the mother's dose reaches a breastfed infant through milk
    via_milk = ctx.p("antibiotic_relative_infant_dose", "fraction") * (state.host["milk_volume_ml"] > 0.0)
    infant = np.maximum(infant, mother * via_milk[:, None])
    return mother, infant


def scheduled_maternal_exposure(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Today's exposure of the mother to each class from the scenario's courses, (dyad, class) in [0, 1]."""
    mother = np.zeros((state.n_dyads, len(ANTIBIOTIC_CLASSES)))
    for number, course in enumerate(ctx.scenario.interventions):
        if course.kind != "antibiotic" or course.recipient != "mother":
            continue
        if not course.start_day <= state.day <= course.stop_day:
            continue
        c = _CLASS[course.antibiotic_class]
        mother[:, c] = np.maximum(mother[:, c], state.attributes[intervention_attribute(number)].astype(np.float64))
    return mother


def _kill(state: DyadState, ctx: SimulationContext, doses: tuple[tuple[np.ndarray, list[int]], ...]) -> None:
    kill = ctx.taxa.kill  # (class, taxon)
    for dose, sites in doses:
        exposed = dose.max(axis=1) > 0.0
        if not exposed.any():
            continue
        # survival over classes: product of (1 - kill * exposure)
        survival = np.prod(1.0 - dose[exposed, :, None] * kill[None, :, :], axis=1)  # (dyad, taxon)
        factor = survival[:, :, None].astype(np.float32)
        for s in sites:
            state.abundance[exposed, s] *= factor


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    mother, infant = exposure(state, ctx)
    _kill(state, ctx, ((mother, _MATERNAL), (infant, _INFANT)))
    return state


def prenatal_step(state: DyadState, ctx: SimulationContext) -> DyadState:
    """A prenatal day: the mother's scheduled courses act on her sites (there is no milk and no
    infant yet; intrapartum prophylaxis and treatment courses belong to the days after birth)."""
    _kill(state, ctx, ((scheduled_maternal_exposure(state, ctx), _MATERNAL),))
    return state


def _covered(scenario: Scenario) -> set[str]:
    return {intervention_attribute(i) for i, r in enumerate(scenario.interventions) if r.kind == "antibiotic"}


PRENATAL = Process("antibiotics", prenatal_step, scenario_attributes=_covered)
"""The mother's antibiotic courses on a prenatal day (same name as :data:`PROCESS`)."""

PROCESS = Process(
    "antibiotics", step,
    reads={"milk_volume_ml"},
    reads_previous={"treatment_antibiotic_until"},
    attributes={"intrapartum_antibiotics"},
    scenario_attributes=_covered,
)
