"""What the tcp and diagnose stages read of a `PacketTable`, and the cut that keeps only that.

`analyze_paths` holds a capture's packets until the whole capture is read (a connection's
packets can be anywhere in the file), so it keeps only the rows the analysis looks at and
only the columns it reads, in two tables: the TCP rows with `TCP_COLUMNS` (`tcp_mask`),
and the ICMP/ICMPv6 rows with `ICMP_COLUMNS` (`icmp_mask`), whose quoted-packet columns
are a third of a row and would be empty for every TCP packet. Nothing is kept for UDP, ARP
or other traffic. As it numbers the flows while reading (`tcp.flows`), it keeps the TCP
rows without their 4-tuple (`TCP_ROW_COLUMNS`): that is kept once per flow. Three kept
columns are not PacketTable columns but made from the SACK blocks as rows are kept
(`sack_columns`): how far the blocks reach above the ACK, and the D-SACK block; 12 bytes
instead of the blocks' 33.
`for_analysis` is one table holding both cuts (`ANALYSIS_COLUMNS`), for tests and library
users; the tcp stage accepts either form.
`tests/tcp/test_columns.py` checks the lists against every column name the two stages
mention, so a new use cannot be forgotten here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from pathsleuth.capture.table import IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, PacketTable
from pathsleuth.tcp.flows import KEY_COLUMNS

#: the PacketTable columns the tcp stage and the detectors read of TCP packets
TCP_COLUMNS: tuple[str, ...] = (
    "frame",
    "ts_ns",
    "status",
    "ip_version",
    "src_hi",
    "src_lo",
    "dst_hi",
    "dst_lo",
    "ip_len",
    "ip_hdr_len",
    "ttl",
    "df",
    "ip_id",
    "proto",
    "sport",
    "dport",
    "seq",
    "ack",
    "tcp_flags",
    "window",
    "tcp_hdr_len",
    "payload_len",
    "opt_mss",
    "opt_wscale",
    "opt_sack_perm",
    "opt_has_ts",
    "sack_above",
    "dsack_lo",
    "dsack_hi",
)
#: the TCP columns `analyze_paths` keeps per row: it numbers the flows while reading
#: (`tcp.flows.FlowIndex`), so each 4-tuple is kept once per flow (`Flows.keys`), not in
#: every row (36 of 89 bytes a row)
TCP_ROW_COLUMNS: tuple[str, ...] = tuple(c for c in TCP_COLUMNS if c not in KEY_COLUMNS)
#: the PacketTable columns `tcp.icmp` reads of ICMP and ICMPv6 packets
ICMP_COLUMNS: tuple[str, ...] = (
    "frame",
    "ts_ns",
    "status",
    "ip_version",
    "src_hi",
    "src_lo",
    "ttl",
    "proto",
    "icmp_type",
    "icmp_code",
    "icmp_mtu",
    "q_version",
    "q_src_hi",
    "q_src_lo",
    "q_dst_hi",
    "q_dst_lo",
    "q_ip_len",
    "q_df",
    "q_proto",
    "q_sport",
    "q_dport",
    "q_has_seq",
    "q_seq",
)
#: both, for one table holding TCP and ICMP rows (`for_analysis`)
ANALYSIS_COLUMNS: tuple[str, ...] = TCP_COLUMNS + tuple(
    c for c in ICMP_COLUMNS if c not in TCP_COLUMNS
)


def sack_columns(
    cols: Mapping[str, npt.NDArray[Any]], rows: npt.NDArray[np.int64] | None = None
) -> dict[str, npt.NDArray[Any]]:
    """What the analysis reads of each packet's SACK blocks (at `rows`, or every packet),
    as distances from its cumulative ACK in sequence space (mod 2^32, so wraps are fine):

    - ``sack_above``: how far above the ACK the blocks reach, the largest ``right - ack``
      (0 without blocks, or when all are at or below the ACK);
    - ``dsack_lo``, ``dsack_hi``: the D-SACK block (RFC 2883 section 4: the first block,
      when it lies at or below the ACK or inside the second block), ``left - ack`` and
      ``right - ack``; both 0 when there is none.
    """
    count = cols["sack_count"] if rows is None else cols["sack_count"][rows]
    n = len(count)
    out = {
        "sack_above": np.zeros(n, np.uint32),
        "dsack_lo": np.zeros(n, np.int32),
        "dsack_hi": np.zeros(n, np.int32),
    }
    has = np.flatnonzero(count)  # few packets carry SACK blocks: work on those only
    if len(has) == 0:
        return out
    at = has if rows is None else rows[has]
    ack = cols["ack"][at].astype(np.uint32)[:, None]
    # signed 32-bit distances from the ACK
    left = (cols["sack_left"][at].astype(np.uint32) - ack).view(np.int32)
    right = (cols["sack_right"][at].astype(np.uint32) - ack).view(np.int32)
    k = count[has].astype(np.int64)
    used = np.arange(right.shape[1]) < k[:, None]
    out["sack_above"][has] = np.where(used & (right > 0), right, 0).max(axis=1)
    inside = (k >= 2) & (left[:, 1] <= left[:, 0]) & (right[:, 0] <= right[:, 1])
    dsack = (left[:, 0] < right[:, 0]) & ((right[:, 0] <= 0) | inside)
    out["dsack_lo"][has] = np.where(dsack, left[:, 0], 0)
    out["dsack_hi"][has] = np.where(dsack, right[:, 0], 0)
    return out


#: kept TCP columns that are not PacketTable columns but made from some when the rows
#: are cut (`sack_columns`), with their dtypes (for an empty table)
DERIVED_DTYPES: dict[str, Any] = {
    "sack_above": np.uint32,
    "dsack_lo": np.int32,
    "dsack_hi": np.int32,
}
#: the PacketTable columns they are made from (read here only)
DERIVED_SOURCES: tuple[str, ...] = ("ack", "sack_count", "sack_left", "sack_right")


def derived(
    table: PacketTable, keep: npt.NDArray[np.bool_] | None = None
) -> dict[str, npt.NDArray[Any]]:
    """The derived columns (`DERIVED_DTYPES`) of `table`'s rows (those where `keep` is
    True, when given)."""
    return sack_columns(table.columns, None if keep is None else np.flatnonzero(keep))


def is_tcp(table: PacketTable) -> npt.NDArray[np.bool_]:
    """Which rows are IP packets carrying TCP (decoded or not)."""
    ok: npt.NDArray[np.bool_] = (table.columns["ip_version"] != 0) & (
        table.columns["proto"] == IPPROTO_TCP
    )
    return ok


def icmp_mask(table: PacketTable) -> npt.NDArray[np.bool_]:
    """Which rows are ICMP or ICMPv6."""
    proto = table.columns["proto"]
    keep: npt.NDArray[np.bool_] = (table.columns["ip_version"] != 0) & (
        (proto == IPPROTO_ICMP) | (proto == IPPROTO_ICMPV6)
    )
    return keep


def _all_or(keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_] | None:
    return None if bool(keep.all()) else keep


def tcp_mask(table: PacketTable) -> npt.NDArray[np.bool_] | None:
    """Which rows are TCP; None when all are."""
    return _all_or(is_tcp(table))


def analysis_rows(table: PacketTable) -> npt.NDArray[np.bool_] | None:
    """Which rows the analysis keeps (TCP, ICMP, ICMPv6); None when it keeps them all."""
    return _all_or(is_tcp(table) | icmp_mask(table))


def _cut(
    table: PacketTable, keep: npt.NDArray[np.bool_] | None, names: tuple[str, ...]
) -> PacketTable:
    """`names` of `table`, at the rows `keep` (all rows, the same arrays, when None)."""
    cols = table.columns
    made = derived(table, keep) if any(n in DERIVED_DTYPES for n in names) else {}
    return PacketTable(
        {n: made[n] if n in made else cols[n] if keep is None else cols[n][keep] for n in names}
    )


def for_analysis(table: PacketTable) -> PacketTable:
    """The TCP, ICMP and ICMPv6 rows of `table`, with the `ANALYSIS_COLUMNS` only.

    Frame numbers travel in the ``frame`` column, so evidence still names the capture's
    frames after the cut."""
    return _cut(table, analysis_rows(table), ANALYSIS_COLUMNS)


def split_for_analysis(table: PacketTable) -> tuple[PacketTable, PacketTable]:
    """The two tables `analyze_paths` keeps: TCP rows with `TCP_COLUMNS`, ICMP/ICMPv6
    rows with `ICMP_COLUMNS` (for tests and library users holding a whole table)."""
    return _cut(table, tcp_mask(table), TCP_COLUMNS), _cut(table, icmp_mask(table), ICMP_COLUMNS)
