"""The scenario schema: what a simulation run is asked to do.

A scenario is validated by pydantic; unknown fields and out-of-range values are errors that
name the field. Fields of the population left unset take the default prevalence from the
parameter table, so every default has a source there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, model_validator

MAX_PREGNANCY_DAYS = 280
"""Most prenatal days a run may simulate: 40 weeks, a full-term pregnancy from the last menstrual period."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _DayWindow(_Strict):
    """An intervention given from ``start_day`` to ``stop_day`` (days of life, inclusive)."""

    @model_validator(mode="after")
    def _window(self) -> _DayWindow:
        start, stop = getattr(self, "start_day"), getattr(self, "stop_day")  # noqa: B009 (set by subclasses)
        if stop < start:
            raise ValueError(f"stop_day {stop} is before start_day {start}")
        return self


class Cohort(_Strict):
    """Size and length of the run."""

    dyads: Annotated[int, Field(ge=1, le=10_000_000)] = 300
    days: Annotated[int, Field(ge=1, le=730, description="days of life simulated (day 1 = first 24 h)")] = 60
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 1
    chunk_size: Annotated[int, Field(ge=1, le=1_000_000)] = 500
    pregnancy_days: Annotated[int, Field(
        ge=0, le=MAX_PREGNANCY_DAYS,
        description="days before birth on which the mother's own sites are simulated: days of life "
                    "1 - pregnancy_days .. 0 (day 0 = the last day before birth); 0 = none")] = 0

    @property
    def first_day(self) -> int:
        """The first simulated day of life: ``1 - pregnancy_days`` (1 without pregnancy days)."""
        return 1 - self.pregnancy_days


class FeedingGroup(_Strict):
    """A share of the cohort with a range of feeding behaviour (drawn uniformly per dyad)."""

    name: Annotated[str, Field(min_length=1)]
    weight: Annotated[float, Field(ge=0.0)]
    breast_milk_share: tuple[Share, Share]
    direct_breastfeeding_share: tuple[Share, Share]
    breast_milk_share_factor_by_week: list[tuple[Annotated[int, Field(ge=0)], Annotated[float, Field(ge=0.0)]]] = Field(
        default_factory=list,
        description="feeding plan: (week of life, multiplier of the month-1 breast-milk share) knots, "
        "interpolated linearly and held beyond the ends; empty = the month-1 share throughout",
    )
    solids_start_day: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] | None = Field(
        default=None, description="range of the day solids start (uniform per dyad); None = parameter table"
    )

    @model_validator(mode="after")
    def _ordered(self) -> FeedingGroup:
        for field in ("breast_milk_share", "direct_breastfeeding_share", "solids_start_day"):
            if getattr(self, field) is None:
                continue
            low, high = getattr(self, field)
            if low > high:
                raise ValueError(f"{field}: lower bound {low} above upper bound {high}")
        weeks = [week for week, _ in self.breast_milk_share_factor_by_week]
        if weeks != sorted(set(weeks)):
            raise ValueError("breast_milk_share_factor_by_week: weeks must be strictly increasing")
        return self


class Population(_Strict):
    """Distributions of dyad attributes; ``None`` takes the parameter table's prevalence."""

    caesarean: Probability | None = None
    intrapartum_antibiotics_vaginal: Probability | None = None
    intrapartum_antibiotics_caesarean: Probability | None = None
    first_time_mother: Probability | None = None
    previous_mastitis_multiparous: Probability | None = None
    oversupply: Probability | None = None
    tight_bra: Probability | None = None
    nipple_damage_first_time: Probability | None = None
    nipple_damage_multiparous: Probability | None = None
    nipple_fissure_given_damage: Probability | None = None
    secretor: Probability | None = None
    preterm: Probability | None = None
    maternal_atopy: Probability | None = None
    biofilm_strain: Probability | None = None
    feeding_groups: list[FeedingGroup] = Field(
        default_factory=lambda: [
            FeedingGroup(name="exclusive_breast", weight=1.0, breast_milk_share=(1.0, 1.0),
                         direct_breastfeeding_share=(0.8, 1.0)),
        ],
        min_length=1,
    )

    @model_validator(mode="after")
    def _weights(self) -> Population:
        if sum(g.weight for g in self.feeding_groups) <= 0.0:
            raise ValueError("feeding_groups: weights must not all be zero")
        names = [g.name for g in self.feeding_groups]
        if len(set(names)) != len(names):
            raise ValueError("feeding_groups: names must be unique")
        return self


class Routes(_Strict):
    """Switches for each route of the microbial system (all on by default)."""

    stroma_to_milk: bool = True
    milk_to_stroma: bool = True
    entero_mammary: bool = True
    maternal_mouth_to_milk: bool = True
    retrograde: bool = True
    areolar_skin_to_milk: bool = True
    areolar_skin_to_infant_mouth: bool = True
    areolar_skin_to_infant_gut: bool = True
    infant_mouth_to_areolar_skin: bool = True
    milk_to_areolar_skin: bool = True
    maternal_mouth_to_infant_mouth: bool = True
    milk_to_infant: bool = True
    infant_mouth_to_infant_gut: bool = True
    birth_inoculum: bool = True
    environment: bool = True
    maternal_gut_to_infant_gut: bool = True


_PRENATAL_WINDOW = ("day of life (inclusive); a maternal route or recipient may start before birth, down to "
                    "1 - cohort.pregnancy_days (checked by the scenario); the infant's from day 1")


class Probiotic(_DayWindow):
    """A probiotic regimen: a catalogue strain dosed daily to a share of the cohort."""

    kind: Literal["probiotic"] = "probiotic"
    strain: Annotated[str, Field(min_length=1)]
    route: Literal["maternal_oral", "infant_oral"]
    cfu_per_day: Annotated[float, Field(gt=0.0, description="colony-forming units per day")]
    start_day: Annotated[int, Field(ge=1 - MAX_PREGNANCY_DAYS, description=_PRENATAL_WINDOW)] = 1
    stop_day: Annotated[int, Field(ge=1 - MAX_PREGNANCY_DAYS, description=_PRENATAL_WINDOW)] = 730
    coverage: Probability = 1.0


AntibioticClass = Literal["penicillin", "flucloxacillin", "cephalosporin", "macrolide", "lincosamide"]
MastitisState = Literal["ductal_narrowing", "inflammatory_mastitis", "bacterial_mastitis", "phlegmon",
                        "abscess", "subacute_mastitis"]


class Antibiotic(_DayWindow):
    """A scheduled antibiotic course given to a share of the cohort (mother or infant)."""

    kind: Literal["antibiotic"] = "antibiotic"
    antibiotic_class: AntibioticClass
    recipient: Literal["mother", "infant"] = "mother"
    start_day: Annotated[int, Field(ge=1 - MAX_PREGNANCY_DAYS, description=_PRENATAL_WINDOW)] = 1
    stop_day: Annotated[int, Field(ge=1 - MAX_PREGNANCY_DAYS, description=_PRENATAL_WINDOW)] = 10
    coverage: Probability = 1.0


class InfantIllness(_DayWindow):
    """An infant infection in a share of the cohort: it raises milk leucocytes meanwhile."""

    kind: Literal["infant_illness"] = "infant_illness"
    start_day: Annotated[int, Field(ge=1)]
    stop_day: Annotated[int, Field(ge=1)]
    coverage: Probability = 1.0


def _intervention_kind(value: object) -> str:
    # ``kind`` may be left out for a probiotic (scenarios written before other kinds existed)
    if isinstance(value, dict):
        return str(value.get("kind", "probiotic"))
    return str(getattr(value, "kind", "probiotic"))


Intervention = Annotated[
    Annotated[Probiotic, Tag("probiotic")]
    | Annotated[Antibiotic, Tag("antibiotic")]
    | Annotated[InfantIllness, Tag("infant_illness")],
    Discriminator(_intervention_kind),
]


class TreatmentAntibiotic(_Strict):
    """The antibiotic course a treatment policy prescribes."""

    antibiotic_class: AntibioticClass = "flucloxacillin"
    days: Annotated[int, Field(ge=1, le=60)] = 10


class TreatmentProbiotic(_Strict):
    """The probiotic course a treatment policy prescribes (maternal oral route)."""

    strain: Annotated[str, Field(min_length=1)]
    cfu_per_day: Annotated[float, Field(gt=0.0)] = 1e9
    days: Annotated[int, Field(ge=1, le=120)] = 21


def _default_triggers() -> list[MastitisState]:
    return ["inflammatory_mastitis", "bacterial_mastitis"]


class Treatment(_Strict):
    """A policy: treat dyads diagnosed in a trigger state (research model, not advice)."""

    trigger_states: list[MastitisState] = Field(default_factory=_default_triggers, min_length=1)
    diagnosis_delay_days: Annotated[int, Field(ge=1, le=30)] = 1
    coverage: Probability = 1.0
    antibiotic: TreatmentAntibiotic | None = None
    probiotic: TreatmentProbiotic | None = None
    frequent_emptying_days: Annotated[int, Field(ge=0, le=60)] = 0


class Sampling(_Strict):
    """Days of life on which the full abundance array is recorded."""

    days: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [1, 3, 7, 14, 30, 60, 90, 120, 150, 180]
    )


class Scenario(_Strict):
    """A complete, validated scenario."""

    name: Annotated[str, Field(min_length=1)] = "custom"
    description: str = ""
    cohort: Cohort = Field(default_factory=Cohort)
    population: Population = Field(default_factory=Population)
    routes: Routes = Field(default_factory=Routes)
    interventions: list[Intervention] = Field(default_factory=list)
    treatment: Treatment | None = None
    sampling: Sampling = Field(default_factory=Sampling)
    parameters: dict[str, float] = Field(default_factory=dict)
    _origin: str = PrivateAttr(default="")

    @property
    def origin(self) -> str:
        """Where the scenario came from (its file, for error messages); ``scenario NAME`` if built in code."""
        return self._origin or f"scenario {self.name}"

    def with_origin(self, origin: str) -> Scenario:
        """This scenario, remembering ``origin`` for error messages."""
        self._origin = origin
        return self

    @model_validator(mode="after")
    def _prenatal_windows(self) -> Scenario:
        first = self.cohort.first_day
        for number, item in enumerate(self.interventions):
            if item.kind == "infant_illness":
                continue
            maternal = (item.route == "maternal_oral") if item.kind == "probiotic" else (item.recipient == "mother")
            lowest = first if maternal else 1
            for field in ("start_day", "stop_day"):
                day = getattr(item, field)
                if day >= lowest:
                    continue
                where = f"interventions.{number}.{field}"
                if maternal:
                    raise ValueError(f"{where}: day {day} is before the first simulated day {first} "
                                     f"(1 - cohort.pregnancy_days {self.cohort.pregnancy_days}); allowed: "
                                     f"{first} or later")
                who = "route infant_oral" if item.kind == "probiotic" else "recipient infant"
                raise ValueError(f"{where}: day {day} is before birth, and a {item.kind} with {who} starts on "
                                 "day 1 or later; allowed: 1 or later")
        return self

    def record_days(self) -> list[int]:
        """Sorted recorded days within the run, always including its last day."""
        days = {d for d in self.sampling.days if d <= self.cohort.days}
        days.add(self.cohort.days)
        return sorted(days)
