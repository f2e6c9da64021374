"""Bar charts drawn on the server as inline SVG geometry: no JavaScript, no CDN, nothing to vendor."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 560, 150  # the viewBox; the SVG scales to its box
LEFT, RIGHT, TOP, BOTTOM = 30, 4, 8, 20  # room for the y labels and the x ticks


@dataclass(frozen=True)
class Point:
    label: str  # the hover title, e.g. "2026-03-10 14:00–15:00: 3 failures"
    tick: str  # the x-axis label ("" = none under this bar)
    value: int


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str
    tick: str
    tick_x: float
    tick_anchor: str = "middle"  # "end" at the right edge, so the last label is not cut off


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    scale_max: int
    gridlines: list[tuple[float, int]]  # (y, value)
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM
    tick_y: float = HEIGHT - 5
    left: int = LEFT
    right: float = WIDTH - RIGHT
    total: int = 0
    points: list[Point] = field(default_factory=list)


def nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^k at least `value` (at least 1): a y-axis that reads well."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def bar_chart(points: list[Point]) -> BarChart:
    scale = nice_max(max((p.value for p in points), default=0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(points), 1)
    gap = min(2.0, slot * 0.2)
    bars = []
    for index, point in enumerate(points):
        height = plot_height * point.value / scale
        x = LEFT + index * slot + gap / 2
        # a zero still shows a hairline, so the chart reads as "drawn, nothing failed"
        shown = max(height, 1.0)
        at_edge = x + slot / 2 > WIDTH - RIGHT - 16
        bars.append(
            Bar(
                x=round(x, 2),
                y=round(TOP + plot_height - shown, 2),
                width=round(slot - gap, 2),
                height=round(shown, 2),
                value=point.value,
                label=point.label,
                tick=point.tick,
                tick_x=round(x + (slot - gap) if at_edge else x + (slot - gap) / 2, 2),
                tick_anchor="end" if at_edge else "middle",
            )
        )
    gridlines = [
        (round(TOP + plot_height * (1 - f), 2), round(scale * f)) for f in (0, 0.5, 1) if scale * f == int(scale * f)
    ]
    return BarChart(bars=bars, scale_max=scale, gridlines=gridlines, total=sum(p.value for p in points), points=points)


@dataclass(frozen=True)
class Trend:
    """This period against the previous one of the same length."""

    current: int
    previous: int

    @property
    def delta(self) -> int:
        return self.current - self.previous

    @property
    def percent(self) -> int | None:
        return None if not self.previous else round(100 * self.delta / self.previous)

    @property
    def direction(self) -> str:
        return "up" if self.delta > 0 else "down" if self.delta < 0 else "flat"
