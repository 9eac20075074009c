"""Tables are written with enough precision to read back and none of the float's noise digits."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from lactobiome.io import TABLE_FLOAT_FORMAT

NUMBER = re.compile(r"^-?(\d+)(?:\.(\d+))?(?:e[+-]\d+)?$")


def _significant_digits(token: str) -> int | None:
    match = NUMBER.match(token)
    if match is None:
        return None
    digits = (match.group(1) + (match.group(2) or "")).lstrip("0")
    return len(digits)


def _check_written(text: str, frame: pd.DataFrame, name: str) -> None:
    """Every number in ``text`` has at most 6 significant digits; whole floats print whole."""
    cells = [cell for line in text.splitlines()[1:] for cell in line.split("\t")]
    widest = max((d for d in map(_significant_digits, cells) if d is not None), default=0)
    assert widest <= 6, f"{name}: a number with {widest} significant digits"
    assert not [c for c in cells if c.endswith(".0")], f"{name}: whole numbers written as floats"
    numeric = frame.select_dtypes("number")
    assert not numeric.empty, name


@pytest.fixture(scope="module")
def observation():
    import lactobiome as lb
    from lactobiome.observation.design import Design
    from lactobiome.scenarios import load_scenario

    ds = lb.simulate(load_scenario("default", {"cohort": {"dyads": 4, "days": 30}, "sampling": {"days": [30]}}))
    design = Design.model_validate({"name": "one_visit", "samples": [
        {"type": "infant_stool", "role": "sink", "days": [30]}, {"type": "milk", "role": "source", "days": [30]}]})
    return lb.observe(ds, design, depth=2000)


def test_observation_tables_read_back_to_six_significant_digits(tmp_path, observation):
    from lactobiome.io.observed import write_observation

    write_observation(observation, tmp_path)
    for name, frame, index in (("metadata.txt", observation.metadata, 0), ("truth.tsv", observation.truth, None),
                               ("culture.tsv", observation.culture, 0), ("panel.tsv", observation.panel, None)):
        text = (tmp_path / name).read_text()
        _check_written(text, frame, name)
        back = pd.read_csv(tmp_path / name, sep="\t", index_col=index, keep_default_na=False, na_values=["NA", ""])
        numeric = frame.select_dtypes("number").columns
        np.testing.assert_allclose(back[numeric].to_numpy(float), frame[numeric].to_numpy(float), rtol=5e-6,
                                   err_msg=name)


def test_track_and_validation_tables_use_the_same_format(tmp_path):
    from lactobiome.validation.report import write_csv

    table = pd.DataFrame({"id": ["A01"], "model": [3.4149733479708178], "n": [2717], "share": [0.07995694925590188]})
    path = write_csv(table, tmp_path / "v.csv")
    assert path.read_text().splitlines()[1] == "A01,3.41497,2717,0.0799569"
    assert TABLE_FLOAT_FORMAT % 20910077812.513714 == "2.09101e+10" and TABLE_FLOAT_FORMAT % 490.0 == "490"
