"""The compiled distances and crossings against a polyline give shapely's figures."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deconfliction.segments import SegmentGrid, first_crossing, path_distances

# Theatre metres to the millimetre: no segment so short that its squared length underflows.
coordinate = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))


def test_a_point_beside_a_segment_and_beyond_its_ends() -> None:
    vx, vy = np.array([0.0, 10.0, 10.0]), np.array([0.0, 0.0, 10.0])
    x = np.array([5.0, -3.0, 14.0, 10.0, 13.0])
    y = np.array([2.0, -4.0, 5.0, 20.0, 14.0])
    assert path_distances(x, y, vx, vy).tolist() == [2.0, 5.0, 4.0, 10.0, 5.0]


def test_repeated_vertices_and_a_single_vertex() -> None:
    vx, vy = np.array([1.0, 1.0, 4.0]), np.array([1.0, 1.0, 5.0])
    assert path_distances(np.array([1.0]), np.array([-2.0]), vx, vy).tolist() == [3.0]
    one = path_distances(np.array([3.0]), np.array([4.0]), np.zeros(1), np.zeros(1))
    assert one.tolist() == [5.0]
    assert path_distances(np.array([3.0]), np.array([4.0]), np.zeros(0), np.zeros(0))[0] == np.inf


@settings(max_examples=100, deadline=None)
@given(
    vertices=st.lists(st.tuples(coordinate, coordinate), min_size=2, max_size=30),
    points=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=30),
)
def test_distances_are_shapelys(
    vertices: list[tuple[float, float]], points: list[tuple[float, float]]
) -> None:
    # GEOS gives no distance to a path of one repeated point; a line never is one.
    assume(len(set(vertices)) >= 2)
    v = np.array(vertices)
    p = np.array(points)
    got = path_distances(p[:, 0], p[:, 1], v[:, 0], v[:, 1])
    want = shapely.distance(shapely.LineString(v), shapely.points(p))
    assert got.tolist() == want.tolist()


def reference_crossing(
    x0: float, y0: float, x1: float, y1: float, v: np.ndarray
) -> tuple[float, float, float] | None:
    """The first meeting by shapely: the intersection's point nearest the start."""
    move = shapely.LineString([(x0, y0), (x1, y1)])
    hit = move.intersection(shapely.LineString(v))
    if hit.is_empty:
        return None
    points = shapely.get_coordinates(hit)
    d = np.hypot(points[:, 0] - x0, points[:, 1] - y0)
    best = points[int(np.argmin(d))]
    return float(best[0]), float(best[1]), float(d.min() / move.length)


def test_a_move_across_a_zigzag_meets_its_first_segment() -> None:
    v = np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 0.0], [30.0, 10.0]])
    hit = first_crossing(0.0, 5.0, 30.0, 5.0, v[:, 0], v[:, 1])
    assert hit == (5.0, 5.0, 5.0 / 30.0)
    assert first_crossing(0.0, 20.0, 30.0, 20.0, v[:, 0], v[:, 1]) is None
    assert first_crossing(3.0, 3.0, 3.0, 3.0, v[:, 0], v[:, 1]) is None


@pytest.mark.parametrize(
    ("vertices", "move"),
    [
        ([(0.5, 0.6), (0.0, -0.2), (0.1, 0.5)], (0.4, 0.7, -0.4, -1.1)),
        ([(-0.5, 0.5), (0.9, -1.0), (-0.8, -0.5)], (1.6, -1.3, 0.2, -0.7)),
    ],
)
def test_a_move_through_a_vertex_meets_it(
    vertices: list[tuple[float, float]], move: tuple[float, float, float, float]
) -> None:
    # Decimals are not exact in binary: these moves meet the segments either side of the
    # vertex a rounding error outside their ends, and shapely still finds the vertex.
    v = np.array(vertices)
    hit = first_crossing(*move, v[:, 0], v[:, 1])
    want = reference_crossing(*move, v)
    assert hit is not None and want is not None
    assert hit == pytest.approx(want, abs=1e-12)
    assert (hit[0], hit[1]) == pytest.approx(vertices[1], abs=1e-12)


def test_a_move_ending_where_a_long_segment_ends_meets_it_there() -> None:
    # Parameters computed from these figures land a few ulps past 1; the orientation of
    # the move's end against the segment is exactly zero.
    v = np.array([[27895.0, 2.938], [0.0, 0.0]])
    assert first_crossing(1.0, 0.0, 0.0, 0.0, v[:, 0], v[:, 1]) == (0.0, 0.0, 1.0)
    assert reference_crossing(1.0, 0.0, 0.0, 0.0, v) == (0.0, 0.0, 1.0)


def test_a_move_along_a_segment_meets_it_where_they_first_overlap() -> None:
    v = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])
    assert first_crossing(-5.0, 0.0, 5.0, 0.0, v[:, 0], v[:, 1]) == (0.0, 0.0, 0.5)
    assert first_crossing(5.0, 0.0, 15.0, 0.0, v[:, 0], v[:, 1]) == (5.0, 0.0, 0.0)
    assert first_crossing(11.0, 0.0, 15.0, 0.0, v[:, 0], v[:, 1]) is None
    # Down a vertical run of two segments, from above its top.
    w = np.array([[0.4, 0.7], [0.4, 0.2], [0.4, 0.0]])
    hit = first_crossing(0.4, 1.0, 0.4, -0.6, w[:, 0], w[:, 1])
    assert hit is not None and hit[:2] == pytest.approx((0.4, 0.7))


@settings(max_examples=200, deadline=None)
@given(
    vertices=st.lists(st.tuples(coordinate, coordinate), min_size=2, max_size=20, unique=True),
    move=st.tuples(coordinate, coordinate, coordinate, coordinate),
)
def test_crossings_are_shapelys(
    vertices: list[tuple[float, float]], move: tuple[float, float, float, float]
) -> None:
    v = np.array(vertices)
    x0, y0, x1, y1 = move
    assume((x0, y0) != (x1, y1))
    got = first_crossing(x0, y0, x1, y1, v[:, 0], v[:, 1])
    want = reference_crossing(x0, y0, x1, y1, v)
    if want is None:
        assert got is None
        return
    assert got is not None
    scale = max(abs(x1 - x0), abs(y1 - y0))
    assert got[0] == pytest.approx(want[0], abs=1e-9 * scale + 1e-9)
    assert got[1] == pytest.approx(want[1], abs=1e-9 * scale + 1e-9)
    assert got[2] == pytest.approx(want[2], abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    vertices=st.lists(st.tuples(coordinate, coordinate), min_size=2, max_size=30, unique=True),
    points=st.lists(st.tuples(coordinate, coordinate), max_size=60),
    distance=st.one_of(st.sampled_from([0.0, 1.0, 5000.0, 20000.0]), st.floats(0.0, 5e5)),
    snap=st.sampled_from([0.0, 1000.0]),
)
def test_nearness_is_shapelys(
    vertices: list[tuple[float, float]],
    points: list[tuple[float, float]],
    distance: float,
    snap: float,
) -> None:
    v = np.array(vertices)
    p = np.array(points).reshape(-1, 2)
    if snap:
        # On a grid, points sit exactly on vertices or exactly the distance away.
        v, p = np.round(v / snap) * snap, np.round(p / snap) * snap
        assume(len({tuple(r) for r in v.tolist()}) >= 2)
    grid = SegmentGrid.build(v[:, 0], v[:, 1], distance)
    got = grid.within(p[:, 0], p[:, 1], distance)
    want = shapely.dwithin(shapely.LineString(v), shapely.points(p), distance)
    assert got.tolist() == np.asarray(want, dtype=bool).tolist()
    assert [grid.within_one(a, b, distance) for a, b in p.tolist()] == got.tolist()


def test_a_grid_answers_only_within_its_reach() -> None:
    grid = SegmentGrid.build(np.array([0.0, 10.0]), np.array([0.0, 0.0]), 5.0)
    assert grid.within(np.array([5.0, 5.0]), np.array([5.0, 5.1]), 5.0).tolist() == [True, False]
    with pytest.raises(ValueError, match="beyond the grid's reach"):
        grid.within(np.zeros(1), np.zeros(1), 6.0)
