"""Tables of a simulated trial: each arm, the effects between arms, the paired contrast.

``arms`` (endpoint, arm, n, value, ci_low, ci_high, truth, truth_ci_low, truth_ci_high):
each endpoint over the women allocated to the arm, as measured and as the model's truth.
``effects`` (endpoint, comparison, measure, estimate, ci_low, ci_high, p_value,
truth_estimate): each arm against the control by the endpoint's analysis, among the women
allocated to the two arms; ``truth_estimate`` is the same measure of the arms' true values.
``paired`` (endpoint, comparison, basis, measure, n, estimate, ci_low, ci_high, p_value):
the mean within-woman difference of every enrolled woman under the two arms (measured and
true), which no real trial can see.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from lactobiome.trials import analysis as a
from lactobiome.trials.definition import (
    Arm,
    ArmIntervention,
    ArmProbiotic,
    CultureEndpoint,
    EczemaEndpoint,
    Endpoint,
    MastitisEndpoint,
    RecoveryEndpoint,
    TrialDefinition,
)
from lactobiome.trials.endpoints import PER_WOMAN_WEEKS
from lactobiome.trials.runner import TrialRun


def value_kind(endpoint: Endpoint) -> str:
    """``mean``, ``share`` or ``rate``: how the endpoint is summarised within an arm."""
    if isinstance(endpoint, CultureEndpoint):
        return "mean"
    if isinstance(endpoint, RecoveryEndpoint):
        return "mean" if endpoint.by_day is None else "share"
    if isinstance(endpoint, MastitisEndpoint):
        return "rate" if endpoint.measure == "incidence_rate" else "share"
    return "share"


def unit(endpoint: Endpoint) -> str:
    """The unit of the endpoint's per-arm value."""
    if isinstance(endpoint, CultureEndpoint):
        return "log10 CFU/mL"
    if isinstance(endpoint, RecoveryEndpoint):
        return "days" if endpoint.by_day is None else "share of women"
    if isinstance(endpoint, MastitisEndpoint) and endpoint.measure == "incidence_rate":
        return f"episodes per {PER_WOMAN_WEEKS:g} breastfeeding woman-weeks"
    return "share of women"


def _summary(frame: pd.DataFrame, endpoint: Endpoint, column: str) -> a.Estimate:
    kind = value_kind(endpoint)
    values = frame[column].to_numpy(dtype=np.float64)
    if kind == "rate":
        return a.rate(values, frame[f"{endpoint.name}_woman_weeks"].to_numpy(dtype=np.float64), PER_WOMAN_WEEKS)
    if kind == "share" and not (isinstance(endpoint, EczemaEndpoint) and column.endswith("_truth")):
        return a.share(values)
    return a.mean(values)  # eczema's truth is a probability: its mean is the arm's true risk


def effect(endpoint: Endpoint, treated: pd.DataFrame, control: pd.DataFrame, column: str | None = None) -> a.Estimate:
    """The endpoint's analysis of ``treated`` against ``control`` (their measured values by default)."""
    column = column or endpoint.name
    t = treated[column].to_numpy(dtype=np.float64)
    c = control[column].to_numpy(dtype=np.float64)
    if endpoint.analysis == "difference_in_means":
        return a.difference_in_means(t, c)
    if endpoint.analysis == "risk_ratio":
        return a.risk_ratio(t, c)
    if endpoint.analysis == "odds_ratio":
        return a.odds_ratio(t, c)
    weeks = f"{endpoint.name}_woman_weeks"
    return a.incidence_rate_ratio(t, treated[weeks].to_numpy(dtype=np.float64), c,
                                  control[weeks].to_numpy(dtype=np.float64))


def _truth_effect(endpoint: Endpoint, truth_t: a.Estimate, truth_c: a.Estimate) -> float:
    """The analysis's measure applied to the arms' true values."""
    t, c = truth_t.value, truth_c.value
    with np.errstate(all="ignore"):
        if endpoint.analysis == "difference_in_means":
            return t - c
        if endpoint.analysis in ("risk_ratio", "incidence_rate_ratio"):
            return t / c if c > 0 else math.nan
        if 0 < t < 1 and 0 < c < 1:
            return (t / (1 - t)) / (c / (1 - c))
    return math.nan


def arms_table(run: TrialRun) -> pd.DataFrame:
    """Each endpoint in each arm among the women allocated to it, measured and true."""
    rows = []
    for endpoint in run.trial.endpoints:
        for arm in run.trial.arms:
            frame = run.allocated[run.allocated["arm"] == arm.name]
            measured = _summary(frame, endpoint, endpoint.name)
            truth = _summary(frame, endpoint, f"{endpoint.name}_truth")
            rows.append({"endpoint": endpoint.name, "arm": arm.name, "n": len(frame), "unit": unit(endpoint),
                         "value": measured.value, "ci_low": measured.low, "ci_high": measured.high,
                         "truth": truth.value, "truth_ci_low": truth.low, "truth_ci_high": truth.high})
    return pd.DataFrame(rows)


def effects_table(run: TrialRun) -> pd.DataFrame:
    """Each arm against the control, by each endpoint's analysis (allocated women only)."""
    rows = []
    control = run.allocated[run.allocated["arm"] == run.trial.control_arm]
    for endpoint in run.trial.endpoints:
        truth_c = _summary(control, endpoint, f"{endpoint.name}_truth")
        for arm in run.trial.arms:
            if arm.name == run.trial.control_arm:
                continue
            treated = run.allocated[run.allocated["arm"] == arm.name]
            result = effect(endpoint, treated, control)
            truth_t = _summary(treated, endpoint, f"{endpoint.name}_truth")
            rows.append({"endpoint": endpoint.name, "comparison": f"{arm.name} vs {run.trial.control_arm}",
                         "measure": endpoint.analysis, "estimate": result.value, "ci_low": result.low,
                         "ci_high": result.high, "p_value": result.p_value,
                         "truth_estimate": _truth_effect(endpoint, truth_t, truth_c)})
    return pd.DataFrame(rows)


def paired_table(run: TrialRun) -> pd.DataFrame:
    """Within-woman differences (arm minus control) over every enrolled woman, measured and true."""
    rows = []
    if not run.counterfactual:
        return pd.DataFrame(columns=["endpoint", "comparison", "basis", "measure", "n", "estimate", "ci_low",
                                     "ci_high", "p_value"])
    by_arm = {arm.name: run.women[run.women["arm"] == arm.name].set_index("dyad").sort_index()
              for arm in run.trial.arms}
    control = by_arm[run.trial.control_arm]
    for endpoint in run.trial.endpoints:
        kind = value_kind(endpoint)
        for arm in run.trial.arms:
            if arm.name == run.trial.control_arm:
                continue
            treated = by_arm[arm.name].reindex(control.index)
            for basis, column in (("measured", endpoint.name), ("truth", f"{endpoint.name}_truth")):
                difference = treated[column].to_numpy(dtype=np.float64) - control[column].to_numpy(dtype=np.float64)
                result = a.paired_difference(difference)
                measure = {"mean": "mean_difference", "share": "risk_difference",
                           "rate": "mean_difference_in_episodes"}[kind]
                if isinstance(endpoint, EczemaEndpoint) and basis == "truth":
                    measure = "risk_difference"
                rows.append({"endpoint": endpoint.name, "comparison": f"{arm.name} vs {run.trial.control_arm}",
                             "basis": basis, "measure": measure, "n": result.n, "estimate": result.value,
                             "ci_low": result.low, "ci_high": result.high, "p_value": result.p_value})
    return pd.DataFrame(rows)


def _intervention_text(intervention: ArmIntervention) -> str:
    """One intervention in words, its days counted from enrolment."""
    days = f"days {intervention.start} to {intervention.stop} after enrolment"
    if isinstance(intervention, ArmProbiotic):
        route = "" if intervention.route == "maternal_oral" else f" ({intervention.route.replace('_', ' ')})"
        return f"{intervention.strain} {intervention.cfu_per_day:.3g} CFU/day{route}, {days}"
    return f"{intervention.antibiotic_class} antibiotic to the {intervention.recipient}, {days}"


def _treatment_text(arm: Arm) -> list[str]:
    """An arm's treatment policy in words (empty without one)."""
    policy = arm.treatment
    if policy is None:
        return []
    parts = [f"{policy.antibiotic.antibiotic_class} for {policy.antibiotic.days} days"] if policy.antibiotic else []
    if policy.probiotic is not None:
        parts.append(f"{policy.probiotic.strain} {policy.probiotic.cfu_per_day:.3g} CFU/day for "
                     f"{policy.probiotic.days} days")
    if policy.frequent_emptying_days:
        parts.append(f"frequent emptying for {policy.frequent_emptying_days} days")
    return [f"treatment of episodes in {', '.join(policy.trigger_states)}: {'; '.join(parts) or 'none'}"]


def design_summary(trial: TrialDefinition) -> dict[str, Any]:
    """A design in plain fields, for a listing (the explorer's trial view).

    Returns
    -------
    dict
        ``name``, ``description``, ``source`` (the design's citation), ``n_per_arm``,
        ``follow_up_days``, ``arms`` (``name``, ``description``, ``weight``, ``interventions``
        in words; an arm without any is a placebo or usual care), ``control`` and ``primary``
        (``name``, ``kind``, ``unit``, ``analysis``).
    """
    primary = next(e for e in trial.endpoints if e.name == trial.primary)
    arms = [{"name": arm.name, "description": arm.description, "weight": arm.weight,
             "interventions": [_intervention_text(i) for i in arm.interventions] + _treatment_text(arm)}
            for arm in trial.arms]
    return {"name": trial.name, "description": trial.description, "source": trial.source,
            "n_per_arm": trial.n_per_arm, "follow_up_days": trial.follow_up_days, "arms": arms,
            "control": trial.control_arm,
            "primary": {"name": primary.name, "kind": primary.kind, "unit": unit(primary),
                        "analysis": primary.analysis}}
