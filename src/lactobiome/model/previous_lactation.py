"""A multiparous mother's earlier lactation, simulated so that its mastitis marks her.

Whether a mother had mastitis with a previous child is not a coin toss apart from everything
else about her: the same breasts, the same milk supply (oversupply), the same feeding rhythm
and the same habits (a tight bra) made that lactation what it was. Cohort studies find a
previous mastitis among the strongest predictors of the next one, for that reason more than
for any scarring it left. So a multiparous mother's earlier lactation is simulated with her
own persistent traits (:data:`PERSISTENT`: supply, rhythm, habits and the resident taxa she
carries) as a first lactation (an inexperienced latch,
nipple damage at the first-time rate), its per-lactation circumstances drawn afresh (intrapartum
antibiotics, nipple damage, the infant's sleep, the sizes of her resident communities), for its first
:data:`PREVIOUS_LACTATION_DAYS` days. How she fed the earlier child is her own habit in part: with
probability ``feeding_plan_repeat_share`` she repeats this lactation's feeding plan
(:data:`FEEDING_PLAN`), else it is drawn afresh (Phillips et al. 2011: about 70% of multiparous
women repeated the first child's breastfeeding category with the second); ``previous_mastitis`` is whether it had an episode
(:mod:`lactobiome.model.spectrum`). Her earlier birth mode goes with this one's: most women who
had a caesarean have the next child by caesarean too (:func:`earlier_caesarean`). A scenario that fixes ``previous_mastitis_multiparous``
keeps the plain draw of :mod:`lactobiome.model.population`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lactobiome.model.context import stream_id
from lactobiome.model.parameters import ParameterTable
from lactobiome.model.population import LOGNORMAL_FACTORS, draw_population, prevalence
from lactobiome.model.random import RandomStreams
from lactobiome.model.scenario import Scenario
from lactobiome.model.spectrum import INFLAMED

PREVIOUS_LACTATION_DAYS = 182
"""Days of the earlier lactation simulated: its first six months. "Mastitis with a previous child"
(Foxman et al. 2002) asks about that whole lactation, and a quarter of first episodes begin after
week 7 (Kinlay et al. 1998), so a 12-week window (84 days, before issue 13 round 2) missed some
of them; six months is Kinlay's follow-up, and the feeding plans of the scenario wean many
infants by then. The cost is about 30% more dyad-days on a 365-day run with 60% multiparous."""

PERSISTENT: tuple[str, ...] = ("oversupply", "tight_bra", "secretor", "resident_seed", "maternal_atopy",
                                "biofilm_strain", *LOGNORMAL_FACTORS)
"""Attributes of the mother herself, the same in every lactation. ``resident_seed`` makes her
carry the same resident taxa at her own sites (gut, mouth, breast stroma, areolar skin) in both:
carriage is a lasting trait of a person (persistent nasal carriage of Staphylococcus aureus,
about a fifth of adults, holds for years: Wertheim HFL et al. Lancet Infect Dis 2005;5:751-762;
skin strains persist over years: Oh J et al. Cell 2016;165:854-866; most gut strains are kept
for years: Faith JJ et al. Science 2013;341:1237439); ``biofilm_strain`` likewise keeps the
biofilm-forming strain of her ductal flora. Their sizes are drawn afresh."""

FEEDING_PLAN: tuple[str, ...] = ("feeding_group", "breast_milk_share", "direct_breastfeeding_share",
                                  "solids_start_day")
"""Attributes of how a mother feeds her infant, repeated in the earlier lactation by the mothers who
keep their feeding habit (``feeding_plan_repeat_share``): a mother who breastfed her earlier child
exclusively mostly does so again, and one who did not could have had no mastitis then."""

SEED_OFFSET = 7_919_000_003
"""Added to the cohort seed for the earlier lactation: its days are other days than this one's."""


def previous_scenario(scenario: Scenario) -> Scenario:
    """The scenario of the earlier lactations: a first lactation from birth (no pregnancy days), no
    interventions, untreated."""
    cohort = scenario.cohort.model_copy(update={
        "days": PREVIOUS_LACTATION_DAYS, "seed": (scenario.cohort.seed + SEED_OFFSET) % 2**63, "pregnancy_days": 0})
    population = scenario.population.model_copy(update={
        "first_time_mother": 1.0, "previous_mastitis_multiparous": 0.0})
    return scenario.model_copy(update={"cohort": cohort, "population": population, "interventions": [],
                                       "treatment": None})


def earlier_caesarean(scenario: Scenario, parameters: ParameterTable, dyad_ids: np.ndarray,
                      caesarean_now: np.ndarray) -> np.ndarray:
    """Whether each multiparous mother's earlier child was born by caesarean, given this birth's mode.

    A caesarean is followed by another at the next birth with probability
    ``repeat_caesarean_share`` (r: one minus the rate of vaginal birth after caesarean). With the
    caesarean share c the same at both births, the earlier birth was a caesarean with probability
    r when this one is (Bayes: r c / c) and (1 - r) c / (1 - c) when this one is vaginal, so the
    share of caesareans stays c over both births.

    Parameters
    ----------
    scenario, parameters
        This lactation's scenario and parameter table.
    dyad_ids
        Global ids of the multiparous dyads, shape (dyad,).
    caesarean_now
        Bool, shape (dyad,): this birth was a caesarean.

    Returns
    -------
    numpy.ndarray
        Bool, shape (dyad,).
    """
    c = prevalence(scenario, parameters, "caesarean")
    r = parameters.value("repeat_caesarean_share", "probability")
    after_vaginal = min(1.0, (1.0 - r) * c / (1.0 - c)) if c < 1.0 else 0.0
    u = RandomStreams((scenario.cohort.seed + SEED_OFFSET) % 2**63, dyad_ids).uniform(
        0, stream_id("previous_lactation.birth_mode"))
    return u < np.where(np.asarray(caesarean_now, dtype=bool), r, after_vaginal)


def previous_mastitis(
    scenario: Scenario,
    parameters: ParameterTable,
    dyad_ids: np.ndarray,
    attributes: dict[str, np.ndarray],
    simulate: Callable[[Scenario, np.ndarray, dict[str, np.ndarray]], np.ndarray],
) -> np.ndarray:
    """Whether each dyad's mother had mastitis in her earlier lactation (False for first-time mothers).

    Parameters
    ----------
    scenario, parameters
        This lactation's scenario and parameter table.
    dyad_ids
        Global dyad ids, shape (dyad,).
    attributes
        This lactation's attributes (:func:`lactobiome.model.population.draw_population`).
    simulate
        Runs a scenario for the given dyad ids with the given attributes and returns the daily
        mastitis state codes, shape (dyad, day) (the engine's chunk runner).

    Returns
    -------
    numpy.ndarray
        Boolean, shape (dyad,).
    """
    multiparous = ~np.asarray(attributes["first_time_mother"], dtype=bool)
    had = np.zeros(len(dyad_ids), dtype=bool)
    if not multiparous.any():
        return had
    earlier = previous_scenario(scenario)
    ids = np.asarray(dyad_ids)[multiparous]
    caesarean_now = np.asarray(attributes["delivery_mode"])[multiparous] == "caesarean"
    drawn = draw_population(earlier, parameters, ids,
                            caesarean=earlier_caesarean(scenario, parameters, ids, caesarean_now))
    for name in PERSISTENT:
        drawn[name] = np.asarray(attributes[name])[multiparous]
    repeats = RandomStreams(earlier.cohort.seed, ids).uniform(0, stream_id("previous_lactation.feeding_plan")) < (
        parameters.value("feeding_plan_repeat_share", "probability"))
    for name in FEEDING_PLAN:
        drawn[name] = np.where(repeats, np.asarray(attributes[name])[multiparous], np.asarray(drawn[name]))
    codes = simulate(earlier, ids, drawn)
    had[multiparous] = INFLAMED[codes.astype(np.int64)].any(axis=1)
    return had
