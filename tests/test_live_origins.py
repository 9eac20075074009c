"""Kernels skip the (site, origin) pairs no route fills: same results, and a loud stray."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

from lactobiome.model import engine
from lactobiome.model._kernel_cache import uncached_kernels
from lactobiome.model.routes import ROUTES, live_origins
from lactobiome.model.sites import ORIGIN_INDEX, ORIGINS, SITE_INDEX, SITES
from lactobiome.model.state import origin_lists
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare


def test_live_origins_cover_every_route_and_no_site_holds_its_own_tag():
    live = live_origins()
    assert live.shape == (len(SITES), len(ORIGINS))
    for route in ROUTES:
        if route.kind in ("move", "immigration"):
            assert live[SITE_INDEX[route.receiver], ORIGIN_INDEX[route.donor]], route.name
    assert not any(live[SITE_INDEX[s], ORIGIN_INDEX[s]] for s in SITES)
    lists, counts = origin_lists(live)
    for s in range(len(SITES)):
        assert list(lists[s, : counts[s]]) == list(np.flatnonzero(live[s]))


@pytest.mark.parametrize("name", ["default", "maternal_probiotic"])
def test_skipping_empty_origins_gives_bit_identical_cohorts(name, monkeypatch):
    scenario = load_scenario(name, {"cohort": {"dyads": 12, "days": 25}})
    parameters, taxa = prepare(scenario)
    ids = np.arange(12)
    narrowed = engine.run_chunk(scenario, parameters, taxa, ids)
    monkeypatch.setattr(engine, "live_origins", lambda: np.ones((len(SITES), len(ORIGINS)), dtype=bool))
    full = engine.run_chunk(scenario, parameters, taxa, ids)
    assert np.array_equal(narrowed.abundance, full.abundance)
    for variable, values in full.panel.items():
        assert np.array_equal(narrowed.panel[variable], values, equal_nan=True), variable


def test_cells_where_no_route_brings_them_stop_the_run_with_the_site_and_origin():
    live = live_origins()
    abundance = np.zeros((2, len(SITES), 3, len(ORIGINS)), dtype=np.float32)
    engine._check_live_origins(abundance, live, 4)  # all zero: fine
    abundance[1, SITE_INDEX["milk"], 2, ORIGIN_INDEX["milk"]] = 5.0
    with pytest.raises(RuntimeError, match="day 4: cells of origin milk in site milk"):
        engine._check_live_origins(abundance, live, 4)


def test_uncached_kernels_names_a_kernel_until_its_first_call_is_cached(tmp_path, monkeypatch):
    (tmp_path / "tiny_kernel_module.py").write_text(
        "from numba import njit\n\n\n@njit(cache=True)\ndef tiny(x):\n    return x + 1.0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("tiny_kernel_module")
    try:
        assert uncached_kernels([module.tiny]) == ["tiny_kernel_module.tiny"]
        assert module.tiny(1.0) == 2.0
        assert uncached_kernels([module.tiny]) == []
    finally:
        sys.modules.pop("tiny_kernel_module", None)
