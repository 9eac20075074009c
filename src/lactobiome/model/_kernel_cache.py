"""Numba's on-disk kernel cache, checked against every model source file.

Numba reuses a cached kernel as long as the kernel's own source file is unchanged. The model's
kernels inline functions from other modules (the random draws of ``random.py``, helpers of
``state.py``), so an edit there alone left the old compiled code in use, silently: the route
and growth kernels once kept the previous normal deviates after ``random.py`` changed. This
locator adds a digest of the model's Numba sources (the only code a kernel can inline) to the
stamp Numba compares, so an edit to any of them recompiles every model kernel once.

It is registered when ``lactobiome.model`` is imported, before any kernel is defined. Where
the user chose a cache folder (``NUMBA_CACHE_DIR``), or the package folder is read-only,
Numba's own locators apply unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from numba.core import caching

_MODEL = Path(__file__).resolve().parent
# public names since Numba 0.61, underscored before
_IN_TREE = getattr(caching, "InTreeCacheLocator", None) or getattr(caching, "_InTreeCacheLocator", None)
_IMPL = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)


def model_digest() -> str:
    """SHA-256 over the names and contents of the model's sources that use Numba."""
    digest = hashlib.sha256()
    for path in sorted(_MODEL.rglob("*.py")):
        text = path.read_bytes()
        if b"numba" in text:
            digest.update(path.relative_to(_MODEL).as_posix().encode())
            digest.update(text)
    return digest.hexdigest()


if _IN_TREE is not None and _IMPL is not None:

    class ModelSourceCacheLocator(_IN_TREE):  # type: ignore[misc, valid-type]  # found at run time
        """In-tree cache locator whose source stamp also covers the other model modules."""

        _digest: str | None = None

        def get_source_stamp(self):
            if ModelSourceCacheLocator._digest is None:
                ModelSourceCacheLocator._digest = model_digest()
            return (super().get_source_stamp(), ModelSourceCacheLocator._digest)

        @classmethod
        def from_function(cls, py_func, py_file):
            from numba.core import config

            if config.CACHE_DIR or not Path(py_file).resolve().is_relative_to(_MODEL):
                return None
            return super().from_function(py_func, py_file)

    if ModelSourceCacheLocator not in _IMPL._locator_classes:
        _IMPL._locator_classes.insert(0, ModelSourceCacheLocator)



def uncached_kernels(kernels: Iterable[Any]) -> list[str]:
    """Names of those Numba kernels (dispatchers with ``cache=True``) that have no usable cache entry.

    A kernel with an empty or stale index (no entry, or one written for other sources) is
    compiled on its first call; a program can tell its user so before the first run.
    """
    missing = []
    for kernel in kernels:
        index = getattr(getattr(kernel, "_cache", None), "_cache_file", None)
        if index is None:
            continue
        try:
            empty = not index._load_index()
        except Exception:  # an unreadable index is recompiled by Numba too
            empty = True
        if empty:
            missing.append(f"{kernel.py_func.__module__}.{kernel.py_func.__name__}")
    return missing
