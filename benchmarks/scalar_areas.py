"""The theatre and each line's two areas, built one point at a time with shapely and pyproj.

This is the reference geometry of `benchmarks/scalar.py`: written from DESIGN section 4
without the vectorised `deconfliction.geo`, so that the two can check each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, Point, Polygon

from deconfliction.model import Line, Site

_GEOD = Geod(ellps="WGS84")

XY = tuple[float, float]


def utm_zone(lon: float, lat: float) -> tuple[int, bool]:
    """The UTM zone number of a point and whether it is in the southern hemisphere."""
    zone = math.floor((lon + 180.0) / 6.0) + 1
    return min(max(zone, 1), 60), lat < 0.0


class Theatre:
    """The projected frame all distances are measured in: the UTM zone of the centre."""

    def __init__(self, lines: Sequence[Line], sites: Sequence[Site]) -> None:
        points = [c for line in lines for c in line.coordinates]
        if not points:
            points = [(s.lon, s.lat) for s in sites]
        if not points:
            points = [(0.0, 0.0)]
        lons = [p[0] for p in points]
        lats = [p[1] for p in points]
        self.centre: XY = ((min(lons) + max(lons)) / 2.0, (min(lats) + max(lats)) / 2.0)
        self.zone, self.south = utm_zone(*self.centre)
        crs = CRS.from_epsg((32700 if self.south else 32600) + self.zone)
        self._forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._inverse = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def project(self, lon: float, lat: float) -> XY:
        x, y = self._forward.transform(lon, lat)
        return float(x), float(y)

    def unproject(self, x: float, y: float) -> XY:
        lon, lat = self._inverse.transform(x, y)
        return float(lon), float(lat)


def densify(coordinates: Sequence[XY], step_m: float) -> list[XY]:
    """Vertices every `step_m` metres or less along segments straight in lon/lat."""
    out: list[XY] = [coordinates[0]]
    for (lon0, lat0), (lon1, lat1) in pairwise(coordinates):
        _, _, length = _GEOD.inv(lon0, lat0, lon1, lat1)
        pieces = max(1, math.ceil(length / step_m))
        for i in range(1, pieces + 1):
            f = i / pieces
            out.append((lon0 + (lon1 - lon0) * f, lat0 + (lat1 - lat0) * f))
    return out


def _perimeter_position(box: tuple[float, float, float, float], p: XY) -> float:
    """Where a point on the box's boundary lies, walking counter-clockwise from (minx, miny)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    x, y = p
    # The nearest edge: clipping leaves points a rounding error off the boundary.
    edges = [
        (abs(y - y0), min(max(x - x0, 0.0), w)),
        (abs(x - x1), w + min(max(y - y0, 0.0), h)),
        (abs(y - y1), w + h + min(max(x1 - x, 0.0), w)),
        (abs(x - x0), 2 * w + h + min(max(y1 - y, 0.0), h)),
    ]
    return min(edges)[1]


class LineAreas:
    """One line: its projected shape, its theatre box and the two parties' areas."""

    def __init__(self, line: Line, theatre: Theatre, margin_m: float, densify_m: float) -> None:
        self.line = line
        self.theatre = theatre
        projected = [theatre.project(lon, lat) for lon, lat in densify(line.coordinates, densify_m)]
        self.shape = LineString(projected)
        shapely.prepare(self.shape)
        minx, miny, maxx, maxy = self.shape.bounds
        box = (minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m)
        self.box_bounds = box
        self.box = Polygon([(box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3])])
        reach = 2.0 * math.hypot(box[2] - box[0], box[3] - box[1])
        start = _beyond(projected[1], projected[0], reach)
        end = _beyond(projected[-2], projected[-1], reach)
        extended = LineString([start, *projected, end])
        inside = extended.intersection(self.box)
        if not isinstance(inside, LineString):
            raise ValueError(
                f"line '{line.id}': its extension leaves the theatre box more than once"
            )
        self.extended = inside
        self.left_area = self._side(inside, box, counter_clockwise=True)
        self.right_area = self._side(inside, box, counter_clockwise=False)
        for area in (self.left_area, self.right_area, self.box):
            shapely.prepare(area)

    @staticmethod
    def _side(
        path: LineString, box: tuple[float, float, float, float], counter_clockwise: bool
    ) -> Polygon:
        """The part of the box on one side of the path across it.

        Walking the path and then the box's boundary counter-clockwise back to its start
        encloses the part on the path's left (a counter-clockwise ring has its inside on the
        left); clockwise, the part on its right.
        """
        coords = list(path.coords)
        a, b = coords[0], coords[-1]
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        perimeter = 2 * (w + h)
        corners = [(0.0, (x0, y0)), (w, (x1, y0)), (w + h, (x1, y1)), (2 * w + h, (x0, y1))]
        sa = _perimeter_position(box, a)
        sb = _perimeter_position(box, b)
        if counter_clockwise:
            span = (sa - sb) % perimeter
            walk = sorted(((s - sb) % perimeter, c) for s, c in corners)
        else:
            span = (sb - sa) % perimeter
            walk = sorted(((sb - s) % perimeter, c) for s, c in corners)
        ring = coords + [c for d, c in walk if 0.0 < d < span]
        polygon = Polygon(ring)
        if not polygon.is_valid:
            raise ValueError(
                f"line crosses itself: its areas are not simple polygons ({path.wkt[:60]})"
            )
        return polygon

    def area_of(self, x: float, y: float) -> str | None:
        """The party whose area holds the point, or None outside the theatre box."""
        point = Point(x, y)
        if self.left_area.contains(point):
            return self.line.left
        if self.right_area.contains(point):
            return self.line.right
        return None

    def distance(self, x: float, y: float) -> float:
        """Metres to the line itself (not to its extensions)."""
        return float(self.shape.distance(Point(x, y)))

    def crossing(self, start: XY, end: XY) -> tuple[XY, float] | None:
        """The first point where the segment meets the extended line, and how far along (0-1)."""
        segment_length = math.hypot(end[0] - start[0], end[1] - start[1])
        if segment_length == 0.0:
            return None
        meet = LineString([start, end]).intersection(self.extended)
        if meet.is_empty:
            return None
        points: list[XY] = []
        for part in getattr(meet, "geoms", [meet]):
            points.extend((float(x), float(y)) for x, y in part.coords)
        first = min(points, key=lambda p: math.hypot(p[0] - start[0], p[1] - start[1]))
        along = math.hypot(first[0] - start[0], first[1] - start[1]) / segment_length
        return first, min(max(along, 0.0), 1.0)


def _beyond(before: XY, last: XY, length: float) -> XY:
    """The point `length` metres past `last` in the direction from `before`."""
    dx, dy = last[0] - before[0], last[1] - before[1]
    norm = math.hypot(dx, dy)
    return (last[0] + dx / norm * length, last[1] + dy / norm * length)
