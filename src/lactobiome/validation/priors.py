"""The ranges of the parameter priors that screening and calibration explore."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from lactobiome.model.parameters import Parameter


def prior_bounds(prior_kind: str, args: Sequence[float]) -> tuple[float, float] | None:
    """Low and high end of a prior for screening and calibration (None for ``fixed``).

    ``uniform``/``loguniform``: the bounds; ``normal(m, s)``: m ± 2s; ``lognormal(mu, sigma)``:
    exp(mu ± 2 sigma); ``beta(a, b)``: the 2.5% and 97.5% quantiles.

    Parameters
    ----------
    prior_kind
        The prior's family, as in the parameter table.
    args
        Its arguments.

    Returns
    -------
    tuple of float or None
        ``(low, high)``; None for a fixed parameter (or an unknown family).
    """
    if prior_kind in ("uniform", "loguniform"):
        return float(args[0]), float(args[1])
    if prior_kind == "normal":
        return float(args[0] - 2 * args[1]), float(args[0] + 2 * args[1])
    if prior_kind == "lognormal":
        return float(math.exp(args[0] - 2 * args[1])), float(math.exp(args[0] + 2 * args[1]))
    if prior_kind == "beta":
        from scipy.stats import beta

        return float(beta.ppf(0.025, *args)), float(beta.ppf(0.975, *args))
    return None


def free_parameters(parameters: Mapping[str, Parameter]) -> dict[str, tuple[float, float, bool]]:
    """Non-fixed parameters with a prior of positive width: name -> (low, high, log scale).

    The log scale is used for log-uniform and log-normal priors with a positive low end.
    """
    out = {}
    for name, p in parameters.items():
        bounds = prior_bounds(p.prior_kind, p.prior_args)
        if bounds is not None and bounds[1] > bounds[0]:
            out[name] = (bounds[0], bounds[1], p.prior_kind in ("loguniform", "lognormal") and bounds[0] > 0)
    return out
