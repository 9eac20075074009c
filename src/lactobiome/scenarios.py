"""Built-in scenarios and scenario files (YAML), validated into :class:`Scenario`.

Wherever a command takes ``SCENARIO`` it accepts a built-in name or a path to a YAML file.
Validation errors name the file and the field: ``default.yaml: cohort.dyads: Input should be
greater than or equal to 1 (got 0)``.
"""

from __future__ import annotations

from lactobiome.errors import ScenarioError
from lactobiome.io.yamlfile import builtin_yaml_names, load_yaml_mapping, validate_mapping
from lactobiome.model.scenario import Scenario

_FOLDER = "scenarios"
_WHAT = "scenario fields"


def builtin_names() -> list[str]:
    """Names of the built-in scenarios."""
    return builtin_yaml_names(_FOLDER)


def parse_scenario(data: object, origin: str, overrides: dict | None = None) -> Scenario:
    """Validate a mapping into a :class:`Scenario`; errors name ``origin`` and the field."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{origin}: expected a mapping of {_WHAT} at the top level")
    merged = dict(data)
    for section, values in (overrides or {}).items():
        current = merged.get(section)
        if isinstance(values, dict) and isinstance(current, dict):
            merged[section] = {**current, **values}
        else:
            merged[section] = values
    return validate_mapping(Scenario, merged, origin, _WHAT, ScenarioError).with_origin(origin)


def load_scenario(name_or_path: str = "default", overrides: dict | None = None) -> Scenario:
    """Load a built-in scenario by name, or a YAML scenario file by path.

    Parameters
    ----------
    name_or_path
        A name from :func:`builtin_names` or the path of a YAML file.
    overrides
        ``{section: {field: value}}`` applied before validation (e.g. command-line options).

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError
        What :func:`lactobiome.io.yamlfile.load_yaml_mapping` refuses, or the first field
        that does not validate against the schema.
    """
    data, origin = load_yaml_mapping(name_or_path, _FOLDER, _WHAT, ScenarioError)
    return parse_scenario(data, origin, overrides)
