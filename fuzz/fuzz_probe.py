"""Fuzz target for the probe's binary parsers: the error queue and struct tcp_info.

The first byte chooses the parser: `parse_recverr` + `reply_from_error` (a
``sock_extended_err`` with an offender sockaddr, as the kernel hands it over with
``MSG_ERRQUEUE``) or `parse_tcp_info` (``struct tcp_info`` of any kernel's length).
Only ValueError (input too short) may escape.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from pathsleuth.probe.linux import parse_recverr, payload_probe_id, reply_from_error
    from pathsleuth.probe.smtp import parse_tcp_info


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    body = data[1:]
    try:
        if data[0] & 1:
            entry = parse_recverr(body, body[-16:])
            payload_probe_id(entry.payload)
            reply = reply_from_error(entry, 1, 0.5)
            assert reply is None or reply.probe_id == 1
        else:
            info = parse_tcp_info(body)
            assert info.packet_size(4) >= info.snd_mss
    except ValueError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
