"""Loading scenario files: formats, built-in names, and errors that name file, path and fault."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from deconfliction.batch import ReportBatch
from deconfliction.model import Report
from deconfliction.scenario import ScenarioError, list_builtin, load, load_columns

EXAMPLE: dict[str, Any] = {
    "name": "Example",
    "parties": [
        {"id": "coalition", "name": "US-led coalition"},
        {"id": "russia", "name": "Russian Federation"},
    ],
    "actors": [
        {"id": "sdf", "name": "Syrian Democratic Forces", "party": "coalition"},
        {"id": "pro-regime", "name": "Pro-regime forces", "party": "russia"},
        {"id": "isis", "name": "Islamic State", "party": None},
    ],
    "lines": [
        {
            "id": "euphrates",
            "name": "Euphrates deconfliction line",
            "left": "coalition",
            "right": "russia",
            "buffer_m": 5000,
            "coordinates": [[38.56, 35.87], [40.15, 35.34], [40.93, 34.45]],
        }
    ],
    "sites": [
        {
            "id": "conoco-hq",
            "name": "SDF headquarters at the Conoco gas plant",
            "party": "coalition",
            "kind": "headquarters",
            "lon": 40.309,
            "lat": 35.336,
            "personnel": 40,
            "priority": "critical",
        }
    ],
    "units": [
        {
            "id": "t72-company",
            "name": "Tank company",
            "actor": "pro-regime",
            "kind": "armor",
            "strength": 60,
            "equipment": {"tank": 10},
        },
        {"id": "sdf-1", "name": "SDF battalion", "actor": "sdf", "strength": 300},
    ],
    "reports": [
        {
            "time": "2018-02-07T20:00:00Z",
            "unit": "t72-company",
            "lon": 40.20,
            "lat": 35.36,
            "observer": "coalition",
            "source": "MQ-9",
            "rating": "B2",
        },
        {
            "id": "r-2",
            "time": "2018-02-07T23:00:00+03:00",
            "unit": "sdf-1",
            "lon": 40.30,
            "lat": 35.40,
            "strength": 280,
            "equipment": {"apc": 4},
        },
    ],
    "incidents": [],
    "hotline": [],
    "settings": {"massing_min_strength": 200},
}


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE)


def write(tmp_path: Path, document: Any, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(document))
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def errors_of(path: Path | str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_columns(path)
    return caught.value.lines


def test_yaml_and_json_give_the_same_scenario(tmp_path: Path) -> None:
    from_yaml = load(write(tmp_path, example(), "a.yaml"))
    from_json = load(write(tmp_path, example(), "a.json"))
    assert from_yaml == from_json
    assert [r.unit for r in from_yaml.reports] == ["t72-company", "sdf-1"]
    assert from_yaml.reports[1].time.isoformat() == "2018-02-07T20:00:00+00:00"
    assert from_yaml.settings.massing_min_strength == 200


def test_format_is_sniffed_without_a_known_extension(tmp_path: Path) -> None:
    as_json = write(tmp_path, example(), "scenario.json")
    sniffed_json = tmp_path / "scenario.txt"
    sniffed_json.write_bytes(as_json.read_bytes())
    sniffed_yaml = tmp_path / "scenario.conf"
    sniffed_yaml.write_text(yaml.safe_dump(example()))
    assert load(sniffed_json) == load(as_json) == load(sniffed_yaml)


def test_columns_default_the_observer_to_the_first_party(tmp_path: Path) -> None:
    loaded = load_columns(write(tmp_path, example()))
    batch = loaded.reports
    assert batch.observer.tolist() == ["coalition", "coalition"]
    assert loaded.observer_given.tolist() == [True, False]
    assert batch.strength.tolist() == [-1, 280]
    assert batch.equipment == (None, {"apc": 4})
    assert batch.report_id.tolist() == [None, "r-2"]
    assert loaded.scenario.reports == []
    # the full scenario keeps "no observer" as the file said it
    assert loaded.to_scenario().reports[1].observer is None


def test_a_built_in_scenario_loads_by_name() -> None:
    names = list_builtin()
    assert names == sorted(names)
    for name in names:
        loaded = load_columns(name)
        assert loaded.source == f"{name}.yaml"
        assert len(loaded.reports) > 0


def test_an_unknown_name_lists_the_built_in_ones() -> None:
    [line] = errors_of("no-such-scenario")
    assert line.startswith("no-such-scenario: no such file or built-in scenario")
    for name in list_builtin():
        assert name in line


def test_unknown_unit_names_file_path_and_value(tmp_path: Path) -> None:
    doc = example()
    doc["reports"] += [dict(doc["reports"][0]) for _ in range(11)]
    doc["reports"].append({**doc["reports"][0], "unit": "ghost-unit-77"})
    path = write(tmp_path, doc, "deir.yaml")
    assert errors_of(path) == [f"{path}: reports[13].unit: unknown unit 'ghost-unit-77'"]


def test_a_coordinate_out_of_range_is_named_by_its_indices(tmp_path: Path) -> None:
    doc = example()
    doc["lines"][0]["coordinates"] = [[38.0, 35.0], [39.0, 35.0], [40.0, 35.0], [41.0, 91.0]]
    path = write(tmp_path, doc)
    assert errors_of(path) == [
        f"{path}: lines[0].coordinates[3][1]: Input should be less than or equal to 90"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"time": "2018-02-07T20:00:00"},
            "reports[0].time: time 2018-02-07T20:00:00 has no time zone: add 'Z' or an offset",
        ),
        ({"lon": float("nan")}, "reports[0].lon: Input should be a finite number"),
        ({"lat": float("inf")}, "reports[0].lat: Input should be a finite number"),
        ({"colour": "red"}, "reports[0].colour: unknown field"),
        (
            {"unit": "T72 Company"},
            "reports[0].unit: invalid id 'T72 Company': use lower case letters, digits, '.', "
            "'_' or '-', starting with a letter or digit, at most 64 characters",
        ),
        ({"observer": "turkey"}, "reports[0].observer: unknown party 'turkey'"),
        ({"strength": -5}, "reports[0].strength: Input should be greater than or equal to 0"),
        (
            {"rating": "G7"},
            "reports[0].rating: invalid rating 'G7': a source reliability A-F and a "
            "credibility 1-6, such as 'B2'",
        ),
    ],
)
def test_bad_reports_are_named(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    doc = example()
    doc["reports"][0].update(change)
    path = write(tmp_path, doc)
    assert errors_of(path) == [f"{path}: {expected}"]


def test_dangling_references_of_every_kind(tmp_path: Path) -> None:
    doc = example()
    doc["actors"][0]["party"] = "turkey"
    doc["units"][1]["actor"] = "ypg"
    doc["lines"][0]["right"] = "iran"
    doc["sites"][0]["party"] = "france"
    doc["units"].append(dict(doc["units"][0]))
    path = write(tmp_path, doc)
    assert errors_of(path) == [
        f"{path}: units[2].id: duplicate id 't72-company'",
        f"{path}: actors[0].party: unknown party 'turkey'",
        f"{path}: units[1].actor: unknown actor 'ypg'",
        f"{path}: lines[0].right: unknown party 'iran'",
        f"{path}: sites[0].party: unknown party 'france'",
    ]


def test_malformed_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nparties:\n  - {id: a, name: A\nunits: []\n")
    [line] = errors_of(path)
    assert line == f"{path}: line 4, column 6: malformed YAML: did not find expected ',' or '}}'"


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "name": "x",\n  "parties": [1, 2,,]\n}\n')
    [line] = errors_of(path)
    assert line.startswith(f"{path}: line 3, column 20: malformed JSON")


def test_json_nan_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(example()).replace("40.2", "NaN"))
    [line] = errors_of(path)
    assert "malformed JSON" in line and line.startswith(f"{path}: line 1, column ")


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert errors_of(empty) == [f"{empty}: the file is empty"]
    assert errors_of(tmp_path) == [f"{tmp_path}: not a file"]


def test_a_top_level_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    assert errors_of(path) == [
        f"{path}: document: Input should be a valid dictionary or instance of Scenario"
    ]


def test_errors_are_capped_with_a_note(tmp_path: Path) -> None:
    doc = example()
    doc["reports"] = [{**doc["reports"][0], "lon": 500} for _ in range(300)]
    lines = errors_of(write(tmp_path, doc, "many.json"))
    assert len(lines) == 101
    assert lines[-1].endswith("(only the first 100 errors are shown)")


def test_columns_equal_the_models_on_a_valid_file(tmp_path: Path) -> None:
    doc = example()
    doc["reports"].append({**doc["reports"][0], "time": 1518037200, "lat": "35.5"})
    loaded = load_columns(write(tmp_path, doc, "x.json"))
    models = [Report.model_validate(r) for r in doc["reports"]]
    expected = ReportBatch.from_reports(models, default_observer="coalition")
    batch = loaded.reports
    for name in ("time_us", "lon", "lat", "strength"):
        np.testing.assert_array_equal(getattr(batch, name), getattr(expected, name))
    for name in ("unit", "observer", "report_id", "source", "rating"):
        assert getattr(batch, name).tolist() == getattr(expected, name).tolist()
    assert batch.equipment == expected.equipment
    assert loaded.to_scenario().reports == models


def test_a_key_given_twice_in_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    text = yaml.safe_dump(example(), sort_keys=False)
    path.write_text(text.replace("name: Example\n", "name: Example\nname: Again\n", 1))
    assert errors_of(path) == [
        f"{path}: line 2, column 1: malformed YAML: duplicate key 'name' (first given on line 1)"
    ]
