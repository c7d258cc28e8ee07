"""The columnar report path gives exactly the reports and the errors of the pydantic model."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconfliction.model import Report
from deconfliction.scenario import ScenarioError, load_columns
from deconfliction.scenario.fastjson import fast_json
from deconfliction.scenario.loader import (
    LoadedScenario,
    validate_document,
    validate_with_model,
    validated,
)
from test_scenario_loader import EXAMPLE

GOOD = EXAMPLE["reports"][0]


def outcome(document: Any) -> tuple[str, Any]:
    """('ok', scenario) or ('error', lines) of both paths, to compare."""
    try:
        loaded: LoadedScenario = validate_document("x.yaml", document)
    except ScenarioError as error:
        fast: tuple[str, Any] = ("error", error.lines)
    else:
        fast = ("ok", loaded.to_scenario())
    try:
        scenario = validate_with_model("x.yaml", document)
    except ScenarioError as error:
        model: tuple[str, Any] = ("error", error.lines)
    else:
        model = ("ok", scenario)
    assert fast == model
    return fast


def with_reports(*reports: Any) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    doc["reports"] = [copy.deepcopy(GOOD), *reports]
    return doc


ROWS = [
    {**GOOD, "unit": "ghost"},
    {**GOOD, "lon": 181},
    {**GOOD, "lon": -180.0001},
    {**GOOD, "lat": math.nan},
    {**GOOD, "lat": -math.inf},
    {**GOOD, "time": "2018-02-07T20:00:00"},
    {**GOOD, "time": datetime(2018, 2, 7, 20, 0)},
    {**GOOD, "time": datetime(2018, 2, 7, 20, 0, tzinfo=UTC)},
    {**GOOD, "time": "yesterday"},
    {**GOOD, "time": 1518033600},
    {**GOOD, "foo": 1},
    {**GOOD, "rating": "Z1"},
    {**GOOD, "rating": 3},
    {**GOOD, "strength": -1},
    {**GOOD, "strength": 3.0},
    {**GOOD, "strength": 3.5},
    {**GOOD, "strength": True},
    # the model's bound on a count, just above and at it
    {**GOOD, "strength": 10_000_001},
    {**GOOD, "strength": 10_000_000},
    {**GOOD, "strength": 2**40},
    {**GOOD, "lat": True},
    {**GOOD, "lon": "40.1"},
    {**GOOD, "lon": None},
    {**GOOD, "lon": 10**30},
    {**GOOD, "observer": "nobody"},
    {**GOOD, "observer": None},
    {**GOOD, "observer": "Coalition"},
    {**GOOD, "equipment": {"Tank": 1}},
    {**GOOD, "equipment": {"tank": -1}},
    {**GOOD, "equipment": {"tank": 10_000_001}},
    {**GOOD, "equipment": {"apc": 10_000_000}},
    {**GOOD, "equipment": {"tank": 2.0}},
    {**GOOD, "equipment": [1]},
    {**GOOD, "equipment": {}},
    {**GOOD, "id": ""},
    {**GOOD, "id": "x" * 129},
    {**GOOD, "id": 7},
    {**GOOD, "source": "s" * 201},
    {**GOOD, "unit": ["a"]},
    {**GOOD, "unit": {"a": 1}},
    {k: v for k, v in GOOD.items() if k != "lon"},
    {k: v for k, v in GOOD.items() if k != "time"},
    [1, 2],
    None,
    "report",
]


def _json_safe(row: Any) -> bool:
    try:
        orjson.dumps(row)
    except TypeError:
        return False
    return not any(isinstance(v, float) and not math.isfinite(v) for v in _values(row))


def _values(row: Any) -> list[Any]:
    return list(row.values()) if isinstance(row, dict) else []


@pytest.mark.parametrize("row", ROWS, ids=range(len(ROWS)))
def test_one_row_either_way(row: Any) -> None:
    outcome(with_reports(row))


def test_all_rows_at_once() -> None:
    kind, lines = outcome(with_reports(*ROWS))
    assert kind == "error" and len(lines) > 20


def test_errors_elsewhere_come_in_the_models_order() -> None:
    doc = with_reports({**GOOD, "lon": 200})
    doc["colour"] = "blue"
    doc["units"][0]["strength"] = -3
    doc["hotline"] = [{"time": "2018-02-07T20:00:00Z", "from": "coalition"}]
    kind, lines = outcome(doc)
    assert kind == "error"
    assert [line.split(":")[1].strip() for line in lines] == [
        "units[0].strength",
        "reports[1].lon",
        "hotline[0].to",
        "hotline[0].kind",
        "hotline[0].subject",
        "colour",
    ]


def test_report_references_sit_between_the_others_and_the_hotline() -> None:
    doc = with_reports({**GOOD, "unit": "zz"})
    doc["units"][0]["actor"] = "nobody"
    doc["hotline"] = [
        {
            "time": "2018-02-07T20:00:00Z",
            "from": "coalition",
            "to": "coalition",
            "kind": "concern",
            "subject": "x",
        }
    ]
    assert outcome(doc)[1] == [
        "x.yaml: units[0].actor: unknown actor 'nobody'",
        "x.yaml: reports[1].unit: unknown unit 'zz'",
        "x.yaml: hotline[0].to: a message must go to another party",
    ]


@pytest.mark.parametrize("earlier", [0, 49, 50, 51, 60])
def test_the_models_cap_on_report_references(earlier: int) -> None:
    doc = with_reports(*({**GOOD, "unit": f"ghost-{i}"} for i in range(70)))
    doc["units"] += [{"id": f"x{i}", "name": "n", "actor": "nobody"} for i in range(earlier)]
    kind, lines = outcome(doc)
    assert kind == "error" and len(lines) >= 51


def test_a_row_the_model_accepts_keeps_the_models_values() -> None:
    kind, scenario = outcome(with_reports({**GOOD, "lon": "40.25", "time": 1518033600}))
    assert kind == "ok"
    assert scenario.reports[1].lon == 40.25


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(
        ["2018-02-07T20:00:00Z", "2018-02-07T20:00:00", "t72-company", "coalition", "B2", "35.1"]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["tank", "Tank", "apc"]), st.integers(-2, 3), max_size=2),
)
fields = st.sampled_from([*Report.model_fields, "extra"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(fields, values, max_size=4), min_size=1, max_size=4))
def test_random_rows_either_way(changes: list[dict[str, Any]]) -> None:
    outcome(with_reports(*({**GOOD, **change} for change in changes)))


JSON_ROWS = [r for r in ROWS if _json_safe(r)]


@pytest.mark.parametrize("row", JSON_ROWS, ids=range(len(JSON_ROWS)))
def test_json_files_either_way(tmp_path: Path, row: Any) -> None:
    """A JSON file takes the struct-decoding path when it is valid, and falls back else."""
    doc = with_reports(row)
    path = tmp_path / "x.json"
    path.write_bytes(orjson.dumps(doc))
    try:
        fast: tuple[str, Any] = ("ok", load_columns(path).to_scenario())
    except ScenarioError as error:
        fast = ("error", [line.replace(str(path), "x.json") for line in error.lines])
    try:
        model: tuple[str, Any] = (
            "ok",
            validate_with_model("x.json", orjson.loads(path.read_bytes())),
        )
    except ScenarioError as error:
        model = ("error", error.lines)
    assert fast == model


def test_a_valid_json_file_takes_the_struct_path(tmp_path: Path) -> None:
    doc = with_reports({**GOOD, "id": "r-9", "strength": 5, "equipment": {"tank": 1}})
    data = orjson.dumps(doc)
    decoded = fast_json(data)
    assert decoded is not None
    rest, columns = decoded
    assert "reports" not in rest
    loaded = validated("x.json", rest, columns)
    assert loaded.to_scenario() == validate_with_model("x.json", doc)
    assert fast_json(orjson.dumps(with_reports({**GOOD, "lon": 400}))) is None
    assert fast_json(orjson.dumps(with_reports({**GOOD, "colour": "red"}))) is None
