"""Assay pipelines: milk cells by light microscopy and milk bacteria by 16S qPCR."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from lactobiome.model.parameters import load_parameters
from lactobiome.validation import load_targets, run_cohort, to_markdown, validate_dataset
from lactobiome.validation.assays import (
    amplicon_read_shares,
    culture_reading,
    microscopy_cells_per_ml,
    qpcr_cells_per_ml,
    run_assay,
)
from lactobiome.validation.measures import measure
from lactobiome.validation.pipelines import run_pipeline


@pytest.fixture(scope="module")
def cohort() -> xr.Dataset:
    # reaches days 90-182 (qPCR of A03, microscopy of C04) and days 1-3 (colostrum, C03)
    return run_cohort("default", dyads=30, days=182, seed=5)


def test_microscopy_counts_every_nucleated_cell_so_never_fewer_than_the_leucocytes(cohort: xr.Dataset) -> None:
    scc = cohort["somatic_cells_per_ml"].values
    leucocytes = scc * cohort["leucocyte_fraction"].values
    counted = microscopy_cells_per_ml(scc)
    assert np.all(counted >= leucocytes)
    # in healthy mature milk leucocytes are a few % of cells, so the count is far above them
    late = counted[:, -1] / leucocytes[:, -1]
    assert np.nanmedian(late) > 10.0


def test_qpcr_reports_live_cells_alone_without_dead_cells_kit_dna_or_noise() -> None:
    live = np.array([0.0, 1e2, 1e4])
    rng = np.random.default_rng(0)
    assert np.allclose(qpcr_cells_per_ml(live, 0.0, 0.0, 1.0, 0.0, rng), live)
    # dead cells add their DNA in proportion; the kit adds a floor that does not depend on the milk
    with_dead = qpcr_cells_per_ml(live, 9.0, 0.0, 1.0, 0.0, rng)
    assert np.allclose(with_dead, 10.0 * live)
    kit = qpcr_cells_per_ml(live, 0.0, 3000.0, 2.0, 0.0, rng)
    assert kit[0] == pytest.approx(1500.0) and np.allclose(kit - live, 1500.0)


def test_qpcr_noise_is_seeded_and_centred_on_the_log_scale() -> None:
    live = np.full(20000, 1e4)
    a = qpcr_cells_per_ml(live, 0.0, 0.0, 1.0, 0.1, np.random.default_rng(3))
    b = qpcr_cells_per_ml(live, 0.0, 0.0, 1.0, 0.1, np.random.default_rng(3))
    assert np.array_equal(a, b)
    logs = np.log10(a)
    assert logs.mean() == pytest.approx(4.0, abs=0.005) and logs.std() == pytest.approx(0.1, rel=0.05)


def test_qpcr_pipeline_sits_above_the_live_load_by_the_dead_cells_and_kit_dna(cohort: xr.Dataset) -> None:
    truth = measure(cohort, "milk_bacteria_healthy_3_6mo", 0)
    piped = run_pipeline(cohort, "schwab2019/qpcr", "milk_bacteria_healthy_3_6mo", 0, seed=2)
    p = load_parameters()
    dead = p.value("obs_milk_dead_per_live_cell", "1")
    floor = p.value("obs_kit_contaminant_cells", "cells") / p.value("obs_milk_sample_ml", "mL")
    # at least the DNA of live and dead cells (noise is +-0.1 log10 per day; medians of days cut it)
    assert piped.value > truth.value + math.log10(1.0 + dead) - 0.05
    # at most that plus the kit floor as if it were added to the smallest load
    assert piped.value < math.log10(10.0 ** truth.value * (1.0 + dead) + floor) + 0.05


def test_culture_reads_below_the_live_load_and_only_on_recorded_healthy_days_of_its_window(
        cohort: xr.Dataset) -> None:
    values = culture_reading(cohort, 90, 182, seed=4)
    recorded = cohort["sample_day"].values
    outside = (recorded < 90) | (recorded > 182)
    assert np.isnan(values[:, outside]).all() and np.isfinite(values[:, ~outside]).any()
    plated = load_parameters().value("obs_culture_plated_ml", "mL")
    assert np.nanmin(values) >= math.log10(1.0 / plated)  # an empty plate is read at its detection limit
    assert np.array_equal(values, culture_reading(cohort, 90, 182, seed=4), equal_nan=True)
    truth = measure(cohort, "milk_bacteria_healthy_3_6mo", 0)
    piped = run_pipeline(cohort, "culture/plate", "milk_bacteria_healthy_3_6mo", 0, seed=2)
    recovery = load_parameters().value("obs_culture_recovery", "fraction")
    # a colony for at most every live cell, and for about `recovery` of the culturable ones
    assert piped.value < truth.value
    assert piped.value > truth.value + math.log10(recovery) - 0.3


def test_a_scenario_override_of_an_assay_parameter_reaches_the_pipeline(cohort: xr.Dataset) -> None:
    import yaml

    base = run_pipeline(cohort, "schwab2019/qpcr", "milk_bacteria_healthy_3_6mo", 0, seed=2)
    scenario = yaml.safe_load(cohort.attrs["scenario_yaml"])
    scenario["parameters"] = {**(scenario.get("parameters") or {}), "obs_milk_dead_per_live_cell": 350.0}
    changed = cohort.assign_attrs(scenario_yaml=yaml.safe_dump(scenario))
    more = run_pipeline(changed, "schwab2019/qpcr", "milk_bacteria_healthy_3_6mo", 0, seed=2)
    assert more.value > base.value + 0.8  # ten times the dead cells: close to a log10 more DNA


def test_assay_without_a_reading_or_beyond_the_horizon_says_so(cohort: xr.Dataset) -> None:
    m = run_assay(cohort, "microscopy/morphology", "milk_bacteria_healthy_3_6mo", 0)
    assert math.isnan(m.value) and "has no reading for measure 'milk_bacteria_healthy_3_6mo'" in m.reason
    short = cohort.isel(day=slice(0, 100))
    m = run_assay(short, "schwab2019/qpcr", "milk_bacteria_healthy_3_6mo", 0)
    assert math.isnan(m.value) and m.reason.startswith("beyond the simulated horizon")


def test_validate_reports_assay_values_beside_the_truth(cohort: xr.Dataset) -> None:
    ids = ("A03", "A04", "C03", "C04", "C05", "A13a", "A11")
    targets = [t for t in load_targets() if t.id in ids]
    assert {t.measured_by for t in targets} == {"schwab2019/qpcr", "microscopy/morphology", "culture/plate",
                                                "biagi2017/16s", "williams2019/16s"}
    table = validate_dataset(cohort, targets, n_boot=20, seed=1)
    rows = table.set_index("id")
    for tid in ("C03", "C04", "C05"):
        # the microscope counts the leucocytes and the epithelial cells: above the true leucocytes
        assert rows.loc[tid, "model"] > rows.loc[tid, "truth_value"]
        assert rows.loc[tid, "ci_low"] <= rows.loc[tid, "model"] <= rows.loc[tid, "ci_high"]
    assert rows.loc["A03", "model"] > rows.loc["A03", "truth_value"]
    # the same milk: qPCR (live, dead and kit DNA) above the culture count (the live culturable cells)
    assert rows.loc["A03", "model"] > rows.loc["A04", "model"]
    assert rows.loc["A03", "truth_value"] == rows.loc["A04", "truth_value"]
    # 16S reads of the same milk: the kit's reads dilute the streptococci below their true share
    assert rows.loc["A13a", "model"] < rows.loc["A13a", "truth_value"]
    assert 0.0 < rows.loc["A11", "model"] < rows.loc["A11", "truth_value"]
    md = to_markdown(table)
    section = md[md.index("## Measured as the study measured it"):]
    assert "Assay pipelines count what the study's laboratory counted" in section
    for key in {t.measured_by for t in targets}:  # each assay of the table's targets is described
        assert f"`{key}`" in section
    assert "Why the two differ" not in section  # no tracking pipeline among these targets


KOREA_2002_HEALTHY_MILK_CFU_PER_ML = (240.0, 492_000.0)
"""Lowest and highest total bacterial count of 149 hand- or pump-expressed human milk samples
("The changes on total bacterial counts and coliform counts of human milk vs formula milk stored
under cold and room temperature conditions", 2002, koreascience.or.kr JAKO200211921119196); the
lactation stage is not given, so this is a wide plausibility band, not a validation target."""


def test_early_healthy_milk_culture_sits_inside_the_published_range_of_healthy_milk(cohort: xr.Dataset) -> None:
    values = culture_reading(cohort, 3, 14, seed=4)
    recorded = cohort["sample_day"].values
    inside = (recorded >= 3) & (recorded <= 14)
    assert np.isnan(values[:, ~inside]).all() and np.isfinite(values[:, inside]).any()
    piped = run_pipeline(cohort, "culture/plate", "milk_bacteria_healthy_early", 0, seed=2)
    low, high = (math.log10(v) for v in KOREA_2002_HEALTHY_MILK_CFU_PER_ML)
    assert low < piped.value < high
    # the culture counts colonies of live culturable cells only: never above the live load
    assert piped.value < measure(cohort, "milk_bacteria_healthy_early", 0).value


def test_amplicon_reads_weigh_genomes_by_16s_copies_and_dilute_low_biomass_milk_with_kit_dna() -> None:
    # taxa: a streptococcus (5 copies), a bifidobacterium (3 copies), a kit contaminant (2 copies)
    live = np.array([[600.0, 400.0, 0.0], [6.0, 4.0, 0.0]])
    copies, kit = np.array([5.0, 3.0, 2.0]), np.array([False, False, True])
    clean = amplicon_read_shares(live, copies, kit, dead_per_live=0.0, kit_cells=0.0, sample_ml=1.0)
    # 600 x 5 against 400 x 3 genomes' reads, in both dyads alike
    assert clean[:, 0] == pytest.approx([3000.0 / 4200.0] * 2)
    shares = amplicon_read_shares(live, copies, kit, dead_per_live=0.0, kit_cells=100.0, sample_ml=1.0)
    assert shares.sum(axis=1) == pytest.approx([1.0, 1.0])
    # the same kit background is a larger share of the poorer extract
    assert shares[1, 2] > shares[0, 2] > 0.0
    # the dead cells' DNA raises the biomass and so shrinks the kit's share
    dead = amplicon_read_shares(live, copies, kit, dead_per_live=35.0, kit_cells=100.0, sample_ml=1.0)
    assert dead[0, 2] < shares[0, 2] and dead[1, 2] < shares[1, 2]
    # an extract with no DNA has no shares
    assert np.isnan(amplicon_read_shares(np.zeros((1, 3)), copies, kit, 0.0, 0.0, 1.0)).all()


def test_biagi_reading_sits_below_the_truth_by_the_kit_reads_and_copy_numbers(cohort: xr.Dataset) -> None:
    truth = measure(cohort, "milk_streptococcaceae_d30").value
    read = run_assay(cohort, "biagi2017/16s", "milk_streptococcaceae_d30").value
    # kit DNA takes reads from every milk taxon; the reading stays a share
    assert 0.0 < read < truth


def test_identifying_some_colonies_of_a_plate_finds_a_minority_taxon_less_often_than_a_majority() -> None:
    from lactobiome.validation.assays import colonies_identified_detection

    # a plate with fewer colonies than are identified: every colony is identified
    assert np.array_equal(colonies_identified_detection(np.array([[3.0, 0.0, 2.0]]), 10), [[1.0, 0.0, 1.0]])
    # one colony of 1,000 drawn: found with its share of the colonies
    one = colonies_identified_detection(np.array([[100.0, 900.0]]), 1)
    assert one == pytest.approx(np.array([[0.1, 0.9]]))
    # two drawn without replacement: missed only when both come from the other 900
    two = colonies_identified_detection(np.array([[100.0, 900.0]]), 2)
    assert two[0, 0] == pytest.approx(1.0 - 900.0 * 899.0 / (1000.0 * 999.0))
    # on a large plate close to 1 - (1 - p)^k, and rising with the colonies identified
    big = colonies_identified_detection(np.array([[1e4, 9e4]]), 18)
    assert big[0, 0] == pytest.approx(1.0 - 0.9 ** 18, abs=1e-3)
    assert colonies_identified_detection(np.array([[1e4, 9e4]]), 5)[0, 0] < big[0, 0] < 1.0
    # no colony, nothing found, whatever is identified
    assert colonies_identified_detection(np.zeros((2, 3)), 18).sum() == 0.0
