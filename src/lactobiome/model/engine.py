"""The one-day step and the run of a chunk of dyads.

A day applies the process modules of :data:`DEFAULT_PROCESSES` in order:

0. ``feeding_plan`` – today's breast-milk share and solids intake (feeding plans)
1. ``lactation``  – today's milk volume, feeds, composition, tight-junction permeability
2. ``residents``  – the first simulated day: the mother's resident communities
3. ``birth``      – day 1: the birth inoculum
4. ``milk_carryover`` – the infant drains the milk that was in the pool at dawn
5. ``feeding``    – contact routes of feeds at the breast (skin, retrograde flow, saliva)
6. ``skin_barrier`` – nipple fissures let skin pathobionts into stroma and milk
7. ``translocation`` – stroma, maternal gut (entero-mammary) and mouth → milk
8. ``milk_today`` – the infant drains the day's new milk cells; milk film on the skin
9. ``environment`` – background immigration
10. ``probiotics`` – dosed strains; ``treatment_probiotic`` – courses a treatment policy started
11. ``infant_gut`` – oxygen, HMOs, sIgA, solids and stool washout in the infant gut
12. ``colonisation_resistance`` – protective commensals slow pathobionts in stroma and milk
13. ``growth``    – growth and competition within each site
14. ``mammary_immunity`` – inflammation, leucocyte recruitment and clearance, milk cells, fever
15. ``antibiotics`` – intrapartum, scheduled and treatment courses kill susceptible taxa
16. ``entero_mammary_immunity`` – sIgA specificity follows the maternal gut
17. ``mastitis``  – the mastitis-spectrum state; treatment policies start courses
18. record the daily panel (and the abundance on sampling days)

Steps 4 and 8 integrate the continuously drained milk pool exactly over the day.

A cohort with ``pregnancy_days`` first runs the days of life ``1 - pregnancy_days .. 0`` with
:data:`PRENATAL_PROCESSES`: only the mother's own sites live (resident communities founded on
the first prenatal day grow and compete, maternal oral probiotics are dosed, her antibiotic
courses act, and in late pregnancy the entero-mammary route carries gut bacteria to the breast
stroma). No milk, infant site, feeding or host process runs before birth, so the host state at
birth is that of day 1 without pregnancy days; prenatal days draw from streams of their own
(:func:`lactobiome.model.random.stream_day`) and are not in the daily panel.

Each process is a :class:`lactobiome.model.contract.Process`: a step function and what it
reads and writes. The list is data, so a scenario or a test can run another order or subset,
and :func:`run_chunk` checks it against the contract before the first day
(:func:`lactobiome.model.contract.check_processes`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import AttributeView, HostStore, HostView, Process, check_processes
from lactobiome.model.parameters import ParameterTable
from lactobiome.model.population import draw_population
from lactobiome.model.previous_lactation import previous_mastitis
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
from lactobiome.model.routes import live_origins
from lactobiome.model.scenario import Scenario
from lactobiome.model.sites import ORIGINS, SITE_INDEX, SITES
from lactobiome.model.state import DyadState, origin_lists
from lactobiome.model.taxa import TaxaCatalogue

DEFAULT_PROCESSES: tuple[Process, ...] = (
    feeding_plan.PROCESS,
    lactation.PROCESS,
    residents.PROCESS,
    birth.PROCESS,
    milk_removal.CARRYOVER,
    feeding.PROCESS,
    skin_barrier.PROCESS,
    translocation.PROCESS,
    milk_removal.TODAY,
    environment.PROCESS,
    probiotics.PROCESS,
    mastitis.TREATMENT_PROBIOTIC,
    infant_gut.PROCESS,
    colonisation_resistance.PROCESS,
    growth.PROCESS,
    mammary_immunity.PROCESS,
    antibiotics.PROCESS,
    entero_mammary_immunity.PROCESS,
    mastitis.PROCESS,
)
"""The one-day step, in order."""

PRENATAL_PROCESSES: tuple[Process, ...] = (
    residents.PROCESS,
    translocation.PRENATAL,
    probiotics.PROCESS,
    colonisation_resistance.PROCESS,
    growth.PRENATAL,
    antibiotics.PRENATAL,
)
"""The step of a prenatal day, in the order of the same processes after birth."""

AT_BIRTH_SITES: tuple[str, ...] = ("maternal_gut", "breast_stroma")
"""Sites whose probiotic-strain cells at birth a run with pregnancy days records per dyad."""


def at_birth_attribute(site: str) -> str:
    """Name of the attribute holding the dosed strains' cells in ``site`` at birth (pregnancy runs)."""
    return f"probiotic_strain_cells_{site}_at_birth"

PANEL_VARIABLES: tuple[str, ...] = (
    "milk_volume_ml", "milk_bacteria_per_ml", "milk_staphylococci_per_ml", "infant_gut_oxygen",
    "breast_milk_share_today", "solids_fraction",
)
HOST_PANEL_VARIABLES: tuple[str, ...] = (
    "hmo_g_per_l", "siga_g_per_l", "na_k_ratio", "somatic_cells_per_ml", "leucocyte_fraction",
    "epithelial_fraction", "stem_cell_fraction", "inflammation", "fever", "mastitis_state", "treatment", "stasis",
)
PANEL_VARIABLES = PANEL_VARIABLES + HOST_PANEL_VARIABLES
"""Variables recorded every day, shape (dyad, day)."""

DERIVED_PANEL_VARIABLES: tuple[str, ...] = ("milk_bacteria_per_ml", "milk_staphylococci_per_ml")
"""Panel variables the engine computes from the milk community; the rest are host variables."""

RECORDED_HOST_VARIABLES: tuple[str, ...] = tuple(v for v in PANEL_VARIABLES if v not in DERIVED_PANEL_VARIABLES)


@dataclass
class ChunkResult:
    """What a chunk of dyads produced."""

    dyad_ids: np.ndarray
    attributes: dict[str, np.ndarray]
    record_days: list[int]
    abundance: np.ndarray  # (dyad, sample_day, site, taxon, origin), float32
    panel: dict[str, np.ndarray]  # name -> (dyad, day)
    pregnancy_days: int = 0  # prenatal days simulated before day 1 (not in the panel)


def _panel_values(state: DyadState, staphylococci: np.ndarray,
                  recorded: Sequence[str] = PANEL_VARIABLES) -> dict[str, np.ndarray]:
    """Today's panel row per dyad of the variables ``recorded``; ``staphylococci`` marks the
    Staphylococcus taxa (the count a mastitis milk culture reports)."""
    values = {name: state.host[name] for name in recorded if name not in DERIVED_PANEL_VARIABLES}
    if any(name in DERIVED_PANEL_VARIABLES for name in recorded):
        milk = state.cells_in(SITE_INDEX["milk"])
        values["milk_bacteria_per_ml"] = milk.sum(axis=1) / state.host["milk_pool_ml"]
        values["milk_staphylococci_per_ml"] = milk[:, staphylococci].sum(axis=1) / state.host["milk_pool_ml"]
    return values


def _check_live_origins(abundance: np.ndarray, live: np.ndarray, day: int) -> None:
    """Raise if cells sit where no route of the table brings them (kernels would skip them)."""
    # any() over dyads first: a contiguous pass, ~8x faster than any(axis=(0, 2))
    stray = ~live & np.any(np.any(abundance, axis=0), axis=1)
    if stray.any():
        site, origin = np.argwhere(stray)[0]
        raise RuntimeError(f"day {day}: cells of origin {ORIGINS[origin]} in site {SITES[site]}, which no row of "
                           "the route table brings there; add the row to lactobiome.model.routes.ROUTES")


def _read_only(arrays: dict[str, np.ndarray]) -> MappingProxyType[str, np.ndarray]:
    for value in arrays.values():
        value.flags.writeable = False
    return MappingProxyType(arrays)


def _strain_cells(state: DyadState, scenario: Scenario, taxa: TaxaCatalogue, site: str) -> np.ndarray:
    """Cells of the scenario's probiotic strains in ``site`` per dyad (every origin), float64."""
    strains = sorted({r.strain for r in scenario.interventions if r.kind == "probiotic"})
    if not strains:
        return np.zeros(state.n_dyads)
    cells = state.cells_in(SITE_INDEX[site])
    return cells[:, [taxa.index(s) for s in strains]].sum(axis=1)


def _run_prenatal(state: DyadState, ctx: SimulationContext, store: HostStore, attributes: dict[str, np.ndarray],
                  prenatal: Sequence[Process]) -> None:
    """Run the prenatal days ``1 - pregnancy_days .. 0`` on ``state`` (in place)."""
    scenario = ctx.scenario
    views = [(p.step, HostView(store.values, p), AttributeView(attributes, p.needed_attributes(scenario), p.name))
             for p in prenatal]
    for day in range(scenario.cohort.first_day, 1):
        state.day = day
        state.growth_modifier.fill(1.0)
        for step, host, attrs in views:
            state.host, state.attributes = host, attrs
            step(state, ctx)


def state_at_birth(scenario: Scenario, parameters: ParameterTable, taxa: TaxaCatalogue, dyad_ids: np.ndarray,
                   prenatal_processes: Sequence[Process] = PRENATAL_PROCESSES) -> DyadState:
    """The dyads' state at the end of the last prenatal day (day 0), before day 1 begins.

    What :func:`run_chunk` starts day 1 from (the attributes drawn without the earlier
    lactation, which no prenatal process reads); for inspecting the prenatal days, whose
    cells the daily panel and the sampling days do not show.
    """
    dyad_ids = np.asarray(dyad_ids, dtype=np.int64)
    attributes = draw_population(scenario, parameters, dyad_ids)
    prenatal = tuple(prenatal_processes)
    check_processes(prenatal, scenario, attributes, (), reference=PRENATAL_PROCESSES, phase="prenatal")
    store = HostStore(len(dyad_ids), len(taxa))
    state = DyadState.empty(dyad_ids, len(taxa), attributes)
    state.host = HostView(store.values)
    state.origins = origin_lists(live_origins())
    ctx = prepare_context(scenario, parameters, taxa, dyad_ids, attributes, prenatal)
    if scenario.cohort.pregnancy_days > 0:
        _run_prenatal(state, ctx, store, attributes, prenatal)
    state.host, state.attributes = HostView(store.values), attributes
    return state


def prepare_context(scenario: Scenario, parameters: ParameterTable, taxa: TaxaCatalogue, dyad_ids: np.ndarray,
                    attributes: dict[str, np.ndarray], processes: Sequence[Process],
                    unread_sites: frozenset[str] = frozenset()) -> SimulationContext:
    """The chunk's read-only context, with each process's prepared tables."""
    ctx = SimulationContext(scenario, parameters, taxa, RandomStreams(scenario.cohort.seed, dyad_ids))
    tables = {p.name: _read_only(p.prepare(ctx, attributes)) for p in processes if p.prepare is not None}
    return SimulationContext(scenario, parameters, taxa, ctx.rng, MappingProxyType(tables), unread_sites)


EARLIER_LACTATION_UNREAD_SITES = frozenset({"infant_gut"})
"""Sites of a mother's earlier lactation whose cells her mastitis does not depend on: no route takes
cells out of the infant gut, so the earlier child's gut flora is skipped (every other site is the same,
bit for bit, as in a full run: tests/test_earlier_lactation.py)."""


def _check_unread_sites(sites: frozenset[str]) -> None:
    """Refuse a site as unread when a route of the table takes cells from it (they would reach a read site)."""
    from lactobiome.model.routes import ROUTES

    for site in sites:
        if site not in SITE_INDEX:
            raise ValueError(f"unread_sites: unknown site {site!r}")
        donors = [r.name for r in ROUTES if r.kind == "move" and r.donor == site]
        if donors:
            raise ValueError(f"unread_sites: cells leave {site!r} by route(s) {', '.join(donors)}, so it is read")


def earlier_lactation_states(scenario: Scenario, parameters: ParameterTable, taxa: TaxaCatalogue,
                             dyad_ids: np.ndarray, attributes: dict[str, np.ndarray],
                             processes: Sequence[Process] = DEFAULT_PROCESSES) -> np.ndarray:
    """The daily mastitis states (dyad, day) of the earlier lactation ``scenario`` of mothers ``dyad_ids``.

    The run :func:`lactobiome.model.previous_lactation.previous_mastitis` needs: nothing but the
    ``mastitis_state`` panel is kept, no sampling day is recorded, and the earlier child's gut
    (:data:`EARLIER_LACTATION_UNREAD_SITES`) is not simulated; the states are those of a full run.
    """
    return run_chunk(scenario, parameters, taxa, dyad_ids, processes, attributes=attributes,
                     record_abundance=False, record=("mastitis_state",),
                     unread_sites=EARLIER_LACTATION_UNREAD_SITES).panel["mastitis_state"]


def run_chunk(
    scenario: Scenario,
    parameters: ParameterTable,
    taxa: TaxaCatalogue,
    dyad_ids: np.ndarray,
    processes: Sequence[Process] = DEFAULT_PROCESSES,
    on_day: Callable[[int], None] | None = None,
    attributes: dict[str, np.ndarray] | None = None,
    prenatal_processes: Sequence[Process] = PRENATAL_PROCESSES,
    record_abundance: bool = True,
    record: Sequence[str] | None = None,
    unread_sites: frozenset[str] = frozenset(),
) -> ChunkResult:
    """Simulate the dyads ``dyad_ids`` for the scenario's days.

    Parameters
    ----------
    scenario, parameters, taxa
        The run's inputs; ``parameters`` should already carry the scenario's overrides.
    dyad_ids
        Global ids; a dyad's result depends only on its id and the seed.
    processes
        The ordered one-day step; checked against the process contract before the first day.
    on_day
        Called after each day with the day number (for progress bars).
    attributes
        The dyads' attributes, when already drawn (an earlier lactation of the same mothers);
        by default drawn here, with ``previous_mastitis`` from each multiparous mother's
        simulated earlier lactation (:mod:`lactobiome.model.previous_lactation`) unless the
        scenario fixes its prevalence.
    prenatal_processes
        The step of a prenatal day, run on days ``1 - cohort.pregnancy_days .. 0`` before the
        first day of life (none without pregnancy days); checked against the contract too. A
        run with pregnancy days adds the attributes :func:`at_birth_attribute` (the dosed
        strains' cells in maternal gut and breast stroma at birth).
    record_abundance
        Keep the abundance of the sampling days (the default). Without it the result has no
        sampling days (``record_days`` empty, ``abundance`` of length 0 along its day axis) and
        the same daily panel: for runs read only through the panel (a mother's earlier
        lactation), which then neither allocate nor copy ~17 MB per 1,000 dyads and sampling day.
        The check that no cells sit where no route brings them still runs on those days.
    record
        The daily panel variables to keep (names of :data:`PANEL_VARIABLES`); all of them by
        default. A run read for one variable (an earlier lactation's ``mastitis_state``) skips
        copying the others every day.
    unread_sites
        Sites whose cells the caller will not read (:attr:`SimulationContext.unread_sites`):
        processes may skip work that changes only them, so their cells (and anything recorded
        from them) are not those of a full run; every other site is. A site that some route
        takes cells from is refused.

    Raises
    ------
    lactobiome.model.contract.ContractError
        If the process list breaks the contract (a variable read before it is written, two
        writers, a missing attribute or route carrier); the message names the variable and
        the processes.
    """
    dyad_ids = np.asarray(dyad_ids, dtype=np.int64)
    recorded = tuple(PANEL_VARIABLES if record is None else record)
    unknown = [name for name in recorded if name not in PANEL_VARIABLES]
    if unknown:
        raise ValueError(f"record: unknown panel variable(s) {', '.join(map(repr, unknown))}; "
                         f"expected names of {', '.join(PANEL_VARIABLES)}")
    _check_unread_sites(unread_sites)
    if attributes is None:
        attributes = draw_population(scenario, parameters, dyad_ids)
        if scenario.population.previous_mastitis_multiparous is None:
            def simulate(earlier: Scenario, ids: np.ndarray, drawn: dict[str, np.ndarray]) -> np.ndarray:
                return earlier_lactation_states(earlier, parameters, taxa, ids, drawn, processes)

            attributes["previous_mastitis"] = previous_mastitis(scenario, parameters, dyad_ids, attributes, simulate)
    check_processes(processes, scenario, attributes, RECORDED_HOST_VARIABLES, reference=DEFAULT_PROCESSES)
    pregnancy_days = scenario.cohort.pregnancy_days
    prenatal = tuple(prenatal_processes) if pregnancy_days > 0 else ()
    if prenatal:
        check_processes(prenatal, scenario, attributes, (), reference=PRENATAL_PROCESSES, phase="prenatal")
    store = HostStore(len(dyad_ids), len(taxa))
    state = DyadState.empty(dyad_ids, len(taxa), attributes)
    state.host = HostView(store.values)
    live = live_origins()
    state.origins = origin_lists(live)  # kernels skip the (site, origin) pairs no route fills
    names = {p.name for p in processes}
    ctx = prepare_context(scenario, parameters, taxa, dyad_ids, attributes,
                          [*processes, *(p for p in prenatal if p.name not in names)], unread_sites)
    # each process sees only the host variables and attributes it declared
    views = [(p.step, HostView(store.values, p), AttributeView(attributes, p.needed_attributes(scenario), p.name))
             for p in processes]
    recorder = HostView(store.values)
    if prenatal:
        _run_prenatal(state, ctx, store, attributes, prenatal)
        state.host, state.attributes = recorder, attributes
        _check_live_origins(state.abundance, live, 0)
        attributes = dict(attributes)  # the at-birth records join the result, not the processes' view
        for site in AT_BIRTH_SITES:
            attributes[at_birth_attribute(site)] = _strain_cells(state, scenario, taxa, site)
    days = scenario.cohort.days
    check_days = set(scenario.record_days())
    record_days = sorted(check_days) if record_abundance else []
    record_at = {day: i for i, day in enumerate(record_days)}
    abundance = np.zeros((len(dyad_ids), len(record_days), *state.abundance.shape[1:]), dtype=np.float32)
    panel: dict[str, np.ndarray] = {}
    staphylococci = np.asarray(taxa["genus"]).astype(str) == "Staphylococcus"
    for day in range(1, days + 1):
        state.day = day
        state.growth_modifier.fill(1.0)
        for step, host, attrs in views:
            state.host, state.attributes = host, attrs
            step(state, ctx)
        state.host, state.attributes = recorder, attributes
        for name, values in _panel_values(state, staphylococci, recorded).items():
            if name not in panel:  # allocated once: a fresh (dyad, day) array every day cost ~5%
                panel[name] = np.zeros((len(dyad_ids), days))
            panel[name][:, day - 1] = values
        if day in check_days:
            _check_live_origins(state.abundance, live, day)
        if day in record_at:
            abundance[:, record_at[day]] = state.abundance
        if on_day is not None:
            on_day(day)
    return ChunkResult(dyad_ids, attributes, record_days, abundance, panel, pregnancy_days)
