"""Does a planned operation cover the recipient's own sites or forces during its window?

Geometry is in longitude/latitude: a notification's area is a small polygon, and straight
segments in lon/lat are what an equirectangular map of it shows. A unit heading somewhere
is extrapolated linearly from its last two reports, for at most `horizon` past the last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

import shapely
from shapely.geometry import LineString, Point
from shapely.geometry import Polygon as ShapelyPolygon

from ..model import Site, format_time
from .messages import Polygon, Window


@dataclass(frozen=True, slots=True)
class Fix:
    lon: float
    lat: float
    time: datetime


@dataclass(frozen=True, slots=True)
class UnitMotion:
    """One of the recipient's fresh units: its last report and the one before, if any."""

    id: str
    name: str
    strength: int
    last: Fix
    previous: Fix | None = None


class OwnForces(Protocol):
    """What the conflict check reads of a party's own picture."""

    def sites(self, party: str) -> Sequence[Site]: ...
    def units(self, party: str, now: datetime) -> Sequence[UnitMotion]: ...


@dataclass(frozen=True, slots=True)
class Conflict:
    """A site or unit of the recipient that a notification's operation would meet."""

    kind: Literal["site", "unit"]
    id: str
    name: str
    lon: float
    lat: float
    inside: bool
    """In the area at the window's start (or now); otherwise heading into it."""
    enters: datetime | None = None
    priority: str | None = None
    strength: int = 0

    def sentence(self) -> str:
        where = f"({self.lon:.3f}, {self.lat:.3f})"
        if self.kind == "site":
            return f"site {self.name} {where}"
        if self.inside:
            return f"{self.name} ({self.strength} personnel) in the area at {where}"
        entering = "" if self.enters is None else f", entering about {format_time(self.enters)}"
        return (
            f"{self.name} ({self.strength} personnel) heading into the area from {where}{entering}"
        )


def shape(area: Polygon) -> ShapelyPolygon:
    rings = area.coordinates
    polygon = ShapelyPolygon(rings[0], rings[1:])
    shapely.prepare(polygon)
    return polygon


def find_conflicts(
    area: Polygon,
    window: Window,
    sites: Iterable[Site],
    units: Iterable[UnitMotion],
    now: datetime,
    horizon: timedelta,
) -> list[Conflict]:
    """Sites in the area, then units in or heading into it during the window, by id."""
    polygon = shape(area)
    found: list[Conflict] = [
        Conflict("site", s.id, s.name, s.lon, s.lat, True, priority=s.priority.value)
        for s in sites
        if polygon.covers(Point(s.lon, s.lat))
    ]
    found.sort(key=lambda c: c.id)
    moving: list[Conflict] = []
    for unit in units:
        conflict = _unit_conflict(polygon, window, unit, now, horizon)
        if conflict is not None:
            moving.append(conflict)
    moving.sort(key=lambda c: c.id)
    return found + moving


def _unit_conflict(
    polygon: ShapelyPolygon,
    window: Window,
    unit: UnitMotion,
    now: datetime,
    horizon: timedelta,
) -> Conflict | None:
    last = unit.last
    prev = unit.previous
    if prev is None or prev.time >= last.time or (prev.lon, prev.lat) == (last.lon, last.lat):
        if not polygon.covers(Point(last.lon, last.lat)):
            return None
        return Conflict(
            "unit", unit.id, unit.name, last.lon, last.lat, True, strength=unit.strength
        )
    elapsed = (last.time - prev.time).total_seconds()
    vlon = (last.lon - prev.lon) / elapsed
    vlat = (last.lat - prev.lat) / elapsed
    start = max(window.start, now, last.time)
    end = min(window.end, last.time + horizon)
    if end < start:
        return None

    def at(t: datetime) -> tuple[float, float]:
        dt = (t - last.time).total_seconds()
        return (last.lon + vlon * dt, last.lat + vlat * dt)

    a, b = at(start), at(end)
    if polygon.covers(Point(a)):
        return Conflict(
            "unit", unit.id, unit.name, last.lon, last.lat, True, strength=unit.strength
        )
    path = LineString([a, b]) if a != b else None
    if path is None or not polygon.intersects(path):
        return None
    crossing = polygon.intersection(path)
    fraction = min(
        path.project(Point(c), normalized=True) for c in shapely.get_coordinates(crossing)
    )
    enters = start + (end - start) * fraction
    return Conflict(
        "unit", unit.id, unit.name, last.lon, last.lat, False, enters=enters, strength=unit.strength
    )
