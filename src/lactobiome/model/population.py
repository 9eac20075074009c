"""Drawing a virtual population of dyads (DESIGN §2 "Dyad", §4).

Each dyad's attributes depend only on (seed, dyad id), so a dyad is the same mother–infant
pair whatever chunk it is simulated in.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.special import ndtri

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
}
N_COLUMNS = 16  # room for more attributes without changing existing ones


def _prevalence(scenario: Scenario, parameters: ParameterTable, field: str) -> float:
    value = getattr(scenario.population, field)
    if value is None:
        return parameters.value(f"prevalence_{field}", "probability")
    return float(value)


def draw_population(scenario: Scenario, parameters: ParameterTable, dyad_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Dyad attributes (DESIGN §7) for the given global dyad ids.

    Returns
    -------
    dict
        Arrays of shape (dyad,): ``delivery_mode`` ("vaginal"/"caesarean"), booleans
        ``intrapartum_antibiotics``, ``first_time_mother``, ``previous_mastitis``,
        ``oversupply``, ``tight_bra``, ``nipple_damage``, ``secretor``, floats
        ``breast_milk_share`` and ``direct_breastfeeding_share``, strings
        ``feeding_group`` and ``probiotic`` (strain name or ""); ``preterm`` (bool) with
        ``gestational_age_weeks`` (uniform within the preterm or term range of the parameter
        table), ``solids_start_day`` (float, the feeding group's range or the table's) and
        ``sleeps_through_day`` (float, day of life the infant first sleeps through the night).
    """
    rng = RandomStreams(scenario.cohort.seed, dyad_ids)
    u = rng.uniform(0, _POPULATION_STREAM, (N_COLUMNS,))

    def p(field: str) -> float:
        return _prevalence(scenario, parameters, field)

    caesarean = u[:, _COLUMN["caesarean"]] < p("caesarean")
    iap_rate = np.where(caesarean, p("intrapartum_antibiotics_caesarean"), p("intrapartum_antibiotics_vaginal"))
    first_time = u[:, _COLUMN["first_time_mother"]] < p("first_time_mother")
    previous_mastitis = ~first_time & (u[:, _COLUMN["previous_mastitis"]] < p("previous_mastitis_multiparous"))
    damage_rate = np.where(first_time, p("nipple_damage_first_time"), p("nipple_damage_multiparous"))

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

    probiotic = np.full(len(dyad_ids), "", dtype=object)
    for regimen in scenario.interventions:
        if regimen.kind == "probiotic":
            chosen = (u[:, _COLUMN["probiotic"]] < regimen.coverage) & (probiotic == "")
            probiotic[chosen] = regimen.strain

    return {
        "delivery_mode": np.where(caesarean, "caesarean", "vaginal").astype(object),
        "intrapartum_antibiotics": u[:, _COLUMN["intrapartum_antibiotics"]] < iap_rate,
        "first_time_mother": first_time,
        "previous_mastitis": previous_mastitis,
        "oversupply": u[:, _COLUMN["oversupply"]] < p("oversupply"),
        "tight_bra": u[:, _COLUMN["tight_bra"]] < p("tight_bra"),
        "nipple_damage": u[:, _COLUMN["nipple_damage"]] < damage_rate,
        "secretor": u[:, _COLUMN["secretor"]] < p("secretor"),
        "breast_milk_share": breast_milk_share,
        "direct_breastfeeding_share": direct_share,
        "feeding_group": np.array([g.name for g in groups], dtype=object)[group_index],
        "probiotic": probiotic,
        "preterm": preterm,
        "gestational_age_weeks": gestational_age,
        "solids_start_day": solids_start,
        "sleeps_through_day": sleeps_through,
    }
