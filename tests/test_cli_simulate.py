"""``lactobiome simulate`` end to end: files, resume after interruption, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from lactobiome.errors import InputError
from lactobiome.io.dataset import open_result
from lactobiome.model.parameters import load_parameters
from lactobiome.model.taxa import load_taxa
from lactobiome.scenarios import builtin_names, load_scenario
from lactobiome.simulation import simulate_in_memory, simulate_to_file
from lactobiome.summary import provenance_table


def _content(ds: xr.Dataset) -> xr.Dataset:
    """The dataset without the attributes that record when and under which name it was made."""
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in ("date_created", "history", "events_file")}
    return ds

def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lactobiome", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_simulate_writes_a_netcdf_result_and_a_summary(tmp_path):
    out = tmp_path / "run.nc"
    done = run_cli("simulate", "--dyads", "12", "--days", "31", "--seed", "4", "--chunk-size", "5", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "scenario default: 12 dyads x 31 days, seed 4" in done.stdout
    assert "infant_gut" in done.stdout and str(out) in done.stdout
    assert "not medical advice" in done.stdout
    assert not out.with_name("run.nc.parts").exists()
    # the file holds what the model gives for the same scenario and seed, chunked or not
    scenario = load_scenario("default", {"cohort": {"dyads": 12, "days": 31, "seed": 4}})
    expected = simulate_in_memory(scenario)
    with xr.open_dataset(out) as ds:
        assert list(ds["dyad"].values) == list(range(12))
        assert ds.attrs["seed"] == "4"
        np.testing.assert_array_equal(ds["abundance"].values, expected["abundance"].values)
        np.testing.assert_array_equal(ds["milk_volume_ml"].values, expected["milk_volume_ml"].values)
        # booleans survive the NetCDF round trip as booleans with the same values
        assert ds["intrapartum_antibiotics"].dtype == bool
        np.testing.assert_array_equal(ds["intrapartum_antibiotics"].values, expected["intrapartum_antibiotics"].values)
    # the printed shares are those of the written file
    with open_result(out) as ds:
        table = provenance_table(ds)
    assert table.round(3).to_string().splitlines()[1] in done.stdout


def test_same_seed_gives_identical_content_whatever_the_chunk_size(tmp_path):
    results = []
    for size in ("1", "7", "1000"):
        out = tmp_path / f"run{size}.nc"
        done = run_cli("simulate", "--dyads", "9", "--days", "12", "--chunk-size", size, "--out", str(out))
        assert done.returncode == 0, done.stderr
        results.append(xr.load_dataset(out))
    for other in results[1:]:
        xr.testing.assert_identical(_content(results[0]), _content(other))


def test_an_interrupted_run_keeps_finished_chunks_and_resumes(tmp_path):
    scenario = load_scenario("default", {"cohort": {"dyads": 10, "days": 9}})
    out = tmp_path / "resume.nc"
    finished = []

    def stop_after_two(result):
        finished.append(result.dyad_ids.copy())
        if len(finished) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate_to_file(scenario, out, chunk_size=3, progress=False, on_chunk=stop_after_two)
    parts = sorted(p.name for p in (tmp_path / "resume.nc.parts").glob("chunk-*.nc"))
    assert parts == ["chunk-000000.nc", "chunk-000001.nc"]
    assert not out.exists()
    redone = []
    simulate_to_file(scenario, out, chunk_size=3, progress=False, on_chunk=lambda r: redone.append(r.dyad_ids[0]))
    assert redone == [6, 9]  # only the unfinished chunks ran again
    reference = tmp_path / "reference.nc"
    simulate_to_file(scenario, reference, chunk_size=3, progress=False)
    xr.testing.assert_identical(_content(xr.load_dataset(out)), _content(xr.load_dataset(reference)))


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("cohort:\n  dyads: 10\n  colour: blue\n", "cohort.colour"),
        ("cohort:\n  dyads: many\n", "cohort.dyads"),
        ("interventions:\n  - {strain: limosilactobacillus_fermentum_cect5716, route: maternal_oral, cfu_per_day: -5}\n",
         "interventions.0.probiotic.cfu_per_day"),
        ("population:\n  caesarean: 1.5\n", "population.caesarean"),
        ("parameters:\n  no_such_parameter: 1\n", "parameters.no_such_parameter"),
        ("interventions:\n  - {strain: no_such_bug, route: maternal_oral, cfu_per_day: 1e9}\n",
         "interventions.0.strain"),
    ],
)
def test_bad_scenarios_fail_with_one_line_naming_the_file_and_the_field(tmp_path, yaml_text, field):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    done = run_cli("simulate", str(path), "--out", str(tmp_path / "x.nc"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.nc").exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("lactobiome: error: ")
    assert field in lines[0]
    assert "bad.yaml" in lines[0]


def test_unknown_scenario_name_and_bad_out_suffix(tmp_path):
    done = run_cli("simulate", "no_such_scenario")
    assert done.returncode == 2 and "no_such_scenario" in done.stderr and "default" in done.stderr
    done = run_cli("simulate", "--out", str(tmp_path / "x.csv"))
    assert done.returncode == 2 and "x.csv" in done.stderr


def test_scenarios_lists_every_builtin_with_a_description():
    done = run_cli("scenarios")
    assert done.returncode == 0
    lines = done.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == builtin_names()
    # every scenario file shipped in the package is listed, with its own description
    shipped = sorted(p.stem for p in resources.files("lactobiome.data").joinpath("scenarios").iterdir()
                     if p.name.endswith(".yaml"))
    assert sorted(builtin_names()) == shipped
    for line in lines:
        name, description = line.split(maxsplit=1)
        assert description == load_scenario(name).description
        assert len(description.split()) > 2


def test_parameter_table_checks_units_and_sources(tmp_path):
    table = load_parameters()
    assert all(row.source for row in table.values())
    with pytest.raises(InputError, match="feeds_per_day.*unit"):
        table.value("feeds_per_day", "1/day")
    bad = tmp_path / "params.csv"
    bad.write_text("name,value,unit,prior,source,note\nx,1,furlongs,fixed,assumption,\n")
    with pytest.raises(InputError, match=r"params.csv: line 2 \(x\): unknown unit .furlongs."):
        load_parameters(bad)
    bad.write_text("name,value,unit,prior,source,note\nx,-1,cells,fixed,assumption,\n")
    with pytest.raises(InputError, match="non-negative"):
        load_parameters(bad)
    bad.write_text("name,value,unit,prior,source,note\nx,1,cells,fixed,,\n")
    with pytest.raises(InputError, match="source"):
        load_parameters(bad)


def test_taxa_catalogue_is_complete_and_sourced(tmp_path):
    taxa = load_taxa()
    assert len(taxa) >= 30
    for needed in ("staphylococcus_aureus", "staphylococcus_epidermidis", "bifidobacterium_longum_infantis",
                   "limosilactobacillus_fermentum_cect5716", "ligilactobacillus_salivarius_cect5713",
                   "ralstonia_pickettii", "cutibacterium_acnes", "rothia_mucilaginosa", "veillonella_parvula"):
        taxa.index(needed)
    contaminants = taxa["contaminant"]
    assert contaminants.sum() >= 5
    assert (taxa.niche_share[:, contaminants] == 0).all()
    assert len(taxa.sources) == len(taxa) * (len(taxa.table) - 6)
    # a catalogue whose sources miss a trait is refused, naming the trait and taxon
    sources = tmp_path / "sources.csv"
    sources.write_text("taxon,trait,source,note\n*,growth_rate_per_day,assumption,\n")
    with pytest.raises(InputError, match="no source for trait"):
        load_taxa(sources_path=sources)


def test_netcdf_results_are_complete_files(tmp_path):
    # the temp-then-rename write leaves no partial file behind
    out = tmp_path / "a.nc"
    simulate_to_file(load_scenario("default", {"cohort": {"dyads": 3, "days": 3}}), out, progress=False)
    # the mastitis events table is written beside the result (docs/design.md §9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc", "a.nc.events.csv"]
    with xr.open_dataset(out) as ds:
        values = ds["abundance"].values
        assert np.isfinite(values).all() and (values >= 0).all()
        assert values.sum() > 0  # a complete file, not an empty shell
        assert ds.sizes["dyad"] == 3 and ds.sizes["day"] == 3


def test_worker_processes_give_the_same_file(tmp_path):
    scenario = load_scenario("default", {"cohort": {"dyads": 8, "days": 6}})
    serial, parallel = tmp_path / "serial.nc", tmp_path / "parallel.nc"
    simulate_to_file(scenario, serial, chunk_size=3, progress=False)
    simulate_to_file(scenario, parallel, chunk_size=3, progress=False, workers=2)
    xr.testing.assert_identical(_content(xr.load_dataset(serial)), _content(xr.load_dataset(parallel)))


@pytest.mark.parametrize(("ci", "outcome"), [("", "1 skipped"), ("true", "1 failed")])
def test_shared_data_fixture_skips_without_the_data_and_fails_under_ci(tmp_path, ci, outcome):
    """tests/conftest.py: a missing ../shared/data skips a test, except under CI=true."""
    project = tmp_path / "project" / "tests"
    project.mkdir(parents=True)  # no ../shared/data beside this copy
    for helper in ("conftest.py", "shared_data.py"):
        (project / helper).write_text(Path(__file__).with_name(helper).read_text())
    (project / "test_needs_data.py").write_text(
        "def test_needs(shared_data):\n    shared_data('feast_example', 'otu_example.txt')\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = ci
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(project)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert outcome in done.stdout, done.stdout
    assert "shared data not found at" in done.stdout and "otu_example.txt" in done.stdout
    if ci:
        assert "CI=true requires" in done.stdout
