"""Square cells over the theatre with things binned by cell, for the compiled searches.

Cells are at least `reach` wide, so whatever lies within `reach` of a point lies in the
three by three cells around the point's own: a search looks there and nowhere else.
Sites are binned by the cell they stand in (`of_points`), a line's segments in every
cell their bounding box meets (`of_segments`). A point's cell is found by the same
division and floor when binning and when searching, so that the two always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

Frame = tuple[float, float, float, int, int]
"""(x0, y0, width, columns, rows): the grid's corner, cell width and size."""

# Cells along the wider side at most: a short reach over a wide theatre widens the cells
# (any width of at least the reach finds everything within it).
_MAX_CELLS = 1024
# Cells a hair wider than the reach: two points within it are then less than one cell
# apart in computed cell units, whatever the rounding, so never two cells apart.
_SLACK = 1.0 + 1e-9


@dataclass(frozen=True)
class Cells:
    """What is binned where: the things in cell c (column * rows + row) are
    `order[start[c]:start[c + 1]]`."""

    reach: float
    frame: Frame
    start: IntArray
    order: IntArray

    @classmethod
    def of_points(cls, x: FloatArray, y: FloatArray, reach: float) -> Cells:
        """Point i in the cell it stands in."""
        frame = _frame(x, y, reach)
        ix, iy = _cell(x, y, frame)
        return cls._binned(reach, frame, ix * frame[4] + iy, np.arange(x.shape[0]))

    @classmethod
    def of_segments(cls, vx: FloatArray, vy: FloatArray, reach: float) -> Cells:
        """Segment k (vertex k to vertex k + 1) in every cell its bounding box meets."""
        frame = _frame(vx, vy, reach)
        ix, iy = _cell(vx, vy, frame)
        rows = frame[4]
        cells: list[int] = []
        segments: list[int] = []
        for k in range(vx.shape[0] - 1):
            x_lo, x_hi = sorted((int(ix[k]), int(ix[k + 1])))
            y_lo, y_hi = sorted((int(iy[k]), int(iy[k + 1])))
            for gx in range(x_lo, x_hi + 1):
                for gy in range(y_lo, y_hi + 1):
                    cells.append(gx * rows + gy)
                    segments.append(k)
        return cls._binned(
            reach, frame, np.array(cells, dtype=np.int64), np.array(segments, dtype=np.int64)
        )

    @classmethod
    def _binned(cls, reach: float, frame: Frame, cell: IntArray, item: IntArray) -> Cells:
        by_cell = np.argsort(cell, kind="stable")
        start = np.searchsorted(cell[by_cell], np.arange(frame[3] * frame[4] + 1))
        return cls(
            float(reach),
            frame,
            start.astype(np.int64),
            np.ascontiguousarray(item[by_cell], dtype=np.int64),
        )


def _frame(x: FloatArray, y: FloatArray, reach: float) -> Frame:
    if not x.shape[0]:
        raise ValueError("cells need at least one point to bin")
    x0, y0 = float(x.min()), float(y.min())
    extent = max(float(x.max()) - x0, float(y.max()) - y0)
    width = max(reach * _SLACK, extent / _MAX_CELLS, 1.0)
    columns = int(np.floor((float(x.max()) - x0) / width)) + 1
    rows = int(np.floor((float(y.max()) - y0) / width)) + 1
    return x0, y0, width, columns, rows


def _cell(x: FloatArray, y: FloatArray, frame: Frame) -> tuple[IntArray, IntArray]:
    x0, y0, width = frame[0], frame[1], frame[2]
    ix = np.floor((x - x0) / width).astype(np.int64)
    iy = np.floor((y - y0) / width).astype(np.int64)
    return ix, iy


@njit(cache=True, nogil=True, inline="always")
def around(px: float, py: float, frame: Frame) -> tuple[int, int, int, int]:  # pragma: no cover
    """The columns and rows (from, to, the latter excluded) of the three by three cells
    around a point, clipped to the grid; none for a point beyond a cell of its edge."""
    x0, y0, width, columns, rows = frame
    fx = (px - x0) / width
    fy = (py - y0) / width
    if not (-1.0 <= fx < columns + 1.0 and -1.0 <= fy < rows + 1.0):
        return 0, 0, 0, 0
    cx = int(np.floor(fx))
    cy = int(np.floor(fy))
    return max(cx - 1, 0), min(cx + 2, columns), max(cy - 1, 0), min(cy + 2, rows)
