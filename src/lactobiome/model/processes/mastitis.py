"""The mastitis spectrum (Mitchell et al. 2022, ABM protocol #36) and treatment policies.

Each dyad is in one state per day. The state is set from today's host and microbial state
after the immune response, with hysteresis and durations (thresholds in the parameter
table). Rules, from the most severe down; the first that holds wins:

``abscess``
    entered from ``phlegmon`` after ``abscess_after_days`` of phlegmon while inflamed;
    kept at least ``abscess_min_days`` (drainage and healing), then while inflamed.
``phlegmon``
    entered from ``bacterial_mastitis`` after ``phlegmon_after_days`` of it while
    inflammation is at or above ``phlegmon_inflammation_threshold``; kept while inflamed.
``bacterial_mastitis``
    inflamed and the pathobiont load of milk at or above ``bacterial_mastitis_load_per_ml``
    (or already bacterial, phlegmon or abscess and still inflamed).
``inflammatory_mastitis``
    inflamed: inflammation at or above ``mastitis_inflammation_threshold``, or in an
    inflammatory state yesterday and still at or above ``mastitis_resolution_threshold``.
``subacute_mastitis``
    not inflamed, but dysbiotic milk for at least ``subacute_min_days`` consecutive days:
    the biofilm formers of the ducts (coagulase-negative staphylococci above all) have
    overgrown, their load in milk (cells per mL weighted by each taxon's ``ductal_biofilm``)
    at or above ``dysbiosis_load_per_ml``. This is the spectrum's dysbiosis: a biofilm that
    narrows the ducts without the acute inflammation of a mastitis episode (Mitchell et al.
    2022; Jiménez et al. PLoS One 2017;12:e0181071 on coagulase-negative staphylococci and
    mitis/salivarius streptococci in subacute mastitis). It arises where the mother carries a
    biofilm-forming strain: its cells on the duct wall escape the milk's washout and, in their
    matrix, the immune stimulus (:func:`lactobiome.model.biofilm.attached_share`),
    so they grow past the load the inflows alone keep; the wall biofilm
    (``ductal_biofilm_per_ml``) narrows the ducts and lowers milk removal (lactation).
``ductal_narrowing``
    none of the above, and the stasis index at or above ``ductal_narrowing_stasis``.
``none``
    otherwise; every state returns here when its entry rule stops holding.

A treatment policy (scenario ``treatment``) starts, for a covered dyad that has been in a
trigger state for ``diagnosis_delay_days``, an antibiotic course, a probiotic course and/or
frequent emptying; a dyad already under treatment is not started again until it ends.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.biofilm import attached_share
from lactobiome.model.context import SimulationContext, stream_id
from lactobiome.model.contract import Process
from lactobiome.model.scenario import Scenario
from lactobiome.model.sites import SITE_INDEX
from lactobiome.model.spectrum import BACTERIAL as _BACTERIAL
from lactobiome.model.spectrum import INFLAMED as _INFLAMED
from lactobiome.model.spectrum import (  # noqa: F401 (re-exported for existing callers)
    MASTITIS_STATES,
    SEVERITY,
    STATE_CODE,
    TREATMENTS,
    episodes,
)
from lactobiome.model.state import DyadState
from lactobiome.model.transfer import immigrate


def classify(state: DyadState, ctx: SimulationContext) -> np.ndarray:
    """Today's state code per dyad from the rules above (updates the duration counters)."""
    host = state.host
    previous = host["mastitis_state"].astype(np.int64)
    days = host["mastitis_state_days"]
    inflammation = host["inflammation"]
    load = host["pathobiont_per_ml"]
    milk_cells = state.cells_in(SITE_INDEX["milk"])
    biofilm = (milk_cells * ctx.taxa["ductal_biofilm"]).sum(axis=1) / host["milk_pool_ml"]
    # the biofilm on the duct wall (cells per mL of pool): it narrows the ducts from tomorrow
    host["ductal_biofilm_per_ml"] = (milk_cells * attached_share(state, ctx)).sum(axis=1) / host["milk_pool_ml"]

    inflamed = (inflammation >= ctx.p("mastitis_inflammation_threshold", "1")) | (
        _INFLAMED[previous] & (inflammation >= ctx.p("mastitis_resolution_threshold", "1")))
    bacterial = inflamed & ((load >= ctx.p("bacterial_mastitis_load_per_ml", "cells/mL")) | _BACTERIAL[previous])
    was = {name: previous == STATE_CODE[name] for name in ("bacterial_mastitis", "phlegmon", "abscess")}
    phlegmon = bacterial & (
        (was["bacterial_mastitis"] & (days >= ctx.p("phlegmon_after_days", "day"))
         & (inflammation >= ctx.p("phlegmon_inflammation_threshold", "1")))
        | was["phlegmon"])
    abscess = (was["phlegmon"] & (days >= ctx.p("abscess_after_days", "day")) & inflamed) | (
        was["abscess"] & ((days < ctx.p("abscess_min_days", "day")) | inflamed))
    # overgrown ductal biofilm formers, whatever the rest of the milk holds; a mother who does
    # not lactate has no mastitis of any kind
    dysbiotic = (biofilm >= ctx.p("dysbiosis_load_per_ml", "cells/mL")) & (host["milk_production_ml"] > 0.0)
    dysbiosis_days = np.where(dysbiotic, host["dysbiosis_days"] + 1.0, 0.0)
    subacute = dysbiosis_days >= ctx.p("subacute_min_days", "day")
    narrowing = host["stasis"] >= ctx.p("ductal_narrowing_stasis", "1")

    code = np.select(
        [abscess, phlegmon, bacterial, inflamed, subacute, narrowing],
        [STATE_CODE[s] for s in ("abscess", "phlegmon", "bacterial_mastitis", "inflammatory_mastitis",
                                 "subacute_mastitis", "ductal_narrowing")],
        default=STATE_CODE["none"],
    )
    host["mastitis_state_days"] = np.where(code == previous, days + 1.0, 1.0)
    host["dysbiosis_days"] = dysbiosis_days
    return code


def _start_treatment(state: DyadState, ctx: SimulationContext, code: np.ndarray) -> None:
    host = state.host
    day = state.day
    policy = ctx.scenario.treatment
    if policy is not None:
        triggers = np.isin(code, [STATE_CODE[s] for s in policy.trigger_states])
        covered = state.attributes["treatment_covered"]
        busy = np.maximum.reduce([host["treatment_antibiotic_until"], host["treatment_probiotic_until"],
                                  host["treatment_emptying_until"]]) >= day
        start = triggers & covered & ~busy & (host["mastitis_state_days"] >= policy.diagnosis_delay_days)
        # courses run from tomorrow for their length
        if policy.antibiotic is not None:
            host["treatment_antibiotic_until"] = np.where(start, day + policy.antibiotic.days,
                                                          host["treatment_antibiotic_until"])
        if policy.probiotic is not None:
            host["treatment_probiotic_until"] = np.where(start, day + policy.probiotic.days,
                                                         host["treatment_probiotic_until"])
        if policy.frequent_emptying_days > 0:
            host["treatment_emptying_until"] = np.where(start, day + policy.frequent_emptying_days,
                                                        host["treatment_emptying_until"])
    active = [host[k] >= day for k in ("treatment_antibiotic_until", "treatment_probiotic_until",
                                      "treatment_emptying_until")]
    bits = np.zeros(state.n_dyads, dtype=np.int64)
    for i, bit in enumerate(active):
        bits |= bit.astype(np.int64) << i
    host["treatment"] = bits.astype(np.float64)


def step(state: DyadState, ctx: SimulationContext) -> DyadState:
    code = classify(state, ctx)
    state.host["mastitis_state"] = code.astype(np.float64)
    # an inflammatory episode leaves scarred ducts that drain less well from tomorrow (lactation)
    state.host["mastitis_this_lactation"] = np.maximum(
        state.host["mastitis_this_lactation"], _INFLAMED[code].astype(np.float64))
    _start_treatment(state, ctx, code)
    return state


def dose_probiotic(state: DyadState, ctx: SimulationContext) -> DyadState:
    """Give the policy's probiotic to dyads under probiotic treatment (maternal oral route)."""
    policy = ctx.scenario.treatment
    if policy is None or policy.probiotic is None:
        return state
    dosed = state.host["treatment_probiotic_until"] >= state.day
    if not dosed.any():
        return state
    expected = np.zeros((state.n_dyads, len(ctx.taxa)))
    expected[dosed, ctx.taxa.index(policy.probiotic.strain)] = (
        policy.probiotic.cfu_per_day * ctx.p("probiotic_gastric_survival", "fraction"))
    immigrate(state, "maternal_gut", "probiotic", expected, ctx.rng, stream_id("mastitis.probiotic_treatment"))
    return state


def _treatment(scenario: Scenario) -> set[str]:
    return {"treatment_covered"} if scenario.treatment is not None else set()


_TREATMENT_UNTIL = {"treatment_antibiotic_until", "treatment_probiotic_until", "treatment_emptying_until"}

PROCESS = Process(
    "mastitis", step,
    reads={"inflammation", "milk_pool_ml", "milk_production_ml", "milk_volume_ml", "pathobiont_per_ml", "stasis"},
    reads_previous={"mastitis_state", "mastitis_state_days", "dysbiosis_days", "mastitis_this_lactation",
                    *_TREATMENT_UNTIL},
    writes={"mastitis_state", "mastitis_state_days", "dysbiosis_days", "mastitis_this_lactation", "treatment",
            "ductal_biofilm_per_ml", *_TREATMENT_UNTIL},
    attributes={"biofilm_strain"},
    scenario_attributes=_treatment,
)
TREATMENT_PROBIOTIC = Process("treatment_probiotic", dose_probiotic, reads_previous={"treatment_probiotic_until"})
