"""The built-in scenarios replayed end to end: the alerts a watch officer would see."""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import yaml

from deconfliction.engine import Engine
from deconfliction.geo import AREA_LEFT, AREA_RIGHT
from deconfliction.model import Scenario
from deconfliction.scenario import list_builtin, load_columns
from deconfliction.scenario.replay import replay

Event = dict[str, Any]

DEIR_EZ_ZOR = "deir-ez-zor-2018"
SEPTEMBER = "september-2016"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def deir_ez_zor() -> list[Event]:
    return list(replay(load_columns(DEIR_EZ_ZOR)))


@pytest.fixture(scope="module")
def september() -> list[Event]:
    return list(replay(load_columns(SEPTEMBER)))


def alerts(events: list[Event]) -> list[Event]:
    return [e for e in events if e["event"] in ("open", "updated", "resolved")]


def opens(events: list[Event]) -> list[Event]:
    return [e for e in events if e["event"] == "open"]


def first(events: list[Event], start: int, wanted: Callable[[Event], bool]) -> int:
    """Index of the first event at or after `start` that is `wanted`."""
    for i in range(start, len(events)):
        if wanted(events[i]):
            return i
    raise AssertionError(f"no matching open after position {start}")


def rule(name: str) -> Callable[[Event], bool]:
    return lambda e: e["rule"] == name


def conoco_threat(e: Event) -> bool:
    return e["rule"] == "site.threat" and e["site"] == "conoco-hq"


@pytest.mark.parametrize("name", [DEIR_EZ_ZOR, SEPTEMBER])
def test_builtin_scenario_is_a_valid_document(name: str) -> None:
    assert name in list_builtin()
    resource = importlib.resources.files("deconfliction.scenario.builtin") / f"{name}.yaml"
    scenario = Scenario.model_validate(yaml.safe_load(resource.read_text()))
    assert scenario.description
    assert scenario.hotline


def test_deir_ez_zor_opens_in_the_order_of_events(deir_ez_zor: list[Event]) -> None:
    # The first alert of each kind comes in the order the story runs, so the sequence
    # holds as an ordered subsequence and no kind fires early.
    opened = opens(deir_ez_zor)
    build_up = first(opened, 0, rule("force.massing"))
    crossing = first(opened, 0, rule("zone.violation"))
    attack = first(opened, 0, conoco_threat)
    weakened = first(opened, 0, rule("defence.weakened"))
    march = first(opened, weakened, rule("force.massing"))
    assert build_up < crossing < attack < weakened < march

    assert at(opened[build_up]["time"]) < at("2018-02-07T00:00:00Z")
    assert opened[build_up]["party"] == "coalition"
    assert at("2018-02-07T18:00:00Z") <= at(opened[crossing]["time"]) <= at("2018-02-07T20:00:00Z")
    assert opened[attack]["severity"] == "critical"
    assert at(opened[weakened]["time"]) >= at("2018-03-05T00:00:00Z")
    assert at(opened[march]["time"]) >= at("2018-03-05T00:00:00Z")


def test_every_threat_to_the_conoco_headquarters_is_critical(deir_ez_zor: list[Event]) -> None:
    threats = [e for e in alerts(deir_ez_zor) if conoco_threat(e)]
    assert threats
    assert {e["severity"] for e in threats} == {"critical"}


def test_the_crossing_is_placed_on_the_line_before_the_attack(deir_ez_zor: list[Event]) -> None:
    violations = [e for e in opens(deir_ez_zor) if e["rule"] == "zone.violation"]
    on_the_7th = [e for e in violations if e["time"].startswith("2018-02-07")]
    assert len(on_the_7th) >= 4
    for event in on_the_7th:
        crossing = event["crossing"]
        assert crossing is not None, event["message"]
        # Interpolated between the forming-up report and the first one across the line.
        assert at("2018-02-07T18:45:00Z") <= at(crossing["time"]) <= at(event["time"])
        assert "crossed" in event["message"]


def test_the_build_up_is_one_alert_that_grows(deir_ez_zor: list[Event]) -> None:
    before_attack = [
        e
        for e in alerts(deir_ez_zor)
        if e["rule"] == "force.massing" and at(e["time"]) < at("2018-02-07T18:00:00Z")
    ]
    assert len({e["id"] for e in before_attack}) == 1
    assert next(e["event"] for e in before_attack) == "open"
    assert len(before_attack) >= 3  # units arriving one by one update it
    assert before_attack[-1]["severity"] == "high"  # nothing in reach of a site yet


def test_the_attackers_are_seen_off(deir_ez_zor: list[Event]) -> None:
    events = alerts(deir_ez_zor)
    february = {
        e["id"]
        for e in events
        if e["event"] == "open" and at(e["time"]) < at("2018-02-11T00:00:00Z")
    }
    resolved = {e["id"] for e in events if e["event"] == "resolved"}
    # Every February alert ends in February: the attackers withdraw west, the tank
    # platoon pulls back, the build-up disperses.
    assert february <= resolved


def test_every_alert_opens_once_and_the_watch_is_not_flooded(deir_ez_zor: list[Event]) -> None:
    events = alerts(deir_ez_zor)
    opened = [e["id"] for e in events if e["event"] == "open"]
    assert len(opened) == len(set(opened))
    assert {e["id"] for e in events} == set(opened)
    resolved = [e["id"] for e in events if e["event"] == "resolved"]
    assert len(resolved) == len(set(resolved))
    assert len(opened) <= 40
    for event in events:
        assert event["message"][0].isupper(), event


def test_the_redeployment_weakens_middle_euphrates_positions(deir_ez_zor: list[Event]) -> None:
    weakened = [e for e in opens(deir_ez_zor) if e["rule"] == "defence.weakened"]
    sites = {e["site"] for e in weakened}
    assert "hajin-front" in sites
    assert "conoco-hq" not in sites
    assert all(e["time"].startswith("2018-03-05") for e in weakened)


def test_the_hotline_carries_the_warnings_the_call_and_the_answer(
    deir_ez_zor: list[Event],
) -> None:
    messages = [e for e in deir_ez_zor if e["event"] == "hotline.message"]
    crossing = next(e for e in opens(deir_ez_zor) if e["rule"] == "zone.violation")
    warnings = [
        m for m in messages if m["from"] == "coalition" and at(m["time"]) < at(crossing["time"])
    ]
    assert len(warnings) >= 2
    answer = next(
        e for e in deir_ez_zor if e["event"] == "hotline.response" and "not our forces" in e["body"]
    )
    assert answer["from"] == "russia"
    assert at(crossing["time"]) < at(answer["time"]) < at("2018-02-07T23:00:00Z")
    march_massing = next(
        e for e in opens(deir_ez_zor) if e["rule"] == "force.massing" and e["time"] >= "2018-03"
    )
    concern = [m for m in messages if m["kind"] == "concern" and m["time"] >= "2018-03"]
    assert concern and at(concern[0]["time"]) > at(march_massing["time"])
    assert "Deir ez-Zor" in concern[0]["subject"]
    # Every call is acknowledged in time: nothing in this scenario escalates.
    assert not [e for e in alerts(deir_ez_zor) if e["rule"] == "hotline.unacknowledged"]


def test_deir_ez_zor_line_leaves_the_east_bank_to_the_coalition() -> None:
    loaded = load_columns(DEIR_EZ_ZOR)
    engine = Engine.from_scenario(loaded.scenario)
    geometry = engine.geometry("euphrates")
    places = {  # (lon, lat), expected area
        "Conoco gas plant": ((40.309, 35.336), AREA_LEFT),
        "Al Busayrah": ((40.427, 35.156), AREA_LEFT),
        "Dhiban": ((40.510, 35.015), AREA_LEFT),
        "Hajin": ((40.831, 34.695), AREA_LEFT),
        "Ar Raqqah": ((39.008, 35.953), AREA_LEFT),
        "Deir ez-Zor": ((40.141, 35.336), AREA_RIGHT),
        "Al Mayadin": ((40.452, 35.020), AREA_RIGHT),
        "Al Asharah": ((40.560, 34.921), AREA_RIGHT),
        "Albu Kamal": ((40.919, 34.452), AREA_RIGHT),
        "At Tibni": ((39.818, 35.612), AREA_RIGHT),
    }
    lon = np.array([p[0][0] for p in places.values()])
    lat = np.array([p[0][1] for p in places.values()])
    x, y = engine.projection.forward(lon, lat)
    areas = geometry.areas(x, y)
    for (name, (_, expected)), area in zip(places.items(), areas.tolist(), strict=True):
        assert area == expected, name
    distance_km = float(geometry.distance(x[:1], y[:1])[0]) / 1000.0
    assert 7.0 <= distance_km <= 9.0  # "about 8 km" west of the Conoco plant


def test_september_2016_notification_escalates_until_its_late_ack(
    september: list[Event],
) -> None:
    unacked = [
        e
        for e in alerts(september)
        if e["rule"] == "hotline.unacknowledged" and e["party"] == "coalition"
    ]
    assert [(e["event"], e["severity"], e["time"]) for e in unacked] == [
        ("open", "high", "2016-09-17T13:45:00Z"),
        ("updated", "critical", "2016-09-17T14:00:00Z"),
        ("resolved", "critical", "2016-09-17T14:05:00Z"),
    ]
    notification = next(e for e in september if e["event"] == "hotline.message")
    ack = next(e for e in september if e["event"] == "hotline.ack")
    late = at(ack["time"]) - at(notification["due"])
    assert late.total_seconds() == 20 * 60
    window = notification["window"]
    # The strike starts 30 minutes after the notification, with no acknowledgement yet.
    assert (at(window["start"]) - at(notification["time"])).total_seconds() == 30 * 60
    assert at(ack["time"]) > at(window["start"])


def test_september_2016_conflict_was_in_russias_own_picture(september: list[Event]) -> None:
    conflict = [e for e in alerts(september) if e["rule"] == "notification.conflict"]
    assert conflict[0]["event"] == "open"
    assert conflict[0]["party"] == "russia"
    assert conflict[0]["time"] == "2016-09-17T13:30:00Z"
    assert conflict[0]["site"] == "jabal-tharda"
    # The coalition never sees the conflict: only what Russia answers.
    assert all(e["party"] == "russia" for e in conflict)
    answers = [e for e in september if e["event"] == "hotline.response"]
    specifics = next(e for e in answers if e["from"] == "russia")
    stopped = next(e for e in answers if e["from"] == "coalition")
    assert 0 < (at(stopped["time"]) - at(specifics["time"])).total_seconds() <= 5 * 60
    weakened = [e for e in opens(september) if e["rule"] == "defence.weakened"]
    assert [e["site"] for e in weakened] == ["jabal-tharda"]


def without_hashes(events: list[Event]) -> list[Event]:
    # A replay signs with keys of its own, so only the chain hashes differ between runs.
    return [{k: v for k, v in e.items() if k != "hash"} for e in events]


def test_replays_are_deterministic(deir_ez_zor: list[Event]) -> None:
    again = list(replay(load_columns(DEIR_EZ_ZOR)))
    assert without_hashes(again) == without_hashes(deir_ez_zor)
