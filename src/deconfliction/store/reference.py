"""The agreement and the forces in the store: parties, actors, units, lines, sites, settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from ..model import Actor, Line, Party, Settings, Site, Unit
from . import tables
from .base import Reference
from .records import _Reads


class ReferenceQueries(_Reads):
    """Reference data: written through the store's one writer, read on its readers."""

    def put_reference(self, reference: Reference) -> None:
        def job(c: sqlite3.Connection) -> None:
            for party in reference.parties:
                tables.put_party(c, party)
            for actor in reference.actors:
                tables.put_actor(c, actor)
            for unit in reference.units:
                tables.put_unit(c, unit)
            for line in reference.lines:
                tables.put_line(c, line)
            for site in reference.sites:
                tables.put_site(c, site)
            c.execute(
                "INSERT OR REPLACE INTO settings (id, document) VALUES (1, ?)",
                (reference.settings.model_dump_json(),),
            )

        self._writer.run(job)

    def put_party(self, party: Party) -> None:
        self._writer.run(lambda c: tables.put_party(c, party))

    def put_actor(self, actor: Actor) -> None:
        self._writer.run(lambda c: tables.put_actor(c, actor))

    def put_unit(self, unit: Unit) -> None:
        self._writer.run(lambda c: tables.put_unit(c, unit))

    def put_units(self, units: Sequence[Unit]) -> None:
        def job(c: sqlite3.Connection) -> None:
            for unit in units:
                tables.put_unit(c, unit)

        self._writer.run(job)

    def put_line(self, line: Line) -> None:
        self._writer.run(lambda c: tables.put_line(c, line))

    def put_site(self, site: Site) -> None:
        self._writer.run(lambda c: tables.put_site(c, site))

    def put_settings(self, settings: Settings) -> None:
        self._writer.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO settings (id, document) VALUES (1, ?)",
                (settings.model_dump_json(),),
            )
        )

    def reference(self) -> Reference:
        return Reference(
            parties=self.parties(),
            actors=self.actors(),
            units=self.units(),
            lines=self.lines(),
            sites=self.sites(),
            settings=self.settings(),
        )

    def parties(self) -> list[Party]:
        rows = self._read("SELECT id, name FROM parties ORDER BY position, id")
        return [Party(id=i, name=n) for i, n in rows]

    def actors(self) -> list[Actor]:
        rows = self._read("SELECT id, name, party FROM actors ORDER BY position, id")
        return [Actor(id=i, name=n, party=p) for i, n, p in rows]

    def units(self) -> list[Unit]:
        rows = self._read(
            "SELECT id, name, actor, kind, strength, equipment FROM units ORDER BY position, id"
        )
        return [
            Unit(id=i, name=n, actor=a, kind=k, strength=s, equipment=orjson.loads(e))
            for i, n, a, k, s, e in rows
        ]

    def lines(self) -> list[Line]:
        rows = self._read(
            'SELECT id, name, "left", "right", buffer_m, coordinates FROM lines'
            " ORDER BY position, id"
        )
        return [
            Line(id=i, name=n, left=le, right=r, buffer_m=b, coordinates=orjson.loads(c))
            for i, n, le, r, b, c in rows
        ]

    def sites(self) -> list[Site]:
        rows = self._read(
            "SELECT id, name, party, kind, lon, lat, personnel, priority FROM sites"
            " ORDER BY position, id"
        )
        return [
            Site(id=i, name=n, party=p, kind=k, lon=lo, lat=la, personnel=pe, priority=pr)
            for i, n, p, k, lo, la, pe, pr in rows
        ]

    def settings(self) -> Settings:
        rows = self._read("SELECT document FROM settings WHERE id = 1")
        return Settings.model_validate_json(rows[0][0]) if rows else Settings()
