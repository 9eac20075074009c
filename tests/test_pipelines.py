"""Targets measured as their study measured them: measured_by, the Pannaraj pipeline, the report."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from lactobiome.errors import InputError
from lactobiome.validation import load_targets, run_cohort, to_markdown, validate_dataset
from lactobiome.validation.measures._common import recorded_day
from lactobiome.validation.pipelines import (
    CASE_DEFINITIONS,
    PIPELINES,
    READINGS,
    STOOL_CONTENT_G,
    STOOL_CULTURE_DETECTION_LOG10_CFU_PER_G,
    TRUTH,
    YOSHIOKA_CULTURE,
    run_pipeline,
)


@pytest.fixture(scope="module")
def cohort() -> xr.Dataset:
    return run_cohort("default", dyads=40, days=31, seed=3)


def test_shipped_targets_say_how_they_were_measured() -> None:
    targets = {t.id: t for t in load_targets()}
    assert targets["E01"].measured_by == "pannaraj2017/16S/sourcetracker"
    assert targets["E02"].measured_by == "pannaraj2017/16S/sourcetracker"
    assays = {"A01": "culture/plate", "A02": "culture/plate", "A03": "schwab2019/qpcr", "A04": "culture/plate", "A18": "culture/plate",
              "A06": "culture/plate", "A07": "culture/plate",
              "C03": "microscopy/morphology", "C04": "microscopy/morphology", "C05": "microscopy/morphology",
              "A13a": "biagi2017/16s", "A13b": "biagi2017/16s", "A13c": "biagi2017/16s", "A11": "williams2019/16s",
              "D14a": "marin2017/culture", "D14b": "marin2017/culture", "D14c": "marin2017/culture"}
    for tid, key in assays.items():
        assert targets[tid].measured_by == key
    assert targets["E10a"].measured_by == targets["E10b"].measured_by == YOSHIOKA_CULTURE
    # the studies' case definitions (session 8): Foxman's provider-diagnosed count, Amir's febrile
    # mastitis, Kvist's clinic temperature; Kinlay's adjusted proportional-hazards model (session 10; its
    # cracked-nipple and blocked-duct ratios, session 12)
    cases = {"D19": "foxman2002/provider_diagnosed", "D21": "foxman2002/provider_diagnosed",
             "D20": "amir2007/fever_or_flu_like", "D23": "amir2007/fever_or_flu_like",
             "D27": "amir2007/fever_or_flu_like", "D35": "kvist2007/first_visit_temperature",
             "D22": "kinlay2001/proportional_hazards", "D39": "kinlay2001/proportional_hazards",
             "D40": "kinlay2001/proportional_hazards"}
    for tid, key in cases.items():
        assert targets[tid].measured_by == key
    others = [t.measured_by for k, t in targets.items() if k not in ("E01", "E02", "E10a", "E10b", *cases, *assays)]
    assert set(others) == {TRUTH}
    assert set(PIPELINES) >= {targets["E01"].measured_by}
    assert set(READINGS) >= {targets["E10a"].measured_by}
    assert targets["D19"].measured_by == "foxman2002/provider_diagnosed"
    assert set(CASE_DEFINITIONS) >= set(cases.values())


def test_unknown_pipeline_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "targets:\n- {id: X1, role: check, system: milk, quantity: q, published: '1', unit: fraction, "
        "population: all, time_point: day 30, source: s, measure: infant_gut_milk_share_d30, "
        "acceptance: [0, 1], measured_by: nobody/16S/guess}\n"
    )
    with pytest.raises(InputError, match=r"t.yaml: target 1 \(X1\): measured_by 'nobody/16S/guess'"):
        load_targets(path)


def test_validate_reports_pipeline_value_with_truth_beside_it(cohort: xr.Dataset) -> None:
    targets = [t for t in load_targets() if t.id in ("E01", "E02", "E03")]
    full = validate_dataset(cohort, targets, n_boot=20, seed=1)
    table = full.set_index("id")
    for col in ("truth_value", "measured_by"):
        assert col in table.columns
    for tid in ("E01", "E02"):
        row = table.loc[tid]
        assert 0.0 <= row["model"] <= 1.0 and 0.0 <= row["truth_value"] <= 1.0
        assert row["ci_low"] <= row["model"] <= row["ci_high"]
        assert 0 < row["n"] <= 107
        assert row["model"] != row["truth_value"]  # a pipeline, not the truth
    # a truth target's model value is its true value
    e03 = table.loc["E03"]
    assert e03["measured_by"] == TRUTH
    assert (math.isnan(e03["model"]) and math.isnan(e03["truth_value"])) or (
        e03["model"] == e03["truth_value"]
    )
    again = validate_dataset(cohort, targets, n_boot=20, seed=1).set_index("id")
    assert again.loc["E01", "model"] == table.loc["E01", "model"]
    md = to_markdown(full)
    section = md[md.index("## Measured as the study measured it"):]
    assert "Why the two differ" in section and "milk: true share" in section
    # the sink's own dominant genus and the Unknown share the method gave it: the rest of each sink
    found = re.search(r"gives Unknown ([0-9]+\.[0-9]+)", section)
    assert found is not None
    rest = 1.0 - table.loc["E01", "model"] - table.loc["E02", "model"]
    assert float(found.group(1)) == pytest.approx(rest, abs=2e-3)
    assert "Kit contaminants are a median" in section


def test_pipeline_needs_its_day(cohort: xr.Dataset) -> None:
    short = run_cohort("default", dyads=3, days=10, seed=1)
    m = run_pipeline(short, "pannaraj2017/16S/sourcetracker", "infant_gut_milk_share_d30", 0)
    assert math.isnan(m.value) and "day 30 is not a recorded day" in m.reason


def _plate_counts(ds: xr.Dataset, family: str, recovery: float) -> np.ndarray:
    from lactobiome.validation.measures._common import recorded_day

    fam = np.asarray(ds["family"].values).astype(str) == family
    cells = ds["abundance"].sel(site="infant_gut", sample_day=recorded_day(ds, 6, tolerance=1)).sum("origin").values[:, fam].sum(axis=1)
    with np.errstate(divide="ignore"):
        return np.maximum(np.log10(cells * recovery / STOOL_CONTENT_G), STOOL_CULTURE_DETECTION_LOG10_CFU_PER_G)


def test_yoshioka_culture_reads_group_mean_log_counts_of_the_feeding_group(cohort: xr.Dataset) -> None:
    from lactobiome.model.parameters import load_parameters

    recovery = load_parameters().value("obs_culture_recovery", "fraction")
    exclusive = cohort["breast_milk_share"].values >= 0.999
    assert exclusive.sum() > 5
    got = run_pipeline(cohort, YOSHIOKA_CULTURE, "bif_entero_log_ratio_breastfed_d6", n_boot=20, seed=1)
    diff = (_plate_counts(cohort, "Bifidobacteriaceae", recovery)
            - _plate_counts(cohort, "Enterobacteriaceae", recovery))[exclusive]
    assert got.value == pytest.approx(float(np.mean(diff)))
    assert got.n == int(exclusive.sum())
    assert got.low <= got.value <= got.high


def test_yoshioka_culture_reads_the_study_day_itself(cohort: xr.Dataset) -> None:
    """The validation cohort records day 6, Yoshioka's day; without it the reading falls back on a neighbour."""
    from lactobiome.model.parameters import load_parameters

    recovery = load_parameters().value("obs_culture_recovery", "fraction")
    assert 6 in [int(d) for d in cohort["sample_day"].values]
    exclusive = cohort["breast_milk_share"].values >= 0.999
    fam = np.asarray(cohort["family"].values).astype(str)

    def ratio(ds: xr.Dataset, day: int) -> float:
        def counts(family: str) -> np.ndarray:
            cells = ds["abundance"].sel(site="infant_gut", sample_day=day).sum("origin").values[:, fam == family]
            with np.errstate(divide="ignore"):
                log = np.log10(cells.sum(axis=1) * recovery / STOOL_CONTENT_G)
            return np.maximum(log, STOOL_CULTURE_DETECTION_LOG10_CFU_PER_G)

        return float(np.mean((counts("Bifidobacteriaceae") - counts("Enterobacteriaceae"))[exclusive]))

    got = run_pipeline(cohort, YOSHIOKA_CULTURE, "bif_entero_log_ratio_breastfed_d6", n_boot=0)
    assert got.value == pytest.approx(ratio(cohort, 6))
    without_day_6 = cohort.sel(sample_day=[d for d in cohort["sample_day"].values if int(d) != 6])
    fallback = run_pipeline(without_day_6, YOSHIOKA_CULTURE, "bif_entero_log_ratio_breastfed_d6", n_boot=0)
    assert fallback.value == pytest.approx(ratio(cohort, recorded_day(without_day_6, 6, tolerance=1)))
    # the bloom moves the contrast between the two days: reading the wrong day is not harmless
    assert abs(got.value - fallback.value) > 0.1


def test_yoshioka_culture_reads_counts_below_detection_at_the_limit(cohort: xr.Dataset) -> None:
    from lactobiome.model.parameters import load_parameters

    recovery = load_parameters().value("obs_culture_recovery", "fraction")
    bif = np.asarray(cohort["family"].values).astype(str) == "Bifidobacteriaceae"
    ab = cohort["abundance"].copy(deep=True)
    ab.values[:, :, :, bif, :] = 0.0  # no bifidobacteria grow on the plates
    without = cohort.assign(abundance=ab)
    exclusive = cohort["breast_milk_share"].values >= 0.999
    got = run_pipeline(without, YOSHIOKA_CULTURE, "bif_entero_log_ratio_breastfed_d6", n_boot=0)
    entero = _plate_counts(cohort, "Enterobacteriaceae", recovery)[exclusive]
    assert got.value == pytest.approx(STOOL_CULTURE_DETECTION_LOG10_CFU_PER_G - float(np.mean(entero)))


def test_yoshioka_culture_reads_every_birth_of_each_feeding_group() -> None:
    """Yoshioka's enrolment (delivery mode, antibiotics) is not known, so no birth is left out.

    Each group is its feeding group alone: caesarean and vaginal births both count, mixed-fed
    infants never do, and a caesarean-born infant's own plates move the group's reading.
    """
    from lactobiome.model.parameters import load_parameters

    ds = run_cohort("default", dyads=120, days=8, seed=2)
    recovery = load_parameters().value("obs_culture_recovery", "fraction")
    share = ds["breast_milk_share"].values
    caesarean = np.asarray(ds["delivery_mode"].values).astype(str) != "vaginal"
    diff = _plate_counts(ds, "Bifidobacteriaceae", recovery) - _plate_counts(ds, "Enterobacteriaceae", recovery)
    groups = {"bif_entero_log_ratio_breastfed_d6": share >= 0.999, "bif_entero_log_ratio_formula_d6": share <= 0.0}
    for measure, members in groups.items():
        assert (members & caesarean).any() and (members & ~caesarean).any()
        got = run_pipeline(ds, YOSHIOKA_CULTURE, measure, n_boot=0)
        assert got.n == int(members.sum())
        assert got.value == pytest.approx(float(np.mean(diff[members])))
    mixed = (share > 0.0) & (share < 0.999)
    assert mixed.any()
    # a caesarean-born breastfed infant whose plates grow no Enterobacteriaceae raises the group mean
    one = int(np.flatnonzero(groups["bif_entero_log_ratio_breastfed_d6"] & caesarean)[0])
    entero = np.asarray(ds["family"].values).astype(str) == "Enterobacteriaceae"
    ab = ds["abundance"].copy(deep=True)
    ab.values[one, :, :, entero, :] = 0.0
    before = run_pipeline(ds, YOSHIOKA_CULTURE, "bif_entero_log_ratio_breastfed_d6", n_boot=0)
    after = run_pipeline(ds.assign(abundance=ab), YOSHIOKA_CULTURE, "bif_entero_log_ratio_breastfed_d6", n_boot=0)
    assert after.value > before.value
    # ... and a mixed-fed infant's plates leave both readings alone
    other = int(np.flatnonzero(mixed)[0])
    ab = ds["abundance"].copy(deep=True)
    ab.values[other, :, :, entero, :] = 0.0
    for measure in groups:
        unchanged = run_pipeline(ds.assign(abundance=ab), YOSHIOKA_CULTURE, measure, n_boot=0)
        assert unchanged.value == pytest.approx(run_pipeline(ds, YOSHIOKA_CULTURE, measure, n_boot=0).value)


def test_yoshioka_culture_has_no_reading_for_other_measures(cohort: xr.Dataset) -> None:
    got = run_pipeline(cohort, YOSHIOKA_CULTURE, "infant_gut_milk_share_d30", n_boot=0)
    assert math.isnan(got.value) and "no reading for measure" in got.reason


def test_cox_fit_matches_statsmodels_with_tied_days() -> None:
    from statsmodels.duration.hazard_regression import PHReg

    from lactobiome.validation.measures.risk import cox_log_hazard_ratios

    rng = np.random.default_rng(5)
    x = (rng.random((2000, 3)) < [0.1, 0.3, 0.4]).astype(np.float64)
    day = np.ceil(rng.exponential(1.0 / (0.003 * np.exp(x @ np.array([0.7, 0.2, 1.0])))))
    event = day <= 182
    day = np.minimum(day, 182)
    fitted = cox_log_hazard_ratios(np.column_stack([day, event, x]))
    reference = PHReg(day, x, status=event.astype(int), ties="breslow").fit().params
    assert fitted == pytest.approx(reference, abs=1e-6)
    # a covariate that every event has and no censored dyad has: no finite maximum
    separated = np.column_stack([day, event, event.astype(np.float64)])
    assert math.isnan(cox_log_hazard_ratios(separated)[0])


def _kinlay_cohort(n: int = 4000, seed: int = 11) -> xr.Dataset:
    """A previous mastitis that acts only through blocked ducts (three times as common after one)."""
    rng = np.random.default_rng(seed)
    days = 190
    previous = rng.random(n) < 0.3
    blocked = rng.random(n) < np.where(previous, 0.6, 0.2)
    ill = rng.random(n) < np.where(blocked, 0.4, 0.05)
    states = np.full((n, days), "none", dtype=object)
    start = rng.integers(5, 170, n)
    for d in np.flatnonzero(blocked):
        states[d, start[d]:start[d] + 2] = "ductal_narrowing"
    for d in np.flatnonzero(ill):
        onset = start[d] + 2 if blocked[d] else rng.integers(5, 175)
        states[d, onset:onset + 3] = "inflammatory_mastitis"
    return xr.Dataset(
        {"mastitis_state": (("dyad", "day"), states),
         "breast_milk_share": ("dyad", np.ones(n)),
         "previous_mastitis": ("dyad", previous),
         "nipple_fissure": ("dyad", rng.random(n) < 0.2)},
        coords={"dyad": np.arange(n), "day": np.arange(1, days + 1)},
    )


def test_kinlay_model_adjusts_a_previous_mastitis_for_blocked_ducts() -> None:
    from lactobiome.validation import measure

    ds = _kinlay_cohort()
    crude = measure(ds, "mastitis_rr_previous_mastitis_26wk", n_boot=0).value
    adjusted = run_pipeline(ds, "kinlay2001/proportional_hazards", "mastitis_rr_previous_mastitis_26wk",
                            n_boot=0).value
    # crude risks (0.6 x 0.4 + 0.4 x 0.05) / (0.2 x 0.4 + 0.8 x 0.05) ~ 2.2; none is left once a
    # blocked duct is in the model
    assert crude > 1.8
    assert 0.75 < adjusted < 1.3
    other = run_pipeline(ds, "kinlay2001/proportional_hazards", "mastitis_cumulative_12_weeks", n_boot=0)
    assert math.isnan(other.value) and "no reading" in other.reason
    missing = run_pipeline(ds.drop_vars("nipple_fissure"), "kinlay2001/proportional_hazards",
                           "mastitis_rr_previous_mastitis_26wk", n_boot=0)
    assert math.isnan(missing.value)


def test_kinlay_model_recovers_a_known_hazard_ratio_that_the_crude_risk_ratio_understates() -> None:
    """With a common outcome the six-month risk ratio is compressed towards 1; Kinlay's Cox reading is not
    (the step from D22's crude truth to its pipeline value, measured in session 11)."""
    from lactobiome.validation import measure

    rng = np.random.default_rng(23)
    n, days, horizon, hazard_ratio = 6000, 190, 182, 3.0
    daily_hazard = 0.003
    previous = rng.random(n) < 0.3
    onset = np.ceil(rng.exponential(1.0 / (daily_hazard * np.where(previous, hazard_ratio, 1.0))))
    states = np.full((n, days), "none", dtype=object)
    for d in np.flatnonzero(onset <= horizon):
        states[d, int(onset[d]) - 1:int(onset[d]) + 2] = "inflammatory_mastitis"
    # a blocked duct on day 1, apart from the exposure and the outcome (the model's third covariate)
    states[(rng.random(n) < 0.3) & (onset > 2), 0] = "ductal_narrowing"
    ds = xr.Dataset(
        {"mastitis_state": (("dyad", "day"), states),
         "breast_milk_share": ("dyad", np.ones(n)),
         "previous_mastitis": ("dyad", previous),
         "nipple_fissure": ("dyad", rng.random(n) < 0.2)},
        coords={"dyad": np.arange(n), "day": np.arange(1, days + 1)},
    )
    crude = measure(ds, "mastitis_rr_previous_mastitis_26wk", n_boot=0).value
    adjusted = run_pipeline(ds, "kinlay2001/proportional_hazards", "mastitis_rr_previous_mastitis_26wk",
                            n_boot=0).value
    # six-month risks 1 - exp(-0.003 x 182 x 3) ~ 0.81 and 1 - exp(-0.546) ~ 0.42: a risk ratio near 1.9
    assert crude == pytest.approx(1.93, abs=0.12)
    assert adjusted == pytest.approx(hazard_ratio, rel=0.1)


def test_kinlay_model_gives_each_factor_its_own_hazard_ratio_from_one_fit() -> None:
    """D22, D39 and D40 are three coefficients of one proportional-hazards model: each reading recovers
    its own factor's hazard ratio, not another's, and the crude ratios beside them are the truth."""
    from lactobiome.validation import measure

    rng = np.random.default_rng(41)
    n, days, horizon = 8000, 190, 182
    previous, cracked, blocked = rng.random(n) < 0.3, rng.random(n) < 0.25, rng.random(n) < 0.35
    hazard = 0.002 * np.where(previous, 1.8, 1.0) * np.where(cracked, 1.4, 1.0) * np.where(blocked, 2.5, 1.0)
    onset = np.ceil(rng.exponential(1.0 / hazard)) + 1  # no onset on day 1, the blocked duct's day
    states = np.full((n, days), "none", dtype=object)
    states[blocked, 0] = "ductal_narrowing"
    for d in np.flatnonzero(onset <= horizon):
        states[d, int(onset[d]) - 1:int(onset[d]) + 2] = "inflammatory_mastitis"
    ds = xr.Dataset(
        {"mastitis_state": (("dyad", "day"), states),
         "breast_milk_share": ("dyad", np.ones(n)),
         "previous_mastitis": ("dyad", previous),
         "nipple_fissure": ("dyad", cracked)},
        coords={"dyad": np.arange(n), "day": np.arange(1, days + 1)},
    )
    expected = {"mastitis_rr_previous_mastitis_26wk": 1.8, "mastitis_rr_nipple_fissure_26wk": 1.4,
                "mastitis_rr_blocked_duct_26wk": 2.5}
    for key, hazard_ratio in expected.items():
        adjusted = run_pipeline(ds, "kinlay2001/proportional_hazards", key, n_boot=0).value
        assert adjusted == pytest.approx(hazard_ratio, rel=0.12), key
        crude = measure(ds, key, n_boot=0).value
        assert 1.0 < crude < hazard_ratio, key  # a common outcome compresses the ratio of six-month risks
    # a cohort in which every dyad had a blocked duct cannot give any of the three
    states[:, 0] = "ductal_narrowing"
    everyone = ds.assign(mastitis_state=(("dyad", "day"), states))
    reading = run_pipeline(everyone, "kinlay2001/proportional_hazards", "mastitis_rr_nipple_fissure_26wk", n_boot=0)
    assert math.isnan(reading.value) and "blocked duct" in reading.reason
