"""CoT atoms as reports: the fields of each validated, gathered as columns that become
one `ReportBatch` per read without a model object per event."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ..ingest.cot import (
    AFFILIATIONS,
    UNKNOWN_ERROR,
    CotError,
    CotEvent,
    affiliation,
    parse_equipment,
    unit_id,
    unit_kind,
)
from ..model import ID_PATTERN, UnitKind

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
        lon = event.lon
        lat = event.lat
        if not -180.0 <= lon <= 180.0:
            raise CotError(f"point/@lon: {lon} is outside -180..180")
        if not -90.0 <= lat <= 90.0:
            raise CotError(f"point/@lat: {lat} is outside -90..90")
        time = event.time
        stale = event.stale
        if stale is not None and stale <= time:
            raise CotError("event/@stale: the event is stale when sent")
        cot_type = event.type
        kind = unit_kind(cot_type)
        extension = event.extension
        equipment = None
        if extension is None:
            letter = cot_type[2:3]
            actor = self.actors.get(letter if letter in AFFILIATIONS else "u")
            strength = -1
            rating = None
            source = "tak"
            report_id = None
        else:
            actor, kind, strength, equipment, rating = _extension(
                extension, self.actors, cot_type, kind
            )
            source = extension.get("source") or "tak"
            report_id = extension.get("id")
        if event.ce < UNKNOWN_ERROR:
            source = _with_error(source, event.ce)
        unit = unit_id(event.uid)
        time_us = int(time.timestamp()) * 1_000_000 + time.microsecond
        if not report_id:
            report_id = f"cot:{self.observer}:{unit}:{time_us}"
        self.unit.append(unit)
        self.time_us.append(time_us)
        self.lon.append(lon)
        self.lat.append(lat)
        self.actor.append(actor)
        self.kind.append(kind)
        self.name.append((event.callsign or event.uid)[:200])
        self.strength.append(strength)
        if equipment is not None and self.equipment is None:
            self.equipment = [None] * (len(self.unit) - 1)
        if self.equipment is not None:
            self.equipment.append(equipment)
        self.source.append(source[:200])
        self.rating.append(rating)
        self.report_id.append(report_id[:128])

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
