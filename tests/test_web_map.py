"""The map in a real chromium against a real `deconfliction demo` server."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from deconfliction.cli.service import DEFAULT_SCENARIO
from deconfliction.scenario import load
from harness import CHROMIUM, CHROMIUM_ARGS
from test_web_harness import (
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
TAKEN: set[str] = set()
"""Units the tests have already moved, so each test opens an alert of its own."""


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


def post_intruder(server: DemoServer, taken: set[str]) -> str:
    """Report a known pro-regime unit on the coalition's bank; answer its id.

    A unit the coalition already holds, so the report registers nothing; one with no
    open zone.violation, so the report opens a new one.
    """
    token = server.tokens()["coalition"]
    alerts = server.get_json("/api/v1/alerts?state=open&rule=zone.violation&limit=1000", token)
    violating = {u for a in alerts["items"] for u in a["units"]}
    candidates = sorted(
        f["properties"]["id"]
        for f in units_of(server, token)
        if f["properties"]["party"] == "russia" and f["properties"]["id"] not in violating | taken
    )
    assert candidates, "the coalition's picture should hold pro-regime units"
    unit = candidates[0]
    taken.add(unit)
    clock = server.get_json("/api/v1/health", None)["clock"]
    report = {"time": clock, "unit": unit, **INTRUDER, "source": "MQ-9", "rating": "B2"}
    post_json(server, "/api/v1/reports", token, report)
    return unit


def sent_since(page: Any, kind: str, before: list[str], what: str) -> dict[str, Any]:
    """The message of `kind` that reached the page's outbox after `before` was taken.

    The demo's desks already hold the scenario's scripted messages, concerns and
    notifications among them, all answered: a test finds its own by what is new.
    """
    script = (
        f"() => window.cop.outbox.find(m => m.kind === '{kind}'"
        f" && !{json.dumps(before)}.includes(m.id))"
    )
    sent: dict[str, Any] = wait_for(page, script, 10, what)
    assert not sent["acked"], f"{sent['id']} was acknowledged before the other desk saw it"
    return sent


def wait_unacked_in_inbox(page: Any, message_id: str, what: str) -> None:
    """Until the recipient's inbox holds the message, not yet acknowledged."""
    script = f"() => window.cop.inbox.some(m => m.id === '{message_id}' && !m.acked)"
    wait_for(page, script, 15, what)


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
    areas = wait_for(page, "() => window.cop.areas.length && window.cop.areas", 10, "line areas")
    assert sorted((a["kind"], a.get("party", "")) for a in areas if a["line"] == "euphrates") == [
        ("area", "coalition"),
        ("area", "russia"),
        ("buffer", ""),
    ]
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
    unit_id = post_intruder(server, TAKEN)
    item = f"#alerts li[data-rule='zone.violation'][data-units~='{unit_id}']"
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
    page.click(f"{item} >> button.ack")
    page.wait_for_selector(f"{item} .acked", timeout=10000)
    assert "acknowledged by" in page.inner_text(f"{item} .acked")
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
        before = cop(coalition, "outbox.map(m => m.id)")
        unit_id = post_intruder(server, TAKEN)
        item = f"#alerts li[data-rule='zone.violation'][data-units~='{unit_id}']"
        coalition.wait_for_selector(item, timeout=15000)
        coalition.click(f"{item} >> button.concern")
        if coalition.locator("#compose").is_visible():
            coalition.click("#compose button[type=submit]")
        sent = sent_since(coalition, "concern", before, "the new concern in the outbox")
        acked = f"() => window.cop.{{box}}.find(m => m.id === '{sent['id']}' && m.acked)"
        russia.click(".tab[data-tab='hotline']")
        wait_unacked_in_inbox(russia, sent["id"], f"{sent['id']} unacknowledged at russia")
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


def test_the_desks_open_with_the_scenario_s_scripted_hotline(
    server: DemoServer, context: Any
) -> None:
    """Before anyone sends, the console already lists the scenario's messages as scripted.

    A test that picks "the concern" from a desk picks one of these unless it looks for
    the message it sent.
    """
    scripted = [m for m in load(DEFAULT_SCENARIO).hotline if m.recipient == "russia"]
    assert scripted, "the built-in scenario should script messages to russia"
    page = Watched(context).page
    sign_in(page, server, "russia")
    page.click(".tab[data-tab='hotline']")
    subjects = {m.subject for m in scripted}
    script = (
        f"() => window.cop.inbox.filter(m => {json.dumps(sorted(subjects))}.includes(m.subject))"
    )
    shown = wait_for(
        page, f"() => ({script})().length === {len(subjects)} && ({script})()", 10, "scripted"
    )
    acked = {m["subject"] for m in shown if m["acked"]}
    assert acked == {m.subject for m in scripted if m.ack_at is not None}
    for message in shown:
        row = page.locator(f"#messages li[data-id='{message['id']}']")
        assert row.locator(".acked").count() == (1 if message["acked"] else 0)
    screenshot(page, "test_web_scripted_hotline")


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
    screenshot(page, "test_web_russia_view")


def test_the_time_slider_shows_the_picture_as_it_stood(server: DemoServer, context: Any) -> None:
    page = Watched(context).page
    sign_in(page, server, "coalition")
    token = server.tokens()["coalition"]
    first = server.get_json("/api/v1/health", token)["first_report"]
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


def test_a_notification_area_drawn_on_the_map_reaches_the_other_desk_with_its_conflicts(
    server: DemoServer, browser: Any
) -> None:
    tokens = server.tokens()
    clock = datetime.fromisoformat(server.get_json("/api/v1/health", None)["clock"])
    # A fresh report of a Russian unit, so the planned strike covers a unit of the recipient.
    unit = {"lon": 40.155, "lat": 35.30}
    post_json(
        server,
        "/api/v1/reports",
        tokens["russia"],
        {
            "time": clock.isoformat(),
            "unit": "russian-mp-dez",
            **unit,
        },
    )
    contexts = [browser.new_context(viewport={"width": 1440, "height": 900}) for _ in range(2)]
    try:
        coalition, russia = (Watched(c).page for c in contexts)
        sign_in(coalition, server, "coalition")
        sign_in(russia, server, "russia")
        coalition.click(".tab[data-tab='hotline']")
        coalition.click("#compose-open")
        coalition.select_option("#compose select[name=kind]", "notification")
        coalition.select_option("#compose select[name=priority]", "flash")
        coalition.fill("#compose input[name=subject]", "Planned air strike west of Deir ez-Zor")
        coalition.fill(
            "#compose input[name=window_start]",
            (clock - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        )
        coalition.fill(
            "#compose input[name=window_end]",
            (clock + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        )
        coalition.click("#draw-area")
        coalition.evaluate(
            "([lat, lon]) => { window.copMap.setView([lat, lon], 11, {animate: false}); }",
            [unit["lat"], unit["lon"]],
        )
        box = coalition.locator("#map").bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for dx, dy in ((-60, -50), (70, -40), (50, 60), (-60, 50)):
            coalition.mouse.click(cx + dx, cy + dy)
        coalition.click("#draw-finish")
        assert coalition.inner_text("#area-state") == "area of 4 corners"
        before = cop(coalition, "outbox.map(m => m.id)")
        areas = {
            name: cop(page, "notificationAreas") for name, page in (("c", coalition), ("r", russia))
        }
        coalition.click("#compose button[type=submit]")
        sent = sent_since(coalition, "notification", before, "the new notification in the outbox")
        wait_for(
            coalition,
            f"() => window.cop.notificationAreas > {areas['c']}",
            10,
            "the area on the map",
        )
        russia.click(".tab[data-tab='hotline']")
        wait_unacked_in_inbox(russia, sent["id"], f"{sent['id']} unacknowledged at russia")
        row = f"#messages li[data-id='{sent['id']}']"
        russia.wait_for_selector(row, timeout=15000)
        wait_for(
            russia,
            f"() => window.cop.notificationAreas > {areas['r']}",
            10,
            "the area at the recipient",
        )
        russia.click(row)
        russia.wait_for_selector("#message-detail .conflicts", timeout=10000)
        assert "Russian military police" in russia.inner_text("#message-detail .conflicts")
        russia.click("#message-detail button.draft")
        wait_for(
            russia,
            "() => document.querySelector('#message-detail textarea').value.length > 0",
            10,
            "the drafted answer",
        )
        russia.click("#message-detail button.respond")
        screenshot(russia, "test_web_notification_russia")
        answered = f"() => window.cop.outbox.find(m => m.id === '{sent['id']}' && m.acked)"
        wait_for(coalition, answered, 20, "the answer back at the sender")
        screenshot(coalition, "test_web_notification_coalition")
    finally:
        for c in contexts:
            c.close()


def test_the_stream_starts_where_the_alert_list_was_read(server: DemoServer, context: Any) -> None:
    """The page loads its alerts, then opens `/events` at the position that list was read
    at: the party's history is not sent again, and a new alert still arrives."""
    watched = Watched(context)
    page = watched.page
    positions: list[str] = []
    starts: list[str | None] = []
    page.on(
        "response",
        lambda r: "/api/v1/alerts?" in r.url and positions.append(r.headers["x-last-event-id"]),
    )
    page.on(
        "request",
        lambda r: (
            r.url.endswith("/api/v1/events") and starts.append(r.headers.get("last-event-id"))
        ),
    )
    sign_in(page, server, "coalition")
    wait_for(page, "() => window.cop.streamUp", 15, "the live stream")
    assert positions and starts
    start = positions[0]
    assert starts[0] == start
    alerts_at, _, hotline_at = start.partition(".")
    assert int(alerts_at) > 0, "the demo's replay has given the coalition alert events"
    unit_id = post_intruder(server, TAKEN)
    page.wait_for_selector(
        f"#alerts li[data-rule='zone.violation'][data-units~='{unit_id}']", timeout=15000
    )
    received = cop(page, "streamIds")
    assert received
    for event_id in received:
        alerts, _, hotline = event_id.partition(".")
        newer = int(alerts) > int(alerts_at) or int(hotline or 0) > int(hotline_at or 0)
        assert newer, f"event {event_id} is history from before {start}"
    assert watched.errors == []


def test_an_alert_that_arrives_while_the_list_reloads_stays_on_the_panel(
    server: DemoServer, context: Any
) -> None:
    """Asking for resolved alerts reloads the list. An alert that opens while that list
    is in flight is newer than it, and must not vanish when the list lands."""
    watched = Watched(context)
    page = watched.page
    sign_in(page, server, "coalition")
    wait_for(page, "() => window.cop.streamUp", 15, "the live stream")
    held: list[tuple[Any, Any]] = []

    def hold(route: Any) -> None:
        # Read the list now, before the new alert exists; hand it to the page later.
        held.append((route, route.fetch()))

    page.route("**/api/v1/alerts?*", hold)
    page.select_option("#f-state", "resolved")
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "asking for resolved alerts should load the list again"
    before = len(cop(page, "streamIds"))
    unit_id = post_intruder(server, TAKEN)
    wait_for(page, f"() => window.cop.streamIds.length > {before}", 15, "the new alert's event")
    for route, response in held:
        route.fulfill(response=response)
    page.unroute("**/api/v1/alerts?*")
    page.select_option("#f-state", "open")
    page.wait_for_selector(
        f"#alerts li[data-rule='zone.violation'][data-units~='{unit_id}']", timeout=15000
    )
    assert watched.errors == []
