"""Observation models (docs/design.md §10): turn simulated state into the data a study collects.

:mod:`~lactobiome.observation.models` holds the pure array functions (amplicon and shotgun
reads, kit contamination, culture, qPCR, panel noise); :mod:`~lactobiome.observation.design`
the study designs; :func:`observe` applies a design to a simulated cohort.
"""

from __future__ import annotations

from lactobiome.observation.design import Design, builtin_designs, load_design
from lactobiome.observation.observe import Observation, observe

__all__ = ["Design", "Observation", "builtin_designs", "load_design", "observe"]
