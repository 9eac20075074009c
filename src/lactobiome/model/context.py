"""What every process is given besides the state: parameters, taxa, scenario, random streams."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from lactobiome.model.parameters import ParameterTable
from lactobiome.model.random import RandomStreams
from lactobiome.model.scenario import Scenario
from lactobiome.model.taxa import TaxaCatalogue


def stream_id(name: str) -> int:
    """A stable random-stream id for a named process or route (CRC-32 of its name)."""
    return zlib.crc32(name.encode())


@dataclass(frozen=True)
class SimulationContext:
    """Read-only inputs of the processes for one chunk of dyads.

    ``tables`` holds, per process name, the arrays that process's ``prepare`` derived once
    for the chunk (catalogue traits, group indices); the engine owns them and they are
    read-only (``ndarray.flags.writeable`` is off).
    """

    scenario: Scenario
    parameters: ParameterTable
    taxa: TaxaCatalogue
    rng: RandomStreams
    tables: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=lambda: MappingProxyType({}))
    unread_sites: frozenset[str] = frozenset()
    """Sites whose cells nothing the run returns depends on (the infant gut of a mother's earlier
    lactation, simulated only for her mastitis): a process may skip work whose only effect is on the
    cells of these sites, and must leave every other site exactly as it would have been. The engine
    admits only sites that no route of the table takes cells from (:func:`lactobiome.model.engine.run_chunk`)."""

    def p(self, name: str, unit: str) -> float:
        """A parameter value, checked against the unit the caller expects."""
        return self.parameters.value(name, unit)

    def table(self, process: str) -> Mapping[str, np.ndarray]:
        """The per-chunk arrays prepared for ``process``."""
        try:
            return self.tables[process]
        except KeyError:
            raise KeyError(f"no prepared tables for process {process!r}; is its prepare() declared?") from None
