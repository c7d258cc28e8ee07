"""Work queues taken in groups: the store's writer and the service's ingest both commit
what waits together, and both mark their end with None."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def take_group(
    waiting: queue.Queue[T | None], first: T, limit: int, weight: Callable[[T], int]
) -> tuple[list[T], bool]:
    """`first` and what already waits behind it, until their `weight` reaches `limit`;
    and whether the end mark was met (the caller stops after this group)."""
    group = [first]
    size = weight(first)
    while size < limit:
        try:
            item = waiting.get_nowait()
        except queue.Empty:
            break
        if item is None:
            return group, True
        group.append(item)
        size += weight(item)
    return group, False


def leftovers(waiting: queue.Queue[T | None]) -> Iterator[T]:
    """What is still queued once the worker stops (end marks passed over)."""
    while True:
        try:
            item = waiting.get_nowait()
        except queue.Empty:
            return
        if item is not None:
            yield item
