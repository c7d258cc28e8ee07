"""The vectorised engine against the scalar reference, and both against hand-worked cases.

`benchmarks/scalar.py` evaluates DESIGN section 5 one report at a time with shapely and
pyproj, written apart from `deconfliction.engine`. The hand-worked cases (a line along a
parallel, units walked across it both ways, both hemispheres, points beyond the line's
ends and outside the theatre) hold both engines to the same figures; the random
workloads then hold the engine to the reference's open, updated and resolved events, keyed as
docs/rules.md keys alerts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
import pytest

from deconfliction.batch import ReportBatch, concat, to_us
from deconfliction.engine import Engine
from deconfliction.model import (
    AlertEvent,
    Line,
    Report,
    Settings,
    Site,
    Unit,
    UnitKind,
)
from deconfliction.scenario.loader import load
from oracle_support import (
    ACTORS,
    PARTIES,
    T0,
    Journal,
    ScalarEngine,
    assert_same,
    replay,
    tangle,
)
from workload import small


class Watchful(Protocol):
    """What both engines offer: batches in, events out, a clock moved by hand."""

    def ingest(self, batch: ReportBatch) -> list[AlertEvent]: ...

    def advance(self, now: datetime) -> list[AlertEvent]: ...


Maker = Callable[..., Watchful]


@pytest.fixture(params=["reference", "engine"])
def make(request: pytest.FixtureRequest) -> Maker:
    """Builds either engine over PARTIES and ACTORS."""
    kind = ScalarEngine if request.param == "reference" else Engine

    def build(
        lines: Sequence[Line],
        sites: Sequence[Site],
        units: Sequence[Unit],
        settings: Settings | None = None,
    ) -> Watchful:
        watch: Watchful = kind(PARTIES, ACTORS, lines, sites, units, settings or Settings())
        return watch

    return build


def parallel_line(lat: float, west_to_east: bool = True, buffer_m: float = 3000.0) -> Line:
    """A line along a parallel from lon 39 to 41; walking east, blue holds the north."""
    coordinates = [(39.0, lat), (40.0, lat), (41.0, lat)]
    if not west_to_east:
        coordinates.reverse()
    return Line(
        id="front",
        name="Front",
        coordinates=coordinates,
        left="blue",
        right="red",
        buffer_m=buffer_m,
    )


def unit(
    uid: str,
    actor: str,
    kind: UnitKind = UnitKind.INFANTRY,
    strength: int = 50,
    equipment: dict[str, int] | None = None,
) -> Unit:
    return Unit(
        id=uid,
        name=uid.title(),
        actor=actor,
        kind=kind,
        strength=strength,
        equipment=equipment or {},
    )


def batch(
    minute: float,
    *rows: tuple[str, float, float],
    observer: str = "blue",
    strength: int | None = None,
    equipment: dict[str, int] | None = None,
) -> ReportBatch:
    time = T0 + timedelta(minutes=minute)
    reports = [
        Report(
            time=time,
            unit=u,
            lon=lon,
            lat=lat,
            observer=observer,
            strength=strength,
            equipment=equipment,
        )
        for u, lon, lat in rows
    ]
    return ReportBatch.from_reports(reports, default_observer=observer)


Row = tuple[str, str, tuple[str, ...], str | None, str | None]


def keyed(events: Sequence[AlertEvent], rule: str) -> list[Row]:
    """(event, party, units, site, line) of one rule's events, sorted."""
    return sorted(
        (e.event, e.party, tuple(e.units), e.site, e.line) for e in events if e.rule.value == rule
    )


# -- both engines on hand-worked geometry -------------------------------------------------


@pytest.mark.parametrize("lat", [35.0, -35.0])
def test_crossing_north_carries_interpolated_point_and_time(make: Maker, lat: float) -> None:
    watch = make([parallel_line(lat)], [], [unit("tank", "red-army")])
    assert keyed(watch.ingest(batch(0, ("tank", 40.0, lat - 0.05))), "zone.violation") == []
    events = watch.ingest(batch(10, ("tank", 40.0, lat + 0.05)))
    (opened,) = [e for e in events if e.rule.value == "zone.violation"]
    assert (opened.event, opened.party, opened.units, opened.line) == (
        "open",
        "blue",
        ["tank"],
        "front",
    )
    assert opened.crossing is not None
    assert opened.crossing.lon == pytest.approx(40.0, abs=1e-4)
    assert opened.crossing.lat == pytest.approx(lat, abs=1e-4)
    # The parallel is met halfway along the walk, so halfway through the ten minutes.
    assert abs((opened.crossing.time - (T0 + timedelta(minutes=5))).total_seconds()) < 5
    events = watch.ingest(batch(20, ("tank", 40.0, lat - 0.05)))
    assert keyed(events, "zone.violation") == [("resolved", "blue", ("tank",), None, "front")]


@pytest.mark.parametrize("lat", [35.0, -35.0])
def test_blue_walked_south_violates_in_both_pictures(make: Maker, lat: float) -> None:
    watch = make([parallel_line(lat)], [], [unit("patrol", "blue-army")])
    watch.ingest(batch(0, ("patrol", 40.5, lat + 0.1)))
    assert keyed(watch.ingest(batch(5, ("patrol", 40.5, lat - 0.1))), "zone.violation") == [
        ("open", "blue", ("patrol",), None, "front")
    ]
    # Red never saw it on its own side: a first sighting opens without a crossing.
    events = watch.ingest(batch(6, ("patrol", 40.5, lat - 0.1), observer="red"))
    (opened,) = [e for e in events if e.rule.value == "zone.violation"]
    assert (opened.event, opened.party, opened.crossing) == ("open", "red", None)


def test_crossing_is_where_the_incursion_began_within_a_batch(make: Maker) -> None:
    watch = make([parallel_line(35.0)], [], [unit("tank", "red-army")])
    watch.ingest(batch(0, ("tank", 40.0, 34.95)))
    reports = [
        Report(time=T0 + timedelta(minutes=m), unit="tank", lon=lon, lat=lat, observer="blue")
        for m, lon, lat in [(30, 40.2, 35.10), (20, 40.0, 35.05)]
    ]
    events = watch.ingest(ReportBatch.from_reports(reports, default_observer="blue"))
    (opened,) = [e for e in events if e.rule.value == "zone.violation"]
    # The walk from minute 0 to minute 20 met the parallel at minute 10.
    assert opened.crossing is not None
    assert opened.crossing.lon == pytest.approx(40.0, abs=1e-4)
    assert opened.crossing.time == T0 + timedelta(minutes=10)


def test_long_segment_is_straight_in_lon_lat_not_in_metres(make: Maker) -> None:
    # One 2.5-degree segment along 35 N: projected as a single straight chord it would
    # pass 714 m north of the parallel at lon 39.25, so these points would change sides.
    line = Line(
        id="front",
        name="Front",
        coordinates=[(38.0, 35.0), (40.5, 35.0)],
        left="blue",
        right="red",
        buffer_m=3000.0,
    )
    watch = make([line], [], [unit("north", "red-army"), unit("patrol", "blue-army")])
    # 333 m north of the parallel: blue's side. 3.3 km north: outside the 3 km buffer
    # (2.6 km from the chord).
    events = watch.ingest(batch(0, ("north", 39.25, 35.003), ("patrol", 39.25, 35.03)))
    assert keyed(events, "zone.violation") == [("open", "blue", ("north",), None, "front")]
    assert keyed(events, "line.approach") == []


def test_reversed_line_gives_blue_the_south(make: Maker) -> None:
    watch = make([parallel_line(35.0, west_to_east=False)], [], [unit("patrol", "blue-army")])
    assert keyed(watch.ingest(batch(0, ("patrol", 40.0, 35.2))), "zone.violation") == [
        ("open", "blue", ("patrol",), None, "front")
    ]
    assert keyed(watch.ingest(batch(1, ("patrol", 40.0, 34.8))), "zone.violation") == [
        ("resolved", "blue", ("patrol",), None, "front")
    ]


@pytest.mark.parametrize("lat", [35.0, -35.0])
def test_approach_is_measured_to_the_line_not_its_extension(make: Maker, lat: float) -> None:
    names = ("near", "end", "beyond")
    watch = make([parallel_line(lat)], [], [unit(n, "red-army") for n in names])
    # 0.02 degrees of latitude is 2.2 km, inside the 3 km buffer; 0.03 is 3.3 km, outside.
    # `end` is 2.1 km from the line's last vertex, `beyond` 45 km past it.
    rows = [("near", 40.0, lat - 0.02), ("end", 41.02, lat - 0.01), ("beyond", 41.5, lat - 0.01)]
    events = watch.ingest(batch(0, *rows))
    assert keyed(events, "line.approach") == [
        ("open", "blue", ("end",), None, "front"),
        ("open", "blue", ("near",), None, "front"),
    ]
    assert keyed(events, "zone.violation") == []
    events = watch.ingest(batch(1, ("near", 40.0, lat - 0.03)))
    assert keyed(events, "line.approach") == [("resolved", "blue", ("near",), None, "front")]


def test_beyond_the_ends_the_extension_still_divides(make: Maker) -> None:
    watch = make([parallel_line(35.0)], [], [unit("raider", "red-army")])
    # 90 km east of the line's end, just north of its extension: blue's area.
    assert keyed(watch.ingest(batch(0, ("raider", 42.0, 35.01))), "zone.violation") == [
        ("open", "blue", ("raider",), None, "front")
    ]
    assert keyed(watch.ingest(batch(1, ("raider", 37.5, 34.99))), "zone.violation") == [
        ("resolved", "blue", ("raider",), None, "front")
    ]


def test_outside_the_theatre_is_in_neither_area(make: Maker) -> None:
    watch = make([parallel_line(35.0)], [], [unit("raider", "red-army")])
    assert keyed(watch.ingest(batch(0, ("raider", 40.0, 36.0))), "zone.violation") == [
        ("open", "blue", ("raider",), None, "front")
    ]
    # Three degrees north is 330 km from the line, past the 200 km margin.
    assert keyed(watch.ingest(batch(1, ("raider", 40.0, 38.0))), "zone.violation") == [
        ("resolved", "blue", ("raider",), None, "front")
    ]
    assert keyed(watch.ingest(batch(2, ("raider", 44.0, 35.5))), "zone.violation") == []


def test_site_threat_follows_reach_from_kind_and_equipment(make: Maker) -> None:
    site = Site(id="hq", name="HQ", party="blue", lon=40.0, lat=35.5, priority="critical")
    guns = unit("guns", "militia", UnitKind.ARTILLERY)
    rifles = unit("rifles", "militia", UnitKind.INFANTRY, equipment={"mlrs": 0})
    watch = make([parallel_line(35.0)], [site], [guns, rifles])
    # 0.2 degrees of latitude is 22 km: within the guns' 25 km, beyond the rifles' 1.5 km.
    events = watch.ingest(batch(0, ("guns", 40.0, 35.3), ("rifles", 40.0, 35.3)))
    threats = [e for e in events if e.rule.value == "site.threat"]
    assert [(e.event, e.units, e.site, e.severity.value) for e in threats] == [
        ("open", ["guns"], "hq", "critical")
    ]
    events = watch.ingest(batch(1, ("guns", 40.0, 35.25)))
    assert keyed(events, "site.threat") == [("resolved", "blue", ("guns",), "hq", None)]
    # Rocket launchers in the infantry's hands reach 40 km.
    events = watch.ingest(batch(2, ("rifles", 40.0, 35.25), equipment={"mlrs": 2}))
    assert keyed(events, "site.threat") == [("open", "blue", ("rifles",), "hq", None)]
    assert all(e.party == "blue" for e in events)


def test_massing_chains_clusters_and_follows_them(make: Maker) -> None:
    site = Site(id="hq", name="HQ", party="blue", lon=40.0, lat=35.5)
    watch = make([], [site], [unit(f"m{i}", "militia", strength=100) for i in range(4)])
    # 0.05 degrees of longitude is 4.5 km at 35.45 N: each within 5 km of the next.
    rows = [(f"m{i}", 40.0 + 0.05 * i, 35.45) for i in range(4)]

    def massing(events: list[AlertEvent]) -> list[tuple[str, str, tuple[str, ...]]]:
        return [(e.event, e.id, tuple(e.units)) for e in events if e.rule.value == "force.massing"]

    ((_, first, units),) = massing(watch.ingest(batch(0, *rows)))
    assert units == ("m0", "m1", "m2", "m3")
    # One leaves the chain: 300 remain, and the same alert follows them.
    events = watch.ingest(batch(1, ("m3", 41.0, 35.45)))
    assert massing(events) == [("updated", first, ("m0", "m1", "m2"))]
    # The middle one leaves: two groups of 100, neither qualifies.
    assert massing(watch.ingest(batch(2, ("m1", 38.0, 35.45)))) == [
        ("resolved", first, ("m0", "m1", "m2"))
    ]
    # Regrouped, they open a new alert.
    ((kind, second, units),) = massing(
        watch.ingest(batch(3, ("m1", 40.05, 35.45), ("m3", 40.15, 35.45)))
    )
    assert (kind, units) == ("open", ("m0", "m1", "m2", "m3")) and second != first
    assert massing(watch.ingest(batch(4, ("m0", 40.0, 35.45)))) == []


def massing_events(events: Sequence[AlertEvent]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(e.event, e.id, tuple(e.units)) for e in events if e.rule.value == "force.massing"]


def test_massing_split_alert_follows_the_part_with_the_first_unit(make: Maker) -> None:
    site = Site(id="hq", name="HQ", party="blue", lon=40.0, lat=35.5)
    settings = Settings(massing_min_strength=150)
    watch = make([], [site], [unit(n, "militia", strength=100) for n in "abcd"], settings)
    rows = [(n, 40.0 + 0.04 * i, 35.45) for i, n in enumerate("abcd")]
    ((_, first, _),) = massing_events(watch.ingest(batch(0, *rows)))
    # b and c part: {a, b} and {c, d} share two units each with the alert; the tie goes
    # to the cluster whose smallest unit id sorts first, the other opens anew.
    events = watch.ingest(batch(1, ("c", 40.2, 35.45), ("d", 40.24, 35.45)))
    moved = massing_events(events)
    assert moved[0] == ("updated", first, ("a", "b"))
    assert [(kind, units) for kind, _, units in moved[1:]] == [("open", ("c", "d"))]


def test_massing_merge_keeps_the_oldest_alert(make: Maker) -> None:
    site = Site(id="hq", name="HQ", party="blue", lon=40.0, lat=35.5)
    settings = Settings(massing_min_strength=150)
    watch = make([], [site], [unit(n, "militia", strength=100) for n in "abcd"], settings)
    ((_, older, _),) = massing_events(
        watch.ingest(batch(0, ("c", 40.2, 35.45), ("d", 40.24, 35.45)))
    )
    ((_, newer, _),) = massing_events(
        watch.ingest(batch(1, ("a", 40.0, 35.45), ("b", 40.04, 35.45)))
    )
    # The two groups close up: the older alert takes the whole cluster, the newer resolves.
    events = watch.ingest(batch(2, ("c", 40.08, 35.45), ("d", 40.12, 35.45)))
    assert sorted(massing_events(events)) == [
        ("resolved", newer, ("a", "b")),
        ("updated", older, ("a", "b", "c", "d")),
    ]


def test_massing_ignores_stale_units_and_far_clusters(make: Maker) -> None:
    site = Site(id="hq", name="HQ", party="blue", lon=40.0, lat=35.5)
    group = [unit(f"m{i}", "militia", strength=200) for i in range(2)]
    watch = make([], [site], group, Settings(stale_after_s=3600))
    # 0.3 degrees of latitude is 33 km from the site: not near it.
    assert watch.ingest(batch(0, ("m0", 40.0, 35.8), ("m1", 40.01, 35.8))) == []
    events = watch.ingest(batch(10, ("m0", 40.0, 35.6), ("m1", 40.01, 35.6)))
    assert [e[0] for e in keyed(events, "force.massing")] == ["open"]
    # An hour and a minute later m0 is stale: 200 left, below 300.
    events = watch.advance(T0 + timedelta(minutes=71))
    assert [e[0] for e in keyed(events, "force.massing")] == ["resolved"]


def test_defence_weakened_and_outnumbered(make: Maker) -> None:
    site = Site(id="hq", name="HQ", party="blue", lon=40.0, lat=35.5, priority="high")
    guards = [unit(f"g{i}", "blue-army", strength=100) for i in range(2)]
    watch = make([], [site], [*guards, unit("raiders", "militia", strength=250)])
    assert watch.ingest(batch(0, ("g0", 40.0, 35.5), ("g1", 40.05, 35.5))) == []
    # One guard leaves: 100 of a 200 baseline, below 70 %.
    events = watch.ingest(batch(5, ("g1", 41.0, 35.5)))
    assert [(e.event, e.rule.value, e.site, e.severity.value) for e in events] == [
        ("open", "defence.weakened", "hq", "high")
    ]
    # 250 others against 100: short of three to one. 300 is enough.
    assert keyed(watch.ingest(batch(6, ("raiders", 40.1, 35.5))), "defence.outnumbered") == []
    events = watch.ingest(batch(7, ("raiders", 40.1, 35.5), strength=300))
    assert keyed(events, "defence.outnumbered") == [("open", "blue", (), "hq", None)]
    events = watch.ingest(batch(8, ("g1", 40.0, 35.45)))
    assert keyed(events, "defence.weakened") == [("resolved", "blue", (), "hq", None)]
    assert keyed(events, "defence.outnumbered") == [("resolved", "blue", (), "hq", None)]


def test_defence_baseline_leaves_the_window(make: Maker) -> None:
    site = Site(id="hq", name="HQ", party="blue", lon=40.0, lat=35.5)
    guards = [unit(f"g{i}", "blue-army", strength=100) for i in range(2)]
    watch = make([], [site], guards, Settings(defence_window_s=3600, stale_after_s=86400))
    watch.ingest(batch(0, ("g0", 40.0, 35.5), ("g1", 40.05, 35.5)))
    events = watch.ingest(batch(30, ("g1", 41.0, 35.5)))
    assert keyed(events, "defence.weakened") == [("open", "blue", (), "hq", None)]
    # An hour after the last sample of 200, 100 is all the window remembers.
    assert keyed(watch.advance(T0 + timedelta(minutes=59)), "defence.weakened") == []
    events = watch.advance(T0 + timedelta(minutes=61))
    assert keyed(events, "defence.weakened") == [("resolved", "blue", (), "hq", None)]


def test_older_report_changes_nothing(make: Maker) -> None:
    watch = make([parallel_line(35.0)], [], [unit("tank", "red-army")])
    watch.ingest(batch(10, ("tank", 40.0, 34.9)))
    assert watch.ingest(batch(5, ("tank", 40.0, 35.2))) == []


def test_small_workload_fires_every_rule() -> None:
    workload = small(seed=5, reports=6000, units=300, sites=12, batch_size=300)
    reference = ScalarEngine(
        workload.parties,
        workload.actors,
        workload.lines,
        workload.sites,
        workload.units,
        workload.settings,
    )
    opened: set[str] = set()
    for chunk in workload.batches:
        opened.update(e.rule.value for e in reference.ingest(chunk) if e.event == "open")
    assert opened == {
        "line.approach",
        "zone.violation",
        "site.threat",
        "force.massing",
        "defence.weakened",
        "defence.outnumbered",
    }


def test_workload_is_deterministic_and_columnar() -> None:
    a = small(seed=9, reports=3000, batch_size=1000)
    b = small(seed=9, reports=3000, batch_size=1000)
    assert [len(x) for x in a.batches] == [1000, 1000, 1000]
    for x, y in zip(a.batches, b.batches, strict=True):
        assert np.array_equal(x.lon, y.lon) and np.array_equal(x.time_us, y.time_us)
        assert list(x.unit) == list(y.unit) and x.equipment == y.equipment
    times = np.concatenate([x.time_us for x in a.batches])
    assert np.all(np.diff(times) > 0)
    assert len(a.lines[0].coordinates) == 40 and len(a.sites) == 20 and len(a.units) == 500
    assert {s.party for s in a.sites} == {"blue", "red"}
    assert len({u.actor for u in a.units}) == 4
    scenario = a.scenario()
    assert len(scenario.reports) == 3000 and scenario.reports[0].unit == a.batches[0].unit[0]


def test_workload_scenario_file_round_trips(tmp_path: Path) -> None:
    workload = small(seed=2, reports=1200, units=100, sites=6, batch_size=400)
    path = tmp_path / "workload.json"
    workload.write_scenario_json(path)
    scenario = load(path)
    rows = concat(workload.batches)
    assert [r.unit for r in scenario.reports] == list(rows.unit)
    assert [to_us(r.time) for r in scenario.reports] == rows.time_us.tolist()
    assert [(r.lon, r.lat) for r in scenario.reports] == list(zip(rows.lon, rows.lat, strict=True))
    assert [-1 if r.strength is None else r.strength for r in scenario.reports] == list(
        rows.strength
    )
    assert scenario.units == workload.units and scenario.lines == workload.lines


# -- the engine against the reference -----------------------------------------------------


WORKLOADS: dict[str, dict[str, object]] = {
    "euphrates": {"seed": 4},
    "zone-boundary": {"seed": 5, "centre": (36.0, 35.0)},
    "south-west": {"seed": 6, "centre": (-60.0, -34.0)},
    "equator": {"seed": 7, "centre": (20.0, 0.02)},
    "fast-staleness": {
        "seed": 8,
        "settings": Settings(
            stale_after_s=900,
            massing_min_strength=150,
            massing_eps_m=3000,
            defence_window_s=3600,
            defence_min_baseline=50,
        ),
    },
    "crowded-batches": {"seed": 11, "spread": True, "batch_size": 1000, "units": 300},
}


@pytest.mark.parametrize("case", list(WORKLOADS))
def test_engine_matches_reference_on_random_workloads(case: str) -> None:
    spec: dict[str, object] = {
        "reports": 8000,
        "units": 400,
        "sites": 16,
        "batch_size": 250,
        "spread": False,
        "batch_interval_s": 120.0,
    }
    spec.update(WORKLOADS[case])
    got, want = replay(small(**spec))
    assert len(want.entries) > 200
    assert_same(got, want)


@pytest.mark.parametrize("seed", range(1, 9))
def test_engine_matches_reference_on_tangles(seed: int) -> None:
    parties, actors, lines, sites, units, steps = tangle(seed)
    settings = Settings(
        stale_after_s=3600,
        massing_min_strength=200,
        defence_window_s=7200,
        defence_min_baseline=50,
    )
    engine = Engine(parties, actors, lines, sites, units, settings)
    reference = ScalarEngine(parties, actors, lines, sites, units, settings)
    got, want = Journal(), Journal()
    for step in steps:
        if isinstance(step, ReportBatch):
            got.record(engine.ingest(step))
            want.record(reference.ingest(step))
        else:
            got.record(engine.advance(step))
            want.record(reference.advance(step))
    assert len(want.entries) > 50
    assert_same(got, want)


def test_engine_orders_each_evaluation_like_the_reference() -> None:
    got, want = replay(small(seed=4, reports=4000, units=400, sites=16, batch_size=250))
    assert got.order == want.order
