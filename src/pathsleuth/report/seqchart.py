"""Geometry of a Stevens-style time–sequence chart, ready for an SVG template.

Input: one flow's `SeqPoint`s (sequence numbers in the data sender's space). Output: a
`Chart` of plain shapes in pixel coordinates: the data sender's segments as vertical
I-beams from seq to seq+len (retransmissions in their own class), the receiver's ACK as a
step line, SYN/FIN/RST and ICMP errors as markers, the frames the finding's evidence cites
ringed and labelled, and, when data above the highest ACK was never acknowledged, a shaded
band over the stuck-ACK plateau. Every mark keeps its frame number so the HTML (and the
tests) can tie a picture element to a packet. Layout only: nothing here judges a packet;
the `kind` each point carries was decided upstream.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pathsleuth.report.views import SeqPoint

#: Drawing area, in SVG user units (pixels at 100 % zoom).
WIDTH = 880
HEIGHT = 340
MARGIN_LEFT = 84  # room for 10-digit relative sequence numbers
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 40
#: Above this many data/ACK points the chart keeps every k-th one (markers, retransmissions
#: and evidence frames are always kept): an SVG with 10^5 elements makes browsers crawl.
MAX_PLAIN_POINTS = 2500
#: Gap between the axes and the first/lowest point, so markers at t=0 or seq 0 do not
#: sit on the axis labels.
INSET = 10
#: Half-width of the I-beam caps on a segment, in pixels.
CAP = 2.5
#: Number of axis ticks to aim for.
TICKS = 6
#: Switch the time axis to a square-root scale when half the packets fall into this
#: leading fraction of the time span: exponential RTO backoff (RFC 6298 section 5.5)
#: otherwise squeezes the whole exchange before the stall into a few pixels.
SQRT_SCALE_MEDIAN_FRACTION = 0.1


@dataclass(frozen=True, slots=True)
class Mark:
    """One drawn packet."""

    frame: int
    kind: str
    direction: str
    x: float
    y: float
    """seq (a->b), ACK (b->a) or quoted seq (icmp), in pixels."""
    y_end: float
    """a->b segments: seq + length in pixels; otherwise equal to `y`."""
    t: float
    """Seconds since the chart's first point."""
    rel_seq: int
    length: int
    cited: bool
    """The finding's evidence names this frame."""
    title: str
    """Tooltip text."""


@dataclass(frozen=True, slots=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True, slots=True)
class Band:
    """Shaded region: data sent above the final ACK and never acknowledged."""

    x: float
    y: float
    w: float
    h: float
    ack: int
    """The relative ACK number the receiver stayed at."""
    label_y: float


@dataclass(frozen=True, kw_only=True)
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    plot_x0: float = MARGIN_LEFT + INSET
    """Pixel x of t = 0 (the frame's left edge is `INSET` further left)."""
    plot_x1: float = WIDTH - MARGIN_RIGHT
    plot_y0: float = HEIGHT - MARGIN_BOTTOM - INSET
    """Pixel y of the lowest sequence number (SVG y grows downwards)."""
    plot_y1: float = MARGIN_TOP
    t_max: float = 0.0
    time_scale: str = "linear"
    """"linear" or "sqrt" (see `SQRT_SCALE_MEDIAN_FRACTION`)."""
    seq_min: int = 0
    seq_max: int = 0
    marks: list[Mark] = field(default_factory=list)
    ack_path: str = ""
    """SVG path data of the ACK step line ("" when the receiver sent nothing)."""
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    band: Band | None = None
    total_points: int = 0
    shown_points: int = 0
    kinds: list[str] = field(default_factory=list)
    """Kinds present, for the legend."""

    @property
    def frame_x0(self) -> float:
        """Left edge of the plot frame (the y axis)."""
        return self.plot_x0 - INSET

    @property
    def frame_y0(self) -> float:
        """Bottom edge of the plot frame (the x axis)."""
        return self.plot_y0 + INSET

    @property
    def empty(self) -> bool:
        return not self.marks

    def x_of(self, t: float) -> float:
        span = self.t_max if self.t_max > 0 else 1.0
        frac = max(t, 0.0) / span
        if self.time_scale == "sqrt":
            frac = math.sqrt(frac)
        return self.plot_x0 + (self.plot_x1 - self.plot_x0) * frac

    def t_of(self, x: float) -> float:
        """Inverse of `x_of` (for tests and readers of the SVG's data attributes)."""
        frac = (x - self.plot_x0) / (self.plot_x1 - self.plot_x0)
        if self.time_scale == "sqrt":
            frac = frac * frac
        return frac * (self.t_max if self.t_max > 0 else 1.0)

    def y_of(self, seq: int) -> float:
        span = self.seq_max - self.seq_min or 1
        return self.plot_y0 - (self.plot_y0 - self.plot_y1) * ((seq - self.seq_min) / span)


def nice_step(span: float, ticks: int = TICKS) -> float:
    """A 1-2-5 step that cuts `span` into about `ticks` pieces (Heckbert, Graphics Gems 1990)."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(ticks, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)


def _seq_label(v: int) -> str:
    return f"{v:,}"


def _time_label(v: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{v:.{decimals}f}"


def _sqrt_ticks(t_max: float, ticks: int = TICKS) -> list[float]:
    """Round tick values spread evenly on a square-root axis: 0, 1, 5, 10, 20, 40 ..."""
    values = [0.0]
    for k in range(1, ticks + 1):
        raw = t_max * (k / ticks) ** 2
        mag = 10 ** math.floor(math.log10(raw))
        v = min((m * mag for m in (1, 2, 5, 10)), key=lambda c: abs(c - raw))
        if v > values[-1] and v <= t_max + 1e-9:
            values.append(float(v))
    # Label the end of the axis too unless a tick already sits close to it.
    if t_max > 0 and (t_max - values[-1]) > 0.1 * t_max:
        values.append(float(t_max))
    return values


def _thin(points: Sequence[SeqPoint], cited: frozenset[int]) -> list[SeqPoint]:
    plain = [p for p in points if p.kind in ("data", "ack") and p.frame not in cited]
    if len(plain) <= MAX_PLAIN_POINTS:
        return list(points)
    keep_every = math.ceil(len(plain) / MAX_PLAIN_POINTS)
    kept = {id(p) for p in plain[::keep_every]}
    return [
        p
        for p in points
        if id(p) in kept or not (p.kind in ("data", "ack") and p.frame not in cited)
    ]


def _title(p: SeqPoint, t: float) -> str:
    who = "sender" if p.direction == "a->b" else "receiver"
    if p.kind == "icmp":
        what = f"ICMP error quoting seq {p.rel_seq:,}"
    elif p.direction == "a->b":
        what = f"{p.kind} seq {p.rel_seq:,}" + (f" len {p.length:,}" if p.length else "")
    else:
        what = f"{p.kind} ACK {p.rel_seq:,}"
    return f"frame {p.frame} · {t:.6f} s · {who}: {what}"


def build_chart(points: Iterable[SeqPoint], cited_frames: Iterable[int] = ()) -> Chart:
    """Lay out one flow. `cited_frames`: the frames the finding's evidence mentions."""
    cited = frozenset(int(f) for f in cited_frames)
    ordered = sorted(points, key=lambda p: (p.t, p.frame))
    total = len(ordered)
    if not ordered:
        return Chart()
    shown = _thin(ordered, cited)
    t0 = ordered[0].t
    t_max = max(p.t for p in ordered) - t0
    lows = [p.rel_seq for p in ordered]
    highs = [p.rel_seq + (p.length if p.direction == "a->b" else 0) for p in ordered]
    seq_min, seq_max = min(0, *lows), max(highs)
    if seq_max <= seq_min:
        seq_max = seq_min + 1

    y_step = nice_step(seq_max - seq_min)
    seq_max = int(math.ceil(seq_max / y_step) * y_step)
    seq_min = int(math.floor(seq_min / y_step) * y_step)
    x_step = nice_step(t_max if t_max > 0 else 1.0)
    t_axis = math.ceil(t_max / x_step) * x_step if t_max > 0 else x_step
    times = sorted(p.t - t0 for p in ordered)
    median_t = times[len(times) // 2]
    scale = "sqrt" if t_max > 0 and median_t < SQRT_SCALE_MEDIAN_FRACTION * t_max else "linear"
    geometry = Chart(t_max=t_axis, time_scale=scale, seq_min=seq_min, seq_max=seq_max)

    marks = []
    for p in shown:
        t = p.t - t0
        y = geometry.y_of(p.rel_seq)
        y_end = geometry.y_of(p.rel_seq + p.length) if p.direction == "a->b" else y
        marks.append(
            Mark(
                frame=p.frame,
                kind=p.kind,
                direction=p.direction,
                x=round(geometry.x_of(t), 2),
                y=round(y, 2),
                y_end=round(y_end, 2),
                t=t,
                rel_seq=p.rel_seq,
                length=p.length,
                cited=p.frame in cited,
                title=_title(p, t),
            )
        )

    acks = [m for m in marks if m.direction == "b->a" and m.kind != "icmp"]
    ack_path = ""
    if acks:
        parts = [f"M{acks[0].x:.2f},{acks[0].y:.2f}"]
        for m in acks[1:]:
            parts.append(f"H{m.x:.2f}V{m.y:.2f}")
        parts.append(f"H{geometry.plot_x1:.2f}")
        ack_path = "".join(parts)

    # Draw order: plain data and ACKs first, so retransmissions, markers and cited frames
    # are never hidden under the segments that follow them (stable: time order kept).
    marks.sort(key=lambda m: m.cited or m.kind not in ("data", "ack"))
    band = _stuck_band(ordered, geometry, t0)
    if scale == "sqrt":
        values = _sqrt_ticks(t_axis)
        x_ticks = [Tick(round(geometry.x_of(v), 2), f"{v:g}") for v in values]
    else:
        x_ticks = []
        n = 0
        while n * x_step <= t_axis + x_step / 1e6:
            v = n * x_step
            x_ticks.append(Tick(round(geometry.x_of(v), 2), _time_label(v, x_step)))
            n += 1
    y_ticks = []
    v = float(seq_min)
    while v <= seq_max + y_step / 1e6:
        y_ticks.append(Tick(round(geometry.y_of(int(v)), 2), _seq_label(int(v))))
        v += y_step
    kinds = [
        k
        for k in ("data", "retrans", "ack", "syn", "fin", "rst", "icmp")
        if any(m.kind == k for m in marks)
    ]
    return Chart(
        t_max=t_axis,
        time_scale=scale,
        seq_min=seq_min,
        seq_max=seq_max,
        marks=marks,
        ack_path=ack_path,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        band=band,
        total_points=total,
        shown_points=len(marks),
        kinds=kinds,
    )


def _stuck_band(points: Sequence[SeqPoint], g: Chart, t0: float) -> Band | None:
    """The region above the receiver's final ACK where the sender's data kept going unanswered."""
    acks = [p for p in points if p.direction == "b->a" and p.kind != "icmp"]
    sent = [p for p in points if p.direction == "a->b" and p.length > 0]
    if not acks or not sent:
        return None
    final_ack = max(p.rel_seq for p in acks)
    above = [p for p in sent if p.rel_seq + p.length > final_ack]
    # Only a plateau when something above the ACK was sent more than once.
    if not any(p.kind == "retrans" for p in above):
        return None
    reached = min((p.t for p in acks if p.rel_seq >= final_ack), default=t0)
    start_t = min(reached, *(p.t for p in above)) - t0
    end_t = max(p.t for p in points) - t0
    top = max(p.rel_seq + p.length for p in above)
    x0, x1 = g.x_of(start_t), g.x_of(end_t)
    y_top, y_ack = g.y_of(top), g.y_of(final_ack)
    return Band(
        x=round(x0, 2),
        y=round(y_top, 2),
        w=round(max(x1 - x0, 2.0), 2),
        h=round(max(y_ack - y_top, 2.0), 2),
        ack=final_ack,
        label_y=round(y_ack - 5, 2),
    )
