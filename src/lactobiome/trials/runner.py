"""Running a trial: screening, enrolment, allocation and each woman under every arm.

**Common random numbers.** The model's random streams are keyed by (seed, dyad id, day,
process), so a woman (a dyad id) simulated under two arms gets the same draws wherever the
intervention changes nothing; before enrolment the arms are the same scenario, so every
variable is identical, and after it they differ only through what the intervention does.

**Screening and enrolment.** Women are taken in dyad-id order from a block of ids. Each is
drawn from the trial's population (the base scenario with its overrides); the eligibility
criteria read her attributes (a mastitis in an earlier lactation comes from her simulated
earlier lactation, :mod:`lactobiome.model.previous_lactation`). At a fixed-day enrolment
(birth, a day of pregnancy or after birth) every eligible woman is enrolled on that day. At
diagnosis the eligible women are simulated under the base scenario (the same for every arm
before enrolment) through the enrolment window, and a woman is enrolled on the day she has
been in a trigger state for the diagnosis delay; women never diagnosed are screened out. The
first women enrolled, as many as the arms need, make the trial; the run says how many were
screened.

**Per-woman enrolment day.** An intervention timed "from the day after diagnosis for three
weeks" falls on other days of life for each woman. The scenario schema holds one window per
intervention for the whole cohort, so the women are grouped by enrolment day and each group
runs its own scenario with the fixed window ``enrolment_day + start .. enrolment_day + stop``.
A dyad's result depends only on its id and the seed, not on the other dyads of its chunk, so
this is exact: it is the per-woman window itself, not an approximation. An arm's ``treatment``
policy (the scenario's machinery) acts on every episode of the follow-up.

**Allocation.** Each woman is allocated to one arm by a seeded draw keyed by her id, with
exactly the arm sizes of the design (the allocation ratio). The trial's analysis uses only
the allocated arm's outcome (a real trial's sampling variance); the paired analysis uses each
woman under every arm (``counterfactual=True``), which only a simulation can show.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from lactobiome.errors import InputError, ScenarioError
from lactobiome.model.context import stream_id
from lactobiome.model.parameters import ParameterTable
from lactobiome.model.random import RandomStreams
from lactobiome.model.scenario import Cohort, Scenario
from lactobiome.model.taxa import TaxaCatalogue
from lactobiome.trials.definition import (
    Arm,
    ArmProbiotic,
    BirthEnrolment,
    DayEnrolment,
    DiagnosisEnrolment,
    TrialDefinition,
)
from lactobiome.trials.endpoints import horizon_days, measure_endpoints, recorded_days

ALLOCATION_STREAM = stream_id("trial.allocation")
"""Random stream of the allocation draw (one uniform per woman, keyed by her id)."""

SCREENING_LIMIT_PER_WOMAN = 200
"""Most women screened per woman needed before the run stops and says the design enrols too few."""

SCREENING_MARGIN = 1.2
"""A screening batch holds this many times the women still needed over the yield so far, so that
most trials need one batch more than the first at most."""

MIN_SCREENING_BATCH = 100
"""Fewest women screened in one batch (a batch is one chunk of the model)."""

ID_BLOCK = 10_000_000
"""Dyad ids of one trial cohort: replicate ``r`` of a power curve screens ids from ``r * ID_BLOCK``,
so replicates never share a woman."""


@dataclass
class Screening:
    """The women the trial enrolled and how many were screened for them."""

    dyads: np.ndarray
    enrolment_day: np.ndarray
    screened: int
    eligible: int
    previous_mastitis: dict[int, bool] = field(default_factory=dict)
    dyad_days: int = 0
    """Dyad-days simulated to screen (earlier lactations, the enrolment window)."""


@dataclass
class TrialRun:
    """A simulated trial: one row per (woman, arm simulated) and how it was made."""

    trial: TrialDefinition
    women: pd.DataFrame
    screening: Screening
    pregnancy_days: int
    dyad_days: int
    wall_s: float
    cpu_s: float
    counterfactual: bool
    parameters_digest: str
    allocated: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.allocated = self.women[self.women["arm"] == self.women["allocated_arm"]].reset_index(drop=True)


def _enrolment_day(trial: TrialDefinition) -> int | None:
    """The fixed enrolment day (day of life), or None for enrolment at diagnosis."""
    if isinstance(trial.enrolment, BirthEnrolment):
        return 0
    if isinstance(trial.enrolment, DayEnrolment):
        return trial.enrolment.day
    return None


def pregnancy_days_needed(trial: TrialDefinition) -> int:
    """Days before birth every arm simulates: the most that any arm's intervention needs.

    Every arm gets the same number, so the arms share the prenatal days (and their draws).
    """
    enrol = _enrolment_day(trial)
    if enrol is None:
        enrol = trial.enrolment.window[0] if isinstance(trial.enrolment, DiagnosisEnrolment) else 0
    earliest = min((enrol + i.start for a in trial.arms for i in a.interventions), default=1)
    return max(0, 1 - earliest)


def check_trial(trial: TrialDefinition, taxa: TaxaCatalogue) -> None:
    """Refuse what validates as YAML but cannot run: an unknown strain, prenatal dosing the model lacks."""
    for a, arm in enumerate(trial.arms):
        for i, intervention in enumerate(arm.interventions):
            if isinstance(intervention, ArmProbiotic):
                try:
                    taxa.index(intervention.strain)
                except InputError as exc:
                    raise InputError(f"{trial.origin}: arms.{a}.interventions.{i}.strain: {exc}") from None
        if arm.treatment is not None and arm.treatment.probiotic is not None:
            try:
                taxa.index(arm.treatment.probiotic.strain)
            except InputError as exc:
                raise InputError(f"{trial.origin}: arms.{a}.treatment.probiotic.strain: {exc}") from None
    if pregnancy_days_needed(trial) > 0 and "pregnancy_days" not in Cohort.model_fields:
        raise InputError(f"{trial.origin}: arms: an intervention before birth needs the mother simulated in "
                         "pregnancy (cohort.pregnancy_days), which this version of the model lacks")
    if isinstance(trial.enrolment, DiagnosisEnrolment) and pregnancy_days_needed(trial) > 0:
        raise InputError(f"{trial.origin}: arms: an intervention before birth cannot follow a diagnosis after it")


def base_scenario(trial: TrialDefinition, seed: int, days: int, pregnancy_days: int) -> Scenario:
    """The trial population's scenario (no trial intervention), for ``days`` of life."""
    from lactobiome.scenarios import load_scenario

    cohort: dict[str, int] = {"seed": seed, "days": days}
    if pregnancy_days > 0:
        cohort["pregnancy_days"] = pregnancy_days
    overrides: dict[str, dict] = {"cohort": cohort}
    if trial.population.overrides:
        overrides["population"] = dict(trial.population.overrides)
    if trial.population.parameters:
        overrides["parameters"] = dict(trial.population.parameters)
    try:
        return load_scenario(trial.population.scenario, overrides)
    except ScenarioError as exc:
        raise InputError(f"{trial.origin}: population: {exc}") from None


def arm_scenario(trial: TrialDefinition, arm: Arm, base: Scenario, enrolment_day: int, days: int) -> Scenario:
    """The scenario of one arm for women enrolled on ``enrolment_day`` (fixed intervention windows)."""
    from lactobiome.scenarios import parse_scenario

    data = base.model_dump(mode="json")
    added = []
    for intervention in arm.interventions:
        window = {"start_day": enrolment_day + intervention.start, "stop_day": enrolment_day + intervention.stop,
                  "coverage": intervention.coverage}
        if isinstance(intervention, ArmProbiotic):
            added.append({"kind": "probiotic", "strain": intervention.strain, "route": intervention.route,
                          "cfu_per_day": intervention.cfu_per_day, **window})
        else:
            added.append({"kind": "antibiotic", "antibiotic_class": intervention.antibiotic_class,
                          "recipient": intervention.recipient, **window})
    data["interventions"] = [*data["interventions"], *added]
    if arm.treatment is not None:
        data["treatment"] = arm.treatment.model_dump(mode="json")
    data["cohort"] = {**data["cohort"], "days": days}
    data["sampling"] = {"days": sorted({*data["sampling"]["days"], *(d for d in recorded_days(trial, enrolment_day)
                                                                     if d >= 1)})}
    data["name"] = f"{trial.name}/{arm.name}"
    try:
        return parse_scenario(data, f"{trial.origin} arm {arm.name}")
    except ScenarioError as exc:
        raise InputError(f"{exc}") from None


def _eligible(trial: TrialDefinition, attributes: dict[str, np.ndarray]) -> np.ndarray:
    rules = trial.population.eligibility
    n = len(next(iter(attributes.values())))
    keep = np.ones(n, dtype=bool)
    checks = {
        "intrapartum_antibiotics": lambda: np.asarray(attributes["intrapartum_antibiotics"], dtype=bool),
        "multiparous_with_previous_mastitis": lambda: (~np.asarray(attributes["first_time_mother"], dtype=bool)
                                                       & np.asarray(attributes["previous_mastitis"], dtype=bool)),
        "first_time_mother": lambda: np.asarray(attributes["first_time_mother"], dtype=bool),
        "maternal_atopy": lambda: np.asarray(attributes["maternal_atopy"], dtype=bool),
        "caesarean": lambda: np.asarray(attributes["delivery_mode"]).astype(str) == "caesarean",
        "breastfeeding": lambda: np.asarray(attributes["breast_milk_share"], dtype=np.float64) > 0,
    }
    for name, read in checks.items():
        wanted = getattr(rules, name)
        if wanted is None:
            continue
        try:
            keep &= read() == wanted
        except KeyError:
            raise InputError(f"{trial.origin}: population.eligibility.{name}: the model's dyads carry no "
                             f"{name} attribute in this version of the package") from None
    return keep


STAPHYLOCOCCI_MAJORITY = 0.5
"""Share of milk bacteria above which an infectious mastitis counts as staphylococcal."""


def _diagnosis_days(trial: TrialDefinition, codes: np.ndarray, days: np.ndarray,
                    staphylococci_share: np.ndarray) -> np.ndarray:
    """Day of diagnosis per dyad (-1: none in the window) from daily state codes.

    The diagnosis is the first day in the window on which the woman has been in a trigger
    state for the diagnosis delay (and, for a staphylococcal mastitis, her milk bacteria are
    mostly staphylococci that day); a woman whose first diagnosis fails the staphylococcal
    test is not enrolled later.
    """
    from lactobiome.model.spectrum import STATE_CODE

    enrolment = trial.enrolment
    assert isinstance(enrolment, DiagnosisEnrolment)
    trigger = np.isin(codes, [STATE_CODE[s] for s in enrolment.trigger_states])
    run = np.zeros(codes.shape, dtype=np.int64)  # consecutive days in a trigger state
    for j in range(codes.shape[1]):  # a loop over days, not dyads
        run[:, j] = np.where(trigger[:, j], (run[:, j - 1] if j else 0) + 1, 0)
    ready = (run >= enrolment.diagnosis_delay_days) & (days >= enrolment.window[0]) & (days <= enrolment.window[1])
    found = ready.any(axis=1)
    column = ready.argmax(axis=1)
    if enrolment.staphylococci_majority:
        found &= staphylococci_share[np.arange(len(column)), column] > STAPHYLOCOCCI_MAJORITY
    return np.where(found, days[column], -1)


def screen(trial: TrialDefinition, base: Scenario, parameters: ParameterTable, taxa: TaxaCatalogue,
           needed: int, first_id: int = 0, on_batch: Callable[[int, int], None] | None = None) -> Screening:
    """Screen women from dyad id ``first_id`` on until ``needed`` are enrolled.

    ``on_batch(screened, enrolled)`` is called after each batch (progress).

    Raises
    ------
    InputError
        When :data:`SCREENING_LIMIT_PER_WOMAN` women per woman needed gave too few.
    """
    from lactobiome.model.engine import earlier_lactation_states, run_chunk
    from lactobiome.model.population import draw_population
    from lactobiome.model.previous_lactation import PREVIOUS_LACTATION_DAYS, previous_mastitis

    # a mastitis with an earlier child comes from her simulated earlier lactation (unless the scenario
    # fixes its share): simulated once here and handed to every arm, as the engine would find it
    wants_history = base.population.previous_mastitis_multiparous is None
    at_diagnosis = isinstance(trial.enrolment, DiagnosisEnrolment)
    fixed_day = _enrolment_day(trial)
    limit = min(SCREENING_LIMIT_PER_WOMAN * needed, ID_BLOCK)  # never into the next replicate's ids
    dyads: list[np.ndarray] = []
    days: list[np.ndarray] = []
    history: dict[int, bool] = {}
    screened = eligible_count = enrolled = dyad_days = 0
    rate = 1.0
    while enrolled < needed:
        if screened >= limit:
            raise InputError(f"{trial.origin}: screened {screened} women and enrolled {enrolled} of the {needed} "
                             "needed: the eligibility and enrolment event admit too few women of this population")
        batch = int(min(limit - screened, max(MIN_SCREENING_BATCH, np.ceil((needed - enrolled) / rate * SCREENING_MARGIN))))
        ids = np.arange(first_id + screened, first_id + screened + batch, dtype=np.int64)
        attributes = draw_population(base, parameters, ids)
        if wants_history:
            def simulate(earlier: Scenario, chosen: np.ndarray, drawn: dict[str, np.ndarray]) -> np.ndarray:
                return earlier_lactation_states(earlier, parameters, taxa, chosen, drawn)

            attributes["previous_mastitis"] = previous_mastitis(base, parameters, ids, attributes, simulate)
            dyad_days += int((~np.asarray(attributes["first_time_mother"], dtype=bool)).sum()) * PREVIOUS_LACTATION_DAYS
        keep = _eligible(trial, attributes)
        eligible_count += int(keep.sum())
        kept = ids[keep]
        if at_diagnosis and kept.size:
            enrolment = trial.enrolment
            assert isinstance(enrolment, DiagnosisEnrolment)
            scenario = base.model_copy(update={"cohort": base.cohort.model_copy(update={"days": enrolment.window[1]}),
                                               "sampling": base.sampling.model_copy(update={"days": [1]})})
            drawn = {k: np.asarray(v)[keep] for k, v in attributes.items()}
            result = run_chunk(scenario, parameters, taxa, kept, attributes=drawn)
            dyad_days += kept.size * enrolment.window[1]
            codes = result.panel["mastitis_state"].astype(np.int64)
            simulated = np.arange(codes.shape[1]) + (enrolment.window[1] - codes.shape[1] + 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                staphylococci = np.nan_to_num(result.panel["milk_staphylococci_per_ml"]
                                              / result.panel["milk_bacteria_per_ml"])
            day = _diagnosis_days(trial, codes, simulated, staphylococci)
        else:
            day = np.full(kept.size, fixed_day if fixed_day is not None else 0, dtype=np.int64)
        if wants_history:
            history.update({int(i): bool(v) for i, v in
                            zip(ids, np.asarray(attributes["previous_mastitis"], dtype=bool), strict=True)})
        took = day >= 1 if at_diagnosis else np.ones(kept.size, dtype=bool)
        dyads.append(kept[took])
        days.append(day[took])
        enrolled += int(took.sum())
        screened += batch
        if on_batch is not None:
            on_batch(screened, enrolled)
        rate = max(enrolled / screened, 1.0 / SCREENING_LIMIT_PER_WOMAN)
    all_dyads = np.concatenate(dyads)[:needed]
    all_days = np.concatenate(days)[:needed]
    return Screening(all_dyads, all_days, screened, eligible_count,
                     {int(d): history[int(d)] for d in all_dyads} if history else {}, dyad_days)


def allocate(trial: TrialDefinition, dyads: np.ndarray, sizes: dict[str, int], seed: int) -> np.ndarray:
    """Each woman's arm: women ranked by a uniform keyed by (seed, id), cut into the arm sizes."""
    u = RandomStreams(seed, dyads).uniform(0, ALLOCATION_STREAM)
    order = np.argsort(u, kind="stable")
    arms = np.empty(len(dyads), dtype=object)
    start = 0
    for arm in trial.arms:
        arms[order[start : start + sizes[arm.name]]] = arm.name
        start += sizes[arm.name]
    return arms


def arm_dataset(trial: TrialDefinition, arm: Arm, base: Scenario, parameters: ParameterTable,
                taxa: TaxaCatalogue, ids: np.ndarray, enrolment_day: int, history: dict[int, bool],
                on_day: Callable[[int], None] | None = None) -> xr.Dataset:
    """The simulated result of women ``ids`` (one enrolment day) under one arm, as ``simulate`` gives it."""
    from lactobiome.io.dataset import chunk_dataset
    from lactobiome.io.metadata import decode_states
    from lactobiome.model.engine import run_chunk
    from lactobiome.model.population import draw_population
    from lactobiome.simulation import prepare, run_attributes

    scenario = arm_scenario(trial, arm, base, enrolment_day, horizon_days(trial, enrolment_day))
    table, taxa = prepare(scenario, parameters, taxa)
    attributes = None
    if history:  # her earlier lactation, simulated once at screening (the engine would find the same)
        attributes = draw_population(scenario, table, ids)
        attributes["previous_mastitis"] = np.array([history[int(i)] for i in ids], dtype=bool)
    result = run_chunk(scenario, table, taxa, ids, attributes=attributes, on_day=on_day)
    return decode_states(chunk_dataset(result, taxa, run_attributes(scenario, table)))


def _per_day(callback: Callable[[int], None], n: int) -> Callable[[int], None]:
    """A per-day callback of the engine reporting ``n`` dyad-days to ``callback``."""
    return lambda _day: callback(n)


def _simulate_group(trial: TrialDefinition, arm: Arm, base: Scenario, parameters: ParameterTable,
                    taxa: TaxaCatalogue, ids: np.ndarray, enrolment_day: int, seed: int,
                    history: dict[int, bool], on_day: Callable[[int], None] | None) -> tuple[pd.DataFrame, int]:
    """Women of one enrolment day under one arm: their endpoints, and the dyad-days simulated."""
    frames = []
    simulated = 0
    for start in range(0, len(ids), trial.chunk_size):
        chunk = ids[start : start + trial.chunk_size]
        callback = None if on_day is None else _per_day(on_day, len(chunk))
        ds = arm_dataset(trial, arm, base, parameters, taxa, chunk, enrolment_day, history, callback)
        values = measure_endpoints(ds, trial, enrolment_day, seed)
        frames.append(pd.DataFrame({"dyad": chunk, "enrolment_day": enrolment_day, "arm": arm.name, **values}))
        simulated += len(chunk) * ds.sizes["day"]
    return pd.concat(frames, ignore_index=True), simulated


def run_trial(
    trial: TrialDefinition,
    *,
    n_per_arm: int | None = None,
    seed: int | None = None,
    parameters: ParameterTable | None = None,
    counterfactual: bool = True,
    first_id: int = 0,
    progress: bool | None = False,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> TrialRun:
    """Simulate one trial.

    Parameters
    ----------
    trial
        The validated definition.
    n_per_arm
        Women in the smallest arm, in place of the design's (the weights keep the ratio).
    seed
        Seed of the model and the allocation, in place of the design's.
    parameters
        The base parameter table (default: shipped); the population's overrides go on top.
    counterfactual
        Simulate every woman under every arm (for the paired contrast); ``False`` simulates
        only her allocated arm (a real trial's data; what the power curve needs).
    first_id
        First dyad id screened (disjoint blocks give independent trials).
    progress
        Progress bar in dyad-days on stderr (``None``: only on a terminal).
    on_progress
        Called as ``on_progress(phase, done, total)``: ``("screening", women enrolled, women
        needed)`` after each screening batch, then ``("simulating", dyad-days, dyad-days
        planned)`` as the arms run (the explorer's progress bar). It changes nothing simulated.

    Returns
    -------
    TrialRun
        ``women``: one row per (woman, arm simulated): ``dyad``, ``enrolment_day``, ``arm``,
        ``allocated_arm`` and each endpoint's measured value and ``<name>_truth``.
    """
    from tqdm import tqdm

    from lactobiome.model.parameters import load_parameters
    from lactobiome.model.taxa import load_taxa
    from lactobiome.simulation import prepare

    started, cpu_started = time.perf_counter(), time.process_time()
    seed = trial.seed if seed is None else seed
    taxa = load_taxa()
    check_trial(trial, taxa)
    pregnancy = pregnancy_days_needed(trial)
    fixed = _enrolment_day(trial)
    base = base_scenario(trial, seed, max(1, horizon_days(trial, fixed if fixed is not None else 1)), pregnancy)
    table, taxa = prepare(base, parameters or load_parameters(), taxa)
    sizes = trial.arm_sizes(n_per_arm)
    disable = (not sys.stderr.isatty()) if progress is None else not progress
    needed = sum(sizes.values())
    with tqdm(total=needed, unit="woman", desc=f"screen {trial.name}", disable=disable, file=sys.stderr) as bar:
        def report(screened: int, enrolled: int) -> None:
            bar.n = min(enrolled, needed)
            bar.set_postfix_str(f"{screened} screened", refresh=True)
            if on_progress is not None:
                on_progress("screening", min(enrolled, needed), needed)

        screening = screen(trial, base, table, taxa, needed, first_id, report)
    allocated = allocate(trial, screening.dyads, sizes, seed)
    arm_of = dict(zip(screening.dyads.tolist(), allocated.tolist(), strict=True))
    groups = sorted(set(screening.enrolment_day.tolist()))
    plan = []
    for arm in trial.arms:
        for day in groups:
            ids = screening.dyads[screening.enrolment_day == day]
            if not counterfactual:
                ids = ids[allocated[screening.enrolment_day == day] == arm.name]
            if ids.size:
                plan.append((arm, day, ids))
    total = sum(len(ids) * (horizon_days(trial, day) + pregnancy) for _, day, ids in plan)
    frames = []
    dyad_days = screening.dyad_days
    done = 0
    with tqdm(total=total, unit="dyad-day", unit_scale=True, disable=disable, desc=f"trial {trial.name}",
              file=sys.stderr) as bar:
        def advance(n: int) -> None:
            nonlocal done
            done += n
            bar.update(n)
            if on_progress is not None:
                on_progress("simulating", done, total)

        for arm, day, ids in plan:
            frame, simulated = _simulate_group(trial, arm, base, table, taxa, ids, day, seed, screening.previous_mastitis,
                                               None if disable and on_progress is None else advance)
            frames.append(frame)
            dyad_days += simulated
    women = pd.concat(frames, ignore_index=True)
    women.insert(3, "allocated_arm", women["dyad"].map(arm_of))
    women = women.sort_values(["dyad", "arm"], kind="stable").reset_index(drop=True)
    return TrialRun(trial, women, screening, pregnancy, dyad_days, time.perf_counter() - started,
                    time.process_time() - cpu_started, counterfactual, table.digest())
