"""Sites binned on a grid, for what lies within a radius of them (compiled, numba).

The sites are binned once on cells at least the radius wide (`cells.py`), so a unit
need only be compared with the sites of the three by three cells around its own. Three
searches use it: the strength within the defence radius of each site (the defence
rules' count from scratch), each unit's nearest site when it is within the radius
(massing's nearness and a unit's reach over our sites), and the sites within each unit's
own radius (its reach, for threats). Each is one pass over the units, without the
per-query work of a k-d tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ..cells import Cells, Frame, around

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _floats(values: FloatArray) -> FloatArray:
    return np.ascontiguousarray(values, dtype=np.float64)


@dataclass(frozen=True)
class SiteGrid:
    """Sites (x, y) and the cells they are binned in, `radius` wide at least."""

    x: FloatArray
    y: FloatArray
    cells: Cells

    @classmethod
    def build(cls, x: FloatArray, y: FloatArray, radius: float) -> SiteGrid:
        if not x.shape[0]:
            raise ValueError("a site grid needs at least one site")
        x, y = _floats(x), _floats(y)
        return cls(x, y, Cells.of_points(x, y, radius))

    @property
    def radius(self) -> float:
        return self.cells.reach

    def sums(
        self, x: FloatArray, y: FloatArray, strength: IntArray, mine: BoolArray
    ) -> tuple[IntArray, IntArray]:
        """(own, other): the strength of the points within the radius of each site,
        split by `mine`."""
        own: IntArray
        other: IntArray
        own, other = _sums(
            _floats(x),
            _floats(y),
            np.ascontiguousarray(strength, dtype=np.int64),
            np.ascontiguousarray(mine, dtype=np.bool_),
            self.x,
            self.y,
            self.radius,
            *self._bins(),
        )
        return own, other

    def nearest(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Metres from each point to its nearest site, or inf where none is within the
        radius."""
        out: FloatArray = _nearest(
            _floats(x), _floats(y), self.x, self.y, self.radius, *self._bins()
        )
        return out

    def pairs(self, x: FloatArray, y: FloatArray, radius: FloatArray) -> tuple[IntArray, IntArray]:
        """(point, site) for every site within its point's radius (at most the grid's),
        by point, then site."""
        if x.shape[0] and float(radius.max()) > self.radius:
            raise ValueError(f"a radius beyond the grid's {self.radius}")
        point: IntArray
        site: IntArray
        point, site = _pairs(_floats(x), _floats(y), _floats(radius), self.x, self.y, *self._bins())
        return point, site

    def _bins(self) -> tuple[Frame, IntArray, IntArray]:
        return self.cells.frame, self.cells.start, self.cells.order


@njit(cache=True, nogil=True, inline="always")
def _near(
    px: float,
    py: float,
    r2: float,
    sx: FloatArray,
    sy: FloatArray,
    frame: Frame,
    start: IntArray,
    order: IntArray,
    found: IntArray,
    found_d2: FloatArray,
) -> int:  # pragma: no cover - compiled
    """The sites within sqrt(r2) of a point, into `found` (and their squared distances
    into `found_d2`), in the order of the cells; returns how many."""
    rows = frame[4]
    n = 0
    gx0, gx1, gy0, gy1 = around(px, py, frame)
    for gx in range(gx0, gx1):
        for gy in range(gy0, gy1):
            c = gx * rows + gy
            for k in range(start[c], start[c + 1]):
                s = order[k]
                dx = sx[s] - px
                dy = sy[s] - py
                d2 = dx * dx + dy * dy
                if d2 <= r2:
                    found[n] = s
                    found_d2[n] = d2
                    n += 1
    return n


@njit(cache=True, nogil=True)
def _sums(
    x: FloatArray,
    y: FloatArray,
    strength: IntArray,
    mine: BoolArray,
    sx: FloatArray,
    sy: FloatArray,
    radius: float,
    frame: Frame,
    start: IntArray,
    order: IntArray,
) -> tuple[IntArray, IntArray]:  # pragma: no cover - compiled
    own = np.zeros(sx.shape[0], np.int64)
    other = np.zeros(sx.shape[0], np.int64)
    found = np.empty(sx.shape[0], np.int64)
    found_d2 = np.empty(sx.shape[0])
    for i in range(x.shape[0]):
        n = _near(x[i], y[i], radius * radius, sx, sy, frame, start, order, found, found_d2)
        sums = own if mine[i] else other
        for j in range(n):
            sums[found[j]] += strength[i]
    return own, other


@njit(cache=True, nogil=True)
def _nearest(
    x: FloatArray,
    y: FloatArray,
    sx: FloatArray,
    sy: FloatArray,
    radius: float,
    frame: Frame,
    start: IntArray,
    order: IntArray,
) -> FloatArray:  # pragma: no cover - compiled
    out = np.full(x.shape[0], np.inf)
    found = np.empty(sx.shape[0], np.int64)
    found_d2 = np.empty(sx.shape[0])
    for i in range(x.shape[0]):
        n = _near(x[i], y[i], radius * radius, sx, sy, frame, start, order, found, found_d2)
        if n:
            out[i] = np.sqrt(found_d2[:n].min())
    return out


@njit(cache=True, nogil=True)
def _pairs(
    x: FloatArray,
    y: FloatArray,
    radius: FloatArray,
    sx: FloatArray,
    sy: FloatArray,
    frame: Frame,
    start: IntArray,
    order: IntArray,
) -> tuple[IntArray, IntArray]:  # pragma: no cover - compiled
    point = np.empty(16, np.int64)
    site = np.empty(16, np.int64)
    found = np.empty(sx.shape[0], np.int64)
    found_d2 = np.empty(sx.shape[0])
    m = 0
    for i in range(x.shape[0]):
        n = _near(x[i], y[i], radius[i] * radius[i], sx, sy, frame, start, order, found, found_d2)
        while m + n > point.shape[0]:
            point = np.concatenate((point, np.empty(point.shape[0], np.int64)))
            site = np.concatenate((site, np.empty(site.shape[0], np.int64)))
        # A point's sites in ascending order.
        point[m : m + n] = i
        site[m : m + n] = np.sort(found[:n])
        m += n
    return point[:m].copy(), site[:m].copy()


def warm() -> None:
    """Compile the searches, or load them from numba's cache, if this process has not."""
    if not (_sums.signatures and _nearest.signatures and _pairs.signatures):
        grid = SiteGrid.build(np.zeros(1), np.zeros(1), 1.0)
        grid.sums(np.zeros(1), np.zeros(1), np.ones(1, dtype=np.int64), np.ones(1, dtype=bool))
        grid.nearest(np.zeros(1), np.zeros(1))
        grid.pairs(np.zeros(1), np.zeros(1), np.ones(1))
