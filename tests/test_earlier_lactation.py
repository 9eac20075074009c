"""A mother's earlier lactation is simulated for her mastitis only: the shortcuts it takes (no panel
but the mastitis states, the earlier child's gut left out) must leave that mastitis exactly as a full
run of the same lactation gives it."""

from __future__ import annotations

import numpy as np
import pytest

from lactobiome.model.engine import (
    EARLIER_LACTATION_UNREAD_SITES,
    PANEL_VARIABLES,
    earlier_lactation_states,
    run_chunk,
)
from lactobiome.model.population import draw_population
from lactobiome.model.previous_lactation import previous_scenario
from lactobiome.model.sites import SITE_INDEX, SITES
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare


@pytest.fixture(scope="module")
def earlier():
    # a breast-milk-rich scenario over the weeks that carry most first onsets, with the
    # intrapartum drug and oxygen of the first days (the infant-gut work skipped) inside it
    scenario = previous_scenario(load_scenario("default", {"cohort": {"dyads": 150, "days": 60, "seed": 11}}))
    parameters, taxa = prepare(scenario)
    ids = np.arange(500, 650, dtype=np.int64)
    attributes = draw_population(scenario, parameters, ids)
    full = run_chunk(scenario, parameters, taxa, ids, attributes=dict(attributes))
    short = run_chunk(scenario, parameters, taxa, ids, attributes=dict(attributes),
                      unread_sites=EARLIER_LACTATION_UNREAD_SITES)
    states = earlier_lactation_states(scenario, parameters, taxa, ids, dict(attributes))
    return full, short, states


def test_the_shortcut_run_gives_the_full_runs_mastitis_states_bit_for_bit(earlier) -> None:
    full, _, states = earlier
    assert np.array_equal(states, full.panel["mastitis_state"])
    assert (full.panel["mastitis_state"] > 0).any()  # something happened: the comparison can fail


def test_every_site_but_the_unread_gut_is_unchanged_and_the_gut_was_left_out(earlier) -> None:
    full, short, _ = earlier
    gut = SITE_INDEX["infant_gut"]
    for site in SITES:
        s = SITE_INDEX[site]
        if s != gut:
            assert np.array_equal(full.abundance[:, :, s], short.abundance[:, :, s]), site
    for name in PANEL_VARIABLES:
        if name != "infant_gut_oxygen":
            assert np.array_equal(full.panel[name], short.panel[name]), name
    # the skipped work did change the gut (its cells neither grew nor were washed out)
    assert not np.array_equal(full.abundance[:, :, gut], short.abundance[:, :, gut])


def test_a_site_that_cells_leave_cannot_be_unread_nor_an_unknown_panel_variable_recorded() -> None:
    scenario = load_scenario("default", {"cohort": {"dyads": 2, "days": 2}})
    parameters, taxa = prepare(scenario)
    ids = np.arange(2, dtype=np.int64)
    with pytest.raises(ValueError, match=r"cells leave 'milk' by route\(s\) milk_carryover_to_infant_mouth"):
        run_chunk(scenario, parameters, taxa, ids, unread_sites=frozenset({"milk"}))
    with pytest.raises(ValueError, match="unknown site 'colon'"):
        run_chunk(scenario, parameters, taxa, ids, unread_sites=frozenset({"colon"}))
    with pytest.raises(ValueError, match="unknown panel variable"):
        run_chunk(scenario, parameters, taxa, ids, record=("mastitis_state", "milk_ph"))
    kept = run_chunk(scenario, parameters, taxa, ids, record=("fever",))
    assert set(kept.panel) == {"fever"}
