"""The ``lactobiome`` command line.

Sub-commands live in their own modules of this package and are imported lazily so that
``lactobiome --help`` stays fast. User errors (:class:`lactobiome.errors.LactobiomeError`)
print one line on stderr and exit with code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
import warnings

import click

from lactobiome import __version__
from lactobiome.errors import LactobiomeError, LactobiomeWarning

# sub-command name -> "module:attribute"; each module defines one click command.
_COMMANDS: dict[str, str] = {
    "simulate": "lactobiome.cli.simulate:simulate",
    "scenarios": "lactobiome.cli.simulate:scenarios",
    "track": "lactobiome.cli.track:track",
    "validate": "lactobiome.cli.validate:validate",
    "calibrate": "lactobiome.cli.validate:calibrate",
    "observe": "lactobiome.cli.observe:observe",
    "benchmark-tracking": "lactobiome.cli.observe:benchmark_tracking",
    "report": "lactobiome.cli.report:report",
    "serve": "lactobiome.cli.serve:serve",
    "compile": "lactobiome.cli.compile:compile_command",
    "trial": "lactobiome.cli.trial:trial",
    "parameters": "lactobiome.cli.parameters:parameters",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None  # command not built yet
            raise
        return getattr(module, attribute)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lactobiome")
def cli() -> None:
    """lactobiome: model and analyse the maternal–infant milk microbiome.

    A research and teaching tool; it gives no medical advice.
    """


_INTERRUPTED = ("lactobiome: interrupted; a simulation keeps its finished chunks in <out>.parts: rerun the same "
                "command to resume")


def command_line() -> str:
    """The command being run, as typed (for a result's ``history``)."""
    context = click.get_current_context(silent=True)
    obj = context.find_root().obj if context is not None else None
    args = obj.get("argv", []) if isinstance(obj, dict) else sys.argv[1:]
    return " ".join(["lactobiome", *(shlex.quote(str(a)) for a in args)])


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    """Print the package's warnings as one line each; others as Python prints them."""
    if issubclass(category, LactobiomeWarning):
        click.echo(f"lactobiome: warning: {message}", err=True)
    else:
        click.echo(warnings.formatwarning(message, category, filename, lineno, line).rstrip(), err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the ``lactobiome`` program and return its exit code (never exits the interpreter).

    ``lactobiome.cli.main(["simulate", "--dyads", "20"])`` works from a notebook; the
    installed ``lactobiome`` script passes the code returned to ``sys.exit``. User errors
    print one line on stderr and return 2; an interrupt returns 130.

    For its own process the program sets ``OMP_WAIT_POLICY=passive`` unless you set it: Numba's
    OpenMP threads then sleep between parallel regions instead of spinning, which on a busy
    2-core machine took the core from the working thread (1,000 dyads x 180 days: 35 s instead
    of 4-5 s at load 7). The library itself leaves the environment alone.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", LactobiomeWarning)
            warnings.showwarning = _show_warning
            # click returns the code of a command that stops with click's Exit (e.g. --strict)
            args = list(sys.argv[1:] if argv is None else argv)
            code = cli.main(args=args, prog_name="lactobiome", standalone_mode=False, obj={"argv": args})
    except LactobiomeError as exc:
        click.echo(f"lactobiome: error: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo(_INTERRUPTED, err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # no command given: the help is the answer
        return exc.exit_code
    except click.UsageError as exc:
        # one line, like every other refusal (click's own form adds a usage block)
        command = exc.ctx.command_path if exc.ctx is not None else "lactobiome"
        click.echo(f"lactobiome: error: {exc.format_message()} (see '{command} --help')", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo(_INTERRUPTED, err=True)
        return 130
    except OSError as exc:
        if exc.errno is not None and exc.filename is not None:
            click.echo(f"lactobiome: error: {exc.filename}: {exc.strerror}", err=True)
            return 2
        raise
    return code if isinstance(code, int) else 0
