"""The explorer's scenario form: fields generated from the scenario schema, validated by it.

The form holds every scalar field of the scenario's sections (``cohort``, ``population``,
``routes``, ...) as ``section.field``; lists and nested optional sections (feeding groups,
interventions, treatment) are taken unchanged from the built-in scenario the form starts
from. The trial form holds a design's top-level scalars (n per arm, follow-up, seed) the same
way, the arms and endpoints unchanged from the built-in design. Values are validated by the same pydantic schema as a scenario file, and each error is
worded by :func:`lactobiome.errors.describe_validation_errors`, as the command line words it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lactobiome.errors import describe_validation_errors
from lactobiome.model.scenario import Scenario
from lactobiome.trials.definition import TrialDefinition

ORIGIN = "form"


@dataclass(frozen=True)
class FormField:
    """One input of the form: ``section.name``, its kind, whether it may be left empty, help text."""

    key: str
    kind: str  # "integer", "number" or "boolean"
    nullable: bool
    title: str
    description: str
    minimum: float | None
    maximum: float | None


def _scalar(schema: dict[str, Any]) -> tuple[str, bool, dict[str, Any]] | None:
    """(kind, nullable, the non-null schema) of a scalar field's schema; None for anything else."""
    options = schema.get("anyOf", [schema])
    kinds = [o for o in options if o.get("type") in ("integer", "number", "boolean")]
    nulls = [o for o in options if o.get("type") == "null"]
    if len(kinds) != 1 or len(kinds) + len(nulls) != len(options):
        return None
    return str(kinds[0]["type"]), bool(nulls), kinds[0]


def form_fields() -> list[FormField]:
    """The form's fields, in schema order, from ``Scenario.model_json_schema()``."""
    schema = Scenario.model_json_schema()
    definitions = schema.get("$defs", {})
    fields: list[FormField] = []
    for section, spec in schema["properties"].items():
        ref = spec.get("$ref", "")
        if not ref.startswith("#/$defs/"):
            continue
        for name, field in definitions[ref.split("/")[-1]].get("properties", {}).items():
            scalar = _scalar(field)
            if scalar is None:
                continue
            kind, nullable, inner = scalar
            maximum = inner.get("maximum", inner.get("exclusiveMaximum"))
            fields.append(FormField(f"{section}.{name}", kind, nullable, str(field.get("title", name)),
                                    str(field.get("description", "")), inner.get("minimum"), maximum))
    return fields


def scenario_values(scenario: Scenario) -> dict[str, Any]:
    """The form's values for ``scenario`` (``section.field`` -> value)."""
    data = scenario.model_dump(mode="json")
    return {f.key: data[f.key.split(".")[0]][f.key.split(".")[1]] for f in form_fields()}


def _value(field: FormField, raw: object) -> object:
    """A submitted value as the schema sees it: empty -> None, text kept for pydantic to parse."""
    if field.kind == "boolean":
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    for parse in (int, float):  # a number as a YAML file would give it, so messages read the same
        try:
            return parse(text)
        except ValueError:
            continue
    return text


def validate_form(base: Scenario, submitted: dict[str, object], limits: dict[str, int] | None = None
                  ) -> tuple[Scenario | None, dict[str, str]]:
    """Validate submitted form values on top of ``base``.

    Parameters
    ----------
    base
        The built-in scenario the form started from.
    submitted
        ``section.field`` -> value; unknown keys are errors.
    limits
        ``section.field`` -> largest value the explorer accepts (e.g. the cohort size).

    Returns
    -------
    (Scenario or None, dict)
        The scenario when valid, and one message per field in error (key ``""`` for errors
        that belong to no field), worded as the command line words scenario errors.
    """
    known = {f.key: f for f in form_fields()}
    errors: dict[str, str] = {}
    data = base.model_dump(mode="json")
    for key, raw in submitted.items():
        field = known.get(key)
        if field is None:
            errors[key] = f"{key}: unknown field"
            continue
        section, name = key.split(".")
        data[section][name] = _value(field, raw)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"][:2])
            message = describe_validation_errors(ORIGIN, [dict(error)])
            errors.setdefault(key if key in known else "", message.removeprefix(f"{ORIGIN}: "))
        return None, errors
    for key, largest in (limits or {}).items():
        section, name = key.split(".")
        value = getattr(getattr(scenario, section), name)
        if value > largest:
            errors[key] = f"{key}: at most {largest} in the explorer (got {value}); use `lactobiome simulate` for more"
    if errors:
        return None, errors
    return scenario.with_origin(ORIGIN), {}


TRIAL_FORM_SKIPS: tuple[str, ...] = ("chunk_size",)
"""Top-level trial fields the form leaves out: how the run is cut into chunks changes no result."""


def trial_form_fields() -> list[FormField]:
    """The trial form's fields: the design's top-level scalars (n per arm, follow-up, seed), in schema order."""
    schema = TrialDefinition.model_json_schema()
    fields: list[FormField] = []
    for name, field in schema["properties"].items():
        scalar = _scalar(field)
        if scalar is None or name in TRIAL_FORM_SKIPS:
            continue
        kind, nullable, inner = scalar
        maximum = inner.get("maximum", inner.get("exclusiveMaximum"))
        fields.append(FormField(name, kind, nullable, str(field.get("title", name)),
                                str(field.get("description", "")), inner.get("minimum"), maximum))
    return fields


def trial_values(trial: TrialDefinition) -> dict[str, Any]:
    """The trial form's values for a design (field -> value)."""
    data = trial.model_dump(mode="json")
    return {f.key: data[f.key] for f in trial_form_fields()}


def validate_trial_form(base: TrialDefinition, submitted: dict[str, object], limits: dict[str, int] | None = None
                        ) -> tuple[TrialDefinition | None, dict[str, str]]:
    """Validate submitted trial-form values on top of the built-in design ``base``.

    Parameters
    ----------
    base
        The built-in design the form started from.
    submitted
        Field -> value (``n_per_arm``, ``follow_up_days``, ``seed``); unknown keys are errors.
    limits
        Field -> largest value the explorer accepts.

    Returns
    -------
    (TrialDefinition or None, dict)
        The design when valid, and one message per field in error (key ``""`` for errors that
        belong to no field), worded as ``lactobiome trial`` words a design file's errors.
    """
    known = {f.key: f for f in trial_form_fields()}
    errors: dict[str, str] = {}
    data = base.model_dump(mode="json")
    for key, raw in submitted.items():
        field = known.get(key)
        if field is None:
            errors[key] = f"{key}: unknown field"
            continue
        data[key] = _value(field, raw)
    try:
        trial = TrialDefinition.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else ""
            message = describe_validation_errors(ORIGIN, [dict(error)])
            errors.setdefault(key if key in known else "", message.removeprefix(f"{ORIGIN}: "))
        return None, errors
    for key, largest in (limits or {}).items():
        value = getattr(trial, key)
        if value > largest:
            errors[key] = f"{key}: at most {largest} in the explorer (got {value}); use `lactobiome trial` for more"
    if errors:
        return None, errors
    return trial.with_origin(f"{ORIGIN} ({base.name})"), {}
