"""One TAK client's connection: framing and parsing what it sends, and a bounded
outbound queue that drops the oldest picture updates first and never an alert."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..ingest.cot import CotError, CotEvent
from . import outbound, proto
from .framing import Framer
from .reader import AtomRows, CotRead, read_frames

if TYPE_CHECKING:
    from .gateway import CotGateway

log = logging.getLogger("deconfliction.tak")

_WRITE_CHUNK = 256 * 1024
READ_BYTES = 1 << 20
"""Bytes taken from a client per read: large reads make large batches under load."""


class Connection:
    """A connected TAK client bound to one party."""

    def __init__(
        self,
        gateway: CotGateway,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        party: str,
        peer: str,
    ) -> None:
        self.gateway = gateway
        self.config = gateway.config
        self.reader = reader
        self.writer = writer
        self.party = party
        self.peer = peer
        self.framer = Framer(self.config.max_event_bytes, declarations=False)
        self.updates: OrderedDict[str, bytes] = OrderedDict()
        self.alerts: deque[bytes] = deque()
        self.dropped_updates = 0
        self.abuse = 0
        self.malformed = 0
        self.received = 0
        self.proto_out = False
        self.reported: set[str] = set()
        """Units this client reported itself: not echoed back to it."""
        self.registered: dict[str, tuple[str | None, str, str]] = {}
        self._wake = asyncio.Event()
        self._pending = AtomRows()
        self._pending_ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._reading = True
        self._closed = False
        self._writer_task: asyncio.Task[None] | None = None

    # -- outbound ----------------------------------------------------------------------

    def send_update(self, key: str, data: bytes) -> None:
        """Queue a state (a unit, a line, a site); a newer state of `key` replaces the older."""
        if self._closed:
            return
        updates = self.updates
        if key in updates:
            del updates[key]
        updates[key] = data
        while len(updates) > self.config.queue_updates:
            updates.popitem(last=False)
            self.dropped_updates += 1
        self._wake.set()

    def send_alert(self, data: bytes) -> None:
        """Queue an alert message; a client too slow to take its alerts is disconnected."""
        if self._closed:
            return
        if len(self.alerts) >= self.config.queue_alerts:
            log.warning("%s: %d alerts unsent, closing the connection", self.peer, len(self.alerts))
            self.close()
            return
        self.alerts.append(data)
        self._wake.set()

    def send_now(self, data: bytes) -> None:
        """Protocol replies (pong, negotiation), ahead of everything queued."""
        if not self._closed:
            self.alerts.appendleft(data)
            self._wake.set()

    async def _write_loop(self) -> None:
        writer = self.writer
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            while self.alerts or self.updates:
                chunk: list[bytes] = []
                size = 0
                while self.alerts and size < _WRITE_CHUNK:
                    data = self.alerts.popleft()
                    chunk.append(data)
                    size += len(data)
                while self.updates and size < _WRITE_CHUNK:
                    _, data = self.updates.popitem(last=False)
                    chunk.append(data)
                    size += len(data)
                if self.proto_out:
                    chunk = [proto.encode(data) for data in chunk]
                writer.write(b"".join(chunk))
                await writer.drain()

    # -- inbound -----------------------------------------------------------------------

    async def run(self) -> None:
        self._writer_task = asyncio.create_task(self._write_loop())
        self._writer_task.add_done_callback(self._writer_done)
        ingest = asyncio.create_task(self._ingest_loop())
        try:
            await self._read_loop()
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            log.info("%s: connection lost (%s)", self.peer, exc)
        finally:
            # What was read before the client went away is still taken in.
            self._reading = False
            self._pending_ready.set()
            try:
                await ingest
            finally:
                self.close()
            if self._writer_task is not None:
                self._writer_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await self._writer_task
            with contextlib.suppress(ConnectionError, OSError):
                await asyncio.wait_for(self.writer.wait_closed(), 1.0)

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.info("%s: write failed (%s)", self.peer, task.exception())
            self.close()

    async def _read_loop(self) -> None:
        config = self.config
        while not self._closed:
            timeout = config.partial_timeout_s if self.framer.pending else config.idle_timeout_s
            try:
                data = await asyncio.wait_for(self.reader.read(READ_BYTES), timeout)
            except TimeoutError:
                what = "an unfinished event" if self.framer.pending else "silence"
                log.warning("%s: closing after %.0f s of %s", self.peer, timeout, what)
                return
            if not data:
                return
            frames = self.framer.feed(data)
            if frames.oversized:
                self.abuse += frames.oversized
                log.warning(
                    "%s: dropped %d event(s) over %d bytes",
                    self.peer,
                    frames.oversized,
                    config.max_event_bytes,
                )
            read = read_frames(frames.xml, declarations=False)
            errors = read.errors
            for payload in frames.proto:
                try:
                    read.add(proto.decode(payload))
                except CotError as exc:
                    errors.append(str(exc))
            if errors:
                self.malformed += len(errors)
                self.abuse += sum("DOCTYPE" in e for e in errors)
                for error in errors[:3]:
                    log.warning("%s: skipped an event: %s", self.peer, error)
            if self.abuse >= config.max_abuse:
                log.warning("%s: closing after %d abusive events", self.peer, self.abuse)
                return
            if read.atoms or read.events:
                self.received += len(read.atoms) + len(read.events)
                await self._handle(read)

    async def _handle(self, read: CotRead) -> None:
        for event in read.events:
            cot_type = event.type
            if cot_type == "t-x-c-t":
                self.send_now(outbound.pong(datetime.now(UTC)))
            elif cot_type == "t-x-takp-q":
                self._negotiate(event)
        if read.atoms:
            if self._pending:
                self._pending.extend(read.atoms)
            else:
                self._pending = read.atoms
            self._pending_ready.set()
            if len(self._pending) >= self.config.batch_events:
                self._room.clear()
                await self._room.wait()

    async def _ingest_loop(self) -> None:
        """Ingest what the reader parsed, one batch at a time, in order.

        While a batch is being made durable the reader goes on parsing, so batches grow
        with the load instead of paying the store's and the rules' cost per read.
        """
        while self._reading or self._pending:
            await self._pending_ready.wait()
            self._pending_ready.clear()
            while self._pending:
                atoms, self._pending = self._pending, AtomRows()
                self._room.set()
                await self.gateway.ingest(self, atoms)

    def _negotiate(self, event: CotEvent) -> None:
        accepted = proto.AVAILABLE and (event.takcontrol or {}).get("TakRequest") == "1"
        self.send_now(outbound.protocol_response(datetime.now(UTC), accepted))
        if accepted:
            # The response itself still goes out as XML; everything after it as protobuf.
            self._after_flush(lambda: setattr(self, "proto_out", True))

    def _after_flush(self, action: Callable[[], None]) -> None:
        async def wait_then() -> None:
            while self.alerts and not self._closed:
                await asyncio.sleep(0.001)
            action()

        task = asyncio.ensure_future(wait_then())
        self.gateway.tasks.add(task)
        task.add_done_callback(self.gateway.tasks.discard)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self.gateway.forget(self)
        with contextlib.suppress(RuntimeError):
            self.writer.close()
