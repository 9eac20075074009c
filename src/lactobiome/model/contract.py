"""The process contract: what each process of the one-day step reads and writes.

A process is a step function plus a declaration of the host variables it reads (written
earlier the same day), the host variables it reads as *yesterday's* value (written later in
the day, or by itself), the host variables it writes, the dyad attributes it needs, whether
it multiplies today's growth modifier or reads it, and the per-chunk tables it derives once
from the catalogue and parameters.

:func:`check_processes` checks an ordered list once per run, before any day is simulated:

* a variable read today must be written by an earlier process of the list;
* a variable read as yesterday's must be written by exactly this process or a later one;
* no two processes write one variable;
* every variable written is read by some process or recorded in the daily panel;
* every recorded panel variable has a writer;
* every attribute a process needs is drawn for the dyads;
* every route of the route table that is active in the scenario is carried by a process of
  the list (:mod:`lactobiome.model.routes`);
* growth modifiers are multiplied in before the process that reads them, and read by one.

While the day runs, each process sees the host variables and attributes through a view that
refuses any variable it did not declare (:class:`HostView`), so a declaration cannot drift
from what the code does. Host variables have no defaults: a variable read as yesterday's
starts from the initial value in :data:`HOST_VARIABLES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from lactobiome.errors import LactobiomeError

if TYPE_CHECKING:
    from lactobiome.model.context import SimulationContext
    from lactobiome.model.routes import Phase
    from lactobiome.model.scenario import Scenario
    from lactobiome.model.state import DyadState


class ContractError(LactobiomeError):
    """An ordered process list that breaks the contract (names the variable and processes)."""


@dataclass(frozen=True)
class HostVariable:
    """A host variable: one value per dyad (or per dyad and taxon) for the current day."""

    unit: str
    description: str
    initial: float = 0.0
    """Value before its writer first runs; read only by processes that declare it as yesterday's."""
    per_taxon: bool = False


HOST_VARIABLES: dict[str, HostVariable] = {
    # feeding plan
    "breast_milk_share_today": HostVariable("fraction", "share of the infant's milk that is breast milk today"),
    "solids_fraction": HostVariable("fraction", "complementary foods as a share of a full solid diet (0-1)"),
    # lactation
    "milk_volume_ml": HostVariable("mL/day", "breast milk the infant takes today"),
    "formula_volume_ml": HostVariable(
        "mL/day", "formula the infant takes today: the part of its milk demand not met by breast milk"),
    "milk_production_ml": HostVariable("mL/day", "milk synthesised today"),
    "residual_milk_ml": HostVariable("mL", "milk left in the breast at the end of the day"),
    "stasis": HostVariable("1", "residual milk over breast storage capacity"),
    "feeds_per_day": HostVariable("feeds/day", "feeds today (breast milk or not)"),
    "milk_pool_ml": HostVariable("mL", "volume of the well-mixed ductal milk pool"),
    "secretory_tissue_share": HostVariable(
        "fraction", "secreting alveolar tissue relative to a breast that gives the infant all its milk: sets the "
                    "milk pool and the inflows into milk through the lactocytes (1 = full lactation)", initial=1.0),
    "hmo_g_per_l": HostVariable("g/L", "human milk oligosaccharides in today's milk"),
    "siga_g_per_l": HostVariable("g/L", "secretory IgA in today's milk"),
    "tight_junction_permeability": HostVariable("fraction", "paracellular permeability of the lactocyte junctions"),
    "junction_strain_opening": HostVariable(
        "fraction", "share of the paracellular permeability opened today by strain (stasis, inflammation): the "
                    "pressure-driven part through which milk leaks back into the tissue"),
    "na_k_ratio": HostVariable("1", "milk sodium:potassium ratio"),
    # feeding
    "direct_feeds_per_day": HostVariable("feeds/day", "feeds at the breast today (contact routes)"),
    # infant gut
    "infant_gut_oxygen": HostVariable("fraction", "oxygen in the infant gut lumen (1 = at birth)", initial=1.0),
    "infant_gut_oxygen_consumer_cells": HostVariable(
        "cells", "facultative and aerobic cells of the infant gut at the start of the day (oxygen consumers)"),
    # mammary immunity
    "inflammation": HostVariable("1", "mammary inflammation (1 = clinical mastitis level)"),
    "leucocytes_recruited_per_ml": HostVariable("cells/mL", "leucocytes recruited into milk by inflammation"),
    "pathobiont_per_ml": HostVariable("cells/mL", "pathogenic-potential-weighted bacteria in milk"),
    "somatic_cells_per_ml": HostVariable("cells/mL", "somatic (epithelial, stem and immune) cells in milk"),
    "leucocyte_fraction": HostVariable("fraction", "leucocytes among milk somatic cells"),
    "epithelial_fraction": HostVariable("fraction", "epithelial cells among milk somatic cells"),
    "stem_cell_fraction": HostVariable("fraction", "stem cells among milk somatic cells"),
    "fever": HostVariable("1", "1 where inflammation is above the fever threshold"),
    # entero-mammary immunity
    "siga_specificity": HostVariable(
        "fraction", "share of a taxon's cells milk sIgA targets (first set on day 1)", per_taxon=True),
    # mastitis
    "mastitis_state": HostVariable("1", "mastitis-spectrum state code (lactobiome.model.spectrum)"),
    "mastitis_state_days": HostVariable("day", "days in the current mastitis state"),
    "dysbiosis_days": HostVariable("day", "consecutive days of dysbiotic milk"),
    "ductal_biofilm_per_ml": HostVariable(
        "cells/mL", "cells of the ductal biofilm attached to the duct wall, per mL of the milk pool"),
    "mastitis_this_lactation": HostVariable("1", "1 once an inflammatory episode has occurred (ductal scarring)"),
    "treatment_antibiotic_until": HostVariable("day", "last day of the policy's antibiotic course (0 = none)"),
    "treatment_probiotic_until": HostVariable("day", "last day of the policy's probiotic course (0 = none)"),
    "treatment_emptying_until": HostVariable("day", "last day of frequent emptying (0 = none)"),
    "treatment": HostVariable("1", "bitmask of treatments active today"),
}
"""Every host variable, with its unit and its value before the first day."""

GROWTH_MODIFIER = "growth_modifier"
"""Name of today's growth-rate multiplier (dyad, site, taxon), reset to 1 each day."""


@dataclass(frozen=True)
class Process:
    """One process of the one-day step and what it reads and writes.

    Attributes
    ----------
    name
        Unique name in the process list (also the prefix of its random streams).
    step
        ``step(state, ctx)``; updates the state in place.
    reads
        Host variables written earlier today by another process.
    reads_previous
        Host variables read as yesterday's value (written by this process or a later one).
    writes
        Host variables this process sets today.
    attributes
        Dyad attributes it needs.
    scenario_attributes
        ``f(scenario) -> names`` of further attributes that depend on the scenario (e.g. the
        coverage flag of each of its interventions).
    modifies_growth, reads_growth
        It multiplies today's growth modifier / applies it.
    prepare
        ``prepare(ctx, attributes) -> dict`` of per-chunk arrays (catalogue-derived traits),
        computed once per chunk by the engine and given back read-only as ``ctx.tables[name]``.
    """

    name: str
    step: Callable[[DyadState, SimulationContext], object]
    reads: AbstractSet[str] = field(default_factory=frozenset)
    reads_previous: AbstractSet[str] = field(default_factory=frozenset)
    writes: AbstractSet[str] = field(default_factory=frozenset)
    attributes: AbstractSet[str] = field(default_factory=frozenset)
    scenario_attributes: Callable[[Scenario], Iterable[str]] | None = None
    modifies_growth: bool = False
    reads_growth: bool = False
    prepare: Callable[[SimulationContext, Mapping[str, np.ndarray]], dict[str, np.ndarray]] | None = None

    def __post_init__(self) -> None:
        for kind in ("reads", "reads_previous", "writes", "attributes"):
            object.__setattr__(self, kind, frozenset(getattr(self, kind)))
        unknown = sorted((self.reads | self.reads_previous | self.writes) - HOST_VARIABLES.keys())
        if unknown:
            raise ContractError(f"process {self.name!r} declares unknown host variable(s) {unknown}; "
                                "add them to HOST_VARIABLES with a unit")
        both = sorted(self.reads & self.reads_previous)
        if both:
            raise ContractError(f"process {self.name!r} declares {both} both as today's and yesterday's value")

    def needed_attributes(self, scenario: Scenario) -> frozenset[str]:
        """The dyad attributes this process reads in ``scenario``."""
        extra = self.scenario_attributes(scenario) if self.scenario_attributes is not None else ()
        return frozenset(self.attributes) | frozenset(extra)


def _writers(processes: Sequence[Process]) -> dict[str, list[int]]:
    writers: dict[str, list[int]] = {}
    for i, process in enumerate(processes):
        for variable in process.writes:
            writers.setdefault(variable, []).append(i)
    return writers


def _hint(variable: str, reference: Sequence[Process] | None) -> str:
    if reference is None:
        return ""
    names = [p.name for p in reference if variable in p.writes]
    return f" (the default list has it from {', '.join(repr(n) for n in names)})" if names else ""


def check_processes(
    processes: Sequence[Process],
    scenario: Scenario,
    attributes: Iterable[str],
    recorded: Iterable[str],
    reference: Sequence[Process] | None = None,
    phase: Phase = "postnatal",
) -> None:
    """Check an ordered process list against the contract (see the module docstring).

    Parameters
    ----------
    processes
        The one-day step, in order.
    scenario
        The run's scenario (which routes and interventions are active).
    attributes
        Names of the dyad attributes drawn for the run.
    recorded
        Host variables the engine records in the daily panel.
    reference
        A complete list (the engine's default) used only to name, in an error, the process
        that would provide a missing variable.
    phase
        Which day's step the list is (``postnatal`` or ``prenatal``): the route rows of that
        phase must be carried by it (:attr:`lactobiome.model.routes.Route.phase`).

    Raises
    ------
    ContractError
        On the first breach, naming the variable and the processes involved.
    """
    from lactobiome.model.routes import active_routes

    names = [p.name for p in processes]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ContractError(f"process list names {repeated} more than once")
    writers = _writers(processes)
    for variable, where in writers.items():
        if len(where) > 1:
            raise ContractError(f"host variable {variable!r} is written by both "
                                f"{processes[where[0]].name!r} and {processes[where[1]].name!r}")
    drawn = set(attributes)
    recorded = set(recorded)
    read_anywhere: set[str] = set()
    for i, process in enumerate(processes):
        for variable in sorted(process.reads):
            where = writers.get(variable, [])
            if not where:
                raise ContractError(f"process {process.name!r} reads host variable {variable!r}, "
                                    f"which no process writes{_hint(variable, reference)}")
            if where[0] >= i:
                raise ContractError(f"process {process.name!r} reads today's {variable!r} before "
                                    f"{processes[where[0]].name!r} writes it")
        for variable in sorted(process.reads_previous):
            where = writers.get(variable, [])
            if not where:
                raise ContractError(f"process {process.name!r} reads yesterday's {variable!r}, "
                                    f"which no process writes{_hint(variable, reference)}")
            if where[0] < i:
                raise ContractError(f"process {process.name!r} reads yesterday's {variable!r}, but "
                                    f"{processes[where[0]].name!r} writes it earlier the same day")
        missing = sorted(process.needed_attributes(scenario) - drawn)
        if missing:
            raise ContractError(f"process {process.name!r} needs dyad attribute(s) {missing}, "
                                "which the population does not draw")
        read_anywhere |= process.reads | process.reads_previous
    present = set(names)
    for route in active_routes(scenario, phase):
        if route.process not in present:
            switch = f" (routes.{route.switch} is on)" if route.switch else ""
            raise ContractError(f"route {route.name!r}{switch} is carried by process {route.process!r}, "
                                "which is not in the process list")
    for variable in sorted(recorded):
        if variable not in writers:
            raise ContractError(f"the daily panel records host variable {variable!r}, which no process "
                                f"writes{_hint(variable, reference)}")
    for variable, where in sorted(writers.items()):
        if variable not in read_anywhere and variable not in recorded:
            users = [p.name for p in reference or () if variable in p.reads | p.reads_previous]
            hint = f" (the default list reads it in {', '.join(repr(n) for n in users)})" if users else ""
            raise ContractError(f"host variable {variable!r} written by {processes[where[0]].name!r} is "
                                f"read by no process and not recorded{hint}")
    modifiers = [i for i, p in enumerate(processes) if p.modifies_growth]
    readers = [i for i, p in enumerate(processes) if p.reads_growth]
    if modifiers and not readers:
        appliers = [p.name for p in reference or () if p.reads_growth]
        said = f" (the default list applies it in {', '.join(repr(n) for n in appliers)})" if appliers else ""
        raise ContractError(f"{GROWTH_MODIFIER} is multiplied by "
                            f"{', '.join(repr(processes[i].name) for i in modifiers)} but no process applies it{said}")
    for i in modifiers:
        if readers and i > readers[0]:
            raise ContractError(f"process {processes[i].name!r} multiplies {GROWTH_MODIFIER} after "
                                f"{processes[readers[0]].name!r} has applied it")


class HostStore:
    """All host variables of a chunk: one array per variable, allocated at their initial value."""

    def __init__(self, n_dyads: int, n_taxa: int, variables: Iterable[str] = HOST_VARIABLES) -> None:
        self.values: dict[str, np.ndarray] = {}
        for name in variables:
            spec = HOST_VARIABLES[name]
            shape = (n_dyads, n_taxa) if spec.per_taxon else (n_dyads,)
            self.values[name] = np.full(shape, spec.initial)


class HostView(MutableMapping[str, np.ndarray]):
    """The host variables as one process may see them: only what it declared.

    Reading an undeclared variable, or writing one it does not declare, raises
    :class:`ContractError` naming the process. There is no ``get`` with a default.
    """

    __slots__ = ("_values", "_readable", "_writable", "_process")

    def __init__(self, values: dict[str, np.ndarray], process: Process | None = None) -> None:
        self._values = values
        self._process = process
        self._readable: frozenset[str] | None = None  # None: unrestricted (tests, tools)
        self._writable: frozenset[str] | None = None
        if process is not None:
            self._readable = frozenset(process.reads | process.reads_previous | process.writes)
            self._writable = frozenset(process.writes)

    def __getitem__(self, key: str) -> np.ndarray:
        if self._readable is not None and key not in self._readable:
            name = self._process.name if self._process is not None else "?"
            raise ContractError(f"process {name!r} reads host variable {key!r}, which it does not declare")
        return self._values[key]

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        if self._writable is not None and key not in self._writable:
            name = self._process.name if self._process is not None else "?"
            raise ContractError(f"process {name!r} writes host variable {key!r}, which it does not declare")
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        raise ContractError(f"host variable {key!r} cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str, default: object = None) -> np.ndarray:
        raise ContractError(f"host.get({key!r}, ...): host variables have no defaults; declare the variable "
                            "(reads_previous starts it at its initial value)")


class AttributeView(Mapping[str, np.ndarray]):
    """The dyad attributes as one process may see them: only those it declared."""

    __slots__ = ("_values", "_allowed", "_name")

    def __init__(self, values: Mapping[str, np.ndarray], allowed: AbstractSet[str], process: str) -> None:
        self._values = values
        self._allowed = frozenset(allowed)
        self._name = process

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._allowed:
            raise ContractError(f"process {self._name!r} reads dyad attribute {key!r}, which it does not declare")
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._allowed))

    def __len__(self) -> int:
        return len(self._allowed)
