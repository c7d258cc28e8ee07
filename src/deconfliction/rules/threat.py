"""`site.threat`: another party's unit with a site of ours within its weapons' reach."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .. import wording
from ..lifecycle import Finding
from ..model import AlertEvent, Priority, Rule, Severity
from ..picture import AppliedOne
from . import Context, describe_unit, figures

IntArray = NDArray[np.int64]


def reach_pairs(
    ctx: Context, units: IntArray
) -> tuple[IntArray, IntArray, NDArray[np.float64], NDArray[np.float64]]:
    """(unit, site, distance, reach) for every other unit covering one of our sites."""
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0, dtype=np.float64)
    sites = ctx.sites
    if not len(sites) or not units.size:
        return empty_i, empty_i, empty_f, empty_f
    # `covers` (refreshed for these units just before) says which reach any site at all.
    other = units[(ctx.roster.unit_party[units] != ctx.party_index) & ctx.watch.covers[units]]
    if not other.size:
        return empty_i, empty_i, empty_f, empty_f
    reach = ctx.picture.reach(other)
    x, y = ctx.picture.x[other], ctx.picture.y[other]
    point, site = sites.within(x, y, reach)
    distance = np.hypot(x[point] - sites.x[site], y[point] - sites.y[site])
    return other[point], site, distance, reach[point]


def evaluate(ctx: Context) -> list[AlertEvent]:
    """Open, update or resolve threats for the units the last batch touched."""
    applied = ctx.applied
    units = applied.units
    n_sites = max(len(ctx.sites), 1)
    watch = ctx.watch
    if not units.size:
        return []
    hit_u, hit_s, distance, reach = reach_pairs(ctx, units)
    now_keys = hit_u * n_sites + hit_s
    # Our threat keys for the touched units, before this batch. Masks over the roster
    # rather than set operations: the units are a large share of it.
    in_scope = _mask(ctx, units)[watch.threat_keys // n_sites]
    before = watch.threat_keys[in_scope]
    # Both are sorted and unique (pairs come by unit, then site).
    opened = ~np.isin(now_keys, before, assume_unique=True)
    resolved = before[~np.isin(before, now_keys, assume_unique=True)]
    watch.threat_keys = np.sort(np.concatenate([watch.threat_keys[~in_scope], now_keys]))

    events: list[AlertEvent] = []
    for key in resolved.tolist():
        event = _out_of_reach(ctx, *divmod(int(key), n_sites))
        if event:
            events.append(event)
    refresh = opened | _mask(ctx, units[applied.figures_changed])[hit_u]
    for i in np.flatnonzero(refresh):
        event = _raise(ctx, int(hit_u[i]), int(hit_s[i]), float(distance[i]), float(reach[i]))
        if event:
            events.append(event)
    return events


def _mask(ctx: Context, units: IntArray) -> NDArray[np.bool_]:
    """True at these units, over the whole roster."""
    out = np.zeros(ctx.picture.capacity, dtype=bool)
    out[units] = True
    return out


def evaluate_one(ctx: Context, one: AppliedOne, distance: NDArray[np.float64]) -> list[AlertEvent]:
    """`evaluate` for the unit one report moved, given its distance to each of our sites."""
    u = one.unit
    watch = ctx.watch
    n_sites = max(len(ctx.sites), 1)
    keys = watch.threat_keys
    lo = int(keys.searchsorted(u * n_sites))
    hi = int(keys.searchsorted((u + 1) * n_sites))
    before = (keys[lo:hi] - u * n_sites).tolist() if hi > lo else []
    hits: list[int] = []
    reach = 0.0
    if watch.covers[u] and int(ctx.roster.unit_party[u]) != ctx.party_index:
        reach = ctx.picture.reach_of(u)
        hits = np.nonzero(distance <= reach)[0].tolist()
    if not before and not hits:
        return []
    watch.threat_keys = np.concatenate(
        [
            watch.threat_keys[:lo],
            np.array(hits, dtype=np.int64) + u * n_sites,
            watch.threat_keys[hi:],
        ]
    )
    events: list[AlertEvent] = []
    for site in sorted(set(before) - set(hits)):
        event = _out_of_reach(ctx, u, site)
        if event:
            events.append(event)
    known = set(before)
    for site in hits:
        if site not in known or one.figures_changed:
            event = _raise(ctx, u, site, float(distance[site]), reach)
            if event:
                events.append(event)
    return events


def _out_of_reach(ctx: Context, unit: int, site: int) -> AlertEvent | None:
    return ctx.book.resolve(
        _key(ctx, unit, site),
        ctx.now_us,
        f"{describe_unit(ctx, unit)} is out of reach of {ctx.sites.sites[site].name}",
    )


# A site's priority is the severity of a threat to it.
_SEVERITY = {priority: Severity(priority.value) for priority in Priority}


def _key(ctx: Context, unit: int, site: int) -> tuple[object, ...]:
    return (Rule.SITE_THREAT, ctx.party, ctx.sites.sites[site].id, unit)


def _raise(ctx: Context, unit: int, site: int, distance: float, reach: float) -> AlertEvent | None:
    target = ctx.sites.sites[site]
    message = (
        f"{describe_unit(ctx, unit)} is {wording.km(distance)} from {target.name}, "
        f"within its {wording.km(reach)} reach"
    )
    finding = Finding(
        rule=Rule.SITE_THREAT,
        party=ctx.party,
        key=_key(ctx, unit, site),
        severity=_SEVERITY[target.priority],
        message=message,
        units=(ctx.roster.units[unit].id,),
        site=target.id,
        lon=float(ctx.picture.lon[unit]),
        lat=float(ctx.picture.lat[unit]),
        figures=figures(ctx, unit),
    )
    return ctx.book.raise_(finding, ctx.now_us)
