"""Regenerate the README's screenshot (docs/screenshot.png) from a real demo.

Runs `deconfliction demo` on a fresh database, waits for the built-in scenario to be
replayed, signs in as the coalition through the page's demo button, sets the time slider
to the attack on the Conoco plant (7 February 2018, 19:40 UTC) and photographs the map
in Debian's chromium. Run: `.venv/bin/python scripts/screenshot.py [--out PATH]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from harness import CHROMIUM, CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parent.parent
MOMENT = "2018-02-07T19:40:00Z"
CONOCO = (35.336, 40.27)


def until(check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshot: timed out waiting for {what}")
        time.sleep(0.1)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    if not (ROOT / "src/deconfliction/web/static/vendor/leaflet/leaflet.js").exists():
        raise SystemExit("screenshot: the map's assets are missing: run `npm ci` in web/")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deconfliction",
                "demo",
                "--db",
                f"{tmp}/demo.sqlite",
                "--port",
                str(port),
                "--speed",
                "500",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        output: list[str] = []

        def read() -> None:
            assert demo.stdout is not None
            output.extend(line.rstrip("\n") for line in demo.stdout)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            until(lambda: healthy(url), 60, "the demo server")
            until(lambda: any("has been replayed" in x for x in output), 120, "the replay")
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1600, "height": 900})
                page.goto(url + "/")
                page.click(".demo-party[data-party='coalition']")
                until(
                    lambda: page.evaluate("() => Boolean(window.cop && window.cop.ready)"),
                    30,
                    "the coalition's picture",
                )
                page.evaluate(f"() => window.copShowAt({MOMENT!r})")
                until(
                    lambda: page.evaluate(
                        f"() => window.cop.at === {MOMENT.replace('Z', '.000Z')!r}"
                    ),
                    15,
                    "the picture at the attack",
                )
                page.evaluate(
                    "([lat, lon]) => { window.copMap.setView([lat, lon], 11, {animate: false}); }",
                    list(CONOCO),
                )
                critical = page.locator("#alerts li.sev-critical").first
                if critical.count():
                    critical.click()
                page.wait_for_timeout(1500)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            demo.terminate()
            demo.wait(timeout=30)
            reader.join(timeout=5)
            if demo.stdout is not None:
                demo.stdout.close()
    print(f"screenshot: wrote {args.out}")


if __name__ == "__main__":
    main()
