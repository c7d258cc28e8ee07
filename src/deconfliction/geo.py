"""The theatre's projected metres, and how a line splits the theatre between two parties."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import split

from .model import Line

FloatArray = NDArray[np.float64]

GEOD = Geod(ellps="WGS84")

_QUAD_SEGS = 16

AREA_NONE = 0
AREA_LEFT = 1
AREA_RIGHT = 2


class GeometryError(ValueError):
    """A line that cannot split its theatre into two areas."""


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the UTM zone holding a point (north or south hemisphere)."""
    zone = min(max(math.floor((lon + 180.0) / 6.0) + 1, 1), 60)
    return (32600 if lat >= 0.0 else 32700) + zone


class Projection:
    """WGS 84 longitude/latitude to and from the theatre's UTM metres, on whole arrays."""

    def __init__(self, epsg: int) -> None:
        self.epsg = epsg
        self.crs = CRS.from_epsg(epsg)
        self._forward = Transformer.from_crs(4326, epsg, always_xy=True)
        self._inverse = Transformer.from_crs(epsg, 4326, always_xy=True)

    @classmethod
    def for_theatre(cls, points: Iterable[tuple[float, float]]) -> Projection:
        """The UTM zone of the centre of the points' bounding box (0, 0 when empty)."""
        pts = list(points)
        if not pts:
            return cls(utm_epsg(0.0, 0.0))
        lons = [p[0] for p in pts]
        lats = [p[1] for p in pts]
        centre_lon = (min(lons) + max(lons)) / 2.0
        centre_lat = (min(lats) + max(lats)) / 2.0
        return cls(utm_epsg(centre_lon, centre_lat))

    def forward(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        x, y = self._forward.transform(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def inverse(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        lon, lat = self._inverse.transform(x, y)
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._forward.transform(lon, lat)
        return float(x), float(y)

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._inverse.transform(x, y)
        return float(lon), float(lat)


def densify(coordinates: Sequence[tuple[float, float]], step_m: float) -> FloatArray:
    """Vertices every `step_m` metres or closer along segments straight in lon/lat."""
    coords = np.asarray(coordinates, dtype=np.float64)
    lon0, lat0 = coords[:-1, 0], coords[:-1, 1]
    lon1, lat1 = coords[1:, 0], coords[1:, 1]
    _, _, lengths = GEOD.inv(lon0, lat0, lon1, lat1)
    pieces = np.maximum(np.ceil(np.asarray(lengths) / step_m).astype(np.int64), 1)
    out: list[FloatArray] = []
    for i, n in enumerate(pieces.tolist()):
        f = np.arange(n, dtype=np.float64) / n
        seg = coords[i] + (coords[i + 1] - coords[i]) * f[:, None]
        out.append(seg)
    out.append(coords[-1:])
    return np.concatenate(out)


@dataclass(frozen=True)
class LineGeometry:
    """One line in theatre metres: its path, its extended split line, its two areas."""

    line: Line
    path: LineString
    extended: LineString
    theatre: Polygon
    left_area: Polygon
    right_area: Polygon
    bounds: tuple[float, float, float, float]
    segments: shapely.STRtree
    _buffer_cache: dict[float, tuple[Polygon, Polygon]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls, line: Line, projection: Projection, margin_m: float, densify_m: float
    ) -> LineGeometry:
        lonlat = densify(line.coordinates, densify_m)
        x, y = projection.forward(lonlat[:, 0], lonlat[:, 1])
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise GeometryError(f"line '{line.id}': it cannot be projected in the theatre's zone")
        xy = np.column_stack([x, y])
        path = LineString(xy)
        minx, miny, maxx, maxy = path.bounds
        theatre = box(minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m)
        reach = 4.0 * (maxx - minx + maxy - miny + 2.0 * margin_m + 1.0)
        start = _ray(xy[0], xy[0] - xy[1], reach)
        end = _ray(xy[-1], xy[-1] - xy[-2], reach)
        extended = LineString(np.vstack([start, xy, end]))
        if not extended.is_simple:
            raise GeometryError(
                f"line '{line.id}': the line or its extended ends cross themselves, so it "
                "cannot split the theatre into two areas"
            )
        try:
            pieces = [g for g in split(theatre, extended).geoms if isinstance(g, Polygon)]
        except shapely.errors.GEOSException as exc:
            raise GeometryError(f"line '{line.id}': its theatre cannot be split ({exc})") from None
        probe = _left_probe(xy)
        left = [p for p in pieces if p.contains(probe)]
        right = [p for p in pieces if not p.contains(probe)]
        if len(pieces) != 2 or len(left) != 1:
            raise GeometryError(
                f"line '{line.id}': splitting its theatre gave {len(pieces)} areas, not two"
            )
        left_area, right_area = left[0], right[0]
        for geom in (path, extended, left_area, right_area):
            shapely.prepare(geom)
        segments = shapely.STRtree(shapely.linestrings(np.stack([xy[:-1], xy[1:]], axis=1)))
        return cls(
            line=line,
            path=path,
            extended=extended,
            theatre=theatre,
            left_area=left_area,
            right_area=right_area,
            bounds=(minx, miny, maxx, maxy),
            segments=segments,
        )

    def areas(self, x: FloatArray, y: FloatArray) -> NDArray[np.int8]:
        """AREA_LEFT, AREA_RIGHT, or AREA_NONE (outside the theatre or on the line)."""
        out = np.zeros(x.shape[0], dtype=np.int8)
        if not x.shape[0]:
            return out
        left = shapely.contains_xy(self.left_area, x, y)
        out[left] = AREA_LEFT
        # The areas do not overlap: only the points outside the left one can be right.
        rest = np.flatnonzero(~left)
        out[rest[shapely.contains_xy(self.right_area, x[rest], y[rest])]] = AREA_RIGHT
        return out

    def area_of(self, x: float, y: float) -> int:
        """The scalar form of `areas`."""
        if _contains_one(self.left_area, x, y):
            return AREA_LEFT
        if _contains_one(self.right_area, x, y):
            return AREA_RIGHT
        return AREA_NONE

    def within_one(self, x: float, y: float, distance_m: float) -> bool:
        """The scalar form of `within`."""
        inner, outer = self._buffers(distance_m)
        if _contains_one(inner, x, y):
            return True
        if not _contains_one(outer, x, y):
            return False
        return bool(shapely.dwithin(self.path, Point(x, y), distance_m))

    def within(self, x: FloatArray, y: FloatArray, distance_m: float) -> NDArray[np.bool_]:
        """Whether each point is within `distance_m` of the line itself (not its extensions)."""
        out = np.zeros(x.shape[0], dtype=bool)
        if not x.shape[0]:
            return out
        inner, outer = self._buffers(distance_m)
        # Outside the outer polygon nothing is within: most points are, and are done with
        # one test. The inner polygon's arcs are chords inside the true distance, so its
        # inside is certainly within; only the thin band between needs exact checks.
        near = np.flatnonzero(shapely.contains_xy(outer, x, y))
        if not near.size:
            return out
        sure = shapely.contains_xy(inner, x[near], y[near])
        out[near[sure]] = True
        maybe = near[~sure]
        if maybe.size:
            out[maybe] = shapely.dwithin(self.path, shapely.points(x[maybe], y[maybe]), distance_m)
        return out

    def _buffers(self, distance_m: float) -> tuple[Polygon, Polygon]:
        cached = self._buffer_cache.get(distance_m)
        if cached is None:
            inner = self.path.buffer(distance_m * (1.0 - 1e-9), quad_segs=_QUAD_SEGS)
            slack = 1.0 / math.cos(math.pi / (4 * _QUAD_SEGS))
            outer = self.path.buffer(distance_m * slack * (1.0 + 1e-6) + 1e-3, quad_segs=_QUAD_SEGS)
            shapely.prepare(inner)
            shapely.prepare(outer)
            cached = (inner, outer)
            self._buffer_cache[distance_m] = cached
        return cached

    def buffer(self, distance_m: float) -> Polygon:
        """The buffer polygon of the line itself (for drawing)."""
        return self._buffers(distance_m)[0]

    def distance(self, x: FloatArray, y: FloatArray, beyond: float | None = None) -> FloatArray:
        """Metres from each point to the line itself; inf for points farther than `beyond`."""
        out = np.full(x.shape[0], np.inf)
        if not x.shape[0]:
            return out
        # The nearest of the path's segments, found through their R-tree; a bound lets
        # the search give up early on points that cannot matter.
        index, distance = self.segments.query_nearest(
            shapely.points(x, y), max_distance=beyond, return_distance=True, all_matches=False
        )
        out[index[0]] = distance
        return out

    def least_distance(self, x: FloatArray, y: FloatArray) -> float:
        """Metres from the nearest of the points to the line itself (inf for none)."""
        if not x.shape[0]:
            return float("inf")
        # One GEOS distance to the points as a whole, not one per point.
        return float(shapely.distance(self.path, shapely.multipoints(np.column_stack([x, y]))))

    def first_crossing(
        self, x0: float, y0: float, x1: float, y1: float
    ) -> tuple[float, float, float] | None:
        """Where the straight path from (x0, y0) to (x1, y1) first meets the extended line.

        Returns (x, y, fraction of the path), or None if it does not meet it.
        """
        path = LineString([(x0, y0), (x1, y1)])
        if path.length == 0.0:
            return None
        hit = path.intersection(self.extended)
        if hit.is_empty:
            return None
        points = _points_of(hit)
        start = Point(x0, y0)
        best = min(points, key=lambda p: p.distance(start))
        return best.x, best.y, start.distance(best) / path.length


def _ray(origin: FloatArray, direction: FloatArray, length: float) -> FloatArray:
    norm = float(np.hypot(direction[0], direction[1]))
    end: FloatArray = origin + direction / norm * length
    return end


def _left_probe(xy: FloatArray) -> Point:
    """A point just left of the middle of the line's first projected segment."""
    (ax, ay), (bx, by) = xy[0], xy[1]
    dx, dy = bx - ax, by - ay
    norm = math.hypot(dx, dy)
    offset = min(1.0, norm / 4.0)
    mx, my = (ax + bx) / 2.0, (ay + by) / 2.0
    return Point(mx - dy / norm * offset, my + dx / norm * offset)


def _points_of(geom: shapely.Geometry) -> list[Point]:
    if isinstance(geom, Point):
        return [geom]
    pts: list[Point] = []
    for part in getattr(geom, "geoms", []):
        pts.extend(_points_of(part))
    if isinstance(geom, LineString):
        pts.extend(Point(c) for c in geom.coords)
    return pts


def _contains_one(prepared: Polygon, x: float, y: float) -> bool:
    """`shapely.contains_xy` for one point of a polygon prepared when it was built.

    The public wrapper prepares its geometry again on every call, which for a single
    point costs twice the test itself; the live path makes a few of these per report.
    """
    return bool(shapely.lib.contains_xy(prepared, x, y))
