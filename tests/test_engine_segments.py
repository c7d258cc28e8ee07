"""The compiled point-to-path distances give shapely's figures."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deconfliction.segments import path_distances

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
