"""Active probing: find the path MTU now, locate the hop that swallows PTB, check the fix.

The package is built like h11 around a sans-IO core, in tracepath's tradition:

- `planner`: the pure state machine of the hop-by-hop path-MTU trace (which TTL and size
  to probe next; hops, MTU drops, the black hole). No sockets, no clock.
- `linux`: the only socket code of the trace: UDP (or, as root, ICMP echo) probes with
  ``IP_PMTUDISC_PROBE``, answers read from the ``IP_RECVERR`` error queue.
- `smtp`: the service-level test: an SMTP session with a burst of full-size NOOP
  segments, judged from ``TCP_INFO``; the MSS search with ``TCP_MAXSEG``.
- `targets`: IP / host name / mail domain (MX) to addresses, with an injectable resolver.
- `run`: wires them per address and states the findings in analyze's vocabulary.
- `fixcheck` (pure parsers and judgement) and `hostinfo` (runs ip / nft / iptables-save):
  which black-hole fixes are in place on this host, and which to apply.

Results are frozen dataclasses; `report/probe.py` renders them, nothing here prints.
"""
