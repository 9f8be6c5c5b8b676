"""Command line: wires the stages together and nothing more.

Each subcommand parses its options, calls one library entry point, hands the result to
`report/`, and maps the outcome to an exit status: 0 nothing wrong, 1 an error-severity
finding, 2 bad input (one line on stderr naming file and position, never a traceback),
3 the environment cannot do it (not root, missing tool).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from pathsleuth import __version__
from pathsleuth.errors import PathsleuthError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pathsleuth")
def cli() -> None:
    """Why does mail (or any TCP transfer) to some destinations stall?"""


# ---- decode (capture/) ------------------------------------------------------------
# ---- end decode --------------------------------------------------------------------

# ---- analyze (tcp/ + diagnose/) -----------------------------------------------------
# ---- end analyze -------------------------------------------------------------------

# ---- logs (maillog/) ----------------------------------------------------------------
# ---- end logs ----------------------------------------------------------------------

# ---- probe, fix-check (probe/) ------------------------------------------------------
# ---- end probe ---------------------------------------------------------------------

# ---- lab (lab/) ---------------------------------------------------------------------
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
