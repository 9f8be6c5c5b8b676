"""maillog/: mail logs in, delivery attempts and a path-MTU triage out.

Data flows one way through small modules, each with one job:

- `reader`: paths (``-``, gz/bz2/xz/zstd, tar, rotated sets oldest first) -> lines, via
  `pathsleuth.inputs`; counts unknown lines; `BadInput` for a file that is not a mail log.
- `detect`: which format (Postfix, Sendmail, Exim, GroupWise GWIA) from the first lines.
- `gwia`, `postfix`, `sendmail`, `exim`: one sans-IO parser per format, lines ->
  frozen `events` (``MessageInfo``, ``RecipientInfo``, ``DeliveryResult``, ``MessageDone``,
  ``InboundDrop``) with file and line number; `classify` maps each MTA's wording to a `Stage`
  and an `ErrorClass`; `syslog` parses the shared syslog header.
- `model`: events -> `Attempt`s (one SMTP session to one host), bounded per-message state.
- `triage`: attempts -> per-destination judgement: `PmtuSuspect`s with evidence, red
  herrings, differentials and next steps, summaries by destination and by error class.
- `analysis.analyze_logs`: the one streaming pass over all of the above -> `LogAnalysis`.
- `correlate.correlate`: failing attempts x a capture's connections -> `Match`es with the
  estimated clock offset (pure; no capture import).

Formatting lives in `pathsleuth.report.maillog`; the JSON contract in
``schema/logs.schema.json``.
"""

from pathsleuth.maillog.analysis import LOGS_SCHEMA_VERSION, LogAnalysis, analyze_logs
from pathsleuth.maillog.correlate import ConnectionLike, Match, correlate
from pathsleuth.maillog.events import ErrorClass, Outcome, Stage
from pathsleuth.maillog.model import Attempt
from pathsleuth.maillog.triage import Confidence, PmtuSuspect, TriageResult

__all__ = [
    "LOGS_SCHEMA_VERSION",
    "Attempt",
    "Confidence",
    "ConnectionLike",
    "ErrorClass",
    "LogAnalysis",
    "Match",
    "Outcome",
    "PmtuSuspect",
    "Stage",
    "TriageResult",
    "analyze_logs",
    "correlate",
]
