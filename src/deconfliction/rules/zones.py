"""`line.approach` and `zone.violation`: units near or across a deconfliction line."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

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

    events: list[AlertEvent] = []
    for i in np.flatnonzero(was_violation & ~violation_now):
        u = int(units[i])
        event = ctx.book.resolve(
            (Rule.ZONE_VIOLATION, ctx.party, line.id, u),
            ctx.now_us,
            f"{describe_unit(ctx, u)} is no longer on the far side of the {line.name}",
        )
        if event:
            events.append(event)
    for i in np.flatnonzero(was_approach & ~approach_now):
        u = int(units[i])
        why = "crossed" if violation_now[i] else "moved out of the buffer of"
        event = ctx.book.resolve(
            (Rule.LINE_APPROACH, ctx.party, line.id, u),
            ctx.now_us,
            f"{describe_unit(ctx, u)} {why} the {line.name}",
        )
        if event:
            events.append(event)
    for i in np.flatnonzero(violation_now & (~was_violation | changed)):
        crossing = None
        if not was_violation[i]:
            crossing = _crossing(ctx, geometry, int(units[i]), int(own[i]))
        event = _violation(ctx, geometry, int(units[i]), crossing)
        if event:
            events.append(event)
    raised = np.flatnonzero(approach_now & (~was_approach | changed))
    if raised.size:
        distance = geometry.distance(x[raised], y[raised])
        for slot, d in zip(raised.tolist(), distance.tolist(), strict=True):
            event = _approach(ctx, geometry, int(units[slot]), d)
            if event:
                events.append(event)
    return events


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
    mine = np.flatnonzero(applied.row_units == unit)
    xs: list[float] = applied.row_x[mine].tolist()
    ys: list[float] = applied.row_y[mine].tolist()
    ts: list[int] = applied.row_t[mine].tolist()
    slot = int(np.searchsorted(applied.units, unit))
    if applied.prev_seen[slot]:
        xs.insert(0, float(applied.prev_x[slot]))
        ys.insert(0, float(applied.prev_y[slot]))
        ts.insert(0, int(applied.prev_t[slot]))
    if len(xs) < 2:
        return None
    areas: NDArray[np.int8] = geometry.areas(np.array(xs), np.array(ys))
    other = AREA_RIGHT if own == AREA_LEFT else AREA_LEFT
    k = len(xs) - 1
    while k > 0 and areas[k - 1] == other:
        k -= 1
    if k == 0 or areas[k - 1] != own:
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
        if was_violation and not violation_now:
            event = ctx.book.resolve(
                (Rule.ZONE_VIOLATION, ctx.party, line.id, u),
                ctx.now_us,
                f"{describe_unit(ctx, u)} is no longer on the far side of the {line.name}",
            )
            if event:
                events.append(event)
        if was_approach and not approach_now:
            why = "crossed" if violation_now else "moved out of the buffer of"
            event = ctx.book.resolve(
                (Rule.LINE_APPROACH, ctx.party, line.id, u),
                ctx.now_us,
                f"{describe_unit(ctx, u)} {why} the {line.name}",
            )
            if event:
                events.append(event)
        if violation_now and (not was_violation or one.figures_changed):
            crossing = None
            if (
                not was_violation
                and one.prev_seen
                and geometry.area_of(one.prev_x, one.prev_y) == own
            ):
                crossing = _segment_crossing(
                    ctx, geometry, one.prev_x, one.prev_y, one.prev_t, x, y, int(pic.t_us[u])
                )
            event = _violation(ctx, geometry, u, crossing)
            if event:
                events.append(event)
        if approach_now and (not was_approach or one.figures_changed):
            event = _approach(ctx, geometry, u)
            if event:
                events.append(event)
    return events
