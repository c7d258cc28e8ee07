"""Incidents: a party's record of what happened, and its ACLED-style export."""

from __future__ import annotations

import csv
import io
import sqlite3

from ..model import Actor, Incident
from ..store.base import Role
from ..store.sqlite import SQLiteStore
from .auth import Principal
from .errors import Conflict, Invalid
from .views import IncidentIn


class Incidents:
    """The incident half of the service (a part of `Service`)."""

    store: SQLiteStore
    actors: dict[str, Actor]

    def add_incident(self, principal: Principal, data: IncidentIn) -> None:
        principal.require(Role.OPERATOR)
        if data.party is not None and data.party != principal.party:
            raise Invalid.field("body.party", f"an incident you record is '{principal.party}''s")
        for j, actor in enumerate(data.actors):
            if actor not in self.actors:
                raise Invalid.field(f"body.actors[{j}]", f"unknown actor '{actor}'")
        incident = Incident(**{**data.model_dump(), "party": principal.party})
        # another party's incident ids are its own: only the caller's (and the public
        # ones it sees) can clash
        if self.store.incident(principal.party, incident.id) is not None:
            raise Conflict(f"an incident '{incident.id}' exists")
        try:
            self.store.put_incident(incident)
        except sqlite3.IntegrityError:
            # the same id from a request that got there first
            raise Conflict(f"an incident '{incident.id}' exists") from None

    def incidents_csv(self, principal: Principal) -> str:
        """The party's incidents with ACLED-style columns."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ACLED_COLUMNS)
        for incident in self.store.incidents(principal.party):
            event_type, sub_type = ACLED_TYPES.get(str(incident.kind), ACLED_TYPES["other"])
            names = [self.actors[a].name if a in self.actors else a for a in incident.actors]
            writer.writerow(
                [
                    incident.time.strftime("%Y-%m-%d"),
                    event_type,
                    sub_type,
                    names[0] if names else "",
                    names[1] if len(names) > 1 else "",
                    incident.location,
                    f"{incident.lat:.4f}",
                    f"{incident.lon:.4f}",
                    incident.casualties.low,
                    "; ".join(incident.sources),
                    incident.notes,
                ]
            )
        return out.getvalue()


ACLED_COLUMNS = (
    "event_date",
    "event_type",
    "sub_event_type",
    "actor1",
    "actor2",
    "location",
    "latitude",
    "longitude",
    "fatalities",
    "source",
    "notes",
)

ACLED_TYPES: dict[str, tuple[str, str]] = {
    "attack": ("Battles", "Armed clash"),
    "clash": ("Battles", "Armed clash"),
    "shelling": ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    "air-strike": ("Explosions/Remote violence", "Air/drone strike"),
    "drone-strike": ("Explosions/Remote violence", "Air/drone strike"),
    "ied": ("Explosions/Remote violence", "Remote explosive/landmine/IED"),
    "movement": ("Strategic developments", "Other"),
    "other": ("Strategic developments", "Other"),
}
