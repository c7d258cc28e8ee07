"""An in-process implementation of the gateway's seam over the rule engine: units
registered on first sight, reports deduplicated by id, alerts published after each batch.

The service does the same with a durable store in between; this sink serves the gateway
where there is no store (tests, benchmarks, a quick look with `cot` tools).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np

from ..batch import ReportBatch
from ..engine import Engine, EngineError
from ..model import Actor, AlertEvent, Line, Unit
from .seam import ChangeListener, CotIngestResult, PartyView, party_view


class PictureSink:
    """The seam over an `Engine`: every party's picture and alerts, in memory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.report_ids: set[str] = set()
        self.events: list[AlertEvent] = []
        self._actors = {a.id: a for a in engine.roster.actors.values()}
        self._listeners: list[ChangeListener] = []

    def actors(self) -> Sequence[Actor]:
        return list(self._actors.values())

    async def ingest_cot(
        self, party: str, batch: ReportBatch, units: Sequence[Unit]
    ) -> CotIngestResult:
        engine = self.engine
        if party not in {p.id for p in engine.parties}:
            return CotIngestResult(0, 0, [f"observer: unknown party '{party}'"])
        rejected: list[str] = []
        known = engine.roster.unit_index
        for unit in units:
            if unit.id in known:
                continue
            try:
                engine.add_unit(unit)
            except (EngineError, ValueError) as exc:
                rejected.append(f"unit {unit.id}: {exc}")
        keep: list[int] = []
        duplicates = 0
        seen = self.report_ids
        for i in range(len(batch)):
            rid = batch.report_id[i]
            if batch.unit[i] not in known:
                rejected.append(f"report {rid}: unknown unit '{batch.unit[i]}' and no actor")
            elif rid is not None and rid in seen:
                duplicates += 1
            else:
                if rid is not None:
                    seen.add(rid)
                keep.append(i)
        stored = batch.take(np.asarray(keep, dtype=np.intp)).sorted_by_time()
        events = engine.ingest(stored) if len(stored) else []
        self.events.extend(events)
        changed = set(stored.unit.tolist())
        for listener in list(self._listeners):
            if changed:
                listener.units(party, changed)
            if events:
                listener.alerts(events)
        return CotIngestResult(len(stored), duplicates, rejected)

    async def view(self, party: str, unit_ids: Collection[str] | None = None) -> PartyView:
        engine = self.engine
        return party_view(
            party, engine.picture(party), engine.lines.values(), engine.sites.values(), unit_ids
        )

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def add_line(self, line: Line) -> None:
        """A new line in the agreement: every party's clients get it drawn."""
        events = self.engine.add_line(line)
        for listener in list(self._listeners):
            listener.reference()
            if events:
                listener.alerts(events)
