"""Pregnancy days: the mother's sites before birth, prenatal dosing and the entero-mammary route to the gland."""

from __future__ import annotations

import numpy as np
import pytest

from lactobiome.errors import ScenarioError
from lactobiome.model.engine import at_birth_attribute, run_chunk, state_at_birth
from lactobiome.model.population import draw_population
from lactobiome.model.random import PRENATAL_DAY_KEY_BASE, RandomStreams, stream_day
from lactobiome.model.sites import MATERNAL_SITES, ORIGIN_INDEX, SITE_INDEX
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare

PS2 = "ligilactobacillus_salivarius_ps2"
PREGNANCY_DAYS = 50


def _prenatal_scenario(dyads: int = 8, days: int = 2, **extra: object):
    regimen = {"strain": PS2, "route": "maternal_oral", "cfu_per_day": 1e9, "start_day": 1 - PREGNANCY_DAYS,
               "stop_day": 0}
    return load_scenario("default", {
        "cohort": {"dyads": dyads, "days": days, "pregnancy_days": PREGNANCY_DAYS},
        "population": {"previous_mastitis_multiparous": 0.2}, "sampling": {"days": [1]},
        "interventions": [regimen], **extra})


def test_pregnancy_days_zero_is_the_run_without_the_field():
    """``pregnancy_days: 0`` and the field left out give the same arrays (earlier lactation included)."""
    sections = {"cohort": {"dyads": 10, "days": 12}, "sampling": {"days": [1, 7]},
                "interventions": [{"strain": PS2, "route": "maternal_oral", "cfu_per_day": 1e9}]}
    omitted = load_scenario("default", sections)
    zero = load_scenario("default", {**sections, "cohort": {**sections["cohort"], "pregnancy_days": 0}})
    parameters, taxa = prepare(omitted)
    a = run_chunk(omitted, parameters, taxa, np.arange(10))
    b = run_chunk(zero, parameters, taxa, np.arange(10))
    assert np.array_equal(a.abundance, b.abundance)
    for name in a.panel:
        assert np.array_equal(a.panel[name], b.panel[name], equal_nan=True), name
    assert a.attributes["previous_mastitis"].tolist() == b.attributes["previous_mastitis"].tolist()
    assert b.pregnancy_days == 0 and at_birth_attribute("maternal_gut") not in b.attributes


def test_prenatal_probiotic_reaches_maternal_gut_and_stroma_but_no_infant_site():
    scenario = _prenatal_scenario()
    parameters, taxa = prepare(scenario)
    state = state_at_birth(scenario, parameters, taxa, np.arange(8))
    strain = taxa.index(PS2)
    gut = state.abundance[:, SITE_INDEX["maternal_gut"], strain]
    stroma = state.abundance[:, SITE_INDEX["breast_stroma"], strain]
    # dosed cells are tagged probiotic in the gut; in the stroma they came from the gut (entero-mammary)
    assert (gut[:, ORIGIN_INDEX["probiotic"]] > 0).all()
    assert (stroma[:, ORIGIN_INDEX["maternal_gut"]] > 0).all()
    assert stroma.sum() == stroma[:, ORIGIN_INDEX["maternal_gut"]].sum()
    for site in ("milk", "infant_mouth", "infant_gut"):
        assert state.abundance[:, SITE_INDEX[site]].sum() == 0.0, site
    # the run records the same cells at birth, summed over origins (provenance sums to the totals)
    result = run_chunk(scenario, parameters, taxa, np.arange(8))
    for site, cells in (("maternal_gut", gut), ("breast_stroma", stroma)):
        recorded = result.attributes[at_birth_attribute(site)]
        assert np.allclose(recorded, cells.astype(np.float64).sum(axis=1), rtol=1e-6)
    assert result.pregnancy_days == PREGNANCY_DAYS
    assert result.panel["milk_volume_ml"].shape == (8, 2)  # prenatal days are not on the panel's day axis


def test_the_entero_mammary_switch_closes_the_prenatal_route():
    scenario = _prenatal_scenario(routes={"entero_mammary": False})
    parameters, taxa = prepare(scenario)
    state = state_at_birth(scenario, parameters, taxa, np.arange(8))
    assert state.abundance[:, SITE_INDEX["breast_stroma"], :, ORIGIN_INDEX["maternal_gut"]].sum() == 0.0
    assert state.abundance[:, SITE_INDEX["maternal_gut"], taxa.index(PS2)].sum() > 0.0


def test_residents_are_founded_before_birth_with_the_day_one_community():
    """A mother founded on a prenatal day starts from the community she would have on day 1."""
    pregnant = _prenatal_scenario(interventions=[])
    parameters, taxa = prepare(pregnant)
    founded = state_at_birth(pregnant.model_copy(update={"cohort": pregnant.cohort.model_copy(
        update={"pregnancy_days": 1})}), parameters, taxa, np.arange(8))
    assert all(founded.abundance[:, SITE_INDEX[s]].sum() > 0 for s in MATERNAL_SITES)
    # founding (residents step) happens before growth on day 0; the taxa carried are those of day 1
    day_one = run_chunk(load_scenario("default", {"cohort": {"dyads": 8, "days": 1},
                                                  "population": {"previous_mastitis_multiparous": 0.2},
                                                  "sampling": {"days": [1]}}), parameters, taxa, np.arange(8))
    carried_before = founded.abundance[:, SITE_INDEX["maternal_mouth"]].sum(axis=-1) > 0
    carried_day_one = day_one.abundance[:, 0, SITE_INDEX["maternal_mouth"]].sum(axis=-1) > 0
    assert np.array_equal(carried_before, carried_day_one)


def test_a_prenatal_maternal_antibiotic_depletes_the_dosed_strain():
    untreated = _prenatal_scenario()
    course = {"kind": "antibiotic", "antibiotic_class": "penicillin", "start_day": -10, "stop_day": 0}
    treated = _prenatal_scenario(interventions=[untreated.interventions[0].model_dump(), course])
    parameters, taxa = prepare(treated)
    strain, site = taxa.index(PS2), SITE_INDEX["maternal_gut"]
    with_course = state_at_birth(treated, parameters, taxa, np.arange(8)).abundance[:, site, strain].sum()
    without = state_at_birth(untreated, parameters, taxa, np.arange(8)).abundance[:, site, strain].sum()
    assert with_course < 0.5 * without


def test_same_seed_same_result_whatever_the_chunking_with_pregnancy_days():
    scenario = _prenatal_scenario(dyads=10)
    parameters, taxa = prepare(scenario)
    whole = run_chunk(scenario, parameters, taxa, np.arange(10))
    parts = [run_chunk(scenario, parameters, taxa, ids) for ids in (np.arange(0, 4), np.arange(4, 10))]
    assert np.array_equal(whole.abundance, np.concatenate([p.abundance for p in parts]))
    for name in (at_birth_attribute("maternal_gut"), at_birth_attribute("breast_stroma")):
        assert np.array_equal(whole.attributes[name], np.concatenate([p.attributes[name] for p in parts]))


def test_prenatal_days_have_stream_keys_of_their_own():
    assert stream_day(1) == 1 and stream_day(730) == 730
    assert stream_day(0) == PRENATAL_DAY_KEY_BASE and stream_day(-279) == PRENATAL_DAY_KEY_BASE + 279
    assert min(stream_day(d) for d in range(-279, 1)) > 730
    with pytest.raises(ValueError, match="stream_day"):
        RandomStreams(1, np.arange(3)).uniform(-1, 5)


@pytest.mark.parametrize(("intervention", "message"), [
    ({"strain": PS2, "route": "maternal_oral", "cfu_per_day": 1e9, "start_day": -30, "stop_day": 0},
     "interventions.0.start_day: day -30 is before the first simulated day -19 (1 - cohort.pregnancy_days 20); "
     "allowed: -19 or later"),
    ({"strain": PS2, "route": "infant_oral", "cfu_per_day": 1e9, "start_day": -5, "stop_day": 10},
     "interventions.0.start_day: day -5 is before birth, and a probiotic with route infant_oral starts on day 1 or "
     "later; allowed: 1 or later"),
    ({"kind": "antibiotic", "antibiotic_class": "macrolide", "recipient": "infant", "start_day": 0, "stop_day": 0},
     "interventions.0.start_day: day 0 is before birth, and a antibiotic with recipient infant starts on day 1 or "
     "later; allowed: 1 or later"),
])
def test_windows_before_what_the_run_simulates_are_refused(intervention, message):
    with pytest.raises(ScenarioError) as error:
        load_scenario("default", {"cohort": {"pregnancy_days": 20}, "interventions": [intervention]})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_maternal_window_is_refused_before_day_one_without_pregnancy_days():
    course = {"kind": "antibiotic", "antibiotic_class": "penicillin", "start_day": 0, "stop_day": 3}
    with pytest.raises(ScenarioError, match=r"interventions\.0\.start_day: day 0 is before the first simulated day 1"):
        load_scenario("default", {"interventions": [course]})
    load_scenario("default", {"cohort": {"pregnancy_days": 1}, "interventions": [course]})


def test_maternal_atopy_is_drawn_from_its_own_column():
    """Adding the attribute left every older draw as it was; its prevalence follows the table or the scenario."""
    base = load_scenario("default", {"cohort": {"dyads": 4000}})
    everyone = load_scenario("default", {"cohort": {"dyads": 4000}, "population": {"maternal_atopy": 1.0}})
    parameters, _ = prepare(base)
    ids = np.arange(4000)
    drawn, all_atopic = draw_population(base, parameters, ids), draw_population(everyone, parameters, ids)
    assert all_atopic["maternal_atopy"].all()
    share = drawn["maternal_atopy"].mean()
    assert abs(share - parameters.value("prevalence_maternal_atopy", "probability")) < 0.03
    for name in ("caesarean", "first_time_mother", "secretor", "sleeps_through_day"):
        key = "delivery_mode" if name == "caesarean" else name
        assert np.array_equal(drawn[key], all_atopic[key]), name


TRIAL_STRAINS = ("lactobacillus_gasseri_cect5714", "lacticaseibacillus_rhamnosus_gg", "lactobacillus_acidophilus_la5",
                 "bifidobacterium_animalis_lactis_bb12", "lacticaseibacillus_rhamnosus_lpr",
                 "bifidobacterium_longum_bl999", "lacticaseibacillus_paracasei_st11")


def test_the_trial_strains_are_dosable_probiotics_of_the_catalogue():
    """Each strain the trial designs name is a probiotic row carried at no site, and dosing it before and
    after birth passes the route table's live-origin check (cells only where a route brings them)."""
    regimens = [{"strain": s, "route": "maternal_oral", "cfu_per_day": 1e9, "start_day": -4, "stop_day": 3}
                for s in TRIAL_STRAINS]
    scenario = load_scenario("default", {"cohort": {"dyads": 3, "days": 3, "pregnancy_days": 5},
                                         "population": {"previous_mastitis_multiparous": 0.2},
                                         "sampling": {"days": [3]}, "interventions": regimens})
    parameters, taxa = prepare(scenario)
    kinds = np.asarray(taxa["kind"]).astype(str)
    for strain in TRIAL_STRAINS:
        i = taxa.index(strain)
        assert kinds[i] == "probiotic"
        assert all(taxa[f"prevalence_{site}"][i] == 0.0 for site in MATERNAL_SITES)
    result = run_chunk(scenario, parameters, taxa, np.arange(3))
    gut = result.abundance[:, 0, SITE_INDEX["maternal_gut"]]
    for strain in TRIAL_STRAINS:
        assert gut[:, taxa.index(strain), ORIGIN_INDEX["probiotic"]].sum() > 0.0, strain
