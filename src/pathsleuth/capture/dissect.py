"""Dissector: `RecordBatch` in, `PacketTable` out.

Two steps, as the engine's design asks:

1. `_walk` (numba) follows the variable-length chain of every frame: link layer (any stack
   of 802.1Q/802.1ad tags, PPPoE session, MPLS label stack, Linux SLL/SLL2, BSD NULL/LOOP,
   PPP, raw IP), IPv4 options, the IPv6 extension-header chain, IP-in-IP / 6in4 / 4in6
   (innermost wins), TCP options, and the IP + transport header quoted inside ICMP and
   ICMPv6 errors. It writes per-frame offsets, status bits, and the values only a walk can
   produce (TCP option values, IPv6 fragment header fields).
2. `dissect` extracts every fixed-offset field with vectorised NumPy gathers at those
   offsets, using the header layouts in `layouts.py`, masked to the frames where the
   header is present and fully captured.

Lengths come from the IP headers, never from the captured length. A header that the
capture cut is `Status.TRUNCATED`; a header that contradicts itself or its frame is
`Status.MALFORMED`; neither stops the batch.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from pathsleuth.capture import layouts as L
from pathsleuth.capture import linktypes as LT
from pathsleuth.capture.records import RecordBatch
from pathsleuth.capture.table import MAX_SACK_BLOCKS, PacketTable, Status, empty_columns

# Status bits as plain ints for the kernel
_TRUNC = int(Status.TRUNCATED)
_MALF = int(Status.MALFORMED)
_UNSUP = int(Status.UNSUPPORTED_LINK)
_NOTIP = int(Status.NOT_IP)
_LATER = int(Status.LATER_FRAGMENT)
_CUT = int(Status.PAYLOAD_CUT)

#: EtherTypes (IEEE registry)
ET_IPV4 = 0x0800
ET_IPV6 = 0x86DD
ET_VLAN = 0x8100  # 802.1Q
ET_QINQ = 0x88A8  # 802.1ad
ET_QINQ_OLD = 0x9100  # pre-standard QinQ
ET_PPPOE_SESSION = 0x8864  # RFC 2516
ET_MPLS_UC = 0x8847  # RFC 3032
ET_MPLS_MC = 0x8848
#: PPP protocol numbers (RFC 1332, RFC 5072)
PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057
PPP_MPLS_UC = 0x0281  # RFC 3032 section 4.3
PPP_MPLS_MC = 0x0283
#: IP protocol numbers (IANA)
P_HOPOPT, P_ICMP, P_IPIP, P_TCP, P_UDP, P_IPV6 = 0, 1, 4, 6, 17, 41
P_ROUTING, P_FRAGMENT, P_AH, P_ICMPV6, P_NONE, P_DSTOPTS = 43, 44, 51, 58, 59, 60
#: how deep the kernel follows chains before giving up (bounded work per frame)
MAX_VLAN_TAGS = 8
MAX_MPLS_LABELS = 16
MAX_EXT_HEADERS = 10
MAX_TUNNELS = 2
#: TCP option kinds (IANA)
OPT_EOL, OPT_NOP, OPT_MSS, OPT_WS, OPT_SACK_PERM, OPT_SACK, OPT_TS = 0, 1, 2, 3, 4, 5, 8

_AF6 = np.array(LT.AF_INET6_VALUES, dtype=np.int64)


@numba.njit(cache=True, inline="always")
def _be16(b: Any, p: int) -> int:
    return (int(b[p]) << 8) | int(b[p + 1])


@numba.njit(cache=True, inline="always")
def _be32(b: Any, p: int) -> int:
    return (int(b[p]) << 24) | (int(b[p + 1]) << 16) | (int(b[p + 2]) << 8) | int(b[p + 3])


@numba.njit(cache=True)
def _ip(
    b: Any, q: int, end: int, wend: int, ver: int, clamp: bool, o: Any, quoted: bool = False
) -> int:
    """Walk IP (+ tunnels + IPv6 extension headers) at q. Fills o[...]; returns status bits.

    `wend` is where the frame (or the lower layer's length) says the packet ends: an IP
    length beyond it is malformed, unless `clamp` (a PPPoE length is the authority), when
    the IP length is cut to it. Quoted packets (inside ICMP errors) are never checked
    against it: a quote is a prefix of the packet the router saw.

    o layout (int64): 0 l3, 1 version, 2 hdr_len, 3 total_len, 4 proto, 5 l4, 6 frag_off,
    7 mf, 8 v6 frag id, 9 tunnelled, 10 later fragment.
    """
    st = 0
    for _ in range(MAX_TUNNELS + 1):
        o[0] = q
        o[1] = ver
        o[10] = 0
        if ver == 4:
            if q + 20 > end:
                return st | _TRUNC
            if (b[q] >> 4) != 4:
                return st | _MALF
            ihl = (b[q] & 15) * 4
            if ihl < 20:
                return st | _MALF
            if q + ihl > end:
                return st | _TRUNC
            tot = _be16(b, q + 2)
            if tot == 0 and not quoted:
                # TSO/GSO: the stack hands the NIC a super-segment with total length 0;
                # like Wireshark, take the length from the frame
                tot = wend - q
            if tot < ihl:
                return st | _MALF
            if not quoted and q + tot > wend:
                if not clamp:
                    return st | _MALF  # "IPv4 total length exceeds packet length"
                tot = wend - q
            fw = _be16(b, q + 6)
            o[2] = ihl
            o[3] = tot
            o[4] = b[q + 9]
            o[5] = q + ihl
            o[6] = fw & 0x1FFF
            o[7] = (fw >> 13) & 1
            o[8] = 0
        else:
            if q + 40 > end:
                return st | _TRUNC
            if (b[q] >> 4) != 6:
                return st | _MALF
            tot = 40 + _be16(b, q + 4)
            if not quoted and q + tot > wend:
                return st | _MALF
            nh = int(b[q + 6])
            x = q + 40
            o[6] = 0
            o[7] = 0
            o[8] = 0
            for _e in range(MAX_EXT_HEADERS):
                if nh == P_HOPOPT or nh == P_ROUTING or nh == P_DSTOPTS:
                    if x + 2 > end:
                        return st | _TRUNC
                    nxt = int(b[x])
                    x += (int(b[x + 1]) + 1) * 8
                    nh = nxt
                elif nh == P_AH:
                    if x + 2 > end:
                        return st | _TRUNC
                    nxt = int(b[x])
                    x += (int(b[x + 1]) + 2) * 4
                    nh = nxt
                elif nh == P_FRAGMENT:
                    if x + 8 > end:
                        return st | _TRUNC
                    fw = _be16(b, x + 2)
                    o[6] = fw >> 3
                    o[7] = fw & 1
                    o[8] = _be32(b, x + 4)
                    nh = int(b[x])
                    x += 8
                else:
                    break
            if x - q > tot:
                return st | _MALF
            o[2] = x - q
            o[3] = tot
            o[4] = nh
            o[5] = x
        if o[6] != 0:
            o[10] = 1
            return st | _LATER
        proto = o[4]
        if proto == P_IPIP or proto == P_IPV6:
            st = st  # tunnelled: continue with the inner header
            o[9] = 1
            q = o[5]
            ver = 4 if proto == P_IPIP else 6
            continue
        return st
    return st


@numba.njit(cache=True)
def _walk(
    b: Any,
    off: Any,
    cap: Any,
    wire: Any,
    lt: Any,
    af6: Any,
    status: Any,
    ints: Any,
    opts: Any,
    sack: Any,
    iprow: Any,
    l4row: Any,
    qiprow: Any,
    ql4row: Any,
) -> None:
    """Per-frame walk; see the module docstring. Writes status, ints[i, :], opts, sack,
    and copies the fixed IP / transport headers (and the quoted ones) into the row arrays
    the vectorised extractor reads through the layouts (zero where absent)."""
    o = np.zeros(11, np.int64)
    qo = np.zeros(11, np.int64)
    n = len(off)
    for i in range(n):
        p = off[i]
        end = p + cap[i]
        wend = p + max(wire[i], cap[i])
        k = lt[i]
        st = 0
        ver = 0
        q = p
        vlan = 0
        mpls = 0
        et = -1
        clamp = False
        # ---- link layer -------------------------------------------------------------
        if k == LT.LINKTYPE_ETHERNET:
            if p + 14 > end:
                status[i] = _TRUNC
                continue
            et = _be16(b, p + 12)
            q = p + 14
        elif k == LT.LINKTYPE_LINUX_SLL:
            if p + 16 > end:
                status[i] = _TRUNC
                continue
            et = _be16(b, p + 14)
            q = p + 16
        elif k == LT.LINKTYPE_LINUX_SLL2:
            if p + 20 > end:
                status[i] = _TRUNC
                continue
            et = _be16(b, p)
            q = p + 20
        elif k == LT.LINKTYPE_NULL or k == LT.LINKTYPE_LOOP:
            if p + 4 > end:
                status[i] = _TRUNC
                continue
            be = _be32(b, p)
            le = int(b[p]) | (int(b[p + 1]) << 8) | (int(b[p + 2]) << 16) | (int(b[p + 3]) << 24)
            q = p + 4
            if be == 2 or (k == LT.LINKTYPE_NULL and le == 2):
                ver = 4
            else:
                for a in af6:
                    if be == a or (k == LT.LINKTYPE_NULL and le == a):
                        ver = 6
                if ver == 0:
                    status[i] = _NOTIP
                    continue
        elif k == LT.LINKTYPE_PPP or k == LT.LINKTYPE_PPP_HDLC:
            q = p
            if q + 2 <= end and b[q] == 0xFF and b[q + 1] == 0x03:
                q += 2
            if q + 1 > end:
                status[i] = _TRUNC
                continue
            if b[q] & 1:
                proto = int(b[q])
                q += 1
            else:
                if q + 2 > end:
                    status[i] = _TRUNC
                    continue
                proto = _be16(b, q)
                q += 2
            if proto == PPP_IPV4:
                ver = 4
            elif proto == PPP_IPV6:
                ver = 6
            else:
                status[i] = _NOTIP
                continue
        elif k == LT.LINKTYPE_RAW or k == LT.DLT_RAW_12 or k == LT.DLT_RAW_14:
            if p + 1 > end:
                status[i] = _TRUNC
                continue
            ver = int(b[p]) >> 4
            if ver != 4 and ver != 6:
                status[i] = _MALF
                continue
        elif k == LT.LINKTYPE_IPV4:
            ver = 4
        elif k == LT.LINKTYPE_IPV6:
            ver = 6
        else:
            status[i] = _UNSUP
            continue
        # EtherType chain: VLAN tags, PPPoE session, MPLS
        if et >= 0:
            bad = False
            for _v in range(MAX_VLAN_TAGS):
                if et == ET_VLAN or et == ET_QINQ or et == ET_QINQ_OLD:
                    if q + 4 > end:
                        bad = True
                        break
                    et = _be16(b, q + 2)
                    q += 4
                    vlan += 1
                else:
                    break
            if bad:
                status[i] = _TRUNC
                ints[i, 11] = vlan
                continue
            if et == ET_PPPOE_SESSION:
                if q + 8 > end:
                    status[i] = _TRUNC
                    continue
                proto = _be16(b, q + 6)
                # the PPPoE length (RFC 2516 section 4) bounds the IP packet: Ethernet
                # padding after it is not IP payload (as Wireshark reads it)
                wend = min(wend, q + 6 + _be16(b, q + 4))
                clamp = True
                q += 8
                if proto == PPP_IPV4:
                    et = ET_IPV4
                elif proto == PPP_IPV6:
                    et = ET_IPV6
                elif proto == PPP_MPLS_UC or proto == PPP_MPLS_MC:
                    et = ET_MPLS_UC
                else:
                    et = 0
            if et == ET_MPLS_UC or et == ET_MPLS_MC:
                et = 0
                for _m in range(MAX_MPLS_LABELS):
                    if q + 4 > end:
                        bad = True
                        break
                    bos = b[q + 2] & 1
                    q += 4
                    mpls += 1
                    if bos:
                        break
                if bad or q + 1 > end:
                    status[i] = _TRUNC
                    ints[i, 12] = mpls
                    continue
                nib = int(b[q]) >> 4
                et = ET_IPV4 if nib == 4 else (ET_IPV6 if nib == 6 else 0)
            if et == ET_IPV4:
                ver = 4
            elif et == ET_IPV6:
                ver = 6
            else:
                status[i] = _NOTIP
                ints[i, 11] = vlan
                ints[i, 12] = mpls
                continue
        ints[i, 11] = vlan
        ints[i, 12] = mpls
        # ---- network layer ----------------------------------------------------------
        o[:] = 0
        st |= _ip(b, q, end, wend, ver, clamp, o)
        ints[i, 0] = o[0]
        ints[i, 1] = o[1] if (st & (_TRUNC | _MALF)) == 0 or o[2] > 0 else 0
        ints[i, 2] = o[2]
        ints[i, 3] = o[3]
        ints[i, 4] = o[4]
        ints[i, 5] = o[5]
        ints[i, 6] = o[6]
        ints[i, 7] = o[7]
        ints[i, 8] = o[8]
        ints[i, 9] = o[9]
        if o[2] > 0:
            w = 20 if o[1] == 4 else 40
            for j in range(w):
                iprow[i, j] = b[o[0] + j]
        if st & (_TRUNC | _MALF | _LATER):
            status[i] = st
            continue
        # ---- transport layer --------------------------------------------------------
        l4 = o[5]
        ip_payload = o[0] + o[3] - l4
        proto = o[4]
        if ip_payload < 0:
            status[i] = st | _MALF
            continue
        if proto == P_TCP:
            if l4 + 20 > end:
                status[i] = st | (_TRUNC if ip_payload >= 20 else _MALF)
                continue
            for j in range(20):
                l4row[i, j] = b[l4 + j]
            thl = (int(b[l4 + 12]) >> 4) * 4
            if thl < 20 or thl > ip_payload:
                status[i] = st | _MALF
                continue
            ints[i, 13] = thl
            ints[i, 10] = ip_payload - thl
            if l4 + thl > end:
                status[i] = st | _TRUNC
                continue
            # options
            x = l4 + 20
            oend = l4 + thl
            opts[i, 1] = 255  # wscale absent
            nsack = 0
            while x < oend:
                kind = int(b[x])
                if kind == OPT_EOL:
                    break
                if kind == OPT_NOP:
                    x += 1
                    continue
                if x + 2 > oend:
                    st |= _MALF
                    break
                ln = int(b[x + 1])
                if ln < 2 or x + ln > oend:
                    st |= _MALF
                    break
                if kind == OPT_MSS and ln == 4:
                    opts[i, 0] = _be16(b, x + 2)
                elif kind == OPT_WS and ln == 3:
                    opts[i, 1] = b[x + 2]
                elif kind == OPT_SACK_PERM and ln == 2:
                    opts[i, 2] = 1
                elif kind == OPT_TS and ln == 10:
                    opts[i, 3] = 1
                    opts[i, 4] = _be32(b, x + 2)
                    opts[i, 5] = _be32(b, x + 6)
                elif kind == OPT_SACK and ln >= 10 and (ln - 2) % 8 == 0:
                    nb = (ln - 2) // 8
                    for j in range(nb):
                        if nsack < MAX_SACK_BLOCKS:
                            sack[i, nsack, 0] = _be32(b, x + 2 + 8 * j)
                            sack[i, nsack, 1] = _be32(b, x + 6 + 8 * j)
                            nsack += 1
                x += ln
            opts[i, 6] = nsack
            if l4 + thl + (ip_payload - thl) > end:
                st |= _CUT
            status[i] = st
        elif proto == P_UDP:
            if l4 + 8 > end:
                status[i] = st | (_TRUNC if ip_payload >= 8 else _MALF)
                continue
            if ip_payload < 8:
                status[i] = st | _MALF
                continue
            for j in range(8):
                l4row[i, j] = b[l4 + j]
            ints[i, 10] = ip_payload - 8
            if l4 + ip_payload > end:
                st |= _CUT
            status[i] = st
        elif proto == P_ICMP or proto == P_ICMPV6:
            if l4 + 8 > end:
                status[i] = st | (_TRUNC if ip_payload >= 8 else _MALF)
                continue
            ints[i, 10] = ip_payload - 8
            for j in range(8):
                l4row[i, j] = b[l4 + j]
            t = int(b[l4])
            err = False
            if proto == P_ICMP:
                err = t == 3 or t == 4 or t == 5 or t == 11 or t == 12
            else:
                err = t >= 1 and t <= 4
            if l4 + ip_payload > end:
                st |= _CUT
            status[i] = st
            if err and l4 + 8 < end:
                qq = l4 + 8
                qv = int(b[qq]) >> 4
                qend = min(end, o[0] + o[3])
                if qv == 4 or qv == 6:
                    qo[:] = 0
                    qs = _ip(b, qq, qend, qend, qv, False, qo, True)
                    if (qs & (_TRUNC | _MALF)) == 0 or qo[2] > 0:
                        ints[i, 14] = qo[0]
                        ints[i, 15] = qo[1] if (qs & _MALF) == 0 else 0
                        w = 20 if qo[1] == 4 else 40
                        for j in range(w):
                            qiprow[i, j] = b[qo[0] + j]
                        ints[i, 16] = qo[4]
                        ints[i, 18] = qo[3]
                        if (qs & (_TRUNC | _MALF | _LATER)) == 0:
                            ints[i, 17] = qo[5]
                            ints[i, 19] = qend - qo[5]  # transport bytes quoted
                            for j in range(min(8, qend - qo[5])):
                                ql4row[i, j] = b[qo[5] + j]
        else:
            status[i] = st


#: columns of the kernel's int64 scratch array
_I_L3, _I_VER, _I_HLEN, _I_TOT, _I_PROTO, _I_L4, _I_FRAG, _I_MF, _I_V6ID, _I_TUN = range(10)
_I_PAY, _I_VLAN, _I_MPLS, _I_THL, _I_QL3, _I_QVER, _I_QPROTO, _I_QL4, _I_QTOT, _I_QAVAIL = range(
    10, 20
)
_NINTS = 20


def _view(rows: npt.NDArray[np.uint8], layout: L.Layout) -> npt.NDArray[Any]:
    """Row array seen through a layout's structured dtype (no copy)."""
    return rows.view(L.header_dtype(layout, rows.shape[1])).reshape(-1)


def _addresses(
    rows: npt.NDArray[np.uint8],
    ver: npt.NDArray[np.int64],
    cols: dict[str, npt.NDArray[Any]],
    prefix: str,
) -> None:
    """`<prefix>src_hi`... from IP header rows: IPv4 mapped into ::ffff:0:0/96, IPv6 as is."""
    v4 = ver == 4
    v6 = ver == 6
    r4 = _view(rows, L.IPV4)
    r6 = _view(rows, L.IPV6)
    mapped = np.uint64(0x0000_FFFF_0000_0000)
    for name in ("src", "dst"):
        a4 = L.field_values(r4, L.IPV4, name).astype(np.uint64)
        cols[f"{prefix}{name}_hi"][:] = np.where(v6, L.field_values(r6, L.IPV6, f"{name}_hi"), 0)
        cols[f"{prefix}{name}_lo"][:] = np.where(
            v6, L.field_values(r6, L.IPV6, f"{name}_lo"), np.where(v4, mapped | a4, 0)
        )


def dissect(batch: RecordBatch, *, name: str = "") -> PacketTable:
    """Decode every frame of `batch` into the columns of `PacketTable`."""
    n = len(batch)
    cols = empty_columns(n)
    cols["frame"][:] = batch.frame
    cols["ts_ns"][:] = batch.ts_ns
    cols["iface"][:] = batch.iface
    cols["linktype"][:] = batch.linktype
    cols["wire_len"][:] = batch.wire_len
    cols["cap_len"][:] = batch.cap_len
    if n == 0:
        return PacketTable(cols)
    status = np.zeros(n, np.uint8)
    # scratch the kernel fills: int64 offsets/lengths, uint32 option values (TS, SACK
    # edges are 32-bit sequence numbers)
    ints = np.zeros((n, _NINTS), np.int64)
    opts = np.zeros((n, 7), np.uint32)
    sack = np.zeros((n, MAX_SACK_BLOCKS, 2), np.uint32)
    iprow = np.zeros((n, L.IP_ROW), np.uint8)
    l4row = np.zeros((n, L.L4_ROW), np.uint8)
    qiprow = np.zeros((n, L.IP_ROW), np.uint8)
    ql4row = np.zeros((n, L.QL4_ROW), np.uint8)
    _walk(
        batch.buf,
        batch.data_offset.astype(np.int64),
        batch.cap_len.astype(np.int64),
        batch.wire_len.astype(np.int64),
        batch.linktype.astype(np.int64),
        _AF6,
        status,
        ints,
        opts,
        sack,
        iprow,
        l4row,
        qiprow,
        ql4row,
    )
    cols["status"][:] = status
    hdr_ok = ints[:, _I_HLEN] > 0
    ver = np.where(hdr_ok, ints[:, _I_VER], 0)
    v4 = ver == 4
    v6 = ver == 6
    cols["ip_version"][:] = ver
    cols["l3_offset"][:] = np.where(hdr_ok, ints[:, _I_L3] - batch.data_offset, 0)
    cols["tunnelled"][:] = ints[:, _I_TUN] != 0
    cols["vlan_depth"][:] = ints[:, _I_VLAN]
    cols["mpls_depth"][:] = ints[:, _I_MPLS]
    _addresses(iprow, ver, cols, "")
    cols["ip_len"][:] = ints[:, _I_TOT]
    cols["ip_hdr_len"][:] = ints[:, _I_HLEN]
    cols["proto"][:] = np.where(hdr_ok, ints[:, _I_PROTO], 0)
    cols["frag_offset"][:] = ints[:, _I_FRAG]
    cols["more_fragments"][:] = ints[:, _I_MF] != 0
    r4 = _view(iprow, L.IPV4)
    cols["ttl"][:] = np.where(v6, iprow[:, 7], L.field_values(r4, L.IPV4, "ttl"))
    cols["df"][:] = v4 & (L.field_values(r4, L.IPV4, "df") != 0)
    cols["ip_id"][:] = np.where(v6, ints[:, _I_V6ID], L.field_values(r4, L.IPV4, "id"))

    bad = (status & (_TRUNC | _MALF | _LATER)) != 0
    proto = cols["proto"]
    has_l4 = (ver > 0) & ~bad
    cols["payload_len"][:] = np.where(has_l4, np.maximum(ints[:, _I_PAY], 0), 0)
    tcp = has_l4 & (proto == P_TCP)
    udp = has_l4 & (proto == P_UDP)
    rt = _view(l4row, L.TCP)  # rows are zero where there is no transport header
    cols["sport"][:] = L.field_values(rt, L.TCP, "sport")
    cols["dport"][:] = L.field_values(rt, L.TCP, "dport")
    if tcp.any():
        for col, fld in (
            ("seq", "seq"),
            ("ack", "ack"),
            ("tcp_flags", "flags"),
            ("window", "window"),
        ):
            cols[col][:] = np.where(tcp, L.field_values(rt, L.TCP, fld), 0)
        cols["tcp_hdr_len"][:] = np.where(tcp, ints[:, _I_THL], 0)
        cols["opt_mss"][:] = opts[:, 0]
        cols["opt_wscale"][:] = np.where(tcp, opts[:, 1], np.uint32(255))
        cols["opt_sack_perm"][:] = opts[:, 2] != 0
        cols["opt_has_ts"][:] = opts[:, 3] != 0
        cols["opt_ts_val"][:] = opts[:, 4]
        cols["opt_ts_ecr"][:] = opts[:, 5]
        cols["sack_count"][:] = opts[:, 6]
        cols["sack_left"][:] = sack[:, :, 0]
        cols["sack_right"][:] = sack[:, :, 1]
    icmp = has_l4 & ((proto == P_ICMP) | (proto == P_ICMPV6))
    if icmp.any():
        keep = tcp | udp
        cols["sport"][:] = np.where(keep, cols["sport"], 0)
        cols["dport"][:] = np.where(keep, cols["dport"], 0)
        ri = _view(l4row, L.ICMP)
        typ = L.field_values(ri, L.ICMP, "type")
        code = L.field_values(ri, L.ICMP, "code")
        cols["icmp_type"][:] = np.where(icmp, typ, 255)
        cols["icmp_code"][:] = np.where(icmp, code, 255)
        is6 = proto == P_ICMPV6
        cols["icmp_mtu"][:] = np.where(
            icmp & is6 & (typ == 2),
            L.field_values(ri, L.ICMP, "mtu6"),
            np.where(
                icmp & ~is6 & (typ == 3) & (code == 4), L.field_values(ri, L.ICMP, "nexthop_mtu"), 0
            ),
        )
        _quoted(qiprow, ql4row, ints, cols, icmp)
    return PacketTable(cols)


def _quoted(
    qiprow: npt.NDArray[np.uint8],
    ql4row: npt.NDArray[np.uint8],
    ints: npt.NDArray[np.int64],
    cols: dict[str, npt.NDArray[Any]],
    icmp: npt.NDArray[np.bool_],
) -> None:
    """q_* columns: the IP and transport header an ICMP error quotes."""
    qver = np.where(icmp, ints[:, _I_QVER], 0)
    if not (qver > 0).any():
        return
    q = qver > 0
    cols["q_version"][:] = qver
    _addresses(qiprow, qver, cols, "q_")
    cols["q_ip_len"][:] = np.where(q, ints[:, _I_QTOT], 0)
    cols["q_proto"][:] = np.where(q, ints[:, _I_QPROTO], 0)
    r4 = _view(qiprow, L.IPV4)
    qv4 = qver == 4
    cols["q_df"][:] = qv4 & (L.field_values(r4, L.IPV4, "df") != 0)
    cols["q_ttl"][:] = np.where(qver == 6, qiprow[:, 7], L.field_values(r4, L.IPV4, "ttl"))
    avail = ints[:, _I_QAVAIL]
    qproto = ints[:, _I_QPROTO]
    ports = q & (ints[:, _I_QL4] > 0) & (avail >= 4) & ((qproto == P_TCP) | (qproto == P_UDP))
    pr = ql4row[:, :4].copy().view(">u2")
    cols["q_sport"][:] = np.where(ports, pr[:, 0], 0)
    cols["q_dport"][:] = np.where(ports, pr[:, 1], 0)
    seq = ports & (avail >= 8) & (qproto == P_TCP)
    cols["q_has_seq"][:] = seq
    cols["q_seq"][:] = np.where(seq, ql4row[:, 4:8].copy().view(">u4").reshape(-1), 0)
