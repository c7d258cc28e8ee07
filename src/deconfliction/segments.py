"""Points and paths against a polyline, compiled (numba).

- Distances: each point is measured against every segment, the nearest point of a
  segment being the point's projection onto it, clamped to its ends. For a line of a
  few hundred vertices and the few dozen points an evaluation asks about, that is
  quicker than building point geometries for an R-tree search, and it gives shapely's
  figures to the last digit.
- Nearness: whether points are within a distance of the polyline, on a grid of its
  segments, so that a point far from the line costs one look-up and a near one a few
  segments (against a few hundred nanoseconds for a prepared buffer polygon).
- Crossings: where a straight move first meets the polyline, by the orientations of
  the move and each segment, as GEOS tells whether two segments meet. A crossing found
  this way costs a few microseconds against the tens that building geometries for one
  intersection does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from .cells import Cells, Frame, around

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def path_distances(x: FloatArray, y: FloatArray, vx: FloatArray, vy: FloatArray) -> FloatArray:
    """Metres from each point (x, y) to the polyline through the vertices (vx, vy)."""
    if vx.shape[0] == 0:
        return np.full(x.shape[0], np.inf)
    out: FloatArray = _distances(
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(y, dtype=np.float64),
        np.ascontiguousarray(vx, dtype=np.float64),
        np.ascontiguousarray(vy, dtype=np.float64),
    )
    return out


@njit(cache=True, nogil=True, inline="always")
def _segment_distance(
    px: float, py: float, ax: float, ay: float, bx: float, by: float
) -> float:  # pragma: no cover - compiled
    """The same steps as GEOS's point-to-segment distance, so that the figures agree
    with shapely's to the last digit."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    r = ((px - ax) * dx + (py - ay) * dy) / length2 if length2 > 0.0 else 0.0
    if r <= 0.0:
        return math.sqrt((px - ax) ** 2 + (py - ay) ** 2)
    if r >= 1.0:
        return math.sqrt((px - bx) ** 2 + (py - by) ** 2)
    s = ((ay - py) * dx - (ax - px) * dy) / length2
    return abs(s) * math.sqrt(length2)


@njit(cache=True, nogil=True)
def _distances(
    x: FloatArray, y: FloatArray, vx: FloatArray, vy: FloatArray
) -> FloatArray:  # pragma: no cover - compiled
    n, m = x.shape[0], vx.shape[0]
    out = np.empty(n, np.float64)
    for i in range(n):
        px, py = x[i], y[i]
        best = math.sqrt((px - vx[0]) ** 2 + (py - vy[0]) ** 2)
        for k in range(m - 1):
            d = _segment_distance(px, py, vx[k], vy[k], vx[k + 1], vy[k + 1])
            if d < best:
                best = d
        out[i] = best
    return out


@dataclass(frozen=True)
class SegmentGrid:
    """A polyline's vertices and its segments binned on cells at least `reach` wide, so
    that the segments within `reach` of a point lie in the 3 x 3 cells around its own."""

    vx: FloatArray
    vy: FloatArray
    cells: Cells

    @classmethod
    def build(cls, vx: FloatArray, vy: FloatArray, reach: float) -> SegmentGrid:
        vx = np.ascontiguousarray(vx, dtype=np.float64)
        vy = np.ascontiguousarray(vy, dtype=np.float64)
        return cls(vx, vy, Cells.of_segments(vx, vy, reach))

    @property
    def reach(self) -> float:
        return self.cells.reach

    def within(self, x: FloatArray, y: FloatArray, distance: float) -> BoolArray:
        """Whether each point is within `distance` (at most `reach`) of the polyline."""
        self._check(distance)
        cells = self.cells
        out: BoolArray = _within(
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            self.vx,
            self.vy,
            float(distance),
            cells.frame,
            cells.start,
            cells.order,
        )
        return out

    def within_one(self, px: float, py: float, distance: float) -> bool:
        """`within` for one point."""
        self._check(distance)
        cells = self.cells
        return bool(
            _within_point(
                float(px),
                float(py),
                self.vx,
                self.vy,
                float(distance),
                cells.frame,
                cells.start,
                cells.order,
            )
        )

    def _check(self, distance: float) -> None:
        if distance > self.reach:
            raise ValueError(f"distance {distance} is beyond the grid's reach {self.reach}")


@njit(cache=True, nogil=True)
def _within_point(
    px: float,
    py: float,
    vx: FloatArray,
    vy: FloatArray,
    distance: float,
    frame: Frame,
    start: IntArray,
    order: IntArray,
) -> bool:  # pragma: no cover - compiled
    rows = frame[4]
    gx0, gx1, gy0, gy1 = around(px, py, frame)
    for gx in range(gx0, gx1):
        for gy in range(gy0, gy1):
            c = gx * rows + gy
            for j in range(start[c], start[c + 1]):
                k = order[j]
                if _segment_distance(px, py, vx[k], vy[k], vx[k + 1], vy[k + 1]) <= distance:
                    return True
    return False


@njit(cache=True, nogil=True)
def _within(
    x: FloatArray,
    y: FloatArray,
    vx: FloatArray,
    vy: FloatArray,
    distance: float,
    frame: Frame,
    start: IntArray,
    order: IntArray,
) -> BoolArray:  # pragma: no cover - compiled
    out = np.zeros(x.shape[0], np.bool_)
    for i in range(x.shape[0]):
        out[i] = _within_point(x[i], y[i], vx, vy, distance, frame, start, order)
    return out


def first_crossing(
    x0: float, y0: float, x1: float, y1: float, vx: FloatArray, vy: FloatArray
) -> tuple[float, float, float] | None:
    """Where the move from (x0, y0) to (x1, y1) first meets the polyline through the
    vertices (vx, vy): (x, y, fraction of the move), or None if it does not."""
    if x0 == x1 and y0 == y1:
        return None
    t = float(_first_crossing(float(x0), float(y0), float(x1), float(y1), vx, vy))
    if t < 0.0:
        return None
    return x0 + t * (x1 - x0), y0 + t * (y1 - y0), t


@njit(cache=True, nogil=True, inline="always")
def _orient(
    ax: float, ay: float, bx: float, by: float, cx: float, cy: float
) -> float:  # pragma: no cover - compiled
    """Twice the signed area of (a, b, c): positive when c is left of a -> b (GEOS's
    orientation determinant, in the same order of operations)."""
    return (ax - cx) * (by - cy) - (ay - cy) * (bx - cx)


@njit(cache=True, nogil=True)
def _first_crossing(
    x0: float, y0: float, x1: float, y1: float, vx: FloatArray, vy: FloatArray
) -> float:  # pragma: no cover - compiled
    """The least fraction of the move at which it meets a segment, or -1.

    Whether they meet is decided by the signs of orientations, as GEOS decides it, not by
    parameters against thresholds: a meeting at a segment's end, where rounding scatters
    the parameters either side of 0 or 1, keeps its exact zero orientation.
    """
    rx, ry = x1 - x0, y1 - y0
    rr = rx * rx + ry * ry
    x_lo, x_hi = min(x0, x1), max(x0, x1)
    y_lo, y_hi = min(y0, y1), max(y0, y1)
    best = 2.0
    for k in range(vx.shape[0] - 1):
        cx, cy, dx, dy = vx[k], vy[k], vx[k + 1], vy[k + 1]
        if max(cx, dx) < x_lo or min(cx, dx) > x_hi or max(cy, dy) < y_lo or min(cy, dy) > y_hi:
            continue
        o1 = _orient(x0, y0, x1, y1, cx, cy)
        o2 = _orient(x0, y0, x1, y1, dx, dy)
        if (o1 > 0.0 and o2 > 0.0) or (o1 < 0.0 and o2 < 0.0):
            continue
        o3 = _orient(cx, cy, dx, dy, x0, y0)
        o4 = _orient(cx, cy, dx, dy, x1, y1)
        if (o3 > 0.0 and o4 > 0.0) or (o3 < 0.0 and o4 < 0.0):
            continue
        if (o1 == 0.0 and o2 == 0.0) or (o3 == 0.0 and o4 == 0.0):
            # Along one line: the move meets the segment where their spans first overlap.
            t0 = ((cx - x0) * rx + (cy - y0) * ry) / rr
            t1 = ((dx - x0) * rx + (dy - y0) * ry) / rr
            lo = max(min(t0, t1), 0.0)
            hi = min(max(t0, t1), 1.0)
            if lo > hi:
                continue
            t = lo
        elif o3 == 0.0:
            t = 0.0
        elif o4 == 0.0:
            t = 1.0
        else:
            t = min(max(o3 / (o3 - o4), 0.0), 1.0)
        if t < best:
            best = t
    return best if best <= 1.0 else -1.0


def warm() -> None:
    """Compile the searches, or load them from numba's cache, if this process has not."""
    if not all(f.signatures for f in (_distances, _first_crossing, _within, _within_point)):
        path_distances(np.zeros(1), np.zeros(1), np.zeros(2), np.ones(2))
        first_crossing(-1.0, 0.5, 1.0, 0.5, np.zeros(2), np.ones(2))
        grid = SegmentGrid.build(np.zeros(2), np.ones(2), 1.0)
        grid.within(np.zeros(1), np.zeros(1), 1.0)
        grid.within_one(0.0, 0.0, 1.0)
