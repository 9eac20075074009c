"""Where the real data sets for tests live (``../shared/data``), and how tests ask for them.

A test that needs a shared file calls :func:`require`: it skips, saying what is missing,
when the file is absent, except under ``CI=true``, where a missing file fails the test (a
CI run that silently skipped the real-data tests would pass for the wrong reason).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require(path: Path) -> Path:
    """``path`` if it exists; otherwise skip the test (fail it under ``CI=true``).

    Parameters
    ----------
    path
        A file or folder under :data:`SHARED`.

    Returns
    -------
    pathlib.Path
        ``path``, unchanged.
    """
    if path.exists():
        return path
    message = f"shared data not found at {path} (see ../shared/data/README.md)"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message)
