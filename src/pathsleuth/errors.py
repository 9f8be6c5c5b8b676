"""The two kinds of failure pathsleuth reports, and nothing else.

`BadInput` means "what you gave me is broken": a capture, archive or log that cannot be
read. It names the file and where (byte offset, frame or line) and the CLI turns it into
one line on stderr and exit status 2. `EnvironmentProblem` means "this machine cannot do
what you asked": not root, a missing kernel feature or tool. The CLI exits 3 for it.
A malformed *packet* inside a readable file is neither: it is counted and reported, and
analysis goes on.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3


class PathsleuthError(Exception):
    """Base class of the errors the CLI reports as one line without a traceback."""

    exit_status = EXIT_BAD_INPUT


class BadInput(PathsleuthError):
    """Unreadable input: names the file and the position, says what was expected."""

    exit_status = EXIT_BAD_INPUT

    def __init__(
        self,
        file: str,
        message: str,
        *,
        offset: int | None = None,
        frame: int | None = None,
        line: int | None = None,
    ) -> None:
        self.file = file
        self.message = message
        self.offset = offset
        self.frame = frame
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.frame is not None:
            where.append(f"frame {self.frame}")
        if self.offset is not None:
            where.append(f"byte offset {self.offset}")
        if self.line is not None:
            where.append(f"line {self.line}")
        loc = f" ({', '.join(where)})" if where else ""
        return f"{self.file}{loc}: {self.message}"


class EnvironmentProblem(PathsleuthError):
    """The host cannot do what was asked (permissions, kernel feature, missing tool)."""

    exit_status = EXIT_ENVIRONMENT
