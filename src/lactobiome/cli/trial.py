"""``lactobiome trial``: an in-silico randomised trial, its effects and (optionally) its power."""

from __future__ import annotations

from pathlib import Path

import click


def _sizes(value: str | None) -> list[int] | None:
    """``--power 20,50,100`` as integers >= 1; anything else is a one-line error."""
    from lactobiome.errors import InputError

    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise InputError(f"--power: {value!r}: expected whole numbers of women per arm separated by commas "
                         "(e.g. 20,50,100,200)") from None
    if min(sizes) < 1:
        raise InputError(f"--power: {value!r}: each n per arm must be 1 or more")
    return sizes


@click.command()
@click.argument("name", required=False)
@click.option("--list", "list_only", is_flag=True, help="List the built-in trial designs and exit.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for arms.tsv, effects.tsv, paired.tsv, women.tsv, trial.yaml (and power.tsv).")
@click.option("--n-per-arm", type=int, default=None,
              help="Women in the smallest arm, in place of the design's (weights keep the allocation ratio).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed of the model and the allocation.")
@click.option("--power", "power_sizes", default=None, metavar="N1,N2,...",
              help="Also estimate power of the primary endpoint at these n per arm.")
@click.option("--replicates", type=int, default=50, show_default=True,
              help="Independent trials per n for --power.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Processes running the --power replicates in parallel (the curve is the same).")
@click.option("--paired/--no-paired", default=True, show_default=True,
              help="Simulate every woman under every arm for the within-woman contrast (else only her own arm).")
@click.option("--parameters", "parameters_path", type=click.Path(path_type=Path), default=None,
              help="Parameter table to run the trial with (e.g. one written by `lactobiome calibrate`; "
                   "default: shipped); the design's population overrides go on top.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal only).")
def trial(name: str | None, list_only: bool, out: Path | None, n_per_arm: int | None, seed: int | None,
          power_sizes: str | None, replicates: int, workers: int, paired: bool, parameters_path: Path | None,
          progress: bool | None) -> None:
    """Run the in-silico trial NAME (a built-in design or a trial YAML file).

    Prints the primary endpoint per arm (measured as the trial measured it, the model's truth
    beside it) and its effect with a 95% interval. Research and teaching output, not
    medical advice.
    """
    from lactobiome.trials import builtin_names, load_trial

    if list_only:
        for builtin in builtin_names():
            click.echo(f"{builtin:16s} {load_trial(builtin).description}")
        return
    if name is None:
        raise click.UsageError("give a trial NAME (a built-in design or a YAML file), or --list")
    from lactobiome.errors import InputError

    sizes = _sizes(power_sizes)
    if n_per_arm is not None and n_per_arm < 1:
        raise InputError(f"--n-per-arm: {n_per_arm}: the smallest arm needs 1 woman or more")
    if replicates < 1:
        raise InputError(f"--replicates: {replicates}: needs 1 replicate or more")
    if workers < 1:
        raise InputError(f"--workers: {workers}: needs 1 process or more")
    from lactobiome.model.parameters import load_parameters
    from lactobiome.trials.output import summary, write_outputs
    from lactobiome.trials.power import power_curve
    from lactobiome.trials.runner import run_trial

    design = load_trial(name)
    table = load_parameters(parameters_path) if parameters_path else None
    run = run_trial(design, n_per_arm=n_per_arm, seed=seed, parameters=table, counterfactual=paired,
                    progress=progress)
    curve = (power_curve(design, sizes, replicates, seed=seed, parameters=table, progress=progress,
                         workers=workers)
             if sizes else None)
    click.echo(summary(run, curve))
    if out is not None:
        written = write_outputs(run, out, curve)
        click.echo(f"written: {', '.join(str(p) for p in written)}")
