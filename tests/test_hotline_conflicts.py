"""Notification conflicts on hand-computable geometry, concerns from alerts, drafts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deconfliction.batch import ReportBatch
from deconfliction.engine import Engine
from deconfliction.hotline import (
    Hotline,
    ReportForces,
    concern_from_alert,
    draft_response,
)
from deconfliction.model import (
    Actor,
    Alert,
    HotlineKind,
    HotlinePriority,
    Party,
    Report,
    Rule,
    Severity,
    Site,
    Unit,
)

T0 = datetime(2016, 9, 17, 12, 0, tzinfo=UTC)
PARTIES = [Party(id="coalition", name="Coalition"), Party(id="russia", name="Russia")]
ACTORS = [
    Actor(id="sdf", name="SDF", party="coalition"),
    Actor(id="saa", name="Syrian Arab Army", party="russia"),
]
UNITS = [
    Unit(id="saa-inside", name="SAA battalion", actor="saa", strength=400),
    Unit(id="saa-coming", name="SAA convoy", actor="saa", strength=120),
    Unit(id="saa-leaving", name="SAA company", actor="saa", strength=90),
    Unit(id="saa-far", name="SAA reserve", actor="saa", strength=300),
    Unit(id="sdf-1", name="SDF platoon", actor="sdf", strength=30),
]
SITES = [
    Site(
        id="airbase",
        name="Deir ez-Zor airbase",
        party="russia",
        lon=40.15,
        lat=35.15,
        priority="critical",
    ),
    Site(id="depot", name="Depot", party="russia", lon=40.5, lat=35.5),
]
# The strike box: lon 40.0-40.2, lat 35.0-35.2.
AREA = {
    "type": "Polygon",
    "coordinates": [[[40.0, 35.0], [40.2, 35.0], [40.2, 35.2], [40.0, 35.2], [40.0, 35.0]]],
}
WINDOW = {"start": T0 + timedelta(hours=1), "end": T0 + timedelta(hours=2)}


def _reports() -> list[Report]:
    def r(unit: str, minutes: int, lon: float, lat: float, observer: str = "russia") -> Report:
        return Report(
            time=T0 + timedelta(minutes=minutes), unit=unit, lon=lon, lat=lat, observer=observer
        )

    return [
        r("saa-inside", 0, 40.1, 35.1),
        # 0.04 degrees east in 30 minutes: 39.96 at the window's start (13:00), the box's
        # west edge (40.0) at 13:30.
        r("saa-coming", -30, 39.84, 35.1),
        r("saa-coming", 0, 39.88, 35.1),
        # Inside now but driving north out of the box before the window starts.
        r("saa-leaving", -10, 40.1, 35.15),
        r("saa-leaving", 0, 40.1, 35.19),
        r("saa-far", 0, 41.0, 36.0),
        # Coalition sees pro-regime units too, but only russia's own picture counts.
        r("saa-far", 0, 40.1, 35.1, observer="coalition"),
    ]


def _forces(reports: list[Report]) -> ReportForces:
    return ReportForces(SITES, UNITS, ACTORS, reports, "coalition", timedelta(hours=6))


def _notify(hotline: Hotline, now: datetime) -> str:
    message = hotline.compose(
        "coalition",
        "russia",
        HotlineKind.NOTIFICATION,
        "Strike near Deir ez-Zor",
        now,
        priority=HotlinePriority.FLASH,
        activity="air strike",
        area=AREA,
        window=WINDOW,
    )
    hotline.send(message, now)
    return message.id


def test_sites_and_units_in_or_heading_into_the_area_conflict() -> None:
    hotline = Hotline(["coalition", "russia"], forces=_forces(_reports()))
    now = T0 + timedelta(minutes=1)
    message = hotline.compose(
        "coalition",
        "russia",
        HotlineKind.NOTIFICATION,
        "Strike near Deir ez-Zor",
        now,
        priority=HotlinePriority.FLASH,
        activity="air strike",
        area=AREA,
        window=WINDOW,
    )
    [opened] = hotline.send(message, now).events
    assert (opened.rule, opened.party, opened.severity) == (
        Rule.NOTIFICATION_CONFLICT,
        "russia",
        Severity.CRITICAL,
    )
    assert opened.site == "airbase"
    assert opened.units == ["saa-coming", "saa-inside"]
    assert (opened.lon, opened.lat) == (40.1, 35.1)
    conflicts = hotline.conflicts("russia", message.id)
    assert [(c.kind, c.id, c.inside) for c in conflicts] == [
        ("site", "airbase", True),
        ("unit", "saa-coming", False),
        ("unit", "saa-inside", True),
    ]
    coming = conflicts[1]
    assert coming.enters is not None
    assert abs((coming.enters - (T0 + timedelta(minutes=90))).total_seconds()) < 1
    # The sender sees nothing of it: no alert, no conflict list.
    assert hotline.alerts("coalition") == []
    assert hotline.conflicts("coalition", message.id) == []
    draft = draft_response(message, conflicts)
    assert "covers 3 of our positions" in draft.body and "Deir ez-Zor airbase" in draft.body
    reply = hotline.compose(
        "russia",
        "coalition",
        HotlineKind.RESPONSE,
        draft.subject,
        now + timedelta(minutes=3),
        body=draft.body,
        reply_to=message.id,
    )
    [resolved] = hotline.send(reply, now + timedelta(minutes=3)).events
    assert (resolved.event, resolved.id) == ("resolved", opened.id)
    assert "answered by" in resolved.message


def test_the_conflict_resolves_when_the_window_ends() -> None:
    hotline = Hotline(["coalition", "russia"], forces=_forces(_reports()))
    _notify(hotline, T0)
    ack_due = hotline.next_deadline()
    assert ack_due == T0 + timedelta(minutes=5)
    assert (
        hotline.evaluate(WINDOW["end"] - timedelta(seconds=1))[0].rule
        == Rule.HOTLINE_UNACKNOWLEDGED
    )
    resolved = [e for e in hotline.evaluate(WINDOW["end"]) if e.rule == Rule.NOTIFICATION_CONFLICT]
    assert [e.event for e in resolved] == ["resolved"]
    assert "its window has ended" in resolved[0].message


def test_no_conflict_outside_the_area() -> None:
    hotline = Hotline(["coalition", "russia"], forces=_forces(_reports()))
    far = {
        "type": "Polygon",
        "coordinates": [[[38.0, 34.0], [38.1, 34.0], [38.1, 34.1], [38.0, 34.0]]],
    }
    message = hotline.compose(
        "coalition",
        "russia",
        HotlineKind.NOTIFICATION,
        "Strike far away",
        T0,
        activity="air strike",
        area=far,
        window=WINDOW,
    )
    assert hotline.send(message, T0).events == []
    assert draft_response(message, []).body == "No conflict with our forces."


def test_conflicts_read_the_engines_picture() -> None:
    reports = _reports()
    engine = Engine(PARTIES, ACTORS, [], SITES, UNITS)
    engine.ingest(ReportBatch.from_reports(reports, default_observer="coalition"))
    forces = ReportForces(SITES, UNITS, ACTORS, reports, "coalition", timedelta(hours=6), engine)
    hotline = Hotline(["coalition", "russia"], forces=forces, book=engine.book)
    message = hotline.compose(
        "coalition",
        "russia",
        HotlineKind.NOTIFICATION,
        "Strike",
        T0 + timedelta(minutes=1),
        activity="air strike",
        area=AREA,
        window=WINDOW,
    )
    [opened] = hotline.send(message, T0 + timedelta(minutes=1)).events
    assert opened.units == ["saa-coming", "saa-inside"]
    assert [a.id for a in engine.alerts("russia")] == [opened.id]
    # Wired as an engine extension, the timers run on the engine's own evaluations.
    engine.extensions.append(hotline.extension)
    events = engine.advance(T0 + timedelta(minutes=62))
    assert [(e.rule, e.party) for e in events] == [(Rule.HOTLINE_UNACKNOWLEDGED, "coalition")]


def test_a_concern_from_an_alert_goes_to_the_party_whose_forces_it_is_about() -> None:
    hotline = Hotline(["coalition", "russia"])
    alert = Alert(
        id="a-7",
        rule=Rule.FORCE_MASSING,
        severity=Severity.CRITICAL,
        time=T0,
        party="coalition",
        units=["saa-inside", "saa-coming"],
        lon=40.1,
        lat=35.1,
        message="SAA battalion and SAA convoy (russia, 520 personnel) massing 8 km from the line",
        opened=T0,
        updated=T0,
    )
    message = concern_from_alert(
        hotline,
        alert,
        {u.id: u for u in UNITS},
        {a.id: a for a in ACTORS},
        T0 + timedelta(minutes=1),
    )
    assert (message.sender, message.recipient, message.kind) == (
        "coalition",
        "russia",
        HotlineKind.CONCERN,
    )
    assert message.priority == HotlinePriority.FLASH and message.refs == ["a-7"]
    assert message.place == (40.1, 35.1)
    assert "520 personnel" in message.body and "SAA battalion" in message.body
    hotline.send(message, T0 + timedelta(minutes=1))
    assert (
        hotline.messages("russia", "inbox", T0 + timedelta(minutes=1))[0].message.id == message.id
    )
