"""The agreement: lines, sites, units and actors added while the service runs."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

import numpy as np

from ..engine import Engine, EngineError
from ..model import Actor, AlertEvent, Line, Party, Site, Unit
from ..store.base import Change, Role, StoredEvent
from ..store.sqlite import SQLiteStore
from .auth import Principal
from .errors import Conflict, Invalid, ServiceError, Unavailable
from .views import SiteIn


class _Running(Protocol):
    """What the agreement's operations use of the running service."""

    engine: Engine
    store: SQLiteStore
    lock: threading.RLock
    parties: dict[str, Party]
    actors: dict[str, Actor]
    units: dict[str, Unit]
    unit_parties: dict[str, str]
    lines: dict[str, Line]
    sites: dict[str, Site]
    _clock: datetime | None

    def _live_clock(self) -> datetime | None: ...
    def _rebuild(self) -> Engine: ...
    def _failed(self, exc: BaseException) -> Unavailable: ...
    def _healthy(self) -> None: ...
    def _change(self, change: Change, party: str | None = None) -> list[StoredEvent]: ...
    def _refused(self, change: Change, exc: Exception) -> ServiceError: ...
    def _check_projectable(self, site: Site) -> None: ...


class Agreement:
    """The agreement half of the service's writes (a part of `Service`)."""

    _clock: datetime | None

    def _change(self: _Running, change: Change, party: str | None = None) -> list[StoredEvent]:
        """Apply an agreement change to the engine and log it; call with the lock held.
        `party` is the one party that added it, if one did."""
        if isinstance(change, Site):
            self._check_projectable(change)
        clock = self._live_clock()
        if clock is not None:
            self._clock = clock
        try:
            events = apply_change(self.engine, change)
        except EngineError as exc:
            raise Invalid.field("body", str(exc)) from None
        except ValueError as exc:
            if isinstance(change, Line):
                # the engine put the lines back as they were before refusing this one
                raise Invalid.field("body.coordinates", str(exc)) from None
            raise self._refused(change, exc) from exc
        except Exception as exc:
            raise self._refused(change, exc) from exc
        try:
            stored = self.store.commit_change(change, events, clock, party)
        except Exception as exc:
            raise self._failed(exc) from exc
        if isinstance(change, Unit):
            self.units[change.id] = change
            if party is not None:
                self.unit_parties[change.id] = party
        elif isinstance(change, Line):
            self.lines[change.id] = change
        elif isinstance(change, Site):
            self.sites[change.id] = change
        else:
            self.actors[change.id] = change
        return stored

    def _refused(self: _Running, change: Change, exc: Exception) -> ServiceError:
        """One request's change the engine could not apply: refused as that request's
        own error. The engine may hold part of it, so it is rebuilt from the store, which
        never saw the change; only if that fails too do writes stop."""
        try:
            self.engine = self._rebuild()
        except Exception:
            return self._failed(exc)
        fields: dict[type, str] = {Line: "body.coordinates", Unit: "unit"}
        field = fields.get(type(change), "body")
        return Invalid.field(field, f"cannot be applied: {type(exc).__name__}: {exc}")

    def _check_projectable(self: _Running, site: Site) -> None:
        x, y = self.engine.projection.forward(
            np.array([site.lon], dtype=np.float64), np.array([site.lat], dtype=np.float64)
        )
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise Invalid.field(
                "body.lon", "the site is too far from the theatre to be placed in its projection"
            )

    def add_line(self: _Running, principal: Principal, line: Line) -> Line:
        principal.require(Role.ADMIN)
        for side in ("left", "right"):
            if getattr(line, side) not in self.parties:
                raise Invalid.field(f"body.{side}", f"unknown party '{getattr(line, side)}'")
        if principal.party not in line.parties():
            raise Invalid.field("body.left", f"one side of the line must be '{principal.party}'")
        with self.lock:
            self._healthy()
            if line.id in self.lines:
                raise Conflict(f"a line '{line.id}' exists")
            self._change(line)
        return line

    def add_site(self: _Running, principal: Principal, data: SiteIn) -> Site:
        principal.require(Role.OPERATOR)
        if data.party is not None and data.party != principal.party:
            raise Invalid.field("body.party", f"a site you add is '{principal.party}''s")
        site = Site(**{**data.model_dump(), "party": principal.party})
        with self.lock:
            self._healthy()
            if site.id in self.sites:
                raise Conflict(f"a site '{site.id}' exists")
            self._change(site)
        return site


def apply_change(engine: Engine, change: Change) -> list[AlertEvent]:
    """One agreement change into the engine; the alerts it raises on the pictures."""
    if isinstance(change, Unit):
        engine.add_unit(change)
        return []
    if isinstance(change, Line):
        return engine.add_line(change)
    if isinstance(change, Site):
        return engine.add_site(change)
    engine.add_actor(change)
    return []
