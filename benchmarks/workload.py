"""The benchmark workload of issue 2, generated deterministically from a seed.

Two parties (`blue`, `red`) and two unaligned actors make four blocs; one wandering line
of `line_vertices` vertices crosses a theatre a few hundred kilometres wide; sites sit on
both sides of it; units are organised in formations that random-walk around their homes
(some straddling the line, some garrisoning sites, some redeploying across the theatre)
and both parties report them, sometimes with new strength or equipment figures. The
parameters are chosen so that every rule fires: crossings, approaches, threats, massing
clusters, defence drops and outnumbered sites.

Reports are generated as numpy columns straight into `ReportBatch` chunks, never as a
million pydantic objects. `Workload.scenario()` gives a small workload as a `Scenario`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
from numpy.typing import NDArray

from deconfliction.batch import ReportBatch, from_us, to_us
from deconfliction.model import (
    Actor,
    Line,
    Party,
    Priority,
    Report,
    Scenario,
    Settings,
    Site,
    SiteKind,
    Unit,
    UnitKind,
)

KM_PER_DEG_LAT = 110.574

PARTIES = ("blue", "red")
ACTORS: tuple[tuple[str, str | None], ...] = (
    ("blue-army", "blue"),
    ("red-army", "red"),
    ("militia-north", None),
    ("militia-south", None),
)
BLOC_SHARE = (0.35, 0.35, 0.15, 0.15)

# kind, share, strength range, equipment: name -> count range
KINDS: tuple[tuple[UnitKind, float, tuple[int, int], dict[str, tuple[int, int]]], ...] = (
    (UnitKind.INFANTRY, 0.45, (20, 120), {"apc": (0, 4)}),
    (UnitKind.ARMOR, 0.15, (30, 80), {"tank": (2, 10), "apc": (0, 4)}),
    (UnitKind.ARTILLERY, 0.08, (20, 60), {"artillery": (2, 8)}),
    (UnitKind.MLRS, 0.03, (15, 40), {"mlrs": (1, 4)}),
    (UnitKind.MORTAR, 0.12, (10, 40), {"mortar": (2, 6)}),
    (UnitKind.HQ, 0.07, (10, 40), {}),
    (UnitKind.AIR_DEFENCE, 0.05, (10, 30), {}),
    (UnitKind.OTHER, 0.05, (5, 30), {}),
)


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """How big the workload is and how it is laid out; the defaults are issue 2's."""

    units: int = 10_000
    sites: int = 200
    reports: int = 1_000_000
    batch_size: int = 10_000
    line_vertices: int = 200
    centre: tuple[float, float] = (40.0, 35.0)
    seed: int = 2018
    start: datetime = datetime(2018, 2, 1, tzinfo=UTC)
    batch_interval_s: float = 300.0
    spread: bool = True
    """Report times spread over each batch's interval; False gives each batch one time."""
    formation_size: int = 20
    redeployments: int = 20
    """Formations that move to a new home during the run (garrisons leave their sites)."""
    step_km: float = 0.4
    strength_share: float = 0.03
    equipment_share: float = 0.01
    settings: Settings = field(default_factory=Settings)


@dataclass(slots=True)
class Workload:
    spec: WorkloadSpec
    parties: list[Party]
    actors: list[Actor]
    lines: list[Line]
    sites: list[Site]
    units: list[Unit]
    settings: Settings
    batches: list[ReportBatch]

    @property
    def reports(self) -> int:
        return sum(len(b) for b in self.batches)

    def scenario(self, name: str = "Generated workload") -> Scenario:
        """The workload as a validated scenario (for small workloads: one model per report)."""
        reports: list[Report] = []
        for batch in self.batches:
            reports.extend(batch.to_reports())
        return Scenario(
            name=name,
            parties=self.parties,
            actors=self.actors,
            lines=self.lines,
            sites=self.sites,
            units=self.units,
            reports=[Report.model_validate(r.model_dump()) for r in reports],
            settings=self.settings,
        )

    def write_scenario_json(self, path: Path) -> None:
        """A JSON scenario file of the whole workload, written report by report."""
        head = {
            "name": f"Generated workload ({self.reports} reports)",
            "parties": [p.model_dump(mode="json") for p in self.parties],
            "actors": [a.model_dump(mode="json") for a in self.actors],
            "lines": [line.model_dump(mode="json") for line in self.lines],
            "sites": [s.model_dump(mode="json") for s in self.sites],
            "units": [u.model_dump(mode="json") for u in self.units],
            "settings": self.settings.model_dump(mode="json"),
        }
        with path.open("wb") as out:
            out.write(orjson.dumps(head)[:-1])
            out.write(b',"reports":[')
            first = True
            for batch in self.batches:
                if not len(batch):
                    continue
                if not first:
                    out.write(b",\n")
                # One dump per batch: the list's brackets are cut to splice it in.
                out.write(orjson.dumps(_report_rows(batch), option=orjson.OPT_APPEND_NEWLINE)[1:-2])
                first = False
            out.write(b"]}\n")


def _report_rows(batch: ReportBatch) -> list[dict[str, object]]:
    """The batch's reports as the JSON objects of a scenario file."""
    whole = bool(np.all(batch.time_us % 1_000_000 == 0))
    stamps = np.datetime_as_string(
        batch.time_us.astype("datetime64[us]"), unit="s" if whole else "us"
    )
    times = [t + "Z" for t in stamps.tolist()]
    strength = batch.strength.tolist()
    equipment = batch.equipment
    rows: list[dict[str, object]] = []
    for i, (rid, time, unit, lon, lat, observer, source, rating) in enumerate(
        zip(
            batch.report_id.tolist(),
            times,
            batch.unit.tolist(),
            batch.lon.tolist(),
            batch.lat.tolist(),
            batch.observer.tolist(),
            batch.source.tolist(),
            batch.rating.tolist(),
            strict=True,
        )
    ):
        row: dict[str, object] = {
            "id": rid,
            "time": time,
            "unit": unit,
            "lon": lon,
            "lat": lat,
            "observer": observer,
            "source": source,
            "rating": rating,
        }
        if strength[i] >= 0:
            row["strength"] = strength[i]
        if equipment is not None and equipment[i] is not None:
            row["equipment"] = equipment[i]
        rows.append(row)
    return rows


class _Layout:
    """The theatre in kilometres east and north of its centre, and the line across it."""

    def __init__(self, spec: WorkloadSpec, rng: np.random.Generator) -> None:
        self.lon0, self.lat0 = spec.centre
        self.km_per_deg_lon = 111.320 * math.cos(math.radians(self.lat0))
        self.width = max(60.0, 400.0 * math.sqrt(spec.units / 10_000))
        self.height = 0.7 * self.width
        # West to east, wandering north and south; blue holds the left (north).
        w, h = self.width, self.height
        self.line_x = np.linspace(-w / 2, w / 2, spec.line_vertices)
        phase = rng.uniform(0, 2 * np.pi, 3)
        self.line_y = (
            0.08 * h * np.sin(2 * np.pi * self.line_x / w * 1.5 + phase[0])
            + 0.03 * h * np.sin(2 * np.pi * self.line_x / w * 5.0 + phase[1])
            + rng.normal(0.0, 0.004 * h, spec.line_vertices)
        )

    def line_y_at(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The line's northing at each easting (both in km)."""
        return np.asarray(np.interp(x, self.line_x, self.line_y), dtype=np.float64)

    def lonlat(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        lon = np.clip(self.lon0 + x / self.km_per_deg_lon, -180.0, 180.0)
        lat = np.clip(self.lat0 + y / KM_PER_DEG_LAT, -89.9, 89.9)
        return lon, lat


def generate(spec: WorkloadSpec | None = None) -> Workload:
    """The workload of `spec` (issue 2's size by default): the same seed, the same data."""
    spec = spec or WorkloadSpec()
    rng = np.random.default_rng(spec.seed)
    layout = _Layout(spec, rng)
    width, height, y_of_line = layout.width, layout.height, layout.line_y_at
    lon, lat = layout.lonlat(layout.line_x, layout.line_y)
    line = Line(
        id="front",
        name="Front line",
        coordinates=[(float(a), float(b)) for a, b in zip(lon, lat, strict=True)],
        left="blue",
        right="red",
        buffer_m=3000.0,
    )

    # Sites: half blue north of the line, half red south; many within artillery range of it.
    n_sites = spec.sites
    site_party = np.where(np.arange(n_sites) % 2 == 0, 0, 1)
    site_x = rng.uniform(-0.45 * width, 0.45 * width, n_sites)
    depth = np.where(
        rng.random(n_sites) < 0.4,
        rng.uniform(4.0, 20.0, n_sites),
        rng.uniform(4.0, 0.4 * height, n_sites),
    )
    site_y = y_of_line(site_x) + np.where(site_party == 0, depth, -depth)
    site_lon, site_lat = layout.lonlat(site_x, site_y)
    priorities = list(Priority)
    kinds = list(SiteKind)
    sites = [
        Site(
            id=f"site-{i:04d}",
            name=f"{PARTIES[site_party[i]].title()} site {i}",
            party=PARTIES[site_party[i]],
            kind=kinds[int(rng.integers(len(kinds)))],
            lon=float(site_lon[i]),
            lat=float(site_lat[i]),
            personnel=int(rng.integers(0, 200)),
            priority=priorities[int(rng.integers(len(priorities)))],
        )
        for i in range(n_sites)
    ]

    # Formations: homes per bloc; some straddle the line, some garrison their party's sites.
    n_formations = max(4, math.ceil(spec.units / spec.formation_size))
    bloc = rng.choice(4, size=n_formations, p=BLOC_SHARE)
    fx = rng.uniform(-0.48 * width, 0.48 * width, n_formations)
    role = rng.random(n_formations)
    for aligned in (0, 1):
        # However small the workload, each party has a formation astride the line and
        # one garrisoning a site, so that crossings and defence drops happen.
        mine = np.flatnonzero(bloc == aligned)
        role[mine[:1]] = 0.0
        role[mine[1:2]] = 0.99
    side = np.where(
        bloc == 0, 1.0, np.where(bloc == 1, -1.0, rng.choice([-1.0, 1.0], n_formations))
    )
    fy = y_of_line(fx) + side * rng.uniform(3.0, 0.45 * height, n_formations)
    straddle = role < 0.12
    fy[straddle] = y_of_line(fx[straddle]) + side[straddle] * rng.uniform(-3.0, 4.0, straddle.sum())
    for f in np.flatnonzero((role > 0.75) & (bloc < 2)):
        own = np.flatnonzero(site_party == bloc[f])
        if own.size:
            s = int(rng.choice(own))
            fx[f], fy[f] = site_x[s] + rng.normal(0, 2.0), site_y[s] + rng.normal(0, 2.0)

    formation = np.arange(spec.units) % n_formations
    home_x = fx[formation] + rng.normal(0.0, 1.5, spec.units)
    home_y = fy[formation] + rng.normal(0.0, 1.5, spec.units)
    units, base_strength, base_equipment = _units(rng, spec.units, bloc[formation])
    forces = _Forces(home_x, home_y, formation, fx, fy, base_strength, base_equipment)
    batches = list(_reports(rng, spec, layout, units, forces))
    return Workload(
        spec=spec,
        parties=[Party(id=p, name=f"{p.title()} party") for p in PARTIES],
        actors=[Actor(id=a, name=a.replace("-", " ").title(), party=p) for a, p in ACTORS],
        lines=[line],
        sites=sites,
        units=units,
        settings=spec.settings,
        batches=batches,
    )


def _units(
    rng: np.random.Generator, n: int, bloc: NDArray[np.int64]
) -> tuple[list[Unit], NDArray[np.int64], list[dict[str, int]]]:
    shares = np.array([k[1] for k in KINDS])
    kind_index = rng.choice(len(KINDS), size=n, p=shares / shares.sum())
    units: list[Unit] = []
    strength = np.zeros(n, dtype=np.int64)
    equipment: list[dict[str, int]] = []
    for i in range(n):
        kind, _, (low, high), gear = KINDS[int(kind_index[i])]
        strength[i] = int(rng.integers(low, high + 1))
        held = {name: int(rng.integers(a, b + 1)) for name, (a, b) in gear.items()}
        equipment.append(held)
        actor = ACTORS[int(bloc[i])][0]
        units.append(
            Unit(
                id=f"u-{i:05d}",
                name=f"{kind.value.title()} unit {i}",
                actor=actor,
                kind=kind,
                strength=int(strength[i]),
                equipment=held,
            )
        )
    return units, strength, equipment


@dataclass(slots=True)
class _Forces:
    """Where each unit is drawn to (its formation's home), and its catalogue figures."""

    home_x: NDArray[np.float64]
    home_y: NDArray[np.float64]
    formation: NDArray[np.int64]
    fx: NDArray[np.float64]
    fy: NDArray[np.float64]
    base_strength: NDArray[np.int64]
    base_equipment: list[dict[str, int]]


def _reports(
    rng: np.random.Generator,
    spec: WorkloadSpec,
    layout: _Layout,
    units: list[Unit],
    forces: _Forces,
) -> Iterator[ReportBatch]:
    home_x, home_y, fx, fy = forces.home_x, forces.home_y, forces.fx, forces.fy
    width, height = layout.width, layout.height
    n_units = len(units)
    unit_ids = np.empty(n_units, dtype=object)
    unit_ids[:] = [u.id for u in units]
    observers = np.empty(2, dtype=object)
    observers[:] = list(PARTIES)
    x = home_x + rng.normal(0.0, 1.0, n_units)
    y = home_y + rng.normal(0.0, 1.0, n_units)
    n_batches = math.ceil(spec.reports / spec.batch_size)
    redeploy_at = set(
        rng.choice(n_batches, size=min(spec.redeployments, n_batches), replace=False).tolist()
    )
    start_us = to_us(spec.start)
    interval_us = int(spec.batch_interval_s * 1_000_000)
    drift = 0.05
    serial = 0
    for b in range(n_batches):
        size = min(spec.batch_size, spec.reports - b * spec.batch_size)
        if b in redeploy_at:
            # A whole formation leaves for a new home: its site's defence drops, and it
            # may cross the line on its way.
            f = int(rng.integers(len(fx)))
            nx = rng.uniform(-0.45 * width, 0.45 * width)
            ny = float(layout.line_y_at(np.array([nx]))[0]) + rng.uniform(-0.4, 0.4) * height
            members = forces.formation == f
            home_x[members] += nx - fx[f]
            home_y[members] += ny - fy[f]
            fx[f], fy[f] = nx, ny
        who = rng.integers(0, n_units, size)
        # Each unit's walk within the batch: its drift home from where the batch found it,
        # plus the running sum of its steps in report order.
        order = np.argsort(who, kind="stable")
        sorted_who = who[order]
        first = np.r_[True, sorted_who[1:] != sorted_who[:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(size), 0))
        rank = np.arange(size) - group_start + 1
        steps_x = rng.normal(0.0, spec.step_km, size)
        steps_y = rng.normal(0.0, spec.step_km, size)
        cum_x = np.cumsum(steps_x)
        cum_y = np.cumsum(steps_y)
        walk_x = cum_x - (cum_x - steps_x)[group_start]
        walk_y = cum_y - (cum_y - steps_y)[group_start]
        pull = np.minimum(rank * drift, 1.0)
        px = x[sorted_who] + pull * (home_x[sorted_who] - x[sorted_who]) + walk_x
        py = y[sorted_who] + pull * (home_y[sorted_who] - y[sorted_who]) + walk_y
        last = np.r_[sorted_who[1:] != sorted_who[:-1], True]
        x[sorted_who[last]] = px[last]
        y[sorted_who[last]] = py[last]
        report_x = np.empty(size)
        report_y = np.empty(size)
        report_x[order] = px
        report_y[order] = py
        lon, lat = layout.lonlat(report_x, report_y)

        strength = np.full(size, -1, dtype=np.int64)
        carries = rng.random(size) < spec.strength_share
        factor = rng.uniform(0.1, 1.2, size)
        strength[carries] = np.round(forces.base_strength[who[carries]] * factor[carries]).astype(
            np.int64
        )
        equipment: tuple[dict[str, int] | None, ...] | None = None
        gear_rows = np.flatnonzero(rng.random(size) < spec.equipment_share)
        if gear_rows.size:
            rows: list[dict[str, int] | None] = [None] * size
            for r in gear_rows.tolist():
                held = forces.base_equipment[int(who[r])]
                # Every key the unit holds, so merging and replacing agree.
                rows[r] = {k: round(v * rng.uniform(0.0, 1.2)) for k, v in held.items()}
            equipment = tuple(rows)

        if spec.spread:
            offsets = (np.arange(1, size + 1, dtype=np.int64) * interval_us) // size
        else:
            offsets = np.zeros(size, dtype=np.int64)
        time_us = start_us + b * interval_us + offsets
        ids = np.empty(size, dtype=object)
        ids[:] = [f"r-{serial + i}" for i in range(size)]
        serial += size
        sources = np.empty(size, dtype=object)
        sources[:] = "uav"
        ratings = np.empty(size, dtype=object)
        ratings[:] = "B2"
        yield ReportBatch(
            time_us=time_us,
            unit=unit_ids[who],
            lon=lon,
            lat=lat,
            observer=observers[rng.integers(0, 2, size)],
            strength=strength,
            equipment=equipment,
            report_id=ids,
            source=sources,
            rating=ratings,
        )


def small(seed: int = 1, **overrides: object) -> Workload:
    """A workload small enough for tests: 500 units, 20 sites, 20,000 reports."""
    values: dict[str, object] = {
        "units": 500,
        "sites": 20,
        "reports": 20_000,
        "batch_size": 500,
        "line_vertices": 40,
        "seed": seed,
        "redeployments": 4,
    }
    values.update(overrides)
    return generate(WorkloadSpec(**values))  # type: ignore[arg-type]


def end_time(workload: Workload) -> datetime:
    """The time of the workload's last report."""
    last = max(int(b.time_us.max()) for b in workload.batches if len(b))
    return from_us(last)


__all__ = ["Workload", "WorkloadSpec", "end_time", "generate", "small"]
