"""The infant-gut mechanisms, each shown acting under common random numbers.

Every comparison runs the same seed and dyads with one switch changed.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from lactobiome.model.processes.feeding_plan import share_factor
from lactobiome.model.taxa import load_taxa
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import simulate_in_memory

EBF = {"name": "ebf", "weight": 1.0, "breast_milk_share": [1.0, 1.0], "direct_breastfeeding_share": [0.85, 1.0]}
FORMULA = {"name": "formula", "weight": 1.0, "breast_milk_share": [0.0, 0.0],
           "direct_breastfeeding_share": [0.0, 0.0]}
DAYS = [1, 2, 3, 4, 6, 7, 10, 14, 21, 30]


@functools.cache
def _run(feeding: str = "ebf", days: int = 30, dyads: int = 60, hmo_off: bool = False,
         params: tuple = (), population: tuple = (), scenario: str = "default", sampling: tuple = (),
         routes: tuple = (), acid_off: bool = False):
    taxa = load_taxa()
    if hmo_off:
        taxa.table["hmo_utilisation"][:] = 0.0
    if acid_off:
        taxa.table["acid_sensitivity"][:] = 0.0
    group = EBF if feeding == "ebf" else FORMULA if feeding == "formula" else {**EBF, "solids_start_day": [1000, 1000]}
    pop = {"caesarean": 0.0, "feeding_groups": [group], **dict(population)}
    overrides = {"cohort": {"dyads": dyads, "days": days, "seed": 7},
                 "sampling": {"days": list(sampling) or [d for d in DAYS if d <= days]}, "parameters": dict(params),
                 "routes": dict(routes)}
    if scenario == "default":
        overrides["population"] = pop
    return simulate_in_memory(load_scenario(scenario, overrides), taxa=taxa)


def _share(ds, day: int, by: str, name: str) -> np.ndarray:
    cells = ds["abundance"].sel(site="infant_gut", sample_day=day).sum("origin")
    rel = (cells / cells.sum("taxon")).groupby(by).sum()
    return rel.sel({by: name}).values


def test_hmo_utilisation_makes_bifidobacteria_dominate_breastfed_infants():
    on, off = _run(), _run(hmo_off=True)
    assert np.median(_share(on, 10, "genus", "Bifidobacterium")) > 0.4
    # without HMOs bifidobacteria hold under a third of what they hold with them (the lactoferrin
    # check on Enterobacteriaceae leaves them some room either way)
    assert np.median(_share(off, 10, "genus", "Bifidobacterium")) < np.median(
        _share(on, 10, "genus", "Bifidobacterium")) / 3.0
    # by day 30 the catalogue niches dominate; HMOs still leave bifidobacteria ahead
    assert np.median(_share(on, 30, "genus", "Bifidobacterium")) > np.median(
        _share(off, 30, "genus", "Bifidobacterium"))


def test_formula_infants_get_no_milk_cells_and_fewer_bifidobacteria():
    bf, ff = _run(), _run("formula")
    assert float(ff["abundance"].sel(site="infant_gut", origin="milk").sum()) == 0.0
    assert float(bf["abundance"].sel(site="infant_gut", origin="milk").sum()) > 0.0
    bf_ratio = np.median(_share(bf, 6, "family", "Bifidobacteriaceae") / _share(bf, 6, "family", "Enterobacteriaceae"))
    ff_ratio = np.median((_share(ff, 6, "family", "Bifidobacteriaceae") + 1e-12)
                         / _share(ff, 6, "family", "Enterobacteriaceae"))
    assert bf_ratio > 100.0 * ff_ratio
    assert np.median(_share(ff, 30, "genus", "Bifidobacterium")) < np.median(_share(bf, 30, "genus", "Bifidobacterium"))


def test_oxygen_falls_and_strict_anaerobes_rise():
    ds = _run()
    oxygen = ds["infant_gut_oxygen"]
    assert ((oxygen.values >= 0.0) & (oxygen.values <= 1.0)).all()
    # facultative anaerobes use the oxygen up: it falls every day in every infant until it is below 1%
    # of a fully oxygenated lumen; there it follows the facultative biomass (a shrinking biomass lets a
    # little back), never again reaching 1% in the first ten days
    first_week = oxygen.isel(day=slice(0, 7))
    assert ((first_week.diff("day") < 0) | (first_week.isel(day=slice(0, 6)).values < 0.01)).all()
    assert float(oxygen.isel(day=slice(5, 10)).max()) < 0.01
    assert float(oxygen.sel(day=10).median()) < 0.05
    taxa = load_taxa()
    anaerobe = np.asarray(taxa["oxygen"]).astype(str) == "anaerobe"
    cells = ds["abundance"].sel(site="infant_gut").sum("origin")
    share = cells.isel(taxon=np.flatnonzero(anaerobe)).sum("taxon") / cells.sum("taxon")
    assert float(share.sel(sample_day=14).median()) > float(share.sel(sample_day=2).median()) + 0.3


def test_without_oxygen_suppression_anaerobes_establish_sooner():
    default = _run(days=10)
    free = _run(days=10, params=(("anaerobe_oxygen_growth_suppression", 0.0),))
    assert np.median(_share(free, 4, "genus", "Bifidobacterium")) > np.median(_share(default, 4, "genus", "Bifidobacterium"))


def test_preterm_infants_keep_oxygen_longer():
    term = _run(days=10, population=(("preterm", 0.0),))
    preterm = _run(days=10, population=(("preterm", 1.0),))
    assert float(preterm["infant_gut_oxygen"].sel(day=4).median()) > float(term["infant_gut_oxygen"].sel(day=4).median())
    # dose-response: the earlier the birth, the more oxygen on day 4
    from scipy.stats import spearmanr

    weeks = preterm["gestational_age_weeks"].values
    assert spearmanr(weeks, preterm["infant_gut_oxygen"].sel(day=4).values).statistic < -0.2
    # and the strict anaerobes follow later
    taxa = load_taxa()
    anaerobe = np.flatnonzero(np.asarray(taxa["oxygen"]).astype(str) == "anaerobe")

    def anaerobe_share(ds, day):
        cells = ds["abundance"].sel(site="infant_gut", sample_day=day).sum("origin")
        return float((cells.isel(taxon=anaerobe).sum("taxon") / cells.sum("taxon")).median())

    assert anaerobe_share(preterm, 6) < anaerobe_share(term, 6)


def test_siga_restrains_enterobacteria_in_breastfed_infants():
    with_siga = _run(days=10)
    without = _run(days=10, params=(("siga_growth_inhibition_max", 0.0),))
    assert np.mean(_share(without, 6, "family", "Enterobacteriaceae")) > np.mean(
        _share(with_siga, 6, "family", "Enterobacteriaceae"))


def test_intrapartum_antibiotics_act_on_the_newborn_community():
    exposed = (("intrapartum_antibiotics_vaginal", 1.0),)
    kill = _run(days=4, population=exposed)
    spare = _run(days=4, population=exposed, params=(("intrapartum_antibiotic_infant_kill_per_day", 0.0),))
    cells = lambda ds: ds["abundance"].sel(site="infant_gut", sample_day=2, taxon="staphylococcus_aureus").sum()  # noqa: E731
    taxa = load_taxa()
    susceptible = taxa["kill_penicillin"] > 0.5
    total = lambda ds: float(ds["abundance"].sel(site="infant_gut", sample_day=2).isel(  # noqa: E731
        taxon=np.flatnonzero(susceptible)).sum())
    assert total(kill) < 0.8 * total(spare)
    # the kill is selective: S. aureus (catalogue kill_penicillin 0.05)
    # keeps nearly all its cells, so its share of the newborn gut rises
    assert float(cells(kill)) > 0.9 * float(cells(spare))
    share = lambda ds: float(cells(ds)) / float(ds["abundance"].sel(site="infant_gut", sample_day=2).sum())  # noqa: E731
    assert share(kill) > share(spare)


def test_infant_probiotic_persists_while_dosed():
    ds = _run(days=30, scenario="infant_probiotic_infantis")
    strain = "bifidobacterium_longum_infantis_evc001"
    cells = ds["abundance"].sel(site="infant_gut").sum("origin")
    share = cells.sel(taxon=strain) / cells.sum("taxon")
    assert float(share.sel(sample_day=1).max()) == 0.0
    assert float(share.sel(sample_day=21).median()) > 0.05
    assert float(ds["abundance"].sel(site="infant_gut", origin="probiotic", taxon=strain, sample_day=21).min()) > 0


def test_feeding_plan_changes_the_breast_milk_share_over_time():
    assert share_factor(1, []) == 1.0
    knots = [(0, 1.0), (4, 0.5)]
    assert share_factor(1, knots) == pytest.approx(1.0)
    assert share_factor(15, knots) == pytest.approx(0.75)
    assert share_factor(200, knots) == pytest.approx(0.5)
    plan = {**EBF, "breast_milk_share_factor_by_week": [[0, 1.0], [2, 1.0], [4, 0.0]]}
    ds = simulate_in_memory(load_scenario("default", {
        "cohort": {"dyads": 20, "days": 35, "seed": 3}, "sampling": {"days": [35]},
        "population": {"feeding_groups": [plan]}}))
    share = ds["breast_milk_share_today"]
    assert np.allclose(share.sel(day=10), 1.0) and np.allclose(share.sel(day=35), 0.0)
    assert float(ds["milk_volume_ml"].sel(day=35).max()) == 0.0
    assert float(ds["milk_volume_ml"].sel(day=10).min()) > 0.0


def test_solids_start_around_six_months_and_ramp_up_from_each_infants_own_day():
    ds = simulate_in_memory(load_scenario("default", {
        "cohort": {"dyads": 20, "days": 240, "seed": 3}, "sampling": {"days": [240]}}))
    start = ds["solids_start_day"].values
    # WHO: complementary foods from about 6 months; the cohort spreads its start days
    assert ((start >= 120) & (start <= 240)).all() and np.ptp(start) > 10
    solids = ds["solids_fraction"].values  # (dyad, day), day index 0 = day of life 1
    day = ds["day"].values[None, :]
    assert (solids[day < start[:, None]] == 0.0).all()
    assert (solids[day >= start[:, None] + 1] > 0.0).all()
    assert (np.diff(solids, axis=1) >= 0.0).all() and (solids <= 1.0).all()
    assert (solids[:, -1] > 0.5).all()  # solids are most of the diet by day 240


def _bacteroides(ds, day: int) -> np.ndarray:
    return _share(ds, day, "genus", "Bacteroides") + _share(ds, day, "genus", "Phocaeicola")


def test_caesarean_born_infants_lack_bacteroides_for_months():
    """Same dyads and seed, only the birth mode changed (Shao 2019; Yassour 2016; Backhed 2015)."""
    kw = {"days": 90, "dyads": 40, "sampling": (7, 30, 90)}
    vaginal = _run(**kw)
    caesarean = _run(**kw, population=(("caesarean", 1.0),))
    assert (caesarean["delivery_mode"].values == "caesarean").all()
    for day in (7, 30, 90):
        assert np.mean(_bacteroides(caesarean, day)) < 0.5 * np.mean(_bacteroides(vaginal, day))
    # facultative hospital/skin taxa take the room: more Enterococcus and Klebsiella at day 30
    for genus in ("Enterococcus", "Klebsiella"):
        assert np.mean(_share(caesarean, 30, "genus", genus)) > np.mean(_share(vaginal, 30, "genus", genus))
    # acquisition is slow and from the mother: later Bacteroides arrive tagged maternal_gut
    later = caesarean["abundance"].sel(site="infant_gut", origin="maternal_gut", sample_day=90)
    assert float(later.sum()) > 0.0
    assert float(vaginal["abundance"].sel(site="infant_gut", origin="birth", sample_day=90,
                                          taxon="bacteroides_fragilis").sum()) > 0.0


def test_maternal_contact_route_can_be_switched_off():
    kw = {"days": 90, "dyads": 40, "sampling": (7, 30, 90), "population": (("caesarean", 1.0),)}
    off = _run(**kw, routes=(("maternal_gut_to_infant_gut", False),))
    assert float(off["abundance"].sel(site="infant_gut", origin="maternal_gut").sum()) == 0.0
    assert float(_run(**kw)["abundance"].sel(site="infant_gut", origin="maternal_gut").sum()) > 0.0


def _distance_to_mother(ds, day: int) -> np.ndarray:
    cells = ds["abundance"].sel(sample_day=day).sum("origin")
    infant = cells.sel(site="infant_gut").values
    mother = cells.sel(site="maternal_gut").values
    infant = infant / infant.sum(axis=1, keepdims=True)
    mother = mother / mother.sum(axis=1, keepdims=True)
    return np.abs(infant - mother).sum(axis=1) / 2.0  # Bray-Curtis on relative abundances


def test_solids_move_the_infant_gut_towards_the_maternal_gut():
    """Same dyads and seed; one arm never starts solids (solids start days 150-200)."""
    kw = {"days": 330, "dyads": 24, "sampling": (120, 330)}
    solids, none = _run(**kw), _run("no_solids", **kw)
    assert (none["solids_fraction"].values == 0.0).all() and (solids["solids_fraction"].sel(day=330).values > 0.5).all()
    # identical before solids start (common random numbers)
    np.testing.assert_allclose(_distance_to_mother(solids, 120), _distance_to_mother(none, 120))
    closer = _distance_to_mother(none, 330) - _distance_to_mother(solids, 330)
    assert np.median(closer) > 0.03 and (closer > 0).mean() > 0.8
    for genus in ("Faecalibacterium", "Blautia", "Ruminococcus", "Prevotella"):
        assert np.mean(_share(solids, 330, "genus", genus)) > 10 * np.mean(_share(none, 330, "genus", genus)) + 1e-3
    assert np.median(_share(solids, 330, "genus", "Bifidobacterium")) < np.median(
        _share(none, 330, "genus", "Bifidobacterium"))


def test_acid_inhibition_follows_the_acid_producers_share_between_onset_and_acid_ph():
    from lactobiome.model.parameters import load_parameters
    from lactobiome.model.processes.infant_gut import acid_inhibition

    table = load_parameters()

    class _Ctx:
        def p(self, name: str, unit: str) -> float:
            return table.value(name, unit)

    neutral, acid = table.value("infant_gut_ph_neutral", "1"), table.value("infant_gut_ph_acid", "1")
    onset = table.value("acid_inhibition_onset_ph", "1")
    production = np.array([1.0, 0.0])
    shares = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    cells = np.column_stack([shares, 1.0 - shares]) * 1e10
    got = acid_inhibition(cells, production, _Ctx())  # type: ignore[arg-type]
    ph = neutral - (neutral - acid) * shares
    assert got == pytest.approx(np.clip((onset - ph) / (onset - acid), 0.0, 1.0))
    assert got[0] == 0.0 and got[-1] == 1.0 and np.all(np.diff(got) >= 0.0)
    # an empty gut is not acid
    assert acid_inhibition(np.zeros((1, 2)), production, _Ctx())[0] == 0.0  # type: ignore[arg-type]


def test_acid_from_bifidobacteria_pushes_enterobacteria_down_in_breastfed_infants():
    # same seed and dyads; only the taxa's acid sensitivity switched off
    on, off = _run(), _run(acid_off=True)
    ratio_on = np.median(_share(on, 14, "family", "Enterobacteriaceae"))
    ratio_off = np.median(_share(off, 14, "family", "Enterobacteriaceae"))
    assert ratio_on < 0.7 * ratio_off
    # acid-tolerant bifidobacteria gain what the Enterobacteriaceae lose
    assert np.median(_share(on, 14, "family", "Bifidobacteriaceae")) > np.median(
        _share(off, 14, "family", "Bifidobacteriaceae"))


@functools.cache
def _breast_milk_share(share: float, starvation: float):
    group = {**EBF, "breast_milk_share": [share, share]}
    return simulate_in_memory(load_scenario("default", {
        "cohort": {"dyads": 60, "days": 30, "seed": 7}, "sampling": {"days": [30]},
        "population": {"caesarean": 0.0, "feeding_groups": [group]},
        "parameters": {"hmo_starvation_death_per_day": starvation}}))


def test_hmo_starvation_leaves_partly_breastfed_infants_a_less_bifidobacterial_gut():
    def bif(share: float, starvation: float) -> float:
        return float(np.median(_share(_breast_milk_share(share, starvation), 30, "family", "Bifidobacteriaceae")))

    ebf_on, mixed_on = bif(1.0, 0.3), bif(0.1, 0.3)
    ebf_off, mixed_off = bif(1.0, 0.0), bif(0.1, 0.0)
    # the HMO dose now sets how much of the gut bifidobacteria hold: less at 10% breast milk
    assert mixed_on < ebf_on
    assert mixed_on < mixed_off - 0.03
    # exclusively breastfed infants, whose HMO supply meets more of the need, lose less
    assert ebf_off - ebf_on < mixed_off - mixed_on


def test_milk_borne_cells_of_the_infant_gut_are_bifidobacteria_grown_on_hmos_not_milk_s_profile():
    """Why a mixture model (E01 through Pannaraj's pipeline) cannot follow milk-borne cells.

    Provenance is the last donor: the milk-tagged cells of the day-30 breastfed gut are mostly
    bifidobacteria that grew there on HMOs, far more than bifidobacteria's share of the milk
    itself, whose commonest genus (Streptococcus) makes only a small part of the gut.
    """
    ds = _run()
    genus = np.asarray(ds["genus"].values).astype(str)
    bif = genus == "Bifidobacterium"
    gut = ds["abundance"].sel(site="infant_gut", sample_day=30)
    milk_borne = gut.sel(origin="milk").sum("dyad").values
    milk = ds["abundance"].sel(site="milk", sample_day=30).sum(["dyad", "origin"]).values
    bif_of_milk_borne = milk_borne[bif].sum() / milk_borne.sum()
    bif_of_milk = milk[bif].sum() / milk.sum()
    assert bif_of_milk_borne > 0.5
    assert bif_of_milk_borne > 4.0 * bif_of_milk
    # milk's commonest genus is a minor part of the gut it seeded
    by_genus = {g: milk[genus == g].sum() for g in set(genus)}
    top = max(by_genus, key=lambda g: by_genus[g])
    assert top != "Bifidobacterium"
    gut_all = gut.sum(["dyad", "origin"]).values
    assert gut_all[genus == top].sum() / gut_all.sum() < 0.5 * by_genus[top] / milk.sum()


def test_acid_onset_not_above_acid_ph_is_refused() -> None:
    """An onset pH at or below the acid stool pH would make the inhibition ramp divide by zero."""
    from lactobiome.errors import InputError
    from lactobiome.model.engine import run_chunk
    from lactobiome.simulation import prepare as prepare_run

    scenario = load_scenario(
        "default",
        {"cohort": {"dyads": 2, "days": 2}, "parameters": {"acid_inhibition_onset_ph": 5.0, "infant_gut_ph_acid": 5.0}},
    )
    parameters, taxa = prepare_run(scenario)
    with pytest.raises(InputError, match=r"acid_inhibition_onset_ph \(5\) must be above infant_gut_ph_acid \(5\)"):
        run_chunk(scenario, parameters, taxa, np.arange(2))


def test_milk_lactoferrin_falls_from_colostrum_to_the_mature_level_and_saturates_in_the_colon():
    from lactobiome.model.parameters import load_parameters
    from lactobiome.model.processes.infant_gut import lactoferrin_effect, milk_lactoferrin_g_per_l

    table = load_parameters()

    class _Ctx:
        def p(self, name: str, unit: str) -> float:
            return table.value(name, unit)

    ctx = _Ctx()
    colostrum = table.value("milk_lactoferrin_colostrum_g_per_l", "g/L")
    mature = table.value("milk_lactoferrin_mature_g_per_l", "g/L")
    series = np.array([milk_lactoferrin_g_per_l(d, ctx) for d in (1, 4, 7, 30, 90, 365)])  # type: ignore[arg-type]
    assert series[0] == pytest.approx(colostrum)
    assert np.all(np.diff(series) < 0.0) and np.all(series > mature)
    assert series[-1] == pytest.approx(mature, rel=0.01)
    # Rai 2014: study means of mature milk lie within 0.44-4.4 g/L; Zhou 2025: 4.02 g/L at day 30
    assert 0.44 <= series[-1] <= 4.4 and 3.0 < series[3] < 5.0

    volume = np.array([0.0, 30.0, 500.0, 5000.0])  # mL/day of breast milk
    effect = lactoferrin_effect(volume, 6, ctx)  # type: ignore[arg-type]
    # formula carries none; the effect rises with the dose and saturates below 1
    assert effect[0] == 0.0 and np.all(np.diff(effect) > 0.0) and effect[-1] < 1.0
    luminal = (500.0 / 1000.0 * milk_lactoferrin_g_per_l(6, ctx)  # type: ignore[arg-type]
               * table.value("lactoferrin_intact_colon_share", "fraction")
               / (table.value("infant_colon_content_ml", "mL") / 1000.0))
    assert effect[2] == pytest.approx(luminal / (luminal + table.value("lactoferrin_half_effect_g_per_l", "g/L")))


LACTOFERRIN_OFF = (("lactoferrin_growth_inhibition_max", 0.0), ("lactoferrin_kill_per_day", 0.0))


def test_lactoferrin_holds_back_enterobacteria_of_breastfed_infants_only():
    # same seed and dyads; only the lactoferrin check switched off
    on, off = _run(days=10), _run(days=10, params=LACTOFERRIN_OFF)

    def enterobacteria(ds, day: int) -> np.ndarray:
        cells = ds["abundance"].sel(site="infant_gut", sample_day=day).sum("origin")
        return cells.groupby("family").sum().sel(family="Enterobacteriaceae").values

    for day in (4, 6, 10):
        assert np.median(np.log10(enterobacteria(on, day) + 1.0)) < np.median(
            np.log10(enterobacteria(off, day) + 1.0)) - 0.3
    # bifidobacteria, which lactoferrin spares, take at least the room the Enterobacteriaceae lose
    assert np.median(_share(on, 6, "family", "Bifidobacteriaceae")) > np.median(
        _share(off, 6, "family", "Bifidobacteriaceae"))
    # formula carries no lactoferrin: the formula-fed run is unchanged to the bit
    f_on, f_off = _run("formula", days=10), _run("formula", days=10, params=LACTOFERRIN_OFF)
    np.testing.assert_array_equal(f_on["abundance"].values, f_off["abundance"].values)


def test_colonic_lactose_follows_both_milks_and_is_shared_by_the_whole_community():
    from lactobiome.model.parameters import load_parameters
    from lactobiome.model.processes.infant_gut import colonic_lactose_g_per_day, glycan_saturation

    table = load_parameters()

    class _Ctx:
        def p(self, name: str, unit: str) -> float:
            return table.value(name, unit)

    ctx = _Ctx()
    share = table.value("lactose_colon_escape_share", "fraction")
    milk = np.array([0.0, 500.0, 0.0, 250.0])  # mL/day
    formula = np.array([0.0, 0.0, 500.0, 250.0])
    got = colonic_lactose_g_per_day(milk, formula, ctx)  # type: ignore[arg-type]
    assert got[0] == 0.0
    assert got[1] == pytest.approx(0.5 * table.value("milk_lactose_g_per_l", "g/L") * share)
    assert got[2] == pytest.approx(0.5 * table.value("formula_lactose_g_per_l", "g/L") * share)
    assert got[3] == pytest.approx(0.5 * (got[1] + got[2]))

    half = table.value("hmo_half_saturation_g_per_day", "g/day") / table.value("hmo_reference_cells", "cells")
    hmo = np.array([[2.0], [2.0], [0.0], [0.0], [0.0]])  # g/day open to the one taxon
    utilisers = np.array([1e11, 1e11, 1e11, 0.0, 0.0])
    lactose = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    community = np.array([1e11, 4e11, 4e11, 0.0, 0.0])
    sat = glycan_saturation(hmo, utilisers, lactose, community, ctx)[:, 0]  # type: ignore[arg-type]
    # without lactose it is the HMO form A / (A + h U / U_ref)
    assert sat[0] == pytest.approx(2.0 / (2.0 + half * 1e11))
    # lactose adds its supply per cell of the whole community, not per utiliser cell
    per_cell = 2.0 / 1e11 + 1.0 / 4e11
    assert sat[1] == pytest.approx(per_cell / (per_cell + half))
    assert sat[2] == pytest.approx((1.0 / 4e11) / (1.0 / 4e11 + half))
    # a supply with no cells to share it saturates; no supply, no saturation
    assert sat[3] == 1.0 and sat[4] == 0.0
    # more non-utilising fermenters leave each cell less of the same lactose
    crowded = glycan_saturation(np.zeros((1, 1)), np.array([1e11]), np.array([1.0]), np.array([1e12]), ctx)
    assert crowded[0, 0] < sat[2]


LACTOSE_OFF = (("lactose_colon_escape_share", 0.0),)


def test_formula_lactose_feeds_bifidobacteria_only_when_formula_is_fed():
    # exclusively breastfed: formula lactose does not enter, so its concentration changes nothing
    bf, bf_no_formula_lactose = _run(days=10), _run(days=10, params=(("formula_lactose_g_per_l", 0.0),))
    np.testing.assert_array_equal(bf["abundance"].values, bf_no_formula_lactose["abundance"].values)
    # formula only: breast-milk lactose does not enter, formula lactose brings bifidobacteria forward
    ff, ff_no_milk_lactose = _run("formula", days=10), _run("formula", days=10, params=(("milk_lactose_g_per_l", 0.0),))
    np.testing.assert_array_equal(ff["abundance"].values, ff_no_milk_lactose["abundance"].values)
    ff_off = _run("formula", days=10, params=LACTOSE_OFF)
    assert (ff["abundance"].values >= 0.0).all()

    def log_bif(ds, day: int) -> np.ndarray:
        cells = ds["abundance"].sel(site="infant_gut", sample_day=day).sum("origin")
        return np.log10(cells.groupby("family").sum().sel(family="Bifidobacteriaceae").values + 1.0)

    for day in (4, 6):
        assert np.median(log_bif(ff, day)) > np.median(log_bif(ff_off, day)) + 1.0
    # breastfed infants' bifidobacteria are already fed by HMOs in week 1: lactose moves them far less
    bf_off = _run(days=10, params=LACTOSE_OFF)
    assert abs(np.median(log_bif(bf, 6)) - np.median(log_bif(bf_off, 6))) < 0.5
    # with formula lactose, formula-fed bifidobacteria still trail breastfed ones in week 1
    assert np.median(log_bif(ff, 6)) < np.median(log_bif(bf, 6))


def test_oxygen_over_day_matches_the_exact_solution_with_constant_consumers():
    from lactobiome.model.processes.infant_gut import oxygen_over_day

    previous, supply, uptake = np.array([1.0, 0.3]), np.array([0.5, 0.5]), np.array([4.0, 0.0])
    mean, end = oxygen_over_day(previous, supply, uptake, np.ones(2))
    total = supply + uptake
    equilibrium = supply / total
    exact_end = equilibrium + (previous - equilibrium) * np.exp(-total)
    exact_mean = equilibrium + (previous - equilibrium) * -np.expm1(-total) / total
    np.testing.assert_allclose(end, exact_end, rtol=1e-12)
    np.testing.assert_allclose(mean, exact_mean, rtol=1e-12)
    # without consumers the lumen re-oxygenates towards 1; with them the day mean lies between start and end
    assert end[1] > previous[1]
    assert end[0] < mean[0] < previous[0]


def test_consumers_growing_through_the_day_remove_more_oxygen():
    from lactobiome.model.processes.infant_gut import oxygen_over_day

    previous, supply, uptake = np.array([0.9]), np.array([0.5]), np.array([0.5])
    flat_mean, flat_end = oxygen_over_day(previous, supply, uptake, np.array([1.0]))
    mean, end = oxygen_over_day(previous, supply, uptake, np.array([100.0]))
    assert end[0] < 0.1 * flat_end[0]
    assert mean[0] < flat_mean[0]
    # the hourly integration has converged: ten times finer moves the day mean by under 1% and the
    # end of day by under 0.002 (of a fully oxygenated lumen)
    fine_mean, fine_end = oxygen_over_day(previous, supply, uptake, np.array([100.0]), steps=240)
    assert abs(mean[0] - fine_mean[0]) < 0.01 * fine_mean[0]
    assert abs(end[0] - fine_end[0]) < 0.002
    # a shrinking biomass removes less than a constant one
    _, shrinking_end = oxygen_over_day(previous, supply, uptake, np.array([0.1]))
    assert shrinking_end[0] > flat_end[0]


def test_formula_buffers_the_stool_so_the_same_acid_producers_lower_its_ph_less():
    from lactobiome.model.parameters import load_parameters
    from lactobiome.model.processes.infant_gut import acid_inhibition, diet_buffering

    table = load_parameters()

    class _Ctx:
        def p(self, name: str, unit: str) -> float:
            return table.value(name, unit)

    neutral, acid = table.value("infant_gut_ph_neutral", "1"), table.value("infant_gut_ph_acid", "1")
    formula_ph, onset = table.value("formula_stool_ph_acid", "1"), table.value("acid_inhibition_onset_ph", "1")
    beta = (neutral - acid) / (neutral - formula_ph)
    milk, formula = np.array([600.0, 0.0, 300.0, 0.0]), np.array([0.0, 600.0, 300.0, 0.0])
    buffering = diet_buffering(milk, formula, _Ctx())  # type: ignore[arg-type]
    # breast milk alone (and no milk at all) is the reference; buffers add by volume
    assert buffering == pytest.approx([1.0, beta, 0.5 * (1.0 + beta), 1.0])
    assert beta > 2.0  # formula holds over twice the buffer of breast milk (5.9 vs 5.0 from 6.5)
    # a gut wholly of acid producers: the breastfed stool reaches the acid pH, the formula-fed one formula_stool_ph_acid
    cells = np.array([[1e10, 0.0]] * 4)
    got = acid_inhibition(cells, np.array([1.0, 0.0]), _Ctx(), buffering)  # type: ignore[arg-type]
    expected_ph = neutral - (neutral - acid) / buffering
    assert expected_ph[1] == pytest.approx(formula_ph)
    assert got == pytest.approx(np.clip((onset - expected_ph) / (onset - acid), 0.0, 1.0))
    assert got[0] == 1.0 and got[1] < got[2] < got[0]


def test_formula_buffering_keeps_enterobacteriaceae_in_formula_fed_infants():
    # same seed and dyads; only the formula's buffering removed (its stool may fall to the breastfed acid pH)
    buffered = _run("formula")
    unbuffered = _run("formula", params=(("formula_stool_ph_acid", 5.0),))
    ent = np.median(_share(buffered, 30, "family", "Enterobacteriaceae"))
    assert ent > 2.0 * np.median(_share(unbuffered, 30, "family", "Enterobacteriaceae"))
    # and the acid-tolerant bifidobacteria hold less of the gut than they would in an unbuffered stool
    assert np.median(_share(buffered, 30, "family", "Bifidobacteriaceae")) < np.median(
        _share(unbuffered, 30, "family", "Bifidobacteriaceae"))


def test_formula_stool_ph_outside_acid_to_neutral_is_refused() -> None:
    """A formula stool pH at the neutral pH would make the formula's relative buffering infinite."""
    from lactobiome.errors import InputError
    from lactobiome.model.engine import run_chunk
    from lactobiome.simulation import prepare as prepare_run

    scenario = load_scenario("default", {"cohort": {"dyads": 2, "days": 2},
                                         "parameters": {"formula_stool_ph_acid": 6.5, "infant_gut_ph_neutral": 6.5}})
    parameters, taxa = prepare_run(scenario)
    with pytest.raises(InputError, match=r"formula_stool_ph_acid \(6.5\) must lie from infant_gut_ph_acid"):
        run_chunk(scenario, parameters, taxa, np.arange(2))
