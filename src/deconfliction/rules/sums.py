"""Sites binned on a grid, for what lies within a radius of them (compiled, numba).

The sites are binned once on a grid whose cells are at least the radius wide, so a unit
need only be compared with the sites of the three by three cells around its own. Two
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

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Cells along the wider side at most: a tiny radius over a wide theatre widens the cells
# (any width of at least the radius finds every site within it).
_MAX_CELLS = 1024


@dataclass(frozen=True)
class SiteGrid:
    """Sites binned by cell: those of cell c are `order[start[c]:start[c + 1]]`."""

    x: FloatArray
    y: FloatArray
    radius: float
    x0: float
    y0: float
    width: float
    columns: int
    rows: int
    start: IntArray
    order: IntArray

    @classmethod
    def build(cls, x: FloatArray, y: FloatArray, radius: float) -> SiteGrid:
        if not x.shape[0]:
            raise ValueError("a site grid needs at least one site")
        x0, y0 = float(x.min()), float(y.min())
        extent = max(float(x.max()) - x0, float(y.max()) - y0)
        width = max(radius, extent / _MAX_CELLS, 1.0)
        ix = ((x - x0) // width).astype(np.int64)
        iy = ((y - y0) // width).astype(np.int64)
        columns, rows = int(ix.max()) + 1, int(iy.max()) + 1
        cell = ix * rows + iy
        order = np.argsort(cell, kind="stable").astype(np.int64)
        start = np.searchsorted(cell[order], np.arange(columns * rows + 1)).astype(np.int64)
        return cls(
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            float(radius),
            x0,
            y0,
            width,
            columns,
            rows,
            start,
            order,
        )

    def sums(
        self, x: FloatArray, y: FloatArray, strength: IntArray, mine: BoolArray
    ) -> tuple[IntArray, IntArray]:
        """(own, other): the strength of the points within the radius of each site,
        split by `mine`."""
        own: IntArray
        other: IntArray
        own, other = _sums(
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            np.ascontiguousarray(strength, dtype=np.int64),
            np.ascontiguousarray(mine, dtype=np.bool_),
            self.x,
            self.y,
            self.radius,
            self.x0,
            self.y0,
            self.width,
            self.columns,
            self.rows,
            self.start,
            self.order,
        )
        return own, other

    def nearest(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Metres from each point to its nearest site, or inf where none is within the
        radius."""
        out: FloatArray = _nearest(
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            self.x,
            self.y,
            self.radius,
            self.x0,
            self.y0,
            self.width,
            self.columns,
            self.rows,
            self.start,
            self.order,
        )
        return out

    def pairs(self, x: FloatArray, y: FloatArray, radius: FloatArray) -> tuple[IntArray, IntArray]:
        """(point, site) for every site within its point's radius (at most the grid's),
        by point, then site."""
        if x.shape[0] and float(radius.max()) > self.radius:
            raise ValueError(f"a radius beyond the grid's {self.radius}")
        point: IntArray
        site: IntArray
        point, site = _pairs(
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            np.ascontiguousarray(radius, dtype=np.float64),
            self.x,
            self.y,
            self.x0,
            self.y0,
            self.width,
            self.columns,
            self.rows,
            self.start,
            self.order,
        )
        return point, site


@njit(cache=True, nogil=True)
def _pairs(
    x: FloatArray,
    y: FloatArray,
    radius: FloatArray,
    sx: FloatArray,
    sy: FloatArray,
    x0: float,
    y0: float,
    width: float,
    columns: int,
    rows: int,
    start: IntArray,
    order: IntArray,
) -> tuple[IntArray, IntArray]:  # pragma: no cover - compiled
    n = x.shape[0]
    point = np.empty(16, np.int64)
    site = np.empty(16, np.int64)
    m = 0
    for i in range(n):
        fx = (x[i] - x0) / width
        fy = (y[i] - y0) / width
        if not (-1.0 <= fx < columns + 1.0 and -1.0 <= fy < rows + 1.0):
            continue
        cx = int(np.floor(fx))
        cy = int(np.floor(fy))
        r2 = radius[i] * radius[i]
        first = m
        for gx in range(max(cx - 1, 0), min(cx + 2, columns)):
            for gy in range(max(cy - 1, 0), min(cy + 2, rows)):
                c = gx * rows + gy
                for k in range(start[c], start[c + 1]):
                    s = order[k]
                    dx = sx[s] - x[i]
                    dy = sy[s] - y[i]
                    if dx * dx + dy * dy <= r2:
                        if m == point.shape[0]:
                            point = np.concatenate((point, np.empty(m, np.int64)))
                            site = np.concatenate((site, np.empty(m, np.int64)))
                        point[m] = i
                        site[m] = s
                        m += 1
        # A point's sites in ascending order (a handful: insertion sort).
        for a in range(first + 1, m):
            value = site[a]
            b = a - 1
            while b >= first and site[b] > value:
                site[b + 1] = site[b]
                b -= 1
            site[b + 1] = value
    return point[:m].copy(), site[:m].copy()


@njit(cache=True, nogil=True)
def _nearest(
    x: FloatArray,
    y: FloatArray,
    sx: FloatArray,
    sy: FloatArray,
    radius: float,
    x0: float,
    y0: float,
    width: float,
    columns: int,
    rows: int,
    start: IntArray,
    order: IntArray,
) -> FloatArray:  # pragma: no cover - compiled
    out = np.full(x.shape[0], np.inf)
    r2 = radius * radius
    for i in range(x.shape[0]):
        fx = (x[i] - x0) / width
        fy = (y[i] - y0) / width
        if fx < -1.0 or fy < -1.0 or fx >= columns + 1.0 or fy >= rows + 1.0:
            continue
        cx = int(np.floor(fx))
        cy = int(np.floor(fy))
        best = np.inf
        for gx in range(max(cx - 1, 0), min(cx + 2, columns)):
            for gy in range(max(cy - 1, 0), min(cy + 2, rows)):
                c = gx * rows + gy
                for k in range(start[c], start[c + 1]):
                    s = order[k]
                    dx = sx[s] - x[i]
                    dy = sy[s] - y[i]
                    d2 = dx * dx + dy * dy
                    if d2 <= r2 and d2 < best:
                        best = d2
        if best < np.inf:
            out[i] = np.sqrt(best)
    return out


@njit(cache=True, nogil=True)
def _sums(
    x: FloatArray,
    y: FloatArray,
    strength: IntArray,
    mine: BoolArray,
    sx: FloatArray,
    sy: FloatArray,
    radius: float,
    x0: float,
    y0: float,
    width: float,
    columns: int,
    rows: int,
    start: IntArray,
    order: IntArray,
) -> tuple[IntArray, IntArray]:  # pragma: no cover - compiled
    n_sites = sx.shape[0]
    own = np.zeros(n_sites, np.int64)
    other = np.zeros(n_sites, np.int64)
    r2 = radius * radius
    for i in range(x.shape[0]):
        fx = (x[i] - x0) / width
        fy = (y[i] - y0) / width
        # Beyond a cell of the grid's edge no site can be within the radius.
        if fx < -1.0 or fy < -1.0 or fx >= columns + 1.0 or fy >= rows + 1.0:
            continue
        cx = int(np.floor(fx))
        cy = int(np.floor(fy))
        for gx in range(max(cx - 1, 0), min(cx + 2, columns)):
            for gy in range(max(cy - 1, 0), min(cy + 2, rows)):
                c = gx * rows + gy
                for k in range(start[c], start[c + 1]):
                    s = order[k]
                    dx = sx[s] - x[i]
                    dy = sy[s] - y[i]
                    if dx * dx + dy * dy <= r2:
                        if mine[i]:
                            own[s] += strength[i]
                        else:
                            other[s] += strength[i]
    return own, other


def warm() -> None:
    """Compile the searches, or load them from numba's cache, if this process has not."""
    if not (_sums.signatures and _nearest.signatures and _pairs.signatures):
        grid = SiteGrid.build(np.zeros(1), np.zeros(1), 1.0)
        grid.sums(np.zeros(1), np.zeros(1), np.ones(1, dtype=np.int64), np.ones(1, dtype=bool))
        grid.nearest(np.zeros(1), np.zeros(1))
        grid.pairs(np.zeros(1), np.zeros(1), np.ones(1))
