"""Wakes the live event streams of a party when its events are committed."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from ..store.base import StoredEvent


@dataclass(eq=False)
class Subscription:
    party: str
    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Broker:
    """Streams read events from the store; the broker only tells them when to look."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._closed = False

    def subscribe(self, party: str) -> Subscription:
        """Subscribe from the event loop that will wait on `wake`."""
        subscription = Subscription(party, asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.setdefault(party, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.get(subscription.party, set()).discard(subscription)

    def committed(self, events: list[StoredEvent]) -> None:
        """Called on the writer thread after a commit."""
        self.wake({e.event.party for e in events})

    def wake(self, parties: set[str]) -> None:
        """Tell the streams of `parties` that there is something new to read."""
        with self._lock:
            targets = [s for p in parties for s in self._subscriptions.get(p, ())]
        for subscription in targets:
            try:
                subscription.loop.call_soon_threadsafe(subscription.wake.set)
            except RuntimeError:
                # The loop has closed under a stream that did not unsubscribe.
                self.unsubscribe(subscription)

    def close(self) -> None:
        """Wake every stream so that it notices the service is closing."""
        with self._lock:
            self._closed = True
            parties = set(self._subscriptions)
        self.wake(parties)

    @property
    def closed(self) -> bool:
        return self._closed
