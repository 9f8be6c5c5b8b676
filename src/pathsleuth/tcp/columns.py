"""What the tcp and diagnose stages read of a `PacketTable`, and the cut that keeps only that.

`analyze_paths` holds a capture's packets until the whole capture is read (a connection's
packets can be anywhere in the file), so it keeps only the rows the analysis looks at
(`analysis_rows`: TCP, ICMP, ICMPv6) and only the columns it reads (`ANALYSIS_COLUMNS`):
about two thirds of the bytes per row, and nothing for UDP, ARP or other traffic.
`for_analysis` is the same cut as a table, for tests and library users.
`tests/tcp/test_columns.py` checks the list against every column name the two stages
mention, so a new use cannot be forgotten here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pathsleuth.capture.table import IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, PacketTable

#: the PacketTable columns read by `pathsleuth.tcp` and `pathsleuth.diagnose`
ANALYSIS_COLUMNS: tuple[str, ...] = (
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


def analysis_rows(table: PacketTable) -> npt.NDArray[np.bool_] | None:
    """Which rows the analysis keeps (TCP, ICMP, ICMPv6); None when it keeps them all."""
    proto = table.columns["proto"]
    keep = (table.columns["ip_version"] != 0) & (
        (proto == IPPROTO_TCP) | (proto == IPPROTO_ICMP) | (proto == IPPROTO_ICMPV6)
    )
    return None if bool(keep.all()) else keep


def for_analysis(table: PacketTable) -> PacketTable:
    """The TCP, ICMP and ICMPv6 rows of `table`, with the `ANALYSIS_COLUMNS` only.

    Frame numbers travel in the ``frame`` column, so evidence still names the capture's
    frames after the cut."""
    keep = analysis_rows(table)
    cols = table.columns
    if keep is None:
        return PacketTable({name: cols[name] for name in ANALYSIS_COLUMNS})
    return PacketTable({name: cols[name][keep] for name in ANALYSIS_COLUMNS})
