"""Server-rendered SVG charts for the delivery page: no script, no CDN, no styles
injected (colours come from classes in ``gitward.css``, so dark mode and the
page's Content-Security-Policy both hold).

:func:`bars` draws one bar per bucket (deployments, failed ones stacked in a
second colour); :func:`line` draws one value per bucket (lead time,
time to restore), with gaps where a bucket has no value. Every chart carries a
``<title>`` and ``<desc>`` and each mark a ``<title>`` with its figure, so a
screen reader (and the browser tests) read the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

_W, _H = 640, 180
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 8, 12, 24


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # the bucket, e.g. "11-04"
    value: float | None
    part: float = 0.0  # bars: the failed share drawn on top


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    svg: Markup


def _frame(title: str, description: str, body: list[str], peak: float, unit: str) -> Chart:
    ticks = []
    for fraction in (0.0, 0.5, 1.0):
        y = _TOP + (_H - _TOP - _BOTTOM) * (1 - fraction)
        ticks.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_number(peak * fraction, unit))}</text>"
        )
    svg = (
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-labelledby="t-{id(body)} d-{id(body)}">'
        f'<title id="t-{id(body)}">{escape(title)}</title>'
        f'<desc id="d-{id(body)}">{escape(description)}</desc>'
        + "".join(ticks)
        + "".join(body)
        + "</svg>"
    )
    return Chart(title, Markup(svg))  # noqa: S704 - every text above is escaped


def _number(value: float, unit: str) -> str:
    if unit == "s":
        if value >= 7200:
            return f"{value / 3600:.1f}h"
        if value >= 120:
            return f"{value / 60:.0f}m"
        return f"{value:.0f}s"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _x_labels(points: Sequence[Point], x_of: Callable[[int], float]) -> list[str]:
    step = max(1, len(points) // 8)
    return [
        f'<text class="axis" x="{x_of(i):.1f}" y="{_H - 6}" text-anchor="middle">'
        f"{escape(p.label)}</text>"
        for i, p in enumerate(points)
        if i % step == 0
    ]


def bars(title: str, points: Sequence[Point], *, what: str, part_what: str) -> Chart:
    peak = max([p.value or 0.0 for p in points] + [1.0])
    width = (_W - _LEFT - _RIGHT) / max(len(points), 1)
    height = _H - _TOP - _BOTTOM

    def x_of(i: int) -> float:
        return _LEFT + width * (i + 0.5)

    body = []
    for i, point in enumerate(points):
        value = point.value or 0.0
        h = height * value / peak
        y = _TOP + height - h
        x = _LEFT + width * i + width * 0.15
        label = f"{point.label}: {value:g} {what}"
        if point.part:
            label += f", {point.part:g} {part_what}"
        body.append(
            f'<g><title>{escape(label)}</title><rect class="bar" x="{x:.1f}" y="{y:.1f}" '
            f'width="{width * 0.7:.1f}" height="{h:.1f}"/>'
        )
        if point.part:
            ph = height * point.part / peak
            body.append(
                f'<rect class="bar-bad" x="{x:.1f}" y="{_TOP + height - ph:.1f}" '
                f'width="{width * 0.7:.1f}" height="{ph:.1f}"/>'
            )
        body.append("</g>")
    total = sum(p.value or 0.0 for p in points)
    parts = sum(p.part for p in points)
    description = f"{total:g} {what} in {len(points)} periods, {parts:g} {part_what}."
    return _frame(title, description, body + _x_labels(points, x_of), peak, "")


def line(title: str, points: Sequence[Point], *, unit: str = "s") -> Chart:
    values = [p.value for p in points if p.value is not None]
    peak = max([*values, 1.0])
    width = (_W - _LEFT - _RIGHT) / max(len(points), 1)
    height = _H - _TOP - _BOTTOM

    def x_of(i: int) -> float:
        return _LEFT + width * (i + 0.5)

    body: list[str] = []
    run: list[str] = []
    for i, point in enumerate(points):
        if point.value is None:
            if len(run) > 1:
                body.append(f'<polyline class="line" points="{" ".join(run)}"/>')
            run = []
            continue
        y = _TOP + height * (1 - point.value / peak)
        run.append(f"{x_of(i):.1f},{y:.1f}")
        body.append(
            f"<g><title>{escape(point.label)}: {escape(_number(point.value, unit))}</title>"
            f'<circle class="dot" cx="{x_of(i):.1f}" cy="{y:.1f}" r="3.5"/></g>'
        )
    if len(run) > 1:
        body.insert(0, f'<polyline class="line" points="{" ".join(run)}"/>')
    description = f"{len(values)} of {len(points)} periods have a value" + (
        f"; highest {_number(max(values), unit)}." if values else "."
    )
    return _frame(title, description, body + _x_labels(points, x_of), peak, unit)
