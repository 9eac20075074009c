"""The registry of measurements: what each computes, from which dataset variables.

Every measurement module registers its functions with a :class:`Registrar` for its system
(the ``system`` of the targets it serves in ``data/targets.yaml``), declaring the variables
of the simulation result it reads (``needs``). :func:`measure` checks them before it runs a
measurement, so a result without one gives a one-line :class:`~lactobiome.errors.InputError`
rather than a traceback deep inside a measurement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import xarray as xr

from lactobiome.errors import InputError
from lactobiome.validation.statistics import Measurement, Sample, bootstrap

MeasureFunction = Callable[[xr.Dataset], Sample | Measurement]
"""A measurement: per-dyad rows of a result (or a finished value)."""


class Unmeasurable(Exception):
    """Raised inside a measurement when the cohort cannot give the figure (the message says why)."""


@dataclass(frozen=True)
class Measure:
    """A registered measurement: what it computes, its system, the variables it reads, its function."""

    key: str
    description: str
    system: str
    needs: tuple[str, ...]
    function: MeasureFunction = field(repr=False)


MEASURES: dict[str, Measure] = {}
"""Registry of measurements by key."""


class Registrar:
    """Registers the measurements of one system: ``@register(key, description, needs=(...))``."""

    def __init__(self, system: str) -> None:
        self.system = system

    def __call__(self, key: str, description: str, needs: Iterable[str]
                 ) -> Callable[[MeasureFunction], MeasureFunction]:
        """A decorator registering ``function`` under ``key``.

        Parameters
        ----------
        key
            Registry key (what a target's ``measure`` names); must be new.
        description
            What the measurement computes, in one sentence.
        needs
            Variables of the simulation result the measurement reads (data variables or
            coordinates, by their names in the dataset).
        """
        wanted = tuple(dict.fromkeys(needs))
        if not wanted:
            raise ValueError(f"measurement {key!r} declares no variables")

        def wrap(function: MeasureFunction) -> MeasureFunction:
            if key in MEASURES:
                raise ValueError(f"measurement {key!r} is registered twice")
            MEASURES[key] = Measure(key, description, self.system, wanted, function)
            return function

        return wrap


def missing_variables(ds: xr.Dataset, key: str) -> list[str]:
    """Variables that measurement ``key`` needs and ``ds`` does not have."""
    return [name for name in MEASURES[key].needs if name not in ds.variables]


def check_needs(ds: xr.Dataset, key: str, target: str | None = None, source: str | None = None) -> None:
    """Raise a one-line error when ``ds`` lacks a variable that measurement ``key`` needs.

    Parameters
    ----------
    ds
        A simulation result.
    key
        Registry key of the measurement.
    target
        Id of the target being measured (named in the message when given).
    source
        The file ``ds`` came from (named in the message; ``ds.encoding["source"]`` or "the
        result" when None).

    Raises
    ------
    InputError
        A needed variable is missing; the message names the target, the variable(s) and
        the file.
    """
    missing = missing_variables(ds, key)
    if not missing:
        return
    origin = source or str(ds.encoding.get("source") or "the simulation result")
    what = f"target {target} (measurement {key})" if target else f"measurement {key}"
    names = ", ".join(repr(name) for name in missing)
    plural = "s" if len(missing) > 1 else ""
    raise InputError(f"{origin}: {what} needs the variable{plural} {names}, which the result does not have")


def measure(ds: xr.Dataset, key: str, n_boot: int = 200, seed: int = 0) -> Measurement:
    """Run the registered measurement ``key`` on ``ds``.

    Parameters
    ----------
    ds
        A simulation result.
    key
        Registry key.
    n_boot
        Bootstrap resamples for the 95% interval (0: the value alone).
    seed
        Seed of the resampling.

    Returns
    -------
    Measurement
        NaN with the reason when the cohort cannot give the figure.

    Raises
    ------
    InputError
        ``key`` is not registered, or ``ds`` lacks a variable the measurement needs.
    """
    if key not in MEASURES:
        raise InputError(f"measurement {key!r} is not in the registry; known: {', '.join(sorted(MEASURES))}")
    check_needs(ds, key)
    try:
        out = MEASURES[key].function(ds)
    except Unmeasurable as exc:
        return Measurement(math.nan, reason=str(exc))
    if isinstance(out, Measurement):
        return out
    return bootstrap(out, n_boot, seed)
