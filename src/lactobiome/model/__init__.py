"""The dyad model: state, processes, kernels (no I/O, CLI or plotting code)."""

from lactobiome.model import _kernel_cache  # noqa: F401  (before any kernel is defined)
