"""`force.massing`: other forces gathering near our sites or a line we share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .. import wording
from ..lifecycle import Finding, Key
from ..model import AlertEvent, Rule, Severity
from . import Context, bloc_label

IntArray = NDArray[np.int64]

# Blocs are clustered in one pass, each shifted this far along x so that no two blocs
# can ever be within eps of each other.
_BLOC_SHIFT = 1.0e9


def clusters(
    x: NDArray[np.float64], y: NDArray[np.float64], bloc: IntArray, eps: float
) -> IntArray:
    """DBSCAN labels with min_samples 1 (eps-chained components), never across blocs.

    With min_samples 1 every point is a core point, so DBSCAN's clusters are exactly the
    connected components of the graph joining points at most eps apart.
    """
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    points = np.column_stack([x + bloc.astype(np.float64) * _BLOC_SHIFT, y])
    tree = cKDTree(points)
    pairs = tree.query_pairs(eps, output_type="ndarray")
    graph = coo_matrix(
        (np.ones(pairs.shape[0], dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


@dataclass(frozen=True)
class Cluster:
    units: IntArray
    """Roster indices, ascending."""
    ids: tuple[str, ...]
    strength: int
    heavy: int
    critical: bool


def refresh_flags(ctx: Context, units: IntArray) -> None:
    """Recompute, for these units, nearness to our sites and lines and reach over our sites."""
    if not units.size:
        return
    pic, watch, settings = ctx.picture, ctx.watch, ctx.settings
    x, y = pic.x[units], pic.y[units]
    near = np.zeros(units.size, dtype=bool)
    covers = np.zeros(units.size, dtype=bool)
    sites = ctx.sites
    if len(sites):
        distance = np.hypot(x[:, None] - sites.x[None, :], y[:, None] - sites.y[None, :])
        nearest = distance.min(axis=1)
        near |= nearest <= settings.massing_near_m
        reach = pic.reach(units)
        covers = ((distance <= reach[:, None]) & (reach[:, None] > 0.0)).any(axis=1)
    for geometry in ctx.lines:
        todo = ~near
        if todo.any():
            near[todo] = geometry.within(x[todo], y[todo], settings.massing_near_m)
    watch.near[units] = near
    watch.covers[units] = covers


def evaluate(ctx: Context) -> list[AlertEvent]:
    """Cluster fresh other units per bloc and match qualifying clusters to open alerts."""
    settings, pic, roster = ctx.settings, ctx.picture, ctx.roster
    fresh = pic.fresh(ctx.now_us, settings.stale_after_s)
    fresh[: roster.unit_party.shape[0]] &= roster.unit_party != ctx.party_index
    candidates = np.flatnonzero(fresh)
    found: list[Cluster] = []
    if candidates.size:
        labels = clusters(
            pic.x[candidates],
            pic.y[candidates],
            roster.unit_bloc[candidates],
            settings.massing_eps_m,
        )
        strength = np.bincount(labels, weights=pic.strength[candidates]).astype(np.int64)
        heavy = np.bincount(labels, weights=pic.heavy(candidates)).astype(np.int64)
        near = np.bincount(labels, weights=ctx.watch.near[candidates]) > 0
        qualifies = near & (
            (strength >= settings.massing_min_strength) | (heavy >= settings.massing_min_heavy)
        )
        covers = np.bincount(labels, weights=ctx.watch.covers[candidates]) > 0
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2))
        for label in np.flatnonzero(qualifies).tolist():
            members = np.sort(candidates[order[bounds[label] : bounds[label + 1]]])
            ids = tuple(sorted(roster.units[int(u)].id for u in members))
            found.append(
                Cluster(members, ids, int(strength[label]), int(heavy[label]), bool(covers[label]))
            )
    found.sort(key=lambda c: c.ids[0])
    return _match(ctx, found)


def _match(ctx: Context, found: list[Cluster]) -> list[AlertEvent]:
    events: list[AlertEvent] = []
    taken: set[int] = set()
    open_keys = ctx.book.keys(Rule.FORCE_MASSING, ctx.party)
    for key in open_keys:
        alert = ctx.book.open[key]
        members = set(alert.units)
        best, best_shared = -1, 0
        for i, cluster in enumerate(found):
            if i in taken:
                continue
            shared = len(members.intersection(cluster.ids))
            if shared > best_shared:
                best, best_shared = i, shared
        if best < 0:
            event = ctx.book.resolve(key, ctx.now_us)
        else:
            taken.add(best)
            event = ctx.book.raise_(_finding(ctx, key, found[best]), ctx.now_us)
        if event:
            events.append(event)
    for i, cluster in enumerate(found):
        if i in taken:
            continue
        key: Key = (Rule.FORCE_MASSING, ctx.party, cluster.ids[0], ctx.book.next_number)
        event = ctx.book.raise_(_finding(ctx, key, cluster), ctx.now_us)
        if event:
            events.append(event)
    return events


def _finding(ctx: Context, key: Key, cluster: Cluster) -> Finding:
    pic, roster = ctx.picture, ctx.roster
    who = bloc_label(ctx, cluster.units)
    counts: dict[str, int] = {}
    for name, col in roster.equipment_index.items():
        if col < pic.equipment.shape[1]:
            total = int(pic.equipment[cluster.units, col].sum())
            if total and name in ("tank", "artillery", "mlrs"):
                counts[name] = total
    cx = float(pic.x[cluster.units].mean())
    cy = float(pic.y[cluster.units].mean())
    lon, lat = pic.projection.lonlat(cx, cy)
    near = _nearest(ctx, cluster)
    heavy = f", {wording.equipment(counts)}" if counts else ""
    noun = "unit" if len(cluster.ids) == 1 else "units"
    message = (
        f"{who} massing: {len(cluster.ids)} {noun}, {cluster.strength} personnel{heavy}, {near}"
    )
    if cluster.critical:
        message += "; a site of ours is within their reach"
    return Finding(
        rule=Rule.FORCE_MASSING,
        party=ctx.party,
        key=key,
        severity=Severity.CRITICAL if cluster.critical else Severity.HIGH,
        message=message,
        units=cluster.ids,
        lon=round(lon, 6),
        lat=round(lat, 6),
        site=_nearest_site(ctx, cluster),
        figures=(cluster.strength, cluster.heavy, tuple(sorted(counts.items()))),
    )


def _nearest_site(ctx: Context, cluster: Cluster) -> str | None:
    sites = ctx.sites
    if not len(sites):
        return None
    pic = ctx.picture
    d = np.hypot(
        pic.x[cluster.units][:, None] - sites.x[None, :],
        pic.y[cluster.units][:, None] - sites.y[None, :],
    )
    best = int(np.argmin(d.min(axis=0)))
    if d[:, best].min() > ctx.settings.massing_near_m:
        return None
    return sites.sites[best].id


def _nearest(ctx: Context, cluster: Cluster) -> str:
    """'4.2 km from SDF headquarters' for the closest of our sites and lines."""
    pic = ctx.picture
    x, y = pic.x[cluster.units], pic.y[cluster.units]
    best_name, best = "", float("inf")
    sites = ctx.sites
    if len(sites):
        d = np.hypot(x[:, None] - sites.x[None, :], y[:, None] - sites.y[None, :])
        i = int(np.argmin(d.min(axis=0)))
        best, best_name = float(d[:, i].min()), sites.sites[i].name
    for geometry in ctx.lines:
        d_line = float(geometry.distance(x, y).min())
        if d_line < best:
            best, best_name = d_line, f"the {geometry.line.name}"
    return f"{wording.km(best)} from {best_name}"
