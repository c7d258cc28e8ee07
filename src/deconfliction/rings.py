"""Where points lie against a polygon's ring, compiled (numba).

A line's two areas are polygons of a few hundred vertices, asked about every unit a
batch moves. The ring's edges are binned into horizontal strips, so that a point is
tested against the few edges that span its height, with the ray-crossing rule GEOS
uses (an edge through the point, or a vertex on it, puts it on the boundary).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

EXTERIOR = 0
INTERIOR = 1
BOUNDARY = 2

# Strips per ring: a few edges each for a line densified to a vertex every kilometre.
_MAX_STRIPS = 1024


@dataclass(frozen=True)
class Ring:
    """A closed ring's vertices, with its edges binned by height: the edges of strip s
    are `order[start[s]:start[s + 1]]` (edge k runs from vertex k to vertex k + 1)."""

    x: FloatArray
    y: FloatArray
    y0: float
    y1: float
    height: float
    strips: int
    start: IntArray
    order: IntArray

    @classmethod
    def build(cls, coordinates: FloatArray) -> Ring:
        """From (n, 2) coordinates whose last equals the first, as shapely gives them."""
        x = np.ascontiguousarray(coordinates[:, 0], dtype=np.float64)
        y = np.ascontiguousarray(coordinates[:, 1], dtype=np.float64)
        if x.shape[0] < 4 or x[0] != x[-1] or y[0] != y[-1]:
            raise ValueError("a ring needs at least three vertices and to close on its first")
        edges = x.shape[0] - 1
        y0, y1 = float(y.min()), float(y.max())
        strips = max(1, min(_MAX_STRIPS, edges))
        height = max((y1 - y0) / strips, 1e-9)
        low = np.minimum(y[:-1], y[1:])
        high = np.maximum(y[:-1], y[1:])
        # The same division and floor as the test of a point, so that a point at an
        # edge's end falls in a strip that lists the edge.
        first = np.minimum(np.floor((low - y0) / height).astype(np.int64), strips - 1)
        last = np.minimum(np.floor((high - y0) / height).astype(np.int64), strips - 1)
        span = last - first + 1
        edge = np.repeat(np.arange(edges, dtype=np.int64), span)
        within = np.arange(edge.shape[0]) - np.repeat(np.cumsum(span) - span, span)
        strip = np.repeat(first, span) + within
        by_strip = np.argsort(strip, kind="stable")
        start = np.searchsorted(strip[by_strip], np.arange(strips + 1)).astype(np.int64)
        return cls(x, y, y0, y1, height, strips, start, edge[by_strip])

    def locate(self, px: FloatArray, py: FloatArray) -> NDArray[np.int8]:
        """EXTERIOR, INTERIOR or BOUNDARY for each point."""
        out: NDArray[np.int8] = _locate(
            np.ascontiguousarray(px, dtype=np.float64),
            np.ascontiguousarray(py, dtype=np.float64),
            *self._index(),
        )
        return out

    def locate_one(self, px: float, py: float) -> int:
        """`locate` for one point."""
        return int(_locate_one(float(px), float(py), *self._index()))

    def _index(self) -> tuple[FloatArray, FloatArray, float, float, float, int, IntArray, IntArray]:
        return self.x, self.y, self.y0, self.y1, self.height, self.strips, self.start, self.order


@njit(cache=True, nogil=True)
def _locate_one(
    px: float,
    py: float,
    x: FloatArray,
    y: FloatArray,
    y0: float,
    y1: float,
    height: float,
    strips: int,
    start: IntArray,
    order: IntArray,
) -> int:  # pragma: no cover - compiled
    if not (y0 <= py <= y1):
        return EXTERIOR
    s = min(int(np.floor((py - y0) / height)), strips - 1)
    crossings = 0
    for j in range(start[s], start[s + 1]):
        k = order[j]
        x1, y1, x2, y2 = x[k], y[k], x[k + 1], y[k + 1]
        # GEOS's ray-crossing counter: a ray from the point towards +x.
        if x1 < px and x2 < px:
            continue
        if px == x2 and py == y2:
            return BOUNDARY
        if y1 == py and y2 == py:
            if min(x1, x2) <= px <= max(x1, x2):
                return BOUNDARY
            continue
        if (y1 > py and y2 <= py) or (y2 > py and y1 <= py):
            det = (x1 - px) * (y2 - py) - (y1 - py) * (x2 - px)
            if det == 0.0:
                return BOUNDARY
            if y2 < y1:
                det = -det
            if det > 0.0:
                crossings += 1
    return INTERIOR if crossings % 2 == 1 else EXTERIOR


@njit(cache=True, nogil=True)
def _locate(
    px: FloatArray,
    py: FloatArray,
    x: FloatArray,
    y: FloatArray,
    y0: float,
    y1: float,
    height: float,
    strips: int,
    start: IntArray,
    order: IntArray,
) -> NDArray[np.int8]:  # pragma: no cover - compiled
    out = np.empty(px.shape[0], np.int8)
    for i in range(px.shape[0]):
        out[i] = _locate_one(px[i], py[i], x, y, y0, y1, height, strips, start, order)
    return out


def warm() -> None:
    """Compile the tests, or load them from numba's cache, if this process has not."""
    if not (_locate.signatures and _locate_one.signatures):
        ring = Ring.build(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        ring.locate(np.zeros(1), np.zeros(1))
        ring.locate_one(0.0, 0.0)
