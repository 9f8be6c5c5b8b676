"""`pathsleuth fix-check`: which path-MTU black-hole fixes are in place on this host.

This module owns the *reading* of the local host's state, as pure functions over the text
the usual tools print: sysctl values (``/proc/sys``), ``ip -j route get DEST`` plus its
text form (the JSON omits ``lock``), ``ip -j link``, ``nft -j list ruleset`` and
``iptables-save`` / ``ip6tables-save``. From a `HostState` (those texts, gathered by
`probe/hostinfo.py`, the only module here that runs commands) `check_fixes` hands on a
`FixCheck`: each fix (allow ICMP PTB, tcp_mtu_probing, route MTU lock, MSS clamp,
ip_no_pmtu_disc) with whether it is in place for the destination, the firewall rules that
drop ICMP fragmentation-needed / ICMPv6 packet-too-big, and ranked `Advice` with exact
commands and how to persist them. Nothing here runs commands or prints.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pathsleuth.diagnose.model import Advice
from pathsleuth.errors import BadInput
from pathsleuth.probe.planner import Family

#: the sysctls fix-check reads (all per network namespace)
SYSCTLS = (
    "net.ipv4.ip_no_pmtu_disc",
    "net.ipv4.tcp_mtu_probing",
    "net.ipv4.tcp_base_mss",
    "net.ipv4.tcp_mtu_probe_floor",
    "net.ipv4.route.min_pmtu",
    "net.ipv6.route.mtu_expires",
)
#: kernel default of net.ipv4.tcp_base_mss (include/net/tcp.h TCP_BASE_MSS)
DEFAULT_BASE_MSS = 1024
#: the MTU used in commands when the path MTU is not known: IPsec / VPN paths' usual
#: value, and below PPPoE (1492) and GRE (1476); `pathsleuth probe` measures the real one
DEFAULT_SAFE_MTU = 1400
#: where the sysctl advice is persisted (sysctl.d(5): later names win; 90 is after distro files)
SYSCTL_FILE = "/etc/sysctl.d/90-pathsleuth-pmtu.conf"
HEADERS = {4: 40, 6: 60}  # IP + TCP without options: MSS = MTU - this


class RuleKind(StrEnum):
    DROPS_PTB = "drops_ptb"
    """drops ICMP 3/4 (IPv4) or ICMPv6 type 2 (IPv6)"""
    DROPS_ALL_ICMP = "drops_all_icmp"
    """drops every ICMP (or every ICMPv6) packet, PTB included"""
    POLICY_DROP = "policy_drop"
    """an input/forward chain with policy drop that accepts neither related nor ICMP"""
    MSS_CLAMP = "mss_clamp"
    """rewrites the MSS of SYNs (to the route MTU or to a fixed value)"""


@dataclass(frozen=True, kw_only=True)
class RuleHit:
    """One firewall rule (or chain policy) that matters for path-MTU discovery."""

    kind: RuleKind
    family: Family | None
    """4 or 6; None for both (nftables inet tables)"""
    source: str
    """"nftables" or "iptables" / "ip6tables" """
    table: str
    chain: str
    hook: str
    """input, output, forward, prerouting, postrouting (or the iptables chain name)"""
    rule: str
    """the rule as its tool would print it (approximately for nftables JSON)"""
    handle: int | None = None
    mss: int | None = None
    """MSS_CLAMP: the fixed MSS; None = clamped to the route MTU"""
    delete: str = ""
    """the command that removes it"""


@dataclass(frozen=True, kw_only=True)
class RouteInfo:
    """The route the kernel picks for the destination."""

    dst: str
    dev: str
    gateway: str | None
    mtu: int | None
    """the route's MTU metric, or a learned PMTU exception (see `learned`)"""
    mtu_locked: bool
    learned: bool
    """the MTU is a cached PTB result that expires, not a configured route MTU"""
    advmss: int | None = None


@dataclass(frozen=True, kw_only=True)
class HostState:
    """The raw texts fix-check reads; fields are None when the tool could not be run."""

    sysctls: Mapping[str, str] = field(default_factory=dict)
    route_json: str | None = None
    route_text: str | None = None
    links_json: str | None = None
    nft_json: str | None = None
    iptables_save: str | None = None
    ip6tables_save: str | None = None
    problems: tuple[str, ...] = ()
    """what could not be read, and why (e.g. the nftables ruleset needs root)"""


class FixStatus(StrEnum):
    IN_PLACE = "in_place"
    MISSING = "missing"
    PROBLEM = "problem"
    """a setting that breaks path-MTU discovery is present (a rule dropping PTB)"""
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, kw_only=True)
class FixState:
    """One fix and its state on this host for the destination."""

    id: str
    """same ids as `Advice.id`"""
    title: str
    status: FixStatus
    detail: str


@dataclass(frozen=True, kw_only=True)
class FixCheck:
    """What fix-check found."""

    dest: str | None
    family: Family
    route: RouteInfo | None
    interface_mtu: int | None
    sysctls: Mapping[str, str]
    fixes: tuple[FixState, ...]
    rules: tuple[RuleHit, ...]
    advice: tuple[Advice, ...]
    """what to apply, rank 1 first (empty when protected and nothing blocks PTB)"""
    protected: bool
    """at least one fix keeps full-size segments off a black hole towards the destination"""
    problems: tuple[str, ...] = ()


# ---- parsers (pure) ---------------------------------------------------------------------


def parse_sysctl_output(text: str) -> dict[str, str]:
    """``sysctl KEY ...`` output ("key = value" lines) as a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(what, f"not JSON: {exc.msg}", offset=exc.pos) from exc


_DIGITS = re.compile(r"[0-9]{1,9}")
_MTU_RE = re.compile(r"\bmtu (lock )?(\d+)")
_ADVMSS_RE = re.compile(r"\badvmss (?:lock )?(\d+)")


def parse_route(route_json: str, route_text: str = "") -> RouteInfo:
    """``ip -j route get DEST`` (+ its text form, which alone shows ``lock`` and ``expires``)."""
    data = _load_json(route_json, "ip -j route get")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise BadInput("ip -j route get", "expected a list with one route object")
    r = data[0]
    mtu: int | None = None
    advmss: int | None = None
    metrics_list = r.get("metrics")
    for metrics in metrics_list if isinstance(metrics_list, list) else []:
        if isinstance(metrics, dict):
            if isinstance(metrics.get("mtu"), int):
                mtu = metrics["mtu"]
            if isinstance(metrics.get("advmss"), int):
                advmss = metrics["advmss"]
    m = _MTU_RE.search(route_text)
    locked = bool(m and m.group(1))
    if m and mtu is None:
        mtu = int(m.group(2))
    a = _ADVMSS_RE.search(route_text)
    if a and advmss is None:
        advmss = int(a.group(1))
    return RouteInfo(
        dst=str(r.get("dst", "")),
        dev=str(r.get("dev", "")),
        gateway=str(r["gateway"]) if isinstance(r.get("gateway"), str) else None,
        mtu=mtu,
        mtu_locked=locked,
        learned="expires" in route_text,
        advmss=advmss,
    )


def parse_links(links_json: str) -> dict[str, int]:
    """``ip -j link``: interface name -> MTU."""
    data = _load_json(links_json, "ip -j link")
    if not isinstance(data, list):
        raise BadInput("ip -j link", "expected a list of links")
    return {
        str(d["ifname"]): int(d["mtu"])
        for d in data
        if isinstance(d, dict) and "ifname" in d and isinstance(d.get("mtu"), int)
    }


# nftables JSON (libnftables-json(5)) -------------------------------------------------------

_V4_PTB_TYPES = {"destination-unreachable", 3}
_V4_PTB_CODES = {"frag-needed", 4}
_V6_PTB_TYPES = {"packet-too-big", 2}


def _d(x: Any) -> dict[str, Any]:
    """`x` if it is a JSON object, else an empty one (the walkers never trust the shape)."""
    return x if isinstance(x, dict) else {}


def _values(right: Any) -> set[Any]:
    if isinstance(right, dict) and "set" in right:
        items = right["set"]
        return {v for v in items if isinstance(v, str | int)} if isinstance(items, list) else set()
    if isinstance(right, list):
        return {v for v in right if isinstance(v, str | int)}
    return {right} if isinstance(right, str | int) else set()


def _classify_nft_rule(expr: list[Any]) -> tuple[RuleKind | None, int | None]:
    """What one nftables rule does to PTB, or whether it clamps the MSS."""
    verdict_drop = any(isinstance(e, dict) and ("drop" in e or "reject" in e) for e in expr)
    v4_type: set[Any] | None = None
    v4_code: set[Any] | None = None
    v6_type: set[Any] | None = None
    l4_icmp = False
    negated = False
    for e in expr:
        if not isinstance(e, dict):
            continue
        if "mangle" in e:
            opt = _d(_d(_d(e["mangle"]).get("key")).get("tcp option"))
            if opt.get("name") == "maxseg" and opt.get("field") == "size":
                value = _d(e["mangle"]).get("value")
                return RuleKind.MSS_CLAMP, value if isinstance(value, int) else None
        m = e.get("match")
        if not isinstance(m, dict):
            continue
        left, right, op = _d(m.get("left")), m.get("right"), m.get("op", "==")
        if op not in ("==", "in"):
            negated = True
            continue
        if isinstance(left, dict) and "payload" in left:
            p = _d(left["payload"])
            proto, fld = p.get("protocol"), p.get("field")
            if proto == "icmp" and fld == "type":
                v4_type = _values(right)
            elif proto == "icmp" and fld == "code":
                v4_code = _values(right)
            elif proto == "icmpv6" and fld == "type":
                v6_type = _values(right)
            elif proto in ("ip", "ip6") and fld in ("protocol", "nexthdr"):
                l4_icmp = l4_icmp or bool(_values(right) & {"icmp", "ipv6-icmp", "icmpv6", 1, 58})
        elif (
            isinstance(left, dict)
            and "meta" in left
            and _d(left["meta"]).get("key") in ("l4proto", "protocol", "nfproto")
        ):
            l4_icmp = l4_icmp or bool(_values(right) & {"icmp", "ipv6-icmp", "icmpv6", 1, 58})
    if not verdict_drop or negated:
        return None, None
    if (
        v4_type is not None
        and v4_type & _V4_PTB_TYPES
        and (v4_code is None or v4_code & _V4_PTB_CODES)
    ):
        return RuleKind.DROPS_PTB, None
    if v6_type is not None and v6_type & _V6_PTB_TYPES:
        return RuleKind.DROPS_PTB, None
    if l4_icmp and v4_type is None and v6_type is None and v4_code is None:
        return RuleKind.DROPS_ALL_ICMP, None
    return None, None


def _describe_nft(expr: list[Any]) -> str:
    """A compact nft-like rendering of a rule's expressions (for the report)."""
    parts: list[str] = []
    for e in expr:
        if not isinstance(e, dict):
            continue
        if "match" in e:
            m = _d(e["match"])
            left = _d(m.get("left"))
            if isinstance(left, dict) and "payload" in left:
                p = _d(left["payload"])
                lhs = f"{p.get('protocol')} {p.get('field')}"
            elif isinstance(left, dict) and "meta" in left:
                lhs = f"meta {_d(left['meta']).get('key')}"
            elif isinstance(left, dict) and "&" in left:
                lhs = "tcp flags"
            else:
                lhs = json.dumps(left)
            right = m.get("right")
            rhs = ", ".join(map(str, sorted(_values(right), key=str))) or json.dumps(right)
            op = "" if m.get("op") in ("==", "in") else f"{m.get('op')} "
            parts.append(f"{lhs} {op}{rhs}")
        elif "mangle" in e:
            value = _d(e["mangle"]).get("value")
            v = "rt mtu" if isinstance(value, dict) and "rt" in value else str(value)
            parts.append(f"tcp option maxseg size set {v}")
        elif "xt" in e:
            parts.append(f"xt {_d(e['xt']).get('name')}")
        elif e:
            key = next(iter(e))
            if key != "counter":
                parts.append(key)
    return " ".join(parts)


def parse_nft_ruleset(
    nft_json: str, *, skip_tables: Iterable[tuple[str, str]] = ()
) -> list[RuleHit]:
    """Rules of ``nft -j list ruleset`` that drop PTB / all ICMP or clamp the MSS.

    `skip_tables` are (family, table) pairs already read from iptables-save (iptables-nft
    keeps its rules in nftables tables, where their matches show up only as ``xt``).
    """
    data = _load_json(nft_json, "nft -j list ruleset")
    items = data.get("nftables") if isinstance(data, dict) else []
    if not isinstance(items, list):
        raise BadInput("nft -j list ruleset", '"nftables" is not a list')
    skip = set(skip_tables)
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    rules: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("chain"), dict):
            c = item["chain"]
            chains[(str(c.get("family", "")), str(c.get("table", "")), str(c.get("name", "")))] = c
        elif isinstance(item.get("rule"), dict):
            rules.append(item["rule"])
    hits: list[RuleHit] = []
    accepts_related: set[tuple[str, str, str]] = set()
    for r in rules:
        key = (str(r.get("family", "")), str(r.get("table", "")), str(r.get("chain", "")))
        expr = r.get("expr") if isinstance(r.get("expr"), list) else []
        assert isinstance(expr, list)
        if (key[0], key[1]) in skip:
            continue
        if _accepts_related_or_icmp(expr):
            accepts_related.add(key)
        kind, mss = _classify_nft_rule(expr)
        if kind is None:
            continue
        chain = chains.get(key, {})
        fam = _nft_family(key[0])
        if kind is RuleKind.DROPS_PTB and fam is None:
            fam = 6 if "icmpv6" in json.dumps(expr) else 4
        handle = r.get("handle")
        hits.append(
            RuleHit(
                kind=kind,
                family=fam,
                source="nftables",
                table=f"{key[0]} {key[1]}",
                chain=key[2],
                hook=str(chain.get("hook", key[2])),
                rule=_describe_nft(expr),
                handle=handle if isinstance(handle, int) else None,
                mss=mss,
                delete=(
                    f"nft delete rule {key[0]} {key[1]} {key[2]} handle {handle}"
                    if isinstance(handle, int)
                    else ""
                ),
            )
        )
    for key, c in chains.items():
        if (key[0], key[1]) in skip:
            continue
        if (
            c.get("policy") == "drop"
            and c.get("hook") in ("input", "forward")
            and key not in accepts_related
        ):
            hits.append(
                RuleHit(
                    kind=RuleKind.POLICY_DROP,
                    family=_nft_family(key[0]),
                    source="nftables",
                    table=f"{key[0]} {key[1]}",
                    chain=key[2],
                    hook=str(c.get("hook")),
                    rule="policy drop, no rule accepts ct state related or ICMP",
                )
            )
    return hits


def _accepts_related_or_icmp(expr: list[Any]) -> bool:
    if not any(isinstance(e, dict) and "accept" in e for e in expr):
        return False
    text = json.dumps(expr)
    return '"related"' in text or '"icmp"' in text or '"icmpv6"' in text or '"ipv6-icmp"' in text


def _nft_family(family: str) -> Family | None:
    return 4 if family == "ip" else 6 if family == "ip6" else None


# iptables-save ------------------------------------------------------------------------------

_V4_PTB_NAMES = {"3/4", "fragmentation-needed", "3", "destination-unreachable"}
_V6_PTB_NAMES = {"2", "packet-too-big"}


def parse_iptables_save(text: str, family: Family) -> tuple[list[RuleHit], set[str]]:
    """Rules of ``iptables-save`` / ``ip6tables-save``; also the table names it lists."""
    tool = "iptables" if family == 4 else "ip6tables"
    hits: list[RuleHit] = []
    tables: set[str] = set()
    table = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("*"):
            table = line[1:]
            tables.add(table)
            continue
        if not line.startswith("-A "):
            continue
        try:
            tok = shlex.split(line)
        except ValueError:
            continue
        if len(tok) < 2:
            continue
        chain = tok[1]
        target = _opt(tok, "-j")
        proto = _opt(tok, "-p")
        if "!" in tok:
            continue  # negations: too many shapes to judge safely
        kind: RuleKind | None = None
        mss: int | None = None
        if target in ("DROP", "REJECT"):
            if family == 4 and proto in ("icmp", "1"):
                t = _opt(tok, "--icmp-type")
                kind = (
                    RuleKind.DROPS_ALL_ICMP
                    if t is None
                    else (RuleKind.DROPS_PTB if t in _V4_PTB_NAMES else None)
                )
            elif family == 6 and proto in ("ipv6-icmp", "icmpv6", "58"):
                t = _opt(tok, "--icmpv6-type")
                kind = (
                    RuleKind.DROPS_ALL_ICMP
                    if t is None
                    else (RuleKind.DROPS_PTB if t in _V6_PTB_NAMES else None)
                )
        elif target == "TCPMSS":
            kind = RuleKind.MSS_CLAMP
            set_mss = _opt(tok, "--set-mss")
            mss = int(set_mss) if set_mss and _DIGITS.fullmatch(set_mss) else None
        if kind is None:
            continue
        hits.append(
            RuleHit(
                kind=kind,
                family=family,
                source=tool,
                table=table,
                chain=chain,
                hook=chain.lower(),
                rule=line,
                mss=mss,
                delete=f"{tool} -t {table} -D {line[3:]}",
            )
        )  # fmt: skip
    return hits, tables


def _opt(tok: list[str], name: str) -> str | None:
    try:
        return tok[tok.index(name) + 1]
    except (ValueError, IndexError):
        return None


# ---- the check ----------------------------------------------------------------------------


def check_fixes(
    state: HostState, *, dest: str | None = None, path_mtu: int | None = None
) -> FixCheck:
    """Judge every fix for `dest` (or for the host in general) from the gathered texts."""
    family: Family = 6 if dest and ipaddress.ip_address(dest).version == 6 else 4
    problems = list(state.problems)
    route = parse_route(state.route_json, state.route_text or "") if state.route_json else None
    links = parse_links(state.links_json) if state.links_json else {}
    iface_mtu = links.get(route.dev) if route else None
    rules: list[RuleHit] = []
    skip: set[tuple[str, str]] = set()
    for text, fam in ((state.iptables_save, 4), (state.ip6tables_save, 6)):
        if text:
            hits, tables = parse_iptables_save(text, fam)  # type: ignore[arg-type]
            rules += hits
            skip |= {("ip" if fam == 4 else "ip6", t) for t in tables}
    if state.nft_json:
        rules = parse_nft_ruleset(state.nft_json, skip_tables=skip) + rules
    relevant = [r for r in rules if r.family in (None, family)]
    sys_ = state.sysctls
    mtu = path_mtu or DEFAULT_SAFE_MTU
    if path_mtu is None:
        problems.append(
            f"commands use MTU {DEFAULT_SAFE_MTU} (a common safe value); run "
            "`pathsleuth probe DEST` to measure the path MTU and pass it with --mtu"
        )
    mss = mtu - HEADERS[family]
    fixes: list[FixState] = []
    advice: list[Advice] = []

    # 1. rules dropping PTB
    blockers = [
        r
        for r in relevant
        if r.kind in (RuleKind.DROPS_PTB, RuleKind.DROPS_ALL_ICMP, RuleKind.POLICY_DROP)
    ]
    if blockers:
        where = "; ".join(f"{r.source} {r.table} {r.chain}: {r.rule}" for r in blockers)
        fixes.append(
            FixState(
                id="allow-icmp-ptb",
                title="ICMP fragmentation-needed / packet-too-big allowed",
                status=FixStatus.PROBLEM,
                detail=f"{len(blockers)} rule(s) drop PTB: {where}",
            )
        )
        advice.append(_advice_allow_ptb(blockers, family))
    else:
        fixes.append(
            FixState(
                id="allow-icmp-ptb",
                title="ICMP fragmentation-needed / packet-too-big allowed",
                status=FixStatus.IN_PLACE,
                detail="no local nftables/iptables rule drops them"
                + (
                    ""
                    if state.nft_json is not None
                    else " (the nftables ruleset could not be read)"
                ),
            )
        )

    # 2. MSS clamp
    clamps = [r for r in relevant if r.kind is RuleKind.MSS_CLAMP]
    if clamps:
        fixes.append(
            FixState(
                id="mss-clamp",
                title="TCP MSS clamped",
                status=FixStatus.IN_PLACE,
                detail="; ".join(
                    f"{r.source} {r.table} {r.chain}: "
                    + (f"MSS set to {r.mss}" if r.mss else "MSS clamped to the route MTU")
                    for r in clamps
                ),
            )
        )
    else:
        fixes.append(
            FixState(
                id="mss-clamp",
                title="TCP MSS clamped",
                status=FixStatus.MISSING,
                detail="no TCPMSS / maxseg rule",
            )
        )

    # 3. route MTU
    if route is None:
        fixes.append(
            FixState(
                id="route-mtu-lock",
                title="route MTU set for the destination",
                status=FixStatus.NOT_APPLICABLE if dest is None else FixStatus.MISSING,
                detail="no destination given (--dest)"
                if dest is None
                else "the route could not be read",
            )
        )
    elif (
        route.mtu is not None and not route.learned and (iface_mtu is None or route.mtu < iface_mtu)
    ):
        fixes.append(
            FixState(
                id="route-mtu-lock",
                title="route MTU set for the destination",
                status=FixStatus.IN_PLACE,
                detail=f"route to {route.dst} via {route.gateway or 'direct'} dev {route.dev}: mtu "
                + ("lock " if route.mtu_locked else "")
                + f"{route.mtu} (interface {route.dev} MTU {iface_mtu})",
            )
        )
    else:
        learned = (
            f"; the kernel has a cached path MTU {route.mtu} from an earlier PTB (it expires)"
            if route.learned and route.mtu
            else ""
        )
        fixes.append(
            FixState(
                id="route-mtu-lock",
                title="route MTU set for the destination",
                status=FixStatus.MISSING,
                detail=f"route to {route.dst} dev {route.dev} has no MTU of its own "
                f"(interface MTU {iface_mtu}){learned}",
            )
        )

    # 4. tcp_mtu_probing
    probing = sys_.get("net.ipv4.tcp_mtu_probing")
    base_text = sys_.get("net.ipv4.tcp_base_mss", "")
    base_mss = int(base_text) if _DIGITS.fullmatch(base_text) else DEFAULT_BASE_MSS
    if probing in ("1", "2"):
        detail = (
            f"net.ipv4.tcp_mtu_probing = {probing} ("
            + ("after a black hole is suspected" if probing == "1" else "always")
            + f"), tcp_base_mss = {base_mss}"
        )
        if base_mss + HEADERS[family] > mtu:
            detail += f"; tcp_base_mss {base_mss} is larger than the path allows ({mss}): lower it"
        fixes.append(
            FixState(
                id="tcp-mtu-probing",
                title="TCP MTU probing (RFC 4821)",
                status=FixStatus.IN_PLACE,
                detail=detail,
            )
        )
    else:
        fixes.append(
            FixState(
                id="tcp-mtu-probing",
                title="TCP MTU probing (RFC 4821)",
                status=FixStatus.MISSING if probing is not None else FixStatus.NOT_APPLICABLE,
                detail=f"net.ipv4.tcp_mtu_probing = {probing}"
                if probing is not None
                else "sysctl not readable",
            )
        )

    # 5. ip_no_pmtu_disc (IPv4 only: IPv6 routers never fragment)
    no_disc = sys_.get("net.ipv4.ip_no_pmtu_disc")
    if family == 6:
        fixes.append(
            FixState(
                id="no-pmtu-disc",
                title="PMTU discovery off (no DF bit)",
                status=FixStatus.NOT_APPLICABLE,
                detail="IPv6 has no DF bit: routers never fragment (RFC 8200 section 5)",
            )
        )
    else:
        fixes.append(
            FixState(
                id="no-pmtu-disc",
                title="PMTU discovery off (no DF bit)",
                status=FixStatus.IN_PLACE if no_disc in ("1", "2", "3") else FixStatus.MISSING,
                detail=f"net.ipv4.ip_no_pmtu_disc = {no_disc}",
            )
        )

    protected = any(
        f.status is FixStatus.IN_PLACE
        for f in fixes
        if f.id in ("mss-clamp", "route-mtu-lock", "tcp-mtu-probing", "no-pmtu-disc")
    )
    status = {f.id: f.status for f in fixes}
    if status["tcp-mtu-probing"] is FixStatus.MISSING:
        advice.append(_advice_mtu_probing(len(advice) + 1))
    if status["route-mtu-lock"] is FixStatus.MISSING and route is not None and dest is not None:
        advice.append(_advice_route(len(advice) + 1, dest, route, mtu, family))
    if status["mss-clamp"] is FixStatus.MISSING:
        advice.append(_advice_clamp(len(advice) + 1, mss, route.dev if route else "eth0"))
    if status["no-pmtu-disc"] is FixStatus.MISSING and not protected:
        advice.append(_advice_no_pmtu_disc(len(advice) + 1))
    if protected:
        # one fix suffices for the black hole; a rule that drops PTB stays worth removing
        advice = [a for a in advice if a.id == "allow-icmp-ptb"]
    return FixCheck(
        dest=dest,
        family=family,
        route=route,
        interface_mtu=iface_mtu,
        sysctls=dict(sys_),
        fixes=tuple(fixes),
        rules=tuple(rules),
        advice=tuple(advice),
        protected=protected,
        problems=tuple(problems),
    )


# ---- advice catalogue ------------------------------------------------------------------------


def _advice_allow_ptb(blockers: list[RuleHit], family: Family) -> Advice:
    cmds = [r.delete for r in blockers if r.delete]
    if family == 4:
        cmds.append(
            "nft insert rule inet filter input icmp type destination-unreachable "
            "icmp code frag-needed accept   # if you keep an inet filter table"
        )
    else:
        cmds.append("nft insert rule inet filter input icmpv6 type packet-too-big accept")
    return Advice(
        id="allow-icmp-ptb",
        rank=1,
        title="let ICMP fragmentation-needed / ICMPv6 packet-too-big through",
        where="this host (and every firewall on the path)",
        commands=cmds,
        persist=[
            "nftables: edit /etc/nftables.conf (remove the drop rule, accept the ICMP type), "
            "then `systemctl reload nftables`",
            "iptables: `iptables-save > /etc/iptables/rules.v4` / `ip6tables-save > "
            "/etc/iptables/rules.v6` (Debian iptables-persistent)",
        ],
        tradeoffs="none worth having: RFC 4890 section 4.3.1 and RFC 1191 require PTB to pass; "
        "rate limits, not drops, are the way to contain ICMP floods",
    )


def _advice_mtu_probing(rank: int) -> Advice:
    return Advice(
        id="tcp-mtu-probing",
        rank=rank,
        title="enable TCP MTU probing (RFC 4821) so TCP recovers from black holes by itself",
        where="this host",
        commands=[
            "sysctl -w net.ipv4.tcp_mtu_probing=1",
            f"sysctl -w net.ipv4.tcp_base_mss={DEFAULT_BASE_MSS}",
        ],
        persist=[
            f"printf 'net.ipv4.tcp_mtu_probing = 1\\nnet.ipv4.tcp_base_mss = {DEFAULT_BASE_MSS}\\n' "
            f"> {SYSCTL_FILE} && sysctl --system"
        ],
        tradeoffs="covers IPv4 and IPv6 TCP; each new black-holed connection still stalls for "
        "a few retransmission timeouts (seconds) before falling back to smaller segments",
    )


def _advice_route(rank: int, dest: str, route: RouteInfo, mtu: int, family: Family) -> Advice:
    prefix = f"{dest}/{32 if family == 4 else 128}"
    via = f" via {route.gateway}" if route.gateway else ""
    cmd = f"ip {'-6 ' if family == 6 else ''}route replace {prefix}{via} dev {route.dev} mtu lock {mtu}"
    gw = f"Gateway={route.gateway}\n" if route.gateway else ""
    return Advice(
        id="route-mtu-lock",
        rank=rank,
        title=f"lock the route MTU towards {dest} to {mtu}",
        where="this host",
        commands=[cmd],
        persist=[
            f"ifupdown: in /etc/network/interfaces under `iface {route.dev}`: `up {cmd}`",
            f"systemd-networkd: in the .network file of {route.dev}: "
            f"[Route]\nDestination={prefix}\n{gw}MTUBytes={mtu}",
            f"NetworkManager: nmcli connection modify <conn> +ipv{family}.routes "
            f'"{prefix} {route.gateway or ""} mtu={mtu}"',
        ],
        tradeoffs="only for this destination; both sides then use segments that fit, "
        "whatever ICMP does; must be kept in step with the real path",
    )


def _advice_clamp(rank: int, mss: int, dev: str | None) -> Advice:
    oif = f'oifname "{dev}" ' if dev else ""
    return Advice(
        id="mss-clamp",
        rank=rank,
        title=f"clamp the TCP MSS of SYNs to {mss} (or to the route MTU on a router)",
        where="this host, or the router/firewall in front of it",
        commands=[
            "nft add table inet pathsleuth_mss",
            "nft add chain inet pathsleuth_mss output '{ type filter hook output priority mangle; }'",
            f"nft add rule inet pathsleuth_mss output {oif}tcp flags syn "
            f"tcp option maxseg size set {mss}",
            "# on a router: nft add chain inet pathsleuth_mss forward '{ type filter hook forward "
            "priority mangle; }' && nft add rule inet pathsleuth_mss forward tcp flags syn "
            "tcp option maxseg size set rt mtu",
        ],
        persist=["add the table to /etc/nftables.conf (`nft list table inet pathsleuth_mss >> "
                 "/etc/nftables.conf`) and `systemctl enable nftables`"],
        tradeoffs="only TCP; applies to every destination through that interface (slightly "
        "smaller segments everywhere)",
    )  # fmt: skip


def _advice_no_pmtu_disc(rank: int) -> Advice:
    return Advice(
        id="no-pmtu-disc",
        rank=rank,
        title="turn PMTU discovery off (packets without DF; routers fragment)",
        where="this host",
        commands=["sysctl -w net.ipv4.ip_no_pmtu_disc=1"],
        persist=[f"echo 'net.ipv4.ip_no_pmtu_disc = 1' >> {SYSCTL_FILE} && sysctl --system"],
        tradeoffs="last resort, IPv4 only: fragmentation costs routers and receivers, breaks "
        "through some firewalls, and every destination loses PMTU discovery",
    )


def blackhole_advice(
    dest: str, mtu: int, family: Family, *, router: str | None = None
) -> list[Advice]:
    """Ranked remedies for a black hole found by `pathsleuth probe` towards `dest`.

    The host-side commands need this host's route, which the probe does not read;
    `pathsleuth fix-check --dest DEST --mtu MTU` prints them exactly for this host.
    """
    mss = mtu - HEADERS[family]
    check = f"pathsleuth fix-check --dest {dest} --mtu {mtu}"
    at = f"the router {router}" if router else "the router before the small link"
    ptb = (
        "ICMP type 3 code 4 (fragmentation needed)"
        if family == 4
        else "ICMPv6 type 2 (packet too big)"
    )
    ptb_advice = Advice(
        id="allow-icmp-ptb",
        rank=1,
        title=f"have {at} send, and every firewall pass, {ptb}",
        where="firewall/router on the path",
        commands=[
            "nft insert rule inet filter output icmp type destination-unreachable icmp code "
            "frag-needed accept"
            if family == 4
            else "nft insert rule inet filter output icmpv6 type packet-too-big accept",
            "# and the same in the forward chain of every firewall between it and this host",
        ],
        persist=["the router's firewall configuration (e.g. /etc/nftables.conf)"],
        tradeoffs="the real fix, but it needs whoever runs that router; RFC 4890 section 4.3.1",
    )
    ours = [
        _advice_clamp(2, mss, None),
        _advice_mtu_probing(3),
        Advice(
            id="route-mtu-lock",
            rank=4,
            title=f"lock the route MTU towards {dest} to {mtu}",
            where="this host",
            commands=[
                f"{check}   # prints the exact `ip route replace ... mtu lock {mtu}` for this host"
            ],
            persist=["see fix-check's output (ifupdown, systemd-networkd, NetworkManager)"],
            tradeoffs="only for this destination; must follow the real path MTU",
        ),
    ]
    return [ptb_advice, *ours]
