"""Shared by the browser tests: a real `deconfliction demo` server and a real chromium.

Holds no tests itself; the `test_web_*` modules import it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from harness import free_port

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
VENDOR = ROOT / "src" / "deconfliction" / "web" / "static" / "vendor"


class DemoServer:
    """`deconfliction demo` as a subprocess on a free port, with its printed tokens."""

    def __init__(self, db: Path, speed: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deconfliction",
                "demo",
                "--db",
                str(db),
                "--port",
                str(self.port),
                "--speed",
                str(speed),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._wait_healthy()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("demo exited:\n" + "\n".join(self.output))
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError("demo did not answer /api/v1/health:\n" + "\n".join(self.output))

    def wait_replayed(self, timeout_s: float = 120.0) -> None:
        """Until the demo says the whole scenario has been replayed into it."""
        deadline = time.monotonic() + timeout_s
        while not any("has been replayed" in line for line in self.output):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the demo did not finish its replay:\n" + "\n".join(self.output))
            time.sleep(0.1)

    def tokens(self) -> dict[str, str]:
        """One token per party: the demo sign-in endpoint, else the printed tokens."""
        try:
            entries = self.get_json("/api/v1/demo/tokens", None)
            return {e["party"]: e["token"] for e in entries}
        except urllib.error.HTTPError:
            pass
        found: dict[str, str] = {}
        for line in self.output:
            parts = line.split()
            if len(parts) == 3 and parts[1] in ("admin", "operator", "viewer"):
                found.setdefault(parts[0], parts[2])
        return found

    def get_json(self, path: str, token: str | None) -> Any:
        request = urllib.request.Request(f"{self.url}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def wait_for(page: Any, script: str, timeout_s: float = 15.0, what: str = "") -> Any:
    """Poll a page expression until it is truthy (CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(script)
        if value:
            return value
        if time.monotonic() > deadline:
            errors = page.evaluate("() => window.cop && window.cop.errors")
            raise AssertionError(f"timed out waiting for {what or script}; page errors: {errors}")
        time.sleep(0.1)


def sign_in(page: Any, server: DemoServer, party: str) -> None:
    """Sign in through the page's own demo buttons, as a watch officer would."""
    page.goto(server.url + "/")
    page.wait_for_selector(f".demo-party[data-party='{party}']", timeout=15000)
    page.click(f".demo-party[data-party='{party}']")
    wait_for(page, "() => Boolean(window.cop && window.cop.ready)", 30, f"{party} picture")


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
