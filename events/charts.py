"""Charts drawn on the server as inline SVG: nothing to download, no script, readable without JavaScript."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

# Colour-blind-safe palette (Okabe-Ito), one colour per series in order.
PALETTE = ("#0072B2", "#009E73", "#D55E00", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 32, 12, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def _nice_ceiling(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at or above the largest value."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _label(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.2f}%".replace(".00%", "%")
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def line_chart(*, title: str, labels: Sequence[str], series: Sequence[Series], percent: bool = False) -> SafeString:
    """One SVG line chart: a y axis with five gridlines, x labels thinned to fit, one polyline per series with a
    point per value (hover shows the value), and a legend. Missing values (None) break the line."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    # Counts get whole-number gridlines (a top of at least 4); rates any share.
    top = _nice_ceiling(float(peak)) if percent else max(4.0, _nice_ceiling(float(peak)))
    count = max(len(labels), 1)

    def x(index: int) -> float:
        return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    parts = [
        f'<svg class="sesame-chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        value = top * step / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" fill="#666">'
            f"{escape(_label(value, percent))}</text>"
        )
    every = max(1, -(-count // 12))
    for index, label in enumerate(labels):
        if index % every == 0 or index == count - 1:
            parts.append(
                f'<text x="{x(index):.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" fill="#666">'
                f"{escape(label)}</text>"
            )
    for number, line in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        runs: list[list[str]] = [[]]
        points = []
        for index, point in enumerate(line.values):
            if point is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(index):.1f},{y(point):.1f}")
            points.append(
                f'<circle class="point" cx="{x(index):.1f}" cy="{y(point):.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(line.name)} {escape(labels[index])}: {escape(_label(point, percent))}</title>"
                "</circle>"
            )
        for run in runs:
            if run:
                parts.append(
                    f'<polyline class="series" data-series="{escape(line.name)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2" points="{" ".join(run)}"/>'
                )
        parts.extend(points)
    parts.append("</svg>")
    legend = "".join(
        f'<span class="legend-item"><span style="display:inline-block;width:10px;height:10px;'
        f'background:{PALETTE[n % len(PALETTE)]};margin:0 4px 0 10px"></span>{escape(s.name)}</span>'
        for n, s in enumerate(series)
    )
    caption = f"<figcaption><b>{escape(title)}</b>{legend}</figcaption>"
    return mark_safe(f'<figure class="sesame-figure">{"".join(parts)}{caption}</figure>')  # noqa: S308 (every text above is escaped)
