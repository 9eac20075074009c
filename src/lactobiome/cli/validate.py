"""``lactobiome validate`` and ``lactobiome calibrate``: the model against published figures."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from lactobiome.model.parameters import ParameterTable
    from lactobiome.validation import Target

_DISCLAIMER = "(research and teaching model; not medical advice)"


def _outputs(out: Path) -> tuple[Path, Path]:
    """CSV and Markdown paths for ``--out`` (the other one sits beside it)."""
    if out.suffix == ".md":
        return out.with_suffix(".csv"), out
    if out.suffix == ".csv":
        return out, out.with_suffix(".md")
    raise click.BadParameter(f"{out}: expected a path ending in .csv or .md", param_hint="--out")


def _seeds(text: str | None) -> list[int]:
    """``--seeds`` as a list: ``1-5`` (inclusive range) or ``1,4,7`` (or a mix)."""
    if not text:
        return []
    seeds: list[int] = []
    for part in _names(text):
        low, sep, high = part.partition("-")
        try:
            chosen = list(range(int(low), int(high) + 1)) if sep else [int(part)]
        except ValueError:
            raise click.BadParameter(f"{text!r}: expected seeds like 1-5 or 1,4,7", param_hint="--seeds") from None
        if not chosen or min(chosen) < 0:
            raise click.BadParameter(f"{text!r}: expected non-negative seeds, low-high with low <= high",
                                     param_hint="--seeds")
        seeds += [s for s in chosen if s not in seeds]
    return seeds


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


@click.command()
@click.option("--scenario", default="default", show_default=True, help="Built-in scenario name or YAML file.")
@click.option("--dyads", type=click.IntRange(min=1), default=1000, show_default=True, help="Cohort size.")
@click.option("--days", type=click.IntRange(min=1, max=730), default=365, show_default=True,
              help="Days of life to simulate (365 reaches every target's time point).")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Random seed.")
@click.option("--seeds", "seeds_text", help="Several seeds (e.g. 1-5): per target the share of seeds within, "
              "and the worst seed's headline; the table shows the first seed.")
@click.option("--from", "source", type=click.Path(path_type=Path),
              help="Validate an existing result (.nc/.zarr) instead of simulating.")
@click.option("--targets", "targets_path", type=click.Path(path_type=Path),
              help="Targets file (default: the shipped data/targets.yaml).")
@click.option("--parameters", "parameters_path", type=click.Path(path_type=Path),
              help="Parameter table to simulate with (default: the shipped one).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("results/validation.csv"), show_default=True,
              help="Table file, .csv or .md; the other format is written beside it.")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=0), default=200, show_default=True,
              help="Bootstrap resamples over dyads for the 95% intervals.")
@click.option("--strict", is_flag=True, help="Exit with code 1 when any target is outside its range.")
@click.option("--sensitivity", is_flag=True, help="Also screen every free parameter over its prior (slow).")
@click.option("--sensitivity-dyads", type=click.IntRange(min=2), default=40, show_default=True,
              help="Cohort size of each screening run.")
@click.option("--sensitivity-days", type=click.IntRange(min=1, max=730), default=120, show_default=True,
              help="Days of each screening run.")
@click.option("--sensitivity-parameters", help="Comma-separated parameters to screen (default: all free ones).")
@click.option("--budget", type=click.FloatRange(min=1.0), default=900.0, show_default=True,
              help="Seconds after which the screen starts no new parameter.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal only).")
def validate(scenario: str, dyads: int, days: int, seed: int, seeds_text: str | None, source: Path | None,
             targets_path: Path | None,
             parameters_path: Path | None, out: Path, n_boot: int, strict: bool, sensitivity: bool,
             sensitivity_dyads: int, sensitivity_days: int, sensitivity_parameters: str | None, budget: float,
             progress: bool | None) -> None:
    """Hold the model against the published figures, target by target.

    Simulates the cohort (or reads --from PATH), computes each target's model value with a 95%
    interval across dyads and prints the verdict: within, outside, not modelled or beyond horizon. Writes
    the table as CSV and Markdown. The exit code is 0 (it is a report) unless --strict and a
    target is outside.
    """
    from lactobiome.model.parameters import load_parameters
    from lactobiome.validation import (
        OUTSIDE,
        counts,
        load_targets,
        run_cohort,
        to_text,
        validate_dataset,
        write_tables,
    )
    from lactobiome.validation.roles import by_role, headline, headline_text, seed_summary
    from lactobiome.validation.targets import CALIBRATION, CHECK

    csv_path, md_path = _outputs(out)
    seeds = _seeds(seeds_text)
    if seeds and source is not None:
        raise click.BadParameter("--seeds simulates the cohort once per seed; it cannot be used with --from",
                                 param_hint="--seeds")
    targets = load_targets(targets_path)
    table_params = load_parameters(parameters_path) if parameters_path else None
    start = time.perf_counter()
    worst = None
    if seeds:
        tables = []
        for i, s in enumerate(seeds):
            ds = run_cohort(scenario, dyads, days, s, table_params)
            tables.append(validate_dataset(ds, targets, n_boot=n_boot if i == 0 else 0))
        share, worst = seed_summary(tables, targets)
        table = tables[0].assign(seeds_within=tables[0]["id"].map(share))
        where = f"scenario {scenario}: {dyads} dyads x {days} days, seeds {seeds_text} (table: seed {seeds[0]})"
    elif source is not None:
        from lactobiome.io.dataset import open_result

        with open_result(source) as opened:
            ds = opened.load()
        where = f"result {source} ({ds.sizes['dyad']} dyads x {ds.sizes['day']} days)"
    else:
        ds = run_cohort(scenario, dyads, days, seed, table_params)
        where = f"scenario {scenario}: {dyads} dyads x {days} days, seed {seed}"
    if not seeds:
        table = validate_dataset(ds, targets, n_boot=n_boot, source=source)
    elapsed = time.perf_counter() - start
    digest = ds.attrs.get("parameter_table_sha256", "")
    header = (f"Model: {where}; lactobiome {ds.attrs.get('lactobiome_version', '?')}, parameter table "
              f"sha256 {str(digest)[:12]}. Regenerate with `{_command(scenario, dyads, days, seed, seeds_text, source, parameters_path, md_path)}`.")
    click.echo(header)
    ordered = by_role(table)
    for role, title in ((CHECK, "Check targets"), (CALIBRATION, "Calibration targets")):
        rows = ordered[ordered["role"] == role]
        if not rows.empty:
            click.echo(f"{title}:")
            click.echo(to_text(rows))
    c = counts(table)
    empty = table.loc[(table["verdict"] == "not modelled") & (table["measure"] != ""), "id"]
    beyond = f", {c['beyond horizon']} beyond horizon" if c["beyond horizon"] else ""
    click.echo(f"{c['within']} within, {c['outside']} outside, {c['not modelled']} not modelled{beyond} "
               f"({elapsed:.0f} s)")
    if len(empty):
        click.echo(f"  mechanism present but nothing to measure in this cohort: {', '.join(empty)}")
    click.echo(f"Headline: {headline_text(headline(table, targets))}")
    if worst is not None:
        click.echo(f"Worst of seeds {seeds_text}: {headline_text(worst)}")
    write_tables(table, csv_path, md_path, header, targets, table_params or load_parameters(), worst)
    click.echo(f"Table written to {csv_path} and {md_path}")
    if sensitivity:
        _sensitivity(targets, scenario, sensitivity_dyads, sensitivity_days, seed, sensitivity_parameters,
                     table_params, budget, progress, csv_path)
    click.echo(_DISCLAIMER)
    if strict and c[OUTSIDE] > 0:
        outside = ", ".join(table.loc[table["verdict"] == OUTSIDE, "id"])
        click.echo(f"strict: targets outside their range: {outside}", err=True)
        raise click.exceptions.Exit(1)


def _list_calibration(table: ParameterTable, targets: list[Target]) -> None:
    """Print the free parameters (value, prior range, fitted to) and the targets (role, measured or not)."""
    from lactobiome.validation import free_parameters

    free = free_parameters(table)
    click.echo(f"Free parameters ({len(free)}): name, value, unit, prior range, calibrated_to")
    for name, (low, high, log) in free.items():
        p = table[name]
        scale = " log" if log else ""
        click.echo(f"  {name} = {p.value:g} {p.unit} [{low:g}, {high:g}{scale}] {' '.join(p.calibrated_to)}".rstrip())
    click.echo(f"Targets ({len(targets)}): id, role, acceptance, measurement")
    for t in targets:
        click.echo(f"  {t.id:5s} {t.role:11s} {t.acceptance_text or '-':14s} {t.measure or 'not modelled'}")


def _command(scenario: str, dyads: int, days: int, seed: int, seeds: str | None, source: Path | None,
             parameters: Path | None, md_path: Path) -> str:
    """The ``lactobiome validate`` command line that regenerates the table."""
    parts = ["lactobiome validate"]
    if source is not None:
        parts.append(f"--from {source.as_posix()}")
    else:
        parts += ([f"--scenario {scenario}"] if scenario != "default" else []) + [f"--dyads {dyads}", f"--days {days}"]
        parts.append(f"--seeds {seeds}" if seeds else f"--seed {seed}")
    if parameters is not None:
        parts.append(f"--parameters {parameters.as_posix()}")
    parts.append(f"--out {md_path.as_posix()}")
    return " ".join(parts)


def _sensitivity(targets: list[Target], scenario: str, dyads: int, days: int, seed: int, names: str | None,
                 parameters: ParameterTable | None, budget: float, progress: bool | None, csv_path: Path) -> None:
    from lactobiome.validation import sensitivity, top_effects, write_csv

    start = time.perf_counter()
    screen = sensitivity(targets, scenario, dyads, days, seed, _names(names) or None, parameters, budget, progress)
    screened = screen["parameter"].nunique()
    path = csv_path.with_name(csv_path.stem + ".sensitivity.csv")
    write_csv(screen, path)
    click.echo(f"Sensitivity (one at a time, prior low vs high, {dyads} dyads x {days} days, same seed): "
               f"{screened} parameters in {time.perf_counter() - start:.0f} s; effect = change across the "
               f"prior / half the acceptance width")
    top = top_effects(screen)
    for target, group in top.groupby("target", sort=True):
        parts = ", ".join(f"{p} {e:+.2g}" for p, e in zip(group["parameter"], group["effect"], strict=True))
        click.echo(f"  {target:5s} {parts}")
    if not screen.empty:
        strongest = (screen.assign(size=screen["effect"].abs()).groupby("parameter")["size"].max()
                     .sort_values(ascending=False).head(10))
        click.echo("Parameters moving any target most: "
                   + ", ".join(f"{p} ({s:.2g})" for p, s in strongest.items()))
    click.echo(f"Full screen written to {path}")


@click.command()
@click.option("--list", "listing", is_flag=True, help="List the free parameters and the target ids, then stop.")
@click.option("--parameters", "names", help="Comma-separated parameters to fit (non-fixed).")
@click.option("--targets", "target_ids", help="Comma-separated target ids to fit.")
@click.option("--out", type=click.Path(path_type=Path), help="New parameter table (CSV).")
@click.option("--scenario", default="default", show_default=True, help="Built-in scenario name or YAML file.")
@click.option("--dyads", type=click.IntRange(min=2), default=100, show_default=True, help="Cohort size per run.")
@click.option("--days", type=click.IntRange(min=1, max=730), default=182, show_default=True,
              help="Days per run.")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Random seed (shared).")
@click.option("--max-evals", type=click.IntRange(min=2), default=30, show_default=True, help="Bound on model runs.")
@click.option("--from-parameters", "start_path", type=click.Path(path_type=Path),
              help="Starting parameter table (default: the shipped one, which is never modified).")
@click.option("--targets-file", type=click.Path(path_type=Path), help="Targets file (default: shipped).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal only).")
def calibrate(listing: bool, names: str | None, target_ids: str | None, out: Path | None, scenario: str,
              dyads: int, days: int, seed: int, max_evals: int, start_path: Path | None,
              targets_file: Path | None, progress: bool | None) -> None:
    """Fit chosen parameters within their priors to chosen targets; write a new parameter table.

    A target fitted is in-sample from then on: the new table names it in ``calibrated_to``
    and the command warns when it is marked ``check``. ``--list`` shows what can be fitted.
    """
    from lactobiome.errors import InputError
    from lactobiome.model.parameters import load_parameters
    from lactobiome.validation import calibrate as fit
    from lactobiome.validation import free_parameters, load_targets, write_parameter_table
    from lactobiome.validation.targets import CHECK

    if listing:
        _list_calibration(load_parameters(start_path) if start_path else load_parameters(), load_targets(targets_file))
        return
    for given, option in ((names, "--parameters"), (target_ids, "--targets"), (out, "--out")):
        if not given:
            raise click.BadParameter("required unless --list", param_hint=option)
    assert names is not None and target_ids is not None and out is not None
    if out.suffix != ".csv":
        raise click.BadParameter(f"{out}: expected a path ending in .csv", param_hint="--out")
    by_id = {t.id: t for t in load_targets(targets_file)}
    wanted = _names(target_ids)
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise InputError(f"unknown target id(s): {', '.join(unknown)}")
    table = load_parameters(start_path) if start_path else load_parameters()
    result = fit(_names(names), [by_id[i] for i in wanted], scenario, dyads, days, seed, max_evals, table, progress)
    note = f"calibrated to {','.join(wanted)} by lactobiome calibrate"
    write_parameter_table(start_path, result.values, out, note, wanted)
    click.echo(f"loss {result.loss_before:.4g} -> {result.loss_after:.4g} in {result.evaluations} runs "
               f"({dyads} dyads x {days} days, seed {seed}); stopped: {result.stopped}")
    free = free_parameters(table)
    for name, value in result.values.items():
        low, high, _ = free[name]
        pinned = "  (pinned at its prior bound: the fit wants a value outside the prior)" if (
            math.isclose(value, low, rel_tol=1e-3, abs_tol=1e-12)
            or math.isclose(value, high, rel_tol=1e-3, abs_tol=1e-12)) else ""
        click.echo(f"  {name}: {table[name].value:g} -> {value:.6g} (prior {low:g}-{high:g}){pinned}")
    checks = [i for i in wanted if by_id[i].role == CHECK]
    if checks:
        click.echo(f"warning: {', '.join(checks)} marked check in the targets file; fitted to, they are calibration "
                   "targets for this table (named in its calibrated_to column)", err=True)
    for tid, value in result.target_values.items():
        click.echo(f"  {tid}: {value:.4g} (acceptance {by_id[tid].acceptance_text})")
    click.echo(f"Parameter table written to {out}; the shipped table is unchanged. "
               f"Use it with `lactobiome validate --parameters {out}` or `lactobiome simulate --parameters {out}`.")
    click.echo(_DISCLAIMER)
