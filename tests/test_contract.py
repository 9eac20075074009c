"""The process contract, the route table and the per-dyad constants drawn once."""

from __future__ import annotations

import numpy as np
import pytest

from lactobiome.model.context import SimulationContext
from lactobiome.model.contract import HOST_VARIABLES, ContractError, Process, check_processes
from lactobiome.model.engine import (
    DEFAULT_PROCESSES,
    RECORDED_HOST_VARIABLES,
    prepare_context,
    run_chunk,
)
from lactobiome.model.population import LOGNORMAL_FACTORS, draw_population
from lactobiome.model.routes import ROUTES, active_routes, route_on
from lactobiome.model.scenario import Routes
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare, simulate_in_memory

STRAIN = "limosilactobacillus_fermentum_cect5716"
INFANT_STRAIN = "bifidobacterium_longum_infantis"

# a scenario in which every process has work: both probiotic routes, a scheduled course, an
# infant illness and a treatment policy with all three treatments
EVERYTHING = {
    "cohort": {"dyads": 6, "days": 4},
    "interventions": [
        {"strain": STRAIN, "route": "maternal_oral", "cfu_per_day": 1e9},
        {"strain": INFANT_STRAIN, "route": "infant_oral", "cfu_per_day": 1e9},
        {"kind": "antibiotic", "antibiotic_class": "macrolide", "start_day": 2, "stop_day": 3, "coverage": 0.5},
        {"kind": "infant_illness", "start_day": 2, "stop_day": 3, "coverage": 0.5},
    ],
    "treatment": {"antibiotic": {"antibiotic_class": "flucloxacillin"},
                  "probiotic": {"strain": STRAIN}, "frequent_emptying_days": 3},
}


@pytest.fixture(scope="module")
def everything():
    scenario = load_scenario("default", EVERYTHING)
    parameters, taxa = prepare(scenario)
    attributes = draw_population(scenario, parameters, np.arange(scenario.cohort.dyads))
    return scenario, parameters, taxa, attributes


def _check(processes, scenario, attributes):
    check_processes(processes, scenario, attributes, RECORDED_HOST_VARIABLES, reference=DEFAULT_PROCESSES)


def test_the_default_list_keeps_the_contract(everything):
    scenario, _, _, attributes = everything
    _check(DEFAULT_PROCESSES, scenario, attributes)
    _check(DEFAULT_PROCESSES, load_scenario("default"), draw_population(
        load_scenario("default"), prepare(load_scenario("default"))[0], np.arange(3)))


@pytest.mark.parametrize("removed", [p.name for p in DEFAULT_PROCESSES])
def test_removing_any_process_names_what_breaks(everything, removed):
    scenario, _, _, attributes = everything
    rest = [p for p in DEFAULT_PROCESSES if p.name != removed]
    with pytest.raises(ContractError) as caught:
        _check(rest, scenario, attributes)
    message = str(caught.value)
    # the error names the missing process (as the provider in the default list) ...
    assert repr(removed) in message, message
    # ... and what it provided: a host variable, a route, or the growth modifier
    provided = ({*HOST_VARIABLES, "growth_modifier"} | {r.name for r in ROUTES})
    assert any(repr(name) in message or f"{name} " in message for name in provided), message


def test_run_chunk_refuses_a_broken_list_before_simulating():
    scenario = load_scenario("default", {"cohort": {"dyads": 3, "days": 2}})
    parameters, taxa = prepare(scenario)
    rest = [p for p in DEFAULT_PROCESSES if p.name != "feeding_plan"]
    with pytest.raises(ContractError, match=r"'lactation' reads host variable 'breast_milk_share_today'.*"
                                            r"'feeding_plan'"):
        run_chunk(scenario, parameters, taxa, np.arange(3), processes=rest)


def test_a_read_before_the_write_names_both_processes(everything):
    scenario, _, _, attributes = everything
    order = list(DEFAULT_PROCESSES)
    order[0], order[1] = order[1], order[0]  # lactation before feeding_plan
    with pytest.raises(ContractError, match="'lactation' reads today's 'breast_milk_share_today' before "
                                            "'feeding_plan' writes it"):
        _check(order, scenario, attributes)


def test_yesterdays_value_written_earlier_the_same_day_is_refused(everything):
    scenario, _, _, attributes = everything
    order = [p for p in DEFAULT_PROCESSES if p.name != "entero_mammary_immunity"]
    specificity = next(p for p in DEFAULT_PROCESSES if p.name == "entero_mammary_immunity")
    order.insert(2, specificity)  # would hand the infant gut today's sIgA specificity
    with pytest.raises(ContractError, match="'infant_gut' reads yesterday's 'siga_specificity', but "
                                            "'entero_mammary_immunity' writes it earlier"):
        _check(order, scenario, attributes)


def test_two_writers_of_one_variable_are_refused(everything):
    scenario, _, _, attributes = everything
    rival = Process("rival_plan", lambda state, ctx: None, writes={"solids_fraction"})
    with pytest.raises(ContractError, match="'solids_fraction' is written by both 'feeding_plan' and 'rival_plan'"):
        _check([*DEFAULT_PROCESSES, rival], scenario, attributes)


def test_an_unknown_host_variable_cannot_be_declared():
    with pytest.raises(ContractError, match="unknown host variable"):
        Process("typo", lambda state, ctx: None, reads={"milk_volume"})


def test_a_missing_attribute_is_named(everything):
    scenario, _, _, attributes = everything
    partial = {k: v for k, v in attributes.items() if k != "milk_supply_factor"}
    with pytest.raises(ContractError, match="'lactation' needs dyad attribute.*milk_supply_factor"):
        _check(DEFAULT_PROCESSES, scenario, partial)


def _run_with(extra: Process, position: int | None = None):
    scenario = load_scenario("default", {"cohort": {"dyads": 2, "days": 2}})
    parameters, taxa = prepare(scenario)
    processes = list(DEFAULT_PROCESSES)
    processes.insert(len(processes) if position is None else position, extra)
    return run_chunk(scenario, parameters, taxa, np.arange(2), processes=processes)


def test_an_undeclared_read_fails_while_the_day_runs():
    def peek(state, ctx):
        return state.host["stasis"]

    with pytest.raises(ContractError, match="process 'peek' reads host variable 'stasis', which it does not declare"):
        _run_with(Process("peek", peek))


def test_an_undeclared_write_and_a_default_read_fail():
    def scribble(state, ctx):
        state.host["stasis"] = np.zeros(state.n_dyads)

    with pytest.raises(ContractError, match="'scribble' writes host variable 'stasis'"):
        _run_with(Process("scribble", scribble, reads={"stasis"}))

    def lenient(state, ctx):
        return state.host.get("stasis", np.zeros(state.n_dyads))

    with pytest.raises(ContractError, match="no defaults"):
        _run_with(Process("lenient", lenient, reads={"stasis"}))


def test_an_undeclared_attribute_fails_while_the_day_runs():
    def nosy(state, ctx):
        return state.attributes["secretor"]

    with pytest.raises(ContractError, match="'nosy' reads dyad attribute 'secretor'"):
        _run_with(Process("nosy", nosy))


def test_the_context_and_its_prepared_tables_are_read_only(everything):
    scenario, parameters, taxa, attributes = everything
    ctx = prepare_context(scenario, parameters, taxa, np.arange(scenario.cohort.dyads), attributes,
                          DEFAULT_PROCESSES)
    assert isinstance(ctx, SimulationContext)
    with pytest.raises(AttributeError):
        ctx.scenario = scenario  # type: ignore[misc]
    weight = ctx.table("colonisation_resistance")["weight"]
    with pytest.raises(ValueError, match="read-only"):
        weight[0] = 1.0
    with pytest.raises(TypeError):
        ctx.tables["growth"] = {}  # type: ignore[index]
    prepared = {p.name for p in DEFAULT_PROCESSES if p.prepare is not None}
    assert set(ctx.tables) == prepared


def test_two_probiotic_regimens_each_reach_about_half_of_the_mothers():
    regimens = [{"strain": STRAIN, "route": "maternal_oral", "cfu_per_day": 1e9, "coverage": 0.5},
                {"strain": "ligilactobacillus_salivarius_cect5713", "route": "maternal_oral",
                 "cfu_per_day": 1e9, "coverage": 0.5}]
    scenario = load_scenario("default", {"cohort": {"dyads": 400, "days": 3}, "interventions": regimens})
    parameters, _ = prepare(scenario)
    attributes = draw_population(scenario, parameters, np.arange(400))
    first, second = attributes["intervention_0_covered"], attributes["intervention_1_covered"]
    assert 0.43 < first.mean() < 0.57 and 0.43 < second.mean() < 0.57
    # independent draws: about a quarter of the mothers take both
    assert 0.17 < (first & second).mean() < 0.33
    both = attributes["probiotic"][first & second]
    assert all(s == f"{STRAIN}+ligilactobacillus_salivarius_cect5713" for s in both)
    # and the doses follow the draws: strain 2 is in the gut of exactly the mothers who take it
    result = simulate_in_memory(scenario)
    gut = result["abundance"].sel(site="maternal_gut", origin="probiotic", sample_day=3)
    dosed = gut.sel(taxon="ligilactobacillus_salivarius_cect5713").values > 0
    np.testing.assert_array_equal(dosed, second)


def test_a_single_regimen_keeps_its_coverage_draw():
    # the first regimen reads the population's probiotic column, as before the per-regimen draws
    one = load_scenario("default", {"cohort": {"dyads": 300, "days": 2}, "interventions": [
        {"strain": STRAIN, "route": "maternal_oral", "cfu_per_day": 1e9, "coverage": 0.3}]})
    two = load_scenario("default", {"cohort": {"dyads": 300, "days": 2}, "interventions": [
        {"strain": STRAIN, "route": "maternal_oral", "cfu_per_day": 1e9, "coverage": 0.3},
        {"kind": "antibiotic", "antibiotic_class": "penicillin", "coverage": 0.3}]})
    parameters, _ = prepare(one)
    a = draw_population(one, parameters, np.arange(300))
    b = draw_population(two, parameters, np.arange(300))
    np.testing.assert_array_equal(a["intervention_0_covered"], b["intervention_0_covered"])
    # the course has a draw of its own: not the regimen's
    assert not np.array_equal(b["intervention_0_covered"], b["intervention_1_covered"])


def test_per_dyad_factors_are_drawn_once_with_mean_one_and_recorded():
    scenario = load_scenario("default", {"cohort": {"dyads": 4000, "days": 1}})
    parameters, _ = prepare(scenario)
    attributes = draw_population(scenario, parameters, np.arange(4000))
    for name, (_, sd_name) in LOGNORMAL_FACTORS.items():
        values = attributes[name]
        sd = parameters.value(sd_name, "1")
        assert abs(values.mean() - 1.0) < 4 * sd / np.sqrt(len(values)) + 1e-3, name
        assert abs(np.log(values).std() - sd) < 0.05 * sd + 1e-3, name
    # a dyad's factor does not depend on the chunk it is drawn in
    alone = draw_population(scenario, parameters, np.array([17]))
    assert alone["milk_supply_factor"][0] == attributes["milk_supply_factor"][17]
    small = simulate_in_memory(load_scenario("default", {"cohort": {"dyads": 3, "days": 1}}))
    assert "milk_supply_factor" in small and small["milk_supply_factor"].dims == ("dyad",)


@pytest.mark.parametrize("switch", list(Routes.model_fields))
def test_switching_a_route_off_removes_every_origin_it_carries(switch):
    """Built from the route table: each row of the switch, off, leaves no cell of its donor's
    origin in its receiver (unless another route still on carries the same pair)."""
    sections = {"cohort": {"dyads": 12, "days": 10}, "sampling": {"days": [2, 5, 10]},
                "population": {"nipple_damage_first_time": 1.0, "nipple_damage_multiparous": 1.0,
                               "nipple_fissure_given_damage": 1.0}}
    on_scenario = load_scenario("default", sections)
    off_scenario = load_scenario("default", {**sections, "routes": {switch: False}})
    rows = [r for r in ROUTES if r.switch == switch and r.kind != "loss"]
    assert rows, f"routes.{switch} switches no row of the route table"
    still_on = {(r.donor, r.receiver) for r in active_routes(off_scenario)}
    pairs = {(r.donor, r.receiver) for r in rows if route_on(r, on_scenario)} - still_on
    on = simulate_in_memory(on_scenario)
    off = simulate_in_memory(off_scenario)
    carried = [float(on["abundance"].sel(site=receiver, origin=donor).sum()) for donor, receiver in pairs]
    assert max(carried) > 0.0
    for donor, receiver in pairs:
        assert float(off["abundance"].sel(site=receiver, origin=donor).sum()) == 0.0, (donor, receiver)
