"""`/api/v1/hotline`: the desks' messages over HTTP, a thin adapter over HotlineService.

Only the two parties of a message ever see it: anyone else gets 404. The hotline is
built on the service's first request (or at startup) from the journal in the service's
database file, and its timers run on the engine's clock through an engine extension.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, ValidationError

from ..batch import ReportBatch, from_us
from ..hotline import Fix, HotlineError, MessageState, UnitMotion
from ..hotline.records import NotFound as MessageNotFound
from ..hotline.records import Refused
from ..hotline.service import (
    HOTLINE_RULES,
    HotlineService,
    KeyIn,
    NumberedBook,
    ReplyIn,
    SendIn,
    SignedIn,
)
from ..model import Alert, AlertEvent, Site
from ..service.auth import Principal
from ..service.core import Service
from ..service.errors import Conflict, Invalid, NotFound
from ..service.views import ErrorBody
from ..store.base import AlertQuery, Role
from ..store.hotline import SQLiteJournal, open_hotline
from .stream import TokenWatch, parse_last_event_id, sse_frame

MessagePath = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
_BUILD = threading.Lock()
_DESKS: weakref.WeakKeyDictionary[Service, HotlineService] = weakref.WeakKeyDictionary()


class ServiceForces:
    """The recipient's own sites and fresh units, from the live engine and stored tracks."""

    def __init__(self, service: Service) -> None:
        self.service = service
        # The report before a unit's last one, read once per new last report.
        self._previous: dict[tuple[str, str], tuple[int, Fix | None]] = {}

    def sites(self, party: str) -> list[Site]:
        return [s for s in self.service.sites.values() if s.party == party]

    def units(self, party: str, now: datetime) -> list[UnitMotion]:
        out = []
        for state in self.service.engine.picture(party).units():
            if not state.fresh or state.party != party:
                continue
            last = Fix(state.lon, state.lat, from_us(state.time_us))
            out.append(
                UnitMotion(
                    state.id,
                    state.name,
                    state.strength,
                    last,
                    self._before(party, state.id, state.time_us),
                )
            )
        return out

    def _before(self, party: str, unit: str, time_us: int) -> Fix | None:
        known = self._previous.get((party, unit))
        if known is not None and known[0] == time_us:
            return known[1]
        until = from_us(time_us) - timedelta(microseconds=1)
        track = self.service.store.track(party, unit, None, until)
        previous = Fix(track[-1].lon, track[-1].lat, track[-1].time) if track else None
        self._previous[(party, unit)] = (time_us, previous)
        return previous


def desk_of(app: FastAPI) -> HotlineService:
    """The hotline of the app's service, built once per service (not per app, so that
    two apps over one service never run its timers twice)."""
    service: Service = app.state.service
    desk = _DESKS.get(service)
    if desk is not None:
        return desk
    with _BUILD:
        desk = _DESKS.get(service)
        if desk is None:
            desk = build(service)
            _DESKS[service] = desk
    return desk


def build(service: Service) -> HotlineService:
    def clock() -> datetime:
        wall = datetime.now(UTC)
        engine_now = service.engine.now
        if service.live:
            return wall if engine_now is None else max(wall, engine_now)
        return engine_now or wall

    def commit(events: list[AlertEvent], now: datetime) -> None:
        service.store.submit_batch(
            ReportBatch.empty(), events, now if service.live else None
        ).result()

    def alert_of(party: str, alert_id: str) -> Alert | None:
        return service.store.alert(party, alert_id)

    book = NumberedBook()
    stored: list[Alert] = []
    for party in service.parties:
        for rule in HOTLINE_RULES:
            after = None
            while True:
                page = service.store.alerts(
                    AlertQuery(party=party, rule=rule.value, after=after, limit=1000)
                )
                stored += page.alerts
                if page.next_after is None:
                    break
                after = page.next_after
    book.adopt(stored)
    with service.lock:
        journal = SQLiteJournal(service.store.path)
        journal.writer()
        hotline = open_hotline(
            journal, list(service.parties), clock(), forces=ServiceForces(service), book=book
        )
        desk = HotlineService(
            hotline,
            service.lock,
            clock,
            commit,
            alert_of,
            service.units,
            service.actors,
            wake=service.broker.wake,
            close=journal.close,
        )
        service.engine.extensions.append(desk.extension)
    return desk


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Timers must run after a restart even before anyone calls the hotline.
    service: Service | None = getattr(app.state, "service", None)
    if service is None:
        yield
        return
    desk_of(app)
    yield
    desk = _DESKS.pop(service, None)
    if desk is not None:
        service.engine.extensions.remove(desk.extension)
        desk.close()


router = APIRouter(prefix="/hotline", tags=["hotline"], lifespan=_lifespan)


_bearer = HTTPBearer(auto_error=False, description="a token from `deconfliction token create`")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


READ = _errors(401, 422)
ONE = _errors(401, 404, 422)
WRITE = _errors(401, 403, 404, 409, 413, 422, 503)


def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    service: Service = request.app.state.service
    header = None if credentials is None else f"Bearer {credentials.credentials}"
    return service.authenticate(header)


def _desk(request: Request) -> HotlineService:
    return desk_of(request.app)


Caller = Annotated[Principal, Depends(_caller)]
Desk = Annotated[HotlineService, Depends(_desk)]


def _call(work: Any, *args: Any) -> Any:
    """Run a service call, answering its refusals as the API's errors."""
    try:
        return work(*args)
    except MessageNotFound as exc:
        raise NotFound(exc.message) from None
    except Refused as exc:
        raise Conflict(exc.message) from None
    except HotlineError as exc:
        field, _, problem = exc.message.partition(": ")
        raise Invalid(exc.message, [{"field": field, "message": problem or exc.message}]) from None
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()[:20]
        ]
        raise Invalid(f"{errors[0]['field']}: {errors[0]['message']}", errors) from None


@router.post("", status_code=201, responses=WRITE)
def send(caller: Caller, desk: Desk, data: SendIn) -> Any:
    """Send a message from the caller's desk; the service signs it with the desk's key."""
    caller.require(Role.OPERATOR)
    return _call(desk.send, caller.party, data)


@router.post("/signed", status_code=201, responses=WRITE)
def send_signed(caller: Caller, desk: Desk, data: SignedIn) -> Any:
    """Submit a message the caller's desk signed with its own registered key."""
    caller.require(Role.OPERATOR)
    return _call(desk.submit_signed, caller.party, data)


@router.get("/inbox", responses=READ)
def inbox(caller: Caller, desk: Desk, state: MessageState | None = None) -> Any:
    return {"items": _call(desk.box, caller.party, "inbox", state)}


@router.get("/outbox", responses=READ)
def outbox(caller: Caller, desk: Desk, state: MessageState | None = None) -> Any:
    return {"items": _call(desk.box, caller.party, "outbox", state)}


@router.get(
    "/transcript",
    response_class=Response,
    responses={
        200: {
            "description": "One signed chain entry per line (JSON Lines)",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        },
        **READ,
    },
)
def transcript(
    caller: Caller,
    desk: Desk,
    other: Annotated[str | None, Query(alias="with", max_length=64)] = None,
) -> Response:
    """The caller's transcripts (one pair's with `with=`) as JSON Lines, for `hotline verify`."""
    body = _call(desk.transcripts, caller.party, other)
    return Response(body, media_type="application/x-ndjson")


@router.get("/keys/{party}", responses=ONE)
def public_key(caller: Caller, desk: Desk, party: MessagePath) -> Any:
    """A desk's public key (base64 of its 32 raw Ed25519 bytes), to verify transcripts."""
    return _call(desk.public_key, caller.party, party)


@router.put("/keys", responses=WRITE)
def register_key(caller: Caller, desk: Desk, data: KeyIn) -> Any:
    """From now on the caller's desk signs its own messages with this key."""
    caller.require(Role.ADMIN)
    return _call(desk.register_key, caller.party, data)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **READ},
)
def events(
    request: Request,
    caller: Caller,
    desk: Desk,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    """New messages, acks, responses and escalations of the caller's desk, as SSE."""
    start = parse_last_event_id(last_event_id)
    service: Service = request.app.state.service
    return StreamingResponse(
        _stream(service, desk, caller, start),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


@router.post("/from-alert/{alert_id}", status_code=201, responses=WRITE)
def from_alert(caller: Caller, desk: Desk, alert_id: MessagePath) -> Any:
    """Raise one of the caller's alerts as a concern with the party whose forces it is about."""
    caller.require(Role.OPERATOR)
    return _call(desk.from_alert, caller.party, alert_id)


@router.get("/{message_id}", responses=ONE)
def message(caller: Caller, desk: Desk, message_id: MessagePath) -> Any:
    """One message with its thread; for its recipient, a notification's conflicts too."""
    return _call(desk.detail, caller.party, message_id)


@router.get("/{message_id}/draft", responses=ONE)
def draft(caller: Caller, desk: Desk, message_id: MessagePath) -> Any:
    """An answer drafted from the conflicts a notification raised; nothing is sent."""
    return _call(desk.draft, caller.party, message_id)


@router.post("/{message_id}/ack", status_code=201, responses=WRITE)
def ack(caller: Caller, desk: Desk, message_id: MessagePath) -> Any:
    caller.require(Role.OPERATOR)
    return _call(desk.ack, caller.party, message_id)


@router.post("/{message_id}/respond", status_code=201, responses=WRITE)
def respond(
    caller: Caller,
    desk: Desk,
    message_id: MessagePath,
    data: Annotated[ReplyIn | None, Body()] = None,
) -> Any:
    """Answer a message received (this acknowledges it too); the body is drafted if absent."""
    caller.require(Role.OPERATOR)
    return _call(desk.respond, caller.party, message_id, data or ReplyIn())


async def _stream(
    service: Service,
    desk: HotlineService,
    caller: Principal,
    last: int,
    keepalive_s: float = 15.0,
) -> AsyncIterator[bytes]:
    import orjson

    party = caller.party
    subscription = service.broker.subscribe(party)
    watch = TokenWatch(service, caller)
    try:
        yield b"retry: 1000\n\n"
        while True:
            if await watch.revoked():
                return
            subscription.wake.clear()
            items = desk.feed(party, last)
            if items:
                chunks = [sse_frame(i.seq, i.event, orjson.dumps(i.data).decode()) for i in items]
                last = items[-1].seq
                yield "".join(chunks).encode()
            if service.broker.closed:
                return
            if not await watch.wait(subscription.wake, keepalive_s) and not watch.gone:
                yield b": keepalive\n\n"
    finally:
        service.broker.unsubscribe(subscription)
