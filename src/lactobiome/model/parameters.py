"""The parameter table: every number the model uses, with its unit, prior and source.

The table is a CSV file shipped in the package (``data/parameters.csv``) with the columns
``name, value, unit, prior, source, note, calibrated_to``. Units come from a fixed vocabulary and are checked
twice: when the table is loaded (the unit must be known) and when code reads a value (the unit
the code expects must equal the table's). ``source`` is a citation or the word
``assumption``; the note says why. ``calibrated_to`` names (space-separated) the validation
targets a fitted value was chosen for; it is empty for a value read from its source, and a
table without the column (the older six-column layout) has it empty throughout.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from lactobiome.errors import InputError

UNITS: frozenset[str] = frozenset(
    {
        "1",  # dimensionless (ratio, weight, multiplier)
        "fraction",  # a share in [0, 1]
        "probability",
        "cells",
        "cells/mL",
        "cells/day",
        "mL",
        "mL/day",
        "g/L",
        "mmol/L",
        "day",
        "1/day",
        "1/feed",
        "1/ejection",
        "feeds/day",
        "ejections/feed",
        "log10",
        "CFU/day",
        "1/(g/L)",
        "g/day",
        "week",
    }
)
"""Units a parameter may carry."""

_PRIOR = re.compile(r"^(fixed|uniform|loguniform|normal|lognormal|beta)(\((.*)\))?$")
_TARGET_ID = re.compile(r"[A-Z][0-9]{2}[a-z]?")
_PRIOR_ARITY = {"fixed": 0, "uniform": 2, "loguniform": 2, "normal": 2, "lognormal": 2, "beta": 2}
_COLUMNS = ("name", "value", "unit", "prior", "source", "note", "calibrated_to")
_LEGACY_COLUMNS = _COLUMNS[:-1]


@dataclass(frozen=True)
class Parameter:
    """One row of the parameter table."""

    name: str
    value: float
    unit: str
    prior: str
    source: str
    note: str
    calibrated_to: tuple[str, ...] = ()
    """Ids of the validation targets the value was fitted to (empty: taken from its source)."""

    @property
    def prior_kind(self) -> str:
        """The distribution family of the prior (``fixed``, ``uniform``, ...)."""
        return self.prior.split("(")[0]

    @property
    def prior_args(self) -> tuple[float, ...]:
        """The prior's numeric arguments."""
        match = _PRIOR.match(self.prior)
        if match is None or not match.group(3):
            return ()
        return tuple(float(x) for x in match.group(3).split(","))


class ParameterTable(Mapping[str, Parameter]):
    """An immutable, unit-checked set of parameters.

    Read values with :meth:`value`, which takes the unit the caller expects; as a mapping
    (``table[name]``, ``table.get(name)``) it gives the whole :class:`Parameter` row.
    """

    def __init__(self, rows: Mapping[str, Parameter], origin: str = "<memory>") -> None:
        self._rows = dict(rows)
        self.origin = origin

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._rows[name]
        except KeyError:
            raise InputError(f"{self.origin}: unknown parameter {name!r}") from None

    def __contains__(self, name: object) -> bool:
        # Mapping's own test looks the name up and expects KeyError; the lookup here raises a
        # user-facing InputError instead, so membership and get() are answered from the rows
        return name in self._rows

    def get(self, name: str, default: Any = None) -> Any:
        """The row of ``name``, or ``default`` when the table has no such parameter."""
        return self._rows.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def value(self, name: str, unit: str) -> float:
        """The value of ``name``, checking that its unit is ``unit``.

        Raises
        ------
        InputError
            If the parameter is unknown or carries another unit.
        """
        row = self[name]
        if row.unit != unit:
            raise InputError(
                f"{self.origin}: parameter {name!r} has unit {row.unit!r}, the model expects {unit!r}"
            )
        return row.value

    def with_values(self, overrides: Mapping[str, float], origin: str = "scenario") -> ParameterTable:
        """A copy with some values replaced (names must exist; values are range-checked)."""
        rows = dict(self._rows)
        for name, value in overrides.items():
            if name not in rows:
                raise InputError(f"{origin}: parameters.{name}: unknown parameter")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InputError(f"{origin}: parameters.{name}: expected a number, got {value!r}") from None
            _check_value(rows[name].unit, number, f"{origin}: parameters.{name}")
            rows[name] = replace(rows[name], value=number)
        return ParameterTable(rows, self.origin)

    def digest(self) -> str:
        """SHA-256 of the names, values and units, to record how a result was made."""
        h = hashlib.sha256()
        for name in sorted(self._rows):
            row = self._rows[name]
            h.update(f"{name}={row.value!r}[{row.unit}]\n".encode())
        return h.hexdigest()


def _check_value(unit: str, value: float, where: str) -> None:
    if not math.isfinite(value):
        raise InputError(f"{where}: expected a finite number, got {value!r}")
    if unit in ("fraction", "probability") and not 0.0 <= value <= 1.0:
        raise InputError(f"{where}: expected a {unit} in [0, 1], got {value!r}")
    if unit not in ("log10", "1") and value < 0.0:
        raise InputError(f"{where}: expected a non-negative value in {unit}, got {value!r}")


def load_parameters(path: str | Path | None = None) -> ParameterTable:
    """Load and validate a parameter table.

    Parameters
    ----------
    path
        A CSV file with the columns ``name, value, unit, prior, source, note, calibrated_to``
        (or the first six only); the table shipped in the package when omitted.

    Raises
    ------
    InputError
        One line naming the file, line and field: a bad header, name, unit, value, prior,
        empty source, or a ``calibrated_to`` entry that is not a target id.
    """
    if path is None:
        text = resources.files("lactobiome.data").joinpath("parameters.csv").read_text("utf-8")
        origin = "parameters.csv"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except FileNotFoundError:
            raise InputError(f"{path}: no such parameter file") from None
        origin = str(path)
    kept: list[int] = []  # line number in the file of each line the csv reader is given

    def content() -> Iterator[str]:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not line.startswith("#"):
                kept.append(number)
                yield line

    reader = csv.DictReader(content())
    if tuple(reader.fieldnames or ()) not in (_COLUMNS, _LEGACY_COLUMNS):
        where = f"line {kept[0]}: " if kept else ""
        raise InputError(
            f"{origin}: {where}header must be {','.join(_COLUMNS)} "
            f"(calibrated_to may be left out), got {reader.fieldnames}"
        )
    rows: dict[str, Parameter] = {}
    consumed = reader.line_num  # lines the reader has taken so far (the header's)
    for raw in reader:
        # a record starts on the first line after the previous one (a quoted field may run
        # over several lines); blank and comment lines were never given to the reader
        where = f"{origin}: line {kept[consumed]}"
        consumed = reader.line_num
        name = (raw["name"] or "").strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise InputError(f"{where}: name {name!r} is not a snake_case identifier")
        if name in rows:
            raise InputError(f"{where}: duplicate parameter {name!r}")
        unit = (raw["unit"] or "").strip()
        if unit not in UNITS:
            raise InputError(f"{where} ({name}): unknown unit {unit!r}; known: {sorted(UNITS)}")
        try:
            value = float(raw["value"])
        except (TypeError, ValueError):
            raise InputError(f"{where} ({name}): value {raw['value']!r} is not a number") from None
        _check_value(unit, value, f"{where} ({name})")
        prior = (raw["prior"] or "").replace(" ", "")
        match = _PRIOR.match(prior)
        if match is None:
            raise InputError(f"{where} ({name}): prior {prior!r} is not one of {sorted(_PRIOR_ARITY)}")
        n_args = len(match.group(3).split(",")) if match.group(3) else 0
        if n_args != _PRIOR_ARITY[match.group(1)]:
            raise InputError(f"{where} ({name}): prior {prior!r} needs {_PRIOR_ARITY[match.group(1)]} numbers")
        source = (raw["source"] or "").strip()
        if not source:
            raise InputError(f"{where} ({name}): source is empty; cite one or write 'assumption'")
        fitted = tuple((raw.get("calibrated_to") or "").split())
        bad = [t for t in fitted if not _TARGET_ID.fullmatch(t)]
        if bad:
            raise InputError(f"{where} ({name}): calibrated_to {bad[0]!r} is not a target id (e.g. D11, F07b); "
                             "separate ids with spaces")
        rows[name] = Parameter(name, value, unit, prior, source, (raw["note"] or "").strip(), fitted)
    return ParameterTable(rows, origin)
