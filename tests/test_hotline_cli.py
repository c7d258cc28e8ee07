"""`deconfliction hotline` against a real SQLite file: send, ack, respond, export, verify."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from deconfliction.cli import app
from deconfliction.model import Party, Settings
from deconfliction.store import Reference, SQLiteStore

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "service.db"
    store = SQLiteStore(path)
    parties = [Party(id=p, name=p.title()) for p in ("coalition", "russia", "turkey")]
    store.put_reference(Reference(parties, [], [], [], [], Settings()))
    store.close()
    return path


def _run(*args: str) -> str:
    result = runner.invoke(app, ["hotline", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_conversation_is_exported_and_verified(db: Path, tmp_path: Path) -> None:
    sent = _run(
        "send", "--db", str(db), "--from", "coalition", "--to", "russia", "--kind", "request",
        "--priority", "flash", "--subject", "Confirm forces at Khasham",
        "--at", "2018-02-07T20:30:00Z",
    )  # fmt: skip
    message_id = sent.split()[0]
    overdue = _run(
        "list", "--db", str(db), "-p", "coalition", "--box", "outbox", "--state", "overdue",
        "--jsonl", "--at", "2018-02-07T20:40:00Z",
    )  # fmt: skip
    assert orjson.loads(overdue)["id"] == message_id
    _run("ack", message_id, "--db", str(db), "-p", "russia", "--at", "2018-02-07T20:41:00Z")
    _run(
        "respond", message_id, "--db", str(db), "-p", "russia", "--body",
        "Those are not our forces.", "--at", "2018-02-07T20:45:00Z",
    )  # fmt: skip
    assert _run("list", "--db", str(db), "-p", "turkey", "--jsonl") == ""
    out = tmp_path / "transcript.jsonl"
    _run("export", "--db", str(db), "-p", "russia", "--with", "coalition", "-o", str(out))
    entries = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [e["message"]["kind"] for e in entries] == ["request", "ack", "response"]
    keys = [
        f"--key={p}={_run('key', '--db', str(db), '-p', p).strip()}"
        for p in ("coalition", "russia")
    ]
    assert "3 entries verified" in _run("verify", str(out), *keys)

    lines = out.read_bytes().splitlines()
    out.write_bytes(b"\n".join([lines[0], lines[2]]) + b"\n")
    result = runner.invoke(app, ["hotline", "verify", str(out), *keys])
    assert result.exit_code == 1
    assert "line 2 (entry 2): removed: entry 2 is missing before entry 3" in result.output


def test_a_second_writer_is_refused(db: Path) -> None:
    from deconfliction.store.hotline import SQLiteJournal

    server = SQLiteJournal(db)
    server.writer()
    try:
        result = runner.invoke(
            app,
            ["hotline", "send", "--db", str(db), "--from", "coalition", "--to", "russia",
             "--subject", "x"],
        )  # fmt: skip
        assert result.exit_code == 2 and "another process" in result.output
        assert _run("list", "--db", str(db), "-p", "russia", "--jsonl") == ""
    finally:
        server.close()
    _run("send", "--db", str(db), "--from", "coalition", "--to", "russia", "--subject", "x")


def test_bad_input_is_named_and_changes_nothing(db: Path) -> None:
    result = runner.invoke(
        app,
        [
            "hotline",
            "send",
            "--db",
            str(db),
            "--from",
            "coalition",
            "--to",
            "nobody",
            "--subject",
            "x",
        ],
    )
    assert result.exit_code == 2 and "recipient: unknown party 'nobody'" in result.output
    result = runner.invoke(app, ["hotline", "ack", "m-1", "--db", str(db), "-p", "russia"])
    assert result.exit_code == 2 and "no message 'm-1'" in result.output
    result = runner.invoke(app, ["hotline", "verify", str(db), "--key", "russia=notakey"])
    assert result.exit_code == 2 and "--key russia: not base64" in result.output
    assert _run("list", "--db", str(db), "-p", "coalition", "--box", "outbox", "--jsonl") == ""
