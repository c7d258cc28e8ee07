"""Replaying a scenario: its reports in time order, one batch per distinct time.

After each batch every rule is evaluated once, and the events come out in order as the
JSON objects of DESIGN section 6. A scenario's scripted hotline is woven in on event
time: everything it does strictly before a batch's time happens before that batch, and
what is left after the last batch (`deconfliction.hotline.replay.scripted_events`).

With a store, the replay continues what the database holds: the engine is rebuilt
from the stored ingest log, reports already stored are skipped, and each new batch is
committed with the alert events it caused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import orjson

from ..batch import ReportBatch, from_us
from ..engine import Engine
from ..model import AlertEvent
from .errors import ScenarioError
from .loader import LoadedScenario

if TYPE_CHECKING:
    # the store (SQLite) is loaded only for a replay into a database
    from ..store import Reference, Store


class Timeline(Protocol):
    """Timed happenings other than reports (the scripted hotline)."""

    def until(self, bound: Any) -> list[dict[str, Any]]:
        """The JSON objects of everything strictly before `bound` (all that is left for
        None), in time order."""
        ...


@dataclass(frozen=True, slots=True)
class ReplayStep:
    """One step of a replay: the reports it applied and the events, in order."""

    time_us: int | None
    reports: int
    events: list[dict[str, Any]] = field(default_factory=list)


def batches_by_time(reports: ReportBatch) -> Iterator[ReportBatch]:
    """One batch per distinct time, in time order (`ReportBatch.by_time`), without the
    sort and the copy when the file lists its reports in time order already."""
    times = reports.time_us
    if len(times) and not bool(np.all(times[1:] >= times[:-1])):
        yield from reports.by_time()
        return
    cuts = np.flatnonzero(times[1:] != times[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(times)]
    for start, stop in pairwise(bounds):
        if stop > start:
            yield reports.take(slice(start, stop))


def reference_of(loaded: LoadedScenario) -> Reference:
    from ..store import Reference

    scenario = loaded.scenario
    return Reference(
        parties=list(scenario.parties),
        actors=list(scenario.actors),
        units=list(scenario.units),
        lines=list(scenario.lines),
        sites=list(scenario.sites),
        settings=scenario.settings,
    )


def restore(engine: Engine, store: Store) -> int:
    """Bring a fresh engine to the state of a store's ingest log; the batches applied."""
    count = 0
    for logged in store.ingest_log():
        change = logged.change
        if change is not None:
            # units, lines, sites and actors added while a service ran
            adder = getattr(engine, f"add_{type(change).__name__.lower()}")
            adder(change)
        if logged.clock is not None:
            engine.advance(logged.clock)
        if len(logged.reports):
            engine.ingest(logged.reports)
        count += 1
    return count


class Replay:
    """A scenario replayed through an engine, optionally into a store."""

    def __init__(
        self,
        loaded: LoadedScenario,
        *,
        engine: Engine | None = None,
        store: Store | None = None,
        timeline: Timeline | None = None,
        hotline: bool = True,
    ) -> None:
        self.loaded = loaded
        self.engine = engine or Engine.from_scenario(loaded.scenario)
        self.store = store
        if store is not None:
            _prepare(store, loaded)
            restore(self.engine, store)
        if timeline is None and hotline and loaded.scenario.hotline:
            timeline = _scripted_hotline(loaded, self.engine)
        self.timeline = timeline

    @property
    def total(self) -> int:
        """The number of reports in the scenario."""
        return len(self.loaded.reports)

    def steps(self) -> Iterator[ReplayStep]:
        """Each batch (and what the timeline does before it), in time order."""
        for time_us, reports, before, events in self._steps():
            yield ReplayStep(time_us, reports, [*before, *(e.to_json_dict() for e in events)])

    def json_steps(self) -> Iterator[tuple[int, list[bytes]]]:
        """Each step's number of reports and its events as JSON lines (without the
        newline): the bytes of `orjson.dumps` of `steps()`'s objects."""
        for _, reports, before, events in self._steps():
            yield reports, [*map(orjson.dumps, before), *map(json_line, events)]

    def _steps(
        self,
    ) -> Iterator[tuple[int | None, int, list[dict[str, Any]], list[AlertEvent]]]:
        for batch in batches_by_time(self.loaded.reports):
            time_us = int(batch.time_us[0])
            before = self.timeline.until(from_us(time_us)) if self.timeline else []
            yield time_us, len(batch), before, self._ingest(batch)
        if self.timeline is not None:
            rest = self.timeline.until(None)
            if rest:
                yield None, 0, rest, []

    def events(self) -> Iterator[dict[str, Any]]:
        """Every event of the replay as the JSON object it prints as."""
        for step in self.steps():
            yield from step.events

    def _ingest(self, batch: ReportBatch) -> list[AlertEvent]:
        if self.store is None:
            return self.engine.ingest(batch)
        fresh = self.store.new_reports(batch)
        if not len(fresh):
            return []
        events = self.engine.ingest(fresh)
        self.store.commit_batch(fresh, events)
        return events


_EVENT = AlertEvent.__pydantic_serializer__
_WITHOUT_EVENT_AND_ID = {"event", "id"}
_WITHOUT_EVENT_ID_AND_REF = {"event", "id", "ref"}


def event_body(event: AlertEvent) -> bytes:
    """The event's JSON object without its "event" and "id" members (a split replay
    numbers its alerts afterwards), written by the model's own serializer."""
    body: bytes = _EVENT.to_json(
        event, exclude=_WITHOUT_EVENT_ID_AND_REF if event.ref is None else _WITHOUT_EVENT_AND_ID
    )
    return body


def json_line(event: AlertEvent) -> bytes:
    """`orjson.dumps(event.to_json_dict())`, without the dict in between (a tenth of a
    long replay went to those dicts)."""
    return b'{"event":"%s","id":%s,%s' % (
        event.event.encode(),
        orjson.dumps(event.id),
        event_body(event)[1:],
    )


def replay(loaded: LoadedScenario, **options: Any) -> Iterator[dict[str, Any]]:
    """The events of a scenario replay, as JSON objects in order."""
    return Replay(loaded, **options).events()


def _prepare(store: Store, loaded: LoadedScenario) -> None:
    """Give an empty database the scenario's agreement; refuse one holding another."""
    wanted = reference_of(loaded)
    held = store.reference()
    if not held.parties:
        store.put_reference(wanted)
        return
    if held != wanted:
        different = [
            name
            for name in ("parties", "actors", "units", "lines", "sites", "settings")
            if getattr(held, name) != getattr(wanted, name)
        ]
        raise ScenarioError(
            loaded.source,
            [
                "the database holds another scenario (its "
                + ", ".join(different)
                + " differ): replay into a new file"
            ],
        )


def _scripted_hotline(loaded: LoadedScenario, engine: Engine) -> Timeline:
    from ..hotline.replay import scripted_events

    return scripted_events(loaded.to_scenario(), engine, engine.book.allocate)
