"""The syslog line header shared by Postfix and Sendmail logs, parsed once and cached.

Three header shapes are accepted, because that is what mail hosts write:

- BSD syslog (RFC 3164 section 4.1.2): ``Nov 25 06:30:01 host prog[pid]: text``, day
  space-padded (``Mar  7``) or not; no year.
- Postfix's own ``maillog_file`` (postlogd, Postfix >= 3.4): the same, but the day is
  zero-padded by ``strftime("%b %d %H:%M:%S ")`` (msg_logger.c), e.g. ``Nov 05``.
- Either may carry a ``<facility.priority>`` tag before the host (syslog-ng ``$PRI``
  templates, as in fail2ban's samples).
- RFC 5424 / rsyslog high-precision: ``2024-11-25T06:30:01.123456+00:00 host prog[pid]: text``.

BSD stamps carry no year: `SyslogClock` takes it from the caller (``--date`` or the
current year) and moves to the next year when the month goes backwards (December to
January). Times are taken as UTC when the stamp names no zone. The epoch conversion is
cached per distinct second, which keeps the hot path to a slice and a dict look-up.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

#: ``Mon dd hh:mm:ss[.frac] host prog[pid]: text``
BSD_HEADER = re.compile(
    r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(\.\d+)? (?:<[\w.]+> )?(\S+) ([^\s\[:]+)(?:\[\d+\])?: ?"
)
#: ``YYYY-MM-DDThh:mm:ss[.frac][zone] host prog[pid]: text``
ISO_HEADER = re.compile(
    r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?:<[\w.]+> )?(\S+) ([^\s\[:]+)(?:\[\d+\])?: ?"
)

#: month jump (backwards) taken as a year roll-over rather than disorder
YEAR_ROLLOVER_MONTHS = 6


class SyslogClock:
    """Turns header stamps into epoch seconds; remembers the year across lines."""

    def __init__(self, year: int | None = None) -> None:
        self.year = year if year is not None else datetime.now(UTC).year
        self._last_month = 0
        self._cache: dict[str, float] = {}

    def bsd(self, mon: str, day: str, hh: str, mm: str, ss: str, frac: str | None) -> float | None:
        month = MONTHS.get(mon)
        if month is None:
            return None
        if self._last_month and month < self._last_month - YEAR_ROLLOVER_MONTHS:
            self.year += 1
            self._cache.clear()
        self._last_month = month
        key = f"{month} {day} {hh}:{mm}:{ss}"
        ts = self._cache.get(key)
        if ts is None:
            try:
                ts = datetime(
                    self.year, month, int(day), int(hh), int(mm), int(ss), tzinfo=UTC
                ).timestamp()
            except ValueError:
                return None
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = ts
        return ts + float(frac) if frac else ts

    @staticmethod
    def iso(stamp: str) -> float | None:
        try:
            dt = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()


def parse_header(line: str, clock: SyslogClock) -> tuple[float | None, str, str, str] | None:
    """(epoch, host, program, text) of a syslog line, or None if it has no header."""
    m = BSD_HEADER.match(line)
    if m:
        ts = clock.bsd(m[1], m[2], m[3], m[4], m[5], m[6])
        return ts, m[7], m[8], line[m.end() :]
    m = ISO_HEADER.match(line)
    if m:
        return SyslogClock.iso(m[1]), m[2], m[3], line[m.end() :]
    return None
