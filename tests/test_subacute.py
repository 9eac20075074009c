"""Subacute mastitis arises from a ductal biofilm, not from an inflamed gland (issue 13).

A mother whose ductal flora carries a biofilm-forming strain holds part of each biofilm
former's cells on the duct wall (:mod:`lactobiome.model.biofilm`): the milk does not wash
them out and the gland's immune sensing does not see them, so their load in milk can stand
above the dysbiosis threshold for weeks without the inflammation or the fever of an episode.
"""

from __future__ import annotations

import numpy as np
import pytest

from lactobiome.model.biofilm import attached_share
from lactobiome.model.context import SimulationContext
from lactobiome.model.engine import run_chunk
from lactobiome.model.population import draw_population
from lactobiome.model.random import RandomStreams
from lactobiome.model.sites import ORIGIN_INDEX, SITE_INDEX
from lactobiome.model.spectrum import INFLAMED, STATE_CODE
from lactobiome.model.state import DyadState
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare

_DYADS = 120
_DAYS = 45


def _scenario(carriers: float | None, dyads: int = _DYADS, days: int = _DAYS):
    """The default scenario; ``carriers`` sets the share of mothers with a biofilm-forming strain
    (None: the parameter table's prevalence)."""
    population = {} if carriers is None else {"population": {"biofilm_strain": carriers}}
    return load_scenario("default", {"cohort": {"dyads": dyads, "days": days, "seed": 3}, **population})


@pytest.fixture(scope="module")
def runs():
    """The same cohort with every mother carrying a biofilm-forming strain, and with none."""
    out = {}
    for label, carriers in (("carriers", 1.0), ("none", 0.0)):
        scenario = _scenario(carriers)
        parameters, taxa = prepare(scenario)
        out[label] = (run_chunk(scenario, parameters, taxa, np.arange(_DYADS)), parameters)
    return out


def test_subacute_mastitis_occurs_in_mothers_with_a_biofilm_forming_strain(runs):
    carriers, _ = runs["carriers"]
    none, _ = runs["none"]
    subacute = carriers.panel["mastitis_state"] == STATE_CODE["subacute_mastitis"]
    # a mechanism, not a rare accident: a sizeable share of carriers has it within weeks
    assert subacute.any(axis=1).mean() >= 0.2
    # without the biofilm-forming strain the washout keeps biofilm formers at their inflow
    assert not (none.panel["mastitis_state"] == STATE_CODE["subacute_mastitis"]).any()


def test_subacute_days_are_neither_inflamed_nor_febrile(runs):
    result, parameters = runs["carriers"]
    code = result.panel["mastitis_state"].astype(np.int64)
    subacute = code == STATE_CODE["subacute_mastitis"]
    assert subacute.any()
    inflammation = result.panel["inflammation"][subacute]
    assert inflammation.max() < parameters.value("mastitis_inflammation_threshold", "1")
    assert not result.panel["fever"][subacute].astype(bool).any()
    assert not INFLAMED[code[subacute]].any()


def test_subacute_milk_holds_biofilm_formers_above_the_dysbiosis_load(runs):
    """The state is read from the milk: staphylococci at or above the dysbiosis load on its days."""
    result, parameters = runs["carriers"]
    subacute = result.panel["mastitis_state"] == STATE_CODE["subacute_mastitis"]
    staphylococci = result.panel["milk_staphylococci_per_ml"][subacute]
    # the biofilm-weighted load is at most the staphylococci plus a tenth of the streptococci;
    # the staphylococci alone reach a large share of the threshold on nearly every such day
    assert np.median(staphylococci) >= parameters.value("dysbiosis_load_per_ml", "cells/mL")


def test_no_negative_or_non_finite_cells(runs):
    for result, _ in runs.values():
        assert np.isfinite(result.abundance).all()
        assert (result.abundance >= 0.0).all()
        for name in ("inflammation", "stasis", "milk_bacteria_per_ml"):
            values = result.panel[name]
            assert np.isfinite(values).all() and (values >= 0.0).all(), name


def _state(carrier: bool, turnover_per_day: float):
    scenario = _scenario(1.0 if carrier else 0.0, dyads=2, days=5)
    parameters, taxa = prepare(scenario)
    ids = np.arange(2)
    state = DyadState.empty(ids, len(taxa), draw_population(scenario, parameters, ids))
    state.day = 10
    pool = 150.0
    state.host.update({"milk_pool_ml": np.full(2, pool), "milk_volume_ml": np.full(2, turnover_per_day * pool)})
    return state, SimulationContext(scenario, parameters, taxa, RandomStreams(1, ids)), taxa


def test_attached_share_follows_the_biofilm_trait_and_falls_with_milk_flow():
    state, ctx, taxa = _state(True, 3.0)
    share = attached_share(state, ctx)
    trait = np.asarray(taxa["ductal_biofilm"], dtype=np.float64)
    assert ((share >= 0.0) & (share < 1.0)).all()
    assert (share[:, trait == 0.0] == 0.0).all()
    assert (share[:, trait > 0.0] > 0.0).all()
    # the stronger biofilm former holds more of its cells on the wall
    epidermidis, mitis = taxa.index("staphylococcus_epidermidis"), taxa.index("streptococcus_mitis")
    assert (share[:, epidermidis] > share[:, mitis]).all()
    # more milk flow shears more off the wall
    faster, ctx_fast, _ = _state(True, 9.0)
    assert (attached_share(faster, ctx_fast)[:, epidermidis] < share[:, epidermidis]).all()
    # a mother without a biofilm-forming strain holds nothing on the wall
    plain, ctx_plain, _ = _state(False, 3.0)
    assert (attached_share(plain, ctx_plain) == 0.0).all()


def test_milk_removal_leaves_the_wall_biofilm_behind():
    """One drain of the pool: a carrier keeps more of her S. epidermidis than of a planktonic
    taxon, and more than a mother without the strain keeps of hers."""
    from lactobiome.model.processes import milk_removal

    kept = {}
    for carrier in (True, False):
        state, ctx, taxa = _state(carrier, 3.0)
        milk = SITE_INDEX["milk"]
        state.abundance[:, milk, :, ORIGIN_INDEX["resident"]] = 1e6
        before = state.cells_in(milk).copy()
        milk_removal.carryover(state, ctx)
        kept[carrier] = state.cells_in(milk) / before
    epidermidis, gasseri = taxa.index("staphylococcus_epidermidis"), taxa.index("lactobacillus_gasseri")
    assert (kept[True][:, epidermidis] > kept[True][:, gasseri]).all()
    assert (kept[True][:, epidermidis] > kept[False][:, epidermidis]).all()
    # a taxon without the trait drains alike in both mothers
    np.testing.assert_allclose(kept[True][:, gasseri], kept[False][:, gasseri], rtol=0.05)


def test_biofilm_strain_is_drawn_from_its_own_column():
    """The attribute leaves every older draw as it was; its prevalence follows the table or the scenario."""
    base, everyone = _scenario(None, dyads=4000, days=5), _scenario(1.0, dyads=4000, days=5)
    parameters, _ = prepare(base)
    ids = np.arange(4000)
    drawn, carriers = draw_population(base, parameters, ids), draw_population(everyone, parameters, ids)
    assert carriers["biofilm_strain"].all()
    share = drawn["biofilm_strain"].mean()
    assert abs(share - parameters.value("prevalence_biofilm_strain", "probability")) < 0.02
    for name in ("delivery_mode", "first_time_mother", "nipple_damage", "maternal_atopy", "nipple_healing_day"):
        assert np.array_equal(drawn[name], carriers[name]), name
