"""A scenario's scripted hotline, replayed on event time between the engine's batches.

The replay driver calls `until(t)` before ingesting the batch at time t, and `until(None)`
after the last one. Each call returns the JSON objects to print, in time order: the
hotline's entries (`hotline.message`, `hotline.ack`, `hotline.response`) and the alert
events of its two rule families, timers firing at their exact due times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..lifecycle import AlertBook
from ..model import AlertEvent, HotlineKind, Scenario, ScriptedMessage, format_time
from .chain import ChainEntry
from .desk import Hotline
from .forces import PictureSource, ReportForces
from .messages import HotlineSettings

_EVENTS = {HotlineKind.ACK: "hotline.ack", HotlineKind.RESPONSE: "hotline.response"}


def entry_event(entry: ChainEntry) -> dict[str, Any]:
    """The JSON object of a hotline entry in a replay or on an event stream."""
    message = entry.message.model_dump(mode="json", exclude_none=True)
    document: dict[str, Any] = {
        "event": _EVENTS.get(entry.message.kind, "hotline.message"),
        "time": format_time(entry.received),
        "id": message.pop("id"),
        "from": message.pop("sender"),
        "to": message.pop("recipient"),
    }
    document.update(message)
    document["seq"] = entry.seq
    document["hash"] = entry.hash.hex()
    return document


@dataclass(frozen=True, slots=True)
class _Step:
    time: datetime
    order: int
    script: ScriptedMessage
    kind: HotlineKind


class ScriptedHotline:
    """The `hotline:` section of a scenario as a timeline the replay interleaves."""

    def __init__(
        self,
        scenario: Scenario,
        engine: PictureSource | None = None,
        settings: HotlineSettings | None = None,
        allocate_id: Callable[[], str] | None = None,
    ) -> None:
        parties = [p.id for p in scenario.parties]
        self.forces = ReportForces(
            scenario.sites,
            scenario.units,
            scenario.actors,
            scenario.reports,
            parties[0],
            timedelta(seconds=scenario.settings.stale_after_s),
            engine,
        )
        book = getattr(engine, "book", None)
        self.hotline = Hotline(
            parties,
            settings,
            forces=self.forces,
            book=book if isinstance(book, AlertBook) else _book(allocate_id),
        )
        extensions = getattr(engine, "extensions", None)
        if isinstance(extensions, list):
            # The engine's own evaluations then run the timers too: same book, same ids.
            extensions.append(self.hotline.extension)
        steps: list[_Step] = []
        for i, script in enumerate(scenario.hotline):
            steps.append(_Step(script.time, 3 * i, script, script.kind))
            if script.ack_at is not None:
                steps.append(_Step(script.ack_at, 3 * i + 1, script, HotlineKind.ACK))
            if script.response is not None:
                steps.append(_Step(script.response.time, 3 * i + 2, script, HotlineKind.RESPONSE))
        steps.sort(key=lambda s: (s.time, s.order))
        self._steps = steps
        self._next = 0
        self._ids: dict[int, str] = {}

    def until(self, bound: datetime | None) -> list[dict[str, Any]]:
        """Everything that happens strictly before `bound` (everything left, for None)."""
        out: list[dict[str, Any]] = []
        while True:
            step = self._steps[self._next] if self._next < len(self._steps) else None
            deadline = self.hotline.next_deadline()
            step_due = step is not None and (bound is None or step.time < bound)
            timer_due = deadline is not None and (bound is None or deadline < bound)
            if (
                step_due
                and step is not None
                and not (timer_due and deadline is not None and deadline < step.time)
            ):
                self._next += 1
                out += self._play(step)
            elif timer_due and deadline is not None:
                out += _alerts(self.hotline.evaluate(deadline))
            else:
                return out

    def _play(self, step: _Step) -> list[dict[str, Any]]:
        script = step.script
        index = step.order // 3
        events: list[AlertEvent] = []
        if step.kind == script.kind:
            message = self.hotline.compose(
                script.sender,
                script.recipient,
                script.kind,
                script.subject,
                script.time,
                id=script.id,
                body=script.body,
                refs=list(script.refs),
                priority=script.priority,
                activity=script.activity,
                area=script.area,
                window=_window(script),
            )
            self._ids[index] = message.id
        elif step.kind == HotlineKind.ACK:
            message = self.hotline.compose(
                script.recipient,
                script.sender,
                HotlineKind.ACK,
                f"Received: {script.subject}"[:200],
                step.time,
                reply_to=self._ids[index],
            )
        else:
            assert script.response is not None
            message = self.hotline.compose(
                script.recipient,
                script.sender,
                HotlineKind.RESPONSE,
                script.response.subject,
                step.time,
                body=script.response.body,
                reply_to=self._ids[index],
            )
        # Timers that fall due at this very instant are checked after the step, so an
        # acknowledgement arriving exactly on time is not late.
        delivery = self.hotline.send(message, step.time)
        events = delivery.events + self.hotline.evaluate(step.time)
        return [entry_event(delivery.entry), *_alerts(events)]


class _NumberedBook(AlertBook):
    def __init__(self, allocate: Callable[[], str]) -> None:
        super().__init__()
        self._allocate = allocate

    def allocate(self) -> str:
        return self._allocate()


def _book(allocate: Callable[[], str] | None) -> AlertBook | None:
    return None if allocate is None else _NumberedBook(allocate)


def _window(script: ScriptedMessage) -> dict[str, datetime] | None:
    if script.window_start is None or script.window_end is None:
        return None
    return {"start": script.window_start, "end": script.window_end}


def _alerts(events: list[AlertEvent]) -> list[dict[str, Any]]:
    return [e.to_json_dict() for e in events]


def scripted_events(
    scenario: Scenario,
    engine: PictureSource | None = None,
    allocate_id: Callable[[], str] | None = None,
) -> ScriptedHotline:
    """The seam for `scenario/replay.py`: call `.until(batch_time)` before each batch.

    With the engine given, the hotline's alerts are booked in the engine's alert book
    (one numbering, `engine.alerts()` lists them) and its timers run on every evaluation.
    """
    return ScriptedHotline(scenario, engine, allocate_id=allocate_id)
