"""The map of a route sheet, drawn offline as SVG from the pickups' coordinates: the round as a
line from the depot (or the first pickup), each pickup numbered in route order, a scale bar. No
tile server, no network: the crews print it with the sheet.

Pure: returns the SVG text."""

from __future__ import annotations

import math
from html import escape

from domain.route_sheets import SectorSheet

WIDTH, HEIGHT, MARGIN = 640, 420, 36


def route_svg(sheet: SectorSheet) -> str:
    """An SVG of the round; "" when no pickup has a position."""
    stops = [(n, s) for n, s in enumerate(sheet.stops, start=1) if s.position is not None]
    if not stops:
        return ""
    points = [s.position for _, s in stops]
    depot = (sheet.depot.lon, sheet.depot.lat) if sheet.depot is not None else None
    project = _Projection([p for p in [depot, *points] if p is not None])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="Carte de la tournée {escape(sheet.sector)}">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#f7f7f2" stroke="#999"/>',
    ]
    path = [project(depot)] if depot is not None else []
    path += [project(p) for p in points if p is not None]
    if len(path) > 1:
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in path)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="#1f5fa8" stroke-width="2.5" '
            'stroke-linejoin="round" stroke-dasharray="6 3"/>'
        )
    if depot is not None and sheet.depot is not None:
        x, y = project(depot)
        parts.append(
            f'<rect x="{x - 7:.1f}" y="{y - 7:.1f}" width="14" height="14" fill="#333"/>'
            f'<text x="{x + 10:.1f}" y="{y - 8:.1f}" font-size="12" font-family="sans-serif">'
            f"{escape(sheet.depot.label)}</text>"
        )
    for n, stop in stops:
        assert stop.position is not None
        x, y = project(stop.position)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="10" fill="#d9480f" stroke="white" '
            f'stroke-width="1.5"/><text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" '
            f'font-family="sans-serif" font-weight="bold" fill="white" '
            f'text-anchor="middle">{n}</text>'
        )
    parts.append(_scale_bar(project))
    # North: a plain polygon and a Latin-1 letter, which every SVG renderer draws (the PDF's
    # core fonts have no arrow glyph).
    parts.append(
        f'<polygon points="{WIDTH - 20},12 {WIDTH - 26},28 {WIDTH - 14},28" fill="#333"/>'
        f'<text x="{WIDTH - 20}" y="42" font-size="12" font-family="sans-serif" '
        'text-anchor="middle">N</text></svg>'
    )
    return "".join(parts)


class _Projection:
    """Equirectangular projection of the bounding box onto the drawing, scaled by the
    cosine of the mean latitude so that a kilometre is as long east-west as north-south."""

    def __init__(self, points: list[tuple[float, float]]) -> None:
        lons = [p[0] for p in points]
        lats = [p[1] for p in points]
        self.cos_lat = math.cos(math.radians(sum(lats) / len(lats)))
        self.min_x, max_x = min(lons) * self.cos_lat, max(lons) * self.cos_lat
        self.min_y, max_y = min(lats), max(lats)
        span = max(max_x - self.min_x, max_y - self.min_y, 1e-4)
        self.scale = min((WIDTH - 2 * MARGIN) / span, (HEIGHT - 2 * MARGIN) / span)
        self.off_x = (WIDTH - (max_x - self.min_x) * self.scale) / 2
        self.off_y = (HEIGHT - (max_y - self.min_y) * self.scale) / 2
        # Pixels per km: a degree of latitude is 111.32 km.
        self.per_km = self.scale / 111.32

    def __call__(self, p: tuple[float, float] | None) -> tuple[float, float]:
        assert p is not None
        x = self.off_x + (p[0] * self.cos_lat - self.min_x) * self.scale
        y = HEIGHT - (self.off_y + (p[1] - self.min_y) * self.scale)
        return x, y


def _scale_bar(project: _Projection) -> str:
    # The round figure of km closest to a fifth of the drawing.
    target = (WIDTH / 5) / project.per_km
    length_km = min((0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50), key=lambda v: abs(v - target))
    width = length_km * project.per_km
    label = f"{int(length_km * 1000)} m" if length_km < 1 else f"{length_km:g} km"
    y = HEIGHT - 14
    return (
        f'<line x1="14" y1="{y}" x2="{14 + width:.1f}" y2="{y}" stroke="#333" stroke-width="3"/>'
        f'<text x="{18 + width:.1f}" y="{y + 4}" font-size="11" font-family="sans-serif">'
        f"{label}</text>"
    )
