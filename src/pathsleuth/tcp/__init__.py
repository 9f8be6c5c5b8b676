"""TCP stage: PacketTable in, connections with per-direction analysis and ICMP matches out.

    groups.py       group slices, the binary search the numba passes share, seq constants
    connections.py  4-tuple grouping, port-reuse split, orientation, seq/ack unwrapping
    directions.py   retransmissions (fast/timeout/spurious), gaps, dup ACKs, zero windows,
                    acknowledged sizes, TSO super-segments, TTL hops
    icmp.py         ICMP/ICMPv6 errors matched to connection and quoted segment
    summary.py      per-connection summaries (Zeek-style state and history)
    seqpoints.py    time-sequence chart points of one connection (for the HTML report)

No Python loop touches packets (numba passes and NumPy); the diagnosis stage reads the
result.
"""

from pathsleuth.tcp.connections import ConnectionTable, build_connections
from pathsleuth.tcp.directions import analyse_directions
from pathsleuth.tcp.icmp import IcmpEvent, match_icmp
from pathsleuth.tcp.summary import ConnectionSummary, summarise

__all__ = [
    "ConnectionSummary",
    "ConnectionTable",
    "IcmpEvent",
    "analyse_directions",
    "build_connections",
    "match_icmp",
    "summarise",
]
