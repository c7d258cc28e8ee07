"""Scripted hotline messages replayed end to end, interleaved with alert events."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from deconfliction.cli import app
from deconfliction.scenario.loader import load_columns
from deconfliction.scenario.replay import replay

SEPTEMBER = """
name: Strike notification acknowledged late
parties: [{id: coalition, name: US-led coalition}, {id: russia, name: Russian Federation}]
actors:
  - {id: saa, name: Syrian Arab Army, party: russia}
units:
  - {id: saa-battalion, name: SAA battalion, actor: saa, kind: infantry, strength: 200}
sites:
  - {id: tharda, name: Jabal Tharda positions, party: russia, kind: outpost,
     lon: 40.20, lat: 35.25, priority: high}
reports:
  - {time: "2016-09-17T12:00:00Z", unit: saa-battalion, lon: 40.21, lat: 35.26, observer: russia}
  - {time: "2016-09-17T13:40:00Z", unit: saa-battalion, lon: 40.21, lat: 35.26, observer: russia}
hotline:
  - time: "2016-09-17T13:00:00Z"
    from: coalition
    to: russia
    kind: notification
    priority: flash
    subject: Air strike near Deir ez-Zor
    activity: air strike
    area: {type: Polygon, coordinates: [[[40.1, 35.2], [40.3, 35.2], [40.3, 35.3],
                                        [40.1, 35.3], [40.1, 35.2]]]}
    window_start: "2016-09-17T13:00:00Z"
    window_end: "2016-09-17T15:00:00Z"
    ack_at: "2016-09-17T13:25:00Z"
    response: {time: "2016-09-17T13:30:00Z", subject: Stop, body: Those are our forces.}
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "september.yaml"
    path.write_text(SEPTEMBER)
    return path


def test_a_late_ack_escalates_and_resolves_in_time_order(scenario_file: Path) -> None:
    events = list(replay(load_columns(scenario_file)))
    kinds = [(e["event"], e.get("rule"), e.get("severity"), e["time"]) for e in events]
    assert kinds == [
        ("hotline.message", None, None, "2016-09-17T13:00:00Z"),
        ("open", "notification.conflict", "high", "2016-09-17T13:00:00Z"),
        ("open", "hotline.unacknowledged", "high", "2016-09-17T13:05:00Z"),
        ("updated", "hotline.unacknowledged", "critical", "2016-09-17T13:10:00Z"),
        ("hotline.ack", None, None, "2016-09-17T13:25:00Z"),
        ("resolved", "hotline.unacknowledged", "critical", "2016-09-17T13:25:00Z"),
        ("hotline.response", None, None, "2016-09-17T13:30:00Z"),
        ("resolved", "notification.conflict", "high", "2016-09-17T13:30:00Z"),
    ]
    message, conflict, opened = events[0], events[1], events[2]
    assert (message["from"], message["to"], message["kind"]) == (
        "coalition",
        "russia",
        "notification",
    )
    assert conflict["party"] == "russia" and conflict["units"] == ["saa-battalion"]
    assert conflict["site"] == "tharda"
    assert opened["party"] == "coalition" and opened["ref"] == message["id"]
    assert "20 min after its due time" in events[5]["message"]
    # Alert ids come from the engine's numbering: one sequence for the whole replay.
    assert conflict["id"] == "a-1" and opened["id"] == "a-2"


def test_the_cli_prints_hotline_lines(scenario_file: Path) -> None:
    result = CliRunner().invoke(app, ["scenario", "run", str(scenario_file), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [e["event"] for e in lines if e["event"].startswith("hotline.")] == [
        "hotline.message",
        "hotline.ack",
        "hotline.response",
    ]


def test_the_built_in_september_2016_failure_escalates_until_the_late_ack() -> None:
    events = list(replay(load_columns("september-2016")))
    hotline = [
        (e["event"], e.get("rule"), e.get("severity"), e.get("party"), e["time"])
        for e in events
        if e["event"].startswith("hotline.")
        or str(e.get("rule", "")).startswith(("hotline", "notif"))
    ]
    assert hotline[:6] == [
        ("hotline.message", None, None, None, "2016-09-17T13:30:00Z"),
        ("open", "notification.conflict", "high", "russia", "2016-09-17T13:30:00Z"),
        ("open", "hotline.unacknowledged", "high", "coalition", "2016-09-17T13:45:00Z"),
        ("updated", "hotline.unacknowledged", "critical", "coalition", "2016-09-17T14:00:00Z"),
        ("hotline.ack", None, None, None, "2016-09-17T14:05:00Z"),
        ("resolved", "hotline.unacknowledged", "critical", "coalition", "2016-09-17T14:05:00Z"),
    ]
    resolved = next(
        e for e in events if e["event"] == "resolved" and e["rule"] == "hotline.unacknowledged"
    )
    assert "20 min after its due time" in resolved["message"]
    conflict = next(e for e in events if e.get("rule") == "notification.conflict")
    assert conflict["units"] == ["saa-tharda"]
    times = [e["time"] for e in events]
    assert times == sorted(times)
