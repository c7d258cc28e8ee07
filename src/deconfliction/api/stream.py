"""The live alert stream: Server-Sent Events read from the store, resumable by id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ..service.auth import Principal
from ..service.core import Service
from ..service.errors import Invalid

_PAGE = 500


def parse_last_event_id(value: str | None) -> int:
    if value is None or value.strip() == "":
        return 0
    value = value.strip()
    if not value.isdigit() or len(value) > 18:
        raise Invalid.field("Last-Event-ID", "expected the id of an event this stream sent")
    return int(value)


async def alert_events(
    service: Service, principal: Principal, last_id: int, keepalive_s: float = 15.0
) -> AsyncIterator[bytes]:
    """Every event of the party after `last_id`, then each new one as it commits.

    Events are always read from the store, so a stream that falls behind or
    reconnects gets each event once, in order, whatever it missed.
    """
    subscription = service.broker.subscribe(principal.party)
    try:
        yield b"retry: 1000\n\n"
        last = last_id
        while True:
            subscription.wake.clear()
            events = service.events_since(principal, last, _PAGE)
            chunks = []
            for stored in events:
                data = stored.event.model_dump_json()
                chunks.append(f"id: {stored.seq}\nevent: {stored.event.event}\ndata: {data}\n\n")
                last = stored.seq
            if chunks:
                yield "".join(chunks).encode()
            if len(events) == _PAGE:
                continue
            if service.broker.closed:
                return
            try:
                await asyncio.wait_for(subscription.wake.wait(), timeout=keepalive_s)
            except TimeoutError:
                yield b": keepalive\n\n"
    finally:
        service.broker.unsubscribe(subscription)
