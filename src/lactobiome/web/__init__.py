"""The local explorer (``lactobiome serve``): a scenario form, background runs, the report's figures.

See :mod:`lactobiome.web.server` for the routes and limits and :mod:`lactobiome.web.forms`
for the form generated from the scenario schema.
"""

from lactobiome.web.server import Limits, is_loopback, make_server

__all__ = ["Limits", "is_loopback", "make_server"]
