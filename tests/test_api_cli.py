"""`init`, `token create|revoke|list` and `demo` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api_support import ROOT, SCENARIO, free_port, make_database, start_server
from deconfliction.cli.service import DEFAULT_SCENARIO
from deconfliction.scenario import load

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deconfliction", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )


def test_init_and_tokens(tmp_path: Path) -> None:
    scenario = tmp_path / "theatre.yaml"
    scenario.write_text(SCENARIO)
    db = tmp_path / "cli.sqlite"
    made = cli("init", "--db", str(db), "--scenario", str(scenario), "--json")
    assert made.returncode == 0, made.stderr
    tokens = json.loads(made.stdout)
    assert [(t["party"], t["role"]) for t in tokens] == [
        ("coalition", "admin"),
        ("russia", "admin"),
    ]
    assert all(t["token"].startswith("dcf_") for t in tokens)
    again = cli("init", "--db", str(db), "--scenario", str(scenario))
    assert again.returncode != 0 and "already initialised" in again.stderr

    line = cli("token", "create", "--db", str(db), "--party", "russia", "--role", "viewer")
    assert line.returncode == 0, line.stderr
    party, role, token = line.stdout.split()
    assert (party, role) == ("russia", "viewer") and token.startswith("dcf_")
    # only a hash is stored
    assert token.encode() not in db.read_bytes()
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or token.encode() not in wal.read_bytes()

    bad = cli("token", "create", "--db", str(db), "--party", "nobody", "--role", "viewer")
    assert bad.returncode != 0 and "--party" in bad.stderr and "nobody" in bad.stderr
    listed = cli("token", "list", "--db", str(db)).stdout.splitlines()
    assert [row.split()[:3] for row in listed] == [
        ["1", "coalition", "admin"],
        ["2", "russia", "admin"],
        ["3", "russia", "viewer"],
    ]
    assert cli("token", "revoke", "--db", str(db), "--id", "3").returncode == 0
    assert cli("token", "revoke", "--db", str(db), "--id", "3").returncode != 0
    assert cli("token", "list", "--db", str(db)).stdout.splitlines()[2].split()[4] != "-"
    missing = cli("token", "list", "--db", str(tmp_path / "nowhere.sqlite"))
    assert missing.returncode != 0 and "no such database" in missing.stderr


def test_demo_serves_and_replays_the_builtin_scenario(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "demo.sqlite"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deconfliction",
            "demo",
            "--db",
            str(db),
            "--port",
            str(port),
            "--speed",
            "5000",
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline().split() for _ in range(4)]
        assert {(p, r) for p, r, _ in printed} == {
            ("coalition", "admin"),
            ("russia", "admin"),
            ("coalition", "operator"),
            ("russia", "operator"),
        }
        url = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 60
        alerts: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            try:
                demo_tokens = httpx.get(f"{url}/demo/tokens", timeout=2).json()
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            coalition = next(t for t in demo_tokens if t["party"] == "coalition")
            headers = {"Authorization": f"Bearer {coalition['token']}"}
            alerts = httpx.get(f"{url}/alerts?limit=1000", headers=headers).json()["items"]
            if any(a["rule"] == "site.threat" and a["severity"] == "critical" for a in alerts):
                break
            time.sleep(0.5)
        rules = [a["rule"] for a in alerts]
        assert "force.massing" in rules and "zone.violation" in rules
        health = httpx.get(f"{url}/health").json()
        # the engine's clock is the replayed time, not the wall clock
        assert health["clock"].startswith("2018-") and health["live"] is False
        assert health["demo"] is True
        # the scenario's scripted hotline reaches the desks, acknowledged as scripted
        scripted = [m for m in load(DEFAULT_SCENARIO).hotline if m.recipient == "russia"]
        russia = next(t for t in demo_tokens if t["party"] == "russia")
        to_ack = {m.subject for m in scripted if m.ack_at is not None}
        inbox: list[dict[str, object]] = []
        acked: set[object] = set()
        # A scripted acknowledgement is replayed after its message: wait for both.
        while time.monotonic() < deadline and (len(inbox) < len(scripted) or acked != to_ack):
            inbox = httpx.get(
                f"{url}/hotline/inbox", headers={"Authorization": f"Bearer {russia['token']}"}
            ).json()["items"]
            acked = {m["subject"] for m in inbox if m["acknowledged_at"] is not None}
            time.sleep(0.2)
        assert sorted(str(m["subject"]) for m in inbox) == sorted(m.subject for m in scripted)
        assert acked == to_ack
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


def test_a_token_revoked_from_the_command_line_is_refused_by_a_running_server(
    tmp_path: Path,
) -> None:
    db, tokens = make_database(tmp_path)
    server = start_server(db)
    try:
        with server.client() as c:
            headers = tokens.headers("coalition", "viewer")
            assert c.get("/lines", headers=headers).status_code == 200
            listed = cli("token", "list", "--db", str(db)).stdout.splitlines()
            [token_id] = [r.split()[0] for r in listed if r.split()[1:3] == ["coalition", "viewer"]]
            assert cli("token", "revoke", "--db", str(db), "--id", token_id).returncode == 0
            # the server's token cache holds a principal for at most a second
            deadline = time.monotonic() + 5
            while c.get("/lines", headers=headers).status_code == 200:
                assert time.monotonic() < deadline, "the revoked token is still accepted"
                time.sleep(0.1)
            assert c.get("/lines", headers=headers).status_code == 401
            assert c.post("/reports", json=[], headers=headers).status_code == 401
    finally:
        server.stop()
