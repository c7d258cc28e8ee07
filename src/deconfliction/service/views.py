"""What the service answers: plain pydantic models, the API's response schemas."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..model import (
    Actor,
    Alert,
    AlertEvent,
    Casualties,
    Count,
    Id,
    IncidentKind,
    Lat,
    Lon,
    Party,
    Priority,
    Settings,
    SiteKind,
    Strict,
    UtcDatetime,
)
from ..store.base import Role
from .inputs import ServiceTime


class IngestAnswer(BaseModel):
    accepted: int
    duplicates: int
    events: int = Field(description="alert events the accepted reports caused")


class UnitProperties(BaseModel):
    id: str
    name: str
    actor: str
    party: str | None
    kind: str
    strength: int
    equipment: dict[str, int]
    time: UtcDatetime
    fresh: bool
    reach_m: float


class PointGeometry(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float]


class UnitFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: PointGeometry
    properties: UnitProperties


class UnitCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[UnitFeature]


class LineStringGeometry(BaseModel):
    type: Literal["LineString"] = "LineString"
    coordinates: list[tuple[float, float]]


class TrackProperties(BaseModel):
    unit: str
    times: list[UtcDatetime]
    reports: list[str]


class TrackFeature(BaseModel):
    """A unit's reports as a LineString; `geometry` is null with fewer than two."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: LineStringGeometry | None
    properties: TrackProperties


class AlertView(Alert):
    acknowledged_by: str | None = None
    acknowledged_at: UtcDatetime | None = None


class AlertPageView(BaseModel):
    items: list[AlertView]
    next: str | None = Field(description="pass as `cursor` to get the next page")


class AckView(BaseModel):
    who: str
    at: UtcDatetime


class EventView(BaseModel):
    seq: int
    event: AlertEvent


class AlertDetail(AlertView):
    events: list[EventView]
    acks: list[AckView]


class AckIn(Strict):
    by: str | None = Field(default=None, min_length=1, max_length=200)


class SiteIn(Strict):
    """A site of the caller's party; `party` may be left out."""

    id: Id
    name: str = Field(min_length=1, max_length=200)
    party: Id | None = None
    kind: SiteKind = SiteKind.OTHER
    lon: Lon
    lat: Lat
    personnel: Count = 0
    priority: Priority = Priority.MEDIUM


class IncidentIn(Strict):
    """An incident recorded by the caller's party; `party` may be left out."""

    id: Id
    time: ServiceTime
    kind: IncidentKind
    lon: Lon
    lat: Lat
    location: str = Field(default="", max_length=200)
    actors: list[Id] = Field(default_factory=list, max_length=50)
    target: str = Field(default="", max_length=200)
    assets: list[str] = Field(default_factory=list, max_length=100)
    casualties: Casualties = Field(default_factory=Casualties)
    sources: list[str] = Field(default_factory=list, max_length=100)
    notes: str = Field(default="", max_length=4000)
    party: Id | None = None


class TokenIn(Strict):
    role: Role


class TokenView(BaseModel):
    id: int
    party: str
    role: Role
    created: UtcDatetime
    revoked: UtcDatetime | None


class NewToken(BaseModel):
    id: int
    party: str
    role: Role
    token: str = Field(description="shown once; only its hash is stored")


class Me(BaseModel):
    party: str
    role: Role
    parties: list[Party]
    actors: list[Actor]
    settings: Settings
    demo: bool


class DemoToken(BaseModel):
    party: str
    name: str
    role: Role
    token: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    problem: str | None
    store: dict[str, Any]
    engine: dict[str, Any]
    clock: UtcDatetime | None
    first_report: UtcDatetime | None
    live: bool
    demo: bool = Field(description="true while `deconfliction demo` runs: /demo/tokens answers")


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    errors: list[ErrorItem] = Field(default_factory=list)
