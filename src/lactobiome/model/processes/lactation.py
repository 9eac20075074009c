"""The lactation course: milk production and removal, milk composition, junction state.

Each day, for every dyad:

* **Volume.** The infant's demand rises from the day-1 colostrum volume with the
  lactogenesis time constant (Saint et al. 1984: ~37 g on day 1, ~705 g on day 5), then
  slowly over months 1–6 (Dewey & Lönnerdal 1983, Michaelsen et al. 1994: 673 mL/day at
  1 month to 896 at 6 months),
  scaled by a per-dyad log-normal supply factor. ``milk_volume_ml`` is the infant's breast
  milk intake (demand × supply × breast-milk share), less the share complementary foods
  displace once solids start (``solids_milk_displacement`` at full solids; intake falls
  from ~730-900 mL/day at 6 months to ~450-600 at 12 months). ``formula_volume_ml`` is the
  rest of the demand (demand × (1 - share), less the same displacement), taken as formula.
* **Production vs removal.** The breast produces the infant's intake plus an early
  overshoot that fades as supply calibrates to demand over the first weeks, and more with
  oversupply. A share ``e`` of the milk available (yesterday's residual + today's
  production) is removed; the rest stays as residual milk: ``R_t = (R_{t-1} + P_t)(1 - e)``.
  Removal efficiency falls with mechanisms, not odds ratios: an inexperienced latch
  (first-time mothers) in the first weeks and painful damaged nipples (short feeds) until
  they heal (each mother's ``nipple_healing_day``), recovery from a caesarean (below), duct
  compression by a tight bra, ductal scarring after a mastitis (in an earlier lactation, or
  earlier in this one: the reason a quarter to a third of affected women have a recurrence),
  a biofilm on the duct wall that narrows the lumen (subacute mastitis, see mastitis),
  the long night-time interval once the infant sleeps through the night (from a per-dyad
  age, median ~4 months: Henderson et al. 2010), and random days of missed or short feeds;
  frequent emptying (a treatment) raises it. The stasis index is residual milk over breast
  storage capacity.
* **Caesarean birth.** Secretory activation (lactogenesis II) comes later after a caesarean
  (``caesarean_lactogenesis_delay_days``: onset 44 h against 34 h, Jeerasap et al.), so the
  early rise of intake, the supply overshoot and the maturation of autocrine control run on a
  clock started that much later (the lag in milk transferred on days 2-5, Evans et al. 2003);
  while she recovers from the operation (``caesarean_recovery_days``) wound pain shortens feeds
  at the breast (``caesarean_feed_penalty``).
* **Autocrine control.** A breast left full slows its own synthesis (Daly et al. 1993;
  feedback inhibitor of lactation, Peaker & Wilde 1996): production is divided by
  ``1 + g m F``, ``F`` the fullness the day would leave (residual over storage capacity
  without the slowing) and ``m = 1 - exp(-(day - 1) / tau)`` the maturity of the control.
  In the first weeks synthesis is endocrine and does not slow (engorgement), so the same
  missed feed leaves more stasis early than in established lactation: the reason most
  mastitis onsets fall in the first six weeks.
* **Composition.** HMO (g/L) falls from colostral to late-lactation levels (Thum et al.
  2021, targets F06), ~40% lower in non-secretors; sIgA (g/L) has a fast colostral
  component and a slow one (targets F01–F03).
* **Junctions.** Permeability is open at birth and closes in two phases: most of it over
  ~72 h (Neville et al. 1991), a small share more slowly over the next one to two weeks (milk
  Na falls from a mean 21 mmol/L over days 1-5 to 15 at the end of week 1 and 12 on day 10:
  Ansell et al. 1977);
  strain from stasis and from the leucocyte influx of an inflamed gland re-opens it
  (neutrophils reach milk along the paracellular route, opening the junctions as they pass:
  Huber et al. 2000; so the leak follows the recruitment curve of
  :func:`lactobiome.model.leucocytes.recruited_per_ml`, steep in inflammation, and the
  low-grade inflammation of healthy milk leaves the junctions closed). The Na:K ratio follows permeability
  (Morton 1994; Murase et al. 2014: median 0.62 on day 7). The strained part of the opening
  (``junction_strain_opening``) is the one a distended lumen pushes milk back through into the
  tissue (lactose reaches maternal plasma with engorgement and at weaning); the colostral
  opening carries interstitial fluid the other way, into milk (see translocation).

**Secretory tissue.** A breast from which the infant takes only a share of its milk keeps
only that share of secreting alveoli: storage capacity, breast tissue volume and 24-h
production fall together as the infant asks for less (Kent et al. 1999, Exp Physiol
84:435-447), and the ducts themselves hold almost nothing (about nine main ducts of ~2 mm
near the nipple that carry milk rather than store it: Ramsay et al. 2005, J Anat
206:525-534). The secretory share ``s`` is the day's breast-milk share, at least
``milk_pool_min_share`` (the ductal lumen of a breast that secretes next to nothing). The
ductal pool holds ``milk_pool_volume_ml x s`` plus the residual milk, and the inflows into
milk across the secreting epithelium (stroma through the lactocyte junctions, the maternal
gut and mouth by immune cells) scale with ``s`` too (see routes). A breast giving a few tens
of mL a day is thus a small gland with a small pool, turned over as fast as a fully
lactating one, instead of a full-sized pool fed full-sized inflows and barely drained, in
which bacteria stand and grow for months.

Stasis also lengthens the time milk bacteria spend in the warm pool: it multiplies their
growth in the ``milk`` site today. Yesterday's inflammation feeds invasive pathobionts in
milk and stroma (serum through strained junctions, lysed cells) and the biofilm formers of
narrowed, inflamed ducts: growth times
``1 + inflammation × (g_p × pathogenic_potential + g_b × ductal_biofilm)``. The share of a
taxon's milk cells attached in a ductal biofilm (:mod:`lactobiome.model.biofilm`) grows at
``biofilm_growth_share`` of the milk-borne rate: growth times ``1 - f (1 - biofilm_growth_share)``.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.biofilm import NEEDS_ATTRIBUTES, attached_share
from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.leucocytes import recruited_per_ml
from lactobiome.model.sites import SITE_INDEX
from lactobiome.model.state import DyadState


def _decay(day: int, tau: float) -> float:
    """exp(-(day - 1) / tau): 1 on day 1."""
    return float(np.exp(-(day - 1) / tau))


def secretory_activation_delay(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Days by which each dyad's secretory activation (lactogenesis II) follows the vaginal course, (dyad,).

    A caesarean birth delays the onset of copious milk secretion (``caesarean_lactogenesis_delay_days``);
    after a vaginal birth the delay is 0.
    """
    caesarean = np.asarray(state.attributes["delivery_mode"]) == "caesarean"
    return np.where(caesarean, ctx.p("caesarean_lactogenesis_delay_days", "day"), 0.0)


def _decay_since(day: int, delay: np.ndarray, tau: float) -> np.ndarray:
    """exp(-(day - 1 - delay) / tau), held at 1 until the delayed clock starts, (dyad,)."""
    return np.exp(-np.maximum(day - 1.0 - delay, 0.0) / tau)


def removal_efficiency(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Share of the available milk removed today, shape (dyad,)."""
    a = state.attributes
    day = state.day
    early = day <= ctx.p("latch_learning_days", "day")
    direct = a["direct_breastfeeding_share"]
    efficiency = np.full(state.n_dyads, ctx.p("milk_removal_efficiency", "fraction"))
    # an inexperienced latch (the first weeks) and painful damaged nipples (until they heal)
    # shorten feeds at the breast
    latch = ctx.p("first_time_latch_penalty", "fraction") * a["first_time_mother"] * early
    sore = a["nipple_damage"] & (day <= a["nipple_healing_day"])
    pain = ctx.p("nipple_damage_feed_penalty", "fraction") * sore
    # after a caesarean the wound's pain and the limited positions shorten feeds while she recovers
    caesarean = np.asarray(a["delivery_mode"]) == "caesarean"
    wound = ctx.p("caesarean_feed_penalty", "fraction") * (
        caesarean & (day <= ctx.p("caesarean_recovery_days", "day")))
    efficiency *= 1.0 - direct * np.clip(latch + pain + wound, 0.0, 1.0)
    efficiency *= 1.0 - ctx.p("tight_bra_drainage_penalty", "fraction") * a["tight_bra"]
    # ductal scarring from mastitis in an earlier lactation, or earlier in this one (recurrence)
    scarred = np.maximum(a["previous_mastitis"], state.host["mastitis_this_lactation"])
    efficiency *= 1.0 - ctx.p("previous_mastitis_drainage_penalty", "fraction") * scarred
    # a biofilm on the duct wall narrows the lumen (yesterday's wall cells per mL of pool)
    wall = state.host["ductal_biofilm_per_ml"]
    narrowing = wall / (wall + ctx.p("biofilm_narrowing_half_per_ml", "cells/mL"))
    efficiency *= 1.0 - ctx.p("biofilm_narrowing_drainage_penalty", "fraction") * narrowing
    # once the infant sleeps through the night, one long interval a day goes unemptied
    night = day >= a["sleeps_through_day"]
    efficiency *= 1.0 - ctx.p("night_sleep_drainage_penalty", "fraction") * night
    missed = ctx.rng.uniform(day, stream_id("lactation.missed_feeds"), ()) < ctx.p(
        "missed_feeds_day_probability", "probability")
    efficiency *= np.where(missed, 1.0 - ctx.p("missed_feeds_drainage_penalty", "fraction"), 1.0)
    # frequent emptying (a treatment policy; yesterday's courses, 0 = none) raises removal
    emptying = state.host["treatment_emptying_until"] >= day
    if emptying.any():
        boost = ctx.p("frequent_emptying_residual_reduction", "fraction")
        efficiency = np.where(emptying, 1.0 - (1.0 - efficiency) * (1.0 - boost), efficiency)
    return efficiency


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    day = state.day
    a = state.attributes
    host = state.host

    # --- volume, production and residual milk
    mature = ctx.p("milk_intake_mature_ml_per_day", "mL/day")
    day1 = ctx.p("milk_intake_day1_ml_per_day", "mL/day")
    # lactogenesis brings intake up within days; it then keeps rising slowly over months 1-6
    deficit = ctx.p("milk_intake_early_deficit_ml_per_day", "mL/day")
    # the early course runs on the clock of secretory activation, later after a caesarean
    delay = secretory_activation_delay(state, ctx)
    demand = (mature - deficit * _decay(day, ctx.p("milk_intake_rise_time_days", "day"))
              - (mature - deficit - day1) * _decay_since(day, delay, ctx.p("lactogenesis_time_days", "day")))
    supply = a["milk_supply_factor"]
    # a feeding plan may change the share over time (feeding_plan); else the month-1 share
    intake = demand * supply * host["breast_milk_share_today"]
    # complementary foods displace part of the milk the infant asks for
    displaced = 1.0 - ctx.p("solids_milk_displacement", "fraction") * host["solids_fraction"]
    intake = intake * displaced
    # formula makes up the rest of the demand (given to the infant's demand, not the mother's supply)
    host["formula_volume_ml"] = demand * (1.0 - host["breast_milk_share_today"]) * displaced
    overshoot = 1.0 + ctx.p("early_supply_overshoot", "1") * _decay_since(
        day, delay, ctx.p("supply_calibration_time_days", "day"))
    production = intake * overshoot * (1.0 + ctx.p("oversupply_excess", "1") * a["oversupply"])
    efficiency = removal_efficiency(state, ctx)
    previous = host["residual_milk_ml"]
    capacity = ctx.p("breast_storage_capacity_ml", "mL")
    # autocrine control: a breast left full slows its own synthesis (feedback inhibitor of
    # lactation), a control that matures over the first weeks (endocrine at first)
    maturity = 1.0 - _decay_since(day, delay, ctx.p("autocrine_control_maturation_days", "day"))
    fullness = (previous + production) * (1.0 - efficiency) / capacity
    production = production / (1.0 + ctx.p("autocrine_control_gain", "1") * maturity * fullness)
    residual = (previous + production) * (1.0 - efficiency)
    stasis = residual / capacity
    host["milk_volume_ml"] = intake
    host["milk_production_ml"] = production
    host["residual_milk_ml"] = residual
    host["stasis"] = stasis
    feeds = a["feeds_factor"]
    host["feeds_per_day"] = ctx.p("feeds_per_day", "feeds/day") * feeds
    # a breast from which the infant takes a share of its milk keeps that share of secreting
    # alveoli (Kent 1999), down to the near-empty ducts: pool and inflows into milk follow it
    secretory = np.maximum(host["breast_milk_share_today"],
                           ctx.p("milk_pool_min_share", "fraction"))
    host["secretory_tissue_share"] = secretory
    host["milk_pool_ml"] = ctx.p("milk_pool_volume_ml", "mL") * secretory + residual

    # --- composition
    secretor = np.where(a["secretor"], 1.0, ctx.p("milk_hmo_nonsecretor_factor", "fraction"))
    hmo_late = ctx.p("milk_hmo_late_g_per_l", "g/L")
    hmo = hmo_late + (ctx.p("milk_hmo_colostrum_g_per_l", "g/L") - hmo_late) * _decay(
        day, ctx.p("milk_hmo_decline_time_days", "day"))
    host["hmo_g_per_l"] = hmo * secretor * a["milk_hmo_factor"]
    siga = (ctx.p("milk_siga_mature_g_per_l", "g/L")
            + ctx.p("milk_siga_transitional_excess_g_per_l", "g/L") * _decay(day, ctx.p("milk_siga_slow_decline_time_days", "day"))
            + ctx.p("milk_siga_colostral_excess_g_per_l", "g/L") * _decay(day, ctx.p("milk_siga_decline_time_days", "day")))
    host["siga_g_per_l"] = siga * a["milk_siga_factor"]

    # --- tight junctions: closing after birth, strained open by stasis and inflammation
    closed = ctx.p("tight_junction_permeability_closed", "fraction")
    # two phases: most of the colostral opening closes within ~72 h, a small share over the
    # next one to two weeks (milk Na keeps falling from the end of week 1 to day 10)
    slow = ctx.p("tight_junction_slow_share", "fraction")
    opening = closed + (1.0 - closed) * (
        (1.0 - slow) * _decay(day, ctx.p("tight_junction_closure_time_days", "day"))
        + slow * _decay(day, ctx.p("tight_junction_slow_closure_time_days", "day")))
    strain = (ctx.p("junction_strain_per_stasis", "1")
              * np.maximum(stasis - ctx.p("stasis_strain_threshold", "1"), 0.0)
              # neutrophils crossing the epithelium open the paracellular path: the leak of an
              # inflamed gland follows yesterday's leucocyte influx, not inflammation itself
              + ctx.p("junction_strain_per_leucocyte_influx", "1")
              * recruited_per_ml(host["inflammation"], ctx) / ctx.p("leucocyte_clearance_reference_per_ml", "cells/mL"))
    permeability = np.minimum(opening + (1.0 - opening) * (1.0 - np.exp(-strain)), 1.0)
    host["tight_junction_permeability"] = permeability
    # the strained part is pushed open by a distended lumen (milk back into the tissue); the
    # colostral opening and the residual leak carry interstitial fluid into milk (Na, proteins)
    host["junction_strain_opening"] = permeability - opening
    nak_mature = ctx.p("na_k_closed", "1") * a["na_k_factor"]
    host["na_k_ratio"] = nak_mature + ctx.p("na_k_open_excess", "1") * permeability

    # --- milk held in the pool longer grows more (stasis); inflamed tissue and milk (serum
    # leaking through open junctions, lysed cells) feed invasive pathobionts in proportion to
    # their pathogenic potential, and biofilm formers thrive in narrowed, inflamed ducts
    # (yesterday's inflammation)
    state.growth_modifier[:, SITE_INDEX["milk"], :] *= (
        1.0 + ctx.p("stasis_milk_growth_gain", "1") * stasis)[:, None]
    inflammation = host["inflammation"][:, None]
    boost = 1.0 + inflammation * (ctx.p("inflammation_pathobiont_growth_gain", "1") * ctx.taxa["pathogenic_potential"]
                                  + ctx.p("inflammation_biofilm_growth_gain", "1") * ctx.taxa["ductal_biofilm"])[None, :]
    for site in ("milk", "breast_stroma"):
        state.growth_modifier[:, SITE_INDEX[site], :] *= boost
    # cells attached in a ductal biofilm escape the washout but grow slowly in their matrix
    attached = attached_share(state, ctx)
    state.growth_modifier[:, SITE_INDEX["milk"], :] *= 1.0 - attached * (1.0 - ctx.p("biofilm_growth_share", "fraction"))
    return state


PROCESS = Process(
    "lactation", step,
    reads={"breast_milk_share_today", "solids_fraction"},
    # yesterday's: inflammation (mammary_immunity), scarring and courses (mastitis), own residual
    reads_previous={"inflammation", "mastitis_this_lactation", "treatment_emptying_until", "residual_milk_ml",
                    "ductal_biofilm_per_ml"},
    writes={"milk_volume_ml", "formula_volume_ml", "milk_production_ml", "residual_milk_ml", "stasis", "feeds_per_day",
            "milk_pool_ml", "secretory_tissue_share", "hmo_g_per_l", "siga_g_per_l", "tight_junction_permeability", "junction_strain_opening",
            "na_k_ratio"},
    attributes={"delivery_mode", "direct_breastfeeding_share", "first_time_mother", "nipple_damage", "nipple_healing_day", "tight_bra",
                "previous_mastitis", "sleeps_through_day", "oversupply", "secretor", "milk_supply_factor",
                "feeds_factor", "milk_hmo_factor", "milk_siga_factor", "na_k_factor", *NEEDS_ATTRIBUTES},
    modifies_growth=True,
)
