"""The dyad simulator: invariants, provenance, reproducibility, routes and published shares."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import lactobiome
from lactobiome.model.engine import run_chunk
from lactobiome.model.random import RandomStreams
from lactobiome.model.sites import ORIGIN_INDEX, ORIGINS, SITE_INDEX, SITES
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import immigrate, move
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare, simulate_in_memory
from lactobiome.summary import origin_shares


def _scenario(name: str = "default", dyads: int = 40, days: int = 31, **sections):
    overrides = {"cohort": {"dyads": dyads, "days": days}}
    for key, value in sections.items():
        overrides[key] = value
    return load_scenario(name, overrides)


@pytest.fixture(scope="module")
def cohort():
    """The default cohort, large enough for provenance shares by feeding group."""
    return simulate_in_memory(_scenario(dyads=400, days=31))


# the sites each external origin enters; moves re-tag a cell with its donor site, so an
# external tag can never appear anywhere else
_EXTERNAL_ENTRY = {
    "resident": {"maternal_gut", "maternal_mouth", "breast_stroma", "areolar_skin"},
    "birth": {"infant_gut", "infant_mouth"},
    "environment": {"infant_gut", "infant_mouth", "areolar_skin"},
}


def test_abundance_is_finite_never_negative_and_external_tags_stay_where_they_enter(cohort):
    values = cohort["abundance"].values
    assert cohort["abundance"].dtype == np.float32
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    by_site = cohort["abundance"].sel(sample_day=30).sum(("taxon", "origin"))
    for site in SITES:  # every site is populated in most dyads (the checks above are not vacuous)
        assert float((by_site.sel(site=site) > 0).mean()) > 0.5, site
    for origin, entered in _EXTERNAL_ENTRY.items():
        cells = cohort["abundance"].sel(origin=origin).sum(("dyad", "sample_day", "taxon"))
        for site in SITES:
            if site in entered:
                assert float(cells.sel(site=site)) > 0, (origin, site)
            else:
                assert float(cells.sel(site=site)) == 0, (origin, site)
    # no probiotic is dosed in the default scenario, so no cell carries that tag
    assert float(cohort["abundance"].sel(origin="probiotic").sum()) == 0


def test_dataset_has_the_public_names(cohort):
    assert cohort["abundance"].dims == ("dyad", "sample_day", "site", "taxon", "origin")
    assert list(cohort["site"].values) == list(SITES)
    assert list(cohort["origin"].values) == list(ORIGINS)
    assert {"genus", "family"} <= set(cohort.coords)
    for name in ("delivery_mode", "intrapartum_antibiotics", "first_time_mother", "previous_mastitis",
                 "oversupply", "tight_bra", "nipple_damage", "secretor", "breast_milk_share",
                 "direct_breastfeeding_share", "probiotic"):
        assert cohort[name].dims == ("dyad",), name
    assert set(np.unique(cohort["delivery_mode"].values)) == {"vaginal", "caesarean"}
    for name in ("breast_milk_share", "direct_breastfeeding_share"):
        shares = cohort[name].values
        assert ((shares >= 0) & (shares <= 1)).all() and len(np.unique(shares)) > 10, name
    for name in ("milk_volume_ml", "milk_bacteria_per_ml"):
        assert cohort[name].dims == ("dyad", "day")
    # the attributes say how the result was made: the same scenario, seed, version and table
    scenario = _scenario(dyads=400, days=31)
    parameters, _ = prepare(scenario)
    assert cohort.attrs["seed"] == str(scenario.cohort.seed)
    assert cohort.attrs["lactobiome_version"] == lactobiome.__version__
    assert cohort.attrs["parameter_table_sha256"] == parameters.digest()
    assert yaml.safe_load(cohort.attrs["scenario_yaml"]) == scenario.model_dump(mode="json")


def test_milk_share_of_infant_gut_matches_pannaraj_and_rises_with_breast_milk(cohort):
    share = origin_shares(cohort, "infant_gut", 30)
    breast = cohort["breast_milk_share"].values
    mostly_breast = breast >= 0.75
    milk = float(share.sel(origin="milk")[mostly_breast].mean())
    skin = float(share.sel(origin="areolar_skin")[mostly_breast].mean())
    # Pannaraj et al. 2017: 27.7% from milk, 10.3% from areolar skin in month 1 (>= 75% breast milk)
    assert 0.15 <= milk <= 0.40
    assert 0.05 <= skin <= 0.20
    milk_by_dyad = share.sel(origin="milk").values
    low = milk_by_dyad[(breast > 0) & (breast < 0.5)].mean()
    high = milk_by_dyad[breast >= 0.99].mean()
    assert high > low
    formula_only = breast == 0
    assert formula_only.sum() >= 10  # the default cohort has a formula-only group
    assert np.all(milk_by_dyad[formula_only] == 0)  # formula only: no milk origin at all


def test_healthy_milk_is_streptococci_and_staphylococci_and_the_infant_mouth_streptococcal(cohort):
    # Hunt 2011, Fitzstevens 2017: Streptococcus and Staphylococcus are the dominant,
    # near-universal milk genera; Enterobacteriaceae are a minority. The infant mouth, whose
    # cells reach milk by retrograde flow, is dominated by oral streptococci (Dzidic 2018).
    day = 30
    healthy = (cohort["breast_milk_share"].values > 0) & (
        cohort["mastitis_state"].sel(day=day).values.astype(str) == "none")

    def shares(site: str, by: str):
        cells = cohort["abundance"].sel(sample_day=day, site=site).sum("origin")[healthy]
        return (cells / cells.sum("taxon")).groupby(by).sum()

    genus, family = shares("milk", "genus"), shares("milk", "family")
    strep = float(genus.sel(genus="Streptococcus").mean())
    staph = genus.sel(genus="Staphylococcus")
    entero = float(family.sel(family="Enterobacteriaceae").mean())
    assert genus.mean("dyad").to_pandas().idxmax() == "Streptococcus"
    assert strep + float(staph.mean()) > 0.4
    assert entero < 0.25 and entero < 0.5 * (strep + float(staph.mean()))
    assert float((staph >= 0.01).mean()) >= 0.7  # target A10b: staphylococci in most women's milk
    mouth, mouth_family = shares("infant_mouth", "genus"), shares("infant_mouth", "family")
    assert float(mouth.sel(genus="Streptococcus").mean()) > 0.5
    assert float(mouth_family.sel(family="Enterobacteriaceae").mean()) < 0.15


def test_origin_never_in_its_own_site(cohort):
    # a cell that moves into a site is tagged with its donor, never with the site itself
    for site in SITES:
        assert float(cohort["abundance"].sel(site=site, origin=site).sum()) == 0.0


def _state(n_dyads: int = 20, n_taxa: int = 6, seed: int = 3) -> DyadState:
    rng = np.random.default_rng(seed)
    state = DyadState.empty(np.arange(n_dyads), n_taxa, {})
    state.abundance[:] = rng.lognormal(8, 3, state.abundance.shape).astype(np.float32)
    state.day = 5
    return state


@pytest.mark.parametrize("fraction", [0.0, 1e-7, 0.01, 0.5, 0.97, 1.0])
def test_move_conserves_cells_and_tags_them_with_the_donor(fraction):
    state = _state()
    before = state.abundance.astype(np.float64).copy()
    moved = move(state, "areolar_skin", "milk", np.full((1, 1), fraction), RandomStreams(1, state.dyad_ids), 77)
    after = state.abundance.astype(np.float64)
    donor, receiver = SITE_INDEX["areolar_skin"], SITE_INDEX["milk"]
    lost = before[:, donor].sum(axis=2) - after[:, donor].sum(axis=2)
    gained = after[:, receiver].sum(axis=2) - before[:, receiver].sum(axis=2)
    np.testing.assert_allclose(lost, moved, rtol=1e-5, atol=1e-2 * before[:, donor].sum(axis=2).max() * 1e-5)
    np.testing.assert_allclose(gained, moved, rtol=1e-5, atol=1.0)
    gained_tag = after[:, receiver, :, ORIGIN_INDEX["areolar_skin"]] - before[:, receiver, :, ORIGIN_INDEX["areolar_skin"]]
    np.testing.assert_allclose(gained_tag, moved, rtol=1e-5, atol=1.0)
    untouched = [i for i in range(len(SITES)) if i not in (donor, receiver)]
    np.testing.assert_array_equal(after[:, untouched], before[:, untouched])
    if fraction == 0.0:
        assert moved.sum() == 0
    if fraction == 1.0:
        assert after[:, donor].sum() == 0
    assert (after >= 0).all()


def test_move_keeps_the_donors_origin_mix():
    state = _state()
    donor = SITE_INDEX["maternal_mouth"]
    before = state.abundance[:, donor].astype(np.float64)
    move(state, "maternal_mouth", "milk", np.full((1, 1), 0.3), RandomStreams(1, state.dyad_ids), 5)
    after = state.abundance[:, donor].astype(np.float64)
    np.testing.assert_allclose(after / after.sum(axis=2, keepdims=True),
                               before / before.sum(axis=2, keepdims=True), rtol=1e-5)


def test_immigrants_are_poisson_and_tagged_with_their_external_origin():
    state = DyadState.empty(np.arange(2000), 3, {})
    state.day = 2
    arrived = immigrate(state, "infant_gut", "environment", np.array([[0.5, 4.0, 0.0]]),
                        RandomStreams(9, state.dyad_ids), 11)
    assert arrived[:, 2].sum() == 0
    assert abs(arrived[:, 0].mean() - 0.5) < 0.06 and abs(arrived[:, 1].var() - 4.0) < 0.6
    tagged = state.abundance[:, SITE_INDEX["infant_gut"], :, ORIGIN_INDEX["environment"]]
    np.testing.assert_array_equal(tagged, arrived.astype(np.float32))
    assert state.abundance.sum() == tagged.sum()


def test_random_streams_do_not_depend_on_batch_composition():
    whole = RandomStreams(42, np.arange(10)).poisson(3, 7, np.full((10, 5), 6.0))
    part = RandomStreams(42, np.array([7, 2])).poisson(3, 7, np.full((2, 5), 6.0))
    np.testing.assert_array_equal(part, whole[[7, 2]])
    other_day = RandomStreams(42, np.arange(10)).poisson(4, 7, np.full((10, 5), 6.0))
    assert not np.array_equal(whole, other_day)


def test_poisson_and_thinning_have_the_right_moments():
    rng = RandomStreams(5, np.arange(400))
    for mean in (0.3, 7.0, 80.0):
        draws = rng.poisson(1, 2, np.full((400, 250), mean))
        assert abs(draws.mean() - mean) < 0.02 * mean + 0.01
        assert abs(draws.var() - mean) < 0.06 * mean + 0.01
        assert (draws == np.floor(draws)).all()
    picked = rng.thin(1, 3, np.full((400, 250), 50.0), np.full((400, 250), 0.8))
    assert abs(picked.mean() - 40.0) < 0.2
    assert picked.max() <= 50 and picked.min() >= 0


def test_same_seed_same_result_whatever_the_chunking():
    scenario = _scenario(dyads=9, days=8, sampling={"days": [1, 4, 8]})
    parameters, taxa = prepare(scenario)
    whole = run_chunk(scenario, parameters, taxa, np.arange(9))
    for size in (1, 7, 1000):
        pieces = [run_chunk(scenario, parameters, taxa, np.arange(9)[i : i + size]) for i in range(0, 9, size)]
        np.testing.assert_array_equal(np.concatenate([p.abundance for p in pieces]), whole.abundance)
        for name, values in whole.panel.items():
            np.testing.assert_array_equal(np.concatenate([p.panel[name] for p in pieces]), values)
    other_seed = load_scenario("default", {"cohort": {"dyads": 9, "days": 8, "seed": 2}, "sampling": {"days": [1, 4, 8]}})
    assert not np.array_equal(run_chunk(other_seed, parameters, taxa, np.arange(9)).abundance, whole.abundance)


def test_pumping_only_switches_off_every_contact_route_but_milk_still_reaches_the_infant():
    pumped = simulate_in_memory(load_scenario("pumping_only", {"cohort": {"dyads": 30, "days": 20}}))
    # the routes of a feed at the breast (mouth-nipple contact, retrograde flow, milk film)
    contact = [("milk", "infant_mouth"), ("milk", "areolar_skin"), ("infant_mouth", "areolar_skin"),
               ("infant_gut", "areolar_skin"), ("areolar_skin", "infant_mouth"), ("areolar_skin", "milk"),
               ("breast_stroma", "areolar_skin")]
    for site, origin in contact:
        assert float(pumped["abundance"].sel(site=site, origin=origin).sum()) == 0.0, (site, origin)
    # the same cohort fed at the breast has all of them (so the zeros above are the pumping)
    direct = simulate_in_memory(load_scenario("pumping_only", {
        "cohort": {"dyads": 30, "days": 20},
        "population": {"feeding_groups": [{"name": "direct", "weight": 1.0, "breast_milk_share": [1.0, 1.0],
                                           "direct_breastfeeding_share": [1.0, 1.0]}]}}))
    for site, origin in contact[:5]:
        assert float(direct["abundance"].sel(site=site, origin=origin).sum()) > 0.0, (site, origin)
    # expressed milk is still drunk: its cells reach the infant gut, and as much milk is taken
    assert float(pumped["abundance"].sel(site="infant_gut", origin="milk").sum()) > 0.0
    np.testing.assert_allclose(pumped["milk_volume_ml"].values, direct["milk_volume_ml"].values, rtol=0.3)


def test_maternal_probiotic_reaches_milk_only_through_the_entero_mammary_route():
    regimen = [{"strain": "limosilactobacillus_fermentum_cect5716", "route": "maternal_oral",
                "cfu_per_day": 3e9, "start_day": 1, "stop_day": 30}]
    strain = "limosilactobacillus_fermentum_cect5716"
    dosed = simulate_in_memory(_scenario(dyads=15, days=20, interventions=regimen))
    assert float(dosed["abundance"].sel(site="maternal_gut", origin="probiotic", taxon=strain).sum()) > 0
    assert float(dosed["abundance"].sel(site="milk", origin="maternal_gut", taxon=strain).sum()) > 0
    blocked = simulate_in_memory(_scenario(dyads=15, days=20, interventions=regimen,
                                           routes={"entero_mammary": False}))
    assert float(blocked["abundance"].sel(site="milk", taxon=strain).sum()) == 0


def test_kernel_cache_is_checked_against_all_numba_sources_of_the_model():
    # kernels inline draws from random.py: an edit there alone must not leave a stale kernel
    from numba.core import config

    from lactobiome.model import _kernel_cache
    from lactobiome.model.transfer import _move_kernel

    if config.CACHE_DIR:
        pytest.skip("NUMBA_CACHE_DIR set: Numba's own cache locator applies")
    locator = _move_kernel._cache._impl._locator
    assert isinstance(locator, _kernel_cache.ModelSourceCacheLocator)
    assert locator.get_source_stamp()[1] == _kernel_cache.model_digest()


def test_model_digest_changes_with_any_numba_source_and_only_those(tmp_path, monkeypatch):
    from lactobiome.model import _kernel_cache

    model = tmp_path / "model"
    (model / "processes").mkdir(parents=True)
    (model / "random.py").write_text("from numba import njit\n")
    (model / "processes" / "growth.py").write_text("import numba\n")
    (model / "sites.py").write_text("SITES = ()\n")
    monkeypatch.setattr(_kernel_cache, "_MODEL", model)
    first = _kernel_cache.model_digest()
    assert _kernel_cache.model_digest() == first  # stable
    (model / "sites.py").write_text("SITES = ('milk',)\n")  # no Numba: cannot be inlined
    assert _kernel_cache.model_digest() == first
    (model / "random.py").write_text("from numba import njit\n# a changed draw\n")
    second = _kernel_cache.model_digest()
    assert second != first
    (model / "processes" / "growth.py").write_text("import numba\nX = 1\n")  # a nested module counts
    assert _kernel_cache.model_digest() != second
