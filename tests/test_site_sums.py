"""The compiled searches around sites, against a plain distance matrix."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.rules.sums import SiteGrid


def brute(sx, sy, x, y, strength, mine, radius):  # type: ignore[no-untyped-def]
    d2 = (x[:, None] - sx[None, :]) ** 2 + (y[:, None] - sy[None, :]) ** 2
    inside = d2 <= radius * radius
    own = (inside & mine[:, None]).T.astype(np.int64) @ strength
    other = (inside & ~mine[:, None]).T.astype(np.int64) @ strength
    return own, other


def test_a_unit_counts_at_every_site_within_the_radius_and_no_other() -> None:
    sx = np.array([0.0, 1000.0, 5000.0])
    sy = np.zeros(3)
    grid = SiteGrid.build(sx, sy, 1000.0)
    own, other = grid.sums(
        np.array([500.0, 5000.0, 2000.0, -1000.0]),
        np.array([0.0, 999.0, 0.0, 0.0]),
        np.array([10, 20, 40, 80]),
        np.array([True, False, True, False]),
    )
    # 500 m from the first two; 999 m from the third; exactly 1 km from the second and
    # the first.
    assert own.tolist() == [10, 10 + 40, 0]
    assert other.tolist() == [80, 0, 20]


def test_units_far_outside_the_grid_count_nowhere() -> None:
    grid = SiteGrid.build(np.array([0.0, 10.0]), np.array([0.0, 10.0]), 50.0)
    far = np.array([-1e12, 1e12, 61.0, -51.0])
    own, other = grid.sums(far, far, np.full(4, 5), np.ones(4, dtype=bool))
    assert own.tolist() == [0, 0] and other.tolist() == [0, 0]


def test_a_grid_needs_a_site() -> None:
    with pytest.raises(ValueError, match="at least one site"):
        SiteGrid.build(np.zeros(0), np.zeros(0), 10.0)


coordinate = st.floats(-3e5, 3e5, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    sites=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=40),
    units=st.lists(
        st.tuples(coordinate, coordinate, st.integers(0, 500), st.booleans()), max_size=200
    ),
    radius=st.one_of(st.sampled_from([0.0, 1.0, 1000.0, 15000.0]), st.floats(0.0, 2e5)),
    snap=st.sampled_from([0.0, 1000.0]),
)
def test_sums_match_a_distance_matrix(
    sites: list[tuple[float, float]],
    units: list[tuple[float, float, int, bool]],
    radius: float,
    snap: float,
) -> None:
    sx = np.array([s[0] for s in sites])
    sy = np.array([s[1] for s in sites])
    x = np.array([u[0] for u in units], dtype=np.float64)
    y = np.array([u[1] for u in units], dtype=np.float64)
    if snap:
        # On a grid, units sit exactly on a site or exactly a radius away.
        sx, sy, x, y = (np.round(a / snap) * snap for a in (sx, sy, x, y))
    strength = np.array([u[2] for u in units], dtype=np.int64)
    mine = np.array([u[3] for u in units], dtype=bool)
    own, other = SiteGrid.build(sx, sy, radius).sums(x, y, strength, mine)
    want_own, want_other = brute(sx, sy, x, y, strength, mine, radius)
    assert own.tolist() == want_own.tolist()
    assert other.tolist() == want_other.tolist()


@settings(max_examples=150, deadline=None)
@given(
    sites=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=40),
    points=st.lists(st.tuples(coordinate, coordinate), max_size=200),
    radius=st.one_of(st.sampled_from([0.0, 1.0, 1000.0, 40000.0]), st.floats(0.0, 2e5)),
    snap=st.sampled_from([0.0, 1000.0]),
)
def test_nearest_within_the_radius_matches_a_distance_matrix(
    sites: list[tuple[float, float]],
    points: list[tuple[float, float]],
    radius: float,
    snap: float,
) -> None:
    sx = np.array([s[0] for s in sites])
    sy = np.array([s[1] for s in sites])
    x = np.array([p[0] for p in points], dtype=np.float64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    if snap:
        sx, sy, x, y = (np.round(a / snap) * snap for a in (sx, sy, x, y))
    got = SiteGrid.build(sx, sy, radius).nearest(x, y)
    d = np.sqrt((x[:, None] - sx[None, :]) ** 2 + (y[:, None] - sy[None, :]) ** 2)
    want = d.min(axis=1) if x.shape[0] else np.zeros(0)
    want[want > radius] = np.inf
    assert got.tolist() == want.tolist()


def test_nearest_is_inf_beyond_the_radius() -> None:
    grid = SiteGrid.build(np.array([0.0, 100.0]), np.array([0.0, 0.0]), 30.0)
    got = grid.nearest(np.array([10.0, 130.0, 50.0, 1e15]), np.array([0.0, 0.0, 0.0, 0.0]))
    assert got.tolist() == [10.0, 30.0, np.inf, np.inf]


@settings(max_examples=150, deadline=None)
@given(
    sites=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=40),
    points=st.lists(
        st.tuples(coordinate, coordinate, st.floats(0.0, 1.0, allow_nan=False)), max_size=150
    ),
    bound=st.one_of(st.sampled_from([0.0, 1000.0, 40000.0]), st.floats(0.0, 2e5)),
    snap=st.sampled_from([0.0, 1000.0]),
)
def test_pairs_within_each_radius_match_a_distance_matrix(
    sites: list[tuple[float, float]],
    points: list[tuple[float, float, float]],
    bound: float,
    snap: float,
) -> None:
    sx = np.array([s[0] for s in sites])
    sy = np.array([s[1] for s in sites])
    x = np.array([p[0] for p in points], dtype=np.float64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    # Each point's own radius, up to the bound; on the snapped grid, often exactly it.
    radius = np.array([p[2] for p in points], dtype=np.float64) * bound
    if snap:
        sx, sy, x, y = (np.round(a / snap) * snap for a in (sx, sy, x, y))
        radius = np.where(radius > bound / 2, bound, radius)
    point, site = SiteGrid.build(sx, sy, bound).pairs(x, y, radius)
    d2 = (x[:, None] - sx[None, :]) ** 2 + (y[:, None] - sy[None, :]) ** 2
    want_point, want_site = np.nonzero(d2 <= (radius * radius)[:, None])
    assert point.tolist() == want_point.tolist()
    assert site.tolist() == want_site.tolist()


def test_pairs_refuse_a_radius_beyond_the_grid() -> None:
    grid = SiteGrid.build(np.zeros(1), np.zeros(1), 10.0)
    with pytest.raises(ValueError, match="beyond the grid"):
        grid.pairs(np.zeros(1), np.zeros(1), np.array([11.0]))
