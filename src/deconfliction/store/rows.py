"""Conversions between stored rows and domain models."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from ..batch import ReportBatch, from_us
from ..model import Alert, AlertEvent, AlertState, Report

REPORT_COLUMNS = "id, observer, time_us, unit, lon, lat, strength, equipment, source, rating"


def report_key(
    observer: str, unit: str, time_us: int, lon: float, lat: float, strength: int
) -> str:
    """The id of a report that came without one: the same observation gives the same id."""
    text = f"{observer}|{unit}|{time_us}|{lon!r}|{lat!r}|{strength}"
    return "h-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def with_ids(batch: ReportBatch) -> ReportBatch:
    """The batch with a deterministic id on every row that had none."""
    ids = batch.report_id
    values = ids.tolist()
    if None not in values:
        return batch
    missing = [i for i, rid in enumerate(values) if rid is None]
    filled = ids.copy()
    for i in missing:
        filled[i] = report_key(
            batch.observer[i],
            batch.unit[i],
            int(batch.time_us[i]),
            float(batch.lon[i]),
            float(batch.lat[i]),
            int(batch.strength[i]),
        )
    return ReportBatch(
        time_us=batch.time_us,
        unit=batch.unit,
        lon=batch.lon,
        lat=batch.lat,
        observer=batch.observer,
        strength=batch.strength,
        equipment=batch.equipment,
        report_id=filled,
        source=batch.source,
        rating=batch.rating,
    )


def report_keys(batch: ReportBatch) -> list[tuple[str, str]]:
    """(observer, id) of every row of a batch with ids: a report's identity."""
    return list(zip(batch.observer.tolist(), batch.report_id.tolist(), strict=True))


def report_rows(batch: ReportBatch, number: int) -> list[tuple[Any, ...]]:
    equipment = batch.equipment
    strength = batch.strength.tolist()
    return [
        (
            rid,
            number,
            observer,
            time_us,
            unit,
            lon,
            lat,
            None if s < 0 else s,
            None if equipment is None or equipment[i] is None else orjson.dumps(equipment[i]),
            source,
            rating,
        )
        for i, (rid, observer, time_us, unit, lon, lat, s, source, rating) in enumerate(
            zip(
                batch.report_id.tolist(),
                batch.observer.tolist(),
                batch.time_us.tolist(),
                batch.unit.tolist(),
                batch.lon.tolist(),
                batch.lat.tolist(),
                strength,
                batch.source.tolist(),
                batch.rating.tolist(),
                strict=True,
            )
        )
    ]


def _objects(values: Sequence[object]) -> np.ndarray[Any, np.dtype[np.object_]]:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def batch_from_rows(rows: Sequence[Sequence[Any]]) -> ReportBatch:
    """A batch of rows selected with REPORT_COLUMNS, in their order."""
    n = len(rows)
    columns = list(zip(*rows, strict=True)) if rows else [()] * 10
    rid, observer, time_us, unit, lon, lat, strength, equipment, source, rating = columns
    parsed = [None if e is None else orjson.loads(e) for e in equipment]
    return ReportBatch(
        time_us=np.fromiter(time_us, dtype=np.int64, count=n),
        unit=_objects(unit),
        lon=np.fromiter(lon, dtype=np.float64, count=n),
        lat=np.fromiter(lat, dtype=np.float64, count=n),
        observer=_objects(observer),
        strength=np.fromiter((-1 if s is None else s for s in strength), dtype=np.int64, count=n),
        equipment=tuple(parsed) if any(e is not None for e in parsed) else None,
        report_id=_objects(rid),
        source=_objects(source),
        rating=_objects(rating),
    )


def report_from_row(row: Sequence[Any]) -> Report:
    rid, observer, time_us, unit, lon, lat, strength, equipment, source, rating = row
    return Report.model_construct(
        id=rid,
        time=from_us(time_us),
        unit=unit,
        lon=lon,
        lat=lat,
        observer=observer,
        strength=strength,
        equipment=None if equipment is None else orjson.loads(equipment),
        source=source,
        rating=rating,
    )


_EVENT_FIELDS = tuple(name for name in AlertEvent.model_fields if name != "event")


def fold(alert: Alert | None, event: AlertEvent) -> Alert:
    """An alert's state after one more of its events."""
    fields = {name: getattr(event, name) for name in _EVENT_FIELDS}
    state = AlertState.RESOLVED if event.event == "resolved" else AlertState.OPEN
    if alert is None or event.event == "open":
        return Alert.model_construct(**fields, state=state, opened=event.time, updated=event.time)
    return Alert.model_construct(**fields, state=state, opened=alert.opened, updated=event.time)
