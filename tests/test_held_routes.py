"""Routes held back until the cells are read: the same cohort, and every reader sees them applied."""

from __future__ import annotations

import numpy as np
import pytest

from lactobiome.model import engine, transfer
from lactobiome.model.random import RandomStreams
from lactobiome.model.sites import ORIGIN_INDEX, SITE_INDEX
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import Moves
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare


@pytest.mark.parametrize("name", ["default", "mixed_feeding"])
def test_holding_routes_back_gives_bit_identical_cohorts(name, monkeypatch):
    scenario = load_scenario(name, {"cohort": {"dyads": 10, "days": 20}})
    parameters, taxa = prepare(scenario)
    ids = np.arange(3, 13)
    held = engine.run_chunk(scenario, parameters, taxa, ids)
    monkeypatch.setattr(transfer, "HOLD_ROUTES", False)
    one_by_one = engine.run_chunk(scenario, parameters, taxa, ids)
    assert np.array_equal(held.abundance, one_by_one.abundance)
    for variable, values in one_by_one.panel.items():
        assert np.array_equal(held.panel[variable], values, equal_nan=True), variable


def _state(day: int) -> DyadState:
    state = DyadState.empty(np.arange(4), 3, {})
    state.day = day
    state.abundance[:, SITE_INDEX["milk"], :, ORIGIN_INDEX["breast_stroma"]] = 500.0
    return state


def test_a_read_applies_held_routes_with_the_day_they_were_queued_on():
    rng = RandomStreams(7, np.arange(4))
    immediate, held = _state(5), _state(5)
    for state, hold in ((immediate, False), (held, True)):
        moves = Moves(state, rng)
        moves.add("milk", "infant_gut", np.full((1, 1), 0.3), 11)
        if hold:
            moves.apply()
            assert held.__dict__["_deferred"] is not None  # nothing moved yet
            state.day = 6  # the next day starts before anyone read the cells
        else:
            moves.apply(record=True)
    gut = held.abundance[:, SITE_INDEX["infant_gut"], :, ORIGIN_INDEX["milk"]]
    assert held.__dict__["_deferred"] is None
    assert np.array_equal(held.abundance, immediate.abundance)
    # mass balance of the route: what left the milk arrived in the gut, tagged milk
    left = 500.0 * 4 * 3 - held.abundance[:, SITE_INDEX["milk"]].sum(dtype=np.float64)
    assert gut.sum(dtype=np.float64) == pytest.approx(left)
    assert 0.0 < gut.sum() < 500.0 * 4 * 3
