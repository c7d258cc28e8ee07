"""The engine: batches of reports in, alert events out, one picture per observer party."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime

import numpy as np

from .batch import ReportBatch, from_us, to_us
from .geo import LineGeometry, Projection
from .lifecycle import AlertBook
from .model import (
    Actor,
    Alert,
    AlertEvent,
    AlertState,
    Line,
    Party,
    Rule,
    Scenario,
    Settings,
    Site,
    Unit,
)
from .picture import Applied, Picture, Roster, UnitState, UnknownUnitError
from .rules import Context, SiteTable, Watch, defence, massing, threat, zones

__all__ = ["Engine", "EngineError", "Extension", "UnknownUnitError"]

Extension = Callable[["Engine", int], list[AlertEvent]]
"""A rule family from outside the engine (the hotline's timers): called with the clock
after every evaluation, it returns the alert events it raised through `engine.book`."""


class EngineError(ValueError):
    """A batch or an agreement change the engine cannot take; nothing was applied."""


class Engine:
    """Every party's picture and watch over one agreement."""

    def __init__(
        self,
        parties: Sequence[Party],
        actors: Sequence[Actor],
        lines: Sequence[Line],
        sites: Sequence[Site],
        units: Sequence[Unit],
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        live: bool = False,
        first_alert: int = 1,
        keep_resolved: bool = True,
        observers: Collection[str] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.parties = list(parties)
        # The parties whose pictures this engine keeps and evaluates: all of them, or
        # (a replay split across processes) some. Reports of the others are checked and
        # passed over.
        known = {p.id for p in self.parties}
        unknown = sorted(set(observers or ()) - known)
        if unknown:
            raise EngineError(f"observers: unknown party '{unknown[0]}'")
        kept = known if observers is None else set(observers)
        self.observers = [p for p in self.parties if p.id in kept]
        self._kept = frozenset(p.id for p in self.observers)
        self.lines: dict[str, Line] = {}
        self.sites: dict[str, Site] = {}
        self.roster = Roster(self.parties, list(actors), self.settings)
        for unit in units:
            self._check_unit(unit)
        self.roster.add_units(units)
        for line in lines:
            self._check_line(line)
            self.lines[line.id] = line
        for site in sites:
            self._check_site(site)
            self.sites[site.id] = site
        self.book = AlertBook(next_number=first_alert, keep_resolved=keep_resolved)
        self.extensions: list[Extension] = []
        self._clock = clock
        self._live = live
        self._now_us: int | None = None
        self._last_massing = float("-inf")
        self.projection = Projection.for_theatre(self._anchor_points())
        self._pictures = {p.id: Picture(p.id, self.roster, self.projection) for p in self.parties}
        self._watches = {p.id: Watch() for p in self.parties}
        self._geometries: dict[str, LineGeometry] = {}
        self._contexts: dict[str, Context] = {}
        self._party_rank = {p.id: i for i, p in enumerate(self.parties)}
        self._site_tables: dict[str, SiteTable] = {}
        self._build_geometry()
        # The compiled matching, ready before the first report rather than on it.
        massing.warm()

    @classmethod
    def from_scenario(cls, scenario: Scenario, **kwargs: object) -> Engine:
        return cls(
            scenario.parties,
            scenario.actors,
            scenario.lines,
            scenario.sites,
            scenario.units,
            scenario.settings,
            **kwargs,  # type: ignore[arg-type]
        )

    # The clock ---------------------------------------------------------------------------

    @property
    def now(self) -> datetime | None:
        return None if self._now_us is None else from_us(self._now_us)

    @property
    def now_us(self) -> int | None:
        return self._now_us

    def _tick(self, latest_us: int | None) -> int:
        if self._clock is not None:
            now = to_us(self._clock())
        else:
            now = latest_us if latest_us is not None else (self._now_us or 0)
        if self._now_us is None or now > self._now_us:
            self._now_us = now
        return self._now_us

    # Reports -----------------------------------------------------------------------------

    def ingest(self, batch: ReportBatch) -> list[AlertEvent]:
        """Apply a batch of reports, then evaluate every rule once."""
        if not len(batch):
            return self.advance(self.now)
        if len(batch) == 1:
            return self._ingest_one(batch)
        units = self.roster.indices(batch.unit)
        rank = self._party_rank
        try:
            observer = np.fromiter(map(rank.__getitem__, batch.observer), np.int64, len(batch))
        except KeyError as exc:
            raise EngineError(f"unknown observer party '{exc.args[0]}'") from None
        reported = np.bincount(observer, minlength=len(self.parties))
        now_us = self._tick(int(batch.time_us.max()))
        applied: dict[str, Applied] = {}
        for i, party in enumerate(self.parties):
            if not reported[i] or party.id not in self._kept:
                continue
            picture = self._pictures[party.id]
            if reported[i] == len(batch):
                applied[party.id] = picture.apply(batch, units)
            else:
                rows = np.flatnonzero(observer == i)
                applied[party.id] = picture.apply(batch, units[rows], rows)
        return self._evaluate(now_us, applied, massing_due=self._massing_due())

    def _ingest_one(self, batch: ReportBatch) -> list[AlertEvent]:
        """The live path: one report, scalar work for its unit, the same rules as `ingest`."""
        unit_id = batch.unit[0]
        unit = self.roster.unit_index.get(unit_id)
        if unit is None:
            raise UnknownUnitError(str(unit_id))
        observer = batch.observer[0]
        picture = self._pictures.get(observer)
        if picture is None:
            raise EngineError(f"unknown observer party '{observer}'")
        now_us = self._tick(int(batch.time_us[0]))
        one = picture.apply_one(batch, unit) if observer in self._kept else None
        massing_due = self._massing_due()
        events: list[AlertEvent] = []
        nothing = _NOTHING
        for party in self.observers:
            ctx = self._context(party.id, now_us, None)
            touched = nothing
            distance = None
            if one is not None and party.id == observer:
                touched = np.array([unit], dtype=np.int64)
                distance = ctx.sites.distances(float(picture.x[unit]), float(picture.y[unit]))
                massing.refresh_one(ctx, unit, distance)
                events += zones.evaluate_one(ctx, one)
                events += threat.evaluate_one(ctx, one, distance)
            if massing_due:
                events += massing.evaluate(ctx)
            events += defence.evaluate(ctx, touched, distance)
        for extension in self.extensions:
            events += extension(self, now_us)
        return _ordered(events, self._party_rank)

    def advance(self, now: datetime | None = None) -> list[AlertEvent]:
        """Move the clock without reports (live mode, or a replay's scripted events)."""
        latest = None if now is None else to_us(now)
        now_us = self._tick(latest)
        self._last_massing = float("-inf")
        return self._evaluate(now_us, {}, massing_due=True)

    def _massing_due(self) -> bool:
        if not self._live:
            return True
        now = time.monotonic()
        if now - self._last_massing >= self.settings.live_massing_interval_s:
            self._last_massing = now
            return True
        return False

    def _evaluate(
        self, now_us: int, applied: dict[str, Applied], *, massing_due: bool
    ) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        for party in self.observers:
            ctx = self._context(party.id, now_us, applied.get(party.id))
            if ctx.applied.units.size:
                massing.refresh_flags(ctx, ctx.applied.units)
                events += zones.evaluate(ctx)
                events += threat.evaluate(ctx)
            if massing_due:
                events += massing.evaluate(ctx)
            events += defence.evaluate(ctx, ctx.applied.units)
        for extension in self.extensions:
            events += extension(self, now_us)
        return _ordered(events, self._party_rank)

    def _context(self, party: str, now_us: int, applied: Applied | None) -> Context:
        picture = self._pictures[party]
        picture.grow()
        cached = self._contexts.get(party)
        # A context is fitted to the roster's size: a unit added since needs a refit.
        if cached is not None and cached.watch.near.shape[0] == len(self.roster):
            cached.now_us = now_us
            cached.applied = applied or _nothing_applied()
            return cached
        lines = [g for g in self._geometries.values() if party in g.line.parties()]
        sites = self._site_tables[party]
        watch = self._watches[party]
        watch.fit(picture.capacity, [g.line.id for g in lines], len(sites))
        self._contexts[party] = Context(
            party=party,
            party_index=self.roster.party_index[party],
            picture=picture,
            roster=self.roster,
            lines=lines,
            sites=sites,
            settings=self.settings,
            book=self.book,
            watch=watch,
            now_us=now_us,
            applied=applied or _nothing_applied(),
        )
        return self._contexts[party]

    # Reading -----------------------------------------------------------------------------

    def picture(self, party: str) -> PictureView:
        if party not in self._pictures:
            raise KeyError(party)
        return PictureView(self, self._pictures[party])

    def alerts(self, party: str | None = None, open_only: bool = True) -> list[Alert]:
        """Alerts in the order they opened; one party's, or everyone's."""
        # Open alerts are a small part of all the book has held: read them alone when asked.
        pool = self.book.open.values() if open_only else self.book.by_id.values()
        found = [
            a
            for a in pool
            if (party is None or a.party == party) and (not open_only or a.state == AlertState.OPEN)
        ]
        return sorted(found, key=lambda a: int(a.id.removeprefix("a-")))

    def open_alert_count(self, party: str) -> int:
        """How many of the party's alerts are open, without listing them."""
        return self.book.open_count(party)

    def geometry(self, line: str) -> LineGeometry:
        return self._geometries[line]

    # The agreement -----------------------------------------------------------------------

    def add_actor(self, actor: Actor) -> None:
        if actor.party is not None and actor.party not in self.roster.party_index:
            raise EngineError(f"actor '{actor.id}': unknown party '{actor.party}'")
        self.roster.add_actor(actor)

    def add_unit(self, unit: Unit) -> None:
        self._check_unit(unit)
        known = self.roster.unit_index.get(unit.id)
        party = None if known is None else int(self.roster.unit_party[known])
        index = self.roster.add_unit(unit)
        for picture in self._pictures.values():
            picture.grow()
            picture.reset_catalogue(index)
        if party is not None and party != int(self.roster.unit_party[index]):
            # The defence sums hold the unit on its old side: count them afresh.
            for watch in self._watches.values():
                watch.own_sum = None

    def add_line(self, line: Line) -> list[AlertEvent]:
        """Add or replace a line; alerts it raises on the current pictures are returned."""
        self._check_line(line)
        previous = self.lines.get(line.id)
        self.lines[line.id] = line
        try:
            self._build_geometry()
        except ValueError:
            if previous is None:
                del self.lines[line.id]
            else:
                self.lines[line.id] = previous
            self._build_geometry()
            raise
        return self._reevaluate()

    def add_site(self, site: Site) -> list[AlertEvent]:
        """Add or replace a site; alerts it raises on the current pictures are returned."""
        self._check_site(site)
        self.sites[site.id] = site
        self._build_geometry()
        return self._reevaluate()

    def _check_unit(self, unit: Unit) -> None:
        if unit.actor not in self.roster.actors:
            raise EngineError(f"unit '{unit.id}': unknown actor '{unit.actor}'")

    def _check_line(self, line: Line) -> None:
        for side in (line.left, line.right):
            if side not in self.roster.party_index:
                raise EngineError(f"line '{line.id}': unknown party '{side}'")

    def _check_site(self, site: Site) -> None:
        if site.party not in self.roster.party_index:
            raise EngineError(f"site '{site.id}': unknown party '{site.party}'")

    def _anchor_points(self) -> Iterable[tuple[float, float]]:
        points = [c for line in self.lines.values() for c in line.coordinates]
        if not points:
            points = [(s.lon, s.lat) for s in self.sites.values()]
        return points

    def _build_geometry(self) -> None:
        self._contexts.clear()
        projection = Projection.for_theatre(self._anchor_points())
        if projection.epsg != self.projection.epsg:
            self.projection = projection
            for picture in self._pictures.values():
                picture.projection = projection
                seen = np.flatnonzero(picture.seen)
                picture.x[seen], picture.y[seen] = projection.forward(
                    picture.lon[seen], picture.lat[seen]
                )
        self._geometries = {
            line.id: LineGeometry.build(
                line, self.projection, self.settings.theatre_margin_m, self.settings.densify_m
            )
            for line in self.lines.values()
        }
        for party in self.parties:
            own = [s for s in self.sites.values() if s.party == party.id]
            x, y = self.projection.forward(
                np.array([s.lon for s in own], dtype=np.float64),
                np.array([s.lat for s in own], dtype=np.float64),
            )
            self._site_tables[party.id] = SiteTable(own, x, y)
            watch = self._watches[party.id]
            # Site indices may have moved: rebuild the threat keys from the open alerts.
            index = {s.id: i for i, s in enumerate(own)}
            n_sites = max(len(own), 1)
            keys = [
                int(key[3]) * n_sites + index[str(key[2])]  # type: ignore[call-overload]
                for key in self.book.keys(Rule.SITE_THREAT, party.id)
                if key[2] in index
            ]
            watch.threat_keys = np.sort(np.array(keys, dtype=np.int64))
            watch.defence_times.clear()
            watch.defence_samples.clear()
            watch.defence_max = None
            watch.own_sum = None
            watch.last_figures = None
            watch.other_sum = None
            watch.weakened = np.zeros(len(own), dtype=bool)
            watch.outnumbered = np.zeros(len(own), dtype=bool)
            for rule in (Rule.DEFENCE_WEAKENED, Rule.DEFENCE_OUTNUMBERED):
                table = watch.weakened if rule == Rule.DEFENCE_WEAKENED else watch.outnumbered
                for key in self.book.keys(rule, party.id):
                    if key[2] in index:
                        table[index[key[2]]] = True

    def _reevaluate(self) -> list[AlertEvent]:
        """Evaluate every seen unit again after the agreement changed."""
        if self._now_us is None:
            return []
        applied = {}
        for party, picture in self._pictures.items():
            picture.grow()
            seen = np.flatnonzero(picture.seen)
            applied[party] = _everything(seen, picture)
        return self._evaluate(self._now_us, applied, massing_due=True)


class PictureView:
    """A read-only view of one party's picture at the engine's clock."""

    def __init__(self, engine: Engine, picture: Picture) -> None:
        self._engine = engine
        self._picture = picture

    @property
    def party(self) -> str:
        return self._picture.party

    def units(self) -> list[UnitState]:
        return self._picture.units(self._engine.now_us or 0)

    def unit(self, unit_id: str) -> UnitState | None:
        index = self._engine.roster.unit_index.get(unit_id)
        if index is None or index >= self._picture.capacity or not self._picture.seen[index]:
            return None
        return self._picture.state(index, self._engine.now_us or 0)


_NOTHING = np.zeros(0, dtype=np.int64)

_RULE_RANK = {rule: i for i, rule in enumerate(Rule)}

# What orders one rule's events within an evaluation (docs/rules.md): 0 nothing (massing
# keeps its matching order), 1 the line then the units, 2 the message, 3 the site then
# the units.
_KEY_KIND = {
    rule: 0
    if rule == Rule.FORCE_MASSING
    else 1
    if rule in (Rule.LINE_APPROACH, Rule.ZONE_VIOLATION)
    else 2
    if rule in (Rule.HOTLINE_UNACKNOWLEDGED, Rule.NOTIFICATION_CONFLICT)
    else 3
    for rule in Rule
}


def _ordered(events: list[AlertEvent], party_rank: dict[str, int]) -> list[AlertEvent]:
    """An evaluation's events by party, rule, then key (docs/rules.md).

    Massing alerts keep the order the matching produced them in (oldest alert first,
    then new clusters by their first unit), which is already their key order.
    """
    if len(events) < 2:
        return events
    last = len(party_rank)
    rank, kinds = _RULE_RANK, _KEY_KIND

    def key(e: AlertEvent) -> tuple[int, int, tuple[str, ...]]:
        rule = e.rule
        kind = kinds[rule]
        if kind == 0:
            sub: tuple[str, ...] = ()
        elif kind == 1:
            sub = (e.line or "", *e.units)
        elif kind == 2:
            sub = (e.ref or "",)
        else:
            sub = (e.site or "", *e.units)
        return (party_rank.get(e.party, last), rank[rule], sub)

    return sorted(events, key=key)


def _nothing_applied() -> Applied:
    return _NOTHING_APPLIED


def _empty_applied() -> Applied:
    i = np.zeros(0, dtype=np.int64)
    f = np.zeros(0, dtype=np.float64)
    b = np.zeros(0, dtype=bool)
    return Applied(i, b, f, f, i, b, i, i, f, f, i)


_NOTHING_APPLIED = _empty_applied()


def _everything(seen: np.ndarray, picture: Picture) -> Applied:
    b = np.zeros(seen.size, dtype=bool)
    return Applied(
        units=seen.astype(np.int64),
        prev_seen=b,
        prev_x=picture.x[seen],
        prev_y=picture.y[seen],
        prev_t=picture.t_us[seen],
        figures_changed=b,
        rows=np.zeros(0, dtype=np.int64),
        row_units=np.zeros(0, dtype=np.int64),
        row_x=np.zeros(0, dtype=np.float64),
        row_y=np.zeros(0, dtype=np.float64),
        row_t=np.zeros(0, dtype=np.int64),
    )
