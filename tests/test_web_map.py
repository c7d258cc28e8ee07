"""The map in a real chromium against a real `deconfliction demo` server."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from test_web_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VENDOR,
    DemoServer,
    screenshot,
    sign_in,
    wait_for,
)

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A pro-regime group on the coalition's bank, well away from the Conoco site: a
# zone.violation for the coalition, posted by the test so it arrives while we watch.
INTRUDER = {"lon": 40.45, "lat": 35.45}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    if not (VENDOR / "leaflet" / "leaflet.js").exists():
        pytest.fail("the map's assets are missing: run `npm ci` in src/deconfliction/web")
    demo = DemoServer(tmp_path_factory.mktemp("web") / "demo.sqlite", speed=200)
    demo.wait_replayed()
    yield demo
    demo.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page with its console errors and every URL it requested."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    yield ctx
    ctx.close()


def cop(page: Any, expression: str) -> Any:
    return page.evaluate(f"() => window.cop.{expression}")


def post_json(server: DemoServer, path: str, token: str, body: Any) -> Any:
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def units_of(server: DemoServer, token: str, at: str | None = None) -> list[dict[str, Any]]:
    path = "/api/v1/units" + (f"?at={urllib.parse.quote(at)}" if at else "")
    features: list[dict[str, Any]] = server.get_json(path, token)["features"]
    return features


def post_intruder(server: DemoServer, unit_id: str) -> None:
    token = server.tokens()["coalition"]
    alerts = server.get_json("/api/v1/alerts?state=open", token)
    items = alerts["items"] if isinstance(alerts, dict) else alerts
    latest = max((a["time"] for a in items), default="2018-02-07T20:00:00Z")
    post_json(
        server,
        "/api/v1/reports",
        token,
        {
            "time": latest,
            "unit": unit_id,
            "actor": "pro-regime",
            "name": "Test column",
            "kind": "armor",
            "strength": 40,
            "equipment": {"tank": 4},
            **INTRUDER,
            "source": "MQ-9",
            "rating": "B2",
        },
    )


def test_page_loads_with_no_errors_and_no_other_origin(server: DemoServer, context: Any) -> None:
    watched = Watched(context)
    sign_in(watched.page, server, "coalition")
    time.sleep(1.0)
    screenshot(watched.page, "test_web_page_loads")
    assert watched.errors == []
    foreign = [u for u in watched.requests if not u.startswith(server.url + "/")]
    assert foreign == []
    assert any("/static/vendor/world-atlas/" in u for u in watched.requests)
    assert cop(watched.page, "basemapFeatures") > 100
    assert cop(watched.page, "errors") == []


def test_coalition_sees_the_line_the_conoco_site_and_units(
    server: DemoServer, context: Any
) -> None:
    watched = Watched(context)
    page = watched.page
    sign_in(page, server, "coalition")
    wait_for(page, "() => window.cop.units > 0", 30, "units")
    screenshot(page, "test_web_coalition_picture")
    assert "euphrates" in cop(page, "lines")
    assert "conoco-hq" in cop(page, "sites")
    token = server.tokens()["coalition"]
    api_units = server.get_json("/api/v1/units", token)["features"]
    assert cop(page, "units") == len(api_units) > 0
    assert cop(page, "unitsDrawn") > 0
    assert page.locator(".site-icon").count() == len(cop(page, "sites"))


def test_an_alert_arrives_live_and_clicking_it_flies_there(
    server: DemoServer, context: Any
) -> None:
    watched = Watched(context)
    page = watched.page
    sign_in(page, server, "coalition")
    wait_for(page, "() => window.cop.streamUp", 15, "the live stream")
    unit_id = "test-column-live"
    post_intruder(server, unit_id)
    item = "#alerts li[data-rule='zone.violation']:has-text('Test column')"
    page.wait_for_selector(item, timeout=15000)
    page.click(item)
    fly = wait_for(page, "() => window.cop.lastFly", 5, "fly-to")
    assert fly["lat"] == pytest.approx(INTRUDER["lat"], abs=1e-6)
    assert fly["lon"] == pytest.approx(INTRUDER["lon"], abs=1e-6)
    near = (
        f"() => window.cop.center && Math.abs(window.cop.center.lat - {INTRUDER['lat']}) < 0.01"
        f" && Math.abs(window.cop.center.lon - {INTRUDER['lon']}) < 0.01"
    )
    wait_for(page, near, 5, "the map centred on the alert")
    time.sleep(0.5)
    screenshot(page, "test_web_alert_fly")
    assert watched.errors == []


def test_a_concern_reaches_the_other_party_and_its_ack_comes_back(
    server: DemoServer, browser: Any
) -> None:
    coalition_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    russia_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        coalition = Watched(coalition_ctx).page
        russia = Watched(russia_ctx).page
        sign_in(coalition, server, "coalition")
        sign_in(russia, server, "russia")
        unit_id = "test-column-concern"
        post_intruder(server, unit_id)
        item = "#alerts li[data-rule='zone.violation']:has-text('Test column')"
        coalition.wait_for_selector(item, timeout=15000)
        coalition.click(f"{item} >> button.concern")
        if coalition.locator("#compose").is_visible():
            coalition.click("#compose button[type=submit]")
        sent = wait_for(
            coalition, "() => window.cop.outbox.find(m => m.kind === 'concern')", 10, "the concern"
        )
        acked = f"() => window.cop.{{box}}.find(m => m.id === '{sent['id']}' && m.acked)"
        russia.click(".tab[data-tab='hotline']")
        russia.wait_for_selector(f"#messages li[data-id='{sent['id']}']", timeout=15000)
        russia.click(f"#messages li[data-id='{sent['id']}']")
        russia.click("#message-detail button.hotline-ack")
        wait_for(russia, acked.format(box="inbox"), 10, "the ack in the inbox")
        screenshot(russia, "test_web_concern_russia")
        coalition.click(".tab[data-tab='hotline']")
        coalition.click(".subtab[data-box='outbox']")
        wait_for(coalition, acked.format(box="outbox"), 15, "the ack back at the sender")
        screenshot(coalition, "test_web_concern_coalition")
    finally:
        coalition_ctx.close()
        russia_ctx.close()


def test_the_russia_view_never_holds_coalition_only_units(server: DemoServer, context: Any) -> None:
    tokens = server.tokens()
    page = Watched(context).page
    sign_in(page, server, "russia")
    seen: set[str] = set()
    for _ in range(10):
        seen |= set(cop(page, "unitIds"))
        time.sleep(0.3)
    coalition_ids = {f["properties"]["id"] for f in units_of(server, tokens["coalition"])}
    russia_ids = {f["properties"]["id"] for f in units_of(server, tokens["russia"])}
    coalition_only = coalition_ids - russia_ids
    assert coalition_only, "the scenario should give the coalition units russia does not see"
    assert seen, "the russia picture should not be empty"
    assert not seen & coalition_only
    assert seen <= russia_ids
    assert "test-column-live" not in seen
    screenshot(page, "test_web_russia_view")


def test_the_time_slider_shows_the_picture_as_it_stood(server: DemoServer, context: Any) -> None:
    page = Watched(context).page
    sign_in(page, server, "coalition")
    token = server.tokens()["coalition"]
    first = server.get_json("/api/v1/health", None)["first_report"]
    then = units_of(server, token, at=first)
    now = units_of(server, token)
    assert len(then) < len(now), "the scenario's picture should grow after its first report"
    page.locator("#time-slider").fill("0")
    wait_for(page, "() => window.cop.at !== null", 10, "the slider to leave live")
    wait_for(page, f"() => window.cop.units === {len(then)}", 10, "the picture as it stood")
    assert page.inner_text("#clock").startswith("picture as of")
    screenshot(page, "test_web_time_slider")
    page.click("#go-live")
    now = units_of(server, token)
    wait_for(
        page,
        f"() => window.cop.live && window.cop.units === {len(now)}",
        10,
        f"live again with {len(now)} units, not {cop(page, 'units')} (live: {cop(page, 'live')})",
    )
