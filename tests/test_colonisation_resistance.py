"""Colonisation resistance and the intrapartum-antibiotic risk factor (common random numbers)."""

from __future__ import annotations

import numpy as np

from lactobiome.model.engine import run_chunk
from lactobiome.model.processes import colonisation_resistance
from lactobiome.model.sites import SITE_INDEX
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare

IAP_ON = {"intrapartum_antibiotics_vaginal": 1.0, "intrapartum_antibiotics_caesarean": 1.0}
IAP_OFF = {"intrapartum_antibiotics_vaginal": 0.0, "intrapartum_antibiotics_caesarean": 0.0}


def _stroma_aureus(population: dict, parameters: dict | None = None, dyads: int = 80, days: int = 10) -> float:
    overrides = {"cohort": {"dyads": dyads, "days": days, "seed": 5}, "population": population}
    if parameters:
        overrides["parameters"] = parameters
    scenario = load_scenario("default", overrides)
    params, taxa = prepare(scenario)
    result = run_chunk(scenario, params, taxa, np.arange(dyads))
    aureus = taxa.index("staphylococcus_aureus")
    return float(result.abundance[:, -1, SITE_INDEX["breast_stroma"], aureus].sum())


def test_protective_weights_follow_the_rule():
    scenario = load_scenario("default", {"cohort": {"dyads": 2, "days": 1}})
    params, taxa = prepare(scenario)
    cutoff = params.value("colonisation_resistance_pathogenic_cutoff", "1")
    weight, susceptibility = colonisation_resistance.weights(taxa, cutoff)
    assert weight[taxa.index("lactobacillus_gasseri")] == 1.0
    assert weight[taxa.index("staphylococcus_aureus")] == 0.0
    assert susceptibility[taxa.index("staphylococcus_aureus")] > susceptibility[taxa.index("staphylococcus_epidermidis")]
    assert susceptibility[taxa.index("lactobacillus_gasseri")] == 0.0
    # over the whole catalogue: only commensals and probiotics protect, and less the more
    # pathogenic they are; a protector is never itself inhibited at full weight
    kind = np.asarray(taxa["kind"]).astype(str)
    pp = taxa["pathogenic_potential"]
    assert ((weight >= 0) & (weight <= 1)).all() and (susceptibility >= 0).all()
    assert (weight[~np.isin(kind, ("commensal", "probiotic"))] == 0).all()
    assert (susceptibility[weight == 1.0] == 0).all()
    protectors = np.flatnonzero(np.isin(kind, ("commensal", "probiotic")))
    order = protectors[np.argsort(pp[protectors], kind="stable")]
    assert (np.diff(weight[order]) <= 0).all()
    assert (weight > 0).sum() >= 5 and (susceptibility > 0).sum() >= 3
    # a stricter cutoff (smaller) never makes a taxon more protective
    stricter, _ = colonisation_resistance.weights(taxa, cutoff / 2)
    assert (stricter <= weight).all() and (stricter < weight).any()


def test_protective_commensals_hold_staphylococcus_aureus_back():
    with_resistance = _stroma_aureus(IAP_OFF)
    without = _stroma_aureus(IAP_OFF, {"colonisation_resistance_max_per_day": 0.0})
    assert without > 1.2 * with_resistance


def test_intrapartum_antibiotics_deplete_protectors_and_staphylococcus_aureus_gains():
    gain = _stroma_aureus(IAP_ON) / _stroma_aureus(IAP_OFF)
    assert gain > 1.1
    # most of the gain goes through colonisation resistance (freed space alone gives less)
    off = {"colonisation_resistance_max_per_day": 0.0}
    assert gain > _stroma_aureus(IAP_ON, off) / _stroma_aureus(IAP_OFF, off)
