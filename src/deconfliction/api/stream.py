"""The live stream: Server-Sent Events read from the store, resumable by id."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import orjson

from ..service.auth import Principal
from ..service.core import Service
from ..service.errors import Invalid

_PAGE = 500


class FeedEntry(Protocol):
    """A hotline event of a party's feed: its place in the feed, its name, its JSON."""

    @property
    def seq(self) -> int: ...
    @property
    def event(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


HotlineFeed = Callable[[str, int], Sequence[FeedEntry]]
"""A party's hotline events after a position in its feed."""


class TokenWatch:
    """Whether a stream's token still stands, read at most once per `interval_s`: a
    revoked token's streams close within about that long."""

    def __init__(self, service: Service, principal: Principal, interval_s: float = 1.0) -> None:
        self.service = service
        self.principal = principal
        self.interval_s = interval_s
        self._checked = 0.0
        self._revoked = False

    @property
    def gone(self) -> bool:
        """The token was found revoked."""
        return self._revoked

    async def revoked(self) -> bool:
        now = time.monotonic()
        if not self._revoked and now - self._checked >= self.interval_s:
            self._checked = now
            store = self.service.store
            self._revoked = await asyncio.to_thread(store.token_revoked, self.principal.token_id)
        return self._revoked

    async def wait(self, wake: asyncio.Event, keepalive_s: float) -> bool:
        """Wait for `wake` (True), or `keepalive_s` or the token's revocation (False)."""
        deadline = time.monotonic() + keepalive_s
        while not await self.revoked():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(wake.wait(), timeout=min(left, self.interval_s))
            except TimeoutError:
                continue
            return True
        return False


_DIGITS = re.compile(r"[0-9]{1,18}")


def parse_last_event_id(value: str | None) -> int:
    if value is None or value.strip() == "":
        return 0
    value = value.strip()
    # str.isdigit takes '²' and other digits int() refuses
    if _DIGITS.fullmatch(value) is None:
        raise Invalid.field("Last-Event-ID", "expected the id of an event this stream sent")
    return int(value)


def parse_stream_cursor(value: str | None) -> tuple[int, int]:
    """`/events` ids: `A` (alert events up to A, no hotline event yet) or `A.H` (and the
    hotline feed up to H)."""
    if value is None or value.strip() == "":
        return 0, 0
    alerts, dot, hotline = value.strip().partition(".")
    if not dot:
        return parse_last_event_id(alerts), 0
    if not hotline:
        raise Invalid.field("Last-Event-ID", "expected the id of an event this stream sent")
    return parse_last_event_id(alerts), parse_last_event_id(hotline)


def sse_frame(event_id: str | int, event: str, data: str) -> str:
    """One Server-Sent Event with its id, name and JSON data."""
    return f"id: {event_id}\nevent: {event}\ndata: {data}\n\n"


def stream_cursor(alerts: int, hotline: int) -> str:
    """The `/events` id after alert event `alerts` and hotline event `hotline`."""
    return f"{alerts}.{hotline}" if hotline else str(alerts)


async def alert_events(
    service: Service,
    principal: Principal,
    last_id: int,
    keepalive_s: float = 15.0,
    *,
    hotline: HotlineFeed | None = None,
    last_hotline: int = 0,
) -> AsyncIterator[bytes]:
    """Every event of the party after `last_id`, then each new one as it commits; with
    `hotline`, the party's hotline events (messages, acks, responses, escalations) too.

    Events are always read from the store (and the hotline's feed), so a stream that falls
    behind or reconnects gets each event once, in order, whatever it missed.
    """
    subscription = service.broker.subscribe(principal.party)
    watch = TokenWatch(service, principal)
    try:
        yield b"retry: 1000\n\n"
        last = last_id
        last_h = last_hotline
        while True:
            if await watch.revoked():
                return
            subscription.wake.clear()
            events = service.events_since(principal, last, _PAGE)
            chunks = []
            for stored in events:
                data = stored.event.model_dump_json()
                last = stored.seq
                chunks.append(sse_frame(stream_cursor(last, last_h), stored.event.event, data))
            items = hotline(principal.party, last_h) if hotline is not None else ()
            for item in items:
                last_h = item.seq
                data = orjson.dumps(item.data).decode()
                chunks.append(sse_frame(stream_cursor(last, last_h), item.event, data))
            if chunks:
                yield "".join(chunks).encode()
            if len(events) == _PAGE:
                continue
            if service.broker.closed:
                return
            if not await watch.wait(subscription.wake, keepalive_s) and not watch.gone:
                yield b": keepalive\n\n"
    finally:
        service.broker.unsubscribe(subscription)
