"""JSON scenarios read by the byte scan give what the model gives, however they are laid out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconfliction.scenario.fastjson import fast_json
from deconfliction.scenario.loader import validate_with_model, validated
from test_scenario_columns import GOOD, with_reports
from test_scenario_fastpath import json_outcome

VARIED = [
    {**GOOD, "id": "r-\u00e9t\u00e9", "source": "Drone \u00ab\u00a0Heron\u00a0\u00bb"},
    {**GOOD, "source": 'say "hi"\\ \n\t \u2028 \U0001f680'},
    {**GOOD, "id": "x" * 128, "source": "s" * 200, "strength": 0, "equipment": {}},
    # longer as bytes or escapes than the model's bound, not as characters
    {**GOOD, "id": "\u00e9" * 128, "source": "\\" * 200},
    {**GOOD, "lon": -180, "lat": 90, "strength": 10_000_000, "equipment": {"a-1_b": 0}},
    {**GOOD, "lon": -0.0, "lat": 1e-7, "time": "2018-02-07T23:00:00.5+03:00"},
    {**GOOD, "observer": None, "id": None, "source": None, "rating": None},
    {**GOOD, "strength": None, "equipment": None},
    {"lat": 35.0, "lon": 40.0, "unit": "sdf-1", "time": "2018-02-07T20:00:00Z"},
    {**GOOD, "lon": 40, "lat": 1.5e1, "strength": 7},
]


def layouts(document: Any) -> list[str]:
    return [
        json.dumps(document),
        json.dumps(document, separators=(",", ":")),
        json.dumps(document, indent=2, ensure_ascii=False),
        json.dumps(document, indent="\t").replace("\n", "\r\n"),
    ]


@pytest.mark.parametrize("row", VARIED, ids=range(len(VARIED)))
def test_valid_reports_take_the_scan_in_any_layout(row: Any) -> None:
    document = with_reports(row)
    expected = validate_with_model("x.json", document)
    for text in layouts(document):
        decoded = fast_json(text.encode())
        assert decoded is not None, text
        rest, columns = decoded
        assert validated("x.json", rest, columns).to_scenario() == expected


DOCUMENT = json.dumps(with_reports())
ROW = json.dumps(GOOD)
PLAIN = ROW[1:-1]  # the fields of a valid report, without the braces

REFUSED_ROWS = [
    "{" + PLAIN + ', "unit": "sdf-1"}',
    "{" + PLAIN + ",}",
    "{" + PLAIN + ', "x": 1}',
    "{" + PLAIN + ', "report\\u0073": 1}',
    "{" + PLAIN.replace('"lon": 40.2', '"lon": true') + "}",
    "{" + PLAIN.replace('"lon": 40.2', '"lon": "40.2"') + "}",
    "{" + PLAIN.replace('"lon": 40.2', '"lon": 40 2') + "}",
    "{" + PLAIN.replace('"lon": 40.2', '"lon": 040.2') + "}",
    "{" + PLAIN.replace('"lon": 40.2', '"lon": 40.2.1') + "}",
    "{" + PLAIN.replace('"lon": 40.2', '"lon": 1e999') + "}",
    "{" + PLAIN.replace('"lon": 40.2', '"lon": NaN') + "}",
    "{" + PLAIN.replace('"lon": 40.2, ', "") + "}",
    "{" + PLAIN.replace('"t72-company"', "null") + "}",
    "{" + PLAIN.replace('"MQ-9"', '"MQ\x01"') + "}",
    "{" + PLAIN.replace('"MQ-9"', '"\\ud800"') + "}",
    "{" + PLAIN + ', "equipment": {]}',
    "{" + PLAIN + ', "equipment": [1]}',
    "{" + PLAIN + ', "strength": 3.0}',
    "{" + PLAIN + ', "strength": 1e2}',
    "{" + PLAIN + ', "strength": 99999999999999999999}',
    "[" + PLAIN + "]",
    ROW + ",",
]


def test_the_rows_refused_below_are_valid_without_their_fault() -> None:
    assert fast_json(DOCUMENT.encode()) is not None


@pytest.mark.parametrize("row", REFUSED_ROWS, ids=range(len(REFUSED_ROWS)))
def test_a_report_the_scan_is_not_sure_of_goes_the_general_way(row: str) -> None:
    assert ROW in DOCUMENT
    assert fast_json(DOCUMENT.replace(ROW, row).encode()) is None


REFUSED_DOCUMENTS = [
    DOCUMENT[:-1] + ', "reports": []}',
    DOCUMENT.replace('"reports"', '"report\\u0073"'),
    DOCUMENT + " []",
    DOCUMENT.replace('"reports": [', '"reports": {"a": ').replace(ROW + "]", ROW + "}"),
    DOCUMENT.replace('"name": "Example",', '"name": "Example"'),
    "\ufeff" + DOCUMENT,
    "[" + DOCUMENT + "]",
]


@pytest.mark.parametrize("text", REFUSED_DOCUMENTS, ids=range(len(REFUSED_DOCUMENTS)))
def test_a_document_the_scan_is_not_sure_of_goes_the_general_way(text: str) -> None:
    assert fast_json(text.encode()) is None


def test_a_file_with_no_reports_or_bad_bytes_loads_the_general_way(tmp_path: Path) -> None:
    document = with_reports()
    del document["reports"]
    assert json_outcome(tmp_path, document)[0] == "ok"
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps(with_reports()).replace("MQ-9", "MQ-\xe9").encode("latin-1"))
    assert fast_json(path.read_bytes()) is None


strings = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=6)
values = st.one_of(
    st.none(),
    st.booleans(),
    # orjson reads integers past 64 bits as floats, on both paths
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    strings,
    st.sampled_from(["2018-02-07T20:00:00Z", "2018-02-07T20:00:00", "t72-company", "B2", "A7"]),
    st.dictionaries(st.sampled_from(["tank", "Tank", "apc", "a\n"]), st.integers(-2, 3)),
)
fields = st.sampled_from([*GOOD, "strength", "equipment", "id", "extra"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.dictionaries(fields, values, max_size=3), min_size=1, max_size=3),
    st.sampled_from([0, 1, 2, 3]),
)
def test_random_json_rows_either_way(
    tmp_path_factory: pytest.TempPathFactory, changes: list[dict[str, Any]], layout: int
) -> None:
    document = with_reports(*({**GOOD, **change} for change in changes))
    path = tmp_path_factory.mktemp("scan") / "x.json"
    path.write_text(layouts(document)[layout], encoding="utf-8")
    json_outcome_of_text(path, document)


def json_outcome_of_text(path: Path, document: Any) -> None:
    from deconfliction.scenario import ScenarioError, load_columns

    try:
        fast: tuple[str, Any] = ("ok", load_columns(path).to_scenario())
    except ScenarioError as error:
        fast = ("error", [line.replace(str(path), "x.json") for line in error.lines])
    try:
        model: tuple[str, Any] = ("ok", validate_with_model("x.json", document))
    except ScenarioError as error:
        model = ("error", error.lines)
    assert fast == model


@pytest.mark.parametrize(
    "change",
    [{"id": "\u00e9" * 129}, {"id": ""}, {"source": "\\" * 201}, {"source": "\u00e9" * 201}],
)
def test_lengths_past_the_models_bounds_are_its_to_word(tmp_path: Path, change: Any) -> None:
    document = with_reports({**GOOD, **change})
    for text in layouts(document):
        assert fast_json(text.encode()) is None
    assert json_outcome(tmp_path, document)[0] == "error"


def test_an_empty_report_list_takes_the_scan(tmp_path: Path) -> None:
    document = with_reports()
    document["reports"] = []
    for text in layouts(document):
        decoded = fast_json(text.encode())
        assert decoded is not None
        assert len(decoded[1].batch) == 0
    assert json_outcome(tmp_path, document)[0] == "ok"
