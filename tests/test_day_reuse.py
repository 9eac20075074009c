"""Work the day reuses or fuses gives what the separate passes gave (issue 18, session 11)."""

from __future__ import annotations

import numpy as np
import pytest

from lactobiome.model import biofilm
from lactobiome.model.context import SimulationContext
from lactobiome.model.population import draw_population
from lactobiome.model.processes import milk_removal
from lactobiome.model.random import RandomStreams
from lactobiome.model.state import DyadState
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare

_DYADS = 40


@pytest.fixture()
def day_state() -> tuple[DyadState, SimulationContext]:
    scenario = load_scenario("default", {"cohort": {"dyads": _DYADS, "days": 5}})
    parameters, taxa = prepare(scenario)
    ids = np.arange(_DYADS)
    attributes = draw_population(scenario, parameters, ids)
    attributes["biofilm_strain"] = np.arange(_DYADS) % 3 == 0  # a third of the mothers
    state = DyadState.empty(ids, len(taxa), attributes)
    rng = np.random.default_rng(3)
    state.host["milk_volume_ml"] = rng.uniform(0.0, 900.0, _DYADS)
    state.host["milk_pool_ml"] = rng.uniform(0.0, 120.0, _DYADS)
    state.host["milk_pool_ml"][:3] = 0.0  # no pool: turnover 0
    return state, SimulationContext(scenario, parameters, taxa, RandomStreams(1, ids))


def _dense_share(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    # the formula as it was written before the share was kept per day
    hold = ctx.p("biofilm_shear_half_turnover_per_day", "1/day") * ctx.taxa["ductal_biofilm"].astype(np.float64)
    k = biofilm.turnover(state)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(hold[None, :] > 0.0, hold[None, :] / (hold[None, :] + k), 0.0)
    return np.where(np.asarray(state.attributes["biofilm_strain"], dtype=bool)[:, None], share, 0.0)


def test_attached_share_is_the_dense_formula_and_formed_again_when_an_input_changes(day_state):
    state, ctx = day_state
    first = biofilm.attached_share(state, ctx)
    assert np.array_equal(first, _dense_share(state, ctx))
    assert first.any() and not first[~np.asarray(state.attributes["biofilm_strain"])].any()
    assert biofilm.attached_share(state, ctx) is first  # reused while the inputs are the same
    with pytest.raises(ValueError):
        first[0, 0] = 1.0  # shared by the day's readers: read-only
    state.host["milk_pool_ml"][5] *= 2.0  # written in place: the share must follow
    second = biofilm.attached_share(state, ctx)
    assert second is not first and np.array_equal(second, _dense_share(state, ctx))


def test_milk_drain_rates_are_reused_only_with_their_shares(day_state):
    state, ctx = day_state
    carryover, today = milk_removal._rates(state, ctx)
    assert milk_removal._rates(state, ctx)[0] is carryover
    expected = milk_removal._form_rates(biofilm.turnover(state), _dense_share(state, ctx))
    assert np.array_equal(carryover, expected[0]) and np.array_equal(today, expected[1])
    state.host["milk_volume_ml"] = state.host["milk_volume_ml"] * 0.5
    again = milk_removal._rates(state, ctx)
    assert again[0] is not carryover
    assert np.array_equal(again[1], milk_removal._form_rates(biofilm.turnover(state), _dense_share(state, ctx))[1])


def test_several_factors_in_one_scale_site_pass_equal_one_pass_each():
    rng = np.random.default_rng(11)
    state = DyadState.empty(np.arange(6), 5, {})
    state.abundance[:] = rng.uniform(0.0, 1e6, state.abundance.shape).astype(np.float32)
    other = state.copy()
    factors = [rng.uniform(0.1, 1.0, (6, 5)), rng.uniform(0.5, 1.0, (6, 1)).astype(np.float32),
               np.float32(0.9) * np.ones((1, 5), dtype=np.float32)]
    state.scale_site(3, *factors)
    for factor in factors:
        other.abundance[:, 3] *= np.broadcast_to(np.asarray(factor, dtype=np.float32), (6, 5))[..., None]
    assert np.array_equal(state.abundance, other.abundance)
