"""Writing a trial's tables (atomically) and its one-screen summary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from lactobiome import __version__
from lactobiome.io import TABLE_FLOAT_FORMAT
from lactobiome.io.atomic import write_text_atomic
from lactobiome.trials.power import PowerCurve
from lactobiome.trials.results import arms_table, effects_table, paired_table, unit
from lactobiome.trials.runner import TrialRun

DISCLAIMER = "(research and teaching model; an in-silico trial is not evidence for care and not medical advice)"
"""The line every trial summary ends with."""


def _tsv(frame: pd.DataFrame, path: Path) -> Path:
    return write_text_atomic(frame.to_csv(sep="\t", index=False, float_format=TABLE_FLOAT_FORMAT), path)


def write_outputs(run: TrialRun, out: Path, power: PowerCurve | None = None) -> list[Path]:
    """Write ``arms.tsv``, ``effects.tsv``, ``paired.tsv``, ``women.tsv``, ``trial.yaml`` (and ``power.tsv``).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        _tsv(arms_table(run), out / "arms.tsv"),
        _tsv(effects_table(run), out / "effects.tsv"),
        _tsv(paired_table(run), out / "paired.tsv"),
        _tsv(run.women, out / "women.tsv"),
    ]
    record = {
        "trial": run.trial.model_dump(mode="json"),
        "lactobiome_version": __version__,
        "parameter_table_sha256": run.parameters_digest,
        "women_screened": run.screening.screened,
        "women_eligible": run.screening.eligible,
        "women_enrolled": len(run.screening.dyads),
        "pregnancy_days": run.pregnancy_days,
        "dyad_days_simulated": run.dyad_days,
        "counterfactual_arms_simulated": run.counterfactual,
    }
    if power is not None:
        record["power"] = {"replicates": power.replicates, "comparison": power.comparison,
                           "smallest_n_per_arm_80": power.smallest_n, "dyad_days_simulated": power.dyad_days}
        written.append(_tsv(power.table, out / "power.tsv"))
    written.append(write_text_atomic(yaml.safe_dump(record, sort_keys=False), out / "trial.yaml"))
    return written


def summary(run: TrialRun, power: PowerCurve | None = None) -> str:
    """The terminal summary: design, enrolment, primary endpoint per arm and its effects, power."""
    trial = run.trial
    arms = arms_table(run)
    effects = effects_table(run)
    primary = next(e for e in trial.endpoints if e.name == trial.primary)
    lines = [f"trial {trial.name}: {trial.description}".rstrip(": "),
             f"design: {trial.source}" if trial.source else "",
             f"screened {run.screening.screened} women, {run.screening.eligible} eligible, "
             f"{len(run.screening.dyads)} enrolled; {run.dyad_days:,} dyad-days in {run.wall_s:.1f} s "
             f"(CPU {run.cpu_s:.1f} s)",
             f"primary endpoint {primary.name} ({unit(primary)}): measured [95% CI] | model truth"]
    for _, row in arms[arms["endpoint"] == primary.name].iterrows():
        lines.append(f"  {row['arm']:<28} n={row['n']:<5} {row['value']:.3g} [{row['ci_low']:.3g}, "
                     f"{row['ci_high']:.3g}] | {row['truth']:.3g}")
    for _, row in effects[effects["endpoint"] == primary.name].iterrows():
        lines.append(f"  {row['comparison']}: {row['measure']} {row['estimate']:.3g} [{row['ci_low']:.3g}, "
                     f"{row['ci_high']:.3g}], p = {row['p_value']:.3g} (truth {row['truth_estimate']:.3g})")
    others = effects[effects["endpoint"] != primary.name]
    if len(others):
        lines.append("secondary endpoints:")
        for _, row in others.iterrows():
            lines.append(f"  {row['endpoint']}, {row['comparison']}: {row['measure']} {row['estimate']:.3g} "
                         f"[{row['ci_low']:.3g}, {row['ci_high']:.3g}], p = {row['p_value']:.3g}")
    if power is not None:
        lines.append(f"power of {primary.name} ({power.comparison}, p < 0.05, {power.replicates} replicates; "
                     f"{power.dyad_days:,} dyad-days in {power.wall_s:.1f} s):")
        for _, row in power.table.iterrows():
            lines.append(f"  n per arm {int(row['n_per_arm']):>5}: {row['power']:.2f} "
                         f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]")
        largest = int(power.table["n_per_arm"].max())
        lines.append(f"  smallest n per arm with 80% power: {power.smallest_n}" if power.smallest_n is not None
                     else f"  80% power not reached at n per arm <= {largest}")
    lines.append(DISCLAIMER)
    return "\n".join(line for line in lines if line)
