"""Domain types: validated once at the boundary, trusted everywhere inside."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
    model_validator,
)

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""Ids of parties, actors, units, lines and sites."""

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""An identifier: lower case, digits, '.', '_' or '-', at most 64 characters."""

ReportId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 once in UTC") from None


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a 'Z', seconds precision unless there are fractions."""
    v = value.astimezone(UTC)
    # strftime does not pad years below 1000 on every platform; RFC 3339 needs four digits.
    text = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if v.microsecond:
        text += f".{v.microsecond:06d}"
    return text + "Z"


UtcDatetime = Annotated[
    AwareDatetime,
    AfterValidator(_utc),
    PlainSerializer(format_time, return_type=str, when_used="json"),
]
"""A timezone-aware time, normalised to UTC; naive times are refused."""


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Lon = Annotated[float, Field(ge=-180.0, le=180.0), AfterValidator(_finite)]
Lat = Annotated[float, Field(ge=-90.0, le=90.0), AfterValidator(_finite)]
Metres = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
MAX_COUNT = 10_000_000
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
"""Personnel or equipment: no formation in any theatre numbers ten million."""
MAX_BUFFER_M = 500_000.0
Rating = Annotated[str, StringConstraints(pattern=r"^[A-F][1-6]$")]
Position = tuple[Lon, Lat]


class Strict(BaseModel):
    """Base of every boundary model: unknown fields, NaN and Infinity are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class UnitKind(StrEnum):
    INFANTRY = "infantry"
    ARMOR = "armor"
    ARTILLERY = "artillery"
    MLRS = "mlrs"
    MORTAR = "mortar"
    AIR_DEFENCE = "air-defence"
    AIRCRAFT = "aircraft"
    HQ = "hq"
    OTHER = "other"


class SiteKind(StrEnum):
    HEADQUARTERS = "headquarters"
    OUTPOST = "outpost"
    FACILITY = "facility"
    FIELD = "field"
    HOSPITAL = "hospital"
    OTHER = "other"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_RANK: dict[Severity, int] = {
    Severity.LOW: 0,
    Severity.MEDIUM: 1,
    Severity.HIGH: 2,
    Severity.CRITICAL: 3,
}

HEAVY_WEAPONS: tuple[str, ...] = ("tank", "artillery", "mlrs")
"""Equipment that counts towards `massing_min_heavy`."""

Equipment = dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")], Count]


class Party(Strict):
    """A signatory of the agreement with a hotline desk."""

    id: Id
    name: str = Field(min_length=1, max_length=200)


class Actor(Strict):
    """A force group aligned with one party, or with none (other to everyone)."""

    id: Id
    name: str = Field(min_length=1, max_length=200)
    party: Id | None = None


class Unit(Strict):
    id: Id
    name: str = Field(min_length=1, max_length=200)
    actor: Id
    kind: UnitKind = UnitKind.OTHER
    strength: Count = 0
    equipment: Equipment = Field(default_factory=dict)


class Report(Strict):
    """An observation of one unit at one time, entering the observer party's picture."""

    id: ReportId | None = None
    time: UtcDatetime
    unit: Id
    lon: Lon
    lat: Lat
    observer: Id | None = None
    strength: Count | None = None
    equipment: Equipment | None = None
    source: str | None = Field(default=None, max_length=200)
    rating: Rating | None = None


class Line(Strict):
    """A deconfliction line; `left` owns the side to the left walking along it."""

    id: Id
    name: str = Field(min_length=1, max_length=200)
    coordinates: list[Position] = Field(min_length=2)
    left: Id
    right: Id
    buffer_m: Annotated[float, Field(ge=0.0, le=MAX_BUFFER_M, allow_inf_nan=False)] = 5000.0

    @model_validator(mode="after")
    def _distinct(self) -> Line:
        if self.left == self.right:
            raise ValueError("left and right must be different parties")
        for i in range(1, len(self.coordinates)):
            if self.coordinates[i] == self.coordinates[i - 1]:
                raise ValueError(f"coordinates[{i}] repeats the vertex before it")
            if abs(self.coordinates[i][0] - self.coordinates[i - 1][0]) > 180.0:
                # A segment is straight in lon/lat (RFC 7946): this one would run the long
                # way round the world. A line over the antimeridian is two lines.
                raise ValueError(
                    f"coordinates[{i}] is more than 180 degrees of longitude from the vertex "
                    "before it; split a line that crosses the antimeridian"
                )
        lons = [c[0] for c in self.coordinates]
        if max(lons) - min(lons) > 60.0:
            raise ValueError("spans more than 60 degrees of longitude; one theatre cannot hold it")
        return self

    def parties(self) -> tuple[str, str]:
        return (self.left, self.right)

    def other(self, party: str) -> str:
        return self.right if party == self.left else self.left


class Site(Strict):
    """A declared position of a party: a headquarters, an outpost, a field."""

    id: Id
    name: str = Field(min_length=1, max_length=200)
    party: Id
    kind: SiteKind = SiteKind.OTHER
    lon: Lon
    lat: Lat
    personnel: Count = 0
    priority: Priority = Priority.MEDIUM


class Casualties(Strict):
    low: Count = 0
    high: Count = 0

    @model_validator(mode="after")
    def _ordered(self) -> Casualties:
        if self.high < self.low:
            raise ValueError("high must not be below low")
        return self


class IncidentKind(StrEnum):
    ATTACK = "attack"
    SHELLING = "shelling"
    AIR_STRIKE = "air-strike"
    CLASH = "clash"
    DRONE_STRIKE = "drone-strike"
    IED = "ied"
    MOVEMENT = "movement"
    OTHER = "other"


class Incident(Strict):
    """What happened: exportable with ACLED-style columns."""

    id: Id
    time: UtcDatetime
    kind: IncidentKind
    lon: Lon
    lat: Lat
    location: str = Field(default="", max_length=200)
    actors: list[Id] = Field(default_factory=list)
    target: str = Field(default="", max_length=200)
    assets: list[str] = Field(default_factory=list)
    casualties: Casualties = Field(default_factory=Casualties)
    sources: list[str] = Field(default_factory=list)
    notes: str = Field(default="", max_length=4000)
    party: Id | None = None


class Settings(Strict):
    """Rule parameters (DESIGN section 5); a scenario's `settings` overrides each."""

    stale_after_s: Seconds = 21600.0
    theatre_margin_m: Metres = 200000.0
    weapon_ranges_m: dict[str, Metres] = Field(
        default_factory=lambda: {
            "infantry": 1500.0,
            "armor": 4000.0,
            "tank": 4000.0,
            "mortar": 7000.0,
            "apc": 1500.0,
            "artillery": 25000.0,
            "mlrs": 40000.0,
            "air-defence": 0.0,
            "aircraft": 0.0,
            "hq": 0.0,
            "other": 0.0,
        }
    )
    massing_eps_m: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 5000.0
    massing_min_strength: Count = 300
    massing_min_heavy: Count = 6
    massing_near_m: Metres = 20000.0
    defence_radius_m: Metres = 15000.0
    defence_window_s: Seconds = 604800.0
    defence_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3
    defence_min_baseline: Count = 100
    outnumbered_ratio: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 3.0
    live_massing_interval_s: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    densify_m: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 1000.0

    @field_validator("weapon_ranges_m", mode="before")
    @classmethod
    def _merge_ranges(cls, value: Any) -> Any:
        # A scenario that names only `tank` keeps the other defaults.
        if isinstance(value, dict):
            merged: dict[str, Any] = dict(cls.model_fields["weapon_ranges_m"].default_factory())  # type: ignore[call-arg, misc]
            merged.update(value)
            return merged
        return value

    def reach_m(self, kind: str, equipment: dict[str, int]) -> float:
        """The reach of a unit: its kind's range or its longest-range equipment."""
        ranges = self.weapon_ranges_m
        reach = ranges.get(kind, 0.0)
        for name, count in equipment.items():
            if count > 0:
                reach = max(reach, ranges.get(name, 0.0))
        return reach


class Rule(StrEnum):
    LINE_APPROACH = "line.approach"
    ZONE_VIOLATION = "zone.violation"
    SITE_THREAT = "site.threat"
    FORCE_MASSING = "force.massing"
    DEFENCE_WEAKENED = "defence.weakened"
    DEFENCE_OUTNUMBERED = "defence.outnumbered"
    HOTLINE_UNACKNOWLEDGED = "hotline.unacknowledged"
    NOTIFICATION_CONFLICT = "notification.conflict"


class AlertState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Crossing(Strict):
    """Where and when a unit's straight path met a line."""

    lon: float
    lat: float
    time: UtcDatetime


class AlertFacts(Strict):
    """What an alert says, shared by its current state and each of its events."""

    id: str
    rule: Rule
    severity: Severity
    time: UtcDatetime
    party: Id
    units: list[str] = Field(default_factory=list)
    site: str | None = None
    line: str | None = None
    lon: float | None = None
    lat: float | None = None
    crossing: Crossing | None = None
    message: str
    ref: str | None = None
    """The object an alert is about when it is neither a unit nor a site (a message id)."""


class Alert(AlertFacts):
    """The current state of one alert."""

    state: AlertState = AlertState.OPEN
    opened: UtcDatetime
    updated: UtcDatetime


EventKind = Literal["open", "updated", "resolved"]


class AlertEvent(AlertFacts):
    """One step in an alert's life: the line printed by `scenario run --format jsonl`."""

    event: EventKind

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object of DESIGN section 6, keys in its order (`event` first)."""
        data = self.model_dump(mode="json")
        if data.get("ref") is None:
            data.pop("ref", None)
        return {"event": data.pop("event"), **data}


class HotlineKind(StrEnum):
    CONCERN = "concern"
    NOTIFICATION = "notification"
    REQUEST = "request"
    RESPONSE = "response"
    ACK = "ack"


class HotlinePriority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    FLASH = "flash"


class ScriptedMessage(Strict):
    """A hotline message in a scenario file, sent at `time` by the `from` desk."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, frozen=True, populate_by_name=True
    )

    id: Id | None = None
    time: UtcDatetime
    sender: Id = Field(alias="from")
    recipient: Id = Field(alias="to")
    kind: HotlineKind
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=20000)
    refs: list[str] = Field(default_factory=list)
    priority: HotlinePriority = HotlinePriority.ROUTINE
    area: dict[str, Any] | None = None
    """A GeoJSON Polygon for a notification's area."""
    window_start: UtcDatetime | None = None
    window_end: UtcDatetime | None = None
    activity: str | None = Field(default=None, max_length=100)
    ack_at: UtcDatetime | None = None
    response: ScriptedResponse | None = None


class ScriptedResponse(Strict):
    time: UtcDatetime
    subject: str = Field(default="Response", min_length=1, max_length=200)
    body: str = Field(default="", max_length=20000)


ScriptedMessage.model_rebuild()


def now_utc() -> datetime:
    return datetime.now(UTC)


class Scenario(Strict):
    """A whole exercise: the agreement, the forces, and what was observed when."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    parties: list[Party] = Field(min_length=1)
    actors: list[Actor] = Field(default_factory=list)
    lines: list[Line] = Field(default_factory=list)
    sites: list[Site] = Field(default_factory=list)
    units: list[Unit] = Field(default_factory=list)
    reports: list[Report] = Field(default_factory=list)
    incidents: list[Incident] = Field(default_factory=list)
    hotline: list[ScriptedMessage] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        errors = reference_errors(self)
        if errors:
            raise ValueError("; ".join(errors))
        return self


def _duplicates(kind: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for i, value in enumerate(ids):
        if value in seen:
            out.append(f"{kind}[{i}].id: duplicate id '{value}'")
        seen.add(value)
    return out


def reference_errors(scenario: Scenario) -> list[str]:
    """Every dangling reference in a scenario, each as `path: what is wrong`."""
    errors: list[str] = []
    parties = {p.id for p in scenario.parties}
    actors = {a.id for a in scenario.actors}
    units = {u.id for u in scenario.units}
    for kind, items in (
        ("parties", scenario.parties),
        ("actors", scenario.actors),
        ("units", scenario.units),
        ("lines", scenario.lines),
        ("sites", scenario.sites),
        ("incidents", scenario.incidents),
    ):
        errors += _duplicates(kind, [item.id for item in items])
    for i, actor in enumerate(scenario.actors):
        if actor.party is not None and actor.party not in parties:
            errors.append(f"actors[{i}].party: unknown party '{actor.party}'")
    for i, unit in enumerate(scenario.units):
        if unit.actor not in actors:
            errors.append(f"units[{i}].actor: unknown actor '{unit.actor}'")
    for i, line in enumerate(scenario.lines):
        for side in ("left", "right"):
            if getattr(line, side) not in parties:
                errors.append(f"lines[{i}].{side}: unknown party '{getattr(line, side)}'")
    for i, site in enumerate(scenario.sites):
        if site.party not in parties:
            errors.append(f"sites[{i}].party: unknown party '{site.party}'")
    for i, incident in enumerate(scenario.incidents):
        for j, actor_id in enumerate(incident.actors):
            if actor_id not in actors:
                errors.append(f"incidents[{i}].actors[{j}]: unknown actor '{actor_id}'")
        if incident.party is not None and incident.party not in parties:
            errors.append(f"incidents[{i}].party: unknown party '{incident.party}'")
    for i, report in enumerate(scenario.reports):
        if report.unit not in units:
            errors.append(f"reports[{i}].unit: unknown unit '{report.unit}'")
        if report.observer is not None and report.observer not in parties:
            errors.append(f"reports[{i}].observer: unknown party '{report.observer}'")
        if len(errors) > 50:
            break
    for i, message in enumerate(scenario.hotline):
        for field, value in (("from", message.sender), ("to", message.recipient)):
            if value not in parties:
                errors.append(f"hotline[{i}].{field}: unknown party '{value}'")
        if message.sender == message.recipient:
            errors.append(f"hotline[{i}].to: a message must go to another party")
    return errors
