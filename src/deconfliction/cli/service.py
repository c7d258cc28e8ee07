"""`init`, `token create|revoke|list`, `serve` and `demo`: running the service."""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from ..store.base import Role

DEFAULT_SCENARIO = "deir-ez-zor-2018"
SWITCH_INTERVAL_S = 0.0005

token_app = typer.Typer(help="Create, revoke and list API tokens.", no_args_is_help=True)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(message: str) -> typer.Exit:
    _stderr().print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _print_tokens(tokens: list[Any], as_json: bool) -> None:
    rows = [{"party": t.party, "role": str(t.role), "token": t.token} for t in tokens]
    if as_json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
    else:
        for row in rows:
            sys.stdout.write(f"{row['party']} {row['role']} {row['token']}\n")
    sys.stdout.flush()


def initialise(db: Path, scenario: str) -> list[Any]:
    """A new database holding a scenario's agreement and forces; one admin token a party."""
    from ..scenario import load
    from ..service.core import Service
    from ..store import Reference, SQLiteStore

    loaded = load(scenario)
    store = SQLiteStore(db)
    try:
        if store.parties():
            raise _fail(f"{db}: already initialised")
        store.put_reference(
            Reference(
                parties=loaded.parties,
                actors=loaded.actors,
                units=loaded.units,
                lines=loaded.lines,
                sites=loaded.sites,
                settings=loaded.settings,
            )
        )
        for incident in loaded.incidents:
            store.put_incident(incident)
        service = Service(store, live=False)
        return [service.create_token(p.id, Role.ADMIN) for p in loaded.parties]
    finally:
        store.close()


def init(
    db: Path = typer.Option(..., "--db", help="The SQLite file to create."),
    scenario: str = typer.Option(
        DEFAULT_SCENARIO, "--scenario", metavar="FILE|NAME", help="A scenario file or built-in."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of lines."),
) -> None:
    """Create a database with a scenario's parties, actors, units, lines and sites, and
    print one admin token per party as `party role token` lines."""
    from ..scenario import ScenarioError

    try:
        tokens = initialise(db, scenario)
    except ScenarioError as error:
        for line in error.lines:
            _stderr().print(f"[red]error:[/red] {escape(line)}", soft_wrap=True)
        raise typer.Exit(2) from None
    _print_tokens(tokens, as_json)


def _open_store(db: Path) -> Any:
    from ..store import SQLiteStore

    if not db.is_file():
        raise _fail(f"{db}: no such database (create it with `deconfliction init`)")
    return SQLiteStore(db)


@token_app.command("create")
def token_create(
    db: Path = typer.Option(..., "--db", help="The service's database."),
    party: str = typer.Option(..., "--party", help="The party the token acts for."),
    role: Role = typer.Option(..., "--role", help="admin, operator or viewer."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a line."),
) -> None:
    """Print a new token once; only its hash is stored."""
    from ..service.core import Service
    from ..service.errors import ServiceError

    store = _open_store(db)
    try:
        try:
            token = Service(store, live=False).create_token(party, role)
        except ServiceError as error:
            raise _fail(f"--party: {error.message.removeprefix('party: ')}") from None
    finally:
        store.close()
    _print_tokens([token], as_json)


@token_app.command("revoke")
def token_revoke(
    db: Path = typer.Option(..., "--db", help="The service's database."),
    token_id: int = typer.Option(..., "--id", help="The token's id (see `token list`)."),
) -> None:
    """Revoke a token: it is refused from the next request on."""
    from ..model import now_utc

    store = _open_store(db)
    try:
        if not store.revoke_token(token_id, now_utc()):
            raise _fail(f"--id: no active token {token_id}")
    finally:
        store.close()
    _stderr().print(f"token {token_id} revoked")


@token_app.command("list")
def token_list(db: Path = typer.Option(..., "--db", help="The service's database.")) -> None:
    """List tokens (never their values): id, party, role, created, revoked."""
    from ..model import format_time

    store = _open_store(db)
    try:
        for t in store.tokens():
            revoked = format_time(t.revoked) if t.revoked else "-"
            sys.stdout.write(f"{t.id} {t.party} {t.role} {format_time(t.created)} {revoked}\n")
    finally:
        store.close()


def _run_server(app: Any, host: str, port: int) -> None:
    import uvicorn

    # The event loop shares the interpreter with the engine and writer threads; a short
    # switch interval lets it answer a request without waiting out a whole engine pass.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # The engine and the reference data are long-lived: out of the collector's sight,
    # a full collection under load takes milliseconds instead of a pause per second.
    gc.collect()
    gc.freeze()

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=2,
        access_log=False,
    )
    server = uvicorn.Server(config)
    server.run()


def serve(
    db: Path = typer.Option(..., "--db", help="The database made by `deconfliction init`."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    synchronous: str = typer.Option(
        "full", "--sync", help="SQLite sync level: full (survives power loss) or normal."
    ),
    clock: str = typer.Option(
        "wall",
        "--clock",
        help="wall: the engine runs on the wall clock; reports: on the latest report time, "
        "as in a replay.",
    ),
    max_body: int = typer.Option(
        16 * 1024 * 1024, "--max-body-bytes", help="Larger bodies get 413."
    ),
    max_reports: int = typer.Option(
        10_000, "--max-reports", help="More reports per request get 413."
    ),
    cot: list[str] = typer.Option(
        [],
        "--cot",
        metavar="URL",
        help="TAK listener: tcp://HOST:PORT[?party=P] or tls://HOST:PORT.",
    ),
    cot_config: Path | None = typer.Option(
        None, "--cot-config", help="TAK settings (YAML): party, certificates, clients, actors."
    ),
) -> None:
    """Run the service: the engine on the wall clock, the API under /api/v1, the map at /."""
    from ..api import create_app
    from ..service.core import Limits, Service
    from .cot import gateway_config

    tak = gateway_config(cot, cot_config)

    if clock not in ("wall", "reports"):
        raise _fail(f"--clock: expected wall or reports, got '{clock}'")
    if synchronous not in ("full", "normal", "extra"):
        raise _fail(f"--sync: expected full, normal or extra, got '{synchronous}'")
    store = _open_store(db)
    store.close()
    from ..store import SQLiteStore

    store = SQLiteStore(db, synchronous=synchronous)  # type: ignore[arg-type]
    service = Service(store, live=clock == "wall", limits=Limits(max_body, max_reports))
    service.start()
    _stderr().print(f"serving {db} on http://{host}:{port}/ (API under /api/v1, docs at /docs)")
    try:
        app = create_app(service)
        if tak is not None:
            from ..tak.serve import attach

            attach(app, service, tak)
        _run_server(app, host, port)
    finally:
        service.close()
        store.close()


def demo(
    db: Path | None = typer.Option(None, "--db", help="Where to create the demo database."),
    scenario: str = typer.Option(DEFAULT_SCENARIO, "--scenario", metavar="FILE|NAME"),
    speed: float = typer.Option(20.0, "--speed", help="Reports replayed per second of wall time."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Create a fresh database from the built-in scenario, serve it, and replay the
    scenario's reports and scripted hotline messages into it; the engine's clock is the
    replayed time."""
    import tempfile

    from ..api import create_app
    from ..batch import ReportBatch, from_us
    from ..scenario import load
    from ..service.core import Service
    from ..store import SQLiteStore

    if not speed > 0:
        raise _fail("--speed: must be above 0")
    if db is None:
        db = Path(tempfile.mkdtemp(prefix="deconfliction-demo-")) / "demo.sqlite"
    elif db.exists():
        raise _fail(f"--db: {db} exists; the demo starts from a fresh database")
    admins = initialise(db, scenario)
    loaded = load(scenario)
    store = SQLiteStore(db)
    service = Service(store, live=False)
    operators = [service.create_token(p.id, Role.OPERATOR) for p in loaded.parties]
    service.demo_tokens = operators
    _print_tokens(admins + operators, as_json=False)
    _stderr().print(
        f"demo database {db}; open http://{host}:{port}/ and sign in with an operator token"
    )
    stop = threading.Event()
    first = loaded.parties[0].id
    batches = list(ReportBatch.from_reports(loaded.reports, default_observer=first).by_time())
    app = create_app(service)
    script = ScriptedDesks(app, loaded.hotline)

    def replay() -> None:
        for batch in batches:
            if stop.wait(len(batch) / speed):
                return
            service.ingest_batch(batch)
            script.play_until(from_us(int(batch.time_us.max())))
        script.play_until(None)
        _stderr().print("demo: the scenario has been replayed")

    thread = threading.Thread(target=replay, name="demo-replay", daemon=True)
    thread.start()
    try:
        _run_server(app, host, port)
    finally:
        stop.set()
        thread.join(timeout=5)
        service.close()
        store.close()


class ScriptedDesks:
    """A scenario's `hotline:` messages sent through the live service's desks when the
    replay reaches their times: each message, its acknowledgement, its response."""

    def __init__(self, app: Any, scripts: list[Any]) -> None:
        self._app = app
        steps: list[tuple[Any, int, str, Any]] = []
        for i, message in enumerate(scripts):
            steps.append((message.time, 3 * i, "send", message))
            if message.ack_at is not None:
                steps.append((message.ack_at, 3 * i + 1, "ack", message))
            if message.response is not None:
                steps.append((message.response.time, 3 * i + 2, "respond", message))
        steps.sort(key=lambda step: (step[0], step[1]))
        self._steps = steps
        self._next = 0
        # the desks number messages themselves: scripted ids and refs map onto theirs
        self._ids: dict[int, str] = {}
        self._by_script_id: dict[str, str] = {}

    def play_until(self, time: Any) -> None:
        """Play every step at or before `time` (all that are left for None)."""
        while self._next < len(self._steps):
            when, order, action, message = self._steps[self._next]
            if time is not None and when > time:
                return
            self._next += 1
            try:
                self._play(order // 3, action, message)
            except Exception as error:  # one refused message must not stop the demo
                _stderr().print(f"demo: hotline {action} of '{message.subject}': {error}")

    def _play(self, index: int, action: str, message: Any) -> None:
        from ..api.hotline import desk_of
        from ..hotline.service import ReplyIn, SendIn

        desk = desk_of(self._app)
        if action == "send":
            data = SendIn.model_validate(
                {
                    "kind": message.kind,
                    "recipient": message.recipient,
                    "subject": message.subject,
                    "body": message.body,
                    "refs": [self._by_script_id.get(r, r) for r in message.refs],
                    "priority": message.priority,
                    "activity": message.activity,
                    "area": message.area,
                    "window_start": message.window_start,
                    "window_end": message.window_end,
                }
            )
            sent = desk.send(message.sender, data)
            self._ids[index] = sent["id"]
            if message.id is not None:
                self._by_script_id[message.id] = sent["id"]
        elif index in self._ids:
            if action == "ack":
                desk.ack(message.recipient, self._ids[index])
            else:
                reply = ReplyIn(subject=message.response.subject, body=message.response.body)
                desk.respond(message.recipient, self._ids[index], reply)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(token_app, name="token")
    app.command("serve")(serve)
    app.command("demo")(demo)
