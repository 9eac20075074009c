"""The ``lactobiome`` command line.

Sub-commands live in their own modules of this package and are imported lazily so that
``lactobiome --help`` stays fast. User errors (:class:`lactobiome.errors.LactobiomeError`)
print one line on stderr and exit with code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from lactobiome import __version__
from lactobiome.errors import LactobiomeError

# sub-command name -> "module:attribute"; each module defines one click command.
_COMMANDS: dict[str, str] = {
    "simulate": "lactobiome.cli.simulate:simulate",
    "scenarios": "lactobiome.cli.simulate:scenarios",
    "track": "lactobiome.cli.track:track",
    "validate": "lactobiome.cli.validate:validate",
    "calibrate": "lactobiome.cli.validate:calibrate",
    "observe": "lactobiome.cli.observe:observe",
    "benchmark-tracking": "lactobiome.cli.observe:benchmark_tracking",
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lactobiome`` program."""
    try:
        cli.main(args=argv, prog_name="lactobiome", standalone_mode=False)
    except LactobiomeError as exc:
        click.echo(f"lactobiome: error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("lactobiome: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("lactobiome: interrupted; finished chunks are kept", err=True)
        sys.exit(130)
    except OSError as exc:
        if exc.errno is not None and exc.filename is not None:
            click.echo(f"lactobiome: error: {exc.filename}: {exc.strerror}", err=True)
            sys.exit(2)
        raise
    sys.exit(0)
