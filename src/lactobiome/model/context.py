"""What every process is given besides the state: parameters, taxa, scenario, random streams."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from lactobiome.model.parameters import ParameterTable
from lactobiome.model.random import RandomStreams
from lactobiome.model.scenario import Scenario
from lactobiome.model.taxa import TaxaCatalogue


def stream_id(name: str) -> int:
    """A stable random-stream id for a named process or route (CRC-32 of its name)."""
    return zlib.crc32(name.encode())


@dataclass
class SimulationContext:
    """Read-only inputs of the processes for one chunk of dyads."""

    scenario: Scenario
    parameters: ParameterTable
    taxa: TaxaCatalogue
    rng: RandomStreams
    cache: dict[str, np.ndarray] = field(default_factory=dict)

    def p(self, name: str, unit: str) -> float:
        """A parameter value, checked against the unit the caller expects."""
        return self.parameters.value(name, unit)
