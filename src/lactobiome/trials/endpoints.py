"""Each woman's endpoints, measured as the trial measured them, with the model's truth beside.

Every function here reads one simulated group of women who share an enrolment day (days of
life are ``enrolment_day + r`` for a day ``r`` after enrolment) and returns per-woman columns:
the measured value under ``<endpoint>`` and the truth under ``<endpoint>_truth``.

* **culture** — milk plated on standard media: the live cells of each culturable taxon
  (all of them, or the staphylococci) form colonies with the culture recovery of the
  parameter table, and the colonies on the plated volume are Poisson, read at one colony in
  that volume when none grows (the culture model of :mod:`lactobiome.observation.models`,
  as :func:`lactobiome.validation.assays.culture_reading` uses it). Unlike that reading, a
  trial plates the milk of women *with* mastitis, so no day is set aside for its state. The
  colony draws are counter-based, keyed by (seed, dyad id, day), so the same woman's plate in
  two arms differs only through her milk. Truth: log10 of the live cells/mL of the same taxa.
* **clinical mastitis** — episodes (:func:`lactobiome.model.spectrum.episodes`) counted by
  the trial's case definition: ``any_episode`` (every inflamed episode: the truth),
  ``two_local_signs_fever`` (an inflamed breast — the model's inflamed states stand for the
  local signs of pain, redness, swelling and heat — with fever on one of the episode's days,
  the trials' "two local signs plus fever or flu-like symptoms"), or ``provider_diagnosed``
  (the episodes a woman took to a provider, :func:`lactobiome.validation.measures.risk.consulted`'s
  rule, as ``foxman2002/provider_diagnosed``). Measures: the share of women with an onset in
  the window, the onsets per 1,000 breastfeeding woman-weeks, or a recurrence (a second
  counted episode, the enrolment episode counting as the first for women enrolled at
  diagnosis). Truth: the same measure over every inflamed episode.
* **recovery** — days from enrolment to the first day out of an inflamed state (censored at
  the end of follow-up), or whether that came by a day; the model's state is both measure
  and truth (a woman's report of resolved signs is read as the state).
* **atopic dermatitis** — the outcome model :func:`lactobiome.outcomes.atopic_dermatitis`:
  measured = the drawn diagnosis by the age, truth = its probability.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
import xarray as xr

from lactobiome.errors import InputError
from lactobiome.model.context import stream_id
from lactobiome.model.random import RandomStreams
from lactobiome.model.spectrum import INFLAMED, episodes
from lactobiome.trials.definition import (
    CultureEndpoint,
    DiagnosisEnrolment,
    EczemaEndpoint,
    Endpoint,
    MastitisEndpoint,
    RecoveryEndpoint,
    TrialDefinition,
)
from lactobiome.validation.measures import _common as c

CULTURE_STREAM = stream_id("trial.culture")
"""Random stream of the trial's colony draws (apart from every model process's)."""

DAYS_PER_WEEK = 7.0
"""Days in a week, for rates per woman-week."""

PER_WOMAN_WEEKS = 1000.0
"""Incidence rates are reported per this many breastfeeding woman-weeks (as the pooled
incidence of 11 per 1,000 breastfeeding weeks is)."""


def horizon_days(trial: TrialDefinition, enrolment_day: int) -> int:
    """Last day of life a group enrolled on ``enrolment_day`` is simulated to (at least day 1)."""
    last = enrolment_day + trial.follow_up_days
    for endpoint in trial.endpoints:
        if isinstance(endpoint, CultureEndpoint):
            last = max(last, enrolment_day + endpoint.day)
        if isinstance(endpoint, EczemaEndpoint):
            last = max(last, eczema_days())
    return max(1, last)


def eczema_days() -> int:
    """Days of life the eczema outcome model needs simulated (its documented minimum)."""
    outcomes = _outcomes()
    return ECZEMA_MIN_DAYS if outcomes is None else int(getattr(outcomes, "MIN_DAYS", ECZEMA_MIN_DAYS))


def _outcomes() -> ModuleType | None:
    """The outcome models (:mod:`lactobiome.outcomes`, issue 16 part B), or None before they exist."""
    try:
        return importlib.import_module("lactobiome.outcomes")
    except ModuleNotFoundError as exc:
        if exc.name != "lactobiome.outcomes":
            raise
        return None


ECZEMA_MIN_DAYS = 182
"""Days of life simulated for the eczema model when it does not state its need
(:data:`lactobiome.outcomes.MIN_DAYS`): six months of early-life state, the issue's assumption."""


def recorded_days(trial: TrialDefinition, enrolment_day: int) -> list[int]:
    """Days of life whose abundance the endpoints read (culture days, the eczema model's day)."""
    days = {enrolment_day + e.day for e in trial.endpoints if isinstance(e, CultureEndpoint)}
    outcomes = _outcomes()
    if outcomes is not None and any(isinstance(e, EczemaEndpoint) for e in trial.endpoints):
        days.add(int(outcomes.SAMPLE_DAY))
    return sorted(days)


def _day_columns(ds: xr.Dataset, first: int, last: int) -> np.ndarray:
    """Mask over the daily panel's days for days of life ``first..last`` (postpartum days only)."""
    simulated = c.days(ds)
    return (simulated >= max(first, 1)) & (simulated <= last)


def culture(ds: xr.Dataset, endpoint: CultureEndpoint, enrolment_day: int, seed: int) -> dict[str, np.ndarray]:
    """log10 CFU/mL by plate culture on ``enrolment_day + endpoint.day``, and the true log10 cells/mL."""
    from lactobiome.model.taxa import load_taxa
    from lactobiome.validation.assays import assay_parameter

    day = enrolment_day + endpoint.day
    recorded = [int(d) for d in ds["sample_day"].values]
    if day < 1 or day not in recorded:
        raise InputError(f"endpoint {endpoint.name}: day {endpoint.day} after enrolment is day of life {day}, "
                         "which has no milk recorded (milk is plated from day 1 after birth)")
    catalogue = load_taxa()
    taxa = [str(t) for t in ds["taxon"].values]
    rows = [catalogue.index(t) for t in taxa]
    culturable = np.asarray(catalogue["culturable"], dtype=bool)[rows]
    chosen = np.ones(len(taxa), dtype=bool)
    if endpoint.bacteria == "staphylococci":
        chosen = np.asarray(ds["genus"].values).astype(str) == "Staphylococcus"
    milk = ds["abundance"].sel(site="milk", sample_day=day).sum("origin").transpose("dyad", "taxon")
    cells = np.asarray(milk.values, dtype=np.float64)
    total = cells.sum(axis=1, keepdims=True)
    column = int(np.flatnonzero(c.days(ds) == day)[0])
    per_ml = c.panel(ds, "milk_bacteria_per_ml")[:, column : column + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        by_taxon = np.where(total > 0, cells / np.where(total > 0, total, 1.0), 0.0) * per_ml
    plated = assay_parameter(ds, "obs_culture_plated_ml", "mL")
    recovery = assay_parameter(ds, "obs_culture_recovery", "fraction")
    mean = np.where(culturable & chosen, by_taxon * recovery * plated, 0.0)
    colonies = RandomStreams(seed, np.asarray(ds["dyad"].values)).poisson(day, CULTURE_STREAM, mean)
    read = np.log10(np.maximum(colonies.sum(axis=1) / plated, 1.0 / plated))  # no colony: the detection limit
    truth = c.log10((by_taxon * chosen).sum(axis=1))
    return {endpoint.name: read, f"{endpoint.name}_truth": truth}


def counted_onsets(ds: xr.Dataset, definition: str) -> tuple[np.ndarray, np.ndarray]:
    """Episode onsets counted by a case definition.

    Returns
    -------
    tuple of numpy.ndarray
        ``(dyad_index, onset_day)`` of the counted episodes (day of life of the onset).
    """
    codes = c.mastitis_codes(ds)
    simulated = c.days(ds)
    postpartum = simulated >= 1
    codes = codes[:, postpartum]
    first_day = int(simulated[postpartum][0]) if postpartum.any() else 1
    ep = episodes(codes)
    rows, onset = ep["dyad_index"], ep["onset_day"] + first_day - 1
    if definition == "any_episode":
        return rows, onset
    if definition == "two_local_signs_fever":
        fever = np.zeros((codes.shape[0], codes.shape[1] + 1))
        fever[:, 1:] = np.cumsum(c.panel(ds, "fever")[:, postpartum] > 0, axis=1)
        start = ep["onset_day"] - 1
        febrile = fever[rows, start + ep["duration_days"]] > fever[rows, start]
        return rows[febrile], onset[febrile]
    if definition == "provider_diagnosed":
        from lactobiome.validation.measures.risk import _visits

        last = int(simulated.max())
        found, in_window, taken, _ = _visits(ds.sel(day=simulated[postpartum]), last)
        return found["dyad_index"][taken], found["onset_day"][taken] + first_day - 1
    raise ValueError(definition)


def _mastitis_values(ds: xr.Dataset, endpoint: MastitisEndpoint, definition: str, first: int, last: int,
                     at_diagnosis: bool) -> tuple[np.ndarray, np.ndarray]:
    """(value, woman-weeks) per dyad of one case definition in days of life ``first..last``."""
    n = ds.sizes["dyad"]
    rows, onset = counted_onsets(ds, definition)
    inside = (onset >= first) & (onset <= last)
    counts = np.bincount(rows[inside], minlength=n).astype(np.float64)
    columns = _day_columns(ds, first, last)
    breastfeeding = c.panel(ds, "breast_milk_share_today")[:, columns] > 0
    weeks = breastfeeding.sum(axis=1) / DAYS_PER_WEEK
    if endpoint.measure == "cumulative_incidence":
        return (counts > 0).astype(np.float64), weeks
    if endpoint.measure == "recurrence":
        return (counts + (1.0 if at_diagnosis else 0.0) >= 2).astype(np.float64), weeks
    return counts, weeks


def mastitis(ds: xr.Dataset, endpoint: MastitisEndpoint, trial: TrialDefinition,
             enrolment_day: int) -> dict[str, np.ndarray]:
    """Clinical mastitis per woman by the trial's case definition, and the truth (every episode)."""
    window = endpoint.window or (1, trial.follow_up_days)
    first, last = enrolment_day + window[0], enrolment_day + window[1]
    at_diagnosis = isinstance(trial.enrolment, DiagnosisEnrolment)
    value, weeks = _mastitis_values(ds, endpoint, endpoint.case_definition, first, last, at_diagnosis)
    truth, _ = _mastitis_values(ds, endpoint, "any_episode", first, last, at_diagnosis)
    out = {endpoint.name: value, f"{endpoint.name}_truth": truth}
    if endpoint.measure == "incidence_rate":
        out[f"{endpoint.name}_woman_weeks"] = weeks
    return out


def recovery(ds: xr.Dataset, endpoint: RecoveryEndpoint, trial: TrialDefinition,
             enrolment_day: int) -> dict[str, np.ndarray]:
    """Days from enrolment to the first day out of an inflamed state (censored at follow-up)."""
    last = enrolment_day + trial.follow_up_days
    columns = _day_columns(ds, enrolment_day + 1, last)
    inflamed = INFLAMED[c.mastitis_codes(ds)[:, columns]]
    out_of = ~inflamed
    days = np.where(out_of.any(axis=1), out_of.argmax(axis=1) + 1.0, float(trial.follow_up_days))
    value = days if endpoint.by_day is None else (days <= endpoint.by_day).astype(np.float64)
    return {endpoint.name: value, f"{endpoint.name}_truth": value.copy()}


def eczema(ds: xr.Dataset, endpoint: EczemaEndpoint) -> dict[str, np.ndarray]:
    """The infant's eczema by the age (drawn), and its probability (the truth)."""
    outcomes = _outcomes()
    if outcomes is None:
        raise InputError(f"endpoint {endpoint.name}: the eczema outcome model (lactobiome.outcomes) is not "
                         "in this version of the package")
    result = outcomes.atopic_dermatitis(ds, months=endpoint.months)
    return {endpoint.name: np.asarray(result["atopic_dermatitis"].values, dtype=np.float64),
            f"{endpoint.name}_truth": np.asarray(result["atopic_dermatitis_probability"].values, dtype=np.float64)}


def measure_endpoints(ds: xr.Dataset, trial: TrialDefinition, enrolment_day: int, seed: int) -> dict[str, np.ndarray]:
    """Every endpoint of ``trial`` for the women of one group (shared enrolment day)."""
    out: dict[str, np.ndarray] = {}
    for endpoint in trial.endpoints:
        out.update(_one(ds, endpoint, trial, enrolment_day, seed))
    return out


def _one(ds: xr.Dataset, endpoint: Endpoint, trial: TrialDefinition, enrolment_day: int,
         seed: int) -> dict[str, np.ndarray]:
    if isinstance(endpoint, CultureEndpoint):
        return culture(ds, endpoint, enrolment_day, seed)
    if isinstance(endpoint, MastitisEndpoint):
        return mastitis(ds, endpoint, trial, enrolment_day)
    if isinstance(endpoint, RecoveryEndpoint):
        return recovery(ds, endpoint, trial, enrolment_day)
    return eczema(ds, endpoint)
