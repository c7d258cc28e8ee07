"""The storage interface: what the service needs from a database, and nothing more.

SQLite is the default backend; a PostGIS sibling implements the same protocol and
differs only in the spatial queries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ..batch import ReportBatch
from ..model import (
    Actor,
    Alert,
    AlertEvent,
    AlertState,
    Incident,
    Line,
    Party,
    Report,
    Settings,
    Site,
    Unit,
)


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """How many reports of a batch were stored, and how many were already there."""

    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An alert event with its place in the observer party's event sequence."""

    seq: int
    event: AlertEvent


@dataclass(frozen=True, slots=True)
class Ack:
    alert: str
    party: str
    who: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    party: str
    role: Role
    created: datetime
    revoked: datetime | None


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Filters of an alert listing; `after` is the cursor (the last id of a page)."""

    party: str
    state: AlertState | None = None
    rule: str | None = None
    severity: str | None = None
    since: datetime | None = None
    after: int | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class AlertPage:
    """A page of alerts; `next_after` is the cursor of the next page, None on the last."""

    alerts: list[Alert]
    next_after: int | None


@dataclass(frozen=True, slots=True)
class LoggedBatch:
    """One committed batch: the engine clock it was ingested at (None in replay, where
    the clock follows the reports) and its reports, possibly none."""

    number: int
    clock: datetime | None
    reports: ReportBatch
    change: Change | None = None


Change = Unit | Line | Site | Actor
"""An addition to the agreement made while the service runs."""


@dataclass(frozen=True, slots=True)
class Reference:
    """The agreement and the forces: everything an engine is built from."""

    parties: list[Party]
    actors: list[Actor]
    units: list[Unit]
    lines: list[Line]
    sites: list[Site]
    settings: Settings


class Store(Protocol):
    """Durable state of the service. Every write is committed when the call returns."""

    # reference data
    def put_reference(self, reference: Reference) -> None: ...
    def reference(self) -> Reference: ...
    def put_party(self, party: Party) -> None: ...
    def put_actor(self, actor: Actor) -> None: ...
    def put_unit(self, unit: Unit) -> None: ...
    def put_units(self, units: Sequence[Unit]) -> None: ...
    def put_line(self, line: Line) -> None: ...
    def put_site(self, site: Site) -> None: ...

    # reports and alerts
    def new_reports(self, batch: ReportBatch) -> ReportBatch: ...
    def commit_batch(
        self, batch: ReportBatch, events: list[AlertEvent], clock: datetime | None = None
    ) -> IngestResult: ...
    def submit_batch(
        self, batch: ReportBatch, events: list[AlertEvent], clock: datetime | None = None
    ) -> Future[tuple[IngestResult, list[StoredEvent]]]: ...
    def commit_change(
        self, change: Change, events: list[AlertEvent], clock: datetime | None = None
    ) -> list[StoredEvent]: ...
    def report_batches(self) -> Iterator[ReportBatch]: ...
    def ingest_log(self) -> Iterator[LoggedBatch]: ...
    def report_count(self, observer: str | None = None) -> int: ...
    def track(
        self, party: str, unit: str, since: datetime | None, until: datetime | None
    ) -> list[Report]: ...
    def latest_reports(self, party: str, at: datetime) -> list[Report]: ...
    def alerts(self, query: AlertQuery) -> AlertPage: ...
    def alerts_at(self, party: str, at: datetime) -> list[Alert]: ...
    def alert(self, party: str, alert_id: str) -> Alert | None: ...
    def alert_events(self, party: str, alert_id: str) -> list[StoredEvent]: ...
    def events_since(self, party: str, seq: int, limit: int = 1000) -> list[StoredEvent]: ...
    def last_event_seq(self, party: str) -> int: ...
    def add_ack(self, ack: Ack) -> None: ...
    def acks(self, party: str, alert_id: str) -> list[Ack]: ...

    # incidents
    def put_incident(self, incident: Incident) -> None: ...
    def incidents(self, party: str) -> list[Incident]: ...
    def incident(self, party: str, incident_id: str) -> Incident | None: ...

    # tokens
    def put_settings(self, settings: Settings) -> None: ...
    def add_token(self, party: str, role: Role, token_hash: str, created: datetime) -> int: ...
    def token_by_hash(self, token_hash: str) -> tuple[Token, str] | None: ...
    def tokens(self) -> list[Token]: ...
    def revoke_token(self, token_id: int, at: datetime) -> bool: ...

    def close(self) -> None: ...
