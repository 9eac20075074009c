"""Built-in scenarios and scenario files (YAML), validated into :class:`Scenario`.

Wherever a command takes ``SCENARIO`` it accepts a built-in name or a path to a YAML file.
Validation errors name the file and the field: ``default.yaml: cohort.dyads: Input should be
greater than or equal to 1 (got 0)``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from lactobiome.errors import ScenarioError, describe_validation_errors
from lactobiome.model.scenario import Scenario


def builtin_names() -> list[str]:
    """Names of the built-in scenarios."""
    folder = resources.files("lactobiome.data").joinpath("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def parse_scenario(data: object, origin: str, overrides: dict | None = None) -> Scenario:
    """Validate a mapping into a :class:`Scenario`; errors name ``origin`` and the field."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{origin}: expected a mapping of scenario fields at the top level")
    merged = dict(data)
    for section, values in (overrides or {}).items():
        current = merged.get(section)
        if isinstance(values, dict) and isinstance(current, dict):
            merged[section] = {**current, **values}
        else:
            merged[section] = values
    try:
        return Scenario.model_validate(merged)
    except ValidationError as exc:
        raise ScenarioError(describe_validation_errors(origin, exc.errors())) from None


def scenario_text(name_or_path: str) -> tuple[str, str]:
    """The YAML text of a built-in scenario or file, and a label for messages."""
    if name_or_path in builtin_names():
        text = resources.files("lactobiome.data").joinpath(f"scenarios/{name_or_path}.yaml").read_text("utf-8")
        return text, f"{name_or_path}.yaml"
    path = Path(name_or_path)
    if not path.exists():
        raise ScenarioError(
            f"{name_or_path}: neither a built-in scenario ({', '.join(builtin_names())}) nor a file"
        )
    try:
        return path.read_text("utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario ({exc})") from None


def load_scenario(name_or_path: str = "default", overrides: dict | None = None) -> Scenario:
    """Load a built-in scenario by name, or a YAML scenario file by path.

    Parameters
    ----------
    overrides
        ``{section: {field: value}}`` applied before validation (e.g. command-line options).
    """
    text, origin = scenario_text(name_or_path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{origin}:{where} is not valid YAML") from None
    return parse_scenario(data if data is not None else {}, origin, overrides)
