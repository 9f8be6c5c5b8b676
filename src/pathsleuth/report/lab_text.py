"""Text for `pathsleuth lab`: the scenario list, a run's outcome, a lab left up, labs removed.

Takes the lab's plain results (`Scenario`, `LabRun`, `LabUp`, namespace names) and writes
them to a rich `Console`; it runs nothing and measures nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

from pathsleuth.lab.runner import LabRun, LabUp
from pathsleuth.lab.scenarios import Scenario


def render_lab_list(scenarios: Iterable[Scenario], console: Console) -> None:
    table = Table(box=None, show_edge=False, pad_edge=False)
    table.add_column("scenario", style="bold")
    table.add_column("IP")
    table.add_column("expected verdict")
    table.add_column("delivery")
    table.add_column("what happens")
    for s in scenarios:
        verdict = s.expected_verdict.value if s.expected_verdict is not None else "(no finding)"
        table.add_row(
            s.name,
            f"v{s.family}",
            verdict,
            "delivered" if s.expect_delivery else "fails",
            s.summary,
        )
    console.print(table)


def render_lab_run(run: LabRun, console: Console) -> None:
    ok = run.outcome_as_expected
    verdict = run.expected_verdict or "(no finding)"
    lines = [
        f"scenario        {run.scenario} (IPv{run.family}, path MTU {run.path_mtu}, "
        f"sender {run.sender}, message {run.message_size} bytes)",
        f"delivery        {run.delivery_status}; server stored {run.received} message(s); "
        f"expected {'delivered' if run.expect_delivery else 'failure'} "
        f"-> {'as expected' if ok else 'NOT as expected'}",
        f"sender said     {run.delivery_detail or '(nothing)'}",
        f"verdict         {verdict} (expected from analyze)",
        f"capture         {run.capture}",
        f"sender log      {run.sender_log}",
        f"summary         {run.out_dir / 'run.json'}",
        f"timings         setup {run.setup_s:.1f} s, transfer {run.transfer_s:.1f} s, "
        f"total {run.total_s:.1f} s",
        f"next            pathsleuth analyze {run.capture}",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


def render_lab_up(up: LabUp, console: Console) -> None:
    console.print(
        f"lab {up.prefix} is up (scenario {up.scenario})", highlight=False, soft_wrap=True
    )
    for node, ns in up.namespaces.items():
        console.print(f"  {node:<8} ip netns exec {ns} bash", highlight=False, soft_wrap=True)
    console.print(
        f"  client {up.client_addr} -> server {up.server_addr} port 25",
        highlight=False,
        soft_wrap=True,
    )
    if up.postfix_config is not None:
        console.print(
            f"  Postfix: ip netns exec {up.namespaces['client']} postqueue -c {up.postfix_config} -p",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            "  Postfix listens on 127.0.0.1:25 in the client namespace and relays to the server",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"  remove it with: pathsleuth lab down --prefix {up.prefix}",
        highlight=False,
        soft_wrap=True,
    )


def render_lab_down(names: Sequence[str], console: Console) -> None:
    if not names:
        console.print("no lab namespaces found", highlight=False, soft_wrap=True)
        return
    console.print(
        f"removed {len(names)} namespace(s): {', '.join(names)}", highlight=False, soft_wrap=True
    )
