"""The compiled ring test against shapely's, and a line's areas through it."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deconfliction.rings import BOUNDARY, EXTERIOR, INTERIOR, Ring

coordinate = st.floats(-1e5, 1e5, allow_nan=False, allow_infinity=False).map(lambda v: round(v))


def shapely_location(polygon: shapely.Polygon, x: np.ndarray, y: np.ndarray) -> list[int]:
    inside = shapely.contains_xy(polygon, x, y)
    touching = shapely.intersects_xy(polygon, x, y) & ~inside
    return np.where(inside, INTERIOR, np.where(touching, BOUNDARY, EXTERIOR)).tolist()


def test_a_square_with_points_inside_outside_on_edges_and_corners() -> None:
    ring = Ring.build(np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]]))
    x = np.array([2.0, 5.0, 4.0, 2.0, 0.0, 4.0, -1.0, 2.0, 2.0])
    y = np.array([2.0, 2.0, 2.0, 0.0, 4.0, 4.0, 4.0, 4.0001, 5.0])
    assert ring.locate(x, y).tolist() == [
        INTERIOR,
        EXTERIOR,
        BOUNDARY,
        BOUNDARY,
        BOUNDARY,
        BOUNDARY,
        EXTERIOR,
        EXTERIOR,
        EXTERIOR,
    ]
    assert [ring.locate_one(a, b) for a, b in zip(x, y, strict=True)] == ring.locate(x, y).tolist()


def test_a_ring_must_close() -> None:
    with pytest.raises(ValueError, match="close on its first"):
        Ring.build(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))


@settings(max_examples=200, deadline=None)
@given(
    vertices=st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=40, unique=True),
    points=st.lists(st.tuples(coordinate, coordinate), max_size=80),
    use_vertices=st.booleans(),
)
def test_locations_are_shapelys(
    vertices: list[tuple[float, float]], points: list[tuple[float, float]], use_vertices: bool
) -> None:
    # Around their centre by angle: a star-shaped ring, simple unless points coincide.
    v = np.array(vertices, dtype=np.float64)
    centre = v.mean(axis=0)
    v = v[np.argsort(np.arctan2(v[:, 1] - centre[1], v[:, 0] - centre[0]))]
    polygon = shapely.Polygon(v)
    assume(polygon.is_valid and polygon.area > 0)
    coords = np.asarray(polygon.exterior.coords)
    p = np.array(points, dtype=np.float64).reshape(-1, 2)
    if use_vertices:
        # Vertices and edge midpoints: on the boundary exactly (integers halve exactly).
        mid = (coords[:-1] + coords[1:]) / 2.0
        p = np.vstack([p, coords, mid])
    got = Ring.build(coords).locate(p[:, 0], p[:, 1])
    assert got.tolist() == shapely_location(polygon, p[:, 0], p[:, 1])
