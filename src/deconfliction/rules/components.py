"""Points chained within eps of each other: DBSCAN's clusters when min_samples is 1.

With min_samples 1 every point is a core point, so the clusters are exactly the connected
components of the graph joining points at most eps apart. They are found on a grid whose
cells are just under eps / sqrt(2) wide: all the points of one cell are within eps of
each other and form one node, and a pair of points within eps lies in cells at most two
apart on each axis. Two cells are joined at the first pair of their points found within
eps, and not searched at all once they are joined already, so a dense formation costs
about one distance per cell rather than one per pair of its units.

The search is compiled by numba on first use and cached beside this module.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# A cell's diagonal stays this far short of eps, whatever the rounding of its width.
_SHRINK = 1.0 - 1e-9
# Cells are padded by two on every side, so that no neighbour's key wraps onto another
# column or bloc.
_PAD = 2
_KEY_LIMIT = 2**62


def components(x: FloatArray, y: FloatArray, group: IntArray, eps: float) -> IntArray:
    """A component label (0, 1, ...) for each point; points of different groups never
    share one."""
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not eps > 0.0:
        raise ValueError(f"eps must be positive, not {eps}")
    width = eps / math.sqrt(2.0) * _SHRINK
    ix = ((x - x.min()) // width).astype(np.int64) + _PAD
    iy = ((y - y.min()) // width).astype(np.int64) + _PAD
    rows = int(iy.max()) + _PAD + 1
    columns = int(ix.max()) + _PAD + 1
    groups = int(group.max()) + 1
    if groups * columns * rows < _KEY_LIMIT:
        return _labelled(((group * columns + ix) * rows + iy), x, y, eps, rows)
    # A theatre too wide for every group's cells to share one key space: group by group.
    labels = np.empty(n, dtype=np.int64)
    offset = 0
    for g in np.unique(group).tolist():
        rows_of = np.flatnonzero(group == g)
        found = _labelled(ix[rows_of] * rows + iy[rows_of], x[rows_of], y[rows_of], eps, rows)
        labels[rows_of] = found + offset
        offset += int(found.max()) + 1
    return labels


def warm() -> None:
    """Compile the search, or load it from numba's cache, if this process has not yet.

    An engine calls this when it is built, so that its first evaluation (a service's
    first report) does not wait the second or so compiling takes.
    """
    if not _label.signatures:
        components(np.zeros(2), np.zeros(2), np.zeros(2, dtype=np.int64), 1.0)


def _labelled(cell: IntArray, x: FloatArray, y: FloatArray, eps: float, rows: int) -> IntArray:
    order = np.argsort(cell)
    found = _label(cell[order], x[order], y[order], float(eps), rows)
    labels = np.empty(cell.shape[0], dtype=np.int64)
    labels[order] = found
    return labels


@njit(cache=True, nogil=True)
def _find(parent: IntArray, i: int) -> int:  # pragma: no cover - compiled
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        following = parent[i]
        parent[i] = root
        i = following
    return root


@njit(cache=True, nogil=True)
def _label(
    cell: IntArray, x: FloatArray, y: FloatArray, eps: float, rows: int
) -> IntArray:  # pragma: no cover - compiled
    """Labels for points sorted by cell key (column * rows + row)."""
    n = cell.shape[0]
    eps2 = eps * eps
    starts = np.empty(n + 1, np.int64)
    keys = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if i == 0 or cell[i] != cell[i - 1]:
            starts[m] = i
            keys[m] = cell[i]
            m += 1
    starts[m] = n
    parent = np.arange(m)
    for c in range(m):
        k = keys[c]
        s, e = starts[c], starts[c + 1]
        # The later half of the 5 x 5 neighbourhood, in key order: the rest of this
        # column, then the next two columns. Each search starts where the last ended.
        lo = c + 1
        for dx in range(3):
            for dy in range(-2, 3):
                if dx == 0 and dy <= 0:
                    continue
                target = k + dx * rows + dy
                hi = m
                while lo < hi:
                    mid = (lo + hi) // 2
                    if keys[mid] < target:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo == m:
                    break
                if keys[lo] != target:
                    continue
                a = _find(parent, c)
                b = _find(parent, lo)
                if a == b:
                    continue
                ts, te = starts[lo], starts[lo + 1]
                joined = False
                for i in range(s, e):
                    xi, yi = x[i], y[i]
                    for j in range(ts, te):
                        ddx = x[j] - xi
                        ddy = y[j] - yi
                        if ddx * ddx + ddy * ddy <= eps2:
                            joined = True
                            break
                    if joined:
                        break
                if joined:
                    if a < b:
                        parent[b] = a
                    else:
                        parent[a] = b
            if lo == m:
                break
    labels = np.empty(n, np.int64)
    label_of = np.full(m, -1, np.int64)
    count = 0
    for c in range(m):
        root = _find(parent, c)
        if label_of[root] < 0:
            label_of[root] = count
            count += 1
        for i in range(starts[c], starts[c + 1]):
            labels[i] = label_of[root]
    return labels
