"""The read side of the service: pictures, alerts, the agreement, as their views."""

from __future__ import annotations

import math
import re
import threading
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import shapely
import shapely.geometry

from ..batch import from_us, to_us
from ..engine import Engine
from ..model import (
    Actor,
    AlertState,
    Incident,
    Line,
    Party,
    Report,
    Settings,
    Site,
    Unit,
    format_time,
)
from ..picture import UnitState
from ..store.base import AlertQuery, Role, StoredEvent
from ..store.sqlite import SQLiteStore
from .auth import Principal
from .errors import Invalid, NotFound
from .views import (
    AckView,
    AlertDetail,
    AlertPageView,
    AlertView,
    EventView,
    Health,
    LineStringGeometry,
    Me,
    NewToken,
    PointGeometry,
    TokenView,
    TrackFeature,
    TrackProperties,
    UnitCollection,
    UnitFeature,
    UnitProperties,
)

BBox = tuple[float, float, float, float]


_DIGITS = re.compile(r"[0-9]{1,18}")


def parse_bbox(text: str | None) -> BBox | None:
    """`min_lon,min_lat,max_lon,max_lat` as four finite numbers in range."""
    if text is None:
        return None
    parts = text.split(",")
    problem = "expected min_lon,min_lat,max_lon,max_lat"
    if len(parts) != 4:
        raise Invalid.field("bbox", problem)
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise Invalid.field("bbox", problem) from None
    west, south, east, north = values
    if not all(math.isfinite(v) for v in values):
        raise Invalid.field("bbox", "coordinates must be finite numbers")
    if max(abs(west), abs(east)) > 180 or max(abs(south), abs(north)) > 90:
        raise Invalid.field("bbox", "coordinates out of range")
    if west > east or south > north:
        raise Invalid.field("bbox", "min must not exceed max")
    return west, south, east, north


def parse_cursor(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    # str.isdigit takes '²' and other digits int() refuses
    if _DIGITS.fullmatch(text) is None:
        raise Invalid.field("cursor", "not a cursor this service gave out")
    return int(text)


class Reads:
    store: SQLiteStore
    engine: Engine
    lock: threading.RLock
    live: bool
    problem: str | None
    settings: Settings
    parties: dict[str, Party]
    actors: dict[str, Actor]
    units: dict[str, Unit]
    lines: dict[str, Line]
    sites: dict[str, Site]
    demo_tokens: list[NewToken] | None

    def me(self, principal: Principal) -> Me:
        return Me(
            party=principal.party,
            role=principal.role,
            parties=list(self.parties.values()),
            actors=list(self.actors.values()),
            settings=self.settings,
            demo=self.demo_tokens is not None,
        )

    def health(self, principal: Principal | None = None) -> Health:
        """The service's state; a caller with a token sees its own party's counts too,
        anyone else nothing about any party's activity."""
        store: dict[str, Any] = {
            "schema": self.store.schema_versions(),
            "synchronous": self.store.synchronous,
        }
        engine: dict[str, Any] = {}
        first_report = None
        with self.lock:
            clock = self.engine.now
            if principal is not None:
                # A count from the book's index: the engine's lock is held here.
                engine["open_alerts"] = self.engine.open_alert_count(principal.party)
        if principal is not None:
            store["reports"] = self.store.report_count(principal.party)
            first_report = self.store.first_report_time(principal.party)
        return Health(
            status="ok" if self.problem is None else "degraded",
            problem=self.problem,
            store=store,
            engine=engine,
            clock=clock,
            first_report=first_report,
            live=self.live,
            demo=self.demo_tokens is not None,
        )

    # the picture ---------------------------------------------------------------------

    def _feature(self, state: UnitState) -> UnitFeature:
        return UnitFeature(
            id=state.id,
            geometry=PointGeometry(coordinates=(state.lon, state.lat)),
            properties=UnitProperties(
                id=state.id,
                name=state.name,
                actor=state.actor,
                party=state.party,
                kind=state.kind,
                strength=state.strength,
                equipment=state.equipment,
                time=state.time,
                fresh=state.fresh,
                reach_m=self.settings.reach_m(state.kind, state.equipment),
            ),
        )

    def _states_at(self, party: str, at: datetime) -> list[UnitState]:
        stale_us = self.settings.stale_after_s * 1e6
        now_us = to_us(at)
        return [self._state(r, now_us, stale_us) for r in self.store.latest_reports(party, at)]

    def _state(self, report: Report, now_us: int, stale_us: float) -> UnitState:
        unit = self.units.get(report.unit) or Unit(
            id=report.unit, name=report.unit, actor="unknown"
        )
        actor = self.actors.get(unit.actor)
        time_us = to_us(report.time)
        return UnitState(
            id=unit.id,
            name=unit.name,
            actor=unit.actor,
            party=actor.party if actor else None,
            kind=str(unit.kind),
            lon=report.lon,
            lat=report.lat,
            time_us=time_us,
            strength=unit.strength if report.strength is None else report.strength,
            equipment=dict(unit.equipment if report.equipment is None else report.equipment),
            fresh=now_us - time_us <= stale_us,
        )

    def unit_collection(
        self,
        principal: Principal,
        bbox: BBox | None = None,
        actor: str | None = None,
        fresh: bool | None = None,
        at: datetime | None = None,
    ) -> UnitCollection:
        states = self._unit_states(principal, bbox, actor, fresh, at)
        return UnitCollection(features=[self._feature(state) for state in states])

    def unit_collection_json(
        self,
        principal: Principal,
        bbox: BBox | None = None,
        actor: str | None = None,
        fresh: bool | None = None,
        at: datetime | None = None,
    ) -> bytes:
        """`unit_collection` encoded straight to JSON: a picture of thousands of units
        answers without a model per unit."""
        reach = self.settings.reach_m
        features = [
            {
                "type": "Feature",
                "id": s.id,
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": {
                    "id": s.id,
                    "name": s.name,
                    "actor": s.actor,
                    "party": s.party,
                    "kind": s.kind,
                    "strength": s.strength,
                    "equipment": s.equipment,
                    "time": format_time(from_us(s.time_us)),
                    "fresh": s.fresh,
                    "reach_m": float(reach(s.kind, s.equipment)),
                },
            }
            for s in self._unit_states(principal, bbox, actor, fresh, at)
        ]
        return orjson.dumps({"type": "FeatureCollection", "features": features})

    def _unit_states(
        self,
        principal: Principal,
        bbox: BBox | None,
        actor: str | None,
        fresh: bool | None,
        at: datetime | None,
    ) -> list[UnitState]:
        if at is not None:
            states = self._states_at(principal.party, at)
        else:
            with self.lock:
                states = self.engine.picture(principal.party).units()
        return [
            state
            for state in states
            if (actor is None or state.actor == actor)
            and (fresh is None or state.fresh == fresh)
            and (
                bbox is None
                or (bbox[0] <= state.lon <= bbox[2] and bbox[1] <= state.lat <= bbox[3])
            )
        ]

    def unit_feature(self, principal: Principal, unit_id: str) -> UnitFeature:
        with self.lock:
            state = self.engine.picture(principal.party).unit(unit_id)
        if state is None:
            raise NotFound(f"no unit '{unit_id}' in your picture")
        return self._feature(state)

    def track(
        self,
        principal: Principal,
        unit_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> TrackFeature:
        self.unit_feature(principal, unit_id)
        reports = self.store.track(principal.party, unit_id, since, until)
        coordinates = [(r.lon, r.lat) for r in reports]
        return TrackFeature(
            id=unit_id,
            geometry=LineStringGeometry(coordinates=coordinates) if len(coordinates) > 1 else None,
            properties=TrackProperties(
                unit=unit_id, times=[r.time for r in reports], reports=[r.id or "" for r in reports]
            ),
        )

    # alerts ---------------------------------------------------------------------------

    def _views(self, party: str, alerts: list) -> list[AlertView]:  # type: ignore[type-arg]
        acks = self.store.last_acks(party, [a.id for a in alerts])
        out = []
        for alert in alerts:
            ack = acks.get(alert.id)
            out.append(
                AlertView(
                    **dict(alert),
                    acknowledged_by=ack.who if ack else None,
                    acknowledged_at=ack.at if ack else None,
                )
            )
        return out

    def alert_page(
        self,
        principal: Principal,
        state: AlertState | None = None,
        rule: str | None = None,
        severity: str | None = None,
        since: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        at: datetime | None = None,
    ) -> AlertPageView:
        after = parse_cursor(cursor)
        if at is not None:
            alerts = [
                a
                for a in self.store.alerts_at(principal.party, at)
                if (state is None or a.state == state)
                and (rule is None or a.rule == rule)
                and (severity is None or a.severity == severity)
                and (since is None or a.updated >= since)
            ]
            start = after or 0
            page = alerts[start : start + limit]
            more = start + limit < len(alerts)
            return AlertPageView(
                items=self._views(principal.party, page), next=str(start + limit) if more else None
            )
        query = AlertQuery(
            party=principal.party,
            state=state,
            rule=rule,
            severity=severity,
            since=since,
            after=after,
            limit=limit,
        )
        result = self.store.alerts(query)
        return AlertPageView(
            items=self._views(principal.party, result.alerts),
            next=None if result.next_after is None else str(result.next_after),
        )

    def alert_detail(self, principal: Principal, alert_id: str) -> AlertDetail:
        alert = self.store.alert(principal.party, alert_id)
        if alert is None:
            raise NotFound(f"no alert '{alert_id}'")
        view = self._views(principal.party, [alert])[0]
        events = self.store.alert_events(principal.party, alert_id)
        acks = self.store.acks(principal.party, alert_id)
        return AlertDetail(
            **dict(view),
            events=[EventView(seq=e.seq, event=e.event) for e in events],
            acks=[AckView(who=a.who, at=a.at) for a in acks],
        )

    def events_since(self, principal: Principal, seq: int, limit: int = 500) -> list[StoredEvent]:
        return self.store.events_since(principal.party, seq, limit)

    def last_event_seq(self, principal: Principal) -> int:
        """Where the caller's alert events stand now: a stream from here sends only news."""
        return self.store.last_event_seq(principal.party)

    # the agreement and incidents -------------------------------------------------------

    def party_lines(self, principal: Principal) -> list[Line]:
        return [line for line in self.lines.values() if principal.party in line.parties()]

    def line_areas(self, principal: Principal) -> dict[str, Any]:
        """Each of the caller's lines as the rules see it: its two areas and its buffer,
        as GeoJSON polygons in lon/lat."""
        features: list[dict[str, Any]] = []
        with self.lock:
            projection = self.engine.projection
            geometries = [
                self.engine.geometry(line.id)
                for line in self.lines.values()
                if principal.party in line.parties() and line.id in self.engine.lines
            ]
        for geometry in geometries:
            line = geometry.line
            shapes = [
                (geometry.left_area, {"kind": "area", "party": line.left}),
                (geometry.right_area, {"kind": "area", "party": line.right}),
                (geometry.path.buffer(line.buffer_m), {"kind": "buffer"}),
            ]
            for shape, properties in shapes:
                lonlat = shapely.transform(
                    shape.simplify(50.0),
                    lambda xy: np.column_stack(projection.inverse(xy[:, 0], xy[:, 1])),
                )
                features.append(
                    {
                        "type": "Feature",
                        "geometry": shapely.geometry.mapping(lonlat),
                        "properties": {"line": line.id, **properties},
                    }
                )
        return {"type": "FeatureCollection", "features": features}

    def party_sites(self, principal: Principal) -> list[Site]:
        return [s for s in self.sites.values() if s.party == principal.party]

    def party_incidents(self, principal: Principal) -> list[Incident]:
        return self.store.incidents(principal.party)

    def party_incident(self, principal: Principal, incident_id: str) -> Incident:
        incident = self.store.incident(principal.party, incident_id)
        if incident is None:
            raise NotFound(f"no incident '{incident_id}'")
        return incident

    def party_tokens(self, principal: Principal) -> list[TokenView]:
        principal.require(Role.ADMIN)
        return [
            TokenView(id=t.id, party=t.party, role=t.role, created=t.created, revoked=t.revoked)
            for t in self.store.tokens()
            if t.party == principal.party
        ]
