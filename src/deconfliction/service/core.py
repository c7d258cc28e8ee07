"""The service: one engine and one store, behind plain functions the API calls."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..batch import ReportBatch, concat, from_us
from ..engine import Engine
from ..model import Actor, Line, Settings, Site, Unit, UnitKind, now_utc
from ..store.base import Ack, AlertQuery, IngestResult, Role, StoredEvent
from ..store.rows import report_keys
from ..store.sqlite import SQLiteStore
from .agreement import Agreement, apply_change
from .auth import Principal, TokenCache, new_token, token_hash
from .broker import Broker
from .errors import Conflict, Invalid, NotFound, ServiceError, Unavailable
from .incidents import Incidents
from .ingest import IngestQueue, Pending, few_plain_reports
from .inputs import (
    ParsedReports,
    RawReports,
    ReportIn,
    column_rows,
    read_rows,
    row_label,
    validate_rows,
)
from .reads import Reads
from .views import IngestAnswer, NewToken


@dataclass(frozen=True, slots=True)
class Limits:
    """Request limits; the defaults are those of the README's settings table."""

    max_body_bytes: int = 16 * 1024 * 1024
    max_reports: int = 10_000
    page_size: int = 1000


class Service(Reads, Incidents, Agreement):
    """Every operation of the API, as plain functions of a principal and validated input.

    Live (`serve`): the engine's clock is the wall clock, moved on by `tick`. Replay
    (`demo`): the clock is the latest report time, as in `scenario run`.
    """

    def __init__(
        self,
        store: SQLiteStore,
        *,
        live: bool = True,
        wall_clock: Callable[[], datetime] = now_utc,
        limits: Limits | None = None,
    ) -> None:
        self.store = store
        self.live = live
        self.limits = limits or Limits()
        self.demo_tokens: list[NewToken] | None = None
        self.lock = threading.RLock()
        self.broker = Broker()
        self.problem: str | None = None
        self._wall = wall_clock
        self._clock: datetime | None = None
        reference = store.reference()
        self.settings: Settings = reference.settings
        self.parties = {p.id: p for p in reference.parties}
        self.actors: dict[str, Actor] = {a.id: a for a in reference.actors}
        self.units: dict[str, Unit] = {u.id: u for u in reference.units}
        # units a party registered through the service are that party's alone
        self.unit_parties: dict[str, str] = store.change_parties("unit")
        self.lines: dict[str, Line] = {line.id: line for line in reference.lines}
        self.sites: dict[str, Site] = {s.id: s for s in reference.sites}
        self.engine = self._rebuild()
        store.add_listener(self.broker.committed)
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._ingest = IngestQueue(self._ingest_group)
        self._tokens = TokenCache(store)

    # the engine and its clock -------------------------------------------------------

    def _engine_clock(self) -> datetime:
        assert self._clock is not None
        return self._clock

    def _rebuild(self) -> Engine:
        """An engine fed the stored batches in their order: the alerts of the run that
        stored them, with the same ids."""
        added = self.store.logged_changes()
        engine = Engine(
            list(self.parties.values()),
            [a for a in self.actors.values() if ("actor", a.id) not in added],
            [x for x in self.lines.values() if ("line", x.id) not in added],
            [s for s in self.sites.values() if ("site", s.id) not in added],
            [u for u in self.units.values() if ("unit", u.id) not in added],
            self.settings,
            clock=self._engine_clock,
            # The store keeps resolved alerts; the engine needs only the open ones.
            keep_resolved=False,
        )
        for logged in self.store.ingest_log():
            self._set_clock(logged.clock, logged.reports, engine)
            if logged.change is not None:
                apply_change(engine, logged.change)
            elif len(logged.reports):
                engine.ingest(logged.reports)
            else:
                engine.advance()
        return engine

    def _set_clock(self, clock: datetime | None, reports: ReportBatch, engine: Engine) -> None:
        if clock is not None:
            self._clock = clock
        elif len(reports):
            latest = from_us(int(reports.time_us.max()))
            self._clock = latest if self._clock is None else max(self._clock, latest)
        elif self._clock is None:
            self._clock = engine.now or from_us(0)

    def _live_clock(self) -> datetime | None:
        """The wall clock in live mode, never behind the engine's; None in replay."""
        if not self.live:
            return None
        now = self._wall()
        if self.engine.now is not None and now < self.engine.now:
            now = self.engine.now
        return now

    def _healthy(self) -> None:
        if self.problem is not None:
            raise Unavailable(f"the service stopped taking writes: {self.problem}")

    def _failed(self, exc: BaseException) -> Unavailable:
        # The engine may now hold state the store does not: refuse writes until a
        # restart rebuilds it from the file.
        self.problem = f"{type(exc).__name__}: {exc}"
        return Unavailable(f"the service stopped taking writes: {self.problem}")

    def tick(self) -> list[StoredEvent]:
        """Move a live engine to the wall clock; store the events that raises."""
        if not self.live:
            return []
        with self.lock:
            if self.problem is not None:
                return []
            clock = self._live_clock()
            if clock is None or (self.engine.now is not None and clock <= self.engine.now):
                return []
            self._clock = clock
            try:
                events = self.engine.advance(clock)
            except Exception as exc:
                raise self._failed(exc) from exc
            if not events:
                return []
            future = self.store.submit_batch(ReportBatch.empty(), events, clock)
        return future.result()[1]

    def start(self, interval_s: float = 1.0) -> None:
        """Tick the live clock on a thread until `close`."""
        if not self.live or self._ticker is not None:
            return

        def run() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.tick()
                except ServiceError:
                    return

        self._ticker = threading.Thread(target=run, name="engine-clock", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        self._ingest.close()
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.broker.close()

    # authentication -------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal:
        return self._tokens.authenticate(authorization)

    def create_token(self, party: str, role: Role) -> NewToken:
        if party not in self.parties:
            raise Invalid.field("party", f"unknown party '{party}'")
        token = new_token()
        token_id = self.store.add_token(party, role, token_hash(token), now_utc())
        return NewToken(id=token_id, party=party, role=role, token=token)

    def issue_token(self, principal: Principal, role: Role) -> NewToken:
        principal.require(Role.ADMIN)
        return self.create_token(principal.party, role)

    def revoke_token(self, principal: Principal, token_id: int) -> None:
        principal.require(Role.ADMIN)
        mine = [t for t in self.store.tokens() if t.id == token_id and t.party == principal.party]
        if not mine:
            raise NotFound(f"no token {token_id}")
        self.store.revoke_token(token_id, now_utc())
        self._tokens.clear()

    # reports ------------------------------------------------------------------------

    def post_reports(self, principal: Principal, body: bytes, content_type: str) -> IngestAnswer:
        return self.submit_reports(principal, body, content_type).result()

    def submit_reports(
        self, principal: Principal, body: bytes, content_type: str
    ) -> Future[IngestAnswer]:
        """Validate a body of reports and queue it for the engine; the answer comes once
        the reports are committed. Refused input raises here, before anything is queued."""
        principal.require(Role.OPERATOR)
        raw = read_rows(body, content_type, self.limits.max_reports)
        if not raw.registers and not few_plain_reports(raw):
            try:
                batch = column_rows(raw, principal.party)
            except (TypeError, ValueError):
                # a value of a type the column checks do not expect (a number for an
                # id): the model names the field
                batch = None
            if batch is not None:
                self._check_columns(principal.party, raw, batch)
                return self._ingest.submit(batch, [])
        parsed = validate_rows(raw)
        register = self._registrations(principal.party, parsed)
        batch = ReportBatch.from_reports(parsed.items, default_observer=principal.party)  # type: ignore[arg-type]
        return self._ingest.submit(batch, register)

    def _check_columns(self, party: str, raw: RawReports, batch: ReportBatch) -> None:
        """Observers and units of a batch validated as columns."""
        errors: list[dict[str, str]] = []
        foreign = np.flatnonzero(batch.observer != party)
        for i in foreign[:20].tolist():
            errors.append(
                {
                    "field": row_label(raw.prefix, i, "observer"),
                    "message": f"reports enter your own picture: expected '{party}'",
                }
            )
        units = self.units
        owners = self.unit_parties
        for i, unit in enumerate(batch.unit.tolist()):
            if unit not in units or owners.get(unit, party) != party:
                errors.append(
                    {
                        "field": row_label(raw.prefix, i, "unit"),
                        "message": f"unknown unit '{unit}'; send 'actor' to register it",
                    }
                )
                if len(errors) >= 20:
                    break
        if errors:
            errors.sort(key=lambda e: _row_of(e["field"]))
            first = errors[0]
            raise Invalid(f"{first['field']}: {first['message']}", errors)

    def ingest(self, party: str, parsed: ParsedReports) -> IngestAnswer:
        """Reports into `party`'s picture: new ones through the engine, all durable."""
        items = parsed.items
        register = self._registrations(party, parsed)
        batch = ReportBatch.from_reports(items, default_observer=party)  # type: ignore[arg-type]
        return self.ingest_batch(batch, register)

    def ingest_batch(self, batch: ReportBatch, register: list[Unit] | None = None) -> IngestAnswer:
        """A batch of checked reports (known units and observers) through the engine;
        returns once it is committed."""
        return self._ingest.submit(batch, register or []).result()

    def _ingest_group(self, group: list[Pending]) -> None:
        """Run the new reports of a group of requests through the engine at once."""
        with self.lock:
            if self.problem is not None:
                error = Unavailable(f"the service stopped taking writes: {self.problem}")
                for pending in group:
                    pending.answer.set_exception(error)
                return
            news: list[ReportBatch] = []
            seen: set[tuple[str, str]] = set()
            taken: list[Pending] = []
            for pending in group:
                try:
                    # a batch with units to register passed `_registrations`: one observer
                    party = str(pending.batch.observer[0]) if pending.register else ""
                    for unit in pending.register:
                        clash = self.unit_clash(party, unit.id, unit.actor, unit.kind, unit.name)
                        if clash is not None:
                            raise Conflict(f"unit: {clash}", [{"field": "unit", "message": clash}])
                        if unit.id not in self.units:
                            self._change(unit, party)
                except ServiceError as exc:
                    # one request's refused unit is its own answer, not its group's
                    pending.answer.set_exception(exc)
                    continue
                taken.append(pending)
                new = self.store.new_reports(pending.batch)
                ids = report_keys(new)
                if seen.intersection(ids):
                    keep = [i for i, rid in enumerate(ids) if rid not in seen]
                    new = new.take(np.asarray(keep, dtype=np.intp))
                    ids = report_keys(new)
                seen.update(ids)
                news.append(new)
            group = taken
            merged = concat(news)
            if not len(merged):
                for pending in group:
                    answer = IngestAnswer(accepted=0, duplicates=len(pending.batch), events=0)
                    pending.answer.set_result(answer)
                return
            clock = self._live_clock()
            self._set_clock(clock, merged, self.engine)
            try:
                events = self.engine.ingest(merged)
            except Exception as exc:
                # Nothing of the group is stored: the engine is rebuilt without it, then
                # each request goes alone, so that only the one it fails on is refused.
                refused = self._refused_reports(exc)
                if len(group) == 1 or isinstance(refused, Unavailable):
                    for pending in group:
                        pending.answer.set_exception(refused)
                    return
                for pending in group:
                    self._ingest_group([pending])
                return
            # `seen` holds the (observer, id) of every row of `merged`
            future = self.store.submit_batch(merged, events, clock, keys=seen)

        def reply(done: Future[tuple[IngestResult, list[StoredEvent]]]) -> None:
            error = done.exception()
            for pending, new in zip(group, news, strict=True):
                if error is not None:
                    pending.answer.set_exception(self._failed(error))
                else:
                    pending.answer.set_result(
                        IngestAnswer(
                            accepted=len(new),
                            duplicates=len(pending.batch) - len(new),
                            events=len(events),
                        )
                    )

        # The next group goes through the engine while this one commits.
        future.add_done_callback(reply)

    def unit_known(self, party: str, unit_id: str) -> bool:
        """Whether `party` may report on a unit: one of the agreement's, or its own."""
        return unit_id in self.units and self.unit_parties.get(unit_id, party) == party

    def unit_clash(
        self, party: str, unit_id: str, actor: str, kind: str | None, name: str | None
    ) -> str | None:
        """Why `party` may not register this unit, when the id is already taken.

        Another party's unit answers as any other definition does, so that a party
        cannot tell whose id it hit."""
        existing = self.units.get(unit_id)
        if existing is None:
            return None
        if (
            self.unit_parties.get(unit_id, party) != party
            or existing.actor != actor
            or (kind is not None and existing.kind != kind)
            or (name is not None and existing.name != name)
        ):
            return f"a unit '{unit_id}' exists with another definition; use another id"
        return None

    def _registrations(self, party: str, parsed: ParsedReports) -> list[Unit]:
        errors: list[dict[str, str]] = []
        conflicts: list[dict[str, str]] = []
        register: dict[str, Unit] = {}
        for i, item in enumerate(parsed.items):
            if item.observer is not None and item.observer != party:
                errors.append(
                    {
                        "field": parsed.label(i, "observer"),
                        "message": f"reports enter your own picture: expected '{party}'",
                    }
                )
            if item.unit in register:
                continue
            if item.actor is not None and item.unit in self.units:
                clash = self.unit_clash(party, item.unit, item.actor, item.kind, item.name)
                if clash is not None:
                    conflicts.append({"field": parsed.label(i, "unit"), "message": clash})
                continue
            if self.unit_known(party, item.unit):
                continue
            if item.actor is None:
                errors.append(
                    {
                        "field": parsed.label(i, "unit"),
                        "message": f"unknown unit '{item.unit}'; send 'actor' to register it",
                    }
                )
            elif item.actor not in self.actors:
                errors.append(
                    {
                        "field": parsed.label(i, "actor"),
                        "message": f"unknown actor '{item.actor}'",
                    }
                )
            else:
                register[item.unit] = _new_unit(item)
            if len(errors) >= 20:
                break
        if errors:
            first = errors[0]
            raise Invalid(f"{first['field']}: {first['message']}", errors)
        if conflicts:
            first = conflicts[0]
            raise Conflict(f"{first['field']}: {first['message']}", conflicts[:20])
        return list(register.values())

    def _refused_reports(self, exc: Exception) -> ServiceError:
        """Reports the engine could not take, refused as `_refused` refuses a change."""
        try:
            self.engine = self._rebuild()
        except Exception:
            return self._failed(exc)
        return Invalid.field("body", f"cannot be applied: {type(exc).__name__}: {exc}")

    def ack(self, principal: Principal, alert_id: str, by: str | None) -> None:
        principal.require(Role.OPERATOR)
        if self.store.alert(principal.party, alert_id) is None:
            raise NotFound(f"no alert '{alert_id}'")
        who = by or principal.label
        self.store.add_ack(Ack(alert_id, principal.party, who, now_utc()))

    def alerts_query(self, principal: Principal, **filters: object) -> AlertQuery:
        return AlertQuery(party=principal.party, **filters)  # type: ignore[arg-type]


def _row_of(field: str) -> int:
    digits = "".join(c if c.isdigit() else " " for c in field).split()
    return int(digits[0]) if digits else 0


def _new_unit(item: ReportIn) -> Unit:
    return Unit(
        id=item.unit,
        name=item.name or item.unit,
        actor=item.actor or "",
        kind=item.kind or UnitKind.OTHER,
        strength=item.strength or 0,
        equipment=item.equipment or {},
    )
