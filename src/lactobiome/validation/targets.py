"""The published figures the model is held against: ``data/targets.yaml`` and :class:`Target`.

Each target has an acceptance range, either the key of a measurement in
:data:`lactobiome.validation.MEASURES` or the reason it is not modelled, and a role:
``calibration`` (parameter values may have been chosen for it) or ``check`` (never used to
choose a value). How the roles were assigned is written down in ``docs/validation.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from lactobiome.errors import InputError
from lactobiome.validation.measures import MEASURES

_REQUIRED = ("id", "role", "system", "quantity", "published", "unit", "population", "time_point", "source")
CALIBRATION = "calibration"
"""Role of a target that parameter values may have been fitted to."""
CHECK = "check"
"""Role of a target never used to choose a parameter value (out of sample)."""
ROLES: tuple[str, ...] = (CHECK, CALIBRATION)
_OPTIONAL: tuple[str, ...] = ("acceptance", "acceptance_basis", "measure", "not_modelled", "outside_reason", "doi",
                              "confidence", "measured_by", "notes")


def format_number(value: float | None) -> str:
    """A number as the tables print it: three significant figures, whole above 100 (empty for NaN)."""
    if value is None or not math.isfinite(value):
        return ""
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


@dataclass(frozen=True)
class Target:
    """One published figure and how the model is held against it."""

    id: str
    system: str
    quantity: str
    published: str
    unit: str
    population: str
    time_point: str
    source: str
    low: float = -math.inf
    high: float = math.inf
    acceptance_basis: str = ""
    measure: str | None = None
    not_modelled: str | None = None
    outside_reason: str | None = None
    doi: str | None = None
    confidence: str | None = None
    measured_by: str = "truth"
    """How the study measured it: ``truth``, or a pipeline key (:func:`lactobiome.validation.pipelines.pipeline_keys`)."""
    role: str = CHECK
    notes: str | None = None
    """How the figure was checked against its source (what was found, where), if it was."""

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the acceptance range (bounds included)."""
        return bool(self.low <= value <= self.high)

    @property
    def acceptance_text(self) -> str:
        """The acceptance range as text (``≤ x`` / ``≥ x`` for an open side)."""
        if math.isinf(self.low) and math.isinf(self.high):
            return ""
        if math.isinf(self.low):
            return f"≤ {format_number(self.high)}"
        if math.isinf(self.high):
            return f"≥ {format_number(self.low)}"
        return f"{format_number(self.low)}–{format_number(self.high)}"

    @property
    def centre(self) -> float:
        """The point calibration aims at: the middle of the range, or its closed side."""
        if math.isinf(self.low):
            return self.high
        if math.isinf(self.high):
            return self.low
        return 0.5 * (self.low + self.high)

    @property
    def scale(self) -> float:
        """Half the width of the acceptance range (1 when a side is open), for normalising."""
        if math.isinf(self.low) or math.isinf(self.high):
            return max(abs(self.centre), 1.0)
        return max(0.5 * (self.high - self.low), 1e-12)


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _bound(value: object, where: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: acceptance bounds must be numbers or null, got {value!r}")
    if not math.isfinite(float(value)):
        raise InputError(f"{where}: acceptance bounds must be finite numbers or null, got {value!r}")
    return float(value)


def _parse_target(raw: object, where: str) -> Target:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: each target must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise InputError(f"{where}: unknown field(s) {unknown}; allowed {sorted(_REQUIRED + _OPTIONAL)}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise InputError(f"{where}: missing field(s) {missing}")
    if not _text(raw["id"]):
        raise InputError(f"{where}: id is empty")
    where = f"{where} ({raw['id']})"
    role = _text(raw["role"])
    if role not in ROLES:
        raise InputError(f"{where}: role must be one of {list(ROLES)}, got {role!r}")
    measure = _text(raw.get("measure")) or None
    reason = _text(raw.get("not_modelled")) or None
    if (measure is None) == (reason is None):
        raise InputError(f"{where}: give exactly one of 'measure' (a registry key) and 'not_modelled' (a reason)")
    low, high = -math.inf, math.inf
    if measure is not None:
        if measure not in MEASURES:
            raise InputError(f"{where}: measure {measure!r} is not in the registry (lactobiome.validation.MEASURES)")
        acceptance = raw.get("acceptance")
        if not isinstance(acceptance, list) or len(acceptance) != 2:
            raise InputError(f"{where}: acceptance must be a list [low, high] (null for an open side)")
        low = _bound(acceptance[0], where, -math.inf)
        high = _bound(acceptance[1], where, math.inf)
        if math.isinf(low) and math.isinf(high):
            raise InputError(f"{where}: acceptance needs at least one bound")
        if low > high:
            raise InputError(f"{where}: acceptance low {low:g} is above high {high:g}")
    measured_by = _text(raw.get("measured_by")) or "truth"
    from lactobiome.validation.pipelines import TRUTH, is_pipeline, pipeline_keys

    if measured_by != TRUTH and not is_pipeline(measured_by):
        raise InputError(f"{where}: measured_by {measured_by!r} is not 'truth' nor a pipeline "
                         f"({', '.join(pipeline_keys())})")
    return Target(
        measured_by=measured_by,
        id=_text(raw["id"]), system=_text(raw["system"]), quantity=_text(raw["quantity"]),
        published=_text(raw["published"]), unit=_text(raw["unit"]), population=_text(raw["population"]),
        time_point=_text(raw["time_point"]), source=_text(raw["source"]), low=low, high=high,
        acceptance_basis=_text(raw.get("acceptance_basis")), measure=measure, not_modelled=reason,
        outside_reason=_text(raw.get("outside_reason")) or None, doi=_text(raw.get("doi")) or None,
        confidence=_text(raw.get("confidence")) or None, role=role, notes=_text(raw.get("notes")) or None,
    )


def load_targets(path: str | Path | None = None) -> list[Target]:
    """Load and check the targets file.

    Parameters
    ----------
    path
        A YAML file with a top-level ``targets`` list; the shipped ``data/targets.yaml`` when
        omitted.

    Returns
    -------
    list of Target
        In file order.

    Raises
    ------
    InputError
        The file is missing or malformed, an id repeats, a target names an unknown
        measurement, has both or neither of ``measure`` and ``not_modelled``, a bad range or
        a role other than ``calibration`` / ``check``.
    """
    if path is None:
        origin = "targets.yaml (shipped)"
        text = resources.files("lactobiome.data").joinpath("targets.yaml").read_text(encoding="utf-8")
    else:
        origin = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{origin}: cannot read the targets file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{origin}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list) or not data["targets"]:
        raise InputError(f"{origin}: expected a mapping with a non-empty 'targets' list")
    targets = [_parse_target(raw, f"{origin}: target {i + 1}") for i, raw in enumerate(data["targets"])]
    seen: set[str] = set()
    for t in targets:
        if t.id in seen:
            raise InputError(f"{origin}: target id {t.id} appears more than once")
        seen.add(t.id)
    return targets
