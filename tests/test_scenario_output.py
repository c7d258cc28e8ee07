"""`scenario run --format jsonl` writes each event as the bytes of its JSON object."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import yaml
from hypothesis import given
from hypothesis import strategies as st

from deconfliction.model import AlertEvent, Crossing, Rule, Severity
from deconfliction.scenario import load_columns
from deconfliction.scenario.replay import Replay, json_line, replay
from test_scenario_replay import crossing_scenario

EPOCH = datetime(2018, 2, 7, tzinfo=UTC)
coordinates = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [0.0, -0.0, 1e16, 1e-7, 0.1 + 0.2, 123456789.123, 5e-324, 1.7976931348623157e308]
    ),
)


@given(
    lon=coordinates,
    lat=coordinates,
    message=st.text(max_size=20),
    ref=st.one_of(st.none(), st.text(max_size=5)),
    seconds=st.floats(min_value=0, max_value=1e8, allow_nan=False),
    crossing=st.booleans(),
)
def test_a_json_line_is_the_event_s_json_object(
    lon: float | None,
    lat: float | None,
    message: str,
    ref: str | None,
    seconds: float,
    crossing: bool,
) -> None:
    when = EPOCH + timedelta(seconds=seconds)
    event = AlertEvent(
        event="open",
        id="a-1",
        rule=Rule.ZONE_VIOLATION,
        severity=Severity.HIGH,
        time=when,
        party="coalition",
        units=["t72-company", "\u00e9"],
        lon=lon,
        lat=lat,
        crossing=Crossing(lon=lon or 0.0, lat=lat or 0.0, time=when) if crossing else None,
        message=message,
        ref=ref,
    )
    assert json_line(event) == orjson.dumps(event.to_json_dict())


def test_json_steps_are_the_steps_objects(tmp_path: Path) -> None:
    path = tmp_path / "crossing.yaml"
    path.write_text(yaml.safe_dump(crossing_scenario(), sort_keys=False))
    loaded = load_columns(path)
    lines = [line for _, step in Replay(loaded).json_steps() for line in step]
    assert lines == [orjson.dumps(event) for event in replay(loaded)]
    assert [reports for reports, _ in Replay(loaded).json_steps()] == [2, 1, 1]

    done = subprocess.run(
        [sys.executable, "-m", "deconfliction", "scenario", "run", str(path), "-f", "jsonl"],
        capture_output=True,
        check=True,
    )
    assert done.stdout == b"".join(line + b"\n" for line in lines)
