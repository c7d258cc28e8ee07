"""The reference engine: DESIGN section 5 and docs/rules.md, one report and one call at a time.

`ScalarEngine` has the engine's surface (`ingest(batch) -> list[AlertEvent]`) and is
written independently of `deconfliction.engine`, `picture`, `geo` and `rules`: scalar
pyproj transforms, shapely predicates per point, scikit-learn's DBSCAN per bloc and plain
Python sums. It is the oracle the vectorised engine is tested against, and the baseline
its speed is measured against.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from deconfliction.batch import ReportBatch, from_us, to_us
from deconfliction.model import (
    HEAVY_WEAPONS,
    Actor,
    AlertEvent,
    Crossing,
    EventKind,
    Line,
    Party,
    Rule,
    Settings,
    Severity,
    Site,
    Unit,
)
from scalar_areas import XY, LineAreas, Theatre
from scalar_massing import Cluster, Member, match, qualifying_clusters

RULE_ORDER: tuple[Rule, ...] = (
    Rule.LINE_APPROACH,
    Rule.ZONE_VIOLATION,
    Rule.SITE_THREAT,
    Rule.FORCE_MASSING,
    Rule.DEFENCE_WEAKENED,
    Rule.DEFENCE_OUTNUMBERED,
)
"""DESIGN section 5's order, in which an evaluation's events come out (docs/rules.md)."""


@dataclass(slots=True)
class Fix:
    """One report of a unit as a point of its path."""

    time_us: int
    x: float
    y: float
    lon: float
    lat: float


@dataclass(slots=True)
class UnitState:
    """A unit in one party's picture: its latest fix, its figures, its path since the last
    evaluation (the fix the evaluation left it at, then every fix that became current)."""

    unit: Unit
    party: str | None
    bloc: tuple[str, str]
    current: Fix
    trail: list[Fix]
    strength: int
    equipment: dict[str, int]

    def figures(self) -> tuple[object, ...]:
        """What makes an alert about the unit worth an update: its strength and equipment."""
        held = tuple(sorted((name, n) for name, n in self.equipment.items() if n > 0))
        return (self.strength, held)


@dataclass(slots=True)
class OpenAlert:
    id: str
    rule: Rule
    party: str
    severity: Severity
    opened_us: int
    units: list[str]
    site: str | None = None
    line: str | None = None
    figures: tuple[object, ...] = ()


@dataclass(slots=True)
class Picture:
    """One observer party's units and the history of its sites' defence samples."""

    party: str
    units: dict[str, UnitState] = field(default_factory=dict)
    samples: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


class ScalarEngine:
    """Batches of reports in, alert events out, evaluated one report and one rule at a time."""

    def __init__(
        self,
        parties: Sequence[Party],
        actors: Sequence[Actor],
        lines: Sequence[Line],
        sites: Sequence[Site],
        units: Sequence[Unit],
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.parties = [p.id for p in parties]
        self.actor_party = {a.id: a.party for a in actors}
        self.units = {u.id: u for u in units}
        self.sites = list(sites)
        self.lines = list(lines)
        self.theatre = Theatre(self.lines, self.sites)
        self.areas = [
            LineAreas(line, self.theatre, self.settings.theatre_margin_m, self.settings.densify_m)
            for line in self.lines
        ]
        self.site_xy = {s.id: self.theatre.project(s.lon, s.lat) for s in self.sites}
        self.own_sites: dict[str, list[tuple[Site, XY]]] = {
            p: [(s, self.site_xy[s.id]) for s in self.sites if s.party == p] for p in self.parties
        }
        self.pictures = {p: Picture(p) for p in self.parties}
        self.now_us: int | None = None
        self.open: dict[tuple[object, ...], OpenAlert] = {}
        self.massing: dict[str, list[OpenAlert]] = {p: [] for p in self.parties}
        self._next_id = 1

    @property
    def now(self) -> datetime | None:
        return None if self.now_us is None else from_us(self.now_us)

    def ingest(self, batch: ReportBatch) -> list[AlertEvent]:
        """Apply every report of the batch, then evaluate every rule once."""
        touched: dict[str, set[str]] = {p: set() for p in self.parties}
        equipment = batch.equipment
        # A unit's path is its reports in time order, whatever order the batch lists them.
        for i in np.argsort(batch.time_us, kind="stable").tolist():
            observer = str(batch.observer[i])
            if observer not in self.pictures:
                raise ValueError(f"report {i}: unknown observer party '{observer}'")
            unit_id = str(batch.unit[i])
            strength = int(batch.strength[i])
            carried = None if equipment is None else equipment[i]
            time_us = int(batch.time_us[i])
            lon, lat = float(batch.lon[i]), float(batch.lat[i])
            if self._apply(observer, unit_id, time_us, lon, lat, strength, carried):
                touched[observer].add(unit_id)
            if self.now_us is None or time_us > self.now_us:
                self.now_us = time_us
        if self.now_us is None:
            return []
        return self._evaluate(touched)

    def advance(self, now: datetime) -> list[AlertEvent]:
        """Move the clock without reports: staleness and the defence window move on."""
        now_us = to_us(now)
        if self.now_us is None or now_us > self.now_us:
            self.now_us = now_us
        return self._evaluate({p: set() for p in self.parties})

    def _apply(
        self,
        observer: str,
        unit_id: str,
        time_us: int,
        lon: float,
        lat: float,
        strength: int,
        equipment: dict[str, int] | None,
    ) -> bool:
        """Fold one report into its observer's picture; True when the unit's state changed."""
        unit = self.units.get(unit_id)
        if unit is None:
            raise ValueError(f"report for unknown unit '{unit_id}'")
        x, y = self.theatre.project(lon, lat)
        fix = Fix(time_us, x, y, lon, lat)
        picture = self.pictures[observer]
        state = picture.units.get(unit_id)
        if state is None:
            party = self.actor_party.get(unit.actor)
            bloc = ("party", party) if party is not None else ("actor", unit.actor)
            state = UnitState(unit, party, bloc, fix, [fix], unit.strength, dict(unit.equipment))
            picture.units[unit_id] = state
        elif time_us >= state.current.time_us:
            state.current = fix
            state.trail.append(fix)
        else:
            # An older report changes nothing the picture shows.
            return False
        if strength >= 0:
            state.strength = strength
        if equipment is not None:
            state.equipment.update(equipment)
        return True

    # -- evaluation ---------------------------------------------------------------------

    def _evaluate(self, touched: dict[str, set[str]]) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        for party in self.parties:
            by_rule: dict[Rule, list[tuple[object, AlertEvent]]] = {r: [] for r in RULE_ORDER}
            picture = self.pictures[party]
            for unit_id in sorted(touched[party]):
                state = picture.units[unit_id]
                self._line_rules(picture, state, by_rule)
                self._threat(picture, state, by_rule)
                state.trail = [state.current]
            self._defence(picture, by_rule)
            massing = self._massing(picture)
            for rule in RULE_ORDER:
                if rule == Rule.FORCE_MASSING:
                    events.extend(massing)
                    continue
                events.extend(e for _, e in sorted(by_rule[rule], key=lambda item: item[0]))  # type: ignore[arg-type, return-value]
        return events

    def _event(
        self,
        kind: EventKind,
        alert: OpenAlert,
        lon: float | None,
        lat: float | None,
        message: str,
        crossing: Crossing | None = None,
    ) -> AlertEvent:
        assert self.now_us is not None
        return AlertEvent(
            event=kind,
            id=alert.id,
            rule=alert.rule,
            severity=alert.severity,
            time=from_us(self.now_us),
            party=alert.party,
            units=list(alert.units),
            site=alert.site,
            line=alert.line,
            lon=lon,
            lat=lat,
            crossing=crossing,
            message=message,
        )

    def _new_alert(
        self,
        rule: Rule,
        party: str,
        severity: Severity,
        units: list[str],
        site: str | None = None,
        line: str | None = None,
    ) -> OpenAlert:
        assert self.now_us is not None
        alert = OpenAlert(
            f"a-{self._next_id}", rule, party, severity, self.now_us, units, site, line
        )
        self._next_id += 1
        return alert

    def _keyed(
        self,
        rule: Rule,
        key: tuple[object, ...],
        holds: bool,
        severity: Severity,
        units: list[str],
        site: str | None,
        line: str | None,
        where: XY,
        message: str,
        out: list[tuple[object, AlertEvent]],
        figures: tuple[object, ...] = (),
        crossing: Crossing | None = None,
    ) -> None:
        """The lifecycle of an alert that has one key: open, update, resolve."""
        full = (rule, *key)
        alert = self.open.get(full)
        if holds and alert is None:
            alert = self._new_alert(rule, str(key[0]), severity, units, site, line)
            alert.figures = figures
            self.open[full] = alert
            out.append((key, self._event("open", alert, where[0], where[1], message, crossing)))
        elif holds and alert is not None and alert.figures != figures:
            alert.figures = figures
            out.append((key, self._event("updated", alert, where[0], where[1], message)))
        elif not holds and alert is not None:
            del self.open[full]
            out.append((key, self._event("resolved", alert, where[0], where[1], message)))

    def _line_rules(
        self, picture: Picture, state: UnitState, out: dict[Rule, list[tuple[object, AlertEvent]]]
    ) -> None:
        party = picture.party
        unit = state.unit
        here = state.current
        for areas in self.areas:
            line = areas.line
            if party not in line.parties() or state.party not in line.parties():
                continue
            own = state.party
            assert own is not None
            area = areas.area_of(here.x, here.y)
            violating = area is not None and area != own
            key = (party, line.id, unit.id)
            crossing = None
            if violating and (Rule.ZONE_VIOLATION, *key) not in self.open:
                crossing = self._crossing(areas, state, own)
            self._keyed(
                Rule.ZONE_VIOLATION,
                key,
                violating,
                Severity.HIGH,
                [unit.id],
                None,
                line.id,
                (here.lon, here.lat),
                f"{unit.name} ({unit.actor}) is in {line.other(own)}'s area across {line.name}",
                out[Rule.ZONE_VIOLATION],
                figures=state.figures(),
                crossing=crossing,
            )
            distance = areas.distance(here.x, here.y)
            approaching = area == own and distance <= line.buffer_m
            self._keyed(
                Rule.LINE_APPROACH,
                key,
                approaching,
                Severity.MEDIUM,
                [unit.id],
                None,
                line.id,
                (here.lon, here.lat),
                f"{unit.name} ({unit.actor}) is {distance / 1000:.1f} km from {line.name}",
                out[Rule.LINE_APPROACH],
                figures=state.figures(),
            )

    def _crossing(self, areas: LineAreas, state: UnitState, own: str) -> Crossing | None:
        """Where the unit's path entered the other area, if it came from its own side.

        The incursion is the run of fixes in the other area that ends at the current one;
        the crossing lies between the fix before that run and the run's first fix.
        """
        trail = state.trail
        other = areas.line.other(own)
        k = len(trail) - 1
        while k > 0 and areas.area_of(trail[k - 1].x, trail[k - 1].y) == other:
            k -= 1
        if k == 0:
            return None
        before, here = trail[k - 1], trail[k]
        if areas.area_of(before.x, before.y) != own:
            return None
        meet = areas.crossing((before.x, before.y), (here.x, here.y))
        if meet is None:
            return None
        (x, y), along = meet
        lon, lat = self.theatre.unproject(x, y)
        # Whole seconds, the point to 6 decimals (docs/rules.md).
        seconds = round((before.time_us + (here.time_us - before.time_us) * along) / 1e6)
        return Crossing(lon=round(lon, 6), lat=round(lat, 6), time=from_us(seconds * 1_000_000))

    def _reach(self, state: UnitState) -> float:
        return self.settings.reach_m(state.unit.kind.value, state.equipment)

    def _threat(
        self, picture: Picture, state: UnitState, out: dict[Rule, list[tuple[object, AlertEvent]]]
    ) -> None:
        party = picture.party
        if state.party == party:
            return
        reach = self._reach(state)
        here = state.current
        unit = state.unit
        for site, (sx, sy) in self.own_sites[party]:
            distance = math.hypot(here.x - sx, here.y - sy)
            holds = reach > 0.0 and distance <= reach
            key = (party, site.id, unit.id)
            if not holds and (Rule.SITE_THREAT, *key) not in self.open:
                continue
            self._keyed(
                Rule.SITE_THREAT,
                key,
                holds,
                Severity(site.priority.value),
                [unit.id],
                site.id,
                None,
                (here.lon, here.lat),
                f"{unit.name} ({unit.actor}) is {distance / 1000:.1f} km from "
                f"{site.name}, within its {reach / 1000:.1f} km reach",
                out[Rule.SITE_THREAT],
                figures=state.figures(),
            )

    def _fresh(self, state: UnitState) -> bool:
        assert self.now_us is not None
        return (self.now_us - state.current.time_us) <= self.settings.stale_after_s * 1e6

    def _defence(self, picture: Picture, out: dict[Rule, list[tuple[object, AlertEvent]]]) -> None:
        assert self.now_us is not None
        settings = self.settings
        party = picture.party
        fresh = [
            (s.current.x, s.current.y, s.party == party, s.strength)
            for s in picture.units.values()
            if self._fresh(s)
        ]
        window_us = settings.defence_window_s * 1e6
        radius = settings.defence_radius_m
        for site, (sx, sy) in self.own_sites[party]:
            own = 0
            other = 0
            for x, y, mine, strength in fresh:
                if math.hypot(x - sx, y - sy) <= radius:
                    if mine:
                        own += strength
                    else:
                        other += strength
            samples = picture.samples.setdefault(site.id, [])
            if samples and self.now_us - samples[-1][0] < window_us / 10000:
                samples[-1] = (self.now_us, max(samples[-1][1], own))
            else:
                samples.append((self.now_us, own))
            while samples and samples[0][0] <= self.now_us - window_us:
                samples.pop(0)
            baseline = max(value for _, value in samples)
            weakened = (
                baseline >= settings.defence_min_baseline
                and own <= (1.0 - settings.defence_drop) * baseline
            )
            severity = Severity(site.priority.value)
            self._keyed(
                Rule.DEFENCE_WEAKENED,
                (party, site.id),
                weakened,
                severity,
                [],
                site.id,
                None,
                (site.lon, site.lat),
                f"{site.name}: {own} defenders within {settings.defence_radius_m / 1000:g} km, "
                f"down from {baseline}",
                out[Rule.DEFENCE_WEAKENED],
                figures=(own, baseline),
            )
            outnumbered = other >= settings.outnumbered_ratio * max(own, 1) and (
                other >= settings.defence_min_baseline
            )
            self._keyed(
                Rule.DEFENCE_OUTNUMBERED,
                (party, site.id),
                outnumbered,
                severity,
                [],
                site.id,
                None,
                (site.lon, site.lat),
                f"{site.name}: {other} others against {own} defenders within "
                f"{settings.defence_radius_m / 1000:g} km",
                out[Rule.DEFENCE_OUTNUMBERED],
                figures=(own, other),
            )

    # -- massing ------------------------------------------------------------------------

    def _members(self, picture: Picture) -> list[Member]:
        """The fresh other units of a picture, with what massing needs of each."""
        party = picture.party
        own_lines = [a for a in self.areas if party in a.line.parties()]
        out: list[Member] = []
        for state in picture.units.values():
            if state.party == party or not self._fresh(state):
                continue
            here = state.current
            line_distance = min((a.distance(here.x, here.y) for a in own_lines), default=math.inf)
            heavy = {name: state.equipment.get(name, 0) for name in HEAVY_WEAPONS}
            out.append(
                Member(
                    state.unit.id,
                    state.bloc,
                    here.x,
                    here.y,
                    here.lon,
                    here.lat,
                    state.strength,
                    heavy,
                    self._reach(state),
                    line_distance,
                )
            )
        return out

    def _massing(self, picture: Picture) -> list[AlertEvent]:
        party = picture.party
        own_sites = [self.site_xy[s.id] for s in self.sites if s.party == party]
        if not own_sites and not any(party in line.parties() for line in self.lines):
            return []
        clusters = qualifying_clusters(self._members(picture), own_sites, self.settings)
        alerts = self.massing[party]
        taken = match([a.units for a in alerts], clusters)
        events: list[AlertEvent] = []
        still_open: list[OpenAlert] = []
        for alert, index in zip(alerts, taken, strict=True):
            if index is None:
                events.append(self._event("resolved", alert, None, None, self._massing_text(None)))
                continue
            cluster = clusters[index]
            still_open.append(alert)
            severity = Severity.CRITICAL if cluster.critical else Severity.HIGH
            figures = cluster.figures()
            if (cluster.units, severity, figures) != (alert.units, alert.severity, alert.figures):
                alert.units, alert.severity, alert.figures = list(cluster.units), severity, figures
                text = self._massing_text(cluster)
                events.append(self._event("updated", alert, cluster.lon, cluster.lat, text))
        for i, cluster in enumerate(clusters):
            if i in taken:
                continue
            severity = Severity.CRITICAL if cluster.critical else Severity.HIGH
            alert = self._new_alert(Rule.FORCE_MASSING, party, severity, list(cluster.units))
            alert.figures = cluster.figures()
            still_open.append(alert)
            text = self._massing_text(cluster)
            events.append(self._event("open", alert, cluster.lon, cluster.lat, text))
        # Alerts stay in the order they opened: the matching takes the oldest first.
        self.massing[party] = still_open
        return events

    @staticmethod
    def _massing_text(cluster: Cluster | None) -> str:
        if cluster is None:
            return "The massed force has dispersed"
        return (
            f"{len(cluster.units)} units massed: {cluster.strength} personnel, "
            f"{cluster.heavy_total} tanks, artillery and rocket launchers"
        )

    def open_alerts(self) -> Iterable[OpenAlert]:
        """Every alert currently open, of every rule and party."""
        yield from self.open.values()
        for alerts in self.massing.values():
            yield from alerts
