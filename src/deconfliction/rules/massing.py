"""`force.massing`: other forces gathering near our sites or a line we share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .. import wording
from ..lifecycle import Finding, Key
from ..model import AlertEvent, Rule, Severity
from ..picture import HEAVY
from . import Context, bloc_label, site_horizon

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
    # Built for one query: an unbalanced, uncompacted tree builds in half the time and
    # answers the pair query no slower.
    tree = cKDTree(points, balanced_tree=False, compact_nodes=False)
    pairs = tree.query_pairs(eps, output_type="ndarray")
    # Each pair once, as an edge i -> j: the weakly connected components of that directed
    # graph are the undirected components, without scipy symmetrising it first. The rows
    # are laid out by a stable sort of the sources (a radix sort while they fit 16 bits),
    # not by `coo_matrix.tocsr`, which also sorts every row's columns, a canonical form
    # the traversal has no use for.
    source = pairs[:, 0].astype(np.int16 if n <= np.iinfo(np.int16).max else np.int32)
    order = np.argsort(source, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(source, minlength=n), out=indptr[1:])
    weights = np.ones(order.shape[0], dtype=np.float64)
    graph = csr_matrix((weights, pairs[order, 1].astype(np.int32), indptr), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="weak")
    out: IntArray = np.asarray(labels, dtype=np.int64)
    return out


@dataclass(frozen=True)
class Cluster:
    units: IntArray
    """Roster indices, in the order of their ids."""
    first: int
    """The rank of its first id (clusters are matched and opened in that order)."""
    strength: int
    heavy: int
    critical: bool
    counts: dict[str, int]
    """Its tanks, artillery and rocket launchers, by kind (kinds it has none of left out)."""
    centre: tuple[float, float]
    """The mean of its members' positions, as (lon, lat) rounded to 6 places."""
    site: tuple[int, float] | None
    """Our site nearest it and the distance, if within `massing_near_m`."""


def refresh_flags(ctx: Context, units: IntArray) -> None:
    """Recompute, for these units, nearness to our sites and lines and reach over our sites."""
    if not units.size:
        return
    pic, watch, settings = ctx.picture, ctx.watch, ctx.settings
    x, y = pic.x[units], pic.y[units]
    nearest = ctx.sites.nearest(x, y, site_horizon(settings))
    watch.site_distance[units] = nearest
    near = nearest <= settings.massing_near_m
    reach = pic.reach(units)
    # The nearest site is within reach exactly when any site is.
    covers = (nearest <= reach) & (reach > 0.0)
    for geometry in ctx.lines:
        todo = ~near
        if todo.any():
            near[todo] = geometry.within(x[todo], y[todo], settings.massing_near_m)
    watch.near[units] = near
    watch.covers[units] = covers


def refresh_one(ctx: Context, unit: int, distance: NDArray[np.float64]) -> None:
    """`refresh_flags` for one unit, given its distance to each of our sites."""
    pic, settings = ctx.picture, ctx.settings
    nearest = float(distance.min()) if distance.shape[0] else float("inf")
    ctx.watch.site_distance[unit] = nearest
    near = nearest <= settings.massing_near_m
    reach = pic.reach_of(unit)
    ctx.watch.covers[unit] = reach > 0.0 and nearest <= reach
    if not near:
        x, y = float(pic.x[unit]), float(pic.y[unit])
        near = any(g.within_one(x, y, settings.massing_near_m) for g in ctx.lines)
    ctx.watch.near[unit] = near


def evaluate(ctx: Context) -> list[AlertEvent]:
    """Cluster fresh other units per bloc and match qualifying clusters to open alerts."""
    settings, pic, roster = ctx.settings, ctx.picture, ctx.roster
    fresh = pic.fresh(ctx.now_us, settings.stale_after_s)
    fresh &= roster.unit_party[: fresh.shape[0]] != ctx.party_index
    candidates = np.flatnonzero(fresh)
    found = _Found.none(pic.capacity)
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
        if qualifies.any():
            found = _Found.of(ctx, candidates, labels, qualifies, strength, heavy)
    return _match(ctx, found)


@dataclass(frozen=True)
class _Found:
    """The qualifying clusters of one evaluation, in the order of their first ids.

    Cluster i's members (roster indices, in the order of their ids) are
    `members[start[i]:start[i + 1]]`; its figures are the i-th entries of the rest.
    Cluster objects are made only for the clusters whose alerts are raised.
    """

    cluster_of: IntArray
    """Which cluster each roster unit is in now (-1: none)."""
    start: IntArray
    members: IntArray
    first: IntArray
    strength: IntArray
    heavy: IntArray
    critical: NDArray[np.bool_]
    kinds: IntArray
    """Per cluster, its count of each kind in HEAVY."""
    centre: list[tuple[float, float]]
    site: IntArray
    """Per cluster, our nearest site within `massing_near_m` (-1: none)..."""
    site_m: NDArray[np.float64]
    """...and its distance."""

    @classmethod
    def none(cls, capacity: int) -> _Found:
        empty = np.zeros(0, dtype=np.int64)
        return cls(
            np.full(capacity, -1, dtype=np.int64),
            np.zeros(1, dtype=np.int64),
            empty,
            empty,
            empty,
            empty,
            np.zeros(0, dtype=bool),
            np.zeros((0, len(HEAVY)), dtype=np.int64),
            [],
            empty,
            np.zeros(0),
        )

    @classmethod
    def of(
        cls,
        ctx: Context,
        candidates: IntArray,
        labels: IntArray,
        qualifies: NDArray[np.bool_],
        strength: IntArray,
        heavy: IntArray,
    ) -> _Found:
        pic, roster = ctx.picture, ctx.roster
        # Per-cluster totals in one pass each, not one fancy index per cluster.
        covers = np.bincount(labels, weights=ctx.watch.covers[candidates]) > 0
        size = np.bincount(labels)
        cx = np.bincount(labels, weights=pic.x[candidates]) / size
        cy = np.bincount(labels, weights=pic.y[candidates]) / size
        held = pic.equipment[candidates]
        kinds = np.stack(
            [np.bincount(labels, weights=held[:, roster.equipment_index[name]]) for name in HEAVY],
            axis=1,
        ).astype(np.int64)
        # Members by cluster, then id; clusters by their first id.
        keep = qualifies[labels]
        members, member_labels = candidates[keep], labels[keep]
        rank = roster.rank
        # Ranks are below the roster's size: one key orders by cluster, then id.
        order = np.argsort(member_labels * rank.shape[0] + rank[members])
        members, member_labels = members[order], member_labels[order]
        starts = np.flatnonzero(np.diff(member_labels, prepend=-1))
        sizes = np.diff(np.append(starts, members.shape[0]))
        first = rank[members[starts]]
        by_first = np.argsort(first, kind="stable")
        sizes = sizes[by_first]
        start = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
        np.cumsum(sizes, out=start[1:])
        shift = np.repeat(starts[by_first] - start[:-1], sizes)
        members = members[shift + np.arange(members.shape[0])]
        label = member_labels[starts][by_first]
        cluster_of = np.full(pic.capacity, -1, dtype=np.int64)
        cluster_of[members] = np.repeat(np.arange(sizes.shape[0]), sizes)
        # Every centre back to lon/lat in one call, not one per alert.
        lon, lat = pic.projection.inverse(cx[label], cy[label])
        sites = ctx.sites
        site, site_m = _nearest_sites(
            start,
            members,
            ctx.watch.site_distance,
            pic.x,
            pic.y,
            sites.x,
            sites.y,
            float(ctx.settings.massing_near_m),
        )
        return cls(
            cluster_of,
            start,
            members,
            first[by_first],
            strength[label],
            heavy[label],
            covers[label],
            kinds[label],
            [(round(a, 6), round(b, 6)) for a, b in zip(lon.tolist(), lat.tolist(), strict=True)],
            site,
            site_m,
        )

    def counts(self, i: int) -> dict[str, int]:
        return {name: n for name, n in zip(HEAVY, self.kinds[i].tolist(), strict=True) if n}

    def cluster(self, i: int, counts: dict[str, int]) -> Cluster:
        return Cluster(
            self.members[self.start[i] : self.start[i + 1]],
            int(self.first[i]),
            int(self.strength[i]),
            int(self.heavy[i]),
            bool(self.critical[i]),
            counts,
            self.centre[i],
            None if self.site[i] < 0 else (int(self.site[i]), float(self.site_m[i])),
        )


def _match(ctx: Context, found: _Found) -> list[AlertEvent]:
    events: list[AlertEvent] = []
    members_of = ctx.watch.massing_members
    keys = ctx.book.keys(Rule.FORCE_MASSING, ctx.party)
    held = [members_of[key] for key in keys]
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([m.shape[0] for m in held], out=offsets[1:])
    flat = np.concatenate(held) if held else np.zeros(0, dtype=np.int64)
    best, same, taken = _assign(flat, offsets, found.cluster_of, found.start, found.members)
    for key, i, unchanged in zip(keys, best.tolist(), same.tolist(), strict=True):
        if i < 0:
            members_of.pop(key, None)
            event = ctx.book.resolve(
                key,
                ctx.now_us,
                "The group has dispersed, gone stale or fallen below the thresholds",
            )
        else:
            event = _raise(ctx, key, found, i, unchanged)
        if event:
            events.append(event)
    for i in np.flatnonzero(~taken).tolist():
        new_key: Key = (Rule.FORCE_MASSING, ctx.party, int(found.first[i]), ctx.book.next_number)
        event = _raise(ctx, new_key, found, i, False)
        if event:
            events.append(event)
    return events


@njit(cache=True, nogil=True)
def _assign(
    flat: IntArray, offsets: IntArray, cluster_of: IntArray, start: IntArray, members: IntArray
) -> tuple[IntArray, NDArray[np.bool_], NDArray[np.bool_]]:  # pragma: no cover - compiled
    """Each open alert's cluster, oldest alert first: the untaken cluster holding most of
    its units, ties to the lowest index (the first id); -1 if none holds any.

    Also whether that cluster's members are the alert's exactly, and which clusters
    were taken. `flat[offsets[a]:offsets[a + 1]]` are alert a's units.
    """
    n_alerts = offsets.shape[0] - 1
    n_clusters = start.shape[0] - 1
    taken = np.zeros(n_clusters, np.bool_)
    best = np.full(n_alerts, -1, np.int64)
    same = np.zeros(n_alerts, np.bool_)
    count = np.zeros(n_clusters, np.int64)
    for a in range(n_alerts):
        lo, hi = offsets[a], offsets[a + 1]
        top, top_count = -1, 0
        for j in range(lo, hi):
            c = cluster_of[flat[j]]
            if c >= 0 and not taken[c]:
                count[c] += 1
                if count[c] > top_count or (count[c] == top_count and c < top):
                    top, top_count = c, count[c]
        for j in range(lo, hi):
            c = cluster_of[flat[j]]
            if c >= 0:
                count[c] = 0
        if top < 0:
            continue
        taken[top] = True
        best[a] = top
        s, e = start[top], start[top + 1]
        if e - s == hi - lo:
            equal = True
            for j in range(e - s):
                if members[s + j] != flat[lo + j]:
                    equal = False
                    break
            same[a] = equal
    return best, same, taken


def warm() -> None:
    """Compile the matching, or load it from numba's cache, if this process has not."""
    if not (_assign.signatures and _nearest_sites.signatures):
        none = np.zeros(0, dtype=np.int64)
        one = np.zeros(1, dtype=np.int64)
        _assign(none, one, none, one, none)
        unit = np.zeros(1)
        _nearest_sites(np.array([0, 1]), one, unit, unit, unit, unit, unit, 1.0)


def _raise(ctx: Context, key: Key, found: _Found, i: int, same_units: bool) -> AlertEvent | None:
    severity = Severity.CRITICAL if found.critical[i] else Severity.HIGH
    counts = found.counts(i)
    strength, heavy = int(found.strength[i]), int(found.heavy[i])
    figures = (strength, heavy, tuple(sorted(counts.items())))
    if same_units:
        current = ctx.book.get(key)
        if (
            current is not None
            and current.severity == severity
            and ctx.book.figures_of(key) == figures
        ):
            return None
    cluster = found.cluster(i, counts)
    ctx.watch.massing_members[key] = cluster.units
    return ctx.book.raise_(_finding(ctx, key, cluster, counts, figures), ctx.now_us)


def _finding(
    ctx: Context,
    key: Key,
    cluster: Cluster,
    counts: dict[str, int],
    figures: tuple[object, ...],
) -> Finding:
    who = bloc_label(ctx, cluster.units)
    lon, lat = cluster.centre
    site = cluster.site
    near = _nearest(ctx, cluster, site)
    heavy = f", {wording.equipment(counts)}" if counts else ""
    noun = "unit" if cluster.units.size == 1 else "units"
    message = (
        f"{who} massing: {cluster.units.size} {noun}, {cluster.strength} personnel{heavy}, {near}"
    )
    if cluster.critical:
        message += "; a site of ours is within their reach"
    return Finding(
        rule=Rule.FORCE_MASSING,
        party=ctx.party,
        key=key,
        severity=Severity.CRITICAL if cluster.critical else Severity.HIGH,
        message=message,
        units=tuple(ctx.roster.ids[cluster.units].tolist()),
        lon=lon,
        lat=lat,
        site=None if site is None else ctx.sites.sites[site[0]].id,
        figures=figures,
    )


@njit(cache=True, nogil=True)
def _nearest_sites(
    start: IntArray,
    members: IntArray,
    site_distance: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    sx: NDArray[np.float64],
    sy: NDArray[np.float64],
    limit: float,
) -> tuple[IntArray, NDArray[np.float64]]:  # pragma: no cover - compiled
    """Per cluster, our site nearest it and the distance, if within `limit` (else -1).

    Each member's nearest site was found when its flags were refreshed; only members at
    that least distance (to rounding) can hold the answer. Their exact distances to
    every site settle it, ties going to the site listed first, whichever path (the site
    grid or one report's distances) found the nearest.
    """
    n_clusters, n_sites = start.shape[0] - 1, sx.shape[0]
    site = np.full(n_clusters, -1, np.int64)
    site_m = np.full(n_clusters, np.inf)
    closest = np.empty(n_sites)
    for c in range(n_clusters):
        if n_sites == 0:
            break
        low = np.inf
        for j in range(start[c], start[c + 1]):
            low = min(low, site_distance[members[j]])
        if low > limit * (1.0 + 1e-9) + 1e-6:
            continue
        closest[:] = np.inf
        for j in range(start[c], start[c + 1]):
            m = members[j]
            if site_distance[m] <= low * (1.0 + 1e-9) + 1e-6:
                for s in range(n_sites):
                    closest[s] = min(closest[s], np.hypot(x[m] - sx[s], y[m] - sy[s]))
        best = int(np.argmin(closest))
        if closest[best] <= limit:
            site[c] = best
            site_m[c] = closest[best]
    return site, site_m


def _nearest(ctx: Context, cluster: Cluster, site: tuple[int, float] | None) -> str:
    """'4.2 km from SDF headquarters': our nearest site, or else the line it is near.

    A site within reach of the massing distance is named even when the line is nearer:
    the watch cares about the positions it defends first, and the line is drawn anyway.
    """
    if site is not None:
        return f"{wording.km(site[1])} from {ctx.sites.sites[site[0]].name}"
    pic = ctx.picture
    near = cluster.units[ctx.watch.near[cluster.units]]
    x, y = pic.x[near], pic.y[near]
    best_name, best = "", float("inf")
    limit = ctx.settings.massing_near_m or float("inf")
    for geometry in ctx.lines:
        if not x.shape[0]:
            break
        d_line = geometry.least_distance(x, y)
        if d_line <= limit and d_line < best:
            best, best_name = d_line, f"the {geometry.line.name}"
    if not best_name:
        return "near our positions"
    return f"{wording.km(best)} from {best_name}"
