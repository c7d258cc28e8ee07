"""The map with 10,000 units: time to first render and frame times while panning.

Starts a real `deconfliction serve` on a fresh database of the built-in scenario, posts
10,000 units' reports into the coalition's picture, then drives Debian's chromium
through Playwright. Prints `name value unit` lines:

    web.first_render    ms from navigation start to the 10,000 units drawn (<= 2,000)
    web.pan_frame_p95   ms per frame while dragging the map, 95th percentile (<= 50)

Run: `.venv/bin/python benchmarks/web.py` (after `npm ci` in web/).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from harness import CHROMIUM, CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parent.parent
UNITS = 10_000
BATCH = 1_000
TIME = "2018-02-07T20:00:00Z"
KINDS = ["infantry", "armor", "artillery", "mlrs", "mortar", "air-defence", "hq", "other"]
ACTORS = ["sdf", "pro-regime", "isis"]
# Inside the Euphrates line's bounding box, so the page's first view holds every unit.
BOX = (38.6, 34.5, 40.9, 35.9)


def cli(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "deconfliction", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def post(url: str, token: str, body: Any) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited before answering")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit("the server did not answer /api/v1/health")


def units() -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {
            "id": f"bench-unit-{i}",
            "name": f"Unit {i}",
            "actor": rng.choice(ACTORS),
            "kind": rng.choice(KINDS),
            "strength": rng.randint(8, 900),
        }
        for i in range(UNITS)
    ]


def reports() -> list[dict[str, Any]]:
    rng = random.Random(11)
    return [
        {
            "id": f"bench-{i}",
            "time": TIME,
            "unit": f"bench-unit-{i}",
            "lon": rng.uniform(BOX[0], BOX[2]),
            "lat": rng.uniform(BOX[1], BOX[3]),
        }
        for i in range(UNITS)
    ]


def scenario(path: Path) -> Path:
    """The built-in scenario's agreement and forces with 10,000 more units, no reports."""
    from deconfliction.scenario import load

    document = load("deir-ez-zor-2018").model_dump(mode="json", by_alias=True, exclude_none=True)
    document["name"] = "Web benchmark"
    document["units"] += units()
    document["reports"] = []
    document["hotline"] = []
    path.write_text(json.dumps(document))
    return path


def evaluate_until(page: Any, script: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {script}")
        time.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(url: str, token: str) -> dict[str, float]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_init_script(
            f"sessionStorage.setItem('deconfliction.token', {json.dumps(token)});"
        )
        page = context.new_page()
        page.goto(url + "/")
        evaluate_until(
            page,
            f"() => window.cop.ready && window.cop.unitsDrawn >= {UNITS}"
            " && window.cop.timings.allUnitsDrawn",
            60,
        )
        first_render = page.evaluate("() => window.cop.timings.allUnitsDrawn")
        ready = page.evaluate("() => window.cop.timings.firstRender")
        fetch_units = page.evaluate(
            """() => {
              const e = performance.getEntriesByType('resource')
                .find((r) => r.name.endsWith('/api/v1/units'));
              return e ? [e.startTime, e.responseStart, e.responseEnd] : [0, 0, 0];
            }"""
        )
        # Pan once the page has settled (the event stream's history merged), as an
        # officer would: the figure is the steady cost of moving 10,000 units around.
        page.wait_for_timeout(3000)
        box = page.locator("#map").bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        frames: list[float] = []
        for drag in range(6):
            dx = 260 if drag % 2 == 0 else -260
            page.evaluate(
                """() => {
                  const cop = window.cop;
                  cop.frames = [];
                  cop.recording = true;
                  let last = performance.now();
                  const tick = (t) => {
                    cop.frames.push(t - last);
                    last = t;
                    if (cop.recording) requestAnimationFrame(tick);
                  };
                  requestAnimationFrame((t) => { last = t; requestAnimationFrame(tick); });
                }"""
            )
            page.mouse.move(cx, cy)
            page.mouse.down()
            page.mouse.move(cx + dx, cy + dx / 3, steps=60)
            page.mouse.up()
            page.wait_for_timeout(150)  # the redraw after the drag is part of the pan
            frames += page.evaluate(
                "() => { window.cop.recording = false; return window.cop.frames; }"
            )
        redraw = page.evaluate("() => window.copUnitDrawMs && window.copUnitDrawMs()")
        browser.close()
    return {
        "first_render": float(first_render),
        "ready": float(ready),
        "units_requested": float(fetch_units[0]),
        "units_server": float(fetch_units[1] - fetch_units[0]),
        "units_received": float(fetch_units[2]),
        "pan_p95": percentile(frames, 0.95),
        "pan_median": statistics.median(frames),
        "frames": float(len(frames)),
        "redraw": float(redraw or 0.0),
    }


def main() -> None:
    if not (ROOT / "src/deconfliction/web/static/vendor/leaflet/leaflet.js").exists():
        raise SystemExit("the map's assets are missing: run `npm ci` in web/")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        spec = scenario(Path(tmp) / "bench.json")
        made = json.loads(cli("init", "--db", str(db), "--scenario", str(spec), "--json"))
        tokens = {t["party"]: t["token"] for t in made}
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "deconfliction", "serve", "--db", str(db), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            wait_healthy(url, server)
            rows = reports()
            for start in range(0, len(rows), BATCH):
                post(f"{url}/api/v1/reports", tokens["coalition"], rows[start : start + BATCH])
            result = measure(url, tokens["coalition"])
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"web.first_render {result['first_render']:.0f} ms")
    print(f"web.page_ready {result['ready']:.0f} ms")
    print(f"web.units_requested_at {result['units_requested']:.0f} ms")
    print(f"web.units_server_wait {result['units_server']:.0f} ms")
    print(f"web.units_received_at {result['units_received']:.0f} ms")
    print(f"web.pan_frame_p95 {result['pan_p95']:.1f} ms")
    print(f"web.pan_frame_median {result['pan_median']:.1f} ms")
    print(f"web.pan_frames {result['frames']:.0f} frames")
    print(f"web.units_redraw {result['redraw']:.1f} ms")


if __name__ == "__main__":
    main()
