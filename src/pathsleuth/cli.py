"""Command line: wires the stages together and nothing more.

Each subcommand parses its options, calls one library entry point, hands the result to
`report/`, and maps the outcome to an exit status: 0 nothing wrong, 1 an error-severity
finding, 2 bad input (one line on stderr naming file and position, never a traceback),
3 the environment cannot do it (not root, missing tool).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import click

from pathsleuth import __version__
from pathsleuth.errors import PathsleuthError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pathsleuth")
def cli() -> None:
    """Why does mail (or any TCP transfer) to some destinations stall?"""


# ---- decode (capture/) ------------------------------------------------------------
@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def decode(files: tuple[str, ...], fmt: str) -> None:
    """Summarise captures: format, link types, packets, time span, protocols, malformed.

    FILES are pcap or pcapng files, optionally gzip/bz2/xz/zstd compressed, tar/zip
    archives of them, or - for stdin.
    """
    from rich.console import Console

    from pathsleuth.pipeline import decode_paths
    from pathsleuth.report.decode_text import render_decode_json, render_decode_text

    summaries = list(decode_paths(files, progress=_progress_callback()))
    if fmt == "json":
        click.echo(render_decode_json(summaries))
    else:
        render_decode_text(summaries, Console())


def _progress_callback() -> Callable[[int, int | None], None] | None:
    """A progress bar on stderr for long files, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None
    from pathsleuth.report.progress import stderr_progress

    return stderr_progress()


# ---- end decode --------------------------------------------------------------------

# ---- analyze (tcp/ + diagnose/) -----------------------------------------------------
# ---- end analyze -------------------------------------------------------------------

# ---- logs (maillog/) ----------------------------------------------------------------
# ---- end logs ----------------------------------------------------------------------


# ---- probe, fix-check (probe/) ------------------------------------------------------
@cli.command("probe")
@click.argument("target")
@click.option(
    "--port",
    default=25,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="SMTP (TCP) port of the service.",
)
@click.option(
    "--family",
    type=click.Choice(["4", "6"]),
    default=None,
    help="Only IPv4 or only IPv6 addresses.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--max-hops",
    default=30,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Highest TTL probed.",
)
@click.option(
    "--smtp/--no-smtp", default=True, show_default=True, help="Run the SMTP-level burst test."
)
@click.option(
    "--trace/--no-trace", default=True, show_default=True, help="Run the hop-by-hop path-MTU trace."
)
@click.option(
    "--method",
    type=click.Choice(["udp", "icmp"]),
    default="udp",
    show_default=True,
    help="Hop-trace probes: UDP (unprivileged) or ICMP echo (root; for paths that filter UDP).",
)
def probe_cmd(
    target: str,
    port: int,
    family: str | None,
    fmt: str,
    max_hops: int,
    smtp: bool,
    trace: bool,
    method: str,
) -> None:
    """Probe TARGET (IP, host name or mail domain) for path-MTU black holes, now."""
    from pathsleuth.probe.run import run_probe
    from pathsleuth.report.probe import probe_has_error, probe_json, probe_text

    result = run_probe(
        target,
        port=port,
        family=4 if family == "4" else 6 if family == "6" else None,
        max_hops=max_hops,
        smtp=smtp,
        trace=trace,
        method="icmp" if method == "icmp" else "udp",
    )
    click.echo(probe_json(result) if fmt == "json" else probe_text(result), nl=False)
    if probe_has_error(result) or any(r.errors for r in result.results):
        set_exit_status(1)


@cli.command("fix-check")
@click.option("--dest", default=None, help="Destination IP address whose route is checked.")
@click.option(
    "--mtu",
    default=None,
    type=click.IntRange(576, 65535),
    help="Path MTU to use in the commands (from `pathsleuth probe`).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def fix_check_cmd(dest: str | None, mtu: int | None, fmt: str) -> None:
    """Check which path-MTU black-hole fixes are in place on this host, and which to apply."""
    from pathsleuth.probe.fixcheck import check_fixes
    from pathsleuth.probe.hostinfo import gather
    from pathsleuth.report.probe import fixcheck_json, fixcheck_text

    result = check_fixes(gather(dest), dest=dest, path_mtu=mtu)
    click.echo(fixcheck_json(result) if fmt == "json" else fixcheck_text(result), nl=False)
    if not result.protected or any(f.status == "problem" for f in result.fixes):
        set_exit_status(1)


# ---- end probe ---------------------------------------------------------------------


# ---- lab (lab/) ---------------------------------------------------------------------
@cli.group()
def lab() -> None:
    """Reproduce black holes and their fixes in network namespaces (root)."""


@lab.command("list")
def lab_list() -> None:
    """List the scenarios with their expected verdict and delivery outcome."""
    from rich.console import Console

    from pathsleuth.lab.scenarios import SCENARIOS
    from pathsleuth.report.lab_text import render_lab_list

    render_lab_list(SCENARIOS.values(), Console())


def _scenario_arg(name: str) -> str:
    from pathsleuth.lab.scenarios import SCENARIOS

    if name not in SCENARIOS:
        raise click.BadParameter(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return name


@lab.command("run")
@click.argument("scenario")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory for client.pcapng, the sender log and run.json [./lab-SCENARIO].",
)
@click.option(
    "--sender",
    type=click.Choice(["postfix", "smtplib"]),
    default="postfix",
    show_default=True,
    help="A real Postfix instance or a plain smtplib client.",
)
@click.option(
    "--size",
    type=click.IntRange(min=1000),
    default=90_000,
    show_default=True,
    help="Message size in bytes.",
)
@click.option(
    "--mtu",
    type=click.IntRange(1280, 1500),
    default=None,
    help="MTU of the small link (e.g. 1280, 1492) [scenario's: 1400].",
)
@click.option("--routers", type=click.IntRange(1, 8), default=None, help="Routers on the path [2].")
@click.option(
    "--timeout",
    type=click.FloatRange(5, 600),
    default=60.0,
    show_default=True,
    help="Upper bound in seconds on the delivery attempt.",
)
def lab_run(
    scenario: str,
    out_dir: str | None,
    sender: str,
    size: int,
    mtu: int | None,
    routers: int | None,
    timeout: float,
) -> None:
    """Build SCENARIO, send one message while capturing on the client, tear it down."""
    from typing import cast

    from rich.console import Console

    from pathsleuth.lab.runner import Sender, run_scenario
    from pathsleuth.lab.topology import require_root
    from pathsleuth.report.lab_text import render_lab_run

    _scenario_arg(scenario)
    require_root()
    result = run_scenario(
        scenario,
        out_dir or f"lab-{scenario}",
        sender=cast(Sender, sender),
        size=size,
        timeout=timeout,
        mtu=mtu,
        routers=routers,
    )
    render_lab_run(result, Console())
    if not result.outcome_as_expected:
        set_exit_status(1)


@lab.command("up")
@click.argument("scenario")
@click.option("--mtu", type=click.IntRange(1280, 1500), default=None, help="MTU of the small link.")
@click.option("--routers", type=click.IntRange(1, 8), default=None, help="Routers on the path [2].")
@click.option("--no-postfix", is_flag=True, help="Do not start a Postfix instance in the client.")
def lab_up(scenario: str, mtu: int | None, routers: int | None, no_postfix: bool) -> None:
    """Build SCENARIO and leave it running (remove it with `lab down`)."""
    from rich.console import Console

    from pathsleuth.lab.runner import lab_up as _lab_up
    from pathsleuth.report.lab_text import render_lab_up

    _scenario_arg(scenario)
    render_lab_up(_lab_up(scenario, mtu=mtu, routers=routers, postfix=not no_postfix), Console())


@lab.command("down")
@click.option(
    "--prefix",
    default="psl-",
    show_default=True,
    help="Remove the namespaces whose names start with this.",
)
def lab_down(prefix: str) -> None:
    """Remove running labs: their namespaces, processes and scratch directories."""
    from rich.console import Console

    from pathsleuth.lab.runner import lab_down as _lab_down
    from pathsleuth.lab.topology import LAB_PREFIX
    from pathsleuth.report.lab_text import render_lab_down

    if not prefix.startswith(LAB_PREFIX):
        raise click.BadParameter(f"lab prefixes start with {LAB_PREFIX!r}", param_hint="--prefix")
    render_lab_down(_lab_down(prefix), Console())


# ---- end lab -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> NoReturn:
    """Console-script entry point: turns library errors into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="pathsleuth", standalone_mode=False)
    except PathsleuthError as exc:
        click.echo(f"pathsleuth: error: {exc}", err=True)
        sys.exit(exc.exit_status)
    except click.exceptions.Abort:
        click.echo("pathsleuth: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(_exit_status)


#: set by subcommands that want a non-zero exit without raising (e.g. a finding)
_exit_status = 0


def set_exit_status(code: int) -> None:
    global _exit_status
    _exit_status = max(_exit_status, code)


if __name__ == "__main__":
    main()
