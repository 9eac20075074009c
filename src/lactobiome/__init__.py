"""lactobiome: the maternal–infant milk microbiome and mammary immune system of a dyad.

A research and teaching tool. It never gives medical advice.

The notebook API::

    import lactobiome as lb
    ds = lb.simulate("default", dyads=200, days=120, seed=1)   # xarray.Dataset: the truth
    obs = lb.observe(ds, "pannaraj2017")                       # what a study would measure
    shares = lb.track(obs.counts, obs.metadata)                # source tracking
    table = lb.validate(ds)                                    # against published figures
    run, tables, _ = lb.trial("hurtado2017", n_per_arm=50)     # an in-silico trial

Importing the package sets no environment variable; the ``lactobiome`` command sets
``OMP_WAIT_POLICY=passive`` for its own process (see :mod:`lactobiome.cli`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lactobiome.errors import LactobiomeError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from lactobiome.api import observe, simulate, trial, validate
    from lactobiome.tracking.core import track

# public functions, imported on first use so that ``import lactobiome`` stays light
_LAZY: dict[str, tuple[str, str]] = {
    "simulate": ("lactobiome.api", "simulate"),
    "observe": ("lactobiome.api", "observe"),
    "validate": ("lactobiome.api", "validate"),
    "trial": ("lactobiome.api", "trial"),
    "track": ("lactobiome.tracking.core", "track"),
}

__all__ = ["LactobiomeError", "__version__", "observe", "simulate", "track", "trial", "validate"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lactobiome' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
