"""A replay split across processes by party prints, byte for byte, what one process prints."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from deconfliction.engine import Engine, EngineError, UnknownUnitError
from deconfliction.scenario import parallel
from deconfliction.scenario.loader import LoadedScenario, load_columns
from deconfliction.scenario.parallel import (
    ParallelReplay,
    ReplayWorkerError,
    assign,
    can_split,
    jobs_for,
)
from deconfliction.scenario.replay import Replay
from workload import small

Steps = list[tuple[int, list[bytes]]]


def one_process(loaded: LoadedScenario) -> Steps:
    return list(Replay(loaded).json_steps())


def split(loaded: LoadedScenario, jobs: int = 2) -> Steps:
    return list(ParallelReplay(loaded, jobs).json_steps())


@pytest.fixture(scope="module")
def batched(tmp_path_factory: pytest.TempPathFactory) -> LoadedScenario:
    """A workload whose reports come 500 at a time (one time per batch)."""
    path = tmp_path_factory.mktemp("split") / "batched.json"
    small(seed=11, spread=False).write_scenario_json(path)
    return load_columns(path)


@pytest.fixture(scope="module")
def spread(tmp_path_factory: pytest.TempPathFactory) -> LoadedScenario:
    """A workload whose 4,000 reports each have a time of their own (the live path)."""
    path = tmp_path_factory.mktemp("split") / "spread.json"
    small(seed=12, reports=4_000).write_scenario_json(path)
    return load_columns(path)


def test_a_split_replay_of_batches_prints_what_one_process_prints(
    batched: LoadedScenario,
) -> None:
    expected = one_process(batched)
    got = split(batched)
    assert got == expected
    events = [orjson.loads(line) for _, lines in got for line in lines]
    # Both parties raised alerts, numbered as one process numbers them.
    assert {e["party"] for e in events} == {"blue", "red"}
    opened = [int(e["id"].removeprefix("a-")) for e in events if e["event"] == "open"]
    assert sorted(opened) == list(range(1, len(opened) + 1))
    assert len(opened) > 100


def test_a_split_replay_of_single_reports_prints_what_one_process_prints(
    spread: LoadedScenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 700 steps: the workers send six, the last a short one.
    monkeypatch.setattr(parallel, "CHUNK_STEPS", 700)
    expected = one_process(spread)
    assert len(expected) == len(spread.reports)
    assert split(spread) == expected


def test_three_parties_on_two_workers_keep_the_party_order(
    tmp_path: Path, batched: LoadedScenario
) -> None:
    # A third party observing every third report, holding a third of the sites: the
    # first worker keeps blue and green, the second red.
    document = orjson.loads(batched.to_scenario().model_dump_json())
    document["parties"].append({"id": "green", "name": "Green party"})
    for i, site in enumerate(document["sites"]):
        if i % 3 == 0:
            site["party"] = "green"
    for i, report in enumerate(document["reports"]):
        if i % 3 == 0:
            report["observer"] = "green"
    path = tmp_path / "three.json"
    path.write_bytes(orjson.dumps(document))
    loaded = load_columns(path)
    assert assign(["blue", "red", "green"], 2) == [["blue", "green"], ["red"]]
    expected = one_process(loaded)
    parties = {orjson.loads(line)["party"] for _, lines in expected for line in lines}
    assert parties == {"blue", "red", "green"}
    assert split(loaded, 2) == expected
    assert split(loaded, 3) == expected


def test_the_built_in_scenario_without_its_hotline_splits_the_same() -> None:
    loaded = load_columns("deir-ez-zor-2018")
    assert not can_split(loaded)  # its scripted hotline reads every party's alerts
    quiet = dataclasses.replace(loaded, scenario=loaded.scenario.model_copy(update={"hotline": []}))
    assert can_split(quiet)
    expected = one_process(quiet)
    rules = [orjson.loads(line)["rule"] for _, lines in expected for line in lines]
    assert "zone.violation" in rules and "site.threat" in rules
    assert split(quiet) == expected


def test_how_many_processes_a_replay_takes(batched: LoadedScenario) -> None:
    assert jobs_for(batched, None) == 1  # 20,000 reports: not worth the workers' start
    assert jobs_for(batched, 1) == 1
    assert jobs_for(batched, 2) == 2
    assert jobs_for(batched, 16) == 2  # never more than the parties
    one_party = dataclasses.replace(
        batched,
        scenario=batched.scenario.model_copy(update={"parties": batched.scenario.parties[:1]}),
    )
    assert jobs_for(one_party, 4) == 1
    with pytest.raises(ValueError, match="two workers"):
        ParallelReplay(batched, 1)


def test_a_long_replay_splits_by_default(
    monkeypatch: pytest.MonkeyPatch, batched: LoadedScenario
) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_REPORTS", 10_000)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    assert jobs_for(batched, None) == 2
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    assert jobs_for(batched, None) == 1


def test_an_engine_keeping_some_parties_names_an_unknown_one(batched: LoadedScenario) -> None:
    with pytest.raises(EngineError, match="observers: unknown party 'green'"):
        Engine.from_scenario(batched.scenario, observers=["blue", "green"])
    engine = Engine.from_scenario(batched.scenario, observers=["red"])
    assert [p.id for p in engine.observers] == ["red"]


def steps_until_error(steps: Iterator[tuple[int, list[bytes]]]) -> tuple[Steps, BaseException]:
    got: Steps = []
    try:
        for step in steps:
            got.append(step)
    except Exception as error:
        return got, error
    raise AssertionError("the replay raised nothing")


def test_a_worker_s_error_comes_after_the_steps_before_it_as_in_one_process(
    batched: LoadedScenario,
) -> None:
    # Columns that name a unit the scenario lacks at the 31st batch (a file is refused
    # before this; a program handing columns over may not be).
    reports = batched.reports
    unit = reports.unit.copy()
    unit[15_000] = "ghost-unit-77"
    broken = dataclasses.replace(batched, reports=dataclasses.replace(reports, unit=unit))
    expected, error = steps_until_error(Replay(broken).json_steps())
    assert len(expected) == 30
    got, split_error = steps_until_error(ParallelReplay(broken, 2).json_steps())
    assert got == expected
    assert type(split_error) is type(error) is UnknownUnitError
    assert str(split_error) == str(error) == "unknown unit 'ghost-unit-77'"
    assert any("raised in replay worker replay-blue" in note for note in split_error.__notes__)
    assert not multiprocessing.active_children()


def test_a_worker_killed_midway_is_an_error_not_a_hang(
    spread: LoadedScenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "CHUNK_STEPS", 20)
    steps = ParallelReplay(spread, 2).json_steps()
    next(steps)
    workers = multiprocessing.active_children()
    assert len(workers) == 2
    os.kill(workers[1].pid, signal.SIGKILL)  # type: ignore[arg-type]
    with pytest.raises(ReplayWorkerError, match=r"ended without finishing \(exit code -9\)"):
        for _ in steps:
            pass
    assert not multiprocessing.active_children()


def test_the_command_line_splits_and_prints_the_same(tmp_path: Path) -> None:
    path = tmp_path / "batched.json"
    small(seed=13, spread=False).write_scenario_json(path)
    command = [sys.executable, "-m", "deconfliction", "scenario", "run", str(path)]
    one = subprocess.run([*command, "--jobs", "1"], capture_output=True, check=True)
    two = subprocess.run([*command, "--jobs", "2"], capture_output=True, check=True)
    assert one.stdout == two.stdout
    assert one.stdout.count(b"\n") > 100
    bad = subprocess.run([*command, "--jobs", "0"], capture_output=True, check=False)
    assert bad.returncode == 2
    assert b"--jobs" in bad.stderr


def test_a_scenario_column_holds_each_distinct_value_once(batched: LoadedScenario) -> None:
    units = batched.reports.unit.tolist()
    assert len({id(u) for u in units}) == len(set(units))
    observers = batched.reports.observer.tolist()
    assert len({id(o) for o in observers}) == len(set(observers)) == 2
    assert np.array_equal(batched.reports.unit, np.array(units, dtype=object))


ORPHAN = """
import sys, time
sys.path.insert(0, "benchmarks")
from workload import small
from deconfliction.scenario.loader import load_columns
from deconfliction.scenario import parallel
from deconfliction.scenario.parallel import ParallelReplay
import multiprocessing
from pathlib import Path
path = Path(sys.argv[1])
small(seed=21, spread=False).write_scenario_json(path)
parallel.CHUNK_STEPS = 2  # twenty chunks a worker: more than a pipe holds
steps = ParallelReplay(load_columns(path), 2).json_steps()
next(steps)  # the workers run on, their chunks unread, until the pipes are full
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie has exited; only its parent's wait is left


def test_workers_whose_parent_is_killed_end_instead_of_waiting_on_their_pipes(
    tmp_path: Path,
) -> None:
    pids: list[int] = []
    with subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(tmp_path / "orphan.json")],
        stdout=subprocess.PIPE,
        text=True,
    ) as parent:
        try:
            assert parent.stdout is not None
            pids = [int(p) for p in parent.stdout.readline().split()]
            assert len(pids) == 2
            parent.kill()
            parent.wait()
            deadline = time.monotonic() + 30
            while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert all(_gone(pid) for pid in pids), "a worker outlived its parent"
        finally:
            parent.kill()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
