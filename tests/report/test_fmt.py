"""Shared wording helpers: sizes, times, endpoints, MTU bounds, JSON coercion."""

from __future__ import annotations

import math
from enum import Enum

import numpy as np
import pytest
from report_samples import sample_icmp

from pathsleuth.diagnose.model import PathMtu, Verdict
from pathsleuth.report.fmt import (
    duration_text,
    endpoint,
    frame_list,
    human_bytes,
    icmp_name,
    icmp_summary,
    jsonable,
    path_mtu_text,
    quoted_packet_text,
    sorted_icmp,
    time_span_text,
)


def test_sizes_and_durations() -> None:
    assert human_bytes(1) == "1 byte"
    assert human_bytes(1023) == "1,023 bytes"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 * 2**30) == "5.0 GiB"
    assert duration_text(0.0123) == "12.3 ms"
    assert duration_text(2.5) == "2.5 s"
    assert duration_text(365.2) == "6 min 5.2 s"
    assert duration_text(7322) == "2 h 2 min"
    assert duration_text(math.nan) == "?"


def test_time_span_repeats_the_date_only_when_it_changes() -> None:
    t0 = 1_242_664_880_000_000_000  # 2009-05-18 16:41:20 UTC
    assert time_span_text(t0, t0 + 1_500_000) == (
        "2009-05-18 16:41:20.000000 UTC → 16:41:20.001500 UTC (1.5 ms)"
    )
    assert time_span_text(t0, t0 + 86_400 * 10**9).startswith(
        "2009-05-18 16:41:20.000000 UTC → 2009-05-19 16:41:20.000000 UTC"
    )
    assert time_span_text(None, None) == "no timestamps"


def test_endpoints_bracket_ipv6() -> None:
    assert endpoint("192.0.2.1", 25) == "192.0.2.1:25"
    assert endpoint("2001:db8::1", 25) == "[2001:db8::1]:25"


def test_path_mtu_wording_depends_on_the_verdict() -> None:
    assert path_mtu_text(PathMtu(low=1400, high=1500), Verdict.PMTU_BLACKHOLE) == (
        "between 1400 and 1499 bytes (1400 got through, 1500-byte packets did not get through)"
    )
    assert "announced by a router" in path_mtu_text(
        PathMtu(low=None, high=1400), Verdict.PTB_IGNORED
    )
    assert path_mtu_text(PathMtu(low=None, high=1500), Verdict.PMTU_BLACKHOLE).startswith(
        "below 1500"
    )
    assert path_mtu_text(PathMtu(low=576, high=None), Verdict.PMTU_BLACKHOLE).startswith(
        "at least 576"
    )
    assert path_mtu_text(PathMtu(low=None, high=None), Verdict.PMTU_BLACKHOLE) == "unknown"
    # a short SMTP command as the largest acknowledged packet bounds nothing: say so
    weak = path_mtu_text(PathMtu(low=102, high=1500), Verdict.PMTU_BLACKHOLE)
    assert weak.startswith("below 1500 bytes") and "only 102 bytes" in weak
    assert "between" not in weak


def test_icmp_wording() -> None:
    assert icmp_name(4, 3, 4) == "ICMP type 3 code 4 (fragmentation needed)"
    assert icmp_name(6, 2, 0) == "ICMPv6 type 2 code 0 (packet too big)"
    assert icmp_name(6, 3, 0) == "ICMPv6 type 3 code 0 (hop limit exceeded in transit)"
    assert icmp_name(4, 3, 99) == "ICMP type 3 code 99 (destination unreachable)"
    assert icmp_name(4, 42, 0) == "ICMP type 42 code 0"
    events = sample_icmp()
    assert [e.frame for e in sorted_icmp(events)] == [612, 640, 700]
    assert quoted_packet_text(events[1]) == (
        "quotes TCP 10.0.0.1:40000 → 10.9.0.2:25 seq 3000001449, 1500 bytes, DF"
    )
    assert quoted_packet_text(events[0]) == (
        "quotes ICMPv6 fe80::6600:6aff:fe5b:8f4a → 2001:db8:2::2, 1201 bytes"
    )
    assert icmp_summary(events) == (
        "3 in the capture (3 packet too big / fragmentation needed) · "
        "2 invalid or implausible · 2 for no connection in the capture"
    )


def test_frame_lists_say_when_they_are_cut() -> None:
    assert frame_list([3, 9], 2) == "3, 9"
    assert frame_list(list(range(1, 21)), 500, limit=3) == "1, 2, 3, ... (500 in all)"


class Colour(Enum):
    RED = "red"


def test_jsonable() -> None:
    value = {"a": np.int64(3), "b": (np.float32(0.5), Colour.RED), 4: {2, 1}, "c": None}
    assert jsonable(value) == {"a": 3, "b": [0.5, "red"], "4": [1, 2], "c": None}
    with pytest.raises(ValueError, match="non-finite"):
        jsonable(float("inf"))
    with pytest.raises(TypeError, match="object"):
        jsonable(object())
