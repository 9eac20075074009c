"""Shared test helpers.

Real public data sets (FEAST's examples, SourceTracker2's tiny test, the Blekhman milk and
infant metagenomes) live outside the project, in ``../shared/data`` relative to the
repository root; the package never depends on them. A test that needs them asks the
``shared_data`` fixture for a path::

    def test_reads_feast(shared_data):
        table = read_counts(shared_data("feast_example", "otu_example.txt"))

When the file or folder is missing the test is skipped and the reason names the path. Under
continuous integration (environment variable ``CI=true``) a missing data set is a failure
instead, so a CI run cannot pass by skipping the real-data tests. The rule itself lives in
``tests/shared_data.py`` (``require``), which test modules may also import directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# Numba's OpenMP worker threads should sleep, not spin, between the kernels' parallel regions:
# spinning workers take the core from the thread doing the work when the machine is busy
# (other tests, other users). libgomp reads this once, when the first parallel kernel starts,
# which is after this file is imported; a value already in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from shared_data import SHARED, require  # tests/shared_data.py: the one skip-or-fail rule

SHARED_DATA = SHARED
"""Where the shared data sets are looked for: ``<repository>/../shared/data``."""


def require_shared(*parts: str) -> Path:
    """``SHARED_DATA / parts``; skip the calling test when it is absent (fail under ``CI=true``)."""
    return require(SHARED_DATA.joinpath(*parts))


@pytest.fixture(scope="session")
def shared_data() -> Callable[..., Path]:
    """A function ``shared_data(*parts) -> Path`` into ``../shared/data``.

    ``shared_data()`` is the folder itself. Each call skips the test (fails under ``CI=true``)
    when the requested path does not exist, so ask for the files the test reads.
    """
    return require_shared
