"""Real service processes for the API tests: a database from a small scenario, tokens,
and `deconfliction serve` on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deconfliction.cli.service import initialise
from deconfliction.service.core import Service
from deconfliction.store import Role, SQLiteStore
from harness import free_port

SCENARIO = """
name: API test theatre
parties: [{id: coalition, name: Coalition}, {id: russia, name: Russia}]
actors:
  - {id: sdf, name: SDF, party: coalition}
  - {id: pro-regime, name: Pro-regime, party: russia}
  - {id: isis, name: IS, party: null}
lines:
  - {id: euphrates, name: Euphrates line, left: coalition, right: russia, buffer_m: 5000,
     coordinates: [[38.56, 35.87], [40.15, 35.34], [40.93, 34.45]]}
sites:
  - {id: conoco-hq, name: Conoco HQ, party: coalition, kind: headquarters,
     lon: 40.309, lat: 35.336, personnel: 40, priority: critical}
  - {id: russia-base, name: Forward base, party: russia, kind: outpost,
     lon: 40.0, lat: 35.2, personnel: 40, priority: high}
units:
  - {id: t72, name: Tank company, actor: pro-regime, kind: armor, strength: 60,
     equipment: {tank: 10}}
  - {id: sdf-1, name: SDF battalion, actor: sdf, kind: infantry, strength: 400}
  - {id: ru-recon, name: Recon team, actor: pro-regime, kind: infantry, strength: 12}
incidents:
  - {id: inc-public, time: "2018-02-07T22:00:00Z", kind: attack, lon: 40.3, lat: 35.33,
     location: Khasham, actors: [pro-regime, sdf], casualties: {low: 100, high: 300},
     sources: [press]}
reports: []
"""

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Tokens:
    by: dict[tuple[str, str], str] = field(default_factory=dict)

    def __call__(self, party: str, role: str) -> str:
        return self.by[(party, role)]

    def headers(self, party: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.by[(party, role)]}"}


def make_database(directory: Path) -> tuple[Path, Tokens]:
    """A database of the test scenario with an admin, operator and viewer token a party."""
    directory.mkdir(parents=True, exist_ok=True)
    scenario = directory / "theatre.yaml"
    scenario.write_text(SCENARIO)
    db = directory / "service.sqlite"
    tokens = Tokens()
    for token in initialise(db, str(scenario)):
        tokens.by[(token.party, "admin")] = token.token
    with SQLiteStore(db) as store:
        service = Service(store, live=False)
        for party in ("coalition", "russia"):
            for role in (Role.OPERATOR, Role.VIEWER):
                tokens.by[(party, str(role))] = service.create_token(party, role).token
    return db, tokens


@dataclass
class Server:
    db: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/api/v1", timeout=30, **kwargs)  # type: ignore[arg-type]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_server(db: Path, *args: str, command: str = "serve") -> Server:
    """`deconfliction serve` on a free port, answering /health."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    log = db.parent / f"server-{port}.log"
    argv = [sys.executable, "-m", "deconfliction", command, "--db", str(db), "--port", str(port)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*argv, *args], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
    server = Server(db, port, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(server.url + "/api/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("server did not come up in 30 s")
