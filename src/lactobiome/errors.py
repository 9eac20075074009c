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


class ScenarioError(LactobiomeError):
    """A scenario that does not validate against the schema."""
