"""``lactobiome report``: sections, values through the validation pipeline, offline page, errors."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

pytest.importorskip("plotly")

import lactobiome as lb
from lactobiome.cli import main
from lactobiome.errors import InputError
from lactobiome.io.dataset import write_atomic
from lactobiome.report import DISCLAIMER, build_sections, write_report
from lactobiome.report.figures import PANEL, target_days
from lactobiome.validation import load_targets
from lactobiome.validation.cohort import model_values

SECTIONS = ["cohort", "composition", "provenance", "panel", "mastitis"]


@pytest.fixture(scope="module")
def ds():
    return lb.simulate(dyads=40, days=35, seed=4)


@pytest.fixture(scope="module")
def result_file(ds, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "cohort.nc"
    write_atomic(ds, path)
    return path


@pytest.fixture(scope="module")
def validation_csv(ds, tmp_path_factory):
    path = tmp_path_factory.mktemp("validation") / "validation.csv"
    lb.validate(ds, bootstrap=0).to_csv(path, index=False)
    return path


def test_page_is_self_contained_with_disclaimer_first(ds, validation_csv, tmp_path):
    out = write_report(ds, tmp_path / "r.html", validation=validation_csv)
    page = out.read_text("utf-8")
    assert page.count("Plotly=") >= 1 and page.count("<script>") == 2  # plotly.js once + the drawing script
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page), "no external resource"
    disclaimer = page.index(DISCLAIMER)
    for key in [*SECTIONS, "validation"]:
        assert page.index(f'<section id="{key}">') > disclaimer
    captions = re.findall(r'<div class="caption"><p>(.+?)</p><p>(.+?)</p></div>', page)
    assert len(captions) == len(SECTIONS) + 1 and all(a and b for a, b in captions)


def test_provenance_points_are_the_validation_values(ds):
    targets = {t.id: t for t in load_targets()}
    section = next(s for s in build_sections(ds) if s.key == "provenance")
    expected = model_values(ds, [targets["E01"], targets["E02"]])
    diamonds = [t.y[0] for t in section.figure.data if t.marker.symbol == "diamond"]
    assert diamonds == pytest.approx([expected["E01"], expected["E02"]])
    bands = [(s.y0, s.y1) for s in section.figure.layout.shapes]
    assert bands == [(targets[i].low, targets[i].high) for i in ("E01", "E02")]
    # E01 and E02 are measured through Pannaraj's pipeline: the model's truth stands beside them
    from lactobiome.validation.verdicts import validate_dataset

    table = validate_dataset(ds, [targets["E01"], targets["E02"]], n_boot=0).set_index("id")
    circles = [t.y[0] for t in section.figure.data if t.marker.symbol == "circle-open"]
    assert circles == pytest.approx([table.loc["E01", "truth_value"], table.loc["E02", "truth_value"]])
    assert circles[0] > diamonds[0]  # the truth counts milk-borne cells the pipeline cannot see


def test_panel_median_is_the_median_of_feeding_dyads(ds):
    section = next(s for s in build_sections(ds) if s.key == "panel")
    medians = [t for t in section.figure.data if t.line.color == "#1a237e"]
    assert len(medians) == len(PANEL)
    names = list(PANEL)
    day = 20
    breastfed = ds["breast_milk_share"].values > 0
    for name, trace in zip(names, medians, strict=True):
        values = ds[name].sel(day=day).values[breastfed]
        if name != "milk_volume_ml":
            values = values[ds["milk_volume_ml"].sel(day=day).values[breastfed] > 0]
        assert trace.y[day - 1] == pytest.approx(float(np.median(values)))


def test_panel_bands_cover_their_target_days_only(ds):
    targets = {t.id: t for t in load_targets()}
    section = next(s for s in build_sections(ds) if s.key == "panel")
    bands = [t for t in section.figure.data if t.fill == "toself" and t.hovertemplate]
    assert bands
    for band in bands:
        target = targets[band.hovertemplate.split(":")[0]]
        first, last = target_days(target)
        assert min(band.x) == first - 0.5 and max(band.x) == min(last, ds.sizes["day"]) + 0.5


def test_composition_shares_are_fractions(ds):
    section = next(s for s in build_sections(ds, dyad=3) if s.key == "composition")
    stacks: dict[str, np.ndarray] = {}
    for trace in section.figure.data:
        y = np.asarray(trace.y, dtype=float)
        assert ((y >= 0) & (y <= 1 + 1e-9)).all()
        stacks[trace.xaxis] = stacks.get(trace.xaxis, 0) + y
    # right column (x2, x4, ...): the named genera of one dyad never add up to more than all its
    # cells (cohort medians, left, may: a median of shares is not a share)
    dyad_axes = [axis for axis in stacks if axis != "x" and int(axis[1:]) % 2 == 0]
    assert len(dyad_axes) == len(stacks) // 2
    assert all((stacks[a] <= 1 + 1e-6).all() for a in dyad_axes)


def test_mastitis_onsets_use_the_episode_definition(ds):
    from lactobiome.model.spectrum import episodes, state_codes

    section = next(s for s in build_sections(ds) if s.key == "mastitis")
    histogram = next(t for t in section.figure.data if t.type == "histogram")
    onsets = episodes(state_codes(ds["mastitis_state"].values))["onset_day"]
    assert sorted(histogram.x) == sorted(onsets.tolist())
    # D01 needs days 1-175: this 35-day run cannot measure it, and the figure says so
    assert math.isnan(model_values(ds, [t for t in load_targets() if t.id == "D01"])["D01"])
    assert any("not measurable" in a.text for a in section.figure.layout.annotations)


def test_validation_figure_has_every_target(ds, validation_csv):
    import pandas as pd

    table = pd.read_csv(validation_csv)
    section = next(s for s in build_sections(ds, table, "validation.csv") if s.key == "validation")
    ids = [y for t in section.figure.data for y in t.y]
    assert sorted(ids) == sorted(table["id"].astype(str))
    for trace in section.figure.data:
        verdict = trace.name.split(" (")[0]
        assert int(trace.name.split("(")[1].rstrip(")")) == int((table["verdict"] == verdict).sum())


def test_cli_writes_report(result_file, validation_csv, tmp_path, capsys):
    out = tmp_path / "sub" / "report.html"
    assert main(["report", str(result_file), "--validation", str(validation_csv), "--out", str(out)]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.drop(columns=["verdict"]), "bad.csv: missing column(s) verdict"),
    (lambda t: t.assign(verdict=["maybe"] * len(t)), "bad.csv: row 2: verdict 'maybe'"),
    (lambda t: t.assign(acceptance=["about 3"] * len(t)), "bad.csv: row 2: acceptance 'about 3'"),
])
def test_bad_validation_table_is_one_line_and_keeps_old_report(result_file, validation_csv, tmp_path, capsys,
                                                               edit, message):
    import pandas as pd

    bad = tmp_path / "bad.csv"
    edit(pd.read_csv(validation_csv)).to_csv(bad, index=False)
    out = tmp_path / "report.html"
    out.write_text("previous report")
    assert main(["report", str(result_file), "--validation", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "previous report"


def test_missing_inputs_are_one_line_errors(tmp_path, capsys, result_file):
    assert main(["report", str(tmp_path / "none.nc"), "--out", str(tmp_path / "r.html")]) == 2
    assert "none.nc: no such result" in capsys.readouterr().err
    assert main(["report", str(result_file), "--validation", str(tmp_path / "v.csv"),
                 "--out", str(tmp_path / "r.html")]) == 2
    assert "v.csv: no such validation table" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_result_without_a_variable_names_it(ds, tmp_path):
    with pytest.raises(InputError, match="result lacks mastitis_state, needed for the report's mastitis section"):
        write_report(ds.drop_vars("mastitis_state"), tmp_path / "r.html")


def test_missing_plotly_is_a_one_line_install_hint(ds, tmp_path, monkeypatch):
    import sys

    from lactobiome.errors import LactobiomeError

    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(LactobiomeError, match=r"the report needs Plotly: pip install 'lactobiome\[report\]'"):
        write_report(ds, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_dyad_out_of_range_names_the_option(result_file, tmp_path, capsys):
    assert main(["report", str(result_file), "--dyad", "40", "--out", str(tmp_path / "r.html")]) == 2
    assert "--dyad 40: expected a dyad index from 0 to 39" in capsys.readouterr().err
