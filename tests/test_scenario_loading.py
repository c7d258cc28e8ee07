"""`begin_loading` (the file read on a thread) gives what `load_columns` gives."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from deconfliction.scenario import ScenarioError, load_columns
from deconfliction.scenario.loader import begin_loading
from test_scenario_columns import GOOD, with_reports


def outcome(load: Any, target: str | Path) -> tuple[str, Any]:
    try:
        loaded = load(target)
    except ScenarioError as error:
        return "error", error.lines
    return "ok", (loaded.source, loaded.to_scenario(), loaded.observer_given.tolist())


def both_ways(target: str | Path) -> tuple[str, Any]:
    threaded = outcome(lambda t: begin_loading(t)(), target)
    assert threaded == outcome(load_columns, target)
    assert not [t for t in threading.enumerate() if t.name == "scenario-reading"]
    return threaded


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("x.json", GOOD),
        ("x.json", {**GOOD, "unit": "ghost-unit-77"}),
        ("x.json", {**GOOD, "lon": 200}),
        ("x.txt", GOOD),
        ("x.txt", {**GOOD, "observer": None}),
    ],
)
def test_a_json_file_either_way(tmp_path: Path, name: str, row: Any) -> None:
    path = tmp_path / name
    path.write_text(json.dumps(with_reports(row)))
    both_ways(path)


def test_other_files_and_names_either_way(tmp_path: Path) -> None:
    as_yaml = tmp_path / "x.yaml"
    as_yaml.write_text(yaml.safe_dump(with_reports()))
    assert both_ways(as_yaml)[0] == "ok"
    sniffed = tmp_path / "x.conf"
    sniffed.write_text(yaml.safe_dump(with_reports()))
    assert both_ways(sniffed)[0] == "ok"
    assert both_ways("september-2016")[0] == "ok"
    assert both_ways(tmp_path / "missing.json")[0] == "error"
    assert both_ways(tmp_path)[0] == "error"
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "reports": [')
    assert both_ways(broken)[0] == "error"
    not_json = tmp_path / "not.json"
    not_json.write_text("name: x\n")
    assert both_ways(not_json)[0] == "error"
