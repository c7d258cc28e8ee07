"""The service's view of a recipient's own forces: the live engine's picture and the
stored report before each unit's last, so a unit heading into a strike area conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from deconfliction.api.hotline import build
from deconfliction.batch import ReportBatch
from deconfliction.cli.service import initialise
from deconfliction.hotline.service import SendIn
from deconfliction.model import Report
from deconfliction.service.core import Service
from deconfliction.store import SQLiteStore

SCENARIO = """
name: Heading in
parties: [{id: coalition, name: Coalition}, {id: russia, name: Russia}]
actors: [{id: saa, name: Syrian Arab Army, party: russia}]
units:
  - {id: convoy, name: SAA convoy, actor: saa, kind: other, strength: 80}
  - {id: parked, name: SAA depot guard, actor: saa, kind: infantry, strength: 20}
"""
T0 = datetime(2018, 2, 7, 12, 0, tzinfo=UTC)


def test_a_unit_heading_into_the_area_during_the_window_conflicts(tmp_path: Path) -> None:
    (tmp_path / "theatre.yaml").write_text(SCENARIO)
    db = tmp_path / "service.sqlite"
    initialise(db, str(tmp_path / "theatre.yaml"))
    with SQLiteStore(db) as store:
        service = Service(store, live=False)
        reports = [
            # 0.02 degrees east per 30 minutes: from 39.94 at 12:00 to the box's west
            # edge (40.0) at 13:30, inside a 13:00-14:00 window.
            Report(
                time=T0 - timedelta(minutes=30),
                unit="convoy",
                lon=39.92,
                lat=35.2,
                observer="russia",
            ),
            Report(time=T0, unit="convoy", lon=39.94, lat=35.2, observer="russia"),
            # Parked well outside: no conflict.
            Report(time=T0, unit="parked", lon=39.5, lat=35.2, observer="russia"),
        ]
        for report in reports:
            service.ingest_batch(ReportBatch.from_reports([report], default_observer="russia"))
        desk = build(service)
        sent = desk.send(
            "coalition",
            SendIn.model_validate(
                {
                    "kind": "notification",
                    "recipient": "russia",
                    "subject": "Strike",
                    "activity": "air strike",
                    "area": {
                        "type": "Polygon",
                        "coordinates": [
                            [[40.0, 35.1], [40.2, 35.1], [40.2, 35.3], [40.0, 35.3], [40.0, 35.1]]
                        ],
                    },
                    "window_start": T0 + timedelta(hours=1),
                    "window_end": T0 + timedelta(hours=2),
                }
            ),
        )
        detail = desk.detail("russia", sent["id"])
        [conflict] = detail["conflicts"]
        assert (conflict["id"], conflict["inside"]) == ("convoy", False)
        assert conflict["enters"] == "2018-02-07T13:30:00Z"
        [alert] = [a for a in desk.hotline.alerts("russia") if a.ref == sent["id"]]
        assert alert.units == ["convoy"]
        desk.close()
        service.close()


def test_a_feed_position_from_before_a_restart_misses_nothing_after_it(tmp_path: Path) -> None:
    """The feed is rebuilt from the transcript when the service starts, without the
    escalations it carried: a position taken before the restart must still give every
    event after it, not wait until the new feed outgrows the old count."""
    (tmp_path / "theatre.yaml").write_text(SCENARIO)
    db = tmp_path / "service.sqlite"
    initialise(db, str(tmp_path / "theatre.yaml"))

    def report_at(time: datetime) -> ReportBatch:
        seen = Report(time=time, unit="parked", lon=39.5, lat=35.2, observer="russia")
        return ReportBatch.from_reports([seen], default_observer="russia")

    def message(recipient: str, subject: str) -> SendIn:
        return SendIn.model_validate(
            {"kind": "concern", "recipient": recipient, "subject": subject, "priority": "flash"}
        )

    with SQLiteStore(db) as store:
        service = Service(store, live=False)
        service.ingest_batch(report_at(T0))
        desk = build(service)
        desk.send("coalition", message("russia", "Convoy near the river"))
        # Hours later, unanswered: the message escalates.
        service.ingest_batch(report_at(T0 + timedelta(hours=6)))
        before = desk.feed("russia", 0)
        assert "hotline.escalation" in [item.event for item in before]
        position = desk.feed_position("russia")
        desk.close()
        service.close()
    with SQLiteStore(db) as store:
        service = Service(store, live=False)
        desk = build(service)
        sent = desk.send("russia", message("coalition", "Our patrol, not a convoy"))
        after = desk.feed("russia", position)
        assert sent["id"] in [item.data.get("id") for item in after]
        desk.close()
        service.close()
