"""The rich terminal report of `analyze`: order, content, 80 columns, pipes, markup safety."""

from __future__ import annotations

import dataclasses
import io
import re

from report_samples import Result, healthy_result, seed_finding
from rich.console import Console

from pathsleuth.diagnose.model import Evidence
from pathsleuth.report.analyze_text import MAX_ICMP_LINES, render_analyze_text

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render(result: Result, *, width: int = 80, show_all: bool = False, tty: bool = False) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf, width=width, force_terminal=tty or None, color_system="standard" if tty else None
    )
    render_analyze_text(result, console, show_all=show_all)
    return buf.getvalue()


def test_summary_comes_first_then_findings_worst_first(result: Result) -> None:
    out = render(result)
    files = out.index("PACKETTRACE.TAR.GZ:PACKETTRACE")
    problems = out.index("1 error · 1 warning · 1 info")
    first = out.index("1. ERROR path-MTU black hole")
    second = out.index("2. WARNING packet loss")
    third = out.index("3. INFO path-MTU discovery working")
    # the producer listed info first; the report puts the error first
    assert files < problems < first < second < third
    assert "4 TCP connections, 1 without problems (--all lists every one)" in out
    assert "2 malformed (frames 17, 4410)" in out
    assert "2009-05-18 16:41:20.000000 UTC → 16:47:25.200000 UTC (6 min 5.2 s)" in out


def test_finding_block_has_everything_the_engineer_wrote(result: Result) -> None:
    out = render(result)
    block = out[out.index("1. ERROR") : out.index("2. WARNING")]
    assert "confidence 0.95" in block
    assert "1. ERROR path-MTU black hole (pmtu_blackhole)" in block
    assert "do first     Let ICMP" in block
    assert "192.168.1.254:55400 → 203.106.231.124:25" in block
    assert "connection 7 in PACKETTRACE.TAR.GZ:PACKETTRACE" in block
    assert "outbound: our segments to the peer" in block
    assert "our side or the path to the peer" in block
    assert "at the sender of the failing data" in block
    assert "below 1500 bytes" in block
    assert "no: the sender never fell back" in block
    for frame in ("#9438", "#9484", "#9530", "#9635", "#9446"):
        assert frame in block
    assert "no ICMP type 3 code 4 for this flow in the capture" in block
    assert "peer ≈ 10 hops away (TTL 54)" in block
    # commands are never broken across lines, even at 80 columns
    finding = seed_finding()
    assert finding.wireshark_filter in block
    for advice in finding.advice:
        assert advice.tradeoffs.split()[0] in block
        for cmd in advice.commands:
            assert f"$ {cmd}\n" in block
        for line in advice.persist:
            assert f"{line}\n" in block


def test_advice_is_in_rank_order(result: Result) -> None:
    out = render(result)
    titles = [a.title for a in sorted(seed_finding().advice, key=lambda a: a.rank)]
    # the fixture lists rank 5 before rank 4
    positions = [out.index(t.split("(")[0].strip()[:30]) for t in titles]
    assert positions == sorted(positions)
    assert out.index("4. Pin a smaller MTU") < out.index("5. Disable path-MTU discovery")


def test_readable_at_80_columns_without_trailing_blanks(result: Result) -> None:
    out = render(result, show_all=True)
    commands = {seed_finding().wireshark_filter}
    for f in result.findings:
        commands.add(f.wireshark_filter)
        for a in f.advice:
            commands.update(a.commands)
            commands.update(a.persist)
    for line in out.splitlines():
        assert line == line.rstrip(), repr(line)
        if len(line) > 80:
            # only copy-safe command lines may run past the width
            assert any(line.strip().removeprefix("$ ") == c for c in commands), line


def test_no_colour_codes_when_piped_and_colour_on_a_terminal(result: Result) -> None:
    assert not ANSI.search(render(result))
    assert ANSI.search(render(result, tty=True))
    assert ANSI.sub("", render(result, tty=True)).count("1. ERROR") == 1


def test_healthy_capture_says_so(healthy: Result) -> None:
    out = render(healthy)
    assert "no problems found in 1 connection" in out
    assert "ERROR" not in out


def test_no_connections_at_all() -> None:
    empty = dataclasses.replace(healthy_result(), connections=[])
    out = render(empty)
    assert "no TCP connections in the capture, nothing to diagnose" in out


def test_all_adds_a_table_of_every_connection(result: Result) -> None:
    without = render(result)
    with_all = render(result, show_all=True)
    assert "ShADadFf" not in without
    table = with_all[with_all.index("connections\n") : with_all.index("1. ERROR")]
    assert table.count(" ok") == 1  # connection 8 is the only healthy one
    for verdict in ("pmtu_blackhole", "packet_loss", "pmtud_working"):
        assert verdict in table
    # addresses are never folded in the middle
    for addr in ("192.168.1.254:55400", "203.106.231.124:25", "[2001:db8:1::7]:41822"):
        assert addr in table


def test_all_on_a_wide_terminal_keeps_each_flow_on_one_line(result: Result) -> None:
    out = render(result, show_all=True, width=140)
    assert "192.168.1.254:55400 → 203.106.231.124:25" in out
    assert "reset" in out  # the state column appears when there is room


def test_producer_text_is_not_rich_markup() -> None:
    f = dataclasses.replace(
        seed_finding(),
        evidence=[Evidence(frame=1, text="[bold]not markup[/bold] and [red]")],
        file="odd[name].pcap",
    )
    out = render(Result(files=[], connections=[], findings=[f]))
    assert "[bold]not markup[/bold] and [red]" in out
    assert "odd[name].pcap" in out


def test_icmp_errors_section_after_the_summary(result: Result) -> None:
    out = render(result, width=100)
    summary, rest = out.split("ICMP errors ─", 1)
    assert "ICMP errors  3 in the capture" in summary
    # the summary names each finding on one line before any detail
    assert (
        "#1 error: path-MTU black hole on 192.168.1.254:55400 → 203.106.231.124:25" in summary
    )  # the count is in the summary grid
    assert "2 invalid or implausible" in summary
    icmp = rest.split("1. ERROR", 1)[0]
    # sorted by frame; each says type/code, router, MTU, quote and match
    assert icmp.index("#612") < icmp.index("#640") < icmp.index("#700")
    assert "ICMP type 3 code 4 (fragmentation needed) from 10.9.0.254 (3 hops away)" in icmp
    assert "announced MTU 1400" in icmp
    assert "quotes TCP 10.0.0.1:40000 → 10.9.0.2:25 seq 3000001449, 1500 bytes, DF" in icmp
    assert "matches connection 3, the segment in frame 611" in icmp
    assert "ICMPv6 type 2 code 0 (packet too big) from 2001:db8:2::2" in icmp
    assert icmp.count("no such connection in the capture") == 2
    assert "! announced MTU 1200 is below the IPv6 minimum of 1280" in " ".join(icmp.split())
    assert "already fits the announced MTU 737: implausible" in " ".join(icmp.split())


def test_no_icmp_section_without_icmp(healthy: Result) -> None:
    assert "ICMP" not in render(healthy)


def test_icmp_section_is_capped(result: Result) -> None:
    many = dataclasses.replace(result, icmp=list(result.icmp) * 10)
    out = render(many, width=100)
    assert len(re.findall(r"\(\d+ hops? away\)", out)) == MAX_ICMP_LINES
    assert f"and {30 - MAX_ICMP_LINES} more ICMP errors (--format json lists every one)" in out
