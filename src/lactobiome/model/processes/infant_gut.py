"""The infant gut as a habitat: oxygen, HMOs, sIgA, lactoferrin, solids, stool washout, intrapartum drugs.

Runs after the day's arrivals and before ``growth``; it acts by multiplying
``state.growth_modifier`` for the infant gut and by removing cells (washout, antibiotic).

* **Washout.** Resident infant-gut cells leave with stool at ``infant_gut_washout_per_day``.
  A taxon persists only where its growth outpaces washout, so the growth modifiers below
  set who dominates (with Beverton–Holt crowding alone they would only set the speed).
* **Oxygen succession.** The lumen starts oxygenated (``infant_gut_oxygen`` = 1 at birth);
  oxygen diffuses in from the epithelium at a supply rate and is removed by facultative and
  aerobic biomass, so ``dO/dt = a (1 - O) - b O`` with ``b`` proportional to that biomass,
  integrated over the day in :data:`OXYGEN_SUBSTEPS` steps, each exact. The consumers grow
  during the day: in the first days the facultative biomass rises ten- to a hundredfold a
  day, so the morning's biomass alone would leave the oxygen it removes in the afternoon to
  the next day (a day's lag in the anaerobe succession). Within the day the biomass is taken
  to grow by yesterday's factor (the consumers at the start of today over those at the start
  of yesterday; the best estimate before today's growth is known), and today's growth sees
  the day's mean oxygen, while the end-of-day level carries to tomorrow. Strict anaerobes
  grow by ``1 - s O``, microaerophiles by ``1 - s' O``, facultatives by ``1 + f O``
  (respiration), aerobes by ``O``. Preterm infants have a larger supply per week of
  gestation below term: slower anaerobe succession.
* **HMOs.** Intake = breast-milk volume × HMO concentration (formula carries none). A
  taxon's growth depends on HMOs by ``d = hmo_growth_share × hmo_utilisation``: its rate is
  multiplied by ``(1 - d) + d × boost × S / (S + h U / U_ref)``, i.e. saturating in supply
  per utiliser cell (``U`` = utiliser biomass weighted by ``hmo_utilisation``). Secretor
  milk carries α1-2 fucosylated HMOs (2'-FL) that only fucose users can take; non-secretor
  milk has none (and less HMO in total), so all of it is open to every utiliser. Fucose use
  is proxied by how far ``hmo_utilisation`` exceeds a threshold (B. infantis, B. bifidum).
  **Colonic lactose.** The newborn's small intestine does not absorb all the lactose of its
  milk (functional lactase insufficiency: breath hydrogen in most term neonates by day 5,
  comparable in breastfed and formula-fed infants at the end of week 1); a share
  ``lactose_colon_escape_share`` of the lactose of breast milk and formula alike reaches the
  colon and feeds the milk-glycan-dependent growth of every utiliser (no fucose restriction),
  shared by the whole community rather than by utilisers alone (Enterobacteriaceae,
  enterococci, streptococci and lactobacilli ferment lactose too): the utilisers' supply per
  cell is HMOs over utiliser biomass plus lactose over all infant-gut cells. It is the milk
  sugar that formula-fed infants' bifidobacteria live on in the first week.
  Utilisers also starve where their HMO need goes unmet: the HMO-dependent part ``d`` of a
  taxon dies at ``hmo_starvation_death_per_day × d × (1 - S / (S + h U / U_ref))``. With
  washout slow, growth modifiers alone set how fast a community forms but hardly where it
  settles (Beverton–Holt crowding); the starvation death lets the HMO dose set the share of
  the gut that utilisers can hold, so partly breastfed infants keep room for other taxa.
* **sIgA.** Swallowed sIgA (volume × concentration) coats the taxa it targets and removes up
  to ``siga_growth_inhibition_max`` of their growth, saturating in the daily dose.
* **Solids** (``host["solids_fraction"]`` from the feeding plan, 0–1) bring the substrates
  of adult-type anaerobes (fibre, resistant starch, plant glycans). A taxon's growth depends
  on solids by ``d = solids_dependence`` (catalogue): its rate is multiplied by
  ``(1 - d) + d × boost × solids``. On a milk diet the adult-type anaerobes (Faecalibacterium,
  Blautia, Ruminococcus, Prevotella; ``d`` ≈ 0.9) grow too slowly to outpace washout and stay
  at the trickle of their immigrants; with solids they fill their niche in the weaned gut
  (``k_infant_gut``). Solids also take away part of the HMO-dependent growth of utilisers.
* **Acidity.** Saccharolytic taxa ferment milk sugars to acetate and lactate, so the stool
  pH falls from ``infant_gut_ph_neutral`` towards ``infant_gut_ph_acid`` in proportion to the
  share of today's infant-gut cells they make up, weighted by ``acid_production`` (catalogue:
  bifidobacteria and lactobacilli 1, streptococci and enterococci 0.5). Below
  ``acid_inhibition_onset_ph`` acid-sensitive taxa (``acid_sensitivity``: Enterobacteriaceae 1,
  Bacteroides and clostridia 0.5) lose growth and die, linearly in the pH fall down to the acid
  pH. This is the route by which an HMO-fed bifidobacterial bloom pushes Enterobacteriaceae
  down in breastfed infants, while formula-fed infants, with fewer bifidobacteria, keep a
  high-pH, Enterobacteriaceae-rich stool (Bullen 1976; Henrick 2018). **Buffering of the
  diet.** Breast milk is poorly buffered (little protein and phosphate); cow's-milk formula
  holds far more buffer, so the same fermentation acids lower the stool pH less: formula-fed
  infants' stool held no acetate buffer and stayed at pH 5.9-8.2 even with a bifidobacterial
  flora, against 5.1-5.4 in the breastfed (Bullen & Willis 1971; Bullen 1977), and adding
  formula to breast milk raised the stool pH (Ogawa 1992). The pH fall is divided by the
  diet's relative buffering ``B = 1 + (beta - 1) x`` (``x`` the formula share of today's milk
  volume), with ``beta = (pH_neutral - pH_acid) / (pH_neutral - formula_stool_ph_acid)``, so a
  wholly formula-fed gut of acid producers reaches ``formula_stool_ph_acid``.
* **Milk lactoferrin.** Swallowed breast milk carries lactoferrin (colostral excess over the
  mature level decaying exponentially, :func:`milk_lactoferrin_g_per_l`); a share
  ``lactoferrin_intact_colon_share`` of it reaches the colon intact and still iron-free,
  diluted in ``infant_colon_content_ml``. With ``e = L / (L + h)`` at that luminal
  concentration ``L``, taxa by their ``lactoferrin_sensitivity`` (catalogue: the iron-dependent
  Enterobacteriaceae) lose ``lactoferrin_growth_inhibition_max × e`` of their growth (iron
  sequestration: Bullen 1972; Brock 1983) and die at ``lactoferrin_kill_per_day × e``
  (bactericidal apo-lactoferrin with lysozyme: Arnold 1977; Ellison 1991). Formula carries
  none, so formula-fed infants' Enterobacteriaceae meet no such check. The dose follows the
  volume of breast milk, so a partly breastfed infant gets a partial check.
* **Maternal contact.** After birth the infant keeps receiving cells of its mother's gut by
  household faecal–oral contact (``maternal_gut_to_infant_gut_per_day`` per cell, tagged
  ``maternal_gut``): the slow route by which caesarean-born infants, who get no maternal
  faecal inoculum, acquire Bacteroides over months, and a modest source of adult-type taxa.
* **Intrapartum antibiotics** stay active in the newborn for a few days and kill
  penicillin-susceptible cells in its gut and mouth (on top of the smaller viable inoculum).

HMO and sIgA concentrations are today's, from ``lactation``; sIgA specificity is
yesterday's, from ``entero_mammary_immunity``. On day 1, before its first update, milk sIgA
targets each taxon the mother's gut carries with its ``immunogenicity`` (IgA primed in
pregnancy by her own gut microbes).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lactobiome.errors import InputError
from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.sites import SITE_INDEX
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import move

_GUT = SITE_INDEX["infant_gut"]
_MOUTH = SITE_INDEX["infant_mouth"]
_MATERNAL_GUT = SITE_INDEX["maternal_gut"]
_ML_PER_L = 1000.0


def prepare(ctx: SimulationContext, attributes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-taxon arrays derived from the catalogue, once per chunk.

    Also refuses a parameter set whose acid-inhibition onset pH is not above the acid stool pH
    (the inhibition ramp between them would divide by zero or run backwards), or whose formula
    stool pH is below the acid pH or not below the neutral pH (formula buffering undefined).
    """
    acid_ph = ctx.p("infant_gut_ph_acid", "1")
    onset_ph = ctx.p("acid_inhibition_onset_ph", "1")
    if not onset_ph > acid_ph:
        raise InputError(f"{ctx.parameters.origin}: acid_inhibition_onset_ph ({onset_ph:g}) must be above "
                         f"infant_gut_ph_acid ({acid_ph:g})")
    formula_ph = ctx.p("formula_stool_ph_acid", "1")
    neutral_ph = ctx.p("infant_gut_ph_neutral", "1")
    if not acid_ph <= formula_ph < neutral_ph:
        raise InputError(f"{ctx.parameters.origin}: formula_stool_ph_acid ({formula_ph:g}) must lie from "
                         f"infant_gut_ph_acid ({acid_ph:g}) up to below infant_gut_ph_neutral ({neutral_ph:g})")
    oxygen = np.asarray(ctx.taxa["oxygen"]).astype(str)
    k_gut = ctx.taxa["k_infant_gut"].astype(np.float64)
    utilisation = ctx.taxa["hmo_utilisation"].astype(np.float64)
    threshold = ctx.p("hmo_fucose_utilisation_threshold", "fraction")
    return {
        "consumer": np.isin(oxygen, ("facultative", "aerobe")).astype(np.float64),
        "anaerobe": (oxygen == "anaerobe").astype(np.float64),
        "microaerophile": (oxygen == "microaerophile").astype(np.float64),
        "facultative": (oxygen == "facultative").astype(np.float64),
        "aerobe": (oxygen == "aerobe").astype(np.float64),
        "resident": (k_gut > 0.0).astype(np.float64),
        "solids": ctx.taxa["solids_dependence"].astype(np.float64),
        "fucose": np.clip((utilisation - threshold) / (1.0 - threshold), 0.0, 1.0),
        "acid_production": ctx.taxa["acid_production"].astype(np.float64),
        "acid_sensitivity": ctx.taxa["acid_sensitivity"].astype(np.float64),
        "lactoferrin_sensitivity": ctx.taxa["lactoferrin_sensitivity"].astype(np.float64),
    }


def siga_specificity(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Share of each taxon targeted by milk sIgA today, (dyad, taxon) in [0, 1].

    Yesterday's value of ``entero_mammary_immunity``; on day 1, before its first update, the
    taxa the mother's gut carries, each with its ``immunogenicity``.
    """
    if state.day == 1:
        in_mother = state.cells_in(_MATERNAL_GUT) > 0.0
        return in_mother * ctx.taxa["immunogenicity"][None, :]
    return state.host["siga_specificity"]


OXYGEN_SUBSTEPS = 24
"""Steps per day in the integration of the infant-gut oxygen (hourly): within each the
consumer biomass is held at its mid-step value and the oxygen equation solved exactly, so the
result converges on the continuous solution as the consumers grow through the day."""


def oxygen_over_day(previous: np.ndarray, supply: np.ndarray, uptake_start: np.ndarray,
                    growth_factor: np.ndarray, steps: int = OXYGEN_SUBSTEPS) -> tuple[np.ndarray, np.ndarray]:
    """Advance the lumen oxygen one day while its consumers grow; (day mean, end of day), per dyad.

    ``previous`` is the oxygen at the start of the day, ``supply`` the restoring rate ``a``
    (1/day), ``uptake_start`` the removal rate ``b`` (1/day) of the consumers at the start of the
    day, and ``growth_factor`` the factor by which the consumers grow over the day (``b`` rises
    as ``b0 g^t``, t in days). Each of ``steps`` steps solves ``dO/dt = a (1 - O) - b O`` exactly
    with ``b`` at its mid-step value; the day mean averages the exact solution over each step.
    """
    level = np.asarray(previous, dtype=np.float64).copy()
    mean = np.zeros_like(level)
    dt = 1.0 / steps
    log_g = np.log(growth_factor)
    for k in range(steps):
        total = supply + uptake_start * np.exp(log_g * (k + 0.5) * dt)
        equilibrium = supply / total
        decay = -np.expm1(-total * dt)  # 1 - exp(-total dt)
        # mean of the exact solution over the step: eq + (O0 - eq) (1 - e^{-T dt}) / (T dt)
        mean += (equilibrium + (level - equilibrium) * decay / (total * dt)) * dt
        level = equilibrium + (level - equilibrium) * (1.0 - decay)
    return mean, level


def _oxygen(state: DyadState, ctx: SimulationContext, cells: np.ndarray,
            consumer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Today's infant-gut oxygen: (day mean, seen by today's growth; end of day, carried on)."""
    # row sums rather than a BLAS product: identical whatever the batch size (chunking)
    consumers = (cells * consumer[None, :]).sum(axis=1)
    yesterday = state.host["infant_gut_oxygen_consumer_cells"]
    state.host["infant_gut_oxygen_consumer_cells"] = consumers
    if state.day == 1:
        start = np.full(state.n_dyads, ctx.p("infant_gut_oxygen_birth", "fraction"))
        return start, start
    weeks_early = np.maximum(
        ctx.p("gestational_age_term_min_weeks", "week") - state.attributes["gestational_age_weeks"], 0.0
    )
    supply = ctx.p("infant_gut_oxygen_supply_per_day", "1/day") * (
        1.0 + ctx.p("preterm_oxygen_supply_excess_per_week", "1") * weeks_early
    )
    uptake = ctx.p("infant_gut_oxygen_consumption_per_day", "1/day") * consumers / ctx.p(
        "infant_gut_oxygen_reference_cells", "cells"
    )
    # consumers grow today by yesterday's factor; none yesterday (or none now): no extrapolation
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where((yesterday > 0.0) & (consumers > 0.0), consumers / yesterday, 1.0)
    return oxygen_over_day(state.host["infant_gut_oxygen"], supply, uptake, factor)


def milk_lactoferrin_g_per_l(day: int, ctx: SimulationContext) -> float:
    """Lactoferrin concentration of breast milk (g/L) on day ``day`` of lactation.

    The colostral excess over the mature level decays with an e-folding time of
    ``milk_lactoferrin_decline_time_days`` from day 1 (Zhou 2025; Rai 2014).
    """
    mature = ctx.p("milk_lactoferrin_mature_g_per_l", "g/L")
    colostrum = ctx.p("milk_lactoferrin_colostrum_g_per_l", "g/L")
    tau = ctx.p("milk_lactoferrin_decline_time_days", "day")
    return mature + (colostrum - mature) * float(np.exp(-(max(day, 1) - 1) / tau))


def lactoferrin_effect(milk_volume_ml: np.ndarray, day: int, ctx: SimulationContext) -> np.ndarray:
    """Saturation of the lactoferrin check in the infant colon today, per dyad in [0, 1).

    ``milk_volume_ml`` is today's breast-milk intake (mL/day); formula carries no lactoferrin.
    The luminal concentration is the intact share of the day's swallowed lactoferrin diluted in
    the colonic content; the effect is ``L / (L + lactoferrin_half_effect_g_per_l)``.
    """
    dose = milk_volume_ml / _ML_PER_L * milk_lactoferrin_g_per_l(day, ctx)  # g/day
    content_l = ctx.p("infant_colon_content_ml", "mL") / _ML_PER_L
    luminal = dose * ctx.p("lactoferrin_intact_colon_share", "fraction") / content_l  # g/L
    return luminal / (luminal + ctx.p("lactoferrin_half_effect_g_per_l", "g/L"))


def colonic_lactose_g_per_day(milk_volume_ml: np.ndarray, formula_volume_ml: np.ndarray,
                              ctx: SimulationContext) -> np.ndarray:
    """Lactose reaching the infant colon today (g/day), per dyad.

    ``milk_volume_ml`` and ``formula_volume_ml`` are today's intakes (mL/day). A share
    ``lactose_colon_escape_share`` of the lactose they carry escapes small-intestinal digestion
    (the newborn's functional lactase insufficiency), whatever the milk.
    """
    lactose = (milk_volume_ml * ctx.p("milk_lactose_g_per_l", "g/L")
               + formula_volume_ml * ctx.p("formula_lactose_g_per_l", "g/L")) / _ML_PER_L  # g/day
    return lactose * ctx.p("lactose_colon_escape_share", "fraction")


def glycan_saturation(hmo_accessible: np.ndarray, utiliser_cells: np.ndarray, lactose: np.ndarray,
                      community_cells: np.ndarray, ctx: SimulationContext) -> np.ndarray:
    """Saturation of the milk-glycan-dependent growth of each taxon today, (dyad, taxon) in [0, 1].

    ``hmo_accessible`` (dyad, taxon) is the HMO intake open to each taxon (g/day), shared by the
    utiliser biomass ``utiliser_cells`` (cells weighted by ``hmo_utilisation``); ``lactose`` is
    the colonic lactose (g/day), shared by the whole community ``community_cells`` (nearly every
    infant-gut taxon ferments lactose). With ``s`` the supply per cell, the saturation is
    ``s / (s + h / U_ref)`` (``hmo_half_saturation_g_per_day`` over ``hmo_reference_cells``);
    without lactose this is the HMO form ``A / (A + h U / U_ref)``. A supply with no cells to
    share it saturates.
    """
    half = ctx.p("hmo_half_saturation_g_per_day", "g/day") / ctx.p("hmo_reference_cells", "cells")
    with np.errstate(invalid="ignore", divide="ignore"):
        hmo = np.where(utiliser_cells[:, None] > 0.0, hmo_accessible / utiliser_cells[:, None],
                       np.where(hmo_accessible > 0.0, np.inf, 0.0))
        sugar = np.where(community_cells > 0.0, lactose / community_cells, np.where(lactose > 0.0, np.inf, 0.0))
        supply = hmo + sugar[:, None]
        return np.where(np.isinf(supply), 1.0, supply / (supply + half))


def diet_buffering(milk_volume_ml: np.ndarray, formula_volume_ml: np.ndarray, ctx: SimulationContext) -> np.ndarray:
    """Relative buffering of today's diet in the infant colon, per dyad (1 = breast milk alone).

    ``milk_volume_ml`` and ``formula_volume_ml`` are today's intakes (mL/day). Formula buffers
    ``beta`` times as much as breast milk, ``beta`` set by the pH a wholly formula-fed gut of acid
    producers reaches (``formula_stool_ph_acid``); buffers add by volume. With no milk of either
    kind the diet is taken as unbuffered by formula (1).
    """
    neutral = ctx.p("infant_gut_ph_neutral", "1")
    beta = (neutral - ctx.p("infant_gut_ph_acid", "1")) / (neutral - ctx.p("formula_stool_ph_acid", "1"))
    total = milk_volume_ml + formula_volume_ml
    with np.errstate(invalid="ignore", divide="ignore"):
        formula_share = np.where(total > 0.0, formula_volume_ml / total, 0.0)
    return 1.0 + (beta - 1.0) * formula_share


def acid_inhibition(cells: np.ndarray, production: np.ndarray, ctx: SimulationContext,
                    buffering: np.ndarray | float = 1.0) -> np.ndarray:
    """Acid inhibition of sensitive taxa today, per dyad in [0, 1].

    ``cells`` is (dyad, taxon) of the infant gut. The stool pH falls from the neutral pH by
    ``(neutral - acid) x share / buffering``, ``share`` the acid producers' share of cells
    (weighted by ``production``) and ``buffering`` the diet's relative buffering
    (:func:`diet_buffering`; 1 for breast milk, where it reaches the acid pH); the inhibition
    rises linearly from 0 at ``acid_inhibition_onset_ph`` to 1 at the acid pH.
    """
    neutral = ctx.p("infant_gut_ph_neutral", "1")
    acid = ctx.p("infant_gut_ph_acid", "1")
    onset = ctx.p("acid_inhibition_onset_ph", "1")
    total = cells.sum(axis=1)
    # row sums rather than a BLAS product: identical whatever the batch size (chunking)
    producers = (cells * production[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0.0, producers / total, 0.0)
    ph = neutral - (neutral - acid) * share / buffering
    return np.clip((onset - ph) / (onset - acid), 0.0, 1.0)


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    traits = ctx.table("infant_gut")

    if ctx.scenario.routes.maternal_gut_to_infant_gut and state.day > 1:
        rate = ctx.p("maternal_gut_to_infant_gut_per_day", "1/day")
        move(state, "maternal_gut", "infant_gut", np.full((1, 1), -np.expm1(-rate)), ctx.rng,
             stream_id("infant_gut.maternal_contact"))

    # intrapartum drug still active in the newborn: kills susceptible early colonisers
    if state.day <= ctx.p("intrapartum_antibiotic_infant_days", "day"):
        kill = ctx.p("intrapartum_antibiotic_infant_kill_per_day", "fraction") * ctx.taxa["kill_penicillin"]
        survive = np.where(state.attributes["intrapartum_antibiotics"][:, None], 1.0 - kill[None, :], 1.0)
        survive = survive.astype(np.float32)
        if "infant_gut" not in ctx.unread_sites:
            state.scale_site(_GUT, survive)
        state.scale_site(_MOUTH, survive)

    if "infant_gut" in ctx.unread_sites:
        # nobody reads this gut (an earlier lactation, simulated for the mother's mastitis): what
        # follows changes only its cells and the two oxygen variables only this process reads
        return state

    cells = state.cells_in(_GUT)  # (dyad, taxon)

    oxygen_mean, oxygen_end = _oxygen(state, ctx, cells, traits["consumer"])
    state.host["infant_gut_oxygen"] = oxygen_end
    o = oxygen_mean[:, None]
    modifier = (
        traits["anaerobe"] * (1.0 - ctx.p("anaerobe_oxygen_growth_suppression", "fraction") * o)
        + traits["microaerophile"] * (1.0 - ctx.p("microaerophile_oxygen_growth_suppression", "fraction") * o)
        + traits["facultative"] * (1.0 + ctx.p("facultative_oxygen_growth_boost", "1") * o)
        + traits["aerobe"] * o
    )

    # HMOs: supply per utiliser cell, with the secretor-dependent mix
    volume_l = state.host["milk_volume_ml"] / _ML_PER_L
    intake = volume_l * state.host["hmo_g_per_l"]  # g/day
    fucosylated = np.where(state.attributes["secretor"], ctx.p("hmo_fucosylated_share", "fraction"), 0.0)
    accessible = intake[:, None] * (1.0 - fucosylated[:, None] * (1.0 - traits["fucose"][None, :]))
    utilisation = ctx.taxa["hmo_utilisation"].astype(np.float64)
    lactose = colonic_lactose_g_per_day(state.host["milk_volume_ml"], state.host["formula_volume_ml"], ctx)
    saturation = glycan_saturation(accessible, (cells * utilisation[None, :]).sum(axis=1), lactose,
                                   cells.sum(axis=1), ctx)
    solids = state.host["solids_fraction"][:, None]
    dependence = ctx.p("hmo_growth_share", "fraction") * utilisation[None, :]
    hmo_gain = ctx.p("hmo_growth_boost_max", "1") * saturation * (
        1.0 - ctx.p("solids_hmo_utiliser_growth_loss", "fraction") * solids
    )
    modifier *= (1.0 - dependence) + dependence * hmo_gain
    # utilisers whose HMO share goes unmet starve: a death rate in the unmet part of their need
    starve = np.exp(-ctx.p("hmo_starvation_death_per_day", "1/day") * dependence * (1.0 - saturation))

    # swallowed sIgA coats the taxa it targets
    dose = volume_l * state.host["siga_g_per_l"]  # g/day
    half = ctx.p("siga_half_effect_g_per_day", "g/day")
    inhibition = ctx.p("siga_growth_inhibition_max", "fraction") * dose / (dose + half)
    modifier *= 1.0 - inhibition[:, None] * siga_specificity(state, ctx)

    # solids feed adult-type anaerobes: the solids-dependent part of growth needs solids
    need = traits["solids"][None, :]
    modifier *= (1.0 - need) + need * ctx.p("solids_growth_boost_max", "1") * solids

    # milk lactoferrin that reaches the colon iron-free holds back and kills iron-dependent Gram-negatives
    lf_sensitivity = traits["lactoferrin_sensitivity"][None, :]
    lf_effect = lactoferrin_effect(state.host["milk_volume_ml"], state.day, ctx)[:, None]
    modifier *= 1.0 - ctx.p("lactoferrin_growth_inhibition_max", "fraction") * lf_sensitivity * lf_effect
    lf_survival = np.exp(-ctx.p("lactoferrin_kill_per_day", "1/day") * lf_sensitivity * lf_effect)

    # fermentation acids of saccharolytic taxa hold back and kill acid-sensitive taxa
    sensitivity = traits["acid_sensitivity"][None, :]
    buffering = diet_buffering(state.host["milk_volume_ml"], state.host["formula_volume_ml"], ctx)
    inhibition = acid_inhibition(cells, traits["acid_production"], ctx, buffering)[:, None]
    modifier *= 1.0 - sensitivity * inhibition
    acid_survival = np.exp(-ctx.p("acid_death_per_day", "1/day") * sensitivity * inhibition)

    state.growth_modifier[:, _GUT, :] *= modifier

    # stool washout of resident cells (transients have their own loss in growth)
    washout = np.exp(-ctx.p("infant_gut_washout_per_day", "1/day"))
    keep = np.where(traits["resident"] > 0.0, washout, 1.0).astype(np.float32)
    # the day's four losses in one pass over the site, in the order they act: HMO starvation,
    # lactoferrin kill, acid kill, washout (each product rounded to float32, as four passes were);
    # nothing above reads the gut's cells after `cells`
    state.scale_site(_GUT, starve.astype(np.float32), lf_survival.astype(np.float32),
                     acid_survival.astype(np.float32), keep[None, :])
    return state


PROCESS = Process(
    "infant_gut", step,
    reads={"milk_volume_ml", "formula_volume_ml", "hmo_g_per_l", "siga_g_per_l", "solids_fraction"},
    reads_previous={"siga_specificity", "infant_gut_oxygen", "infant_gut_oxygen_consumer_cells"},
    writes={"infant_gut_oxygen", "infant_gut_oxygen_consumer_cells"},
    attributes={"gestational_age_weeks", "intrapartum_antibiotics", "secretor"},
    modifies_growth=True,
    prepare=prepare,
)
