"""``lactobiome compile``: the warm-up calls every kernel with the signatures real runs use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lactobiome.cli import main
from lactobiome.warmup import compile_kernels

# In a fresh interpreter (no kernel called yet): warm up, note each kernel's signatures, then
# run what users run (every built-in scenario for five weeks, other cohort and chunk sizes,
# the tracker with its other input options) and note them again.
_COVERAGE = r"""
import json
import warnings

import numpy as np

from lactobiome.model.engine import run_chunk
from lactobiome.scenarios import builtin_names, load_scenario
from lactobiome.simulation import prepare
from lactobiome.tracking import core, engine, feast, sourcetracker
from lactobiome.tracking.core import track
from lactobiome.warmup import (_tracking_frames, dispatchers, kernel_signatures, warm_model,
                               warm_published, warm_tracker)

tracking = [core, engine, feast, sourcetracker]
warm_model()
warm_tracker()
warm_published()
before = {**kernel_signatures(), **kernel_signatures(tracking)}
warm_model(builtin_names(), days=35)
for dyads in (1, 4):
    scenario = load_scenario("default", {"cohort": {"dyads": dyads, "days": 8}})
    parameters, taxa = prepare(scenario)
    run_chunk(scenario, parameters, taxa, np.arange(dyads) + 10)
counts, metadata = _tracking_frames()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    track(counts / counts.sum(), metadata, bootstrap=3, relative=True)
    track(counts, metadata, bootstrap=3, by_sample=True, rarefy=True)
    track(counts, metadata, method="feast", rarefy=500)
after = {**kernel_signatures(), **kernel_signatures(tracking)}
print(json.dumps({"before": before, "after": after}))
"""


def test_the_warm_up_compiles_every_signature_that_runs_use():
    run = subprocess.run([sys.executable, "-c", _COVERAGE], capture_output=True, text=True, check=True,
                         env={**os.environ, "NUMBA_NUM_THREADS": "1"})
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    model = [k for k in seen["before"] if k.startswith("lactobiome.model.")]
    assert len(model) >= 5  # the route, immigration, growth and whole-site kernels at least
    assert any(k.startswith("lactobiome.tracking.engine.") for k in seen["before"])
    assert seen["after"] == seen["before"]  # nothing compiled after the warm-up


def test_compile_command_fills_the_cache_and_reports_each_group(capsys):
    assert main(["compile", "--only", "published", "--processes", "1"]) == 0
    err = capsys.readouterr().err
    assert "published:" in err and "kernels cached:" in err


def test_an_unknown_group_is_refused():
    with pytest.raises(ValueError, match="unknown kernel group"):
        compile_kernels(["model", "gpu"])
