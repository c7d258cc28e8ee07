"""`deconfliction hotline send|list|ack|respond|export|key|verify`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..hotline import (
    Hotline,
    HotlineError,
    KeyFormatError,
    MessageState,
    read_public_key,
    verify_transcript,
)
from ..model import HotlineKind, HotlinePriority, format_time
from ..store.hotline import JournalBusy, SQLiteJournal, open_hotline

INVALID_INPUT = 2

app = typer.Typer(
    name="hotline",
    help="The hotline between the parties' desks: send, list, acknowledge, respond, "
    "export a pair's signed transcript and verify one.",
    no_args_is_help=True,
)

DB = typer.Option(..., "--db", help="The service's SQLite database file.")
PARTY = typer.Option(..., "--party", "-p", help="The desk acting (whose inbox or outbox).")
AT = typer.Option(None, "--at", help="The time of the action (RFC 3339); now by default.")


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(INVALID_INPUT)


def _time(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _fail(f"--at: not an RFC 3339 time: {value}") from exc
    if parsed.tzinfo is None:
        raise _fail("--at: give a time zone (for example 2016-09-17T13:00:00Z)")
    return parsed.astimezone(UTC)


@contextmanager
def _desk(db: Path, now: datetime, write: bool = False) -> Iterator[Hotline]:
    if not db.exists():
        raise _fail(f"--db: no such file: {db}")
    journal = SQLiteJournal(db)
    try:
        if write:
            journal.writer()
        parties = journal.parties()
        if not parties:
            raise _fail(f"--db: {db} holds no parties (load a scenario or an agreement first)")
        yield open_hotline(journal, parties, now)
    except HotlineError as exc:
        raise _fail(exc.message) from exc
    except JournalBusy as exc:
        raise _fail(str(exc)) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise _fail(f"{where}: {first['msg']}") from exc
    finally:
        journal.close()


def _sent(hotline: Hotline, message_id: str, party: str) -> None:
    entry = hotline.record(party, message_id).entry
    typer.echo(f"{message_id} seq {entry.seq} hash {entry.hash.hex()}")


@app.command("send")
def send(
    db: Path = DB,
    sender: str = typer.Option(..., "--from", help="The sending desk."),
    recipient: str = typer.Option(..., "--to", help="The receiving desk."),
    kind: HotlineKind = typer.Option(HotlineKind.CONCERN, "--kind"),
    subject: str = typer.Option(..., "--subject"),
    body: str = typer.Option("", "--body"),
    priority: HotlinePriority = typer.Option(HotlinePriority.ROUTINE, "--priority"),
    activity: str | None = typer.Option(None, "--activity", help="air strike, convoy, ..."),
    area: Path | None = typer.Option(None, "--area", help="A GeoJSON Polygon file."),
    window_start: str | None = typer.Option(None, "--window-start"),
    window_end: str | None = typer.Option(None, "--window-end"),
    ref: list[str] = typer.Option([], "--ref", help="An alert or message referred to."),
    at: str | None = AT,
) -> None:
    """Sign and send a message from one desk to another."""
    if kind in (HotlineKind.ACK, HotlineKind.RESPONSE):
        raise _fail(f"--kind: use `hotline {'ack' if kind == HotlineKind.ACK else 'respond'}`")
    now = _time(at)
    polygon = None
    if area is not None:
        try:
            polygon = orjson.loads(area.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise _fail(f"--area: cannot read a GeoJSON polygon from {area}: {exc}") from exc
        if isinstance(polygon, dict) and polygon.get("type") == "Feature":
            polygon = polygon.get("geometry")
    window = None
    if window_start is not None or window_end is not None:
        if window_start is None or window_end is None:
            raise _fail("--window-start, --window-end: give both")
        window = {"start": _time(window_start), "end": _time(window_end)}
    with _desk(db, now, write=True) as hotline:
        message = hotline.compose(
            sender, recipient, kind, subject, now, body=body, priority=priority,
            activity=activity, area=polygon, window=window, refs=ref,
        )  # fmt: skip
        hotline.send(message, now)
        _sent(hotline, message.id, sender)


@app.command("ack")
def ack(
    message_id: str = typer.Argument(..., help="The message received."),
    db: Path = DB,
    party: str = PARTY,
    at: str | None = AT,
) -> None:
    """Acknowledge receipt of a message."""
    now = _time(at)
    with _desk(db, now, write=True) as hotline:
        target = hotline.record(party, message_id).message
        reply = hotline.compose(
            party, target.sender, HotlineKind.ACK, f"Received: {target.subject}"[:200], now,
            reply_to=message_id,
        )  # fmt: skip
        hotline.send(reply, now)
        _sent(hotline, reply.id, party)


@app.command("respond")
def respond(
    message_id: str = typer.Argument(..., help="The message answered."),
    db: Path = DB,
    party: str = PARTY,
    subject: str | None = typer.Option(None, "--subject"),
    body: str | None = typer.Option(None, "--body", help="Drafted from the conflicts if absent."),
    at: str | None = AT,
) -> None:
    """Answer a message (this also acknowledges it)."""
    from ..hotline import draft_response

    now = _time(at)
    with _desk(db, now, write=True) as hotline:
        target = hotline.record(party, message_id).message
        draft = draft_response(target, hotline.conflicts(party, message_id))
        reply = hotline.compose(
            party, target.sender, HotlineKind.RESPONSE, subject or draft.subject, now,
            body=draft.body if body is None else body, reply_to=message_id,
        )  # fmt: skip
        hotline.send(reply, now)
        _sent(hotline, reply.id, party)


@app.command("list")
def list_messages(
    db: Path = DB,
    party: str = PARTY,
    box: str = typer.Option("inbox", "--box", help="inbox or outbox"),
    state: MessageState | None = typer.Option(None, "--state"),
    jsonl: bool = typer.Option(False, "--jsonl", help="One JSON object per line."),
    at: str | None = AT,
) -> None:
    """A desk's inbox or outbox, oldest first."""
    now = _time(at)
    with _desk(db, now) as hotline:
        records = hotline.messages(party, box, now, state)
        if jsonl:
            for r in records:
                document = r.message.model_dump(mode="json", exclude_none=True)
                document["state"] = r.state(now).value
                sys.stdout.write(orjson.dumps(document).decode() + "\n")
            return
        table = Table(title=f"{party} {box}")
        for column in ("id", "from", "to", "kind", "priority", "subject", "sent", "due", "state"):
            table.add_column(column)
        for r in records:
            m = r.message
            table.add_row(
                m.id, m.sender, m.recipient, m.kind.value, m.priority.value, escape(m.subject),
                format_time(m.created), "" if m.due is None else format_time(m.due),
                r.state(now).value,
            )  # fmt: skip
        Console(highlight=False, width=200).print(table)


@app.command("export")
def export(
    db: Path = DB,
    party: str = PARTY,
    other: str = typer.Option(..., "--with", help="The other desk of the pair."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here, not to stdout."),
) -> None:
    """Write the transcript a desk shares with another as JSON Lines."""
    with _desk(db, datetime.now(UTC)) as hotline:
        lines = b"".join(e.line() for e in hotline.transcript(party, other))
        known = all(hotline.known_public_key(p) for p in (party, other))
        # every key a desk has had: entries signed before a rotation verify with the old one
        keys = [(p, k.public) for p in (party, other) if known for k in hotline.key_history(p)]
    if out is None:
        sys.stdout.buffer.write(lines)
    else:
        out.write_bytes(lines)
    if known:
        Console(stderr=True, highlight=False).print(
            "verify with: deconfliction hotline verify FILE "
            + " ".join(f"--key {p}={k}" for p, k in keys)
        )


@app.command("key")
def show_key(db: Path = DB, party: str = PARTY) -> None:
    """Print a desk's public key (base64 of the 32 raw Ed25519 bytes)."""
    with _desk(db, datetime.now(UTC)) as hotline:
        key = hotline.known_public_key(party)
    if key is None:
        raise _fail(f"--party: '{party}' has no key yet; its desk gets one with its first message")
    typer.echo(key)


@app.command("verify")
def verify(
    transcript: Path = typer.Argument(..., help="A transcript written by `hotline export`."),
    key: list[str] = typer.Option(
        [],
        "--key",
        help="PARTY=PUBKEY (base64, or @file holding base64 or PEM); one per desk, or one"
        " per key a desk has had (GET /hotline/keys/PARTY lists them).",
    ),
    head: str | None = typer.Option(None, "--head", help="A head hash from an earlier receipt."),
) -> None:
    """Check every signature and link; name the first entry altered, removed, inserted,
    reordered or forged."""
    keys: dict[str, list[Ed25519PublicKey]] = {}
    for spec in key:
        party, sep, text = spec.partition("=")
        if not sep or not party:
            raise _fail(f"--key: expected PARTY=PUBKEY, got '{spec}'")
        try:
            keys.setdefault(party, []).append(read_public_key(text))
        except KeyFormatError as exc:
            raise _fail(f"--key {party}: {exc}") from exc
    try:
        data = transcript.read_bytes()
    except OSError as exc:
        raise _fail(f"{transcript}: {exc.strerror}") from exc
    result = verify_transcript(data.splitlines(), keys, expect_head=head)
    if result.problem is not None:
        typer.echo(f"{transcript}: {result.problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{transcript}: {result.entries} entries verified; head {result.head}")
