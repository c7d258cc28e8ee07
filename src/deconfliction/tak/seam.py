"""What the TAK gateway needs from the service: an ingest path and each party's view.

The service implements `CotService`; `PictureSink` in `sink.py` is a small in-process
implementation of the same seam.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ..batch import ReportBatch, from_us
from ..engine import PictureView
from ..model import Actor, AlertEvent, Line, Site, Unit, UnitKind


@dataclass(frozen=True, slots=True)
class CotIngestResult:
    """What became of a batch of reports: stored, already stored, or refused (with why)."""

    accepted: int
    duplicates: int
    rejected: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UnitView:
    """A unit as it stands in one party's picture."""

    id: str
    name: str
    actor: str
    kind: UnitKind
    lon: float
    lat: float
    time: datetime
    strength: int
    equipment: dict[str, int]


@dataclass(frozen=True, slots=True)
class PartyView:
    """What a party's TAK clients are shown: its lines, its sites, its picture."""

    party: str
    lines: list[Line]
    sites: list[Site]
    units: list[UnitView]


class ChangeListener(Protocol):
    """Told by the service after each change is durable."""

    def alerts(self, events: Sequence[AlertEvent]) -> None: ...
    def units(self, party: str, unit_ids: Collection[str]) -> None: ...
    def reference(self) -> None: ...


class CotService(Protocol):
    """The service as the TAK gateway uses it; every call is made in the event loop."""

    def actors(self) -> Sequence[Actor]:
        """Every actor, for affiliation in both directions."""
        ...

    async def ingest_cot(
        self, party: str, batch: ReportBatch, units: Sequence[Unit]
    ) -> CotIngestResult:
        """Store `batch` in `party`'s picture, registering those of `units` not yet known.

        Returns once the reports are durable, the same path as the HTTP API's reports.
        """
        ...

    async def view(self, party: str, unit_ids: Collection[str] | None = None) -> PartyView:
        """`party`'s lines, sites and units (only `unit_ids` when given)."""
        ...

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Call `listener` on every change; returns the function that unsubscribes."""
        ...


def party_view(
    party: str,
    picture: PictureView,
    lines: Collection[Line],
    sites: Collection[Site],
    unit_ids: Collection[str] | None = None,
) -> PartyView:
    """What a party's TAK clients are sent: its lines, its sites and its picture's units."""
    if unit_ids is None:
        states = picture.units()
    else:
        states = [s for s in (picture.unit(u) for u in unit_ids) if s is not None]
    units = [
        UnitView(
            id=s.id,
            name=s.name,
            actor=s.actor,
            kind=UnitKind(s.kind),
            lon=s.lon,
            lat=s.lat,
            time=from_us(s.time_us),
            strength=s.strength,
            equipment=dict(s.equipment),
        )
        for s in states
    ]
    return PartyView(
        party=party,
        lines=[line for line in lines if party in line.parties()],
        sites=[site for site in sites if site.party == party],
        units=units,
    )
