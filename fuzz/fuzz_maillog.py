"""Fuzz target: bytes -> every mail-log parser, the model and the triage.

Feeds the input as lines to each format's parser (GWIA, Postfix, Sendmail, Exim) and runs
the whole streaming analysis on it as a file; the only exception allowed is `BadInput`
(not a mail log). Run: ``python fuzz/fuzz_maillog.py -max_total_time=60``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from pathsleuth.errors import BadInput
    from pathsleuth.maillog.analysis import analyze_logs
    from pathsleuth.maillog.detect import FORMATS, make_parser
    from pathsleuth.maillog.model import MailLogModel
    from pathsleuth.maillog.triage import Triage

_TMP = tempfile.mkdtemp(prefix="fuzz_maillog-")
_PATH = os.path.join(_TMP, "0518gwia.001")


def TestOneInput(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    for fmt in FORMATS:
        parser = make_parser(fmt, "fuzz")
        model = MailLogModel(max_open=8)
        triage = Triage()
        for i, line in enumerate(lines, 1):
            for ev in parser.feed(line, i) or ():
                for a in model.feed(ev):
                    triage.add(a)
        for ev in parser.finish():
            for a in model.feed(ev):
                triage.add(a)
        for a in model.finish():
            triage.add(a)
        triage.result()
    with open(_PATH, "wb") as f:
        f.write(data)
    with contextlib.suppress(BadInput):
        analyze_logs([_PATH])


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
