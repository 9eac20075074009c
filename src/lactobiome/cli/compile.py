"""``lactobiome compile``: fill Numba's kernel cache once, after an install or an update."""

from __future__ import annotations

import time

import click

from lactobiome.warmup import GROUPS


@click.command("compile")
@click.option("--only", "only", type=click.Choice(GROUPS), multiple=True,
              help="Compile only this group (repeatable): model (simulate), tracker (track), "
                   "published (track --method feast|sourcetracker). Default: all.")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="Groups compiled side by side (default: one per core).")
def compile_command(only: tuple[str, ...], processes: int | None) -> None:
    """Compile the model's and the trackers' kernels into Numba's on-disk cache.

    Run once after installing (``make`` does): the first ``simulate`` and ``track`` then
    start without compiling. Later runs, and a rerun of this command, load the cached
    kernels (a few CPU seconds); an update of the model's sources compiles them again.
    """
    from lactobiome.warmup import compile_kernels

    groups = list(only) or list(GROUPS)
    click.echo(f"compiling the kernels of {', '.join(groups)} (once after an install or an update)...", err=True)
    start = time.perf_counter()
    cpu = 0.0

    def say(done: tuple[str, float, float]) -> None:
        nonlocal cpu
        group, group_cpu, group_wall = done
        cpu += group_cpu
        click.echo(f"  {group}: {group_cpu:.1f} CPU s, {group_wall:.1f} s", err=True)

    compile_kernels(groups, processes=processes, on_done=say)
    click.echo(f"kernels cached: {cpu:.1f} CPU s in {time.perf_counter() - start:.1f} s", err=True)
