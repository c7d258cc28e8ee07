"""`deconfliction scenario run|validate|list` and `deconfliction alerts`."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape

# The scenario package, the engine and the rest of rich are imported by the commands
# that use them: `--help`, and the commands of other modules, start without them.

INVALID_INPUT = 2
"""Exit code for a scenario or database the command cannot take."""

PROGRESS_MIN_REPORTS = 20_000
"""Replays with at least this many reports show a progress bar (on a terminal)."""

scenario_app = typer.Typer(
    help="Scenario files: replay, validate, and list the built-in ones.",
    no_args_is_help=True,
)


Step = TypeVar("Step")


class OutputFormat(StrEnum):
    JSONL = "jsonl"
    TABLE = "table"


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _stdout() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        # piped or captured: wide enough that a timeline row stays on one line
        console = Console(highlight=False, width=200)
    return console


def _fail(lines: Iterable[str]) -> typer.Exit:
    console = _stderr()
    for line in lines:
        console.print(f"[red]error:[/red] {escape(line)}", soft_wrap=True)
    return typer.Exit(INVALID_INPUT)


@scenario_app.command("run")
def run(
    scenario: str = typer.Argument(
        ..., metavar="FILE|NAME", help="A scenario file or a built-in name."
    ),
    output: OutputFormat = typer.Option(
        OutputFormat.JSONL, "--format", "-f", help="jsonl: one JSON object per event; table."
    ),
    db: Path | None = typer.Option(
        None, "--db", help="Replay into this SQLite database (created if missing)."
    ),
    progress: bool | None = typer.Option(
        None,
        "--progress/--no-progress",
        help="Show a progress bar on stderr (default: on long replays, on a terminal).",
    ),
    jobs: int | None = typer.Option(
        None,
        "--jobs",
        "-j",
        min=1,
        help=(
            "Processes to replay in, each evaluating some of the parties' pictures "
            "(default: one per core for 100,000 reports or more). A replay into a "
            "database, as a table, or with a scripted hotline runs in one."
        ),
    ),
) -> None:
    """Replay a scenario and print its alert events in time order."""
    from ..runtime import leave_to_exit
    from ..scenario import ScenarioError
    from ..scenario.loader import begin_loading

    console = _stderr()
    started = time.perf_counter()
    try:
        finish_loading = begin_loading(scenario)
    except ScenarioError as error:
        raise _fail(error.lines) from None
    except KeyboardInterrupt:
        console.print("interrupted", style="dim")
        raise typer.Exit(130) from None
    # the file is read meanwhile
    from ..engine import EngineError
    from ..scenario.parallel import ReplayWorkerError
    from ..scenario.replay import Replay

    store = None
    try:
        loaded = finish_loading()
        if db is not None:
            store = _open_store(db)
        replay: Any = None
        if store is None and output is OutputFormat.JSONL:
            from ..scenario.parallel import ParallelReplay, jobs_for

            split = jobs_for(loaded, jobs)
            if split > 1:
                replay = ParallelReplay(loaded, split)
        if replay is None:
            replay = Replay(loaded, store=store)
        show = (
            progress
            if progress is not None
            else (console.is_terminal and replay.total >= PROGRESS_MIN_REPORTS)
        )
        if output is OutputFormat.JSONL:
            lines: Iterable[tuple[int, list[bytes]]] = replay.json_steps()
            if show:
                lines = _with_progress(lines, replay.total, console)
            count = _write_lines(lines, sys.stdout.buffer)
        else:
            steps: Iterable[tuple[int, list[dict[str, Any]]]] = (
                (step.reports, step.events) for step in replay.steps()
            )
            if show:
                steps = _with_progress(steps, replay.total, console)
            events = (event for _, step_events in steps for event in step_events)
            count = _print_table(events, loaded.scenario.name)
    except ScenarioError as error:
        raise _fail(error.lines) from None
    except EngineError as error:
        raise _fail([f"{scenario}: {error}"]) from None
    except ReplayWorkerError as error:
        raise _fail([f"{scenario}: {error}"]) from None
    except KeyboardInterrupt:
        console.print("interrupted", style="dim")
        raise typer.Exit(130) from None
    finally:
        if store is not None:
            store.close()
    elapsed = time.perf_counter() - started
    console.print(
        f"{loaded.source}: {replay.total:,} reports replayed in {elapsed:.2f} s, {count:,} events",
        style="dim",
    )
    # Nothing is left to do with the scenario and the engine: the process ends without
    # freeing them one object at a time.
    leave_to_exit(loaded, replay)


def _open_store(db: Path) -> Any:
    """The SQLite store at `db`, or an input error naming the file and what is wrong."""
    import sqlite3

    from ..store import SQLiteStore

    try:
        return SQLiteStore(db)
    except (sqlite3.Error, OSError) as error:
        raise _fail([f"{db}: cannot open the database: {error}"]) from None


def _with_progress(
    steps: Iterable[tuple[int, list[Step]]], total: int, console: Console
) -> Iterator[tuple[int, list[Step]]]:
    """The steps of a replay (reports, events), a bar on stderr counting the reports."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("reports"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("replay", total=total)
        for reports, events in steps:
            bar.advance(task, reports)
            yield reports, events


def _write_jsonl(events: Iterable[dict[str, Any]], out: BinaryIO) -> int:
    return _write_lines(((1, [orjson.dumps(event)]) for event in events), out)


def _write_lines(steps: Iterable[tuple[int, list[bytes]]], out: BinaryIO) -> int:
    """Write each step's JSON lines in one write; the number of lines."""
    count = 0
    try:
        for _, lines in steps:
            if lines:
                out.write(b"\n".join(lines) + b"\n")
                count += len(lines)
        out.flush()
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, and keep Python's own flush
        # at exit from failing on the closed pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        raise typer.Exit(0) from None
    return count


_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def _print_table(events: Iterable[dict[str, Any]], title: str) -> int:
    from rich.table import Table

    table = Table(title=f"{title}: alert timeline", show_lines=False, expand=False)
    for name in ("time", "event", "alert", "rule", "severity", "party"):
        table.add_column(name, no_wrap=True)
    table.add_column("message", overflow="fold")
    count = 0
    for event in events:
        count += 1
        table.add_row(*_row(event))
    _stdout().print(table)
    return count


def _row(event: dict[str, Any]) -> list[str]:
    """A table row for an alert event or a hotline entry."""
    kind = str(event.get("event", ""))
    if kind.startswith("hotline."):
        party = f"{event.get('from', '')} -> {event.get('to', '')}"
        return [
            str(event.get("time", "")),
            kind,
            str(event.get("id", "")),
            str(event.get("kind", "")),
            str(event.get("priority", "")),
            party,
            escape(str(event.get("subject", ""))),
        ]
    severity = str(event.get("severity", ""))
    style = _SEVERITY_STYLE.get(severity)
    return [
        str(event.get("time", "")),
        kind,
        str(event.get("id", "")),
        str(event.get("rule", "")),
        f"[{style}]{severity}[/{style}]" if style else severity,
        str(event.get("party", "")),
        escape(str(event.get("message", ""))),
    ]


@scenario_app.command("validate")
def validate(
    scenario: str = typer.Argument(
        ..., metavar="FILE|NAME", help="A scenario file or a built-in name."
    ),
) -> None:
    """Check a scenario file; print every problem with its place in the document."""
    from ..scenario import ScenarioError, load_columns

    try:
        loaded = load_columns(scenario)
    except ScenarioError as error:
        raise _fail(error.lines) from None
    s = loaded.scenario
    counts = {
        "parties": len(s.parties),
        "actors": len(s.actors),
        "lines": len(s.lines),
        "sites": len(s.sites),
        "units": len(s.units),
        "reports": len(loaded.reports),
        "incidents": len(s.incidents),
        "hotline messages": len(s.hotline),
    }
    summary = ", ".join(f"{n:,} {name}" for name, n in counts.items())
    typer.echo(f"{loaded.source}: valid: {s.name} ({summary})")


@scenario_app.command("list")
def list_scenarios() -> None:
    """List the built-in scenarios."""
    from rich.table import Table

    from ..scenario import list_builtin, load_columns

    table = Table(show_header=True)
    table.add_column("name")
    table.add_column("title")
    table.add_column("reports", justify="right")
    for name in list_builtin():
        loaded = load_columns(name)
        table.add_row(name, escape(loaded.scenario.name), f"{len(loaded.reports):,}")
    _stdout().print(table)


def alerts(
    db: Path = typer.Option(..., "--db", help="The SQLite database of a replay or a service."),
    party: str | None = typer.Option(None, "--party", help="Only this party's alerts."),
    state: str | None = typer.Option(None, "--state", help="open or resolved."),
    output: OutputFormat = typer.Option(
        OutputFormat.TABLE, "--format", "-f", help="table or jsonl."
    ),
) -> None:
    """List the alerts stored in a database, party by party, in the order they opened."""
    from rich.table import Table

    from ..model import AlertState
    from ..store import AlertQuery

    if not db.is_file():
        raise _fail([f"{db}: no such database"])
    wanted_state = None
    if state is not None:
        try:
            wanted_state = AlertState(state)
        except ValueError:
            raise _fail([f"--state: expected open or resolved, got '{state}'"]) from None
    store = _open_store(db)
    try:
        parties = [p.id for p in store.parties()]
        if party is not None:
            if party not in parties:
                raise _fail([f"--party: unknown party '{party}' (known: {', '.join(parties)})"])
            parties = [party]
        found: list[dict[str, Any]] = []
        for pid in parties:
            after: int | None = None
            while True:
                page = store.alerts(AlertQuery(party=pid, state=wanted_state, after=after))
                found.extend(a.model_dump(mode="json") for a in page.alerts)
                if page.next_after is None:
                    break
                after = page.next_after
    finally:
        store.close()
    if output is OutputFormat.JSONL:
        _write_jsonl(found, sys.stdout.buffer)
        return
    table = Table(title=f"alerts in {db}")
    for name in ("alert", "party", "rule", "severity", "state", "opened", "updated"):
        table.add_column(name, no_wrap=True)
    table.add_column("message", overflow="fold")
    for alert in found:
        table.add_row(
            alert["id"],
            alert["party"],
            alert["rule"],
            alert["severity"],
            alert["state"],
            alert["opened"],
            alert["updated"],
            escape(alert["message"]),
        )
    _stdout().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(scenario_app, name="scenario")
    app.command("alerts")(alerts)
