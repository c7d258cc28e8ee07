"""`scenario.replay.throughput`: a generated 1,000,000-report JSON scenario replayed end to
end by the real command line (`deconfliction scenario run FILE --format jsonl`), parsing
and validation included. Issue 2 asks for at least 200,000 reports/s.

Prints one `name value unit` line per figure:

    scenario.replay.throughput   the whole command as a user runs it, start to exit (wall
                                 clock); it replays in one process per core, each
                                 evaluating some of the parties' pictures
    scenario.replay.target       issue 2's floor
    scenario.replay.processes    how many processes that was
    scenario.replay.one_process.throughput  the same command with `--jobs 1` (the output
                                 is checked to be the same, byte for byte)
    scenario.replay.cpu_throughput  the split run per CPU second (user + system, workers
                                 included): what the replay costs, whatever the cores
    scenario.load.throughput     loading and validating the file alone, in process,
                                 per CPU second
    scenario.load.model_baseline the same file through the pydantic models alone (parse,
                                 `Scenario.model_validate`, `ReportBatch.from_reports`),
                                 per CPU second
    scenario.cli.startup         `deconfliction scenario run --help`, start to exit (wall
                                 clock, the best of five): what every command pays first
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_scenario import write

TARGET = 200_000


def figure(name: str, value: float, unit: str) -> None:
    print(f"{name} {value:.0f} {unit}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--scenario", type=Path, default=None, help="Use this file instead.")
    args = parser.parse_args(argv)
    path = args.scenario or Path(f"var/bench/replay-{args.reports}.json")
    if not path.exists():
        print(f"# generating {path}", file=sys.stderr)
        write(path, args.reports)

    # The command as a user runs it (one process per core, each evaluating some of the
    # parties), then in one process: the same output, byte for byte.
    split = _run(path, [])
    if split is None:
        return 1
    single = _run(path, ["--jobs", "1"])
    if single is None:
        return 1
    elapsed, cpu, events, digest = split
    single_elapsed, _, _, single_digest = single
    if digest != single_digest:
        print("# the split replay's output differs from the single process's", file=sys.stderr)
        return 1

    from deconfliction.batch import ReportBatch
    from deconfliction.model import Scenario
    from deconfliction.scenario import load_columns
    from deconfliction.scenario.parallel import jobs_for

    started = time.process_time()
    loaded = load_columns(path)
    load_s = time.process_time() - started
    reports = len(loaded.reports)
    processes = jobs_for(loaded, None)
    del loaded

    started = time.process_time()
    scenario = Scenario.model_validate(orjson.loads(path.read_bytes()))
    ReportBatch.from_reports(scenario.reports, scenario.parties[0].id)
    model_s = time.process_time() - started

    startup = min(_startup() for _ in range(5))

    print(
        f"# {path}: {reports:,} reports, {events:,} events, {elapsed:.2f} s in {processes} "
        f"processes, {single_elapsed:.2f} s in one; outputs identical",
        file=sys.stderr,
    )
    figure("scenario.replay.throughput", reports / elapsed, "reports/s")
    figure("scenario.replay.target", TARGET, "reports/s")
    figure("scenario.replay.processes", processes, "processes")
    figure("scenario.replay.one_process.throughput", reports / single_elapsed, "reports/s")
    figure("scenario.replay.cpu_throughput", reports / cpu, "reports/s")
    figure("scenario.load.throughput", reports / load_s, "reports/s")
    figure("scenario.load.model_baseline", reports / model_s, "reports/s")
    figure("scenario.cli.startup", startup * 1000, "ms")
    return 0


def _run(path: Path, options: list[str]) -> tuple[float, float, int, str] | None:
    """One `scenario run` of the file: wall seconds, CPU seconds (with its workers), the
    events, and the sha256 of its output."""
    with tempfile.TemporaryFile() as out:
        command = [sys.executable, "-m", "deconfliction", "scenario", "run", str(path)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [*command, "--format", "jsonl", "--no-progress", *options],
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            sys.stderr.write(done.stderr.decode(errors="replace"))
            return None
        out.seek(0)
        digest = hashlib.sha256()
        events = 0
        for line in out:
            digest.update(line)
            events += 1
    return elapsed, cpu, events, digest.hexdigest()


def _startup() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "deconfliction", "scenario", "run", "--help"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
