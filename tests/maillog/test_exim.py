"""Exim parser: stages from "after X", host errors merged with the recipient lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.maillog.events import (
    DeliveryResult,
    ErrorClass,
    MessageDone,
    MessageInfo,
    Outcome,
    Stage,
)
from pathsleuth.maillog.exim import EximParser


def _feed(lines: list[str]) -> list[object]:
    p = EximParser("mainlog")
    out: list[object] = []
    for i, ln in enumerate(lines, 1):
        out.extend(p.feed(ln, i) or ())
    return out


def test_real_sizes_and_old_ids() -> None:
    ev = _feed(
        [
            "2024-11-25 10:00:00 1tFabc-0001Xy-2Z <= a@x.example H=c [192.0.2.1] P=esmtp S=153600 id=m@x",
            "2024-11-25 10:05:00 1tFabc-0001Xy-2Z H=mx.y.example [198.51.100.7]: SMTP timeout after sending data block (65536 bytes written): Connection timed out",
            "2024-11-25 10:05:00 1tFabc-0001Xy-2Z == b@y.example R=dnslookup T=remote_smtp defer (110): Connection timed out H=mx.y.example [198.51.100.7]: SMTP timeout after sending data block (65536 bytes written)",
            '2024-11-25 10:06:00 1tFabc-0001Xy-2Z => c@z.example R=dnslookup T=remote_smtp H=mx.z.example [198.51.100.8] C="250 OK"',
            "2024-11-25 10:06:00 1tFabc-0001Xy-2Z Completed",
        ]
    )
    info = ev[0]
    assert isinstance(info, MessageInfo) and info.size == 153600 and info.sender == "a@x.example"
    res = [e for e in ev if isinstance(e, DeliveryResult)]
    assert [r.stage for r in res] == [Stage.BODY, Stage.BODY, Stage.DONE]
    assert res[1].error_class is ErrorClass.PMTU_LIKE_AFTER_DATA and res[1].ip == "198.51.100.7"
    assert res[2].outcome is Outcome.DELIVERED and res[2].code == 250
    assert isinstance(ev[-1], MessageDone)


@given(st.text(max_size=200))
def test_random_text_never_crashes(line: str) -> None:
    _feed([line, "1999-03-02 09:44:33 10HmaX-000000005vi-0000 " + line])


@given(st.integers(0, 10**9), st.ip_addresses().map(str), st.sampled_from(["==", "=>", "**"]))
def test_valid_lines_round_trip(size: int, ip: str, mark: str) -> None:
    ev = _feed(
        [
            f"2024-01-02 03:04:05 10HmaX-000000005vi-0000 <= s@x S={size}",
            f"2024-01-02 03:04:06 10HmaX-000000005vi-0000 {mark} r@y.z R=r T=t H=mx.y.z [{ip}]: SMTP error from remote mail server after RCPT TO:<r@y.z>: 450 busy",
        ]
    )
    info, res = ev
    assert isinstance(info, MessageInfo) and info.size == size
    assert isinstance(res, DeliveryResult) and res.ip == ip and res.recipients == ("r@y.z",)
