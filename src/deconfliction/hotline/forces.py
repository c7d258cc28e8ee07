"""A party's own sites and fresh units, read from the engine's picture (or, without an
engine, from the reports themselves), with each unit's report before its last so that
the conflict check can extrapolate where it is heading.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from ..batch import from_us
from ..model import Actor, Report, Site, Unit
from .conflicts import Fix, UnitMotion


class UnitStateLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def time_us(self) -> int: ...
    @property
    def fresh(self) -> bool: ...


class PictureLike(Protocol):
    def units(self) -> Sequence[UnitStateLike]: ...


class PictureSource(Protocol):
    """The engine, as far as the hotline needs it: `engine.picture(party).units()`."""

    def picture(self, party: str) -> PictureLike: ...


class ReportForces:
    """Own forces of each party from the reports it observed (and the engine, if given)."""

    def __init__(
        self,
        sites: Iterable[Site],
        units: Iterable[Unit],
        actors: Iterable[Actor],
        reports: Iterable[Report],
        default_observer: str,
        stale_after: timedelta,
        engine: PictureSource | None = None,
    ) -> None:
        self._sites: dict[str, list[Site]] = {}
        for site in sites:
            self._sites.setdefault(site.party, []).append(site)
        party_of = {a.id: a.party for a in actors}
        self._units = {u.id: u for u in units}
        self._owner = {u.id: party_of.get(u.actor) for u in self._units.values()}
        self._tracks: dict[tuple[str, str], list[tuple[datetime, float, float, int]]] = {}
        for i, r in enumerate(reports):
            key = (r.observer or default_observer, r.unit)
            self._tracks.setdefault(key, []).append((r.time, r.lon, r.lat, i))
        for track in self._tracks.values():
            track.sort()
        self._stale = stale_after
        self._engine = engine

    def add_report(self, report: Report, default_observer: str) -> None:
        track = self._tracks.setdefault((report.observer or default_observer, report.unit), [])
        bisect.insort(track, (report.time, report.lon, report.lat, len(track)))

    def sites(self, party: str) -> Sequence[Site]:
        return self._sites.get(party, [])

    def units(self, party: str, now: datetime) -> Sequence[UnitMotion]:
        out: list[UnitMotion] = []
        if self._engine is not None:
            for state in self._engine.picture(party).units():
                if state.fresh and self._owner.get(state.id) == party:
                    last = Fix(state.lon, state.lat, from_us(state.time_us))
                    out.append(self._motion(party, state.id, last))
            return out
        for (observer, unit_id), track in self._tracks.items():
            if observer != party or self._owner.get(unit_id) != party:
                continue
            i = bisect.bisect_right(track, (now, float("inf"), float("inf"), 1 << 62))
            if i == 0:
                continue
            t, lon, lat, _ = track[i - 1]
            if now - t > self._stale:
                continue
            out.append(self._motion(party, unit_id, Fix(lon, lat, t)))
        return out

    def _motion(self, party: str, unit_id: str, last: Fix) -> UnitMotion:
        unit = self._units.get(unit_id)
        track = self._tracks.get((party, unit_id), [])
        i = bisect.bisect_left(track, (last.time, float("-inf"), float("-inf"), -1))
        previous = None if i == 0 else Fix(track[i - 1][1], track[i - 1][2], track[i - 1][0])
        return UnitMotion(
            id=unit_id,
            name=unit.name if unit is not None else unit_id,
            strength=unit.strength if unit is not None else 0,
            last=last,
            previous=previous,
        )
