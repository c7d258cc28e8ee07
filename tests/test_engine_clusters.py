"""The clusters behind `force.massing` (DBSCAN with min_samples 1, per bloc), against
scikit-learn's DBSCAN, and the compiled matching an engine readies."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from deconfliction.rules.massing import clusters


def partition(labels: np.ndarray) -> list[tuple[int, ...]]:
    """The groups of point indices a labelling makes, whatever its numbering."""
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(i)
    return sorted(tuple(g) for g in groups.values())


def reference(x: np.ndarray, y: np.ndarray, group: np.ndarray, eps: float) -> np.ndarray:
    labels = np.empty(x.shape[0], dtype=np.int64)
    offset = 0
    for g in np.unique(group).tolist():
        rows = np.flatnonzero(group == g)
        found = DBSCAN(eps=eps, min_samples=1).fit(np.column_stack([x[rows], y[rows]])).labels_
        labels[rows] = found + offset
        offset += int(found.max()) + 1
    return labels


def test_a_chain_joins_points_further_apart_than_eps() -> None:
    x = np.array([0.0, 900.0, 1800.0, 2700.0, 10_000.0])
    y = np.zeros(5)
    labels = clusters(x, y, np.zeros(5, dtype=np.int64), 1000.0)
    assert partition(labels) == [(0, 1, 2, 3), (4,)]
    assert sorted(set(labels.tolist())) == [0, 1]


def test_points_exactly_eps_apart_are_joined_and_a_hair_more_are_not() -> None:
    eps = 5000.0
    x = np.array([0.0, eps, 3 * eps, 4 * eps + 1e-6])
    y = np.zeros(4)
    assert partition(clusters(x, y, np.zeros(4, dtype=np.int64), eps)) == [(0, 1), (2,), (3,)]
    # On a diagonal, two cells apart on each axis: exactly eps joins.
    d = eps / math.sqrt(2.0)
    labels = clusters(np.array([0.0, d]), np.array([0.0, d]), np.zeros(2, np.int64), eps)
    assert partition(labels) == [(0, 1)]


def test_groups_never_share_a_component() -> None:
    x = np.array([0.0, 10.0, 20.0, 30.0])
    y = np.zeros(4)
    group = np.array([0, 1, 0, 1])
    assert partition(clusters(x, y, group, 100.0)) == [(0, 2), (1, 3)]


def test_empty_and_single_points() -> None:
    assert clusters(np.zeros(0), np.zeros(0), np.zeros(0, np.int64), 1.0).shape == (0,)
    labels = clusters(np.array([5.0]), np.array([-3.0]), np.array([2]), 1.0)
    assert labels.tolist() == [0]


coordinate = st.floats(-2e5, 2e5, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    points=st.lists(st.tuples(coordinate, coordinate, st.integers(0, 3)), max_size=120),
    eps=st.one_of(st.floats(1.0, 5e4), st.sampled_from([250.0, 1000.0, 2000.0, 5000.0])),
    grid=st.sampled_from([0.0, 250.0, 1000.0]),
)
def test_clusters_are_dbscans(
    points: list[tuple[float, float, int]], eps: float, grid: float
) -> None:
    # Snapping to a grid makes ties at exactly eps and on cell edges common.
    x = np.array([p[0] for p in points], dtype=np.float64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    if grid:
        x, y = np.round(x / grid) * grid, np.round(y / grid) * grid
    group = np.array([p[2] for p in points], dtype=np.int64)
    labels = clusters(x, y, group, eps)
    assert partition(labels) == partition(reference(x, y, group, eps))
    if labels.size:
        assert sorted(set(labels.tolist())) == list(range(int(labels.max()) + 1))


def test_dense_formations_match_dbscan() -> None:
    rng = np.random.default_rng(11)
    centres = rng.uniform(0, 3e5, (40, 2))
    pts = np.concatenate([c + rng.normal(0, 3000, (150, 2)) for c in centres])
    group = rng.integers(0, 4, pts.shape[0])
    labels = clusters(pts[:, 0], pts[:, 1], group, 5000.0)
    assert partition(labels) == partition(reference(pts[:, 0], pts[:, 1], group, 5000.0))


def test_an_engine_is_built_with_its_kernels_compiled() -> None:
    """A fresh process: building an engine readies the compiled matching before any
    report, so that its first evaluation does not wait for it."""
    code = (
        "from deconfliction.engine import Engine\n"
        "from deconfliction.model import Party\n"
        "from deconfliction.rules import massing\n"
        "kernels = [massing._assign, massing._nearest_sites]\n"
        "ready = lambda: [bool(k.signatures) for k in kernels]\n"
        "before = ready()\n"
        "Engine([Party(id='a', name='A'), Party(id='b', name='B')], [], [], [], [])\n"
        "print(*before, *ready())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"] * 2 + ["True"] * 2


def test_more_points_than_sixteen_bits_index_chain_the_same_way() -> None:
    # 40,000 points in chains of 100, 900 m apart within a chain and 2 km between chains:
    # beyond 32,767 points the edges are laid out with 32-bit indices.
    n = 40_000
    step = np.where(np.arange(n) % 100 == 0, 2000.0, 900.0)
    x = np.cumsum(step)
    rng = np.random.default_rng(3)
    shuffled = rng.permutation(n)
    labels = clusters(x[shuffled], np.zeros(n), np.zeros(n, dtype=np.int64), 1000.0)
    chain = np.empty(n, dtype=np.int64)
    chain[shuffled] = labels
    assert len(set(labels.tolist())) == n // 100
    assert all(len(set(chain[i : i + 100].tolist())) == 1 for i in range(0, n, 100))
