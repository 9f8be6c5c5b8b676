"""Target resolution with an injected resolver (no DNS)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.errors import BadInput, EnvironmentProblem
from pathsleuth.probe.targets import MAX_MX_HOSTS, resolve_target

ZONE = {
    ("example.net", "MX"): ["20 mx2.example.net.", "10 mx1.example.net."],
    ("mx1.example.net", "A"): ["192.0.2.10"],
    ("mx1.example.net", "AAAA"): ["2001:db8::10"],
    ("mx2.example.net", "A"): ["192.0.2.20"],
    ("host.example.net", "A"): ["192.0.2.30"],
    ("nullmx.example", "MX"): ["0 ."],
}


def fake(name: str, rdtype: str) -> list[str]:
    return list(ZONE.get((name, rdtype), []))


def test_ip_literals() -> None:
    (d,) = resolve_target("198.18.2.2", resolve=fake)
    assert (d.address, d.family, d.host, d.preference) == ("198.18.2.2", 4, "198.18.2.2", None)
    (d6,) = resolve_target("[2001:db8:0:2::2]", resolve=fake)
    assert d6.family == 6 and d6.address == "2001:db8:0:2::2"


def test_family_mismatch_is_bad_input() -> None:
    with pytest.raises(BadInput, match="IPv4 address"):
        resolve_target("198.18.2.2", family=6, resolve=fake)


def test_mail_domain_every_mx_in_preference_order() -> None:
    dests = resolve_target("example.net", resolve=fake)
    assert [(d.host, d.address, d.preference) for d in dests] == [
        ("mx1.example.net", "192.0.2.10", 10),
        ("mx1.example.net", "2001:db8::10", 10),
        ("mx2.example.net", "192.0.2.20", 20),
    ]
    assert [d.address for d in resolve_target("example.net.", family=4, resolve=fake)] == [
        "192.0.2.10",
        "192.0.2.20",
    ]


def test_host_name_without_mx() -> None:
    (d,) = resolve_target("host.example.net", resolve=fake)
    assert d.address == "192.0.2.30" and d.preference is None


def test_null_mx_and_nothing() -> None:
    with pytest.raises(BadInput, match="null MX"):
        resolve_target("nullmx.example", resolve=fake)
    with pytest.raises(EnvironmentProblem, match="no MX host"):
        resolve_target("nothing.example", resolve=fake)
    with pytest.raises(BadInput):
        resolve_target("  ", resolve=fake)


def test_mx_count_is_bounded() -> None:
    zone = {("big.example", "MX"): [f"{i} mx{i}.big.example." for i in range(50)]}
    zone |= {(f"mx{i}.big.example", "A"): [f"192.0.2.{i}"] for i in range(50)}
    dests = resolve_target("big.example", family=4, resolve=lambda n, t: zone.get((n, t), []))
    assert len(dests) == MAX_MX_HOSTS


@given(st.text(max_size=40), st.lists(st.text(max_size=30), max_size=4))
def test_any_target_and_mx_text_gives_destinations_or_a_clean_error(
    target: str, mx: list[str]
) -> None:
    def resolver(name: str, rdtype: str) -> list[str]:
        return mx if rdtype == "MX" else (["192.0.2.1"] if rdtype == "A" else [])

    try:
        dests = resolve_target(target, resolve=resolver)
    except (BadInput, EnvironmentProblem):
        return
    assert dests and all(d.family in (4, 6) for d in dests)


def test_real_resolver_rejects_bad_names_without_network() -> None:
    from pathsleuth.probe.targets import dns_resolver

    with pytest.raises(BadInput, match="not a valid domain name"):
        dns_resolver("a..b", "MX")
    with pytest.raises(BadInput):
        dns_resolver("x" * 300, "MX")
