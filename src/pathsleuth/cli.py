"""Command line: wires the stages together and nothing more.

Each subcommand parses its options, calls one library entry point, hands the result to
`report/`, and maps the outcome to an exit status: 0 nothing wrong, 1 an error-severity
finding, 2 bad input (one line on stderr naming file and position, never a traceback),
3 the environment cannot do it (not root, missing tool).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

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
@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="text for people, json for machines (the versioned contract), html with charts",
)
@click.option("--all", "show_all", is_flag=True, help="also list healthy connections")
@click.option(
    "--flow",
    "flow_expr",
    metavar="EXPR",
    help="only this flow: ADDR, ADDR:PORT, :PORT, A:P-B:Q, or #CONNECTION_ID",
)
@click.option(
    "--log",
    "logs",
    multiple=True,
    type=click.Path(),
    help="mail-server log(s) to join with the capture (repeatable)",
)
@click.option("--date", "log_date", help="date for GWIA logs without one (YYYY-MM-DD)")
@click.option("-o", "--output", type=click.Path(), help="write the report to a file")
def analyze(
    files: tuple[str, ...],
    fmt: str,
    show_all: bool,
    flow_expr: str | None,
    logs: tuple[str, ...],
    log_date: str | None,
    output: str | None,
) -> None:
    """Diagnose stalled TCP transfers in captures: PMTU black holes and their look-alikes.

    Exit status: 0 no error-severity finding, 1 at least one, 2 bad input.
    """
    from rich.console import Console

    from pathsleuth.diagnose.model import Severity
    from pathsleuth.pipeline import FlowFilter, analyze_paths

    try:
        flow_filter = FlowFilter.parse(flow_expr) if flow_expr else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--flow") from exc
    result = analyze_paths(
        files, progress=_progress_callback(), flow_filter=flow_filter, charts=fmt == "html"
    )
    joined = None
    if logs:
        from pathsleuth.pipeline import join_logs

        joined = join_logs(result, logs, day=_parse_date(log_date))
    out = open(output, "w", encoding="utf-8") if output else None  # noqa: SIM115
    try:
        if fmt == "json":
            import json

            from pathsleuth.report.analyze_json import analyze_document

            doc = analyze_document(result)
            if joined is not None:
                from pathsleuth.report.maillog import logs_document, matches_document

                doc["mail_log"] = {
                    "triage": logs_document(joined[0]),
                    "correlation": matches_document(joined[1]),
                }
            click.echo(json.dumps(doc, indent=2, allow_nan=False), file=out)
        elif fmt == "html":
            from pathsleuth.report.html import render_analyze_html

            click.echo(render_analyze_html(result, _seq_points(result)), file=out)
        else:
            from pathsleuth.report.analyze_text import render_analyze_text

            console = Console(file=out) if out else Console()
            render_analyze_text(result, console, show_all=show_all)
            if joined is not None:
                from pathsleuth.report.maillog import render_logs_text, render_matches_text

                console.rule("mail log")
                render_logs_text(joined[0], console)
                console.rule("log attempts in the capture")
                render_matches_text(joined[1], console)
    finally:
        if out:
            out.close()
    if any(f.severity == Severity.ERROR for f in result.findings):
        set_exit_status(1)


def _parse_date(text: str | None) -> Any:
    import datetime

    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not YYYY-MM-DD", param_hint="--date") from exc


def _seq_points(result: Any) -> dict[tuple[str, int], list[Any]]:
    from pathsleuth.report.views import SeqPoint

    return {k: [SeqPoint(*p) for p in pts] for k, pts in result.points.items()}


# ---- end analyze -------------------------------------------------------------------


# ---- logs (maillog/) ----------------------------------------------------------------
@cli.command("logs")
@click.argument("logs", nargs=-1, required=True)
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Terminal report or the versioned JSON document (schema/logs.schema.json).",
)
@click.option(
    "--date",
    "log_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date of the first line for logs without one (GWIA), and the year for syslog stamps.",
)
@click.option(
    "--destination",
    default=None,
    help="Only attempts to this domain, host or IP (subdomains included).",
)
def logs_cmd(
    logs: tuple[str, ...], out_format: str, log_date: object, destination: str | None
) -> None:
    """Triage mail logs (Postfix, Sendmail, Exim, GroupWise GWIA; compressed, rotated, '-')."""
    from datetime import datetime

    from rich.console import Console

    from pathsleuth.errors import EXIT_FINDING
    from pathsleuth.maillog.analysis import analyze_logs
    from pathsleuth.report.maillog import render_logs_json, render_logs_text

    day = log_date.date() if isinstance(log_date, datetime) else None
    analysis = analyze_logs(logs, day=day, destination=destination)
    if out_format == "json":
        click.echo(render_logs_json(analysis), nl=False)
    else:
        render_logs_text(analysis, Console())
    if analysis.has_suspect:
        set_exit_status(EXIT_FINDING)


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
    type=click.Choice(["udp", "icmp", "tcp"]),
    default="udp",
    show_default=True,
    help="Hop-trace probes: UDP (unprivileged) or ICMP echo (root; for paths that filter "
    "UDP) measure the MTU per hop. TCP SYN to --port, for paths that filter UDP and ICMP: "
    "as root the SYNs carry a payload and measure the MTU too; without root they find hops "
    "and reachability only (a plain SYN has no payload; the SMTP test measures the MTU).",
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
        method="icmp" if method == "icmp" else "tcp" if method == "tcp" else "udp",
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
