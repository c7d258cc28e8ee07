"""The eps-chained components behind `force.massing`, against scikit-learn's DBSCAN."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from deconfliction.model import Settings
from deconfliction.rules import components as module
from deconfliction.rules.components import components


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
    labels = components(x, y, np.zeros(5, dtype=np.int64), 1000.0)
    assert partition(labels) == [(0, 1, 2, 3), (4,)]
    assert sorted(set(labels.tolist())) == [0, 1]


def test_points_exactly_eps_apart_are_joined_and_a_hair_more_are_not() -> None:
    eps = 5000.0
    x = np.array([0.0, eps, 3 * eps, 4 * eps + 1e-6])
    y = np.zeros(4)
    assert partition(components(x, y, np.zeros(4, dtype=np.int64), eps)) == [(0, 1), (2,), (3,)]
    # On a diagonal, two cells apart on each axis: exactly eps joins.
    d = eps / math.sqrt(2.0)
    labels = components(np.array([0.0, d]), np.array([0.0, d]), np.zeros(2, np.int64), eps)
    assert partition(labels) == [(0, 1)]


def test_a_cell_holds_no_two_points_further_apart_than_eps() -> None:
    eps = 5000.0
    side = eps / math.sqrt(2.0)
    for over in (1.0004, 1.0 + 1e-7):
        x = np.array([0.0, side * over])
        labels = components(x, x.copy(), np.zeros(2, np.int64), eps)
        assert partition(labels) == [(0,), (1,)], over


@pytest.mark.parametrize("dx", range(-3, 4))
@pytest.mark.parametrize("dy", range(-3, 4))
def test_each_neighbouring_cell_is_searched(dx: int, dy: int) -> None:
    """A pair in cells (dx, dy) apart, at their nearest corners, with nothing between."""
    eps = 1000.0
    side = eps / math.sqrt(2.0) * module._SHRINK
    # An anchor of another group fixes the grid's origin at (0, 0).
    ax, ay = 10 * side, 10 * side
    bx = ax + dx * side
    by = ay + dy * side
    # Each point just inside the corner of its cell that faces the other.
    inset = 1e-3
    a = (ax + (side - inset if dx > 0 else inset), ay + (side - inset if dy > 0 else inset))
    b = (bx + (inset if dx > 0 else side - inset), by + (inset if dy > 0 else side - inset))
    x = np.array([0.0, a[0], b[0]])
    y = np.array([0.0, a[1], b[1]])
    group = np.array([1, 0, 0])
    labels = components(x, y, group, eps)
    assert partition(labels) == partition(reference(x, y, group, eps))
    if max(abs(dx), abs(dy)) <= 2 and (abs(dx), abs(dy)) != (2, 2):
        assert labels[1] == labels[2]


def test_groups_never_share_a_component() -> None:
    x = np.array([0.0, 10.0, 20.0, 30.0])
    y = np.zeros(4)
    group = np.array([0, 1, 0, 1])
    assert partition(components(x, y, group, 100.0)) == [(0, 2), (1, 3)]


def test_empty_and_single_points() -> None:
    assert components(np.zeros(0), np.zeros(0), np.zeros(0, np.int64), 1.0).shape == (0,)
    labels = components(np.array([5.0]), np.array([-3.0]), np.array([2]), 1.0)
    assert labels.tolist() == [0]


def test_a_wide_theatre_is_searched_group_by_group(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-5e4, 5e4, 300), rng.uniform(-5e4, 5e4, 300)
    group = rng.integers(0, 3, 300)
    whole = components(x, y, group, 4000.0)
    monkeypatch.setattr(module, "_KEY_LIMIT", 1)
    assert partition(components(x, y, group, 4000.0)) == partition(whole)
    assert partition(whole) == partition(reference(x, y, group, 4000.0))


def test_eps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="eps must be positive"):
        components(np.zeros(2), np.zeros(2), np.zeros(2, np.int64), 0.0)


def test_settings_refuse_a_massing_distance_under_a_metre() -> None:
    with pytest.raises(ValueError, match="massing_eps_m"):
        Settings(massing_eps_m=0.5)
    assert Settings(massing_eps_m=1.0).massing_eps_m == 1.0


coordinate = st.floats(-2e5, 2e5, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    points=st.lists(st.tuples(coordinate, coordinate, st.integers(0, 3)), max_size=120),
    eps=st.one_of(st.floats(1.0, 5e4), st.sampled_from([250.0, 1000.0, 2000.0, 5000.0])),
    grid=st.sampled_from([0.0, 250.0, 1000.0]),
)
def test_components_are_dbscans_clusters(
    points: list[tuple[float, float, int]], eps: float, grid: float
) -> None:
    # Snapping to a grid makes ties at exactly eps and on cell edges common.
    x = np.array([p[0] for p in points], dtype=np.float64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    if grid:
        x, y = np.round(x / grid) * grid, np.round(y / grid) * grid
    group = np.array([p[2] for p in points], dtype=np.int64)
    labels = components(x, y, group, eps)
    assert partition(labels) == partition(reference(x, y, group, eps))
    if labels.size:
        assert sorted(set(labels.tolist())) == list(range(int(labels.max()) + 1))


def test_dense_formations_match_dbscan() -> None:
    rng = np.random.default_rng(11)
    centres = rng.uniform(0, 3e5, (40, 2))
    pts = np.concatenate([c + rng.normal(0, 3000, (150, 2)) for c in centres])
    group = rng.integers(0, 4, pts.shape[0])
    labels = components(pts[:, 0], pts[:, 1], group, 5000.0)
    assert partition(labels) == partition(reference(pts[:, 0], pts[:, 1], group, 5000.0))


def test_an_engine_is_built_with_its_kernels_compiled() -> None:
    """A fresh process: building an engine readies every compiled search before any
    report, so that its first evaluation does not wait for them."""
    code = (
        "from deconfliction import rings, segments\n"
        "from deconfliction.engine import Engine\n"
        "from deconfliction.model import Party\n"
        "from deconfliction.rules import components, massing, sums\n"
        "kernels = [components._label, sums._sums, sums._nearest, segments._distances,\n"
        "    segments._within, segments._first_crossing, massing._assign,\n"
        "    massing._nearest_sites, rings._locate, rings._locate_one, segments._within_point,\n"
        "    sums._pairs]\n"
        "ready = lambda: [bool(k.signatures) for k in kernels]\n"
        "before = ready()\n"
        "Engine([Party(id='a', name='A'), Party(id='b', name='B')], [], [], [], [])\n"
        "print(*before, *ready())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"] * 12 + ["True"] * 12
