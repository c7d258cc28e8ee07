"""Open massing alerts matched to this evaluation's clusters (the compiled pass)."""

from __future__ import annotations

import numpy as np

from deconfliction.rules.massing import _assign


def assign(alerts: list[list[int]], clusters: list[list[int]], units: int = 20):  # type: ignore[no-untyped-def]
    flat = np.array([u for a in alerts for u in a], dtype=np.int64)
    offsets = np.cumsum([0, *[len(a) for a in alerts]]).astype(np.int64)
    members = np.array([u for c in clusters for u in c], dtype=np.int64)
    start = np.cumsum([0, *[len(c) for c in clusters]]).astype(np.int64)
    cluster_of = np.full(units, -1, dtype=np.int64)
    for i, c in enumerate(clusters):
        cluster_of[c] = i
    best, same, taken = _assign(flat, offsets, cluster_of, start, members)
    return best.tolist(), same.tolist(), taken.tolist()


def test_most_shared_units_wins_and_a_taken_cluster_is_not_offered_again() -> None:
    clusters = [[1, 2], [3, 4, 5]]
    # The first alert shares one unit with cluster 0 and two with cluster 1; the second
    # alert shares units only with cluster 1, which the first has taken.
    best, same, taken = assign([[2, 3, 4], [4, 5]], clusters)
    assert best == [1, -1]
    assert same == [False, False]
    assert taken == [False, True]


def test_a_tie_goes_to_the_cluster_with_the_first_id() -> None:
    best, _, _ = assign([[7, 1]], [[1, 2], [7, 8]])
    assert best == [0]
    best, _, _ = assign([[1, 7]], [[1, 2], [7, 8]])
    assert best == [0]


def test_same_members_are_told_apart_from_a_changed_group() -> None:
    best, same, taken = assign([[1, 2], [3, 4]], [[1, 2], [3, 4, 6], [9]])
    assert best == [0, 1]
    assert same == [True, False]
    assert taken == [True, True, False]


def test_no_alerts_and_no_clusters() -> None:
    assert assign([], [[1]]) == ([], [], [False])
    assert assign([[1, 2]], []) == ([-1], [False], [])
