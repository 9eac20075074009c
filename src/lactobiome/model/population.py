"""Drawing a virtual population of dyads: every per-dyad constant, drawn once.

Each dyad's attributes depend only on (seed, dyad id), so a dyad is the same mother–infant
pair whatever chunk it is simulated in. Besides the risk factors and feeding behaviour, the
attributes hold the per-dyad constants the processes use (log-normal milk supply and
composition factors) and, per intervention, whether the dyad is covered by it: one
independent draw per intervention, so two regimens at coverage 0.5 each reach about half of
the mothers each.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.special import ndtri

from lactobiome.model.context import stream_id
from lactobiome.model.parameters import ParameterTable
from lactobiome.model.random import RandomStreams
from lactobiome.model.scenario import Scenario

_POPULATION_STREAM = zlib.crc32(b"population")

# attribute -> column of the uniform draws; fixed so adding attributes keeps old draws
_COLUMN = {
    "caesarean": 0,
    "intrapartum_antibiotics": 1,
    "first_time_mother": 2,
    "previous_mastitis": 3,
    "oversupply": 4,
    "tight_bra": 5,
    "nipple_damage": 6,
    "secretor": 7,
    "feeding_group": 8,
    "breast_milk_share": 9,
    "direct_breastfeeding_share": 10,
    "probiotic": 11,
    "preterm": 12,
    "gestational_age_weeks": 13,
    "solids_start_day": 14,
    "sleeps_through_day": 15,
    "maternal_atopy": 16,
    "nipple_healing_day": 17,
    "biofilm_strain": 18,
    "nipple_fissure": 19,
}
N_COLUMNS = 24  # room for more attributes: column j's draw depends only on j, so old columns keep theirs


LOGNORMAL_FACTORS: dict[str, tuple[str, str]] = {
    "milk_supply_factor": ("lactation.supply", "milk_supply_sd_log"),
    "feeds_factor": ("lactation.feeds", "feeds_per_day_sd_log"),
    "milk_hmo_factor": ("lactation.hmo", "milk_hmo_sd_log"),
    "milk_siga_factor": ("lactation.siga", "milk_siga_sd_log"),
    "na_k_factor": ("lactation.na_k", "na_k_sd_log"),
    "milk_epithelial_factor": ("lactation.epithelial", "milk_cells_sd_log"),
    "milk_stem_cell_factor": ("lactation.stem", "milk_cells_sd_log"),
    "milk_leucocyte_factor": ("lactation.leucocytes", "milk_cells_sd_log"),
}
"""Per-dyad log-normal factors with mean 1: attribute -> (random stream, sd parameter)."""

# streams of the coverage draws, by intervention kind (the first probiotic regimen keeps the
# population's probiotic column, so single-regimen results are as before)
_COVERAGE_STREAM = {"probiotic": "population.probiotic", "antibiotic": "antibiotics.course",
                    "infant_illness": "infant_illness"}


def intervention_attribute(number: int) -> str:
    """Name of the attribute that says whether a dyad is covered by intervention ``number``."""
    return f"intervention_{number}_covered"


def prevalence(scenario: Scenario, parameters: ParameterTable, field: str) -> float:
    """Share of dyads with attribute ``field``: the scenario's population value, else the table's
    ``prevalence_<field>`` (a probability)."""
    value = getattr(scenario.population, field)
    if value is None:
        return parameters.value(f"prevalence_{field}", "probability")
    return float(value)


def nipple_healing_day(parameters: ParameterTable, u: np.ndarray) -> np.ndarray:
    """Day of life by which a damaged nipple has healed, from uniform draws ``u`` (dyad,).

    Damage arises in the first days of feeding (``nipple_damage_onset_day``) and heals at a
    constant daily rate, so the healing time is exponential with mean
    ``nipple_damage_healing_time_days``: in the CASTLE cohort 58% of first-time mothers had
    nipple damage over the first 8 weeks and 8% still had it at 8 weeks (Buck ML et al.
    Breastfeed Med 2014;9:56-62), an eighth of the damaged still unhealed on day 56.
    """
    onset = parameters.value("nipple_damage_onset_day", "day")
    mean = parameters.value("nipple_damage_healing_time_days", "day")
    return onset - mean * np.log1p(-np.clip(u, 0.0, 1.0 - 1e-12))


def fissure_given_damage(parameters: ParameterTable, share: float, caesarean_share: float,
                         caesarean: np.ndarray) -> np.ndarray:
    """Probability that a damaged nipple is fissured (open skin), per dyad (dyad,).

    Cracked nipples are more common after a caesarean (adjusted prevalence ratio
    ``fissure_caesarean_prevalence_ratio``, Santos 2016) while nipple damage as a whole is not
    (Buck 2014), so the caesarean raises the fissured share of damaged nipples by that ratio;
    the rates are scaled so that the share over all damaged mothers stays ``share`` at the
    cohort's caesarean share (all damaged nipples after a caesarean fissured where the ratio
    would take that share past 1).
    """
    ratio = parameters.value("fissure_caesarean_prevalence_ratio", "1")
    vaginal = share / (1.0 + (ratio - 1.0) * caesarean_share)
    after_caesarean = ratio * vaginal
    if after_caesarean > 1.0 and caesarean_share < 1.0:
        # a share near 1: every damaged nipple after a caesarean cracks, the rest after vaginal births
        after_caesarean = 1.0
        vaginal = (share - caesarean_share) / (1.0 - caesarean_share)
    return np.clip(np.where(caesarean, after_caesarean, vaginal), 0.0, 1.0)


def draw_population(scenario: Scenario, parameters: ParameterTable, dyad_ids: np.ndarray,
                    caesarean: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Dyad attributes for the given global dyad ids.

    ``caesarean`` (bool, shape (dyad,)) gives the birth mode instead of drawing it (a mother's
    earlier birth, which follows this one's: :mod:`lactobiome.model.previous_lactation`); the
    intrapartum antibiotics follow the mode either way.

    Returns
    -------
    dict
        Arrays of shape (dyad,): ``delivery_mode`` ("vaginal"/"caesarean"), booleans
        ``intrapartum_antibiotics``, ``first_time_mother``, ``previous_mastitis`` (False
        unless the scenario fixes its share among multiparous mothers: the engine then sets it
        from each mother's simulated earlier lactation),
        ``oversupply``, ``tight_bra``, ``nipple_damage``, ``secretor``, floats
        ``breast_milk_share`` and ``direct_breastfeeding_share``, strings
        ``feeding_group`` and ``probiotic`` (the strains given, joined by "+", or ""); ``preterm`` (bool) with
        ``gestational_age_weeks`` (uniform within the preterm or term range of the parameter
        table), ``solids_start_day`` (float, the feeding group's range or the table's) and
        ``sleeps_through_day`` (float, day of life the infant first sleeps through the night);
        the log-normal factors of :data:`LOGNORMAL_FACTORS`; ``intervention_<n>_covered``
        (bool) for each scenario intervention and ``treatment_covered`` when the scenario has
        a treatment policy; ``resident_seed`` (int, the cohort seed), the seed of the draws of
        which resident taxa the mother carries (:mod:`lactobiome.model.processes.residents`),
        kept by her earlier lactation (:mod:`lactobiome.model.previous_lactation`);
        ``maternal_atopy`` (bool, the mother has an allergic disease: parameter
        ``prevalence_maternal_atopy`` unless the scenario sets it); ``nipple_healing_day``
        (float, day of life a damaged nipple has healed: the damage onset day plus an
        exponential healing time, :func:`nipple_healing_day`; drawn for every dyad, read only
        where ``nipple_damage``); ``biofilm_strain`` (bool, the mother's ductal flora carries a
        biofilm-forming, ica-positive strain whose cells attach to the duct wall: parameter
        ``prevalence_biofilm_strain`` unless the scenario sets it; see
        :func:`lactobiome.model.processes.milk_removal.attached_share`); ``nipple_fissure``
        (bool, the damage breaks the skin through to the dermis: an open crack, not only redness,
        swelling or a blister; parameter ``prevalence_nipple_fissure_given_damage`` of the damaged
        unless the scenario sets it; False where not ``nipple_damage``).
    """
    rng = RandomStreams(scenario.cohort.seed, dyad_ids)
    u = rng.uniform(0, _POPULATION_STREAM, (N_COLUMNS,))

    def p(field: str) -> float:
        return prevalence(scenario, parameters, field)

    if caesarean is None:
        caesarean = u[:, _COLUMN["caesarean"]] < p("caesarean")
    caesarean = np.asarray(caesarean, dtype=bool)
    iap_rate = np.where(caesarean, p("intrapartum_antibiotics_caesarean"), p("intrapartum_antibiotics_vaginal"))
    first_time = u[:, _COLUMN["first_time_mother"]] < p("first_time_mother")
    # a mastitis with an earlier child: drawn here only when the scenario fixes its share; else
    # the engine simulates each multiparous mother's earlier lactation (model.previous_lactation)
    fixed = scenario.population.previous_mastitis_multiparous
    previous_mastitis = ~first_time & (u[:, _COLUMN["previous_mastitis"]] < (0.0 if fixed is None else fixed))
    damage_rate = np.where(first_time, p("nipple_damage_first_time"), p("nipple_damage_multiparous"))
    damaged = u[:, _COLUMN["nipple_damage"]] < damage_rate
    fissure_rate = fissure_given_damage(parameters, p("nipple_fissure_given_damage"), p("caesarean"), caesarean)

    groups = scenario.population.feeding_groups
    weights = np.array([g.weight for g in groups], dtype=np.float64)
    edges = np.cumsum(weights / weights.sum())
    edges[-1] = 1.0  # guard against rounding leaving a draw past the last edge
    group_index = np.searchsorted(edges, u[:, _COLUMN["feeding_group"]], side="right")
    group_index = np.minimum(group_index, len(groups) - 1)
    bm_low = np.array([g.breast_milk_share[0] for g in groups])[group_index]
    bm_high = np.array([g.breast_milk_share[1] for g in groups])[group_index]
    direct_low = np.array([g.direct_breastfeeding_share[0] for g in groups])[group_index]
    direct_high = np.array([g.direct_breastfeeding_share[1] for g in groups])[group_index]
    breast_milk_share = bm_low + (bm_high - bm_low) * u[:, _COLUMN["breast_milk_share"]]
    direct_share = direct_low + (direct_high - direct_low) * u[:, _COLUMN["direct_breastfeeding_share"]]
    direct_share = np.where(breast_milk_share > 0.0, direct_share, 0.0)

    preterm = u[:, _COLUMN["preterm"]] < p("preterm")
    term_low = parameters.value("gestational_age_term_min_weeks", "week")
    ga_low = np.where(preterm, parameters.value("gestational_age_preterm_min_weeks", "week"), term_low)
    ga_high = np.where(preterm, term_low, parameters.value("gestational_age_term_max_weeks", "week"))
    gestational_age = ga_low + (ga_high - ga_low) * u[:, _COLUMN["gestational_age_weeks"]]
    solids_default = (parameters.value("solids_start_day_min", "day"), parameters.value("solids_start_day_max", "day"))
    solids_low = np.array([(g.solids_start_day or solids_default)[0] for g in groups], dtype=np.float64)[group_index]
    solids_high = np.array([(g.solids_start_day or solids_default)[1] for g in groups], dtype=np.float64)[group_index]
    solids_start = solids_low + (solids_high - solids_low) * u[:, _COLUMN["solids_start_day"]]

    # the day the infant first sleeps through the night (log-normal in age; Henderson 2010)
    z = ndtri(np.clip(u[:, _COLUMN["sleeps_through_day"]], 1e-12, 1.0 - 1e-12))
    sleeps_through = parameters.value("night_sleep_consolidation_median_day", "day") * np.exp(
        parameters.value("night_sleep_consolidation_sd_log", "1") * z)

    healing_day = nipple_healing_day(parameters, u[:, _COLUMN["nipple_healing_day"]])

    per_dyad: dict[str, np.ndarray] = {}
    for name, (stream, sd_name) in LOGNORMAL_FACTORS.items():
        sd = parameters.value(sd_name, "1")
        per_dyad[name] = np.exp(sd * rng.normal(0, stream_id(stream), ()) - 0.5 * sd * sd)

    probiotic = np.full(len(dyad_ids), "", dtype=object)
    first_probiotic = True
    for number, intervention in enumerate(scenario.interventions):
        if intervention.kind == "probiotic" and first_probiotic:
            draw = u[:, _COLUMN["probiotic"]]
            first_probiotic = False
        else:
            draw = rng.uniform(0, stream_id(f"{_COVERAGE_STREAM[intervention.kind]}.{number}"), ())
        covered = draw < intervention.coverage
        per_dyad[intervention_attribute(number)] = covered
        if intervention.kind == "probiotic":
            probiotic[covered] = np.where(probiotic[covered] == "", intervention.strain,
                                          probiotic[covered] + "+" + intervention.strain)
    if scenario.treatment is not None:
        per_dyad["treatment_covered"] = (
            rng.uniform(0, stream_id("mastitis.treatment_coverage"), ()) < scenario.treatment.coverage)

    return {
        "delivery_mode": np.where(caesarean, "caesarean", "vaginal").astype(object),
        "intrapartum_antibiotics": u[:, _COLUMN["intrapartum_antibiotics"]] < iap_rate,
        "first_time_mother": first_time,
        "previous_mastitis": previous_mastitis,
        "oversupply": u[:, _COLUMN["oversupply"]] < p("oversupply"),
        "tight_bra": u[:, _COLUMN["tight_bra"]] < p("tight_bra"),
        "nipple_damage": damaged,
        # only an open crack lets skin bacteria past the barrier (Nakamura 2018: erythema and
        # swelling stay in the epidermis); the rest of the damage hurts but keeps the skin closed
        "nipple_fissure": damaged & (u[:, _COLUMN["nipple_fissure"]] < fissure_rate),
        "secretor": u[:, _COLUMN["secretor"]] < p("secretor"),
        "breast_milk_share": breast_milk_share,
        "direct_breastfeeding_share": direct_share,
        "feeding_group": np.array([g.name for g in groups], dtype=object)[group_index],
        "probiotic": probiotic,
        "preterm": preterm,
        "gestational_age_weeks": gestational_age,
        "solids_start_day": solids_start,
        "sleeps_through_day": sleeps_through,
        "resident_seed": np.full(len(dyad_ids), scenario.cohort.seed, dtype=np.int64),
        "maternal_atopy": u[:, _COLUMN["maternal_atopy"]] < p("maternal_atopy"),
        "nipple_healing_day": healing_day,
        "biofilm_strain": u[:, _COLUMN["biofilm_strain"]] < p("biofilm_strain"),
        **per_dyad,
    }
