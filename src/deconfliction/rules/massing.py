"""`force.massing`: other forces gathering near our sites or a line we share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .. import wording
from ..lifecycle import Finding, Key
from ..model import AlertEvent, Rule, Settings, Severity
from ..picture import HEAVY
from . import Context, bloc_label
from .components import components

IntArray = NDArray[np.int64]


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


def refresh_flags(ctx: Context, units: IntArray) -> None:
    """Recompute, for these units, nearness to our sites and lines and reach over our sites."""
    if not units.size:
        return
    pic, watch, settings = ctx.picture, ctx.watch, ctx.settings
    x, y = pic.x[units], pic.y[units]
    nearest = ctx.sites.nearest(x, y, _site_horizon(settings))
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


def _site_horizon(settings: Settings) -> float:
    """How far from our sites a unit's distance to them matters: the massing distance,
    or the longest reach. Beyond it the flags only need to know it is farther."""
    return max(settings.massing_near_m, max(settings.weapon_ranges_m.values(), default=0.0))


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
    found: list[Cluster] = []
    # Which qualifying cluster each roster unit is in now (-1: none).
    cluster_of = np.full(pic.capacity, -1, dtype=np.int64)
    if candidates.size:
        # DBSCAN with min_samples 1, per bloc: eps-chained components.
        labels = components(
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
            covers = np.bincount(labels, weights=ctx.watch.covers[candidates]) > 0
            # Per-cluster totals in one pass each, not one fancy index per cluster.
            size = np.bincount(labels)
            cx = np.bincount(labels, weights=pic.x[candidates]) / size
            cy = np.bincount(labels, weights=pic.y[candidates]) / size
            # Every qualifying centre back to lon/lat in one call, not one per alert.
            qualifying = np.flatnonzero(qualifies)
            lon, lat = pic.projection.inverse(cx[qualifying], cy[qualifying])
            centre_of = {
                label: (round(a, 6), round(b, 6))
                for label, a, b in zip(qualifying.tolist(), lon.tolist(), lat.tolist(), strict=True)
            }
            held = pic.equipment[candidates]
            kinds = [
                np.bincount(labels, weights=held[:, roster.equipment_index[name]]).astype(np.int64)
                for name in HEAVY
            ]
            keep = qualifies[labels]
            members, member_labels = candidates[keep], labels[keep]
            rank = roster.rank
            order = np.lexsort((rank[members], member_labels))
            members, member_labels = members[order], member_labels[order]
            starts = np.flatnonzero(np.diff(member_labels, prepend=-1))
            for group, label in zip(
                np.split(members, starts[1:]), member_labels[starts].tolist(), strict=True
            ):
                totals = (int(k[label]) for k in kinds)
                found.append(
                    Cluster(
                        group,
                        int(rank[group[0]]),
                        int(strength[label]),
                        int(heavy[label]),
                        bool(covers[label]),
                        {name: n for name, n in zip(HEAVY, totals, strict=True) if n},
                        centre_of[label],
                    )
                )
            found.sort(key=lambda c: c.first)
            for i, cluster in enumerate(found):
                cluster_of[cluster.units] = i
    return _match(ctx, found, cluster_of)


def _match(ctx: Context, found: list[Cluster], cluster_of: IntArray) -> list[AlertEvent]:
    events: list[AlertEvent] = []
    taken = np.zeros(len(found), dtype=bool)
    members_of = ctx.watch.massing_members
    for key in ctx.book.keys(Rule.FORCE_MASSING, ctx.party):
        labels = cluster_of[members_of[key]]
        labels = labels[labels >= 0]
        labels = labels[~taken[labels]]
        if not labels.size:
            members_of.pop(key, None)
            event = ctx.book.resolve(
                key,
                ctx.now_us,
                "The group has dispersed, gone stale or fallen below the thresholds",
            )
        else:
            # Most shared units wins; ties go to the cluster whose first id sorts first,
            # which is the lowest index since `found` is sorted that way.
            best = int(np.argmax(np.bincount(labels, minlength=len(found))))
            taken[best] = True
            event = _raise(ctx, key, found[best])
        if event:
            events.append(event)
    for i in np.flatnonzero(~taken).tolist():
        cluster = found[i]
        new_key: Key = (Rule.FORCE_MASSING, ctx.party, cluster.first, ctx.book.next_number)
        event = _raise(ctx, new_key, cluster)
        if event:
            events.append(event)
    return events


def _raise(ctx: Context, key: Key, cluster: Cluster) -> AlertEvent | None:
    severity = Severity.CRITICAL if cluster.critical else Severity.HIGH
    current = ctx.book.get(key)
    members_of = ctx.watch.massing_members
    counts = cluster.counts
    figures = (cluster.strength, cluster.heavy, tuple(sorted(counts.items())))
    if (
        current is not None
        and current.severity == severity
        and np.array_equal(members_of[key], cluster.units)
        and ctx.book.figures_of(key) == figures
    ):
        return None
    members_of[key] = cluster.units
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
    site = _nearest_site(ctx, cluster)
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


def _nearest_site(ctx: Context, cluster: Cluster) -> tuple[int, float] | None:
    """Our site nearest the cluster and its distance, if within `massing_near_m`."""
    sites = ctx.sites
    if not len(sites):
        return None
    # Each member's nearest site was found when its flags were refreshed; only members at
    # that least distance (to rounding) can hold the answer. Their exact distances to
    # every site settle it, ties going to the site listed first, whichever path (the
    # site tree or one report's distances) found the nearest.
    distance = ctx.watch.site_distance[cluster.units]
    low = float(distance.min())
    limit = ctx.settings.massing_near_m
    if low > limit * (1.0 + 1e-9) + 1e-6:
        return None
    best = cluster.units[distance <= low * (1.0 + 1e-9) + 1e-6]
    pic = ctx.picture
    d = np.hypot(pic.x[best][:, None] - sites.x[None, :], pic.y[best][:, None] - sites.y[None, :])
    closest = d.min(axis=0)
    site = int(np.argmin(closest))
    if closest[site] > limit:
        return None
    return site, float(closest[site])


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
    for geometry in ctx.lines:
        if not x.shape[0]:
            break
        d_line = float(geometry.distance(x, y, ctx.settings.massing_near_m or None).min())
        if d_line < best:
            best, best_name = d_line, f"the {geometry.line.name}"
    if not best_name:
        return "near our positions"
    return f"{wording.km(best)} from {best_name}"
