"""Fuzz target for fix-check's text parsers: nft JSON, iptables-save, ip route, sysctl.

The first byte chooses which tool's output the rest pretends to be; for the JSON ones a
valid recorded document is mutated at a fuzzer-chosen place half of the time, so the
walkers over nested objects see odd types, not only syntax errors. The judgement
(`check_fixes`) runs on what parsed. Only `BadInput` may escape.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from pathsleuth.errors import BadInput
    from pathsleuth.probe.fixcheck import (
        HostState,
        check_fixes,
        parse_iptables_save,
        parse_links,
        parse_nft_ruleset,
        parse_route,
        parse_sysctl_output,
    )

DATA = Path(__file__).resolve().parent.parent / "tests" / "probe" / "data"
SEEDS = {
    name: (DATA / name).read_text() if (DATA / name).exists() else "{}"
    for name in ("fix-mss-clamp.r1.nft.json", "fix-route-mtu.route-get4.json")
}


def _mutate(seed: str, fdp: atheris.FuzzedDataProvider) -> str:
    at = fdp.ConsumeIntInRange(0, len(seed))
    return seed[:at] + fdp.ConsumeUnicodeNoSurrogates(12) + seed[at + fdp.ConsumeIntInRange(0, 8) :]


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    which = fdp.ConsumeIntInRange(0, 5)
    mutate = fdp.ConsumeBool()
    try:
        if which == 0:
            text = (
                _mutate(SEEDS["fix-mss-clamp.r1.nft.json"], fdp)
                if mutate
                else fdp.ConsumeUnicodeNoSurrogates(4096)
            )
            parse_nft_ruleset(text)
            check_fixes(HostState(nft_json=text))
        elif which == 1:
            text = (
                _mutate(SEEDS["fix-route-mtu.route-get4.json"], fdp)
                if mutate
                else fdp.ConsumeUnicodeNoSurrogates(1024)
            )
            parse_route(text, fdp.ConsumeUnicodeNoSurrogates(256))
        elif which == 2:
            parse_iptables_save(fdp.ConsumeUnicodeNoSurrogates(4096), 4)
        elif which == 3:
            parse_links(fdp.ConsumeUnicodeNoSurrogates(1024))
        else:
            sysctls = parse_sysctl_output(fdp.ConsumeUnicodeNoSurrogates(1024))
            check_fixes(HostState(sysctls=sysctls), path_mtu=1400)
    except BadInput:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
