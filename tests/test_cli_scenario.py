"""`deconfliction scenario run|validate|list` and `deconfliction alerts`, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from deconfliction.cli import app
from deconfliction.scenario import list_builtin
from test_scenario_replay import EVENT_KEYS, crossing_scenario

runner = CliRunner()


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "crossing.yaml"
    path.write_text(yaml.safe_dump(crossing_scenario(), sort_keys=False))
    return path


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    doc = crossing_scenario()
    doc["reports"][2]["unit"] = "ghost-unit-77"
    doc["lines"][0]["coordinates"][1] = [40.15, 95.0]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deconfliction", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_prints_json_lines_on_stdout_only(scenario_file: Path) -> None:
    done = run_cli("scenario", "run", str(scenario_file), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["event"], e["rule"]) for e in events] == [
        ("open", "zone.violation"),
        ("resolved", "zone.violation"),
    ]
    assert all(list(e) == EVENT_KEYS for e in events)
    assert "2 events" in done.stderr


def test_invalid_input_exits_2_without_a_traceback(bad_file: Path) -> None:
    done = run_cli("scenario", "run", str(bad_file))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert f"{bad_file}: lines[0].coordinates[1][1]: Input should be less than or equal to 90" in (
        done.stderr
    )


def test_validate_names_every_problem(bad_file: Path, scenario_file: Path) -> None:
    result = runner.invoke(app, ["scenario", "validate", str(bad_file)])
    assert result.exit_code == 2
    assert "lines[0].coordinates[1][1]" in result.stderr
    fixed = crossing_scenario()
    fixed["reports"][2]["unit"] = "ghost-unit-77"
    bad_file.write_text(yaml.safe_dump(fixed))
    result = runner.invoke(app, ["scenario", "validate", str(bad_file)])
    assert result.exit_code == 2
    assert f"{bad_file}: reports[2].unit: unknown unit 'ghost-unit-77'" in result.stderr
    result = runner.invoke(app, ["scenario", "validate", str(scenario_file)])
    assert result.exit_code == 0, result.output
    assert "valid: Example (2 parties, 3 actors, 1 lines, 1 sites, 2 units, 4 reports" in (
        result.stdout
    )


def test_unknown_scenario_name() -> None:
    result = runner.invoke(app, ["scenario", "run", "no-such-scenario"])
    assert result.exit_code == 2
    assert "no-such-scenario: no such file or built-in scenario" in result.stderr


def test_table_format(scenario_file: Path) -> None:
    result = runner.invoke(app, ["scenario", "run", str(scenario_file), "--format", "table"])
    assert result.exit_code == 0, result.output
    assert "Example: alert timeline" in result.stdout
    assert "zone.violation" in result.stdout and "resolved" in result.stdout


def test_list_shows_the_built_in_scenarios() -> None:
    result = runner.invoke(app, ["scenario", "list"])
    assert result.exit_code == 0, result.output
    for name in list_builtin():
        assert name in result.stdout


def test_replay_into_a_database_then_list_its_alerts(scenario_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "replay.sqlite"
    first = runner.invoke(app, ["scenario", "run", str(scenario_file), "--db", str(db)])
    assert first.exit_code == 0, first.output
    assert len(first.stdout.splitlines()) == 2
    again = runner.invoke(app, ["scenario", "run", str(scenario_file), "--db", str(db)])
    assert again.exit_code == 0, again.output
    assert again.stdout == ""
    listed = runner.invoke(app, ["alerts", "--db", str(db), "--format", "jsonl"])
    assert listed.exit_code == 0, listed.output
    [alert] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (alert["rule"], alert["state"], alert["party"]) == (
        "zone.violation",
        "resolved",
        "coalition",
    )
    table = runner.invoke(app, ["alerts", "--db", str(db), "--state", "resolved"])
    assert table.exit_code == 0 and "zone.violation" in table.stdout
    empty = runner.invoke(app, ["alerts", "--db", str(db), "--state", "open", "-f", "jsonl"])
    assert empty.exit_code == 0 and empty.stdout == ""


def test_alerts_input_errors(tmp_path: Path, scenario_file: Path) -> None:
    missing = runner.invoke(app, ["alerts", "--db", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "no such database" in missing.stderr
    db = tmp_path / "replay.sqlite"
    runner.invoke(app, ["scenario", "run", str(scenario_file), "--db", str(db)])
    party = runner.invoke(app, ["alerts", "--db", str(db), "--party", "turkey"])
    assert party.exit_code == 2 and "unknown party 'turkey'" in party.stderr
    state = runner.invoke(app, ["alerts", "--db", str(db), "--state", "closed"])
    assert state.exit_code == 2 and "expected open or resolved" in state.stderr


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("deconfliction ")


def test_a_progress_bar_never_reaches_stdout(scenario_file: Path) -> None:
    result = runner.invoke(app, ["scenario", "run", str(scenario_file), "--progress"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["event"] for line in result.stdout.splitlines()] == [
        "open",
        "resolved",
    ]


def test_a_database_that_cannot_be_opened(scenario_file: Path, tmp_path: Path) -> None:
    nowhere = tmp_path / "missing-dir" / "replay.sqlite"
    result = runner.invoke(app, ["scenario", "run", str(scenario_file), "--db", str(nowhere)])
    assert result.exit_code == 2
    assert f"{nowhere}: cannot open the database" in result.stderr
    not_sqlite = tmp_path / "notes.sqlite"
    not_sqlite.write_text("not a database, just notes\n" * 100)
    result = runner.invoke(app, ["alerts", "--db", str(not_sqlite)])
    assert result.exit_code == 2
    assert f"{not_sqlite}: cannot open the database" in result.stderr


def test_the_command_line_runs_the_collector_less_often_than_pythons_default() -> None:
    """The entry point raises the collector's first threshold (a tenth of a replay's time
    went to collections at the default), and leaves a higher one alone."""
    probe = (
        "import gc, sys\n"
        "gc.set_threshold(int(sys.argv[1]), 10, 10)\n"
        "from deconfliction.cli import main\n"
        "sys.argv = ['deconfliction', '--version']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(gc.get_threshold()[0])\n"
    )
    for before, after in ((700, 10_000), (50_000, 50_000)):
        out = subprocess.run(
            [sys.executable, "-c", probe, str(before)], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip().splitlines()[-1] == str(after)


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [("0", 0, ""), ("3", 3, ""), ("None", 0, ""), ("'no such thing'", 1, "no such thing\n")],
)
def test_the_entry_point_ends_a_process_that_left_its_objects_with_sys_exit_s_status(
    code: str, status: int, stderr: str
) -> None:
    program = (
        "import sys\n"
        "from deconfliction.runtime import ending_at_exit, exit_now_if_left, leave_to_exit\n"
        "leave_to_exit(list(range(10)))\n"  # not under the entry point: nothing kept
        "exit_now_if_left(5)\n"  # so this returns
        "ending_at_exit()\n"
        "exit_now_if_left(6)\n"  # nothing left yet: returns
        "leave_to_exit(list(range(10)))\n"
        "sys.stdout.write('written before the end')\n"
        f"exit_now_if_left({code})\n"
        "sys.stdout.write('never')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == status
    assert done.stdout == "written before the end"
    assert done.stderr == stderr


def test_a_replay_run_in_process_returns_and_its_output_is_whole(scenario_file: Path) -> None:
    # In process (as the tests and embedding programs run it) the command returns; from
    # the entry point it ends the process, and what it wrote is all there.
    from deconfliction.runtime import _Exit

    result = CliRunner().invoke(app, ["scenario", "run", str(scenario_file)])
    assert result.exit_code == 0
    assert _Exit.left is None  # nothing kept: the replay is freed as usual
    done = subprocess.run(
        [sys.executable, "-m", "deconfliction", "scenario", "run", str(scenario_file)],
        capture_output=True,
        check=True,
    )
    assert done.stdout.decode() == result.stdout
    assert done.stdout.count(b"\n") == 2
    assert b"2 events" in done.stderr
