"""CoT atoms as reports: the rows `deconfliction.tak.reader` reads, validated and
gathered as columns that become one `ReportBatch` per batch without a model object
per event."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from ..ingest.cot import (
    UNKNOWN_ERROR,
    CotError,
    CotEvent,
    affiliation,
    parse_equipment,
    unit_id,
    unit_kind,
)
from ..model import ID_PATTERN, UnitKind
from .reader import AtomRows

_ID = re.compile(ID_PATTERN)
_RATING = re.compile(r"^[A-F][1-6]$")


class AtomFields(NamedTuple):
    """What an atom says about a unit, validated; the gateway turns rows of these into a batch."""

    unit: str
    time_us: int
    lon: float
    lat: float
    actor: str | None
    kind: UnitKind
    name: str
    strength: int
    """-1 when the event carries none."""
    equipment: dict[str, int] | None
    source: str
    rating: str | None
    report_id: str


class AtomColumns:
    """Validated atoms as columns, ready to become a report batch without an object per row.

    `actors` maps an affiliation letter to the actor it stands for in `observer`'s
    picture (None: such atoms are not taken); a `<__deconfliction actor=...>` detail
    overrides it.
    """

    __slots__ = (
        "actor",
        "actors",
        "equipment",
        "kind",
        "lat",
        "lon",
        "name",
        "observer",
        "rating",
        "report_id",
        "source",
        "strength",
        "time_us",
        "unit",
    )

    def __init__(self, observer: str, actors: dict[str, str | None]) -> None:
        self.observer = observer
        self.actors = actors
        self.unit: list[str] = []
        self.time_us: list[int] = []
        self.lon: list[float] = []
        self.lat: list[float] = []
        self.actor: list[str | None] = []
        self.kind: list[UnitKind] = []
        self.name: list[str] = []
        self.strength: list[int] = []
        """-1 where the event carries none."""
        self.equipment: list[dict[str, int] | None] | None = None
        """None until an event carries equipment, then one entry per row."""
        self.source: list[str] = []
        self.rating: list[str | None] = []
        self.report_id: list[str] = []

    def __len__(self) -> int:
        return len(self.unit)

    def add(self, event: CotEvent) -> None:
        """Append the report `event` makes, or raise CotError naming what is wrong (and
        append nothing)."""
        rows = AtomRows()
        rows.add(event)
        refused = self.add_rows(rows)
        if refused:
            raise refused[0][1]

    def add_rows(self, rows: AtomRows) -> list[tuple[str, CotError]]:
        """Append the reports `rows` make; returns the uid of each row refused and why.

        The common case costs a few passes over the columns, not a Python block per row:
        the checks are vectorised, the values looked up per distinct type.
        """
        n = len(rows)
        if not n:
            return []
        uids, types, times, stales, lons, lats, ces, callsigns, extensions = (
            list(column) for column in zip(*rows, strict=True)
        )
        refused = _refused(lons, lats, stales)
        actors = self.actors
        distinct = set(types)
        kind_of = {t: unit_kind(t) for t in distinct}
        actor_of = {t: actors.get(affiliation(t)) for t in distinct}
        kind = list(map(kind_of.__getitem__, types))
        actor = list(map(actor_of.__getitem__, types))
        unit = list(map(unit_id, uids))
        name = callsigns
        if None in name:
            name = [callsign or uid for callsign, uid in zip(callsigns, uids, strict=True)]
        if max(map(len, name)) > 200:
            name = [text[:200] for text in name]
        prefix = f"cot:{self.observer}:"
        report_id = [f"{prefix}{u}:{t}" for u, t in zip(unit, times, strict=True)]
        if max(map(len, report_id)) > 128:
            report_id = [text[:128] for text in report_id]
        source = list(map(_tak_source, ces))
        strength = [-1] * n
        rating: list[str | None] = [None] * n
        equipment: list[dict[str, int] | None] | None = None
        if extensions.count(None) != n:
            for i, extension in enumerate(extensions):
                if extension is None or i in refused:
                    continue
                try:
                    actor[i], kind[i], strength[i], counts, rating[i] = _extension(
                        extension, actors, types[i], kind[i]
                    )
                except CotError as exc:
                    refused[i] = exc
                    continue
                if counts is not None:
                    if equipment is None:
                        equipment = [None] * n
                    equipment[i] = counts
                text = extension.get("source") or "tak"
                source[i] = (_with_error(text, ces[i]) if ces[i] < UNKNOWN_ERROR else text)[:200]
                report_id[i] = (extension.get("id") or report_id[i])[:128]
        columns: list[list[Any]] = [
            unit,
            times,
            lons,
            lats,
            actor,
            kind,
            name,
            strength,
            source,
            rating,
            report_id,
        ]
        if equipment is not None or self.equipment is not None:
            columns.append(equipment if equipment is not None else [None] * n)
            if self.equipment is None:
                self.equipment = [None] * len(self.unit)
        if refused:
            keep = [i for i in range(n) if i not in refused]
            columns = [[column[i] for i in keep] for column in columns]
        for mine, more in zip(self._columns(), columns, strict=False):
            mine += more
        return [(uids[i], refused[i]) for i in sorted(refused)]

    def _columns(self) -> list[list[Any]]:
        out: list[list[Any]] = [
            self.unit,
            self.time_us,
            self.lon,
            self.lat,
            self.actor,
            self.kind,
            self.name,
            self.strength,
            self.source,
            self.rating,
            self.report_id,
        ]
        if self.equipment is not None:
            out.append(self.equipment)
        return out

    def row(self, i: int) -> AtomFields:
        return AtomFields(
            unit=self.unit[i],
            time_us=self.time_us[i],
            lon=self.lon[i],
            lat=self.lat[i],
            actor=self.actor[i],
            kind=self.kind[i],
            name=self.name[i],
            strength=self.strength[i],
            equipment=None if self.equipment is None else self.equipment[i],
            source=self.source[i],
            rating=self.rating[i],
            report_id=self.report_id[i],
        )


@lru_cache(maxsize=4096)
def _with_error(source: str, ce: float) -> str:
    return f"{source} ce={ce:g}m"


@lru_cache(maxsize=4096)
def _tak_source(ce: float) -> str:
    return _with_error("tak", ce) if ce < UNKNOWN_ERROR else "tak"


def _refused(
    lons: Sequence[float], lats: Sequence[float], stales: Sequence[bool]
) -> dict[int, CotError]:
    """The rows out of range or stale when sent, by row, with why (the first problem)."""
    lon = np.asarray(lons, dtype=np.float64)
    lat = np.asarray(lats, dtype=np.float64)
    stale = np.asarray(stales, dtype=bool)
    bad = np.flatnonzero((np.abs(lon) > 180.0) | (np.abs(lat) > 90.0) | stale)
    refused: dict[int, CotError] = {}
    for i in bad.tolist():
        if not -180.0 <= lons[i] <= 180.0:
            refused[i] = CotError(f"point/@lon: {lons[i]} is outside -180..180")
        elif not -90.0 <= lats[i] <= 90.0:
            refused[i] = CotError(f"point/@lat: {lats[i]} is outside -90..90")
        else:
            refused[i] = CotError("event/@stale: the event is stale when sent")
    return refused


def atom_fields(event: CotEvent, observer: str, actors: dict[str, str | None]) -> AtomFields:
    """The report an atom makes in `observer`'s picture (see `AtomColumns`)."""
    columns = AtomColumns(observer, actors)
    columns.add(event)
    return columns.row(0)


def _extension(
    extension: dict[str, str], actors: dict[str, str | None], cot_type: str, kind: UnitKind
) -> tuple[str | None, UnitKind, int, dict[str, int] | None, str | None]:
    actor = extension.get("actor") or actors.get(affiliation(cot_type))
    if actor is not None and not _ID.match(actor):
        raise CotError(f"__deconfliction/@actor: '{actor[:40]}' is not a valid id")
    if "kind" in extension:
        try:
            kind = UnitKind(extension["kind"])
        except ValueError:
            raise CotError(
                f"__deconfliction/@kind: '{extension['kind'][:40]}' is not a unit kind"
            ) from None
    strength = -1
    if "strength" in extension:
        try:
            strength = int(extension["strength"])
        except ValueError:
            raise CotError("__deconfliction/@strength: not an integer") from None
        if strength < 0:
            raise CotError("__deconfliction/@strength: must not be negative")
    equipment = parse_equipment(extension["equipment"]) if "equipment" in extension else None
    rating = extension.get("rating")
    if rating is not None and not _RATING.match(rating):
        raise CotError(f"__deconfliction/@rating: '{rating[:10]}' is not A-F then 1-6")
    return actor, kind, strength, equipment, rating
