"""`line.approach` and `zone.violation`: units near or across a deconfliction line."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from .. import wording
from ..batch import from_us
from ..geo import AREA_LEFT, AREA_NONE, AREA_RIGHT, LineGeometry
from ..lifecycle import Finding
from ..model import AlertEvent, Crossing, Rule, Severity
from ..picture import AppliedOne
from . import Context, describe_unit, figures


def evaluate(ctx: Context) -> list[AlertEvent]:
    """Both line rules for the units the last batch moved."""
    events: list[AlertEvent] = []
    applied = ctx.applied
    if not applied.units.size:
        return events
    for geometry in ctx.lines:
        events += _line(ctx, geometry)
    return events


def _line(ctx: Context, geometry: LineGeometry) -> list[AlertEvent]:
    line = geometry.line
    roster, pic, applied = ctx.roster, ctx.picture, ctx.applied
    left = roster.party_index[line.left]
    right = roster.party_index[line.right]
    party = roster.unit_party[applied.units]
    aligned = (party == left) | (party == right)
    units = applied.units[aligned]
    if not units.size:
        return []
    changed = applied.figures_changed[aligned]
    own = np.where(party[aligned] == left, AREA_LEFT, AREA_RIGHT).astype(np.int8)
    other = np.where(own == AREA_LEFT, AREA_RIGHT, AREA_LEFT).astype(np.int8)
    x, y = pic.x[units], pic.y[units]
    area = geometry.areas(x, y)
    in_own = area == own
    approach_now = np.zeros(units.size, dtype=bool)
    if in_own.any():
        approach_now[in_own] = geometry.within(x[in_own], y[in_own], line.buffer_m)
    violation_now = area == other

    approach = ctx.watch.approach[line.id]
    violation = ctx.watch.violation[line.id]
    was_approach = approach[units]
    was_violation = violation[units]
    approach[units] = approach_now
    violation[units] = violation_now

    # Units whose alerts change: a state flipped, or figures moved under an open alert.
    moving = (was_violation != violation_now) | (was_approach != approach_now)
    moving |= (violation_now | approach_now) & changed
    events: list[AlertEvent] = []
    picked = np.flatnonzero(moving)
    if not picked.size:
        return events
    raised = picked[approach_now[picked] & (~was_approach[picked] | changed[picked])]
    distance = dict(
        zip(raised.tolist(), geometry.distance(x[raised], y[raised]).tolist(), strict=True)
    )
    # Each column of the picked rows as a list at once, not one numpy scalar at a time.
    rows = zip(
        picked.tolist(),
        units[picked].tolist(),
        was_violation[picked].tolist(),
        violation_now[picked].tolist(),
        was_approach[picked].tolist(),
        approach_now[picked].tolist(),
        changed[picked].tolist(),
        own[picked].tolist(),
        strict=True,
    )
    for i, u, v0, v1, a0, a1, moved_figures, side in rows:
        events += _settle(
            ctx,
            geometry,
            u,
            (v0, v1),
            (a0, a1),
            moved_figures,
            partial(_crossing, ctx, geometry, u, side),
            distance.get(i),
        )
    return events


def _settle(
    ctx: Context,
    geometry: LineGeometry,
    unit: int,
    violation: tuple[bool, bool],
    approach: tuple[bool, bool],
    changed: bool,
    crossing: Callable[[], Crossing | None],
    distance: float | None,
) -> list[AlertEvent]:
    """One unit's line alerts, from its (before, now) states on this line."""
    line = geometry.line
    (was_violation, violation_now), (was_approach, approach_now) = violation, approach
    found: list[AlertEvent | None] = []
    if was_violation and not violation_now:
        found.append(
            ctx.book.resolve(
                (Rule.ZONE_VIOLATION, ctx.party, line.id, unit),
                ctx.now_us,
                f"{describe_unit(ctx, unit)} is no longer on the far side of the {line.name}",
            )
        )
    if was_approach and not approach_now:
        why = "crossed" if violation_now else "moved out of the buffer of"
        found.append(
            ctx.book.resolve(
                (Rule.LINE_APPROACH, ctx.party, line.id, unit),
                ctx.now_us,
                f"{describe_unit(ctx, unit)} {why} the {line.name}",
            )
        )
    if violation_now and (not was_violation or changed):
        found.append(_violation(ctx, geometry, unit, None if was_violation else crossing()))
    if approach_now and (not was_approach or changed):
        found.append(_approach(ctx, geometry, unit, distance))
    return [event for event in found if event is not None]


def _violation(
    ctx: Context, geometry: LineGeometry, unit: int, crossing: Crossing | None
) -> AlertEvent | None:
    line = geometry.line
    key = (Rule.ZONE_VIOLATION, ctx.party, line.id, unit)
    current = ctx.book.get(key)
    if current is not None:
        crossing = current.crossing
    unit_party = ctx.roster.parties[int(ctx.roster.unit_party[unit])].id
    into = line.other(unit_party)
    label = describe_unit(ctx, unit)
    if crossing is not None:
        message = f"{label} crossed the {line.name} into {into}'s area"
    else:
        message = f"{label} is in {into}'s area across the {line.name}"
    finding = Finding(
        rule=Rule.ZONE_VIOLATION,
        party=ctx.party,
        key=key,
        severity=Severity.HIGH,
        message=message,
        units=(ctx.roster.units[unit].id,),
        line=line.id,
        lon=float(ctx.picture.lon[unit]),
        lat=float(ctx.picture.lat[unit]),
        crossing=crossing,
        figures=figures(ctx, unit),
    )
    return ctx.book.raise_(finding, ctx.now_us)


def _approach(
    ctx: Context, geometry: LineGeometry, unit: int, distance: float | None = None
) -> AlertEvent | None:
    line = geometry.line
    pic = ctx.picture
    if distance is None:
        distance = float(geometry.distance(pic.x[unit : unit + 1], pic.y[unit : unit + 1])[0])
    unit_party = ctx.roster.parties[int(ctx.roster.unit_party[unit])].id
    message = (
        f"{describe_unit(ctx, unit)} is {wording.km(distance)} from the {line.name} "
        f"on {unit_party}'s side, inside its {wording.km(line.buffer_m)} buffer"
    )
    finding = Finding(
        rule=Rule.LINE_APPROACH,
        party=ctx.party,
        key=(Rule.LINE_APPROACH, ctx.party, line.id, unit),
        severity=Severity.MEDIUM,
        message=message,
        units=(ctx.roster.units[unit].id,),
        line=line.id,
        lon=float(pic.lon[unit]),
        lat=float(pic.lat[unit]),
        figures=figures(ctx, unit),
    )
    return ctx.book.raise_(finding, ctx.now_us)


def _crossing(ctx: Context, geometry: LineGeometry, unit: int, own: int) -> Crossing | None:
    """Where the unit's path met the line, if the report before its incursion was on its side."""
    applied = ctx.applied
    # Rows come in path order (unit, then time): the unit's reports are one run of them.
    lo = int(applied.row_units.searchsorted(unit, "left"))
    hi = int(applied.row_units.searchsorted(unit, "right"))
    xs: list[float] = applied.row_x[lo:hi].tolist()
    ys: list[float] = applied.row_y[lo:hi].tolist()
    ts: list[int] = applied.row_t[lo:hi].tolist()
    slot = int(np.searchsorted(applied.units, unit))
    if applied.prev_seen[slot]:
        xs.insert(0, float(applied.prev_x[slot]))
        ys.insert(0, float(applied.prev_y[slot]))
        ts.insert(0, int(applied.prev_t[slot]))
    if len(xs) < 2:
        return None
    other = AREA_RIGHT if own == AREA_LEFT else AREA_LEFT
    # Back from the last report (across the line) to the last one that was not: usually
    # the one before it, so the areas are asked point by point.
    k = len(xs) - 1
    area = other
    while k > 0:
        area = geometry.area_of(xs[k - 1], ys[k - 1])
        if area != other:
            break
        k -= 1
    if k == 0 or area != own:
        return None
    return _segment_crossing(ctx, geometry, xs[k - 1], ys[k - 1], ts[k - 1], xs[k], ys[k], ts[k])


def _segment_crossing(
    ctx: Context,
    geometry: LineGeometry,
    x0: float,
    y0: float,
    t0: int,
    x1: float,
    y1: float,
    t1: int,
) -> Crossing | None:
    hit = geometry.first_crossing(x0, y0, x1, y1)
    if hit is None:
        return None
    cx, cy, fraction = hit
    lon, lat = ctx.picture.projection.lonlat(cx, cy)
    # Whole seconds: the interpolation is no finer than that.
    t = round((t0 + fraction * (t1 - t0)) / 1e6) * 1_000_000
    return Crossing(lon=round(lon, 6), lat=round(lat, 6), time=from_us(t))


def _crossing_from(
    ctx: Context,
    geometry: LineGeometry,
    one: AppliedOne,
    own: int,
    prev: tuple[float, float, int],
    x: float,
    y: float,
) -> Crossing | None:
    """The crossing of a single report's path, if the report before it was on its side."""
    if not one.prev_seen or geometry.area_of(prev[0], prev[1]) != own:
        return None
    t = int(ctx.picture.t_us[one.unit])
    return _segment_crossing(ctx, geometry, prev[0], prev[1], prev[2], x, y, t)


def evaluate_one(ctx: Context, one: AppliedOne) -> list[AlertEvent]:
    """Both line rules for the unit one report moved (the live path, scalar work only)."""
    events: list[AlertEvent] = []
    roster, pic = ctx.roster, ctx.picture
    u = one.unit
    party = int(roster.unit_party[u])
    x, y = float(pic.x[u]), float(pic.y[u])
    for geometry in ctx.lines:
        line = geometry.line
        left = roster.party_index[line.left]
        if party != left and party != roster.party_index[line.right]:
            continue
        own = AREA_LEFT if party == left else AREA_RIGHT
        area = geometry.area_of(x, y)
        violation_now = area != own and area != AREA_NONE
        approach_now = area == own and geometry.within_one(x, y, line.buffer_m)
        approach = ctx.watch.approach[line.id]
        violation = ctx.watch.violation[line.id]
        was_approach, was_violation = bool(approach[u]), bool(violation[u])
        approach[u] = approach_now
        violation[u] = violation_now
        prev = (one.prev_x, one.prev_y, one.prev_t)
        events += _settle(
            ctx,
            geometry,
            u,
            (was_violation, violation_now),
            (was_approach, approach_now),
            one.figures_changed,
            partial(_crossing_from, ctx, geometry, one, own, prev, x, y),
            None,
        )
    return events
