"""The eczema (atopic dermatitis) outcome model: risk from the early-life state, its draw, what it needs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from lactobiome.errors import InputError
from lactobiome.model.context import stream_id
from lactobiome.model.parameters import load_parameters
from lactobiome.model.random import RandomStreams
from lactobiome.outcomes import atopic_dermatitis
from lactobiome.outcomes.atopic_dermatitis import DAYS_PER_MONTH, STREAM
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import simulate_in_memory

DYADS = 240


@pytest.fixture(scope="module")
def cohort() -> xr.Dataset:
    """The default cohort over the model's window (60 days), seed 1."""
    return simulate_in_memory(load_scenario("default", {"cohort": {"dyads": DYADS, "days": 60, "seed": 1}}))


def test_probability_is_a_probability_and_the_draw_follows_it(cohort):
    result = atopic_dermatitis(cohort)
    p = result["atopic_dermatitis_probability"].to_numpy()
    assert np.all((p >= 0.0) & (p <= 1.0))
    onset = result["atopic_dermatitis_onset_day"].to_numpy()
    cases = result["atopic_dermatitis"].to_numpy()
    assert np.array_equal(np.isfinite(onset), cases)
    assert np.all((onset[cases] >= 1.0) & (onset[cases] <= 24 * DAYS_PER_MONTH))


def test_default_cohort_incidence_lies_in_the_sourced_band(cohort):
    """Mean 24-month risk of the default cohort within the birth cohorts' range (DNBC 11.5% to MAS 21.5%,
    the table's band for ``atopic_dermatitis_incidence_24mo``)."""
    low, high = load_parameters()["atopic_dermatitis_incidence_24mo"].prior_args
    mean = float(atopic_dermatitis(cohort)["atopic_dermatitis_probability"].mean())
    assert low <= mean <= high


def test_maternal_atopy_raises_the_risk_all_else_equal(cohort):
    atopic = cohort.assign(maternal_atopy=("dyad", np.ones(cohort.sizes["dyad"], dtype=bool)))
    not_atopic = cohort.assign(maternal_atopy=("dyad", np.zeros(cohort.sizes["dyad"], dtype=bool)))
    p_yes = atopic_dermatitis(atopic)["atopic_dermatitis_probability"].to_numpy()
    p_no = atopic_dermatitis(not_atopic)["atopic_dermatitis_probability"].to_numpy()
    assert np.all(p_yes > p_no)
    # the odds ratio is the table's, whatever else the dyad carries
    odds = (p_yes / (1 - p_yes)) / (p_no / (1 - p_no))
    assert np.allclose(odds, load_parameters().value("atopic_dermatitis_or_maternal_atopy", "1"))


def test_a_probiotic_has_no_direct_term(cohort):
    """Naming a probiotic in the dataset changes nothing: a strain acts only through the state it changes."""
    dosed = cohort.assign(probiotic=("dyad", np.full(cohort.sizes["dyad"], "lacticaseibacillus_rhamnosus_gg",
                                                     dtype=object)))
    assert np.array_equal(atopic_dermatitis(dosed)["atopic_dermatitis_probability"],
                          atopic_dermatitis(cohort)["atopic_dermatitis_probability"])


def test_common_random_numbers_couple_two_arms(cohort):
    """Same seed and dyad id, the same uniform: a dyad whose risk is higher in one arm has eczema there
    whenever it has it in the other."""
    ids = cohort["dyad"].to_numpy()
    u = RandomStreams(1, ids).uniform(0, stream_id(STREAM), (2,))
    again = RandomStreams(1, ids[::-1]).uniform(0, stream_id(STREAM), (2,))[::-1]
    assert np.array_equal(u, again)
    base = atopic_dermatitis(cohort)
    riskier = atopic_dermatitis(cohort.assign(maternal_atopy=("dyad", np.ones(len(ids), dtype=bool))))
    assert np.all(riskier["atopic_dermatitis"].to_numpy() >= base["atopic_dermatitis"].to_numpy())
    assert np.array_equal(base["atopic_dermatitis"].to_numpy(), u[:, 0] < base["atopic_dermatitis_probability"])
    # a subset of the dyads (another chunking) draws the same for each
    part = atopic_dermatitis(cohort.isel(dyad=slice(10, 50)))
    assert np.array_equal(part["atopic_dermatitis"], base["atopic_dermatitis"].isel(dyad=slice(10, 50)))


def test_an_earlier_age_counts_a_subset_of_the_cases(cohort):
    by_24, by_6 = atopic_dermatitis(cohort, months=24), atopic_dermatitis(cohort, months=6)
    assert np.all(by_6["atopic_dermatitis"].to_numpy() <= by_24["atopic_dermatitis"].to_numpy())
    assert np.all(by_6["atopic_dermatitis_probability"] < by_24["atopic_dermatitis_probability"])
    assert np.nanmax(by_6["atopic_dermatitis_onset_day"]) <= 6 * DAYS_PER_MONTH
    with pytest.raises(InputError, match="months must be 1 to 24"):
        atopic_dermatitis(cohort, months=36)


def test_a_dataset_too_short_or_without_day_30_is_refused(cohort):
    with pytest.raises(InputError, match=r"has 40 simulated days; .* needs cohort.days >= 60"):
        atopic_dermatitis(cohort.isel(day=slice(0, 40)))
    with pytest.raises(InputError, match="did not record the abundance on day 30"):
        atopic_dermatitis(cohort.sel(sample_day=[1, 3, 7, 14, 60]))
    with pytest.raises(InputError, match="lacks maternal_atopy"):
        atopic_dermatitis(cohort.drop_vars("maternal_atopy"))
