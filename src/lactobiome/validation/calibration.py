"""Calibration: chosen parameters fitted within their priors to chosen targets.

Bounded Nelder–Mead over the parameters mapped to [0, 1] across their priors, each
evaluation a simulation of the same cohort with the same seed (common random numbers).
The result is written as a new parameter table; the shipped one is never modified.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from lactobiome.errors import InputError
from lactobiome.io.atomic import write_text_atomic
from lactobiome.model.parameters import ParameterTable
from lactobiome.validation.cohort import model_values, run_cohort
from lactobiome.validation.priors import free_parameters
from lactobiome.validation.targets import Target

UNMEASURED_LOSS = 100.0
"""Loss of a target without a model value (the cohort cannot give it)."""


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`: fitted values, loss before and after, evaluations used."""

    values: dict[str, float]
    loss_before: float
    loss_after: float
    evaluations: int
    target_values: dict[str, float]
    stopped: str = ""
    """Why the search stopped (the optimiser's message)."""


def loss(values: Mapping[str, float], targets: Sequence[Target]) -> float:
    """Sum over targets of ((model - centre of range) / half-width)^2; 100 per unmeasured target.

    Parameters
    ----------
    values
        Model value by target id (NaN or absent: unmeasured).
    targets
        The targets fitted.
    """
    total = 0.0
    for t in targets:
        v = values.get(t.id, math.nan)
        total += ((v - t.centre) / t.scale) ** 2 if math.isfinite(v) else UNMEASURED_LOSS
    return total


def calibrate(names: Sequence[str], targets: Sequence[Target], scenario: str = "default", dyads: int = 100,
              days: int = 182, seed: int = 1, max_evals: int = 30, parameters: ParameterTable | None = None,
              progress: bool | None = None) -> Calibration:
    """Fit ``names`` within their priors to ``targets`` by bounded Nelder–Mead.

    Each parameter is mapped to [0, 1] across its prior (on log scale for log-uniform and
    log-normal priors); every evaluation simulates the same cohort with the same seed
    (common random numbers), so the objective is smooth enough for a simplex search.

    Parameters
    ----------
    names
        Parameters to fit (non-fixed ones).
    targets
        Targets to fit (each must have a measurement).
    scenario, dyads, days, seed
        The fitting cohort.
    max_evals
        Bound on model runs.
    parameters
        Starting table (the shipped one when None).
    progress
        Progress bar (None: on a terminal only).

    Returns
    -------
    Calibration
        The best values found (the start when nothing beat it), the loss at the start and
        at them, the model runs used and the targets' model values at the best values.

    Raises
    ------
    InputError
        A name is not a free parameter, a target is not modelled, or either list is empty.
    """
    from scipy.optimize import minimize
    from tqdm import tqdm

    from lactobiome.model.parameters import load_parameters

    table = parameters if parameters is not None else load_parameters()
    free = free_parameters(table)
    bad = [n for n in names if n not in free]
    if bad:
        raise InputError(f"cannot calibrate {', '.join(bad)}: not a free (non-fixed) parameter of the table")
    unmeasured = [t.id for t in targets if t.measure is None]
    if unmeasured:
        raise InputError(f"cannot calibrate to {', '.join(unmeasured)}: not modelled")
    if not names or not targets:
        raise InputError("calibrate needs at least one parameter and one target")

    def to_value(u: float, name: str) -> float:
        low, high, log = free[name]
        u = min(max(float(u), 0.0), 1.0)
        return float(math.exp(math.log(low) + u * (math.log(high) - math.log(low)))) if log else low + u * (high - low)

    def to_unit(value: float, name: str) -> float:
        low, high, log = free[name]
        if log:
            return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
        return (value - low) / (high - low)

    cache: dict[tuple[float, ...], tuple[float, dict[str, float]]] = {}
    bar = tqdm(total=max_evals, desc="calibrate", unit="run", disable=None if progress is None else not progress)

    def objective(u: np.ndarray) -> float:
        key = tuple(float(x) for x in np.round(np.clip(u, 0.0, 1.0), 6))
        if key not in cache:
            values = {n: to_value(x, n) for n, x in zip(names, key, strict=True)}
            measured = model_values(run_cohort(scenario, dyads, days, seed, table, values), targets)
            cache[key] = (loss(measured, targets), measured)
            bar.update(1)
        return cache[key][0]

    start = np.array([min(max(to_unit(table[n].value, n), 0.0), 1.0) for n in names])
    before = objective(start)
    result = minimize(objective, start, method="Nelder-Mead", bounds=[(0.0, 1.0)] * len(names),
             options={"maxfev": max(max_evals - 1, 1), "xatol": 1e-3, "fatol": 1e-3,
                      "initial_simplex": _simplex(start)})
    bar.close()
    best_key = min(cache, key=lambda k: cache[k][0])
    best = {n: to_value(x, n) for n, x in zip(names, best_key, strict=True)}
    stopped = str(result.message)
    return Calibration(best, before, cache[best_key][0], len(cache), cache[best_key][1], stopped)


def _simplex(start: np.ndarray, step: float = 0.25) -> np.ndarray:
    """Initial simplex: the start and one step per axis, towards the middle of the box."""
    points = [start.copy()]
    for i in range(start.size):
        p = start.copy()
        p[i] = p[i] + step if p[i] <= 0.5 else p[i] - step
        points.append(p)
    return np.array(points)


def write_parameter_table(source: str | Path | None, values: Mapping[str, float], out: str | Path,
                          note: str = "calibrated", calibrated_to: Sequence[str] = ()) -> Path:
    """Copy a parameter table with new values for ``values`` (atomically), leaving the source untouched.

    Parameters
    ----------
    source
        The table to copy (the shipped one when None).
    values
        New values by parameter name; each row changed gets ``[note]`` appended to its note.
    out
        The new table's path.
    note
        What to append to the notes of changed rows.
    calibrated_to
        Target ids the values were fitted to, added to each changed row's ``calibrated_to``
        (the column is added when the source table lacks it).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    InputError
        ``out`` is the shipped table or the source itself, or a name is not in the table.
    """
    out = Path(out)
    shipped = resources.files("lactobiome.data").joinpath("parameters.csv")
    text = Path(source).read_text(encoding="utf-8") if source else shipped.read_text(encoding="utf-8")
    protected = {Path(str(shipped)).resolve()} | ({Path(source).resolve()} if source else set())
    if out.resolve() in protected:
        raise InputError(f"{out}: refusing to overwrite the source parameter table; choose another --out")
    rows = list(csv.DictReader(io.StringIO(text)))
    names = {r["name"] for r in rows}
    missing = [n for n in values if n not in names]
    if missing:
        raise InputError(f"not in the parameter table: {', '.join(missing)}")
    buffer = io.StringIO()
    fields = list(rows[0].keys())
    fields += [] if "calibrated_to" in fields else ["calibrated_to"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        if r["name"] in values:
            fitted = (r.get("calibrated_to") or "").split()
            fitted += [t for t in calibrated_to if t not in fitted]
            r = {**r, "value": f"{values[r['name']]:.6g}", "note": f"{r['note']} [{note}]".strip(),
                 "calibrated_to": " ".join(fitted)}
        writer.writerow(r)
    write_text_atomic(buffer.getvalue(), out)
    return out
