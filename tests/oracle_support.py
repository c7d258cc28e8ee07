"""Shared by the oracle tests: replaying both engines and comparing their events.

`benchmarks/` is on the tests' path (pyproject's `pythonpath`), for the reference engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from deconfliction.batch import ReportBatch
from deconfliction.engine import Engine
from deconfliction.model import (
    Actor,
    AlertEvent,
    Crossing,
    Line,
    Party,
    Report,
    Site,
    Unit,
    UnitKind,
)
from scalar import ScalarEngine
from workload import Workload

T0 = datetime(2018, 2, 7, 12, 0, tzinfo=UTC)
PARTIES = [Party(id="blue", name="Blue"), Party(id="red", name="Red")]
ACTORS = [
    Actor(id="blue-army", name="Blue army", party="blue"),
    Actor(id="red-army", name="Red army", party="red"),
    Actor(id="militia", name="Militia", party=None),
]

Signature = tuple[str, str, str, tuple[str, ...]]
"""(time, event, rule, (party, *key)) of an event."""


class Journal:
    """One engine's events, each with its rule's key (docs/rules.md)."""

    def __init__(self) -> None:
        self.entries: list[Signature] = []
        self.order: list[list[tuple[str, str, tuple[str, ...]]]] = []
        self.crossings: dict[tuple[str, ...], Crossing | None] = {}
        self._opened_with: dict[str, tuple[str, ...]] = {}

    def record(self, events: Sequence[AlertEvent]) -> None:
        evaluation = []
        for e in events:
            key = (e.party, *self._key(e))
            if e.event == "open":
                self._opened_with[e.id] = key
                if e.rule.value == "zone.violation":
                    self.crossings[(e.time.isoformat(), *key)] = e.crossing
            self.entries.append((e.time.isoformat(), e.event, e.rule.value, key))
            evaluation.append((e.event, e.rule.value, key))
        self.order.append(evaluation)

    def _key(self, e: AlertEvent) -> tuple[str, ...]:
        rule = e.rule.value
        if rule == "force.massing":
            # Known by the units it opened with, whatever cluster it follows later.
            if e.event != "open":
                return self._opened_with[e.id][1:]
            return tuple(sorted(e.units))
        if rule in ("line.approach", "zone.violation"):
            return (str(e.line), *e.units)
        if rule == "site.threat":
            return (str(e.site), *e.units)
        return (str(e.site),)


def replay(workload: Workload) -> tuple[Journal, Journal]:
    """(engine, reference) journals of the same batches."""
    w = workload
    engine = Engine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings)
    reference = ScalarEngine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings)
    got, want = Journal(), Journal()
    for chunk in w.batches:
        got.record(engine.ingest(chunk))
        want.record(reference.ingest(chunk))
    return got, want


def assert_same(got: Journal, want: Journal) -> None:
    mine, theirs = sorted(got.entries), sorted(want.entries)
    if mine != theirs:
        first = next(
            (i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
            min(len(mine), len(theirs)),
        )
        raise AssertionError(
            f"engine {len(mine)} events, reference {len(theirs)}; first difference at "
            f"{first}:\n  engine    {mine[first : first + 3]}\n"
            f"  reference {theirs[first : first + 3]}"
        )
    assert got.crossings == want.crossings


def tangle(
    seed: int, n_units: int = 60, n_steps: int = 60
) -> tuple[
    list[Party], list[Actor], list[Line], list[Site], list[Unit], list[ReportBatch | datetime]
]:
    """Three parties, two lines (one walked south), units shuffled around both.

    Batches list their rows out of time order, repeat a unit at one time, carry reports
    older than the picture holds, strength, and equipment the catalogue never had; now
    and then the clock moves on without reports.
    """
    rng = np.random.default_rng(seed)
    parties = [*PARTIES, Party(id="green", name="Green")]
    actors = [
        *ACTORS,
        Actor(id="green-army", name="Green army", party="green"),
        Actor(id="bandits", name="Bandits", party=None),
    ]
    lat0 = float(rng.choice([33.0, -20.0]))
    west = [(38.0 + 0.25 * i, lat0 + float(rng.normal(0, 0.05))) for i in range(9)]
    south = [(40.2 + float(rng.normal(0, 0.03)), lat0 - 0.25 * i) for i in range(6)]
    lines = [
        Line(id="west", name="West", coordinates=west, left="blue", right="red", buffer_m=4000),
        Line(
            id="south",
            name="South",
            coordinates=south,
            left="green",
            right="red",
            buffer_m=2500,
        ),
    ]
    owners = ["blue", "red", "green"]
    sites = [
        Site(
            id=f"s{i}",
            name=f"Site {i}",
            party=owners[int(rng.integers(3))],
            lon=float(rng.uniform(38.5, 40.8)),
            lat=lat0 + float(rng.uniform(-0.6, 0.4)),
            priority=["low", "medium", "high", "critical"][int(rng.integers(4))],
        )
        for i in range(10)
    ]
    kinds = list(UnitKind)
    units = [
        Unit(
            id=f"x{i:03d}",
            name=f"Unit {i}",
            actor=actors[int(rng.integers(len(actors)))].id,
            kind=kinds[int(rng.integers(len(kinds)))],
            strength=int(rng.integers(10, 150)),
            equipment={"tank": int(rng.integers(0, 4))} if rng.random() < 0.3 else {},
        )
        for i in range(n_units)
    ]
    lon = rng.uniform(38.2, 40.8, n_units)
    lat = lat0 + rng.uniform(-0.8, 0.5, n_units)
    gear = ["tank", "artillery", "mlrs", "drone"]
    steps: list[ReportBatch | datetime] = []
    for b in range(n_steps):
        base = T0 + timedelta(minutes=10 * b)
        if rng.random() < 0.1:
            steps.append(base + timedelta(hours=float(rng.uniform(0, 3))))
            continue
        reports = []
        for _ in range(int(rng.integers(1, 25))):
            i = int(rng.integers(n_units))
            lon[i] += rng.normal(0, 0.04)
            lat[i] += rng.normal(0, 0.04)
            equipment = None
            if rng.random() < 0.1:
                equipment = {gear[int(rng.integers(4))]: int(rng.integers(0, 9))}
            reports.append(
                Report(
                    time=base + timedelta(minutes=int(rng.integers(-30, 10))),
                    unit=units[i].id,
                    lon=float(lon[i]),
                    lat=float(lat[i]),
                    observer=owners[int(rng.integers(3))],
                    strength=int(rng.integers(0, 400)) if rng.random() < 0.15 else None,
                    equipment=equipment,
                )
            )
        steps.append(ReportBatch.from_reports(reports, default_observer="blue"))
    return parties, actors, lines, sites, units, steps
