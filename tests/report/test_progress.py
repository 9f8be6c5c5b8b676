"""The stderr progress callback: appears only for long reads, clears itself, resets per capture."""

from __future__ import annotations

import io

from rich.console import Console

from pathsleuth.report.progress import StderrProgress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[StderrProgress, Clock, io.StringIO]:
    buf = io.StringIO()
    clock = Clock()
    console = Console(file=buf, force_terminal=True, width=80)
    return StderrProgress(console, show_after_s=0.5, clock=clock), clock, buf


def test_short_reads_never_show_a_bar() -> None:
    p, clock, buf = make()
    p(1000, 10_000)
    clock.now = 0.2
    p(5000, 10_000)
    p(10_000, 10_000)
    assert not p.visible
    assert buf.getvalue() == ""


def test_long_read_shows_then_clears() -> None:
    p, clock, buf = make()
    p(1000, 10_000)
    clock.now = 1.0
    p(5000, 10_000)
    assert p.visible
    p(10_000, 10_000)
    assert not p.visible
    assert "reading" in buf.getvalue()


def test_unknown_size_and_a_new_capture_restart_the_display() -> None:
    p, clock, _ = make()
    p(1000, None)
    clock.now = 2.0
    p(50_000, None)
    assert p.visible
    p(10, None)  # bytes went backwards: next archive member
    assert not p.visible
    clock.now = 2.1
    p(20, None)
    assert not p.visible  # its own delay starts again
    p.close()
