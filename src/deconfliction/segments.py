"""Distances from points to a polyline, compiled (numba).

Each point is measured against every segment: the nearest point of a segment is the
point's projection onto it, clamped to its ends. For a line of a few hundred vertices
and the few dozen points an evaluation asks about, that is quicker than building point
geometries for an R-tree search, and it gives shapely's figures to the last digit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


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
            ax, ay, bx, by = vx[k], vy[k], vx[k + 1], vy[k + 1]
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            # The same steps as GEOS's point-to-segment distance, so that the figures
            # agree with shapely's to the last digit.
            r = ((px - ax) * dx + (py - ay) * dy) / length2 if length2 > 0.0 else 0.0
            if r <= 0.0:
                d = math.sqrt((px - ax) ** 2 + (py - ay) ** 2)
            elif r >= 1.0:
                d = math.sqrt((px - bx) ** 2 + (py - by) ** 2)
            else:
                s = ((ay - py) * dx - (ax - px) * dy) / length2
                d = abs(s) * math.sqrt(length2)
            if d < best:
                best = d
        out[i] = best
    return out


def warm() -> None:
    """Compile the search, or load it from numba's cache, if this process has not yet."""
    if not _distances.signatures:
        path_distances(np.zeros(1), np.zeros(1), np.zeros(2), np.ones(2))
