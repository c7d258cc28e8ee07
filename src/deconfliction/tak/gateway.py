"""The TAK gateway: CoT listeners feeding the service, and each party's view sent back."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
from collections.abc import Callable, Collection, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from cryptography import x509
from cryptography.x509.oid import NameOID

from ..batch import ObjectArray, ReportBatch
from ..model import Actor, AlertEvent, Unit
from . import outbound, proto
from .atoms import AtomColumns
from .config import CotConfig, Listener
from .connection import READ_BYTES, Connection
from .reader import AtomRows
from .seam import CotService, PartyView

log = logging.getLogger("deconfliction.tak")


class CotGateway:
    """Listeners for TAK clients in the server's event loop.

    `await CotGateway(service, config).start()` opens every listener of `config`;
    reports go through `service.ingest_cot` (durable before the next read of that
    connection), and the service's changes come back through `subscribe`.
    """

    def __init__(self, service: CotService, config: CotConfig) -> None:
        config.check()
        self.service = service
        self.config = config
        self.servers: list[tuple[Listener, asyncio.Server]] = []
        self.connections: dict[str, set[Connection]] = {}
        self.tasks: set[asyncio.Future[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._alert_sequence = 0
        self._pending_units: dict[str, set[str]] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._actors: dict[str, Actor] = {}
        self._ssl: ssl.SSLContext | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> CotGateway:
        self._actors = {a.id: a for a in self.service.actors()}
        for listener in self.config.listeners:
            context = self._tls() if listener.scheme == "tls" else None
            server = await asyncio.start_server(
                functools.partial(self._accept, listener),
                listener.host,
                listener.port,
                ssl=context,
                ssl_handshake_timeout=min(self.config.partial_timeout_s, 30.0) if context else None,
                limit=READ_BYTES,
            )
            self.servers.append((listener, server))
            log.info("listening for CoT on %s", self.address(listener, server))
        self._unsubscribe = self.service.subscribe(self)
        self._spawn(self._refresh_loop())
        return self

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for _, server in self.servers:
            server.close()
        for connection in [c for group in self.connections.values() for c in group]:
            connection.close()
        if self._handlers:
            # Each connection takes in what it had read before it goes.
            await asyncio.wait(list(self._handlers), timeout=5.0)
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for _, server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self.servers.clear()

    def address(self, listener: Listener, server: asyncio.Server) -> str:
        host, port = server.sockets[0].getsockname()[:2]
        return f"{listener.scheme}://{host}:{port}"

    def urls(self) -> list[str]:
        """The listeners' actual addresses (a port 0 in the configuration is chosen here)."""
        return [self.address(listener, server) for listener, server in self.servers]

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(str(self.config.certfile), str(self.config.keyfile))
            context.load_verify_locations(cafile=str(self.config.cafile))
            context.verify_mode = ssl.CERT_REQUIRED
            self._ssl = context
        return self._ssl

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("TAK gateway task failed", exc_info=task.exception())

    # -- connections -------------------------------------------------------------------

    def _party_of(self, listener: Listener, writer: asyncio.StreamWriter) -> str | None:
        if listener.scheme == "tcp":
            return listener.party or self.config.party
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return None
        subject = x509.load_der_x509_certificate(der).subject
        names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        for key in (subject.rfc4514_string(), *(str(n.value) for n in names)):
            if key in self.config.clients:
                return self.config.clients[key]
        log.warning(
            "refused a client certificate no party is mapped to: %s", subject.rfc4514_string()
        )
        return None

    async def _accept(
        self, listener: Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = "{}:{}".format(*writer.get_extra_info("peername")[:2])
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.config.send_buffer_bytes)
        party = self._party_of(listener, writer)
        if party is None:
            writer.close()
            return
        connection = Connection(
            self, reader, writer, party, f"{listener.scheme}://{peer} ({party})"
        )
        self.connections.setdefault(party, set()).add(connection)
        log.info("%s connected", connection.peer)
        now = datetime.now(UTC)
        if proto.AVAILABLE:
            connection.send_now(outbound.protocol_support(now))
        self._spawn(self._send_view(party, [connection]))
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        try:
            await connection.run()
        finally:
            self._handlers.discard(handler)
        log.info("%s disconnected", connection.peer)

    def forget(self, connection: Connection) -> None:
        group = self.connections.get(connection.party)
        if group is not None:
            group.discard(connection)

    # -- inbound -----------------------------------------------------------------------

    async def ingest(self, connection: Connection, atoms: AtomRows) -> None:
        """Turn a connection's atoms into one batch in its party's picture."""
        party = connection.party
        columns = AtomColumns(party, self._affiliation_actors(party))
        skipped = columns.add_rows(atoms)
        if skipped:
            # A flood of bad atoms must not become a flood of log lines.
            for uid, reason in skipped[:3]:
                log.warning("%s: skipped atom %s: %s", connection.peer, uid[:80], reason)
            if len(skipped) > 3:
                log.warning("%s: skipped %d more atoms", connection.peer, len(skipped) - 3)
        if not len(columns):
            return
        units: list[Unit] = []
        registered = connection.registered
        # Each unit's identity once per batch, in the order of first sight: a batch mostly
        # repeats the same few units.
        for unit, actor, kind, name in dict.fromkeys(
            zip(columns.unit, columns.actor, columns.kind, columns.name, strict=True)
        ):
            if actor is None:
                continue
            identity = (actor, kind, name)
            if registered.get(unit) != identity:
                registered[unit] = identity
                units.append(Unit(id=unit, name=name, actor=actor, kind=kind))
        connection.reported.update(columns.unit)
        try:
            result = await self.service.ingest_cot(party, _batch(columns), units)
        except Exception:
            # The service failed on this batch; the connection, and the others, go on.
            log.exception("%s: %d reports not stored", connection.peer, len(columns))
            return
        if result.rejected:
            for refusal in result.rejected[:3]:
                log.warning("%s: %s", connection.peer, refusal)

    def _affiliation_actors(self, party: str) -> dict[str, str | None]:
        mapping: dict[str, str | None] = {}
        friendly = next((a.id for a in self._actors.values() if a.party == party), None)
        mapping["f"] = mapping["a"] = friendly
        mapping.update(self.config.actors.get(party, {}))
        return mapping

    # -- outbound: the service's changes ---------------------------------------------

    def alerts(self, events: Sequence[AlertEvent]) -> None:
        now = datetime.now(UTC)
        stale = timedelta(seconds=self.config.alert_stale_s)
        for event in events:
            group = self.connections.get(event.party)
            if not group:
                continue
            self._alert_sequence += 1
            messages = outbound.alert_events(event, now, stale, self._alert_sequence)
            for connection in list(group):
                for message in messages:
                    connection.send_alert(message)

    def units(self, party: str, unit_ids: Collection[str]) -> None:
        if not self.connections.get(party):
            return
        pending = self._pending_units.setdefault(party, set())
        if not pending:
            self._spawn(self._send_units(party))
        pending.update(unit_ids)

    def reference(self) -> None:
        self._actors = {a.id: a for a in self.service.actors()}
        for party, group in self.connections.items():
            if group:
                self._spawn(self._send_view(party, list(group)))

    async def _send_units(self, party: str) -> None:
        # Changes within one interval go out together: a burst of reports about a unit
        # costs one update, not one per report.
        await asyncio.sleep(self.config.update_interval_s)
        unit_ids = self._pending_units.pop(party, set())
        connections = list(self.connections.get(party, ()))
        wanted = (
            set().union(*(unit_ids - c.reported for c in connections)) if connections else set()
        )
        if wanted:
            view = await self.service.view(party, wanted)
            self._deliver(view, connections, reference=False)

    async def _send_view(self, party: str, connections: list[Connection]) -> None:
        view = await self.service.view(party)
        self._deliver(view, connections, reference=True)

    def _deliver(self, view: PartyView, connections: list[Connection], reference: bool) -> None:
        now = datetime.now(UTC)
        messages: list[tuple[str, bytes]] = []
        if reference:
            stale = now + timedelta(seconds=self.config.refresh_s * 2)
            for line in view.lines:
                for i, data in enumerate(outbound.line_events(line, now, stale)):
                    messages.append((f"line.{line.id}.{i}", data))
            for site in view.sites:
                messages.append((f"site.{site.id}", outbound.site_event(site, now, stale)))
        unit_stale = now + timedelta(seconds=self.config.picture_stale_s)
        mapping = self.config.actors.get(view.party, {})
        encoded: dict[str, bytes] = {}
        for connection in connections:
            for key, data in messages:
                connection.send_update(key, data)
            reported = connection.reported
            for unit in view.units:
                if unit.id in reported:
                    continue
                atom = encoded.get(unit.id)
                if atom is None:
                    letter = outbound.affiliation_for(unit.actor, view.party, self._actors, mapping)
                    atom = encoded[unit.id] = outbound.unit_event(unit, letter, now, unit_stale)
                connection.send_update(f"unit.{unit.id}", atom)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.refresh_s)
            self.reference()


def _batch(columns: AtomColumns) -> ReportBatch:
    n = len(columns)
    return ReportBatch(
        time_us=np.array(columns.time_us, dtype=np.int64),
        unit=_objects(columns.unit),
        lon=np.array(columns.lon, dtype=np.float64),
        lat=np.array(columns.lat, dtype=np.float64),
        observer=_objects([columns.observer] * n),
        strength=np.array(columns.strength, dtype=np.int64),
        equipment=None if columns.equipment is None else tuple(columns.equipment),
        report_id=_objects(columns.report_id),
        source=_objects(columns.source),
        rating=_objects(columns.rating),
    )


def _objects(values: Sequence[object]) -> ObjectArray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
