"""The gateway's seam over the running service: the same ingest path as the HTTP API
(durable before it returns), the engine's pictures, and the store's commits as changes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..model import Actor, AlertEvent, Unit
from .seam import ChangeListener, CotIngestResult, PartyView, party_view

if TYPE_CHECKING:
    from ..batch import ReportBatch
    from ..service.core import Service
    from ..store.base import StoredEvent


class ServiceSeam:
    """`CotService` over `deconfliction.service.core.Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._listeners: list[tuple[ChangeListener, asyncio.AbstractEventLoop]] = []
        self.accepted = 0
        """Reports made durable through this seam (not counting duplicates)."""
        self._accepted_lock = threading.Lock()
        self._reference = self._reference_key()
        service.store.add_listener(self._committed)

    def actors(self) -> Sequence[Actor]:
        return list(self.service.actors.values())

    async def ingest_cot(
        self, party: str, batch: ReportBatch, units: Sequence[Unit]
    ) -> CotIngestResult:
        return await asyncio.to_thread(self._ingest, party, batch, units)

    def _ingest(self, party: str, batch: ReportBatch, units: Sequence[Unit]) -> CotIngestResult:
        from ..service.errors import ServiceError

        service = self.service
        rejected: list[str] = []
        register: dict[str, Unit] = {}
        refused: set[str] = set()
        for unit in units:
            if unit.id in register:
                continue
            if unit.id in service.units:
                # An atom's type gives its own guess of a known unit's actor and kind: only
                # another party's unit is refused, as a different definition would be.
                if not service.unit_known(party, unit.id):
                    refused.add(unit.id)
                    clash = service.unit_clash(party, unit.id, unit.actor, unit.kind, unit.name)
                    rejected.append(f"unit {unit.id}: {clash}")
                continue
            if unit.actor not in service.actors:
                rejected.append(f"unit {unit.id}: unknown actor '{unit.actor}'")
                continue
            register[unit.id] = unit
        changed = set(batch.unit.tolist())
        # another party's unit answers as an unknown one: its ids are not to be probed
        mine = {
            u
            for u in changed
            if u in register or (u not in refused and service.unit_known(party, u))
        }
        if changed - mine:
            known = np.fromiter(
                (u in mine for u in batch.unit.tolist()),
                dtype=bool,
                count=len(batch),
            )
            for i in np.flatnonzero(~known).tolist()[:20]:
                rejected.append(f"report {batch.report_id[i]}: unknown unit '{batch.unit[i]}'")
            batch = batch.take(np.flatnonzero(known))
            changed = set(batch.unit.tolist())
        if party not in service.parties:
            return CotIngestResult(0, 0, [f"observer: unknown party '{party}'"])
        if not len(batch):
            return CotIngestResult(0, 0, rejected)
        try:
            # A client's reports mostly come in time order: no need to reorder them then.
            times = batch.time_us
            ordered = batch if bool(np.all(times[1:] >= times[:-1])) else batch.sorted_by_time()
            answer = service.ingest_batch(ordered, list(register.values()))
        except ServiceError as exc:
            return CotIngestResult(0, 0, [*rejected, exc.message])
        with self._accepted_lock:
            self.accepted += answer.accepted
        for listener, loop in list(self._listeners):
            loop.call_soon_threadsafe(listener.units, party, changed)
        return CotIngestResult(answer.accepted, answer.duplicates, rejected)

    async def view(self, party: str, unit_ids: Collection[str] | None = None) -> PartyView:
        return await asyncio.to_thread(self._view, party, unit_ids)

    def _view(self, party: str, unit_ids: Collection[str] | None) -> PartyView:
        service = self.service
        with service.lock:
            return party_view(
                party,
                service.engine.picture(party),
                list(service.lines.values()),
                list(service.sites.values()),
                unit_ids,
            )

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        entry = (listener, asyncio.get_running_loop())
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry)

    def _reference_key(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        service = self.service
        return (frozenset(service.lines), frozenset(service.sites), frozenset(service.actors))

    def _committed(self, stored: list[StoredEvent]) -> None:
        """On the store's writer thread, after each commit."""
        events: list[AlertEvent] = [s.event for s in stored]
        for listener, loop in list(self._listeners):
            try:
                if events:
                    loop.call_soon_threadsafe(listener.alerts, events)
                # The service records a new line or site just after its commit returns.
                loop.call_soon_threadsafe(loop.call_later, 0.05, self._check_reference)
            except RuntimeError:
                continue  # that loop has closed; its gateway is gone

    def _check_reference(self) -> None:
        reference = self._reference_key()
        if reference == self._reference:
            return
        self._reference = reference
        for listener, _ in list(self._listeners):
            listener.reference()
