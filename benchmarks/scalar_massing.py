"""`force.massing` for the scalar reference: DBSCAN per bloc, then matching to open alerts.

Plain functions over plain values, so that the matching of docs/rules.md can be read
step by step: (1) open alerts, oldest first, take the untaken qualifying cluster sharing
the most units (ties: the one whose smallest unit id sorts first); (2) alerts that took
nothing resolve; (3) untaken clusters open new alerts, by smallest unit id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import DBSCAN

from deconfliction.model import Settings

XY = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Member:
    """A fresh other unit as massing sees it."""

    unit: str
    bloc: tuple[str, str]
    x: float
    y: float
    lon: float
    lat: float
    strength: int
    heavy: dict[str, int]
    """Tanks, artillery and rocket launchers, by name."""
    reach: float
    line_distance: float
    """Metres to the nearest line with the observer on one side (inf without one)."""


@dataclass(frozen=True, slots=True)
class Cluster:
    units: list[str]
    strength: int
    heavy: dict[str, int]
    critical: bool
    lon: float
    lat: float

    @property
    def heavy_total(self) -> int:
        return sum(self.heavy.values())

    def figures(self) -> tuple[object, ...]:
        """The totals that, when they change, make the alert worth an update."""
        held = tuple(sorted((name, n) for name, n in self.heavy.items() if n > 0))
        return (self.strength, self.heavy_total, held)


def qualifying_clusters(
    members: Sequence[Member], own_sites: Sequence[XY], settings: Settings
) -> list[Cluster]:
    """The clusters of each bloc that qualify, in order of their smallest unit id."""
    blocs: dict[tuple[str, str], list[Member]] = {}
    for member in members:
        blocs.setdefault(member.bloc, []).append(member)
    out: list[Cluster] = []
    for group in blocs.values():
        group.sort(key=lambda m: m.unit)
        labels = [0]
        if len(group) > 1:
            xy = np.array([(m.x, m.y) for m in group], dtype=np.float64)
            # A k-d tree, not brute force: its radius query counts eps itself, and it does
            # not start a thread pool for a handful of points.
            scan = DBSCAN(eps=settings.massing_eps_m, min_samples=1, algorithm="kd_tree")
            labels = scan.fit(xy).labels_.tolist()
        parts: dict[int, list[Member]] = {}
        for label, member in zip(labels, group, strict=True):
            parts.setdefault(label, []).append(member)
        for part in parts.values():
            cluster = _qualify(part, own_sites, settings)
            if cluster is not None:
                out.append(cluster)
    out.sort(key=lambda c: c.units[0])
    return out


def _qualify(part: list[Member], own_sites: Sequence[XY], settings: Settings) -> Cluster | None:
    strength = sum(m.strength for m in part)
    heavy: dict[str, int] = {}
    for m in part:
        for name, count in m.heavy.items():
            heavy[name] = heavy.get(name, 0) + count
    if (
        strength < settings.massing_min_strength
        and sum(heavy.values()) < settings.massing_min_heavy
    ):
        return None
    near = False
    critical = False
    for m in part:
        near = near or m.line_distance <= settings.massing_near_m
        for sx, sy in own_sites:
            if near and critical:
                break
            distance = math.hypot(m.x - sx, m.y - sy)
            near = near or distance <= settings.massing_near_m
            critical = critical or (m.reach > 0.0 and distance <= m.reach)
    if not near:
        return None
    lon = sum(m.lon for m in part) / len(part)
    lat = sum(m.lat for m in part) / len(part)
    return Cluster(sorted(m.unit for m in part), strength, heavy, critical, lon, lat)


def match(open_units: Sequence[Sequence[str]], clusters: Sequence[Cluster]) -> list[int | None]:
    """For each open alert (oldest first, by its units), the cluster it takes, or None."""
    taken = [False] * len(clusters)
    out: list[int | None] = []
    for units in open_units:
        mine = set(units)
        best: int | None = None
        best_shared = 0
        for i, cluster in enumerate(clusters):
            if taken[i]:
                continue
            shared = len(mine.intersection(cluster.units))
            # Clusters come by smallest unit id, so the first of equals wins the tie.
            if shared > best_shared:
                best, best_shared = i, shared
        if best is not None:
            taken[best] = True
        out.append(best)
    return out
