"""The trace planner against simulated paths: no sockets, no root, no clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathsleuth.probe.planner import (
    MAX_PROBES,
    PROBES_PER_HOP,
    Probe,
    Reply,
    ReplyKind,
    StopReason,
    Timeout,
    TracePlanner,
)


@dataclass
class Node:
    address: str
    next_mtu: int = 1500
    """MTU of the link after this node (towards the target)"""
    sends_ptb: bool = True
    answers: bool = True


@dataclass
class SimPath:
    """A chain this-host -> nodes[0] -> ... -> nodes[-1] (the destination)."""

    nodes: list[Node]
    first_mtu: int = 1500
    lose: Callable[[Probe], bool] = lambda p: False

    def answer(self, probe: Probe) -> Reply | Timeout:
        if self.lose(probe) or probe.size > self.first_mtu:
            return Timeout(probe_id=probe.id)
        for k, node in enumerate(self.nodes, start=1):
            is_dest = k == len(self.nodes)
            if k == probe.ttl or is_dest:
                if not node.answers:
                    return Timeout(probe_id=probe.id)
                kind = ReplyKind.DESTINATION if is_dest else ReplyKind.TIME_EXCEEDED
                return Reply(probe_id=probe.id, kind=kind, address=node.address, rtt_ms=float(k))
            if probe.size > node.next_mtu:
                if node.sends_ptb:
                    return Reply(
                        probe_id=probe.id,
                        kind=ReplyKind.PACKET_TOO_BIG,
                        address=node.address,
                        mtu=node.next_mtu,
                    )
                return Timeout(probe_id=probe.id)
        raise AssertionError("unreachable")


def run(path: SimPath, *, family: int = 4, max_hops: int = 30) -> tuple[TracePlanner, list[Probe]]:
    planner = TracePlanner("target", family=family, first_mtu=path.first_mtu, max_hops=max_hops)  # type: ignore[arg-type]
    sent: list[Probe] = []
    for _ in range(MAX_PROBES + 1):
        probe = planner.next_probe()
        if probe is None:
            break
        sent.append(probe)
        planner.handle(path.answer(probe))
    assert planner.done
    return planner, sent


def lab(*, r1_ptb: bool = True, small: int = 1400) -> SimPath:
    return SimPath(
        [
            Node("198.18.0.2", next_mtu=small, sends_ptb=r1_ptb),
            Node("198.18.1.2"),
            Node("198.18.2.2"),
        ]
    )


def test_all_fine_full_mtu() -> None:
    planner, sent = run(SimPath([Node("10.0.0.1"), Node("10.0.1.1"), Node("10.0.2.1")]))
    trace = planner.result()
    assert trace.reached and trace.stop is StopReason.REACHED
    assert [h.address for h in trace.hops] == ["10.0.0.1", "10.0.1.1", "10.0.2.1"]
    assert trace.path_mtu == 1500 and trace.path_mtu_high is None
    assert trace.drops == () and trace.blackhole is None
    assert len(sent) == 3  # one probe per hop when everything answers
    assert trace.hops[-1].destination


def test_mtu_drop_announced_at_hop_3() -> None:
    nodes = [Node(f"10.0.{i}.1") for i in range(5)]
    nodes[2].next_mtu = 1400  # hop 3's next link is small, hop 3 sends PTB
    trace = run(SimPath(nodes))[0].result()
    assert trace.reached
    assert [h.mtu for h in trace.hops] == [1500, 1500, 1500, 1400, 1400]
    (drop,) = trace.drops
    assert drop.after_ttl == 3 and drop.router == "10.0.2.1" and drop.mtu == 1400 and drop.announced
    assert trace.path_mtu == 1400 and trace.path_mtu_high == 1401
    assert trace.blackhole is None


def test_pmtud_working_lab_shape() -> None:
    trace = run(lab())[0].result()
    assert trace.path_mtu == 1400 and trace.reached and trace.blackhole is None
    assert trace.drops[0].router == "198.18.0.2" and trace.drops[0].after_ttl == 1


def test_blackhole_after_hop_1_finds_1400_cheaply() -> None:
    planner, sent = run(lab(r1_ptb=False))
    trace = planner.result()
    assert trace.reached
    bh = trace.blackhole
    assert bh is not None
    assert bh.after_ttl == 1 and bh.router == "198.18.0.2" and bh.next_hop == "198.18.1.2"
    assert (bh.mtu_low, bh.mtu_high) == (1400, 1401)
    assert trace.path_mtu == 1400
    assert [h.mtu for h in trace.hops] == [1500, 1400, 1400]
    assert 1500 in trace.hops[1].lost_sizes
    (drop,) = trace.drops
    assert not drop.announced and drop.mtu == 1400
    # common-MTU search: far fewer probes than a linear walk
    assert len(sent) <= 20


def test_blackhole_after_hop_2_of_5() -> None:
    nodes = [Node(f"10.0.{i}.1") for i in range(5)]
    nodes[1].next_mtu = 1380
    nodes[1].sends_ptb = False
    trace = run(SimPath(nodes))[0].result()
    assert trace.blackhole is not None
    assert trace.blackhole.after_ttl == 2 and trace.blackhole.router == "10.0.1.1"
    assert trace.path_mtu == 1380 and trace.reached


def test_blackhole_at_uncommon_mtu_exact_by_binary_search() -> None:
    trace = run(lab(r1_ptb=False, small=1377))[0].result()
    assert trace.blackhole is not None
    assert (trace.blackhole.mtu_low, trace.blackhole.mtu_high) == (1377, 1378)


def test_blackhole_on_last_link_reaches_destination() -> None:
    nodes = [Node("10.0.0.1"), Node("10.0.1.1", next_mtu=1280, sends_ptb=False), Node("10.0.2.1")]
    trace = run(SimPath(nodes))[0].result()
    assert trace.reached and trace.path_mtu == 1280
    assert trace.blackhole is not None and trace.blackhole.router == "10.0.1.1"
    assert trace.hops[-1].destination


def test_ipv6_minimum_is_1280() -> None:
    nodes = [Node("2001:db8::1", next_mtu=1280, sends_ptb=False), Node("2001:db8:1::2")]
    planner, _ = run(SimPath(nodes), family=6)
    trace = planner.result()
    assert trace.path_mtu == 1280 and trace.blackhole is not None
    assert trace.blackhole.mtu_low == 1280


def test_silent_router_is_not_a_blackhole() -> None:
    nodes = [Node("10.0.0.1"), Node("10.0.1.1", answers=False), Node("10.0.2.1")]
    planner, sent = run(SimPath(nodes))
    trace = planner.result()
    assert trace.reached and trace.blackhole is None
    assert trace.hops[1].address is None and trace.hops[1].mtu is None
    # bounded: the silent hop costs at most 1 large + PROBES_PER_HOP small probes
    assert sum(1 for p in sent if p.ttl == 2) <= 1 + PROBES_PER_HOP


def test_filtered_udp_gives_up_after_silent_hops() -> None:
    nodes = [Node("10.0.0.1")] + [Node(f"10.0.{i}.1", answers=False) for i in range(1, 20)]
    planner, sent = run(SimPath(nodes))
    trace = planner.result()
    assert trace.stop is StopReason.SILENT and not trace.reached
    assert len(trace.hops) == 6  # hop 1 plus five silent ones
    assert len(sent) < 30


def test_max_hops_bound() -> None:
    nodes = [Node(f"10.0.{i}.1") for i in range(40)]
    trace = run(SimPath(nodes), max_hops=8)[0].result()
    assert trace.stop is StopReason.MAX_HOPS and len(trace.hops) == 8


def test_one_lost_large_probe_is_not_a_blackhole() -> None:
    lost = {2}

    def lose(p: Probe) -> bool:
        return p.id in lost

    nodes = [Node("10.0.0.1"), Node("10.0.1.1"), Node("10.0.2.1")]
    trace = run(SimPath(nodes, lose=lose))[0].result()
    assert trace.blackhole is None and trace.path_mtu == 1500 and trace.reached


def test_rate_limited_search_still_finds_mtu() -> None:
    # every third probe's answer is lost (an ICMP rate limit); a second try gets through
    def lose(p: Probe) -> bool:
        return p.id % 3 == 0

    planner, _ = run(SimPath(lab(r1_ptb=False).nodes, lose=lose))
    trace = planner.result()
    assert trace.blackhole is not None and trace.path_mtu == 1400


def test_local_mtu_lowers_first_probe() -> None:
    planner = TracePlanner("t", family=4, first_mtu=9000)
    p = planner.next_probe()
    assert p is not None and p.size == 9000
    planner.handle(Reply(probe_id=p.id, kind=ReplyKind.LOCAL_MTU, address=None, mtu=1500))
    p2 = planner.next_probe()
    assert p2 is not None and p2.size == 1500 and p2.ttl == 1
    assert planner.result().first_mtu == 1500


def test_unreachable_stops() -> None:
    planner = TracePlanner("t", family=4, first_mtu=1500)
    p = planner.next_probe()
    assert p is not None
    planner.handle(
        Reply(
            probe_id=p.id, kind=ReplyKind.UNREACHABLE, address="10.0.0.1", code="admin prohibited"
        )
    )
    trace = planner.result()
    assert planner.done and trace.stop is StopReason.UNREACHABLE
    assert trace.hops[0].unreachable == "admin prohibited"


def test_stale_and_double_events_are_ignored() -> None:
    planner = TracePlanner("t", family=4, first_mtu=1500)
    p = planner.next_probe()
    assert p is not None
    assert planner.next_probe() is None  # one probe in flight
    planner.handle(Timeout(probe_id=p.id + 7))
    assert planner.outstanding == p
    planner.handle(Reply(probe_id=p.id, kind=ReplyKind.TIME_EXCEEDED, address="a", rtt_ms=1.0))
    planner.handle(Reply(probe_id=p.id, kind=ReplyKind.TIME_EXCEEDED, address="b", rtt_ms=1.0))
    assert [h.address for h in planner.result().hops] == ["a"]


def test_bogus_ptb_mtu_triggers_search() -> None:
    # a PTB announcing an MTU no smaller than the probe (or 0) cannot be used as is
    planner = TracePlanner("t", family=4, first_mtu=1500)
    p = planner.next_probe()
    assert p is not None
    planner.handle(Reply(probe_id=p.id, kind=ReplyKind.PACKET_TOO_BIG, address="r", mtu=0))
    p2 = planner.next_probe()
    assert p2 is not None and 576 < p2.size < 1500


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        TracePlanner("t", family=6, first_mtu=1000)
    with pytest.raises(ValueError):
        TracePlanner("t", family=4, first_mtu=1500, max_hops=0)


@settings(max_examples=150, deadline=None)
@given(
    mtus=st.lists(st.integers(1280, 1500), min_size=1, max_size=8),
    ptb=st.lists(st.booleans(), min_size=8, max_size=8),
    answers=st.lists(st.booleans(), min_size=8, max_size=8),
    loss_mod=st.integers(0, 7),
)
def test_any_path_is_bounded_and_never_overestimates(
    mtus: list[int], ptb: list[bool], answers: list[bool], loss_mod: int
) -> None:
    nodes = [
        Node(f"10.0.{i}.1", next_mtu=m, sends_ptb=ptb[i], answers=answers[i] or i == len(mtus) - 1)
        for i, m in enumerate(mtus)
    ]

    def lose(p: Probe) -> bool:
        return loss_mod > 1 and p.id % loss_mod == 0

    planner, sent = run(SimPath(nodes, lose=lose), family=6)
    trace = planner.result()
    assert len(sent) <= MAX_PROBES
    true_mtu = min(m for m in mtus[:-1]) if len(mtus) > 1 else 1500
    true_mtu = min(true_mtu, 1500)
    # whatever the losses, a size reported as reaching a hop did reach it
    for hop in trace.hops:
        if hop.mtu is not None and hop.address is not None:
            k = int(hop.address.split(".")[2])
            assert hop.mtu <= min([1500, *mtus[:k]])
    if trace.reached and loss_mod <= 1:
        assert trace.path_mtu == true_mtu


def test_ptb_for_a_small_probe_counts_as_no_answer() -> None:
    planner = TracePlanner("t", family=4, first_mtu=1500)
    p = planner.next_probe()
    assert p is not None
    planner.handle(Timeout(probe_id=p.id))
    small = planner.next_probe()
    assert small is not None and small.small and small.size == 576
    planner.handle(Reply(probe_id=small.id, kind=ReplyKind.PACKET_TOO_BIG, address="r", mtu=500))
    assert planner.blackhole is None and not planner.done
    nxt = planner.next_probe()
    assert nxt is not None and nxt.ttl == 1


def run_sizeless(path: SimPath) -> tuple[TracePlanner, list[Probe]]:
    planner = TracePlanner("target", family=4, first_mtu=1500, measure_mtu=False)
    sent: list[Probe] = []
    for _ in range(MAX_PROBES + 1):
        probe = planner.next_probe()
        if probe is None:
            break
        sent.append(probe)
        planner.handle(path.answer(probe))
    assert planner.done
    return planner, sent


def test_sizeless_trace_is_a_plain_traceroute() -> None:
    """TCP SYN probes have no size: the black hole after r1 is invisible, every hop is
    found with one probe, and the result carries no MTU at all."""
    planner, sent = run_sizeless(lab(r1_ptb=False))
    trace = planner.result()
    assert {p.size for p in sent} == {576} and not any(p.small for p in sent)
    assert len(sent) == 3 and trace.reached and trace.stop is StopReason.REACHED
    assert [h.address for h in trace.hops] == ["198.18.0.2", "198.18.1.2", "198.18.2.2"]
    assert all(h.mtu is None for h in trace.hops)
    assert not trace.mtu_measured and trace.first_mtu is None and trace.path_mtu is None
    assert trace.path_mtu_high is None and trace.drops == () and trace.blackhole is None


def test_sizeless_trace_silent_hops_and_losses() -> None:
    nodes = [Node("10.0.0.1"), Node("10.0.1.1", answers=False), Node("10.0.2.1")]
    lost = {2 + PROBES_PER_HOP}  # the first probe at TTL 3 is lost, the retry answers
    path = SimPath(nodes, lose=lambda p: p.id in lost)
    planner, sent = run_sizeless(path)
    trace = planner.result()
    assert [h.address for h in trace.hops] == ["10.0.0.1", None, "10.0.2.1"]
    assert trace.reached and len(sent) == 1 + PROBES_PER_HOP + 2
    assert [p.ttl for p in sent][-2:] == [3, 3]


def test_ptb_for_a_minimum_size_probe_is_no_answer() -> None:
    """A PTB for a probe of the minimum size breaks RFC 1191 / 8201: the planner treats it as
    a loss (never as a black hole found by an empty search)."""
    planner = TracePlanner("t", family=4, first_mtu=1500, measure_mtu=False)
    for _ in range(PROBES_PER_HOP):
        probe = planner.next_probe()
        assert probe is not None
        planner.handle(
            Reply(probe_id=probe.id, kind=ReplyKind.PACKET_TOO_BIG, address="10.0.0.1", mtu=500)
        )
    trace = planner.result()
    assert trace.blackhole is None and trace.hops[0].address is None
