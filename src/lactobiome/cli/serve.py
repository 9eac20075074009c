"""``lactobiome serve``: the local explorer."""

from __future__ import annotations

import click

HOST_ENV = "LACTOBIOME_SERVE_HOST"


@click.command()
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, envvar=HOST_ENV,
              help=f"Address to listen on (also ${HOST_ENV}); an address other machines can reach is "
                   "used only when given here with --host.")
@click.option("--max-dyads", type=click.IntRange(min=1, max=5000), default=300, show_default=True,
              help="Largest cohort one run may ask for.")
@click.option("--max-days", type=click.IntRange(min=1, max=730), default=365, show_default=True,
              help="Most days of life one run may ask for.")
@click.option("--max-trial-n", type=click.IntRange(min=1, max=1000), default=40, show_default=True,
              help="Most women in the smallest arm of a trial run from the Trials view.")
@click.option("--max-trial-days", type=click.IntRange(min=1, max=1000), default=365, show_default=True,
              help="Longest follow-up of a trial run from the Trials view.")
@click.pass_context
def serve(ctx: click.Context, port: int, host: str, max_dyads: int, max_days: int, max_trial_n: int,
          max_trial_days: int) -> None:
    """Open a local explorer: edit a scenario, run a cohort, see its figures and one dyad day by day.

    Its Trials view lists the built-in trial designs and runs one with a smaller n per arm
    (a trial also plans at most --max-dyads x --max-days dyad-days).

    Listens on 127.0.0.1 (this machine only) unless --host names another address.
    """
    from lactobiome.web import Limits, is_loopback, make_server

    explicit = ctx.get_parameter_source("host") == click.core.ParameterSource.COMMANDLINE
    limits = Limits(max_dyads=max_dyads, max_days=max_days, max_trial_n_per_arm=max_trial_n,
                    max_trial_follow_up_days=max_trial_days)
    server = make_server(host, port, allow_remote=explicit, limits=limits)
    address, bound_port = server.server_address[:2]
    bound_host = address.decode() if isinstance(address, bytes) else str(address)
    click.echo(f"lactobiome explorer on http://{bound_host}:{bound_port}/ (Ctrl-C stops it)")
    if explicit and not is_loopback(host):
        click.echo(f"warning: {host} may be reachable from other machines, and the explorer has no "
                   "authentication", err=True)
    click.echo("(research and teaching model; not medical advice)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
