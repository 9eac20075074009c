"""User-facing errors.

Every error a user can cause (bad scenario, malformed table, unknown taxon) is raised as
:class:`LactobiomeError` (or a subclass) with a one-line message that names the file, field or
row and what was expected. The command line prints it without a traceback and exits with
code 2.
"""


class LactobiomeError(Exception):
    """An error caused by user input; the message is one line and says what was expected."""


class InputError(LactobiomeError):
    """Malformed or inconsistent input data (tables, metadata, scenario files)."""


class LactobiomeWarning(UserWarning):
    """Something in the input was set aside or changed (a sample with no reads, a day past the
    horizon); the command line prints it as one ``lactobiome: warning:`` line on stderr."""


class ScenarioError(LactobiomeError):
    """A scenario that does not validate against the schema."""


def describe_validation_errors(origin: str, errors: list[dict]) -> str:
    """One line for a list of pydantic errors: the first, named by file and field, plus a count.

    ``errors`` is ``pydantic.ValidationError.errors()``; taking the list keeps this module
    free of pydantic.
    """
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
    plain = not isinstance(first.get("input"), dict | list)
    if first["type"] not in ("missing", "extra_forbidden", "value_error") and "input" in first and plain:
        message = f"{message} (got {first['input']!r})"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{origin}: {where}: {message}{more}"
