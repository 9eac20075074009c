"""The one loader of built-in-or-file YAML documents (scenarios and study designs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lactobiome.errors import InputError, LactobiomeError, ScenarioError
from lactobiome.observation import builtin_designs, load_design
from lactobiome.scenarios import builtin_names, load_scenario

LOADERS: dict[str, tuple[Callable[[str], object], type[LactobiomeError]]] = {
    "scenario": (load_scenario, ScenarioError),
    "design": (load_design, InputError),
}


def _one_line(exc: pytest.ExceptionInfo[LactobiomeError], path: Path) -> str:
    message = str(exc.value)
    assert "\n" not in message and message.startswith(f"{path}:"), message
    return message


@pytest.mark.parametrize("kind", sorted(LOADERS))
@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file_is_refused(tmp_path: Path, kind: str, text: str) -> None:
    load, error = LOADERS[kind]
    path = tmp_path / f"empty_{kind}.yaml"
    path.write_text(text)
    with pytest.raises(error) as exc:
        load(str(path))  # the old loaders ran an empty scenario as the default
    assert "the file is empty; expected a mapping of " in _one_line(exc, path)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@pytest.mark.parametrize(("text", "found"), [("- a\n- b\n", "list"), ("just words\n", "str")])
def test_top_level_must_be_a_mapping(tmp_path: Path, kind: str, text: str, found: str) -> None:
    load, error = LOADERS[kind]
    path = tmp_path / "list.yaml"
    path.write_text(text)
    with pytest.raises(error) as exc:
        load(str(path))
    assert f"the top level is a {found}, expected a mapping of {kind} fields" in _one_line(exc, path)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_malformed_yaml_names_file_and_line(tmp_path: Path, kind: str) -> None:
    load, error = LOADERS[kind]
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ndescription: fine\nsamples: [1, 2\n")
    with pytest.raises(error) as exc:
        load(str(path))
    message = _one_line(exc, path)
    assert " line 4, column 1: not valid YAML (" in message, message


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_unknown_name_lists_the_built_ins(tmp_path: Path, kind: str) -> None:
    load, error = LOADERS[kind]
    names = builtin_names() if kind == "scenario" else builtin_designs()
    with pytest.raises(error, match=rf"no_such_thing: neither a built-in {kind} \({names[0]}, "):
        load("no_such_thing")
    with pytest.raises(error, match=f"is a folder, expected a {kind} YAML file"):
        load(str(tmp_path))
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(error, match=r"latin1.yaml: line 1: not UTF-8 text"):
        load(str(bad))


def test_built_ins_and_files_load_alike(tmp_path: Path) -> None:
    for name in builtin_names():
        assert load_scenario(name).name
    for name in builtin_designs():
        assert load_design(name).name == load_design(name).name
    copy = tmp_path / "mine.yaml"
    copy.write_text("name: mine\ncohort:\n  dyads: 7\n")
    assert load_scenario(str(copy)).cohort.dyads == 7
    bad = tmp_path / "bad_field.yaml"
    bad.write_text("name: mine\ncohort:\n  dyads: 0\n")
    with pytest.raises(ScenarioError, match=r"bad_field.yaml: cohort.dyads: "):
        load_scenario(str(bad))


# --- the parameter table and the taxa catalogue: messages name the file's real lines -----

PARAMETER_HEADER = "name,value,unit,prior,source,note\n"


def test_parameter_errors_give_the_file_line(tmp_path: Path) -> None:
    from lactobiome.model.parameters import load_parameters

    path = tmp_path / "params.csv"
    path.write_text(
        "# a parameter table with comments\n"  # 1
        "\n"  # 2
        + PARAMETER_HEADER  # 3
        + "# the rates\n"  # 4
        "feeds_per_day,10,feeds/day,fixed,assumption,\n"  # 5
        "\n"  # 6
        'note_runs_on,1,1,fixed,assumption,"a note\nover two lines"\n'  # 7-8
        "# a comment before the bad row\n"  # 9
        "bad_unit,1,furlongs,fixed,assumption,\n"  # 10
    )
    with pytest.raises(InputError, match=r"params.csv: line 10 \(bad_unit\): unknown unit 'furlongs'"):
        load_parameters(path)
    path.write_text("# comment\n\nname,value\n")
    with pytest.raises(InputError, match=r"params.csv: line 3: header must be name,value,unit"):
        load_parameters(path)
    path.write_text(PARAMETER_HEADER + "\n\nfeeds_per_day,many,feeds/day,fixed,assumption,\n")
    with pytest.raises(InputError, match=r"params.csv: line 4 \(feeds_per_day\): value 'many'"):
        load_parameters(path)


def test_unknown_taxon_names_the_catalogue_and_close_matches() -> None:
    from lactobiome.model.taxa import load_taxa

    taxa = load_taxa()
    with pytest.raises(InputError) as exc:
        taxa.index("staphylococcus_aureas")
    message = str(exc.value)
    assert "lactobiome taxa" not in message  # no such command
    assert "taxa.csv" in message and "did you mean staphylococcus_aureus" in message
    shipped = message.split("catalogue ", 1)[1].split(" (", 1)[0]
    assert Path(shipped).is_file()  # a file the user can open


def test_taxa_catalogue_errors_count_blank_lines(tmp_path: Path) -> None:
    from importlib import resources

    from lactobiome.model.taxa import load_taxa

    lines = resources.files("lactobiome.data").joinpath("taxa.csv").read_text("utf-8").splitlines()
    lines.insert(2, "")  # a blank line after the first taxon
    lines[4] = lines[4].replace(",true,", ",maybe,", 1)  # the third taxon, now on line 5
    path = tmp_path / "taxa.csv"
    path.write_text("\n".join(lines) + "\n")
    sources = resources.files("lactobiome.data").joinpath("taxa_sources.csv")
    with pytest.raises(InputError, match=r"taxa.csv: row 5 \("):
        load_taxa(path, str(sources))
