"""What `pathsleuth probe TARGET` means: an address, a host name, or a mail domain's MX hosts.

This module owns target resolution and nothing else: an IP literal is used as is; any
other name is first looked up as a mail domain (MX records, every exchanger in preference
order, RFC 5321 section 5.1), and when it has none, as a host name (A / AAAA, the implicit
MX of RFC 5321 section 5.1). The DNS look-ups go through a `Resolver` callable so tests run
without DNS (`dns_resolver` is the real one, dnspython). It hands on `Destination`s, each one
address to probe, named after the host it belongs to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pathsleuth.errors import BadInput, EnvironmentProblem
from pathsleuth.probe.planner import Family

#: at most this many MX hosts are probed (a domain with more is unusual; the probe stays bounded)
MAX_MX_HOSTS = 10
#: DNS look-up timeout per query (dnspython's `lifetime`)
DNS_TIMEOUT_S = 5.0

#: (name, rdtype) -> answers as text: "10 mx1.example.net." for MX, addresses for A/AAAA;
#: an empty list when the name has no such records; raises EnvironmentProblem when DNS fails
Resolver = Callable[[str, str], list[str]]


@dataclass(frozen=True, kw_only=True)
class Destination:
    """One address to probe."""

    address: str
    family: Family
    host: str
    """the host name it came from (the address itself for an IP target)"""
    preference: int | None = None
    """MX preference when found through an MX record"""


def dns_resolver(name: str, rdtype: str) -> list[str]:
    """The real resolver: dnspython with a bounded lifetime."""
    import dns.exception
    import dns.name
    import dns.resolver

    try:
        qname = dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        raise BadInput("TARGET", f"{name!r} is not a valid domain name: {exc}") from exc
    try:
        answer = dns.resolver.resolve(qname, rdtype, lifetime=DNS_TIMEOUT_S)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.resolver.NoNameservers as exc:
        raise EnvironmentProblem(f"DNS: no name server answered for {name} {rdtype}") from exc
    except dns.exception.Timeout as exc:
        raise EnvironmentProblem(
            f"DNS: no answer for {name} {rdtype} within {DNS_TIMEOUT_S:g} s"
        ) from exc
    except dns.exception.DNSException as exc:
        raise EnvironmentProblem(f"DNS: {name} {rdtype}: {exc}") from exc
    return [r.to_text() for r in answer]


def _families(family: Family | None) -> Sequence[Family]:
    return (4, 6) if family is None else (family,)


def _addresses(host: str, family: Family | None, resolve: Resolver) -> list[tuple[str, Family]]:
    out: list[tuple[str, Family]] = []
    for fam in _families(family):
        for text in resolve(host, "A" if fam == 4 else "AAAA"):
            out.append((str(ipaddress.ip_address(text)), fam))
    return out


def resolve_target(
    target: str, *, family: Family | None = None, resolve: Resolver = dns_resolver
) -> list[Destination]:
    """Every address to probe for `target`, MX hosts in preference order; never empty."""
    target = target.strip()
    if not target:
        raise BadInput("TARGET", "empty target: give an IP address, a host name or a mail domain")
    try:
        ip = ipaddress.ip_address(target.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        fam: Family = 4 if ip.version == 4 else 6
        if family is not None and family != fam:
            raise BadInput(
                "TARGET", f"{target} is an IPv{fam} address but --family {family} was given"
            )
        return [Destination(address=str(ip), family=fam, host=str(ip))]
    name = target.rstrip(".")
    mx: list[tuple[int, str]] = []
    for text in resolve(name, "MX"):
        parts = text.split()
        if len(parts) == 2 and parts[0].isdigit():
            mx.append((int(parts[0]), parts[1].rstrip(".")))
    if len(mx) == 1 and mx[0][1] == "":
        # RFC 7505 null MX: the domain accepts no mail
        raise BadInput("TARGET", f"{name} publishes a null MX (RFC 7505): it receives no mail")
    dests: list[Destination] = []
    if mx:
        for pref, host in sorted(m for m in mx if m[1])[:MAX_MX_HOSTS]:
            for addr, fam in _addresses(host, family, resolve):
                dests.append(Destination(address=addr, family=fam, host=host, preference=pref))
    else:
        for addr, fam in _addresses(name, family, resolve):
            dests.append(Destination(address=addr, family=fam, host=name))
    if not dests:
        wanted = "" if family is None else f"IPv{family} "
        raise EnvironmentProblem(
            f"{name}: no MX host with an {wanted}address, and no {wanted}address of its own"
        )
    return dests
