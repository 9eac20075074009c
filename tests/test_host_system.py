"""The host system (issue 4): lactation course, milk cells, immunity, mastitis, interventions.

Mechanisms are shown under common random numbers: the same seed and dyads, one attribute or
parameter changed. Cohorts are small; each simulation runs once per module.
"""

from __future__ import annotations

import numpy as np
import pytest

from lactobiome.model.engine import run_chunk
from lactobiome.model.processes import lactation, mammary_immunity
from lactobiome.model.sites import ORIGIN_INDEX, SITE_INDEX
from lactobiome.model.spectrum import MASTITIS_STATES, STATE_CODE, TREATMENTS, episodes, runs
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare, simulate_in_memory

N, DAYS = 200, 45


def _run(name: str = "default", dyads: int = N, days: int = DAYS, **overrides):
    scenario = load_scenario(name, {"cohort": {"dyads": dyads, "days": days, "seed": 3}, **overrides})
    parameters, taxa = prepare(scenario)
    return run_chunk(scenario, parameters, taxa, np.arange(dyads)), taxa


@pytest.fixture(scope="module")
def base():
    return _run()[0]


def test_dataset_holds_the_panel_with_state_names():
    ds = simulate_in_memory(load_scenario("default", {"cohort": {"dyads": 12, "days": 10}}))
    for name in ("milk_volume_ml", "hmo_g_per_l", "siga_g_per_l", "na_k_ratio", "somatic_cells_per_ml",
                 "leucocyte_fraction", "epithelial_fraction", "stem_cell_fraction", "milk_bacteria_per_ml",
                 "milk_staphylococci_per_ml", "inflammation", "fever", "mastitis_state"):
        assert ds[name].dims == ("dyad", "day"), name
    assert ds["fever"].dtype == bool
    assert set(np.unique(ds["mastitis_state"].values.astype(str))) <= set(MASTITIS_STATES)


def test_fever_is_inflammation_above_its_threshold(base):
    threshold = prepare(load_scenario("default"))[0].value("fever_inflammation_threshold", "1")
    fever = base.panel["fever"].astype(bool)
    assert fever.any() and not fever.all()
    np.testing.assert_array_equal(fever, base.panel["inflammation"] >= threshold)


def test_fever_comes_only_with_clinical_inflammation_and_never_in_subacute_mastitis(base):
    # fever is the systemic answer to an inflamed gland: every febrile day is a day of an
    # inflamed state, so a mother in subacute mastitis (no clinical inflammation) or without an
    # episode is afebrile, and most episodes in the cohort bring fever on one of their days
    fever = base.panel["fever"].astype(bool)
    codes = base.panel["mastitis_state"].astype(np.int64)
    inflamed = np.isin(codes, [STATE_CODE[s] for s in ("inflammatory_mastitis", "bacterial_mastitis",
                                                        "phlegmon", "abscess")])
    assert fever.any() and not (fever & ~inflamed).any()
    assert not (fever & (codes == STATE_CODE["subacute_mastitis"])).any()
    ep = episodes(codes)
    cumulative = np.concatenate([np.zeros((fever.shape[0], 1)), fever.cumsum(axis=1)], axis=1)
    start = ep["onset_day"] - 1
    febrile = cumulative[ep["dyad_index"], start + ep["duration_days"]] > cumulative[ep["dyad_index"], start]
    assert 0.5 < febrile.mean() < 1.0


def test_milk_staphylococci_are_part_of_milk_bacteria(base):
    staph, bacteria = base.panel["milk_staphylococci_per_ml"], base.panel["milk_bacteria_per_ml"]
    assert (staph <= bacteria * (1 + 1e-9)).all()
    assert 0 < np.median(staph / bacteria) < 1  # present in most milk, never all of it
    # on the recorded days the panel's share is the Staphylococcus share of the milk community
    taxa = prepare(load_scenario("default"))[1]
    genus = np.asarray(taxa["genus"]).astype(str) == "Staphylococcus"
    milk = base.abundance[:, :, SITE_INDEX["milk"]].sum(axis=3, dtype=np.float64)  # (dyad, sample_day, taxon)
    for i, day in enumerate(base.record_days):
        if day > DAYS:
            break
        cells = milk[:, i].sum(axis=1)
        held = cells > 0
        np.testing.assert_allclose((staph / np.where(bacteria > 0, bacteria, 1.0))[held, day - 1],
                                   milk[held, i][:, genus].sum(axis=1) / cells[held], rtol=1e-6)


def test_complementary_foods_displace_milk_intake():
    """Same dyads with and without displacement: no change before solids, less milk after."""
    days = 300
    kept, _ = _run(dyads=60, days=days, parameters={"solids_milk_displacement": 0.0})
    displaced, _ = _run(dyads=60, days=days, parameters={"solids_milk_displacement": 0.4})
    solids = displaced.panel["solids_fraction"]
    before = solids == 0.0
    np.testing.assert_array_equal(displaced.panel["milk_volume_ml"][before], kept.panel["milk_volume_ml"][before])
    full = (solids > 0.9) & (kept.panel["milk_volume_ml"] > 0)
    assert full.any()
    ratio = displaced.panel["milk_volume_ml"][full] / kept.panel["milk_volume_ml"][full]
    np.testing.assert_allclose(ratio, 1.0 - 0.4 * solids[full], rtol=1e-9)


def test_lactation_course(base):
    bm = base.attributes["breast_milk_share"] == 1.0
    volume = base.panel["milk_volume_ml"][bm]
    assert 20 < np.median(volume[:, 0]) < 80
    # day 5 within Saint's range (452-876 g), caesarean-born infants' intake still lagging (Evans 2003)
    assert np.median(volume[:, 4]) > 452
    assert 650 <= np.median(volume[:, 29]) <= 900
    siga = base.panel["siga_g_per_l"]
    assert np.median(siga[:, :3].mean(1) / siga[:, 27:31].mean(1)) >= 3.0
    nak = base.panel["na_k_ratio"][bm]
    assert np.median(nak[:, 0]) > 1.0 and 0.3 <= np.median(nak[:, 6]) <= 1.0
    lf = base.panel["leucocyte_fraction"][bm]
    assert 0.13 <= np.median(lf[:, :3]) <= 0.7
    stem = base.panel["stem_cell_fraction"]
    assert (stem > 0).all() and (stem <= 0.15).all()  # up to ~6% (reviews: 10-15%)
    # somatic cells fall from colostrum to mature milk; mature milk of a healthy breast is
    # mostly epithelial, with few leucocytes (targets: leucocytes 0-2% of mature milk cells)
    scc = base.panel["somatic_cells_per_ml"][bm]
    assert np.median(scc[:, :3]) > 2.0 * np.median(scc[:, 29])
    # over the mature-milk days of this cohort (30-45; target C01b reads days 30-182): early
    # low-grade inflammation still settles around day 30, as the junctions stay closed under it
    healthy = base.panel["mastitis_state"][bm, 29:] == STATE_CODE["none"]
    assert healthy[:, 0].sum() > 50
    assert np.median(base.panel["leucocyte_fraction"][bm, 29:][healthy]) <= 0.03
    assert np.median(base.panel["epithelial_fraction"][bm, 29:][healthy]) >= 0.9


def test_caesarean_delays_the_rise_of_intake_by_the_sourced_delay():
    """Same dyads born vaginally and by caesarean: milk transferred lags on days 2-5 and no longer
    differs by day 6 (Evans et al. 2003); the rise of intake comes later by the delay of secretory
    activation (Jeerasap et al.: 44.2 h against 34.1 h); recovery from the operation leaves more milk
    in the breast in its first days."""
    table = prepare(load_scenario("default"))[0]
    delay = table.value("caesarean_lactogenesis_delay_days", "day")
    assert 0.3 < delay < 0.5  # 10.1 h
    vaginal, _ = _run(dyads=80, days=12, population={"caesarean": 0.0})
    caesarean, _ = _run(dyads=80, days=12, population={"caesarean": 1.0})
    assert (caesarean.attributes["delivery_mode"] == "caesarean").all()
    fed = vaginal.attributes["breast_milk_share"] > 0
    v, c = vaginal.panel["milk_volume_ml"][fed], caesarean.panel["milk_volume_ml"][fed]
    np.testing.assert_allclose(c[:, 0], v[:, 0])  # day 1: colostrum either way
    assert (c[:, 1:5] < v[:, 1:5]).all()
    assert (np.abs(c[:, 5:] / v[:, 5:] - 1.0) < 0.05).all()
    # the time the median intake reaches half its day-7 level comes later by about the delay
    day = np.arange(1, 13)

    def half_time(volume: np.ndarray) -> float:
        median = np.median(volume, axis=0)
        return float(np.interp(0.5 * median[6], median[:7], day[:7]))

    assert half_time(c) - half_time(v) == pytest.approx(delay, abs=0.15)  # daily steps, interpolated
    # while she recovers, wound pain shortens feeds at the breast: more milk left in it on those
    # days than with the same caesarean and painless feeds, and no change for a pumping mother
    recovery = int(table.value("caesarean_recovery_days", "day"))
    painless, _ = _run(dyads=80, days=12, population={"caesarean": 1.0},
                       parameters={"caesarean_feed_penalty": 0.0})
    direct = caesarean.attributes["direct_breastfeeding_share"] > 0
    sore, calm = caesarean.panel["stasis"], painless.panel["stasis"]
    assert (sore[direct, :recovery] > calm[direct, :recovery]).all()
    np.testing.assert_array_equal(sore[fed & ~direct, :recovery], calm[fed & ~direct, :recovery])


def test_non_secretors_have_about_forty_percent_less_hmo():
    """Same dyads, only the secretor status changed: one factor on every dyad and day, within
    the published 35-45% deficit (JPGN 2017 via Thum et al. 2021)."""
    secretor, _ = _run(dyads=30, days=5, population={"secretor": 1.0})
    non, _ = _run(dyads=30, days=5, population={"secretor": 0.0})
    ratio = non.panel["hmo_g_per_l"] / secretor.panel["hmo_g_per_l"]
    np.testing.assert_allclose(ratio, ratio[0, 0], rtol=1e-12)
    assert 0.55 <= ratio[0, 0] <= 0.65
    # and nothing else about the milk changes
    np.testing.assert_array_equal(non.panel["milk_volume_ml"], secretor.panel["milk_volume_ml"])
    np.testing.assert_array_equal(non.panel["siga_g_per_l"], secretor.panel["siga_g_per_l"])


@pytest.mark.parametrize("population", [{"tight_bra": 1.0}, {"oversupply": 1.0}])
def test_risk_factors_raise_stasis_and_inflammation(population):
    # without ductal scarring: an episode in one arm only would scar that arm's ducts from the
    # next day and reverse the day-by-day order of stasis
    unscarred = {"previous_mastitis_drainage_penalty": 0.0}
    off, _ = _run(dyads=100, days=30, population={k: 0.0 for k in population}, parameters=unscarred)
    on, _ = _run(dyads=100, days=30, population=population, parameters=unscarred)
    lactating = off.panel["milk_volume_ml"][:, -1] > 0
    assert (on.panel["stasis"][lactating] >= off.panel["stasis"][lactating] - 1e-12).all()
    assert on.panel["stasis"][lactating].mean() > 1.2 * off.panel["stasis"][lactating].mean()
    assert on.panel["inflammation"][lactating].mean() > off.panel["inflammation"][lactating].mean()


def test_more_stasis_means_more_mastitis():
    off, _ = _run(dyads=150, days=40, parameters={"missed_feeds_day_probability": 0.0})
    on, _ = _run(dyads=150, days=40, parameters={"missed_feeds_day_probability": 0.1})
    inflamed = [STATE_CODE[s] for s in ("inflammatory_mastitis", "bacterial_mastitis")]
    assert np.isin(on.panel["mastitis_state"], inflamed).any(1).sum() > np.isin(
        off.panel["mastitis_state"], inflamed).any(1).sum()


def test_nipple_damage_lets_pathobionts_into_the_stroma():
    off, taxa = _run(dyads=60, days=14, population={"nipple_damage_first_time": 0.0,
                                                     "nipple_damage_multiparous": 0.0})
    on, _ = _run(dyads=60, days=14, population={"nipple_damage_first_time": 1.0,
                                                "nipple_damage_multiparous": 1.0, "nipple_fissure_given_damage": 1.0})
    aureus = taxa.index("staphylococcus_aureus")
    stroma = SITE_INDEX["breast_stroma"]
    areolar = ORIGIN_INDEX["areolar_skin"]
    assert on.abundance[:, -1, stroma, aureus, areolar].sum() > off.abundance[:, -1, stroma, aureus, areolar].sum()


def test_clearance_lowers_load_in_proportion_to_immunogenicity(base):
    scenario = load_scenario("default", {"cohort": {"dyads": 20, "days": 5}})
    parameters, taxa = prepare(scenario)
    from lactobiome.model.context import SimulationContext
    from lactobiome.model.population import draw_population
    from lactobiome.model.random import RandomStreams
    from lactobiome.model.state import DyadState

    ids = np.arange(20)
    state = DyadState.empty(ids, len(taxa), draw_population(scenario, parameters, ids))
    state.day = 10
    state.abundance[:, SITE_INDEX["milk"], :, -1] = 1e5
    state.host.update({"milk_pool_ml": np.full(20, 150.0), "stasis": np.zeros(20),
                       "inflammation": np.full(20, 3.0), "milk_production_ml": np.full(20, 700.0)})
    ctx = SimulationContext(scenario, parameters, taxa, RandomStreams(1, ids))
    before = state.abundance[:, SITE_INDEX["milk"]].sum(axis=2)
    mammary_immunity.step(state, ctx)
    after = state.abundance[:, SITE_INDEX["milk"]].sum(axis=2)
    killed = 1.0 - after / before
    imm = taxa["immunogenicity"]
    assert (after <= before).all() and killed.mean() > 0.1
    hi, lo = np.argmax(imm), np.argmin(imm)
    assert (killed[:, hi] > killed[:, lo]).all()
    assert (state.host["leucocyte_fraction"] > 0.8).all() and state.host["fever"].all()


def test_states_follow_their_entry_rules(base):
    codes = base.panel["mastitis_state"].astype(int)
    inflammation = base.panel["inflammation"]
    inflamed = np.isin(codes, [STATE_CODE[s] for s in ("inflammatory_mastitis", "bacterial_mastitis",
                                                       "phlegmon", "abscess")])
    assert inflamed.any(), "the cohort should have some mastitis"
    assert (inflammation[inflamed & ~np.isin(codes, [STATE_CODE["abscess"]])] >= 0.5).all()
    onset = inflamed[:, 1:] & ~inflamed[:, :-1]
    assert (inflammation[:, 1:][onset] >= 1.0).all()
    lactating = base.panel["milk_volume_ml"] > 0
    assert not inflamed[~lactating].any()


def test_episodes_are_runs_of_inflamed_days_with_peak_and_treatment():
    s = np.array([[0, 1, 2, 3, 0, 0, 6, 6], [2, 2, 0, 0, 0, 0, 0, 1]])
    t = np.array([[0, 0, 0, 1, 1, 0, 0, 2], [0, 4, 0, 0, 0, 0, 0, 0]])
    # an episode is a run of inflamed days: ductal narrowing (1) and subacute mastitis (6) are not
    ep = episodes(s, t)
    assert ep["dyad_index"].tolist() == [0, 1]
    assert ep["onset_day"].tolist() == [3, 1]
    assert ep["duration_days"].tolist() == [2, 2]
    assert [MASTITIS_STATES[c] for c in ep["peak_state"]] == ["bacterial_mastitis", "inflammatory_mastitis"]
    assert ep["treatment"].tolist() == [1, 4]
    # runs of any state but none: the severity order puts subacute above narrowing
    every = runs(s, np.arange(len(MASTITIS_STATES)) != STATE_CODE["none"], t)
    assert every["onset_day"].tolist() == [2, 7, 1, 8]
    assert every["duration_days"].tolist() == [3, 2, 2, 1]
    assert [MASTITIS_STATES[c] for c in every["peak_state"]] == [
        "bacterial_mastitis", "subacute_mastitis", "inflammatory_mastitis", "ductal_narrowing"]
    assert every["treatment"].tolist() == [1, 2, 4, 0]


def test_antibiotic_course_kills_susceptible_taxa_and_a_little_reaches_the_infant():
    course = {"kind": "antibiotic", "antibiotic_class": "flucloxacillin", "start_day": 8, "stop_day": 12}
    off, taxa = _run(dyads=40, days=12)
    on, _ = _run(dyads=40, days=12, interventions=[course])
    aureus = taxa.index("staphylococcus_aureus")
    for site in ("breast_stroma", "areolar_skin"):
        s = SITE_INDEX[site]
        assert on.abundance[:, -1, s, aureus].sum() < 0.1 * off.abundance[:, -1, s, aureus].sum()
    gut = SITE_INDEX["infant_gut"]
    ratio = on.abundance[:, -1, gut].sum() / off.abundance[:, -1, gut].sum()
    assert 0.5 < ratio <= 1.0


def test_treatment_policy_follows_diagnosis():
    result, _ = _run("mastitis_antibiotic_treatment", dyads=150, days=40)
    codes = result.panel["mastitis_state"].astype(int)
    treated = result.panel["treatment"].astype(int)
    antibiotic = (treated & (1 << TREATMENTS.index("antibiotic"))) > 0
    assert antibiotic.any()
    triggers = np.isin(codes, [STATE_CODE[s] for s in ("inflammatory_mastitis", "bacterial_mastitis", "phlegmon")])
    first = antibiotic.argmax(axis=1)
    for d in np.flatnonzero(antibiotic.any(axis=1)):
        assert triggers[d, : first[d] + 1].any()
    assert not antibiotic[~triggers.any(axis=1)].any()


def test_maternal_probiotic_reaches_milk_only_by_the_entero_mammary_route():
    on, taxa = _run("maternal_probiotic", dyads=20, days=20)
    off, _ = _run("maternal_probiotic", dyads=20, days=20, routes={"entero_mammary": False})
    strain = taxa.index("limosilactobacillus_fermentum_cect5716")
    milk = SITE_INDEX["milk"]
    assert on.abundance[:, -1, milk, strain].sum() > 0
    assert off.abundance[:, :, milk, strain].sum() == 0


def test_infant_illness_recruits_milk_leucocytes():
    illness = {"kind": "infant_illness", "start_day": 20, "stop_day": 24}
    off, _ = _run(dyads=30, days=26)
    on, _ = _run(dyads=30, days=26, interventions=[illness])
    lf_on, lf_off = on.panel["leucocyte_fraction"], off.panel["leucocyte_fraction"]
    assert (lf_on[:, 19:24] > lf_off[:, 19:24]).all()
    np.testing.assert_array_equal(lf_on[:, :19], lf_off[:, :19])


def test_siga_specificity_targets_the_maternal_gut(base):
    from lactobiome.model.contract import Process
    from lactobiome.model.engine import DEFAULT_PROCESSES
    scenario = load_scenario("default", {"cohort": {"dyads": 10, "days": 3}})
    parameters, taxa = prepare(scenario)
    captured = {}

    def grab(state, ctx):
        captured["spec"] = state.host["siga_specificity"].copy()
        captured["gut"] = state.abundance[:, SITE_INDEX["maternal_gut"]].sum(axis=2)
        return state

    run_chunk(scenario, parameters, taxa, np.arange(10), processes=DEFAULT_PROCESSES + (Process("grab", grab, reads={"siga_specificity"}),))
    spec, gut = captured["spec"], captured["gut"]
    immunogenicity = taxa["immunogenicity"][None, :]
    assert (spec >= 0).all() and (spec <= immunogenicity + 1e-12).all()
    assert (spec[gut == 0] == 0).all() and spec[gut > 0].max() > 0.1
    # the more of a taxon the mother's gut carries, the more of it milk sIgA targets
    from scipy.stats import spearmanr

    share = gut / gut.sum(axis=1, keepdims=True)
    relative = np.divide(spec, immunogenicity, out=np.zeros_like(spec), where=immunogenicity > 0)
    for d in range(len(spec)):
        present = (gut[d] > 0) & (immunogenicity[0] > 0)
        assert spearmanr(relative[d, present], share[d, present]).statistic > 0.8, d


_RISK_OFF = {"first_time_mother": 0.0, "previous_mastitis_multiparous": 0.0, "oversupply": 0.0, "tight_bra": 0.0,
             "nipple_damage_first_time": 0.0, "nipple_damage_multiparous": 0.0,
             "intrapartum_antibiotics_vaginal": 0.0, "intrapartum_antibiotics_caesarean": 0.0}
_RISK_ON = {
    "first_time_mother": {"first_time_mother": 1.0},
    "previous_mastitis": {"previous_mastitis_multiparous": 1.0},
    "oversupply": {"oversupply": 1.0},
    "tight_bra": {"tight_bra": 1.0},
    "nipple_damage": {"nipple_damage_first_time": 1.0, "nipple_damage_multiparous": 1.0},
}
_RISK_DYADS, _RISK_DAYS = 1500, 42


def _ever_inflamed(result) -> np.ndarray:
    inflamed = [STATE_CODE[s] for s in ("inflammatory_mastitis", "bacterial_mastitis", "phlegmon", "abscess")]
    return np.isin(result.panel["mastitis_state"].astype(int), inflamed).any(axis=1)


@pytest.fixture(scope="module")
def no_risk():
    return _ever_inflamed(_run(dyads=_RISK_DYADS, days=_RISK_DAYS, population=_RISK_OFF)[0])


@pytest.mark.parametrize("factor", list(_RISK_ON))
def test_each_risk_factor_raises_the_share_with_mastitis(no_risk, factor):
    """One risk factor on for every dyad, all others off in both arms (common random numbers)."""
    on = _ever_inflamed(_run(dyads=_RISK_DYADS, days=_RISK_DAYS, population={**_RISK_OFF, **_RISK_ON[factor]})[0])
    gained, lost = (on & ~no_risk).sum(), (~on & no_risk).sum()
    # paired comparison: far more dyads gain an episode than lose one (sign test, > 3 SD)
    assert gained - lost > 3.0 * np.sqrt(gained + lost), (factor, gained, lost)


def test_mastitis_scars_the_ducts_for_the_rest_of_the_lactation():
    """Scarring acts only after a first episode: first onsets are unchanged, and the days inflamed
    after it rise (a strong penalty keeps the breast inflamed, so episodes lengthen and merge
    rather than only recur)."""
    population = {"previous_mastitis_multiparous": 0.0}
    onsets, after_first = {}, {}
    for penalty in (0.0, 0.2):
        result, _ = _run(dyads=300, days=120, population=population,
                         parameters={"previous_mastitis_drainage_penalty": penalty})
        inflamed = np.isin(result.panel["mastitis_state"], [STATE_CODE[s] for s in (
            "inflammatory_mastitis", "bacterial_mastitis", "phlegmon", "abscess")])
        start = inflamed & ~np.concatenate([np.zeros((len(inflamed), 1), bool), inflamed[:, :-1]], axis=1)
        onsets[penalty] = start
        first_day = np.where(start.any(1), np.argmax(start, axis=1), inflamed.shape[1])
        later = np.arange(inflamed.shape[1])[None, :] > first_day[:, None]
        after_first[penalty] = (inflamed & later).sum()
    first = {k: np.where(v.any(1), np.argmax(v, axis=1), -1) for k, v in onsets.items()}
    np.testing.assert_array_equal(first[0.0], first[0.2])
    assert (first[0.0] >= 0).sum() >= 20  # enough affected dyads for the comparison
    assert after_first[0.2] > 1.5 * after_first[0.0]


def test_night_sleep_leaves_more_milk_once_the_infant_sleeps_through():
    """Same dyads with and without the night-time penalty: identical until each infant sleeps
    through the night, more residual milk after."""
    # the penalty acts in a mother's earlier lactation too: fix previous mastitis so that only this one differs
    runs = {pen: _run(dyads=80, days=150, population={"previous_mastitis_multiparous": 0.0},
                      parameters={"night_sleep_drainage_penalty": pen})[0] for pen in (0.0, 0.2)}
    day = np.arange(1, 151)[None, :]
    sleeps = runs[0.0].attributes["sleeps_through_day"][:, None]
    np.testing.assert_array_equal(runs[0.0].attributes["sleeps_through_day"], runs[0.2].attributes["sleeps_through_day"])
    before, after = day < sleeps, (day >= sleeps) & (runs[0.0].panel["milk_volume_ml"] > 0)
    np.testing.assert_array_equal(runs[0.2].panel["stasis"][before], runs[0.0].panel["stasis"][before])
    assert after.sum() > 1000  # enough infants sleep through within 150 days
    assert runs[0.2].panel["stasis"][after].mean() > 1.2 * runs[0.0].panel["stasis"][after].mean()


def test_age_of_sleeping_through_follows_its_log_normal():
    from lactobiome.model.parameters import load_parameters
    from lactobiome.model.population import draw_population

    scenario = load_scenario("default", {"cohort": {"dyads": 4000, "seed": 5}})
    table = load_parameters()
    days = draw_population(scenario, table, np.arange(4000))["sleeps_through_day"]
    median = table.value("night_sleep_consolidation_median_day", "day")
    sd = table.value("night_sleep_consolidation_sd_log", "1")
    assert abs(np.median(days) / median - 1.0) < 0.06
    assert abs(np.std(np.log(days)) / sd - 1.0) < 0.05
    # a dyad's age does not depend on the chunk it is drawn in
    np.testing.assert_array_equal(draw_population(scenario, table, np.arange(100, 110))["sleeps_through_day"],
                                  days[100:110])


def test_autocrine_control_limits_late_stasis():
    """Once autocrine control has matured, a breast left full slows its synthesis: less stasis late."""
    params = {"missed_feeds_day_probability": 0.1}
    # previous mastitis fixed: the gain would change each mother's earlier lactation as well
    fixed = {"previous_mastitis_multiparous": 0.0}
    without, _ = _run(dyads=60, days=70, population=fixed, parameters={**params, "autocrine_control_gain": 0.0})
    with_, _ = _run(dyads=60, days=70, population=fixed, parameters=params)
    lactating = without.panel["milk_volume_ml"][:, -1] > 0
    early, late = slice(0, 3), slice(56, 70)
    np.testing.assert_allclose(with_.panel["stasis"][:, early], without.panel["stasis"][:, early], rtol=0.05)
    assert with_.panel["stasis"][lactating, late].max(1).mean() < 0.9 * without.panel["stasis"][lactating, late].max(1).mean()


def test_biofilm_staphylococci_evade_leucocytes():
    scenario = load_scenario("default", {"cohort": {"dyads": 4, "days": 5}})
    parameters, taxa = prepare(scenario)
    from lactobiome.model.context import SimulationContext
    from lactobiome.model.population import draw_population
    from lactobiome.model.random import RandomStreams
    from lactobiome.model.state import DyadState

    def killed(evasion: float) -> np.ndarray:
        table = parameters.with_values({"leucocyte_evasion_per_biofilm": evasion})
        ids = np.arange(4)
        state = DyadState.empty(ids, len(taxa), draw_population(scenario, table, ids))
        state.day = 10
        state.abundance[:, SITE_INDEX["milk"], :, -1] = 1e5
        state.host.update({"milk_pool_ml": np.full(4, 150.0), "stasis": np.zeros(4),
                           "inflammation": np.full(4, 3.0), "milk_production_ml": np.full(4, 700.0)})
        mammary_immunity.step(state, SimulationContext(scenario, table, taxa, RandomStreams(1, ids)))
        return 1.0 - state.abundance[:, SITE_INDEX["milk"]].sum(axis=2) / 1e5

    aureus = taxa.index("staphylococcus_aureus")
    epidermidis = taxa.index("staphylococcus_epidermidis")
    salivarius = taxa.index("streptococcus_salivarius")
    plain, evading = killed(0.0), killed(1.0)
    # evasion by biofilm: several times more S. aureus cells survive the day
    assert (1.0 - evading[:, aureus] > 3.0 * (1.0 - plain[:, aureus])).all()
    # without evasion S. epidermidis (immunogenicity 0.5) is killed more than an oral streptococcus
    # (0.3); with its ductal biofilm, less; and less than S. aureus (a weaker biofilm former)
    assert (plain[:, epidermidis] > plain[:, salivarius]).all()
    assert (evading[:, epidermidis] < evading[:, salivarius]).all()
    assert (evading[:, epidermidis] < evading[:, aureus]).all()


def test_biofilm_taxon_outgrows_planktonic_one_in_inflamed_milk():
    """Same inflammation, same cells (common random numbers): only the ductal_biofilm trait differs."""
    scenario = load_scenario("default", {"cohort": {"dyads": 4, "days": 5}})
    parameters, taxa = prepare(scenario)
    from dataclasses import replace

    from lactobiome.model.context import SimulationContext
    from lactobiome.model.population import draw_population
    from lactobiome.model.random import RandomStreams
    from lactobiome.model.state import DyadState

    epidermidis = taxa.index("staphylococcus_epidermidis")
    mitis = taxa.index("streptococcus_mitis")
    # a copy of S. mitis with S. epidermidis's biofilm: everything else equal
    table = {k: v.copy() for k, v in taxa.table.items()}
    biofilm = replace(taxa, table=table)
    table["ductal_biofilm"][mitis] = taxa["ductal_biofilm"][epidermidis]
    assert taxa["ductal_biofilm"][mitis] < taxa["ductal_biofilm"][epidermidis]

    def survivors(catalogue) -> np.ndarray:
        ids = np.arange(4)
        state = DyadState.empty(ids, len(catalogue), draw_population(scenario, parameters, ids))
        state.day = 10
        state.abundance[:, SITE_INDEX["milk"], :, -1] = 1e5
        state.host.update({"milk_pool_ml": np.full(4, 150.0), "stasis": np.zeros(4),
                           "inflammation": np.full(4, 3.0), "milk_production_ml": np.full(4, 700.0)})
        context = SimulationContext(scenario, parameters, catalogue, RandomStreams(1, ids))
        lactation.step(state, context)
        growth = state.growth_modifier[:, SITE_INDEX["milk"], mitis].copy()
        mammary_immunity.step(state, context)
        return growth, state.abundance[:, SITE_INDEX["milk"], mitis].sum(axis=1)

    growth_plain, left_plain = survivors(taxa)
    growth_biofilm, left_biofilm = survivors(biofilm)
    assert (growth_biofilm > growth_plain).all()
    assert (left_biofilm > 2.0 * left_plain).all()


def test_subacute_mastitis_occurs_when_biofilm_formers_overgrow():
    """Subacute mastitis (the spectrum's dysbiosis) occurs, never on an inflamed day, and only
    through the biofilm formers' load: with an unreachable load threshold it is gone.

    The load threshold is the lower bound of its prior (3e3 cells/mL), so that this small cohort
    surely has the state; since issue 13 round 4 it arises at the default 1e4 from the ductal
    biofilm of mothers with a biofilm-forming strain (tests/test_subacute.py), and D34
    (validate) measures how often it happens. The classification threshold feeds nothing back:
    the biofilm narrows the ducts by its own parameter (biofilm_narrowing_half_per_ml).
    """
    reachable = _run(parameters={"dysbiosis_load_per_ml": 3e3})[0]
    codes = reachable.panel["mastitis_state"].astype(int)
    subacute = codes == STATE_CODE["subacute_mastitis"]
    assert subacute.any(axis=1).sum() >= 1
    assert (reachable.panel["inflammation"][subacute] < 1.0).all()
    # it needs its run of dysbiotic days: none before day subacute_min_days
    assert not subacute[:, :13].any()
    never = _run(parameters={"dysbiosis_load_per_ml": 1e12})[0]
    assert not (never.panel["mastitis_state"].astype(int) == STATE_CODE["subacute_mastitis"]).any()
    # a state of its own: the episodes (inflamed runs) are the same with or without it
    np.testing.assert_array_equal(episodes(codes)["onset_day"], episodes(never.panel["mastitis_state"].astype(int))["onset_day"])


def test_milk_flows_back_into_the_stroma_through_the_colostral_opening_only_for_its_share():
    """Open junctions let stroma cells into milk; milk cells go back through strained junctions,
    and through the unstrained opening only for ``milk_back_flow_colostral_share`` of it."""
    from lactobiome.model.context import SimulationContext
    from lactobiome.model.population import draw_population
    from lactobiome.model.processes import translocation
    from lactobiome.model.random import RandomStreams
    from lactobiome.model.state import DyadState

    scenario = load_scenario("default", {"cohort": {"dyads": 4, "days": 5}})
    parameters, taxa = prepare(scenario)
    ids = np.arange(4)
    milk, stroma = SITE_INDEX["milk"], SITE_INDEX["breast_stroma"]

    def after(share: float, permeability: float, strained: float) -> DyadState:
        table = parameters.with_values({"milk_back_flow_colostral_share": share})
        state = DyadState.empty(ids, len(taxa), draw_population(scenario, table, ids))
        state.day = 2
        state.abundance[:, milk, :, ORIGIN_INDEX["areolar_skin"]] = 1e5
        state.abundance[:, stroma, :, ORIGIN_INDEX["resident"]] = 1e5
        state.host.update({"tight_junction_permeability": np.full(4, permeability),
                           "junction_strain_opening": np.full(4, strained)})
        translocation.step(state, SimulationContext(scenario, table, taxa, RandomStreams(1, ids)))
        return state

    def back(state: DyadState) -> float:
        return float(state.abundance[:, stroma, :, ORIGIN_INDEX["milk"]].sum())

    before = 4 * len(taxa) * 2e5
    runs = {key: after(*key) for key in ((0.0, 1.0, 0.0), (0.0, 1.0, 0.5), (1.0, 1.0, 0.0), (0.5, 1.0, 0.0))}
    for state in runs.values():
        # moves conserve cells (no maternal-gut or mouth cells were present to arrive)
        assert state.abundance[:, (milk, stroma)].sum() == pytest.approx(before, rel=1e-4)
        assert state.abundance[:, milk, :, ORIGIN_INDEX["breast_stroma"]].sum() > 0.0
    assert back(runs[(0.0, 1.0, 0.0)]) == 0.0
    assert back(runs[(0.0, 1.0, 0.5)]) > 0.0
    assert back(runs[(1.0, 1.0, 0.0)]) > back(runs[(0.5, 1.0, 0.0)]) > 0.0


def test_without_colostral_back_flow_day_one_milk_gives_the_stroma_no_cells():
    # day 1: junctions fully open, no stasis and no inflammation yet, so nothing strains them
    result, _ = _run(dyads=20, days=3, parameters={"milk_back_flow_colostral_share": 0.0})
    first = result.record_days.index(1)
    milk, stroma = SITE_INDEX["milk"], SITE_INDEX["breast_stroma"]
    assert result.abundance[:, first, milk, :, ORIGIN_INDEX["breast_stroma"]].sum() > 0.0
    assert result.abundance[:, first, stroma, :, ORIGIN_INDEX["milk"]].sum() == 0.0


def test_a_mother_carries_the_same_resident_taxa_in_her_earlier_lactation():
    from lactobiome.model.population import draw_population
    from lactobiome.model.previous_lactation import PERSISTENT, previous_scenario
    from lactobiome.model.sites import MATERNAL_SITES

    scenario = load_scenario("default", {"cohort": {"dyads": 60, "days": 1, "seed": 3},
                                         "population": {"first_time_mother": 0.0}})
    parameters, taxa = prepare(scenario)
    ids = np.arange(60)
    now = draw_population(scenario, parameters, ids)
    earlier = previous_scenario(scenario)
    drawn = draw_population(earlier, parameters, ids)
    kept = {**drawn, **{name: now[name] for name in PERSISTENT}}
    sites = [SITE_INDEX[s] for s in MATERNAL_SITES]

    def carried(sc, attributes):
        day1 = run_chunk(sc, parameters, taxa, ids, attributes=attributes).abundance[:, 0]
        return day1[:, sites, :, ORIGIN_INDEX["resident"]] > 0, day1[:, sites, :, ORIGIN_INDEX["resident"]]

    present_now, cells_now = carried(scenario, now)
    present_kept, cells_kept = carried(earlier, kept)
    present_fresh, _ = carried(earlier, drawn)
    np.testing.assert_array_equal(present_kept, present_now)  # the same taxa at her own sites
    assert not np.allclose(cells_kept[present_now], cells_now[present_now])  # their sizes drawn afresh
    assert (present_fresh != present_now).mean() > 0.01  # without the lasting seed, carriage is a new draw


def test_a_mother_repeats_her_feeding_plan_in_her_earlier_lactation_at_the_sourced_share():
    """Phillips 2011: about 70% of multiparous women repeated their breastfeeding category. The
    earlier lactation copies the whole plan (group, shares, solids day) with the repeat share; the
    rest draw it afresh, so the feeding groups agree in r + (1 - r) x (chance agreement)."""
    from lactobiome.model.population import draw_population
    from lactobiome.model.previous_lactation import FEEDING_PLAN, previous_mastitis

    n = 3000
    scenario = load_scenario("default", {"cohort": {"dyads": n, "days": 1, "seed": 5},
                                         "population": {"first_time_mother": 0.0}})
    parameters, _ = prepare(scenario)
    ids = np.arange(n)
    now = draw_population(scenario, parameters, ids)
    given: dict[str, np.ndarray] = {}

    def simulate(sc, dyads, attributes):
        # only the attributes handed to the engine are under test here; 3,000 dyads x 182 days
        # of the real engine would take minutes, so the earlier lactation has no episode
        given.update(attributes)
        return np.zeros((len(dyads), sc.cohort.days), dtype=np.int8)

    previous_mastitis(scenario, parameters, ids, now, simulate)
    r = parameters.value("feeding_plan_repeat_share", "probability")
    copied = given["solids_start_day"] == now["solids_start_day"]  # a continuous draw: equal only if copied
    assert abs(copied.mean() - r) < 0.04
    for name in FEEDING_PLAN:
        np.testing.assert_array_equal(given[name][copied], now[name][copied])
    groups, counts = np.unique(now["feeding_group"], return_counts=True)
    chance = float(np.sum((counts / n) ** 2))
    agree = (given["feeding_group"] == now["feeding_group"]).mean()
    assert abs(agree - (r + (1.0 - r) * chance)) < 0.04
    assert len(groups) > 1 and agree < 1.0


def test_a_mother_who_had_a_caesarean_mostly_had_her_earlier_child_by_caesarean():
    """Osterman 2020: 13.3% of US women with a previous caesarean gave birth vaginally. The earlier
    birth handed to the engine is a caesarean with the repeat share r after a caesarean now, with
    (1 - r) c / (1 - c) after a vaginal birth now, so both births keep the caesarean share c; the
    intrapartum antibiotics of the earlier birth follow its own mode."""
    from lactobiome.model.population import draw_population
    from lactobiome.model.previous_lactation import previous_mastitis

    n = 6000
    scenario = load_scenario("default", {"cohort": {"dyads": n, "days": 1, "seed": 7},
                                         "population": {"first_time_mother": 0.0}})
    parameters, _ = prepare(scenario)
    ids = np.arange(n)
    now = draw_population(scenario, parameters, ids)
    given: dict[str, np.ndarray] = {}

    def simulate(sc, dyads, attributes):
        given.update(attributes)  # the engine's run of the earlier lactation is not under test
        return np.zeros((len(dyads), sc.cohort.days), dtype=np.int8)

    previous_mastitis(scenario, parameters, ids, now, simulate)
    r = parameters.value("repeat_caesarean_share", "probability")
    c = parameters.value("prevalence_caesarean", "probability")
    cs_now, cs_then = now["delivery_mode"] == "caesarean", given["delivery_mode"] == "caesarean"
    assert abs(cs_then[cs_now].mean() - r) < 0.03
    assert abs(cs_then[~cs_now].mean() - (1.0 - r) * c / (1.0 - c)) < 0.02
    assert abs(cs_then.mean() - c) < 0.03
    iap = given["intrapartum_antibiotics"]
    assert abs(iap[cs_then].mean() - parameters.value("prevalence_intrapartum_antibiotics_caesarean", "probability")) < 0.03
    assert abs(iap[~cs_then].mean() - parameters.value("prevalence_intrapartum_antibiotics_vaginal", "probability")) < 0.03


def test_nipple_healing_day_follows_buck_2014():
    """Healing days are the onset day plus an exponential time: none before onset, the mean as
    tabled, and about an eighth of damaged nipples still open on day 56 (Buck 2014: 8% of 58%)."""
    from lactobiome.model.parameters import load_parameters
    from lactobiome.model.population import draw_population

    scenario = load_scenario("default", {"cohort": {"dyads": 6000, "seed": 11}})
    table = load_parameters()
    days = draw_population(scenario, table, np.arange(6000))["nipple_healing_day"]
    onset = table.value("nipple_damage_onset_day", "day")
    mean = table.value("nipple_damage_healing_time_days", "day")
    assert (days >= onset).all()
    assert abs(np.mean(days - onset) / mean - 1.0) < 0.05
    assert 0.09 < np.mean(days > 56) < 0.18
    np.testing.assert_array_equal(draw_population(scenario, table, np.arange(20, 30))["nipple_healing_day"],
                                  days[20:30])


def test_fissures_close_on_each_mothers_healing_day():
    """With every mother damaged, skin cells keep entering the stroma through fissures only
    until her healing day: on the last recorded day, mothers still unhealed carry more stromal
    cells of areolar-skin origin than mothers healed in the first three weeks."""
    result, _ = _run(dyads=80, days=40, population={"nipple_damage_first_time": 1.0, "nipple_damage_multiparous": 1.0,
                                                    "nipple_fissure_given_damage": 1.0},
                     parameters={"nipple_fissure_to_stroma_per_feed": 0.01})
    healed = result.attributes["nipple_healing_day"]
    last = result.record_days[-1]
    open_late, closed_early = healed > last, healed < 21
    assert open_late.sum() >= 5 and closed_early.sum() >= 5
    skin = result.abundance[:, -1, SITE_INDEX["breast_stroma"], :, ORIGIN_INDEX["areolar_skin"]].sum(axis=1)
    assert skin[open_late].mean() > 2.0 * skin[closed_early].mean()


def test_only_damage_that_opens_the_skin_lets_skin_bacteria_in():
    """Every mother damaged: with no damage an open fissure (share 0) no areolar-skin cell
    reaches the stroma by the fissure route, so the stroma holds far fewer skin-origin cells
    than when every damaged nipple is fissured (share 1); the damage still hurts in both."""
    damaged = {"nipple_damage_first_time": 1.0, "nipple_damage_multiparous": 1.0}
    runs = {share: _run(dyads=60, days=21, population={**damaged, "nipple_fissure_given_damage": share},
                        parameters={"nipple_fissure_to_stroma_per_feed": 0.01})[0] for share in (0.0, 1.0)}
    assert not runs[0.0].attributes["nipple_fissure"].any() and runs[1.0].attributes["nipple_fissure"].all()
    assert runs[0.0].attributes["nipple_damage"].all()
    skin = {share: r.abundance[:, -1, SITE_INDEX["breast_stroma"], :, ORIGIN_INDEX["areolar_skin"]].sum()
            for share, r in runs.items()}
    assert skin[1.0] > 5.0 * skin[0.0]


def test_fissures_are_the_tabled_share_of_damaged_nipples():
    """Santos 2016 / Buck 2014: about half of damaged nipples crack open; no fissure without
    damage, and drawing fissures leaves every other attribute's draw as it was."""
    from lactobiome.model.parameters import load_parameters
    from lactobiome.model.population import draw_population

    scenario = load_scenario("default", {"cohort": {"dyads": 8000, "seed": 5}})
    table = load_parameters()
    drawn = draw_population(scenario, table, np.arange(8000))
    damage, fissure = drawn["nipple_damage"], drawn["nipple_fissure"]
    assert not (fissure & ~damage).any()
    share = table.value("prevalence_nipple_fissure_given_damage", "probability")
    assert abs(fissure[damage].mean() - share) < 0.04
    none = load_scenario("default", {"cohort": {"dyads": 8000, "seed": 5},
                                     "population": {"nipple_fissure_given_damage": 0.0}})
    other = draw_population(none, table, np.arange(8000))
    assert not other["nipple_fissure"].any()
    for name in ("nipple_damage", "nipple_healing_day", "delivery_mode", "first_time_mother"):
        np.testing.assert_array_equal(other[name], drawn[name])


def test_damaged_nipples_crack_open_more_often_after_a_caesarean():
    """Santos 2016: cracked nipples 1.33 times as prevalent after a caesarean; damage as a whole is
    not (Buck 2014). The fissured share of damaged nipples is that ratio higher after a caesarean,
    the damage share the same, and the mean over damaged mothers stays the tabled share."""
    from lactobiome.model.parameters import load_parameters
    from lactobiome.model.population import draw_population

    n = 30000
    table = load_parameters()
    drawn = draw_population(load_scenario("default", {"cohort": {"dyads": n, "seed": 9}}), table, np.arange(n))
    damage, fissure = drawn["nipple_damage"], drawn["nipple_fissure"]
    cs = drawn["delivery_mode"] == "caesarean"
    ratio = table.value("fissure_caesarean_prevalence_ratio", "1")
    assert fissure[damage & cs].mean() / fissure[damage & ~cs].mean() == pytest.approx(ratio, rel=0.08)
    assert damage[cs].mean() == pytest.approx(damage[~cs].mean(), abs=0.02)
    assert fissure[damage].mean() == pytest.approx(table.value("prevalence_nipple_fissure_given_damage", "probability"),
                                                   abs=0.02)


def test_junctions_close_in_a_fast_and_a_slow_phase():
    """A slow share of the colostral opening keeps milk Na:K raised through week 2 and is gone by
    week 4; with the share 0, Na:K on day 10 is the closed-junction value plus strain only."""
    runs = {s: _run(dyads=60, days=30, parameters={"tight_junction_slow_share": s})[0] for s in (0.0, 0.15)}
    nak = {s: r.panel["na_k_ratio"] for s, r in runs.items()}
    lift = nak[0.15] - nak[0.0]
    assert np.median(lift[:, 9]) > 0.05   # day 10: ~0.15 x exp(-9 / 6.4) x 2 of Na:K
    assert np.median(lift[:, 29]) < 0.01  # day 30: the slow phase has closed
    assert np.median(lift[:, 1]) > np.median(lift[:, 9]) > np.median(lift[:, 19])


def test_the_junction_leak_of_inflammation_comes_with_the_leucocyte_influx():
    from lactobiome.model.context import SimulationContext
    from lactobiome.model.leucocytes import recruited_per_ml
    from lactobiome.model.population import draw_population
    from lactobiome.model.random import RandomStreams
    from lactobiome.model.state import DyadState

    scenario = load_scenario("default", {"cohort": {"dyads": 30, "days": 5}})
    parameters, taxa = prepare(scenario)
    ids = np.arange(30)
    population = draw_population(scenario, parameters, ids)

    def na_k(inflammation: float) -> np.ndarray:
        state = DyadState.empty(ids, len(taxa), population)
        state.day = 60
        state.host.update({"breast_milk_share_today": np.ones(30), "solids_fraction": np.zeros(30),
                           "residual_milk_ml": np.zeros(30), "mastitis_this_lactation": np.zeros(30),
                           "treatment_emptying_until": np.zeros(30), "inflammation": np.full(30, inflammation)})
        lactation.step(state, SimulationContext(scenario, parameters, taxa, RandomStreams(1, ids)))
        return state.host["na_k_ratio"].copy()

    ctx = SimulationContext(scenario, parameters, taxa, RandomStreams(1, ids))
    calm, low, clinical = na_k(0.0), na_k(0.6), na_k(1.5)
    # below clinical inflammation the gland recruits few leucocytes, and so leaks little
    assert recruited_per_ml(np.array([0.6]), ctx)[0] < 0.01 * parameters.value("leucocyte_recruitment_max_per_ml",
                                                                                 "cells/mL")
    np.testing.assert_array_less(low - calm, 0.05)  # a strain linear in inflammation above 0.3 gave 0.17
    # at the recruitment's half point the flood of neutrophils opens the junctions: Na:K well above 0.6
    assert (clinical - calm > 0.5).all() and (clinical > 0.6).all()
