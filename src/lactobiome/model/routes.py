"""The route table: every flow of cells in the model, the process that carries it, its switch.

Three kinds of row:

``move``
    Cells leave a donor site and enter a receiver tagged with the donor's name (the
    provenance rule). Rows with a ``rate`` are *first-order contact routes*: the chance that
    a donor cell moves today is ``1 - exp(-rate x exposure)``, where ``exposure`` is how
    often the route is driven today (feeds at the breast, milk ejections, days, junction
    permeability, or a catalogue trait). The feeding, translocation and milk-film steps are
    built from these rows alone (:func:`apply_contact_routes`), in table order.
``immigration``
    Cells from outside the dyad (resident founders, birth inoculum, environment, probiotic
    doses) enter a site tagged with their external origin.
``loss``
    Cells die or leave the dyad within a site (washout, immune clearance, antibiotics,
    colonisation resistance); all origins of a taxon lose alike, so provenance shares hold.

A row with a ``switch`` is on when the scenario's ``routes.<switch>`` is true; rows with an
``active`` condition are on only when the scenario asks for them (e.g. a probiotic regimen).
The engine's contract check requires every active row's process to be in the process list,
and the route tests switch each route off from this same table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from lactobiome.model.biofilm import milk_borne_share
from lactobiome.model.context import stream_id
from lactobiome.model.transfer import Moves

if TYPE_CHECKING:
    from lactobiome.model.context import SimulationContext
    from lactobiome.model.scenario import Scenario
    from lactobiome.model.state import DyadState

Exposure = Literal["direct_feeds", "milk_ejections", "day", "junction_permeability", "milk_back_flow",
                   "entero_mammary_trait", "secretory_tissue", "entero_mammary_late_pregnancy"]
_UNIT: dict[str, str] = {
    "direct_feeds": "1/feed",
    "milk_ejections": "1/ejection",
    "day": "1/day",
    "junction_permeability": "1/day",
    "milk_back_flow": "1/day",
    "entero_mammary_trait": "1/day",
    "secretory_tissue": "1/day",
    "entero_mammary_late_pregnancy": "1/day",
}

Phase = Literal["postnatal", "prenatal"]


@dataclass(frozen=True)
class Route:
    """One row of the route table."""

    name: str
    kind: Literal["move", "immigration", "loss"]
    donor: str
    """Donor site (move), external origin (immigration) or the site itself (loss)."""
    receiver: str
    process: str
    """Name of the process that carries the route."""
    switch: str | None = None
    """Field of the scenario's ``routes`` that turns the row off; None = always on."""
    rate: str | None = None
    """Parameter of a first-order contact route (per unit of ``exposure``)."""
    exposure: Exposure | None = None
    stream: str | None = None
    """Random-stream name of a contact route."""
    active: Callable[[Scenario], bool] | None = None
    """Whether the scenario asks for the row at all (interventions); None = always."""
    phase: Phase = "postnatal"
    """The one-day step that carries the row: the engine's postnatal list or, on the prenatal
    days of a run with ``cohort.pregnancy_days``, its prenatal list
    (:data:`lactobiome.model.engine.PRENATAL_PROCESSES`)."""


def _has_probiotic(route_name: str) -> Callable[[Scenario], bool]:
    def active(scenario: Scenario) -> bool:
        return any(r.kind == "probiotic" and r.route == route_name for r in scenario.interventions)
    return active


def _has_pregnancy(scenario: Scenario) -> bool:
    return scenario.cohort.pregnancy_days > 0


def _treatment_probiotic(scenario: Scenario) -> bool:
    return scenario.treatment is not None and scenario.treatment.probiotic is not None


def _contact(name: str, donor: str, receiver: str, process: str, switch: str, rate: str,
             exposure: Exposure, stream: str) -> Route:
    return Route(name, "move", donor, receiver, process, switch, rate, exposure, stream)


ROUTES: tuple[Route, ...] = (
    # founders and external sources
    *(Route(f"resident_{site}", "immigration", "resident", site, "residents")
      for site in ("maternal_gut", "maternal_mouth", "breast_stroma", "areolar_skin")),
    Route("birth_inoculum_gut", "immigration", "birth", "infant_gut", "birth", "birth_inoculum"),
    Route("birth_inoculum_mouth", "immigration", "birth", "infant_mouth", "birth", "birth_inoculum"),
    # milk removal: the infant drains the ductal pool (carry-over before the day's inputs)
    Route("milk_carryover_to_infant_mouth", "move", "milk", "infant_mouth", "milk_carryover", "milk_to_infant"),
    Route("milk_carryover_to_infant_gut", "move", "milk", "infant_gut", "milk_carryover", "milk_to_infant"),
    # feeds at the breast (table order is the order of the moves within the day)
    _contact("areolar_skin_to_milk", "areolar_skin", "milk", "feeding", "areolar_skin_to_milk",
             "areolar_skin_to_milk_per_feed", "direct_feeds", "feeding.areolar_skin_to_milk"),
    _contact("retrograde", "infant_mouth", "milk", "feeding", "retrograde",
             "retrograde_infant_mouth_to_milk_per_ejection", "milk_ejections", "feeding.retrograde"),
    _contact("areolar_skin_to_infant_mouth", "areolar_skin", "infant_mouth", "feeding",
             "areolar_skin_to_infant_mouth", "areolar_skin_to_infant_mouth_per_feed", "direct_feeds",
             "feeding.areolar_skin_to_infant_mouth"),
    _contact("areolar_skin_to_infant_gut", "areolar_skin", "infant_gut", "feeding", "areolar_skin_to_infant_gut",
             "areolar_skin_swallowed_per_feed", "direct_feeds", "feeding.areolar_skin_to_infant_gut"),
    _contact("infant_mouth_to_areolar_skin", "infant_mouth", "areolar_skin", "feeding",
             "infant_mouth_to_areolar_skin", "infant_mouth_to_areolar_skin_per_feed", "direct_feeds",
             "feeding.infant_mouth_to_areolar_skin"),
    _contact("maternal_mouth_to_infant_mouth", "maternal_mouth", "infant_mouth", "feeding",
             "maternal_mouth_to_infant_mouth", "maternal_mouth_to_infant_mouth_per_day", "day",
             "feeding.maternal_mouth_to_infant_mouth"),
    _contact("infant_mouth_to_infant_gut", "infant_mouth", "infant_gut", "feeding", "infant_mouth_to_infant_gut",
             "infant_mouth_swallowed_per_day", "day", "feeding.infant_mouth_to_infant_gut"),
    # nipple fissures are part of the skin-to-milk route: its switch closes them too
    Route("nipple_fissure_to_stroma", "move", "areolar_skin", "breast_stroma", "skin_barrier",
          "areolar_skin_to_milk"),
    Route("nipple_fissure_to_milk", "move", "areolar_skin", "milk", "skin_barrier", "areolar_skin_to_milk"),
    # translocation into milk
    _contact("stroma_to_milk", "breast_stroma", "milk", "translocation", "stroma_to_milk",
             "stroma_to_milk_per_day", "junction_permeability", "translocation.stroma_to_milk"),
    _contact("milk_to_stroma", "milk", "breast_stroma", "translocation", "milk_to_stroma",
             "milk_to_stroma_per_day", "milk_back_flow", "translocation.milk_to_stroma"),
    _contact("entero_mammary", "maternal_gut", "milk", "translocation", "entero_mammary",
             "entero_mammary_per_day", "entero_mammary_trait", "translocation.entero_mammary"),
    _contact("maternal_mouth_to_milk", "maternal_mouth", "milk", "translocation", "maternal_mouth_to_milk",
             "oral_mammary_per_day", "secretory_tissue", "translocation.maternal_mouth_to_milk"),
    # before birth there is no milk: in late pregnancy the same immune-cell route carries gut
    # bacteria to the gland itself (prenatal days only; its switch is the entero-mammary one)
    Route("entero_mammary_pregnancy", "move", "maternal_gut", "breast_stroma", "translocation_prenatal",
          "entero_mammary", "entero_mammary_pregnancy_per_day", "entero_mammary_late_pregnancy",
          "translocation.entero_mammary_pregnancy", active=_has_pregnancy, phase="prenatal"),
    # milk removal of the day's new cells, and the milk film left on the skin
    Route("milk_today_to_infant_mouth", "move", "milk", "infant_mouth", "milk_today", "milk_to_infant"),
    Route("milk_today_to_infant_gut", "move", "milk", "infant_gut", "milk_today", "milk_to_infant"),
    _contact("milk_to_areolar_skin", "milk", "areolar_skin", "milk_today", "milk_to_areolar_skin",
             "milk_to_areolar_skin_per_feed", "direct_feeds", "milk_removal.film_to_areolar_skin"),
    # background and interventions
    *(Route(f"environment_to_{site}", "immigration", "environment", site, "environment", "environment")
      for site in ("infant_mouth", "infant_gut", "areolar_skin")),
    Route("probiotic_maternal_oral", "immigration", "probiotic", "maternal_gut", "probiotics",
          active=_has_probiotic("maternal_oral")),
    Route("probiotic_infant_oral", "immigration", "probiotic", "infant_gut", "probiotics",
          active=_has_probiotic("infant_oral")),
    Route("probiotic_treatment", "immigration", "probiotic", "maternal_gut", "treatment_probiotic",
          active=_treatment_probiotic),
    # the infant gut as a habitat
    Route("maternal_gut_to_infant_gut", "move", "maternal_gut", "infant_gut", "infant_gut",
          "maternal_gut_to_infant_gut"),
    Route("infant_gut_washout", "loss", "infant_gut", "infant_gut", "infant_gut"),
    Route("intrapartum_antibiotic_newborn", "loss", "infant_gut", "infant_gut", "infant_gut"),
    Route("colonisation_resistance_stroma", "loss", "breast_stroma", "breast_stroma", "colonisation_resistance"),
    Route("colonisation_resistance_milk", "loss", "milk", "milk", "colonisation_resistance"),
    Route("growth_and_crowding", "loss", "all sites", "all sites", "growth"),
    Route("leucocyte_clearance_milk", "loss", "milk", "milk", "mammary_immunity"),
    Route("leucocyte_clearance_stroma", "loss", "breast_stroma", "breast_stroma", "mammary_immunity"),
    Route("antibiotic_kill", "loss", "all sites", "all sites", "antibiotics"),
)
"""Every route of the model, in the order the default one-day step applies them."""

ROUTE_BY_NAME: dict[str, Route] = {r.name: r for r in ROUTES}
if len(ROUTE_BY_NAME) != len(ROUTES):  # pragma: no cover - a table edit that repeats a name
    raise RuntimeError("route names in ROUTES must be unique")


def route_on(route: Route, scenario: Scenario) -> bool:
    """Whether the scenario has ``route`` on (its switch, and its condition if any)."""
    if route.switch is not None and not getattr(scenario.routes, route.switch):
        return False
    return route.active is None or route.active(scenario)


def active_routes(scenario: Scenario, phase: Phase | None = None) -> list[Route]:
    """The rows of :data:`ROUTES` the scenario has on (those of one ``phase``, if given)."""
    return [r for r in ROUTES if route_on(r, scenario) and (phase is None or r.phase == phase)]


def carried_by(process: str) -> tuple[Route, ...]:
    """The rows carried by the named process, in table order."""
    return tuple(r for r in ROUTES if r.process == process)


def _exposure(kind: Exposure, state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """How often a contact route is driven today, broadcastable to (dyad, taxon)."""
    if kind == "direct_feeds":
        return state.host["direct_feeds_per_day"][:, None]
    if kind == "milk_ejections":
        ejections = state.host["direct_feeds_per_day"] * ctx.p("milk_ejections_per_feed", "ejections/feed")
        return ejections[:, None]
    # inflows into milk cross the secreting epithelium: a breast that keeps a share of its
    # alveoli (secretory_tissue_share, lactation) has that share of the junctions and of the
    # immune-cell traffic into its milk
    if kind == "junction_permeability":
        return (state.host["tight_junction_permeability"] * state.host["secretory_tissue_share"])[:, None]
    if kind == "milk_back_flow":
        # the strain-opened part always lets milk back; the rest of the opening (colostral,
        # residual leak) only for the share milk_back_flow_colostral_share (1: all of it)
        permeability = state.host["tight_junction_permeability"]
        unstrained = permeability - state.host["junction_strain_opening"]
        share = ctx.p("milk_back_flow_colostral_share", "fraction")
        return (permeability - (1.0 - share) * unstrained)[:, None]
    if kind == "entero_mammary_trait":
        return (np.asarray(ctx.taxa["entero_mammary"], dtype=np.float64)[None, :]
                * state.host["secretory_tissue_share"][:, None])
    if kind == "secretory_tissue":
        return state.host["secretory_tissue_share"][:, None]
    if kind == "entero_mammary_late_pregnancy":
        # the route opens in late pregnancy: the last entero_mammary_pregnancy_days before birth
        late = state.day >= 1 - ctx.p("entero_mammary_pregnancy_days", "day")
        return np.asarray(ctx.taxa["entero_mammary"], dtype=np.float64)[None, :] * float(late)
    return np.ones((1, 1))


def apply_contact_routes(state: DyadState, ctx: SimulationContext, process: str) -> None:
    """Apply the first-order contact routes the table gives ``process``, in table order."""
    moves = Moves(state, ctx.rng)
    for route in carried_by(process):
        if route.rate is None or route.exposure is None or route.stream is None:
            continue
        if not route_on(route, ctx.scenario):
            continue
        rate = ctx.p(route.rate, _UNIT[route.exposure])
        share = 1.0 - np.exp(-rate * _exposure(route.exposure, state, ctx))
        if route.donor == "milk":
            # what the milk carries leaves the duct wall's biofilm behind (lactobiome.model.biofilm)
            share = share * milk_borne_share(state, ctx)
        moves.add(route.donor, route.receiver, share, stream_id(route.stream))
    moves.apply()


def live_origins() -> np.ndarray:
    """Which origins can ever hold cells in which site, from the ``move`` and ``immigration`` rows.

    Returns
    -------
    numpy.ndarray
        Boolean (site, origin): true where some row of :data:`ROUTES` brings cells of that
        origin into that site (whatever the switches). Every other entry of a state run by the
        engine stays zero, so kernels skip it (:func:`lactobiome.model.state.origin_lists`).
    """
    from lactobiome.model.sites import ORIGIN_INDEX, SITE_INDEX, SITES

    live = np.zeros((len(SITES), len(ORIGIN_INDEX)), dtype=bool)
    for route in ROUTES:
        if route.kind in ("move", "immigration"):
            live[SITE_INDEX[route.receiver], ORIGIN_INDEX[route.donor]] = True
    return live
