"""In-silico trials: common random numbers, a placebo-vs-placebo trial, schema errors, outputs, power."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from lactobiome.cli import main
from lactobiome.errors import InputError
from lactobiome.model.engine import PANEL_VARIABLES
from lactobiome.model.taxa import load_taxa
from lactobiome.simulation import prepare
from lactobiome.trials import builtin_names, load_trial, parse_trial
from lactobiome.trials.analysis import difference_in_means
from lactobiome.trials.output import DISCLAIMER, write_outputs
from lactobiome.trials.power import power_curve
from lactobiome.trials.results import arms_table, effects_table, paired_table
from lactobiome.trials.runner import arm_dataset, base_scenario, run_trial, screen

STRAIN = "limosilactobacillus_fermentum_cect5716"
ENROLMENT_DAY = 6


def _design(**changes) -> dict:
    """A small trial: enrolment on day 6 after birth, a probiotic arm and one that cannot act."""
    design = {
        "name": "small",
        "enrolment": {"event": "postpartum_day", "day": ENROLMENT_DAY},
        "arms": [
            {"name": "placebo"},
            {"name": "probiotic", "interventions": [
                {"kind": "probiotic", "strain": STRAIN, "cfu_per_day": 1e10, "start": 1, "stop": 8}]},
            {"name": "inert", "interventions": [
                {"kind": "probiotic", "strain": STRAIN, "cfu_per_day": 1e10, "start": 1, "stop": 8,
                 "coverage": 0.0}]},
        ],
        "n_per_arm": 4,
        "follow_up_days": 8,
        "endpoints": [
            {"name": "milk_bacteria_day8", "kind": "culture", "day": 8},
            {"name": "mastitis", "kind": "clinical_mastitis", "case_definition": "any_episode"},
        ],
        "primary": "milk_bacteria_day8",
    }
    design.update(changes)
    return design


def test_arms_are_identical_before_enrolment_and_differ_only_through_the_intervention():
    trial = parse_trial(_design(), "small.yaml")
    base = base_scenario(trial, seed=3, days=ENROLMENT_DAY + 8, pregnancy_days=0)
    table, taxa = prepare(base)
    women = screen(trial, base, table, taxa, needed=6)
    arms = {arm.name: arm_dataset(trial, arm, base, table, taxa, women.dyads, ENROLMENT_DAY,
                                  women.previous_mastitis) for arm in trial.arms}
    placebo, probiotic, inert = arms["placebo"], arms["probiotic"], arms["inert"]
    before = placebo["day"].values <= ENROLMENT_DAY
    for name in PANEL_VARIABLES:
        np.testing.assert_array_equal(placebo[name].values[:, before], probiotic[name].values[:, before], err_msg=name)
        np.testing.assert_array_equal(placebo[name].values, inert[name].values, err_msg=name)
    recorded_before = placebo["sample_day"].values <= ENROLMENT_DAY
    assert recorded_before.any()
    np.testing.assert_array_equal(placebo["abundance"].values[:, recorded_before],
                                  probiotic["abundance"].values[:, recorded_before])
    np.testing.assert_array_equal(placebo["abundance"].values, inert["abundance"].values)
    # after enrolment the dosed strain is in the mothers' guts of the probiotic arm only
    last = placebo["sample_day"].values[-1]
    dosed = probiotic["abundance"].sel(sample_day=last, site="maternal_gut", taxon=STRAIN, origin="probiotic")
    undosed = placebo["abundance"].sel(sample_day=last, site="maternal_gut", taxon=STRAIN, origin="probiotic")
    assert float(dosed.min()) > 0.0
    assert float(undosed.max()) == 0.0


def test_women_enrolled_at_diagnosis_get_their_course_from_the_day_after_their_own_diagnosis():
    trial = parse_trial(_design(
        enrolment={"event": "diagnosis", "trigger_states": ["bacterial_mastitis", "phlegmon", "abscess"],
                   "window": [1, 40]},
        arms=[{"name": "none"}, {"name": "antibiotic", "interventions": [
            {"kind": "antibiotic", "antibiotic_class": "flucloxacillin", "start": 1, "stop": 5}]}],
        n_per_arm=1, follow_up_days=5,
        endpoints=[{"name": "recovered", "kind": "recovery"}], primary="recovered"), "diagnosis.yaml")
    base = base_scenario(trial, seed=1, days=40, pregnancy_days=0)
    table, taxa = prepare(base)
    women = screen(trial, base, table, taxa, needed=2)
    assert women.screened >= women.eligible >= 2
    for dyad, day in zip(women.dyads, women.enrolment_day, strict=True):
        none, treated = (arm_dataset(trial, arm, base, table, taxa, np.array([dyad]), int(day),
                                     women.previous_mastitis) for arm in trial.arms)
        before = none["day"].values <= day
        for name in PANEL_VARIABLES:
            np.testing.assert_array_equal(none[name].values[:, before], treated[name].values[:, before])
        assert str(none["mastitis_state"].sel(day=day).item()) in ("bacterial_mastitis", "phlegmon", "abscess")
        after = none["day"].values > day
        # the course acts from the day after diagnosis: the milk's bacteria differ from then on
        assert not np.array_equal(none["milk_bacteria_per_ml"].values[:, after],
                                  treated["milk_bacteria_per_ml"].values[:, after])


def test_placebo_versus_placebo_gives_no_effect_at_the_nominal_false_positive_rate():
    replicates, per_arm = 200, 8
    design = _design(arms=[{"name": "placebo_a"}, {"name": "placebo_b"}], n_per_arm=replicates * per_arm,
                     follow_up_days=2, enrolment={"event": "birth"},
                     endpoints=[{"name": "milk_bacteria_day2", "kind": "culture", "day": 2}],
                     primary="milk_bacteria_day2")
    run = run_trial(parse_trial(design, "placebo.yaml"), counterfactual=False)
    by_arm = [run.allocated[run.allocated["arm"] == arm].reset_index(drop=True) for arm in ("placebo_a", "placebo_b")]
    estimates, significant = [], 0
    for r in range(replicates):  # disjoint blocks of allocated women: independent trials
        block = slice(r * per_arm, (r + 1) * per_arm)
        a, b = (frame["milk_bacteria_day2"].to_numpy()[block] for frame in by_arm)
        result = difference_in_means(a, b)  # the trial's own analysis of the endpoint
        estimates.append(result.value)
        significant += int(result.p_value < 0.05)
    low, high = stats.binom.interval(0.999, replicates, 0.05)
    assert low <= significant <= high, significant
    estimates = np.asarray(estimates)
    assert abs(estimates.mean()) < 3.5 * estimates.std(ddof=1) / np.sqrt(replicates)


@pytest.mark.parametrize(("change", "message"), [
    ({"n_per_arm": 0}, "bad.yaml: n_per_arm: Input should be greater than or equal to 1 (got 0)"),
    ({"colour": "red"}, "bad.yaml: colour: unknown field"),
    ({"primary": "eczema"}, "bad.yaml: primary: Value error, 'eczema' is not an endpoint name"),
    ({"endpoints": [{"name": "r", "kind": "recovery"}], "primary": "r"},
     "bad.yaml: endpoints: Value error, 0 (r): a recovery endpoint needs enrolment at diagnosis"),
    ({"follow_up_days": "long"}, "bad.yaml: follow_up_days: Input should be a valid integer, unable to parse "
                                 "string as an integer (got 'long')"),
])
def test_schema_errors_name_the_file_and_the_field(change, message):
    with pytest.raises(InputError) as caught:
        parse_trial(_design(**change), "bad.yaml")
    assert str(caught.value).startswith(message)


def test_an_unknown_strain_names_the_arm_and_its_intervention():
    design = _design()
    design["arms"][1]["interventions"][0]["strain"] = "lactobacillus_imaginarius"
    with pytest.raises(InputError, match=r"^bad.yaml: arms\.1\.interventions\.0\.strain: unknown taxon"):
        run_trial(parse_trial(design, "bad.yaml"))


@pytest.mark.parametrize(("args", "message"), [
    (["trial", "no_such_trial"], "lactobiome: error: no_such_trial: neither a built-in trial"),
    (["trial", "hurtado2017", "--power", "20,fifty"], "lactobiome: error: --power: '20,fifty': expected whole"),
    (["trial", "hurtado2017", "--n-per-arm", "0"], "lactobiome: error: --n-per-arm: 0:"),
    (["trial", "hurtado2017", "--parameters", "/nonexistent/p.csv"],
     "lactobiome: error: /nonexistent/p.csv: no such parameter file"),
])
def test_bad_command_lines_are_one_line_and_exit_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message)
    assert "\n" not in err


def test_every_builtin_design_validates_and_lists(capsys):
    names = builtin_names()
    assert {"arroyo2010", "jimenez2008", "fernandez2016", "hurtado2017", "rautava2012", "dotterud2010"} <= set(names)
    for name in names:
        trial = load_trial(name)
        assert trial.primary in [e.name for e in trial.endpoints]
    assert main(["trial", "--list"]) == 0
    assert "hurtado2017" in capsys.readouterr().out
    sizes = load_trial("arroyo2010").arm_sizes()
    assert sizes == {"antibiotics": 101, "fermentum_cect5716": 124, "salivarius_cect5713": 127}


def test_outputs_are_written_and_read_back(tmp_path):
    trial = parse_trial(_design(), "small.yaml")
    run = run_trial(trial, seed=2)
    written = write_outputs(run, tmp_path)
    assert {p.name for p in written} == {"arms.tsv", "effects.tsv", "paired.tsv", "women.tsv", "trial.yaml"}
    arms = pd.read_csv(tmp_path / "arms.tsv", sep="\t")
    assert list(arms.columns[:6]) == ["endpoint", "arm", "n", "unit", "value", "ci_low"]
    assert set(arms["arm"]) == {"placebo", "probiotic", "inert"}
    assert (arms["n"] == 4).all()
    effects = pd.read_csv(tmp_path / "effects.tsv", sep="\t")
    assert {"endpoint", "comparison", "measure", "estimate", "ci_low", "ci_high", "p_value"} <= set(effects.columns)
    culture = effects[effects["endpoint"] == "milk_bacteria_day8"]
    assert (culture["ci_low"] <= culture["estimate"]).all() and (culture["estimate"] <= culture["ci_high"]).all()
    women = pd.read_csv(tmp_path / "women.tsv", sep="\t")
    assert len(women) == 12 * 3  # every woman under every arm
    assert (women.groupby("dyad")["allocated_arm"].nunique() == 1).all()
    # an arm whose intervention cannot act: the paired contrast is exactly none
    paired = pd.read_csv(tmp_path / "paired.tsv", sep="\t")
    inert = paired[paired["comparison"] == "inert vs placebo"]
    assert (inert["estimate"] == 0).all()
    record = yaml.safe_load((tmp_path / "trial.yaml").read_text())
    assert parse_trial(record["trial"], "trial.yaml").model_dump() == trial.model_dump()
    assert len(record["parameter_table_sha256"]) == 64
    assert record["women_enrolled"] == 12


def test_the_cli_summary_ends_with_the_disclaimer(tmp_path, capsys):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(_design(n_per_arm=2)))
    assert main(["trial", str(path), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-2] == DISCLAIMER
    assert (tmp_path / "out" / "effects.tsv").is_file()


def test_power_lies_in_0_1_with_intervals_around_it_and_grows_with_n():
    # an antistaphylococcal course against none: a large effect on the milk count, so power rises with n
    design = _design(arms=[
        {"name": "none"},
        {"name": "antibiotic", "interventions": [{"kind": "antibiotic", "antibiotic_class": "flucloxacillin",
                                                   "start": 1, "stop": 6}]}],
        endpoints=[{"name": "staphylococci_day6", "kind": "culture", "bacteria": "staphylococci", "day": 6}],
        primary="staphylococci_day6", follow_up_days=6)
    curve = power_curve(parse_trial(design, "power.yaml"), [2, 8], replicates=6, seed=4)
    table = curve.table
    assert list(table["n_per_arm"]) == [2, 8]
    assert ((table["power"] >= 0) & (table["power"] <= 1)).all()
    assert ((table["ci_low"] <= table["power"]) & (table["power"] <= table["ci_high"])).all()
    assert table["power"].iloc[1] >= table["power"].iloc[0]
    assert curve.dyad_days > 0


def test_strains_of_every_builtin_design_are_in_the_catalogue():
    taxa = load_taxa()
    for name in builtin_names():
        for arm in load_trial(name).arms:
            for intervention in arm.interventions:
                if intervention.kind == "probiotic":
                    taxa.index(intervention.strain)


def test_a_pregnancy_dosed_eczema_design_runs():
    run = run_trial(load_trial("rautava2012"), n_per_arm=2)
    tables = {"arms": arms_table(run), "effects": effects_table(run), "paired": paired_table(run)}
    eczema = tables["arms"][tables["arms"]["endpoint"] == "eczema_24mo"]
    assert ((eczema["truth"] >= 0) & (eczema["truth"] <= 1)).all()
    assert len(tables["effects"]) == 2


def test_lb_trial_stays_the_function_after_the_trials_package_is_imported():
    import lactobiome as lb
    import lactobiome.trials  # noqa: F401 (a submodule import binds its name on the package)

    assert callable(lb.trial) and lb.trial.__module__ == "lactobiome.api"


def test_the_cli_runs_a_trial_with_a_given_parameter_table(tmp_path):
    """``--parameters`` reaches the simulation: another table gives another culture result and digest."""
    from importlib import resources

    shipped_text = resources.files("lactobiome.data").joinpath("parameters.csv").read_text("utf-8")
    lines = shipped_text.splitlines(keepends=True)
    # fewer of the milk bacteria recovered as colonies (the prior's lower bound): the same
    # women, lower day-8 counts
    changed = [line.replace("obs_culture_recovery,0.5,", "obs_culture_recovery,0.2,", 1) for line in lines]
    assert changed != lines
    table = tmp_path / "parameters.csv"
    table.write_text("".join(changed))
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(_design(n_per_arm=2)))
    assert main(["trial", str(path), "--out", str(tmp_path / "shipped")]) == 0
    assert main(["trial", str(path), "--parameters", str(table), "--out", str(tmp_path / "given")]) == 0
    shipped, given = (yaml.safe_load((tmp_path / d / "trial.yaml").read_text()) for d in ("shipped", "given"))
    assert shipped["parameter_table_sha256"] != given["parameter_table_sha256"]
    arms = {d: pd.read_csv(tmp_path / d / "arms.tsv", sep="\t") for d in ("shipped", "given")}
    culture = {d: a.loc[a["endpoint"] == "milk_bacteria_day8", "value"].to_numpy() for d, a in arms.items()}
    assert (culture["given"] < culture["shipped"]).all()
