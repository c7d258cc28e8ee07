"""The fast paths of a scenario's reports agree with the pydantic model, value for value
and error for error, on the rows that once slipped through them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from deconfliction.scenario import ScenarioError, load_columns
from deconfliction.scenario.loader import validate_with_model
from deconfliction.scenario.replay import batches_by_time
from test_scenario_columns import GOOD, outcome, with_reports

# Python's `$` matches before a final newline; the model's patterns do not.
NEWLINE_ROWS = [
    {**GOOD, "equipment": {"tank\n": 1}},
    {**GOOD, "observer": "coalition\n"},
    {**GOOD, "unit": "t72-company\n"},
]


def json_outcome(tmp_path: Path, document: Any) -> tuple[str, Any]:
    """('ok', scenario) or ('error', lines) of a JSON file loaded, and of the model."""
    path = tmp_path / "x.json"
    path.write_bytes(orjson.dumps(document))
    try:
        fast: tuple[str, Any] = ("ok", load_columns(path).to_scenario())
    except ScenarioError as error:
        fast = ("error", [line.replace(str(path), "x.json") for line in error.lines])
    try:
        model: tuple[str, Any] = ("ok", validate_with_model("x.json", document))
    except ScenarioError as error:
        model = ("error", error.lines)
    assert fast == model
    return fast


@pytest.mark.parametrize("row", NEWLINE_ROWS, ids=range(len(NEWLINE_ROWS)))
def test_a_final_newline_is_no_part_of_an_id_or_a_name(tmp_path: Path, row: Any) -> None:
    kind, _ = outcome(with_reports(row))
    assert kind == "error"
    assert json_outcome(tmp_path, with_reports(row))[0] == "error"


def test_batches_of_a_file_in_time_order_are_the_rows_take_gives(tmp_path: Path) -> None:
    """A batch's equipment is None where none of its rows carries any, as with `take`."""
    rows = [
        {**GOOD, "time": "2018-02-07T19:00:00Z", "equipment": {"tank": 2}},
        {**GOOD, "time": "2018-02-07T19:00:00Z"},
        {**GOOD, "time": "2018-02-07T20:00:00Z"},
        {**GOOD, "time": "2018-02-07T21:00:00Z", "strength": 4, "equipment": {}},
    ]
    document = with_reports()
    document["reports"] = rows
    path = tmp_path / "x.json"
    path.write_bytes(orjson.dumps(document))
    reports = load_columns(path).reports
    batches = list(batches_by_time(reports))
    assert [b.equipment for b in batches] == [({"tank": 2}, None), None, ({},)]
    bounds = [(0, 2), (2, 3), (3, 4)]
    for batch, (start, stop) in zip(batches, bounds, strict=True):
        taken = reports.take(slice(start, stop))
        assert batch.to_reports() == taken.to_reports()
        assert batch.equipment == taken.equipment
