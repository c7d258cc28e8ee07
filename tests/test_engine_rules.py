"""Each rule of DESIGN section 5 on hand-computable geometry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from deconfliction.batch import ReportBatch
from deconfliction.engine import Engine, EngineError
from deconfliction.model import AlertEvent, Line, Report, Settings, Site
from deconfliction.picture import UnknownUnitError
from engine_helpers import (
    ACTORS,
    PARTIES,
    T0,
    engine,
    feed,
    meridian_line,
    of,
    opened,
    report,
    unit,
)

KM_PER_DEG = 111.32  # one degree of longitude at the equator, near enough for margins


# zone.violation -----------------------------------------------------------------------


def test_crossing_carries_the_point_and_the_interpolated_time() -> None:
    eng = engine([unit("e1", "e-army")])
    events = feed(
        eng,
        [
            report("e1", 3.10, 0.50, 0),  # east side, own
            report("e1", 2.90, 0.50, 60),  # west side: crossed halfway, at minute 30
        ],
    )
    [violation] = opened(events, "zone.violation")
    assert violation.crossing is not None
    assert violation.crossing.lon == pytest.approx(3.0, abs=1e-6)
    assert violation.crossing.lat == pytest.approx(0.5, abs=1e-3)
    assert violation.crossing.time == T0 + timedelta(minutes=30)
    assert violation.line == "meridian"
    assert violation.severity == "high"
    assert violation.units == ["e1"]
    assert "crossed the Meridian line into west's area" in violation.message


def test_crossing_time_follows_the_distance_walked() -> None:
    eng = engine([unit("w1", "w-army")])
    # Walking west to east, a quarter of the way on the west side.
    events = feed(eng, [report("w1", 2.95, 0.2, 0), report("w1", 3.15, 0.2, 40)])
    [violation] = opened(events, "zone.violation")
    assert violation.crossing is not None
    assert violation.crossing.time == T0 + timedelta(minutes=10)


def test_first_sighting_across_the_line_has_no_crossing() -> None:
    eng = engine([unit("e1", "e-army")])
    [violation] = opened(feed(eng, [report("e1", 2.8, 0.5, 0)]), "zone.violation")
    assert violation.crossing is None
    assert "is in west's area" in violation.message


def test_violation_resolves_on_return_and_never_opens_twice() -> None:
    eng = engine([unit("e1", "e-army")])
    events = feed(
        eng,
        [
            report("e1", 3.2, 0.5, 0),
            report("e1", 2.8, 0.5, 10),
            report("e1", 2.7, 0.5, 20),  # deeper: same incursion
            report("e1", 2.6, 0.5, 30),
            report("e1", 3.2, 0.5, 40),  # home
        ],
    )
    assert len(of(events, "open", "zone.violation")) == 1
    [resolved] = of(events, "resolved", "zone.violation")
    assert resolved.time == T0 + timedelta(minutes=40)


def test_points_beyond_the_lines_ends_use_its_extension() -> None:
    eng = engine([unit("e1", "e-army")])
    # Line ends at lat 1; lat 1.5 is past its end but inside the theatre (200 km margin).
    assert opened(feed(eng, [report("e1", 2.9, 1.5, 0)]), "zone.violation")


def test_outside_the_theatre_is_in_neither_area() -> None:
    eng = engine([unit("e1", "e-army")], theatre_margin_m=50_000)
    # 1 degree (~111 km) west of the line is beyond a 50 km margin.
    events = feed(eng, [report("e1", 2.0, 0.5, 0)])
    assert not opened(events)


def test_unaligned_and_third_party_units_do_not_trigger_line_rules() -> None:
    eng = engine([unit("b1", "bandits"), unit("t1", "t-army")])
    events = feed(eng, [report("b1", 2.99, 0.5, 0), report("t1", 3.01, 0.5, 0)])
    assert not [e for e in events if e.rule in ("zone.violation", "line.approach")]


def test_line_rules_run_only_in_the_pictures_of_the_lines_parties() -> None:
    eng = engine([unit("e1", "e-army")])
    events = feed(eng, [report("e1", 2.9, 0.5, 0, observer="third")])
    assert not opened(events)
    events = feed(eng, [report("e1", 2.9, 0.5, 1, observer="east")])
    assert [e.party for e in opened(events, "zone.violation")] == ["east"]


def test_line_walked_the_other_way_swaps_the_sides() -> None:
    line = Line(
        id="m", name="M", left="west", right="east", coordinates=[(3.0, 1.0), (3.0, 0.0)]
    )  # walking south: west is on the right
    eng = engine([unit("w1", "w-army")], lines=[line])
    # A west unit on the geographic west side is now in the left party's... east's area.
    [violation] = opened(feed(eng, [report("w1", 2.9, 0.5, 0)]), "zone.violation")
    assert "into east's area" in violation.message or "in east's area" in violation.message


def test_southern_hemisphere() -> None:
    line = Line(
        id="s",
        name="South",
        left="west",
        right="east",
        coordinates=[(-70.0, -34.0), (-70.0, -33.0)],
    )  # walking north at lon -70
    eng = engine([unit("e1", "e-army")], lines=[line])
    assert eng.projection.epsg == 32719
    events = feed(eng, [report("e1", -69.9, -33.5, 0), report("e1", -70.1, -33.5, 60)])
    [violation] = opened(events, "zone.violation")
    assert violation.crossing is not None
    assert violation.crossing.lon == pytest.approx(-70.0, abs=1e-6)
    assert violation.crossing.time == T0 + timedelta(minutes=30)


# line.approach -------------------------------------------------------------------------


def test_approach_opens_inside_the_buffer_on_own_side_and_resolves_outside() -> None:
    eng = engine([unit("e1", "e-army")])
    events = feed(
        eng,
        [
            report("e1", 3.10, 0.5, 0),  # ~11 km east
            report("e1", 3.03, 0.5, 10),  # ~3.3 km east: inside the 5 km buffer
            report("e1", 3.02, 0.5, 20),  # still inside: no second open
            report("e1", 3.06, 0.5, 30),  # ~6.7 km: out
        ],
    )
    assert [e.time for e in of(events, "open", "line.approach")] == [T0 + timedelta(minutes=10)]
    assert [e.time for e in of(events, "resolved", "line.approach")] == [T0 + timedelta(minutes=30)]
    assert of(events, "open", "line.approach")[0].severity == "medium"


def test_approach_uses_the_line_not_its_extension() -> None:
    eng = engine([unit("e1", "e-army")], lines=[meridian_line(0.0, 0.5)])
    # 1 km east of the extension, but ~11 km from the line's northern end.
    events = feed(eng, [report("e1", 3.01, 0.6, 0)])
    assert not opened(events, "line.approach")


def test_approach_becomes_violation_when_the_unit_crosses() -> None:
    eng = engine([unit("e1", "e-army")])
    events = feed(eng, [report("e1", 3.02, 0.5, 0), report("e1", 2.98, 0.5, 10)])
    assert of(events, "resolved", "line.approach")
    assert of(events, "open", "zone.violation")


# site.threat ---------------------------------------------------------------------------


def _hq(
    lon: float = 3.3, lat: float = 0.5, party: str = "west", priority: str = "critical"
) -> Site:
    return Site(
        id="hq",
        name="Headquarters",
        party=party,
        kind="headquarters",
        lon=lon,
        lat=lat,
        personnel=40,
        priority=priority,
    )  # type: ignore[arg-type]


def test_threat_uses_the_longest_reach_of_kind_and_equipment() -> None:
    # A mortar section (7 km by kind) holding an artillery piece (25 km).
    eng = engine(
        [unit("gun", "e-army", kind="mortar", artillery=1)], sites=[_hq(lon=3.0)], lines=[]
    )
    # 0.2 degrees of longitude at the equator: ~22.3 km, inside 25 km.
    events = feed(eng, [report("gun", 3.2, 0.5, 0)])
    [threat] = opened(events, "site.threat")
    assert threat.site == "hq" and threat.severity == "critical"
    # Losing the gun leaves the mortar's 7 km: out of reach.
    events = feed(eng, [report("gun", 3.2, 0.5, 10, equipment={"artillery": 0})])
    assert of(events, "resolved", "site.threat")


def test_threat_boundary_is_inclusive_and_other_only() -> None:
    eng = engine(
        [unit("tanks", "e-army", kind="armor", tank=4), unit("own", "w-army", kind="armor")],
        sites=[_hq(lon=3.0, priority="high")],
        lines=[],
    )
    events = feed(eng, [report("tanks", 3.03, 0.5, 0), report("own", 3.0, 0.5, 0)])
    [threat] = opened(events, "site.threat")  # ~3.3 km < 4 km; own armour never threatens
    assert threat.units == ["tanks"] and threat.severity == "high"
    events = feed(eng, [report("tanks", 3.04, 0.5, 5)])  # ~4.45 km
    assert of(events, "resolved", "site.threat")


def test_equipment_update_refreshes_an_open_threat() -> None:
    eng = engine([unit("tanks", "e-army", kind="armor", tank=10)], sites=[_hq(lon=3.0)], lines=[])
    feed(eng, [report("tanks", 3.02, 0.5, 0)])
    events = feed(eng, [report("tanks", 3.02, 0.5, 10, strength=40, equipment={"tank": 6})])
    [update] = of(events, "updated", "site.threat")
    assert "6 tanks" in update.message and "40 personnel" in update.message


# force.massing -------------------------------------------------------------------------


def test_massing_chains_units_within_eps_and_needs_a_threshold() -> None:
    units = [unit(f"m{i}", "e-army", strength=120) for i in range(3)]
    eng = engine(units, sites=[_hq(lon=3.0)], lines=[])
    # Three units 4 km apart in a chain (eps 5 km): 360 >= 300, ~11 km from the HQ.
    events = feed(eng, [report(f"m{i}", 3.1 + 0.036 * i, 0.5, 0) for i in range(3)])
    [massing] = opened(events, "force.massing")
    assert massing.units == ["m0", "m1", "m2"]
    assert massing.severity == "high"
    assert "360 personnel" in massing.message


def test_massing_splits_over_eps_and_by_bloc() -> None:
    units = [
        unit("a", "e-army", strength=200),
        unit("b", "e-army", strength=200),
        unit("c", "bandits", strength=200),
    ]
    eng = engine(units, sites=[_hq(lon=3.0)], lines=[])
    # a and b 6 km apart (> eps); c next to a but in another bloc.
    events = feed(
        eng, [report("a", 3.1, 0.5, 0), report("b", 3.154, 0.5, 0), report("c", 3.101, 0.5, 0)]
    )
    assert not opened(events, "force.massing")


def test_massing_heavy_weapons_and_critical_within_reach() -> None:
    eng = engine(
        [unit("bty", "e-army", kind="artillery", strength=50, artillery=6)],
        sites=[_hq(lon=3.0)],
        lines=[],
    )
    [massing] = opened(feed(eng, [report("bty", 3.15, 0.5, 0)]), "force.massing")
    assert massing.severity == "critical"  # ~16.7 km, inside 25 km artillery reach


def test_massing_near_a_shared_line_counts_and_stale_units_drop_out() -> None:
    units = [unit(f"m{i}", "e-army", strength=200) for i in range(2)]
    eng = engine(units, stale_after_s=3600)
    events = feed(eng, [report("m0", 3.15, 0.5, 0), report("m1", 3.17, 0.5, 0)])
    [massing] = opened(events, "force.massing")
    assert massing.party == "west"
    # Only m1 is reported again; two hours later m0 is stale and 200 < 300.
    events = feed(eng, [report("m1", 3.17, 0.5, 120)])
    assert [e.id for e in of(events, "resolved", "force.massing")] == [massing.id]


def test_massing_update_keeps_one_alert_as_units_join() -> None:
    units = [unit(f"m{i}", "e-army", strength=150) for i in range(4)]
    eng = engine(units, sites=[_hq(lon=3.0)], lines=[])
    events = feed(eng, [report("m0", 3.1, 0.5, 0), report("m1", 3.12, 0.5, 0)])
    events += feed(eng, [report("m2", 3.14, 0.5, 10)])
    events += feed(eng, [report("m3", 3.16, 0.5, 20)])
    assert len(opened(events, "force.massing")) == 1
    updates = of(events, "updated", "force.massing")
    assert [len(u.units) for u in updates] == [3, 4]


# defence -------------------------------------------------------------------------------


def test_defence_weakened_when_garrison_falls_by_the_drop() -> None:
    eng = engine([unit("g", "w-army", strength=500)], sites=[_hq(lon=3.0)], lines=[])
    feed(eng, [report("g", 3.01, 0.5, 0)])
    events = feed(eng, [report("g", 3.01, 0.5, 60, strength=360)])  # -28%: not yet
    assert not opened(events, "defence.weakened")
    events = feed(eng, [report("g", 3.01, 0.5, 120, strength=350)])  # -30%
    [weak] = opened(events, "defence.weakened")
    assert weak.site == "hq" and weak.severity == "critical"
    assert "350" in weak.message and "500" in weak.message
    events = feed(eng, [report("g", 3.01, 0.5, 180, strength=400)])
    assert of(events, "resolved", "defence.weakened")


def test_defence_baseline_falls_out_of_the_window() -> None:
    eng = engine(
        [unit("g", "w-army", strength=500)],
        sites=[_hq(lon=3.0)],
        lines=[],
        defence_window_s=3600,
        stale_after_s=10**6,
    )
    feed(eng, [report("g", 3.01, 0.5, 0)])
    events = feed(eng, [report("g", 3.01, 0.5, 30, strength=200)])
    assert opened(events, "defence.weakened")
    # 61 minutes after the 500 sample it leaves the window; 200 is the new baseline.
    events = feed(eng, [report("g", 3.01, 0.5, 61, strength=200)])
    assert of(events, "resolved", "defence.weakened")


def test_defence_needs_the_minimum_baseline() -> None:
    eng = engine([unit("g", "w-army", strength=90)], sites=[_hq(lon=3.0)], lines=[])
    feed(eng, [report("g", 3.01, 0.5, 0)])
    assert not opened(feed(eng, [report("g", 3.01, 0.5, 60, strength=10)]))


def test_defence_outnumbered_ratio() -> None:
    eng = engine(
        [
            unit("g", "w-army", strength=100),
            unit("x", "e-army", strength=290),
            unit("y", "bandits", strength=20),
        ],
        sites=[_hq(lon=3.0)],
        lines=[],
    )
    events = feed(eng, [report("g", 3.0, 0.5, 0), report("x", 3.1, 0.5, 0)])
    assert not opened(events, "defence.outnumbered")  # 290 < 3 x 100
    events = feed(eng, [report("y", 3.05, 0.5, 10)])  # 310 others, bandits count too
    [out] = opened(events, "defence.outnumbered")
    assert "310" in out.message and "3.1 to 1" in out.message


# The engine as a whole -----------------------------------------------------------------


def test_unknown_unit_changes_nothing() -> None:
    eng = engine([unit("e1", "e-army")])
    batch = ReportBatch.from_reports(
        [report("e1", 2.9, 0.5, 0), report("ghost", 2.9, 0.5, 0)], default_observer="west"
    )
    with pytest.raises(UnknownUnitError, match="ghost"):
        eng.ingest(batch)
    assert eng.now is None
    assert eng.picture("west").units() == []


def test_unknown_observer_is_refused() -> None:
    eng = engine([unit("e1", "e-army")])
    batch = ReportBatch.from_reports(
        [report("e1", 2.9, 0.5, 0, observer="nobody")], default_observer="west"
    )
    with pytest.raises(EngineError, match="nobody"):
        eng.ingest(batch)


def test_older_reports_change_nothing() -> None:
    eng = engine([unit("e1", "e-army")])
    feed(eng, [report("e1", 3.2, 0.5, 10)])
    events = feed(eng, [report("e1", 2.8, 0.5, 5)])
    assert not opened(events)
    assert eng.picture("west").unit("e1").lon == pytest.approx(3.2)  # type: ignore[union-attr]


def test_reports_enter_only_their_observers_picture() -> None:
    eng = engine([unit("e1", "e-army", strength=100)])
    feed(eng, [report("e1", 3.2, 0.5, 0, observer="west", strength=40)])
    assert eng.picture("west").unit("e1").strength == 40  # type: ignore[union-attr]
    assert eng.picture("east").unit("e1") is None


def test_adding_a_site_raises_alerts_on_the_current_picture() -> None:
    eng = engine([unit("tanks", "e-army", kind="armor", tank=4)], lines=[])
    feed(eng, [report("tanks", 3.02, 0.5, 0)])
    events = eng.add_site(_hq(lon=3.0))
    assert opened(events, "site.threat")


def test_a_line_that_cannot_split_the_theatre_is_refused_and_changes_nothing() -> None:
    eng = engine([unit("e1", "e-army")])
    # A hook whose extended end runs back through the line.
    hook = Line(
        id="hook",
        name="Hook",
        left="west",
        right="east",
        coordinates=[(3.0, 0.0), (3.0, 1.0), (3.5, 1.0), (3.5, 0.5), (2.5, 0.5)],
    )
    with pytest.raises(ValueError, match="hook"):
        eng.add_line(hook)
    assert set(eng.lines) == {"meridian"}


def test_replay_is_deterministic() -> None:
    def run() -> list[dict[str, object]]:
        eng: Engine = engine(
            [unit("e1", "e-army", kind="armor", tank=8), unit("g", "w-army", strength=400)],
            sites=[_hq(lon=3.05)],
        )
        reports = [report("g", 3.05, 0.5, 0)]
        reports += [report("e1", 3.3 - 0.03 * i, 0.5, 10 * i) for i in range(15)]
        reports += [report("g", 3.05, 0.5, 140, strength=100)]
        return [e.to_json_dict() for e in feed(eng, reports)]

    first, second = run(), run()
    assert first == second
    assert {e["rule"] for e in first} >= {
        "zone.violation",
        "site.threat",
        "force.massing",
        "defence.weakened",
        "line.approach",
    }


def test_every_alert_has_one_open_then_updates_then_at_most_one_resolved() -> None:
    units = [
        unit(f"u{i}", ["e-army", "w-army", "bandits"][i % 3], kind="armor", strength=150, tank=2)
        for i in range(12)
    ]
    eng = engine(
        units,
        sites=[_hq(lon=3.0), _hq(lon=3.1, party="east").model_copy(update={"id": "e-hq"})],
        stale_after_s=1800,
    )
    reports = []
    for step in range(30):
        for i in range(12):
            lon = 3.0 + 0.08 * ((i * 7 + step * (i % 5 + 1)) % 9 - 4) / 4
            reports.append(
                report(
                    f"u{i}",
                    lon,
                    0.5 + 0.01 * (i % 4),
                    step * 15,
                    observer=["west", "east"][(i + step) % 2],
                )
            )
    history: dict[str, list[str]] = {}
    for event in feed(eng, reports):
        history.setdefault(event.id, []).append(event.event)
    assert history
    for kinds in history.values():
        assert kinds[0] == "open"
        assert "open" not in kinds[1:]
        assert kinds.count("resolved") <= 1
        if "resolved" in kinds:
            assert kinds[-1] == "resolved"


def test_a_unit_added_after_reports_is_watched_in_batches_and_alone() -> None:
    eng = engine([unit("e1", "e-army")], sites=[_hq(lon=3.0)])
    feed(eng, [report("e1", 3.2, 0.5, 0)])
    eng.add_unit(unit("late", "e-army", kind="armor", tank=5))
    # One report alone takes the live path; then a batch of two takes the vectorised one.
    alone = feed(eng, [report("late", 3.02, 0.5, 10)])
    assert {e.rule for e in opened(alone)} >= {"site.threat", "line.approach"}
    eng.add_unit(unit("later", "e-army", kind="armor", tank=5))
    together = feed(eng, [report("later", 2.98, 0.5, 20), report("e1", 3.2, 0.5, 20)])
    assert opened(together, "zone.violation")[0].units == ["later"]


def test_the_open_alert_count_follows_opens_and_resolutions() -> None:
    """`/health` counts a party's open alerts from the book's open index, under the engine's
    lock: the count follows each open and resolve, and resolved alerts do not count."""
    from workload import small

    w = small(seed=4, reports=2000, units=120, sites=8, batch_size=200)
    engine = Engine(w.parties, w.actors, w.lines, w.sites, w.units, w.settings)
    resolved = 0
    for batch in w.batches:
        resolved += sum(e.event == "resolved" for e in engine.ingest(batch))
        for party in w.parties:
            every = engine.alerts(party.id, open_only=False)
            still_open = [a for a in every if a.state == "open"]
            assert engine.alerts(party.id) == still_open
            assert engine.open_alert_count(party.id) == len(still_open)
    assert resolved > 0
    everything = engine.alerts(open_only=False)
    assert len(everything) > sum(engine.open_alert_count(p.id) for p in w.parties) > 0


def _posts_in_pairs() -> list[Site]:
    """West's posts two at each place (a headquarters and its depot), more of them than
    the site tree keeps in one leaf."""
    sites = []
    for i in range(10):
        lat = 0.05 + 0.09 * i
        for kind, priority in (("hq", "high"), ("depot", "low")):
            sites.append(
                Site(
                    id=f"{kind}{i}",
                    name=f"{kind.title()} {i}",
                    party="west",
                    lon=2.6,
                    lat=lat,
                    priority=priority,
                )
            )
    return sites


def test_a_massing_alert_names_the_same_site_in_a_batch_and_one_report_at_a_time() -> None:
    sites = _posts_in_pairs()
    units = [unit(f"e{j}", "e-army", strength=120) for j in range(3)]
    reports = [
        Report(time=T0, unit=f"e{j}", lon=2.7 + 0.01 * j, lat=0.05, observer="west")
        for j in range(3)
    ]

    def massing_sites(events: list[AlertEvent]) -> list[str | None]:
        return [e.site for e in events if e.rule.value == "force.massing"]

    batched = Engine(PARTIES, ACTORS, [meridian_line()], sites, units, Settings())
    in_batch = massing_sites(batched.ingest(ReportBatch.from_reports(reports, "west")))
    single = Engine(PARTIES, ACTORS, [meridian_line()], sites, units, Settings())
    one_by_one: list[str | None] = []
    for one in reports:
        one_by_one += massing_sites(single.ingest(ReportBatch.from_reports([one], "west")))
    assert len(in_batch) == 1 and len(one_by_one) == 1
    # Two posts at one place are equally near: the first listed is named, as before,
    # whichever path the reports took.
    assert in_batch == one_by_one == ["hq0"]


def test_a_garrison_that_changes_sides_counts_for_its_new_side_at_once() -> None:
    """A unit re-registered under another party leaves its old side's defence sums and
    joins the other side's, whether its next report comes alone or in a batch."""
    site = Site(id="w-hq", name="West HQ", party="west", lon=2.8, lat=0.5, priority="high")
    others = [unit(f"p{i}", "t-army") for i in range(20)]

    def at(minutes: int) -> Report:
        return Report(time=T0 + timedelta(minutes=minutes), unit="g1", lon=2.8, lat=0.5)

    for alone in (True, False):
        engine = Engine(
            PARTIES,
            ACTORS,
            [meridian_line()],
            [site],
            [unit("g1", "w-army", strength=300), *others],
            Settings(),
        )
        engine.ingest(ReportBatch.from_reports([at(0)], "west"))
        engine.add_unit(unit("g1", "e-army", strength=300))
        later = [at(1)] if alone else [at(1), at(2)]
        events = engine.ingest(ReportBatch.from_reports(later, "west"))
        opened = {e.rule.value for e in events if e.event == "open"}
        assert {"defence.weakened", "defence.outnumbered"} <= opened
        assert {a.rule.value for a in engine.alerts("west")} >= {"defence.outnumbered"}
