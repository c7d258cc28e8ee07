"""The theatre's projection and how a line splits it (DESIGN section 4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.geo import (
    AREA_LEFT,
    AREA_NONE,
    AREA_RIGHT,
    GeometryError,
    LineGeometry,
    Projection,
    densify,
    utm_epsg,
)
from deconfliction.model import Line


def _geometry(coords: list[tuple[float, float]], margin: float = 200_000.0) -> LineGeometry:
    line = Line(id="l", name="L", left="a", right="b", coordinates=coords)
    return LineGeometry.build(line, Projection.for_theatre(coords), margin, 1000.0)


def _areas(g: LineGeometry, lon: float, lat: float) -> int:
    proj = Projection(utm_epsg(*g.line.coordinates[0]))
    x, y = proj.forward(np.array([lon]), np.array([lat]))
    return int(g.areas(x, y)[0])


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (40.3, 35.3, 32637),
        (3.0, 0.0, 32631),
        (-70.0, -33.5, 32719),
        (179.9, 10.0, 32660),
        (-180.0, -1.0, 32701),
        (151.2, -33.9, 32756),
    ],
)
def test_utm_zone_in_both_hemispheres(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


def test_theatre_zone_is_that_of_the_bounding_box_centre() -> None:
    assert Projection.for_theatre([(38.5, 35.9), (40.9, 34.4)]).epsg == 32637
    assert Projection.for_theatre([(-71.0, -34.0), (-69.0, -33.0)]).epsg == 32719


def test_densified_segment_follows_the_parallel() -> None:
    # 2.5 degrees along lat 35: one straight UTM segment would stray ~700 m.
    coords = [(38.0, 35.0), (40.5, 35.0)]
    pts = densify(coords, 1000.0)
    assert np.allclose(pts[:, 1], 35.0)
    g = _geometry(coords)
    proj = Projection.for_theatre(coords)
    lon = np.linspace(38.0, 40.5, 101)
    x, y = proj.forward(lon, np.full(101, 35.0))
    assert float(g.distance(x, y).max()) < 5.0
    straight = LineGeometry.build(
        Line(id="s", name="S", left="a", right="b", coordinates=coords), proj, 2e5, 1e9
    )
    assert float(straight.distance(x, y).max()) > 500.0


def test_sides_walking_east_and_west() -> None:
    east = _geometry([(38.0, 35.0), (40.0, 35.0)])
    assert _areas(east, 39.0, 35.2) == AREA_LEFT  # north of an eastward walk is left
    assert _areas(east, 39.0, 34.8) == AREA_RIGHT
    west = _geometry([(40.0, 35.0), (38.0, 35.0)])
    assert _areas(west, 39.0, 35.2) == AREA_RIGHT
    assert _areas(west, 39.0, 34.8) == AREA_LEFT


def test_beyond_the_ends_and_outside_the_box() -> None:
    g = _geometry([(38.0, 35.0), (40.0, 35.0)], margin=100_000.0)
    assert _areas(g, 40.5, 35.1) == AREA_LEFT  # past the east end, north of the extension
    assert _areas(g, 37.5, 34.9) == AREA_RIGHT  # past the west end, south
    assert _areas(g, 39.0, 37.0) == AREA_NONE  # ~220 km north: beyond the 100 km margin
    assert _areas(g, 42.0, 35.0) == AREA_NONE


def test_southern_hemisphere_sides() -> None:
    g = _geometry([(-70.0, -34.0), (-70.0, -33.0)])  # walking north
    assert g.line.coordinates[0][1] < 0
    assert _areas(g, -70.2, -33.5) == AREA_LEFT
    assert _areas(g, -69.8, -33.5) == AREA_RIGHT


def test_within_is_exact_at_the_buffer() -> None:
    g = _geometry([(3.0, 0.0), (3.0, 1.0)])
    proj = Projection(32631)
    x = np.array([500_000.0 + d for d in (4999.0, 5000.0, 5001.0, -4999.0, -5001.0)])
    y = np.full(5, proj.point(3.0, 0.5)[1])
    assert g.within(x, y, 5000.0).tolist() == [True, True, False, True, False]
    # Beyond the end the distance is to the end point, not the extension.
    _, y_end = proj.point(3.0, 1.0)
    x2 = np.array([500_000.0, 503_000.0, 503_100.0])
    y2 = np.full(3, y_end + 4_000.0)
    # 4 km; 3-4-5 makes exactly 5 km (inside: the buffer is inclusive); then just over.
    assert g.within(x2, y2, 5000.0).tolist() == [True, True, False]


def test_a_line_whose_extension_runs_back_through_it_is_refused() -> None:
    with pytest.raises(GeometryError, match="cannot split"):
        _geometry([(3.0, 0.0), (3.0, 1.0), (3.5, 1.0), (3.5, 0.5), (2.5, 0.5)])


MERIDIAN = _geometry([(3.0, 0.1), (3.0, 0.9)], margin=100_000.0)


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(2.2, 3.8).filter(lambda v: abs(v - 3.0) > 1e-7),
    lat=st.floats(-0.5, 1.5),
)
def test_area_membership_property(lon: float, lat: float) -> None:
    """Along the central meridian the line is x = 500 km: west is left walking north."""
    proj = Projection(32631)
    x, y = proj.forward(np.array([lon]), np.array([lat]))
    area = int(MERIDIAN.areas(x, y)[0])
    (minx, miny, maxx, maxy) = MERIDIAN.theatre.bounds
    inside = minx < x[0] < maxx and miny < y[0] < maxy
    if not inside:
        assert area == AREA_NONE
    else:
        assert area == (AREA_LEFT if lon < 3.0 else AREA_RIGHT)


@settings(max_examples=100, deadline=None)
@given(
    xs=st.lists(st.floats(-50_000, 50_000), min_size=1, max_size=40),
    ys=st.lists(st.floats(-50_000, 150_000), min_size=1, max_size=40),
    distance=st.floats(1.0, 30_000.0),
)
def test_within_matches_exact_distance(xs: list[float], ys: list[float], distance: float) -> None:
    n = min(len(xs), len(ys))
    proj = Projection(32631)
    x = np.array(xs[:n]) + 500_000.0
    y = np.array(ys[:n]) + proj.point(3.0, 0.1)[1]
    exact = MERIDIAN.distance(x, y) <= distance
    assert MERIDIAN.within(x, y, distance).tolist() == exact.tolist()


@settings(max_examples=100, deadline=None)
@given(
    xs=st.lists(st.floats(-50_000, 50_000), min_size=0, max_size=40),
    ys=st.lists(st.floats(-50_000, 150_000), min_size=0, max_size=40),
)
def test_least_distance_is_the_nearest_points_distance(xs: list[float], ys: list[float]) -> None:
    n = min(len(xs), len(ys))
    proj = Projection(32631)
    x = np.array(xs[:n], dtype=np.float64) + 500_000.0
    y = np.array(ys[:n], dtype=np.float64) + proj.point(3.0, 0.1)[1]
    expected = float(MERIDIAN.distance(x, y).min()) if n else float("inf")
    assert MERIDIAN.least_distance(x, y) == expected
