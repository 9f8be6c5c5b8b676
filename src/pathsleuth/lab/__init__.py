"""The lab: path-MTU black holes, their look-alikes and their fixes, on a real Linux kernel.

pathsleuth's integration test bed and the source of its demo data. Everything runs as root
in network namespaces that the lab creates and removes itself:

- `topology` — client — r1 — … — rN — server namespaces joined by veth pairs, IPv4
  (198.18.0.0/15) and IPv6 (2001:db8::/32), one small-MTU link, static routes, NIC-like
  offload settings; commands, nftables, sysctls and captures inside; removal on exit.
- `scenarios` — the registry of situations (`blackhole`, `pmtud-ok`, `rst-middlebox`, the
  fixes …), each with the verdict analyze should give and whether mail gets through.
- `postfix` — a private Postfix instance in the client namespace: the real sending MTA.
- `smtpsink` — the receiving SMTP server (aiosmtpd) in the server namespace.
- `runner` — one scenario end to end (`run_scenario` → `LabRun`: capture, Postfix log,
  delivery outcome), and `lab_up` / `lab_down` for labs left running by hand.

Nothing here diagnoses or formats: captures and logs go to `capture/`, `maillog/` and
`diagnose/` like any user's, and `report/lab_text.py` prints the lab's own results.
"""
