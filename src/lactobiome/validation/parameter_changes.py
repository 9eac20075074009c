"""What changed between two parameter tables: values moved, priors changed, rows added or removed.

A fitted or re-sourced value is only defensible inside the range its source gives, so every
moved value is held against the old prior and the new one (:func:`compare_parameters`); a move
outside the new prior is a defect (the shipped table is tested for it), and one outside the old
prior says that the source range itself was changed. ``lactobiome parameters diff OLD NEW``
prints the comparison as a table (:func:`changes_markdown`, :func:`changes_rows`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from lactobiome.model.parameters import Parameter
from lactobiome.validation.priors import prior_bounds

ChangeKind = Literal["moved", "prior changed", "added", "removed"]

CHANGE_ORDER: tuple[ChangeKind, ...] = ("moved", "prior changed", "added", "removed")
"""Order of the groups in a comparison (moves first: they are what a reviewer asks about)."""


@dataclass(frozen=True)
class ParameterChange:
    """One parameter that differs between two tables."""

    name: str
    kind: ChangeKind
    unit: str
    old_value: float | None
    new_value: float | None
    old_prior: str | None
    new_prior: str | None
    source: str
    """The newer row's source (the old one's for a removed parameter)."""
    calibrated_to: tuple[str, ...]
    """Targets the newer row names as fitted to (empty for a removed parameter)."""
    unit_changed: bool = False

    @property
    def within_old_prior(self) -> bool | None:
        """Whether the new value lies in the old row's prior (None: no old row, no value, fixed prior)."""
        return _within(self.new_value, self.old_prior)

    @property
    def within_new_prior(self) -> bool | None:
        """Whether the new value lies in the new row's prior (None: no new row or a fixed prior)."""
        return _within(self.new_value, self.new_prior)


def _within(value: float | None, prior: str | None) -> bool | None:
    if value is None or prior is None:
        return None
    probe = Parameter("probe", value, "1", prior, "", "")
    bounds = prior_bounds(probe.prior_kind, probe.prior_args)
    if bounds is None:
        return None
    return bounds[0] <= value <= bounds[1]


def compare_parameters(old: Mapping[str, Parameter], new: Mapping[str, Parameter]) -> list[ParameterChange]:
    """Every parameter whose value or prior differs between ``old`` and ``new``, or that only one has.

    Parameters
    ----------
    old, new
        Parameter tables (:func:`lactobiome.model.parameters.load_parameters`), e.g. the table
        before a calibration and the one it wrote.

    Returns
    -------
    list of ParameterChange
        Grouped in :data:`CHANGE_ORDER`, by name within a group. A parameter whose value and prior
        are unchanged is left out, whatever its note or source says.
    """
    changes: list[ParameterChange] = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before is None and after is not None:
            changes.append(ParameterChange(name, "added", after.unit, None, after.value, None, after.prior,
                                           after.source, after.calibrated_to))
        elif after is None and before is not None:
            changes.append(ParameterChange(name, "removed", before.unit, before.value, None, before.prior, None,
                                           before.source, ()))
        elif before is not None and after is not None:
            if before.value != after.value:
                kind: ChangeKind = "moved"
            elif before.prior != after.prior:
                kind = "prior changed"
            else:
                continue
            changes.append(ParameterChange(name, kind, after.unit, before.value, after.value, before.prior,
                                           after.prior, after.source, after.calibrated_to,
                                           unit_changed=before.unit != after.unit))
    rank = {kind: i for i, kind in enumerate(CHANGE_ORDER)}
    return sorted(changes, key=lambda c: (rank[c.kind], c.name))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _verdict(flag: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[flag]


CHANGE_COLUMNS: tuple[str, ...] = ("name", "change", "unit", "old value", "new value", "old prior", "new prior",
                                   "in old prior", "in new prior", "calibrated to", "source")
"""Columns of :func:`changes_rows` (and of the Markdown table)."""


def changes_rows(changes: list[ParameterChange]) -> list[dict[str, str]]:
    """The comparison as rows of text, one per change, keyed by :data:`CHANGE_COLUMNS`."""
    rows = []
    for c in changes:
        unit = f"{c.unit} (unit changed)" if c.unit_changed else c.unit
        rows.append(dict(zip(CHANGE_COLUMNS, (
            c.name, c.kind, unit, _number(c.old_value), _number(c.new_value), c.old_prior or "", c.new_prior or "",
            _verdict(c.within_old_prior), _verdict(c.within_new_prior), " ".join(c.calibrated_to), c.source),
            strict=True)))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def changes_markdown(changes: list[ParameterChange], old_label: str, new_label: str) -> str:
    """The comparison as a Markdown page: a count per kind of change, then one table row per change."""
    counts = {kind: sum(c.kind == kind for c in changes) for kind in CHANGE_ORDER}
    outside = [c.name for c in changes if c.within_new_prior is False]
    lines = [f"Parameters of `{new_label}` against `{old_label}`: "
             + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + ".", ""]
    if outside:
        lines += [f"**Outside their own prior (a defect):** {', '.join(outside)}.", ""]
    if not changes:
        return "\n".join([*lines, "No value or prior differs."]) + "\n"
    lines += ["| " + " | ".join(CHANGE_COLUMNS) + " |", "|" + "---|" * len(CHANGE_COLUMNS)]
    for row in changes_rows(changes):
        lines.append("| " + " | ".join(_cell(row[col]) for col in CHANGE_COLUMNS) + " |")
    return "\n".join(lines) + "\n"
