"""Headline figures by role: check targets (out of sample) apart from calibration targets.

A target's role is ``check`` when no parameter value was chosen for it and ``calibration``
when one may have been (see :mod:`lactobiome.validation.targets`). The headline counts each
*measurement* once: targets that hold the model to one measurement key (two published
figures of the same quantity, such as A01/A02) form one group, within only when every one of
its targets is within. Targets of low (or no) confidence stay out of the headline. Over
several seeds the per-target share of seeds within and the worst seed's headline are given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from lactobiome.model.parameters import Parameter
from lactobiome.validation.targets import CALIBRATION, CHECK, Target
from lactobiome.validation.verdicts import OUTSIDE, WITHIN

LOW_CONFIDENCE: frozenset[str] = frozenset({"low", "none"})
"""Confidence levels kept out of the headline figures."""

ALL = "all"
"""Key of the headline over both roles."""


@dataclass(frozen=True)
class Headline:
    """Measurements within and measured, for one role (or all)."""

    within: int
    measured: int

    @property
    def share(self) -> float:
        """Share within (NaN when nothing is measured)."""
        return self.within / self.measured if self.measured else float("nan")

    def text(self) -> str:
        """``w of m within (p%)``."""
        share = f"{100.0 * self.share:.0f}%" if self.measured else "n/a"
        return f"{self.within} of {self.measured} within ({share})"


def in_headline(target: Target) -> bool:
    """Whether ``target`` counts in the headline (measured, confidence not low or none)."""
    return target.measure is not None and (target.confidence or "").lower() not in LOW_CONFIDENCE


def groups(targets: Sequence[Target]) -> dict[str, list[Target]]:
    """Headline targets grouped by the measurement they share (measurement key -> targets)."""
    out: dict[str, list[Target]] = {}
    for t in targets:
        if in_headline(t) and t.measure is not None:
            out.setdefault(t.measure, []).append(t)
    return out


def group_role(members: Sequence[Target]) -> str:
    """``calibration`` when any target of a shared measurement is one (the measurement was fitted)."""
    return CALIBRATION if any(t.role == CALIBRATION for t in members) else CHECK


def headline(table: pd.DataFrame, targets: Sequence[Target]) -> dict[str, Headline]:
    """Measurements within / measured for ``check``, ``calibration`` and ``all``.

    Parameters
    ----------
    table
        A validation table (``id`` and ``verdict`` columns).
    targets
        The targets of the table.

    Returns
    -------
    dict
        :data:`CHECK`, :data:`CALIBRATION` and :data:`ALL` to a :class:`Headline`. A shared
        measurement counts once, within when all its targets are; one with no model value
        in this cohort (``not modelled``, ``beyond horizon``) is not counted as measured.
    """
    verdicts = dict(zip(table["id"].astype(str), table["verdict"].astype(str), strict=True))
    tally = {CHECK: [0, 0], CALIBRATION: [0, 0]}
    for members in groups(targets).values():
        seen = [verdicts.get(t.id, "") for t in members]
        if any(v not in (WITHIN, OUTSIDE) for v in seen):
            continue
        counts = tally[group_role(members)]
        counts[1] += 1
        counts[0] += int(all(v == WITHIN for v in seen))
    out = {role: Headline(w, m) for role, (w, m) in tally.items()}
    out[ALL] = Headline(out[CHECK].within + out[CALIBRATION].within, out[CHECK].measured + out[CALIBRATION].measured)
    return out


def headline_text(figures: Mapping[str, Headline]) -> str:
    """One line: check targets first, then calibration targets, then all."""
    return (f"check targets (out of sample): {figures[CHECK].text()}; calibration targets: "
            f"{figures[CALIBRATION].text()}; all: {figures[ALL].text()} "
            "(measurements counted once; low-confidence targets left out)")


def by_role(table: pd.DataFrame) -> pd.DataFrame:
    """The table with check targets first, then calibration targets (file order within each)."""
    order = table["role"].map({CHECK: 0, CALIBRATION: 1}).fillna(2)
    return table.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order")


def seed_summary(tables: Sequence[pd.DataFrame], targets: Sequence[Target]) -> tuple[pd.Series, dict[str, Headline]]:
    """Per-target share of seeds within, and the worst seed's headline per role.

    Parameters
    ----------
    tables
        One validation table per seed (same targets, same order).
    targets
        The targets.

    Returns
    -------
    tuple
        A Series of the share of seeds within by target id (NaN for a target never
        measured), and per role the :class:`Headline` of the seed with the lowest share.
    """
    if not tables:
        raise ValueError("seed_summary needs at least one table")
    within = pd.concat([t.set_index("id")["verdict"].eq(WITHIN) for t in tables], axis=1)
    measured = pd.concat([t.set_index("id")["verdict"].isin((WITHIN, OUTSIDE)) for t in tables], axis=1)
    share = within.sum(axis=1) / len(tables)
    share[~measured.any(axis=1)] = float("nan")
    per_seed = [headline(t, targets) for t in tables]
    worst = {role: min((h[role] for h in per_seed), key=lambda h: (h.share if h.measured else 2.0))
             for role in (CHECK, CALIBRATION, ALL)}
    return share, worst


def fitted_parameters(parameters: Mapping[str, Parameter]) -> list[Parameter]:
    """Parameters whose table row names the targets they were fitted to (``calibrated_to``)."""
    return [p for p in parameters.values() if p.calibrated_to]
