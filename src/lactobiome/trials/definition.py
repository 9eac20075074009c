"""The trial definition: a YAML document validated by pydantic, with one-line field errors.

A trial names its population (a base scenario, overrides of the scenario's population and
who is eligible), the event that enrols a woman, the arms (interventions timed relative to
enrolment), how many women each arm gets, the follow-up, the endpoints (each measured as the
trial measured it, with its analysis) and the primary endpoint. Built-in designs ship in
``lactobiome/data/trials/``; wherever a command takes ``TRIAL`` it accepts a built-in name or
a YAML path. Errors name the file and the field:
``hurtado2017.yaml: n_per_arm: Input should be greater than or equal to 1 (got 0)``.

Days are days of life (day 1 = the first 24 h after birth; day 0 = the last day before
birth; negative days are days of pregnancy). An intervention or endpoint day ``r`` is
counted from enrolment: it falls on day of life ``enrolment_day + r``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lactobiome.errors import InputError
from lactobiome.io.yamlfile import builtin_yaml_names, load_yaml_mapping, validate_mapping
from lactobiome.model.scenario import AntibioticClass, MastitisState, Treatment

_FOLDER = "trials"
_WHAT = "trial fields"

RelativeDay = Annotated[int, Field(ge=-300, le=730, description="days after enrolment (0 = the enrolment day)")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Eligibility(_Strict):
    """Who may be enrolled; an unset criterion admits everyone."""

    intrapartum_antibiotics: bool | None = None
    multiparous_with_previous_mastitis: bool | None = Field(
        default=None, description="a mastitis in an earlier lactation (the mother's simulated earlier lactation)")
    first_time_mother: bool | None = None
    maternal_atopy: bool | None = Field(default=None, description="needs the maternal_atopy attribute")
    caesarean: bool | None = None
    breastfeeding: bool | None = Field(default=None, description="some breast milk in month 1 (share > 0)")


class TrialPopulation(_Strict):
    """The women screened: a base scenario, overrides of its population, and eligibility."""

    scenario: Annotated[str, Field(min_length=1)] = "default"
    overrides: dict[str, Any] = Field(default_factory=dict,
                                      description="fields of the scenario's population section")
    parameters: dict[str, float] = Field(default_factory=dict, description="parameter-table overrides")
    eligibility: Eligibility = Field(default_factory=Eligibility)


class BirthEnrolment(_Strict):
    """Enrolment at birth: the enrolment day is day 0 (the last day before birth)."""

    event: Literal["birth"] = "birth"


class DayEnrolment(_Strict):
    """Enrolment on a fixed day of pregnancy (``pregnancy_day``, day <= 0) or after birth."""

    event: Literal["pregnancy_day", "postpartum_day"]
    day: Annotated[int, Field(ge=-300, le=365)]

    @model_validator(mode="after")
    def _side(self) -> DayEnrolment:
        if self.event == "pregnancy_day" and self.day > 0:
            raise ValueError(f"day {self.day}: a pregnancy day is 0 or negative (0 = the last day before birth)")
        if self.event == "postpartum_day" and self.day < 1:
            raise ValueError(f"day {self.day}: a postpartum day is 1 or later")
        return self


def _default_triggers() -> list[MastitisState]:
    return ["bacterial_mastitis", "phlegmon", "abscess"]


class DiagnosisEnrolment(_Strict):
    """Enrolment at diagnosis: a woman in a trigger state for ``diagnosis_delay_days`` within the window.

    Her enrolment day is the day of diagnosis; the trial's interventions start from the next
    day (relative day 1), as a course prescribed at a visit does.
    """

    event: Literal["diagnosis"]
    trigger_states: list[MastitisState] = Field(default_factory=_default_triggers, min_length=1)
    window: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = (1, 84)
    diagnosis_delay_days: Annotated[int, Field(ge=1, le=30)] = 1
    staphylococci_majority: bool = Field(
        default=False, description="only women whose milk bacteria are mostly staphylococci on the day of diagnosis")

    @model_validator(mode="after")
    def _ordered(self) -> DiagnosisEnrolment:
        if self.window[1] < self.window[0]:
            raise ValueError(f"window: last day {self.window[1]} before first day {self.window[0]}")
        return self


def _enrolment_kind(value: object) -> str:
    event = value.get("event", "birth") if isinstance(value, dict) else getattr(value, "event", "birth")
    return "day" if event in ("pregnancy_day", "postpartum_day") else str(event)


Enrolment = Annotated[
    Annotated[BirthEnrolment, Tag("birth")] | Annotated[DayEnrolment, Tag("day")]
    | Annotated[DiagnosisEnrolment, Tag("diagnosis")],
    Discriminator(_enrolment_kind),
]


class _Window(_Strict):
    @model_validator(mode="after")
    def _window(self) -> _Window:
        start, stop = getattr(self, "start"), getattr(self, "stop")  # noqa: B009 (set by subclasses)
        if stop < start:
            raise ValueError(f"stop {stop} is before start {start}")
        return self


class ArmProbiotic(_Window):
    """A probiotic strain dosed daily from ``start`` to ``stop`` days after enrolment (inclusive)."""

    kind: Literal["probiotic"] = "probiotic"
    strain: Annotated[str, Field(min_length=1)]
    cfu_per_day: Annotated[float, Field(gt=0.0, description="colony-forming units per day")]
    route: Literal["maternal_oral", "infant_oral"] = "maternal_oral"
    start: RelativeDay = 1
    stop: RelativeDay
    coverage: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0


class ArmAntibiotic(_Window):
    """An antibiotic course of a class from ``start`` to ``stop`` days after enrolment."""

    kind: Literal["antibiotic"]
    antibiotic_class: AntibioticClass
    recipient: Literal["mother", "infant"] = "mother"
    start: RelativeDay = 1
    stop: RelativeDay
    coverage: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0


def _intervention_kind(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "probiotic"))
    return str(getattr(value, "kind", "probiotic"))


ArmIntervention = Annotated[
    Annotated[ArmProbiotic, Tag("probiotic")] | Annotated[ArmAntibiotic, Tag("antibiotic")],
    Discriminator(_intervention_kind),
]


class Arm(_Strict):
    """One arm: its allocation weight, its interventions and (optionally) a treatment policy."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")]
    weight: Annotated[float, Field(gt=0.0)] = 1.0
    description: str = ""
    interventions: list[ArmIntervention] = Field(default_factory=list)
    treatment: Treatment | None = Field(
        default=None, description="a treatment policy for episodes during follow-up (the scenario's machinery)")


class CultureEndpoint(_Strict):
    """Milk bacteria (all culturable, or staphylococci) by plate culture, log10 CFU/mL, on a day."""

    name: Annotated[str, Field(min_length=1)]
    kind: Literal["culture"]
    bacteria: Literal["all", "staphylococci"] = "all"
    day: RelativeDay
    analysis: Literal["difference_in_means"] = "difference_in_means"


class MastitisEndpoint(_Strict):
    """Clinical mastitis by a case definition in a window of days after enrolment."""

    name: Annotated[str, Field(min_length=1)]
    kind: Literal["clinical_mastitis"]
    case_definition: Literal["any_episode", "two_local_signs_fever", "provider_diagnosed"] = "two_local_signs_fever"
    measure: Literal["cumulative_incidence", "incidence_rate", "recurrence"] = "cumulative_incidence"
    window: tuple[RelativeDay, RelativeDay] | None = Field(
        default=None, description="days after enrolment; default: day 1 to the end of follow-up")
    analysis: Literal["risk_ratio", "odds_ratio", "incidence_rate_ratio"] = "risk_ratio"

    @model_validator(mode="after")
    def _consistent(self) -> MastitisEndpoint:
        rate = self.measure == "incidence_rate"
        if rate != (self.analysis == "incidence_rate_ratio"):
            raise ValueError(f"analysis {self.analysis!r} does not fit measure {self.measure!r} "
                             "(an incidence rate takes incidence_rate_ratio; a share takes risk_ratio or odds_ratio)")
        if self.window is not None and self.window[1] < self.window[0]:
            raise ValueError(f"window: last day {self.window[1]} before first day {self.window[0]}")
        return self


class RecoveryEndpoint(_Strict):
    """Days from enrolment to the first day out of an inflamed state (women enrolled at diagnosis)."""

    name: Annotated[str, Field(min_length=1)]
    kind: Literal["recovery"]
    by_day: RelativeDay | None = Field(default=None, description="report the share recovered by this day instead")
    analysis: Literal["difference_in_means", "risk_ratio"] = "difference_in_means"

    @model_validator(mode="after")
    def _consistent(self) -> RecoveryEndpoint:
        if (self.by_day is None) != (self.analysis == "difference_in_means"):
            raise ValueError("analysis: time to recovery takes difference_in_means; recovered by_day takes risk_ratio")
        return self


class EczemaEndpoint(_Strict):
    """The infant's atopic dermatitis (eczema) by an age, from the outcome model."""

    name: Annotated[str, Field(min_length=1)]
    kind: Literal["atopic_dermatitis"]
    months: Annotated[int, Field(ge=1, le=48)] = 24
    analysis: Literal["risk_ratio", "odds_ratio"] = "odds_ratio"


def _endpoint_kind(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", ""))
    return str(getattr(value, "kind", ""))


Endpoint = Annotated[
    Annotated[CultureEndpoint, Tag("culture")] | Annotated[MastitisEndpoint, Tag("clinical_mastitis")]
    | Annotated[RecoveryEndpoint, Tag("recovery")] | Annotated[EczemaEndpoint, Tag("atopic_dermatitis")],
    Discriminator(_endpoint_kind),
]


class TrialDefinition(_Strict):
    """A complete, validated trial design."""

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    source: str = Field(default="", description="citation of the design (not of its results)")
    population: TrialPopulation = Field(default_factory=TrialPopulation)
    enrolment: Enrolment = Field(default_factory=BirthEnrolment)
    arms: list[Arm] = Field(min_length=2)
    control: str | None = Field(default=None, description="the arm the others are compared with (default: the first)")
    n_per_arm: Annotated[int, Field(ge=1, le=100_000, description="women in the arm of the smallest weight")]
    follow_up_days: Annotated[int, Field(ge=1, le=1000, description="days simulated after enrolment")]
    endpoints: list[Endpoint] = Field(min_length=1)
    primary: str
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 1
    chunk_size: Annotated[int, Field(ge=1, le=100_000)] = 500
    _origin: str = PrivateAttr(default="")

    @field_validator("arms")
    @classmethod
    def _arm_names(cls, value: list[Arm]) -> list[Arm]:
        names = [a.name for a in value]
        if len(set(names)) != len(names):
            raise ValueError(f"names must be unique (got {names})")
        return value

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: list[Endpoint], info: ValidationInfo) -> list[Endpoint]:
        names = [e.name for e in value]
        if len(set(names)) != len(names):
            raise ValueError(f"names must be unique (got {names})")
        at_diagnosis = isinstance(info.data.get("enrolment"), DiagnosisEnrolment)
        for number, endpoint in enumerate(value):
            if isinstance(endpoint, RecoveryEndpoint) and not at_diagnosis:
                raise ValueError(f"{number} ({endpoint.name}): a recovery endpoint needs enrolment at diagnosis "
                                 "(there is nothing to recover from at another enrolment)")
        return value

    @field_validator("primary")
    @classmethod
    def _primary(cls, value: str, info: ValidationInfo) -> str:
        ends = [e.name for e in info.data.get("endpoints", [])]
        if ends and value not in ends:
            raise ValueError(f"{value!r} is not an endpoint name (expected one of {ends})")
        return value

    @field_validator("control")
    @classmethod
    def _control(cls, value: str | None, info: ValidationInfo) -> str | None:
        arms = [a.name for a in info.data.get("arms", [])]
        if value is not None and arms and value not in arms:
            raise ValueError(f"{value!r} is not an arm name (expected one of {arms})")
        return value

    @property
    def origin(self) -> str:
        """Where the definition came from, for messages."""
        return self._origin or f"trial {self.name}"

    def with_origin(self, origin: str) -> TrialDefinition:
        """This definition, remembering ``origin`` for error messages."""
        self._origin = origin
        return self

    @property
    def control_arm(self) -> str:
        """Name of the arm the others are compared with."""
        return self.control or self.arms[0].name

    def arm_sizes(self, n_per_arm: int | None = None) -> dict[str, int]:
        """Women allocated to each arm.

        With ``n`` (``n_per_arm`` given here, or the definition's), an arm of weight ``w``
        gets ``round(n * w / w_min)`` women: ``n`` is the size of the smallest arm and the
        weights are the allocation ratio (weights 101, 124, 127 with ``n_per_arm: 101`` give
        arms of exactly those sizes).
        """
        n = self.n_per_arm if n_per_arm is None else n_per_arm
        smallest = min(a.weight for a in self.arms)
        return {a.name: max(1, round(n * a.weight / smallest)) for a in self.arms}


def builtin_names() -> list[str]:
    """Names of the built-in trial designs."""
    return builtin_yaml_names(_FOLDER)


def parse_trial(data: object, origin: str) -> TrialDefinition:
    """Validate a mapping into a :class:`TrialDefinition`; errors name ``origin`` and the field."""
    return validate_mapping(TrialDefinition, data, origin, _WHAT, InputError).with_origin(origin)


def load_trial(name_or_path: str) -> TrialDefinition:
    """Load a built-in trial design by name, or a trial YAML file by path.

    Raises
    ------
    InputError
        An unknown name, an unreadable or malformed file, or the first field that does not
        validate (by its dotted path).
    """
    data, origin = load_yaml_mapping(name_or_path, _FOLDER, _WHAT, InputError)
    return parse_trial(data, origin)
