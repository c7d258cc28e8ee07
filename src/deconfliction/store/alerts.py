"""Alert and acknowledgement queries of the SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..batch import from_us, to_us
from ..model import Alert, AlertEvent
from .base import Ack, AlertPage, AlertQuery, StoredEvent
from .rows import fold
from .writer import Writer

_ID_CHUNK = 900


class _Reads:
    """What the mixins need of the store."""

    _writer: Writer
    _read: Callable[..., list[Any]]


class AlertQueries(_Reads):
    """Alerts, their events and acknowledgements, read and written."""

    def alerts(self, query: AlertQuery) -> AlertPage:
        """A page of `query.party`'s alerts in the order they opened."""
        where = ["party = ?", "num > ?"]
        params: list[Any] = [query.party, query.after or 0]
        if query.state is not None:
            where.append("state = ?")
            params.append(str(query.state))
        if query.rule is not None:
            where.append("rule = ?")
            params.append(query.rule)
        if query.severity is not None:
            where.append("severity = ?")
            params.append(query.severity)
        if query.since is not None:
            where.append("time_us >= ?")
            params.append(to_us(query.since))
        params.append(query.limit + 1)
        rows = self._read(
            f"SELECT num, document FROM alerts WHERE {' AND '.join(where)} ORDER BY num LIMIT ?",
            params,
        )
        alerts = [Alert.model_validate_json(doc) for _, doc in rows[: query.limit]]
        more = len(rows) > query.limit
        return AlertPage(alerts, rows[query.limit - 1][0] if more else None)

    def alert(self, party: str, alert_id: str) -> Alert | None:
        rows = self._read(
            "SELECT document FROM alerts WHERE party = ? AND id = ?", (party, alert_id)
        )
        return Alert.model_validate_json(rows[0][0]) if rows else None

    def alerts_at(self, party: str, at: datetime) -> list[Alert]:
        """`party`'s alerts as they stood at `at`: those opened by then, in their state then."""
        rows = self._read(
            "SELECT document FROM alert_events WHERE party = ? AND time_us <= ? ORDER BY seq",
            (party, to_us(at)),
        )
        state: dict[str, Alert] = {}
        for (doc,) in rows:
            event = AlertEvent.model_validate_json(doc)
            state[event.id] = fold(state.get(event.id), event)
        return list(state.values())

    def alert_events(self, party: str, alert_id: str) -> list[StoredEvent]:
        rows = self._read(
            "SELECT seq, document FROM alert_events WHERE party = ? AND alert = ? ORDER BY seq",
            (party, alert_id),
        )
        return [StoredEvent(seq, AlertEvent.model_validate_json(doc)) for seq, doc in rows]

    def events_since(self, party: str, seq: int, limit: int = 1000) -> list[StoredEvent]:
        """`party`'s events after sequence number `seq`, oldest first."""
        rows = self._read(
            "SELECT seq, document FROM alert_events WHERE party = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (party, seq, limit),
        )
        return [StoredEvent(s, AlertEvent.model_validate_json(doc)) for s, doc in rows]

    def last_event_seq(self, party: str) -> int:
        rows = self._read("SELECT MAX(seq) FROM alert_events WHERE party = ?", (party,))
        return int(rows[0][0] or 0)

    def add_ack(self, ack: Ack) -> None:
        self._writer.run(
            lambda c: c.execute(
                "INSERT INTO alert_acks (alert, party, who, at_us) VALUES (?, ?, ?, ?)",
                (ack.alert, ack.party, ack.who, to_us(ack.at)),
            )
        )

    def last_acks(self, party: str, alert_ids: Sequence[str]) -> dict[str, Ack]:
        """The latest acknowledgement of each of the alerts that has one."""
        out: dict[str, Ack] = {}
        for start in range(0, len(alert_ids), _ID_CHUNK):
            chunk = list(alert_ids[start : start + _ID_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT alert, who, at_us FROM alert_acks WHERE party = ? AND alert IN ({marks})"
                " ORDER BY id",
                [party, *chunk],
            )
            for alert, who, at in rows:
                out[alert] = Ack(alert, party, who, from_us(at))
        return out

    def acks(self, party: str, alert_id: str) -> list[Ack]:
        rows = self._read(
            "SELECT who, at_us FROM alert_acks WHERE party = ? AND alert = ? ORDER BY id",
            (party, alert_id),
        )
        return [Ack(alert_id, party, who, from_us(at)) for who, at in rows]
