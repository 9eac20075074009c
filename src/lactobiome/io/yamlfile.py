"""YAML documents given as a built-in name or a file path (scenarios, study designs).

Wherever a command takes a scenario or a design it accepts the name of one shipped in
``lactobiome/data/<folder>/`` or the path of a YAML file. :func:`load_yaml_mapping` resolves
the name, reads the file and parses it; every failure is one line naming the file (and, for
malformed YAML, the line and column) and what was expected. An empty file and a top level
that is not a mapping are refused: an empty scenario file must not silently run as the
default.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lactobiome.errors import InputError, LactobiomeError, describe_validation_errors

if TYPE_CHECKING:
    from pydantic import BaseModel

    ModelT = TypeVar("ModelT", bound=BaseModel)

__all__ = ["builtin_yaml_names", "load_yaml_mapping", "parse_yaml_mapping", "validate_mapping"]


def builtin_yaml_names(folder: str) -> list[str]:
    """Names (file stems) of the YAML documents shipped in ``lactobiome/data/<folder>``.

    Parameters
    ----------
    folder
        Sub-folder of the package data (``"scenarios"``, ``"designs"``).

    Returns
    -------
    list of str
        Sorted names.
    """
    root = resources.files("lactobiome.data").joinpath(folder)
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def parse_yaml_mapping(
    text: str, origin: str, what: str, error: type[LactobiomeError] = InputError
) -> dict[str, Any]:
    """Parse YAML ``text`` whose top level must be a non-empty mapping.

    Parameters
    ----------
    text
        The document.
    origin
        Its file name, for messages.
    what
        What the mapping holds, for messages (``"scenario fields"``).
    error
        The error class to raise (a :class:`~lactobiome.errors.LactobiomeError`).

    Returns
    -------
    dict
        The top-level mapping.

    Raises
    ------
    LactobiomeError
        ``error``, one line: malformed YAML (with line and column), an empty document, or a
        top level that is not a mapping.
    """
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or "malformed").split())
        raise error(f"{origin}:{where} not valid YAML ({problem})") from None
    if data is None:
        raise error(f"{origin}: the file is empty; expected a mapping of {what}")
    if not isinstance(data, dict):
        raise error(
            f"{origin}: the top level is a {type(data).__name__}, expected a mapping of {what}"
        )
    return data


def load_yaml_mapping(
    name_or_path: str | Path,
    folder: str,
    what: str,
    error: type[LactobiomeError] = InputError,
) -> tuple[dict[str, Any], str]:
    """Read a built-in YAML document by name, or a YAML file by path.

    Parameters
    ----------
    name_or_path
        A name from :func:`builtin_yaml_names` (``folder``) or a path to a file. A name wins
        over a file of the same name in the working folder.
    folder
        Sub-folder of the package data holding the built-ins (``"scenarios"``).
    what
        What the mapping holds, for messages (``"scenario fields"``); its first word names
        the kind of document (``"neither a built-in scenario ... nor a file"``).
    error
        The error class to raise.

    Returns
    -------
    tuple
        The top-level mapping, and the label to name the document by in messages
        (``"default.yaml"`` for a built-in, the path as given for a file).
    """
    name = str(name_or_path)
    kind = what.split()[0]
    if not isinstance(name_or_path, Path) and name in builtin_yaml_names(folder):
        text = resources.files("lactobiome.data").joinpath(f"{folder}/{name}.yaml").read_text("utf-8")
        return parse_yaml_mapping(text, f"{name}.yaml", what, error), f"{name}.yaml"
    path = Path(name_or_path)
    if not path.is_file():
        if path.is_dir():
            raise error(f"{path}: is a folder, expected a {kind} YAML file")
        raise error(
            f"{name}: neither a built-in {kind} ({', '.join(builtin_yaml_names(folder))}) nor a file"
        )
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raw = path.read_bytes()
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{path}: line {line}: not UTF-8 text; expected a {kind} YAML file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {kind} ({exc.strerror or exc})") from None
    return parse_yaml_mapping(text, str(path), what, error), str(path)


def validate_mapping(
    model: type[ModelT],
    data: object,
    origin: str,
    what: str,
    error: type[LactobiomeError] = InputError,
) -> ModelT:
    """Validate ``data`` into the pydantic ``model``; one-line errors name ``origin``.

    Parameters
    ----------
    model
        The pydantic model class (``Scenario``, ``Design``).
    data
        The parsed document.
    origin
        The file name, for messages.
    what
        What the mapping holds, for messages (``"design fields"``).
    error
        The error class to raise.

    Returns
    -------
    pydantic.BaseModel
        The validated ``model`` instance.

    Raises
    ------
    LactobiomeError
        ``error``: the top level is not a mapping, or the first field that does not validate
        (by its dotted path) and how many more problems there are.
    """
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise error(f"{origin}: expected a mapping of {what} at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(describe_validation_errors(origin, [dict(e) for e in exc.errors()])) from None
