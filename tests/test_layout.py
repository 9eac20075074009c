"""The package's layering: the model and the tracker import no I/O, CLI, plotting or web code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lactobiome

PACKAGE = Path(lactobiome.__file__).parent

# package -> modules it must never import (directly or by a function-level import)
FORBIDDEN = {
    "model": ("lactobiome.io", "lactobiome.cli", "lactobiome.validation", "lactobiome.observation",
              "lactobiome.tracking", "lactobiome.api", "lactobiome.simulation", "click", "tqdm", "xarray",
              "matplotlib", "dask", "netCDF4", "h5py"),
    "tracking": ("lactobiome.io", "lactobiome.cli", "click"),
    "validation": ("lactobiome.cli", "click"),
}
FORBIDDEN["model"] += ("plotly", "playwright", "lactobiome.report", "lactobiome.web", "http.server")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_what_they_may(package):
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files, package
    offences = [f"{path.relative_to(PACKAGE)} imports {name}"
                for path in files for name in sorted(_imports(path))
                if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[package])]
    assert not offences, offences


def test_the_check_sees_a_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from lactobiome.io.tables import read_table\n")
    assert "lactobiome.io.tables" in _imports(sample)
