"""The endpoints under /api/v1: each parses its input and calls one service function."""

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, Field
from starlette.concurrency import run_in_threadpool

from ..model import AlertState, Id, Incident, Line, Rule, Severity, Site
from ..service.auth import Principal
from ..service.core import Service
from ..service.errors import NotFound, ServiceError
from ..service.inputs import ReportIn
from ..service.reads import parse_bbox
from ..service.views import (
    AckIn,
    AlertDetail,
    AlertPageView,
    DemoToken,
    ErrorBody,
    Health,
    IncidentIn,
    IngestAnswer,
    Me,
    NewToken,
    SiteIn,
    TokenIn,
    TokenView,
    TrackFeature,
    UnitCollection,
    UnitFeature,
)
from .fastpath import INLINE_BODY as _INLINE_BODY
from .stream import HotlineFeed, alert_events, parse_stream_cursor, stream_cursor

_bearer = HTTPBearer(auto_error=False, description="a token from `deconfliction token create`")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


READ = _errors(401, 422)
WRITE = _errors(401, 403, 413, 422, 503)
ONE = _errors(401, 404, 422)

Time = Annotated[AwareDatetime | None, Query(description="RFC 3339 with a zone")]
Limit = Annotated[int, Query(ge=1, le=1000)]
PathId = Annotated[str, Field(min_length=1, max_length=128)]


def _report_body_schema() -> dict[str, Any]:
    report = ReportIn.model_json_schema(ref_template="#/components/schemas/{model}")
    point = {
        "type": "object",
        "required": ["type", "geometry"],
        "properties": {
            "type": {"const": "Feature"},
            "id": {"type": "string"},
            "geometry": {
                "type": "object",
                "required": ["type", "coordinates"],
                "properties": {
                    "type": {"const": "Point"},
                    "coordinates": {"type": "array", "items": {"type": "number"}},
                },
            },
            "properties": {"type": "object"},
        },
    }
    ref = {"$ref": "#/components/schemas/ReportIn"}
    json_schema = {
        "oneOf": [
            ref,
            {"type": "array", "items": ref},
            {
                "type": "object",
                "required": ["type", "features"],
                "properties": {
                    "type": {"const": "FeatureCollection"},
                    "features": {"type": "array", "items": point},
                },
            },
        ]
    }
    del report
    return {
        "required": True,
        "content": {
            "application/json": {"schema": json_schema},
            "application/geo+json": {"schema": json_schema},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }


def build_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    async def principal(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        # one indexed read: cheaper on the event loop than a hop to a worker thread
        header = None if credentials is None else f"Bearer {credentials.credentials}"
        return service.authenticate(header)

    Caller = Annotated[Principal, Depends(principal)]

    @router.get("/health", response_model=Health, tags=["service"])
    def health(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Health:
        """The store and engine state; no token needed. With a valid token, the caller's
        own party's report and open alert counts and first report time too."""
        caller = None
        if credentials is not None:
            try:
                caller = service.authenticate(f"Bearer {credentials.credentials}")
            except ServiceError:
                caller = None
        return service.health(caller)

    @router.get("/me", response_model=Me, responses=READ, tags=["service"])
    def me(caller: Caller) -> Any:
        """The caller's party and role, and the reference data a client needs."""
        return service.me(caller)

    @router.get("/demo/tokens", response_model=list[DemoToken], responses=_errors(404))
    def demo_tokens() -> Any:
        """The demo's operator tokens: only while `deconfliction demo` runs."""
        if service.demo_tokens is None:
            raise NotFound("not a demo")
        names = {p.id: p.name for p in service.parties.values()}
        return [
            DemoToken(party=t.party, name=names.get(t.party, t.party), role=t.role, token=t.token)
            for t in service.demo_tokens
        ]

    @router.post(
        "/reports",
        response_model=IngestAnswer,
        responses=WRITE,
        openapi_extra={"requestBody": _report_body_schema()},
        tags=["reports"],
    )
    async def post_reports(request: Request, caller: Caller) -> Any:
        """One report, a JSON array, NDJSON or a GeoJSON FeatureCollection of Points,
        into the caller's picture. Reports already stored count as duplicates."""
        body = await request.body()
        content_type = request.headers.get("content-type", "application/json")
        if len(body) > _INLINE_BODY:
            answer = await run_in_threadpool(service.submit_reports, caller, body, content_type)
        else:
            answer = service.submit_reports(caller, body, content_type)
        # waiting for the commit holds no worker thread
        return await asyncio.wrap_future(answer)

    @router.get("/units", response_model=UnitCollection, responses=READ, tags=["picture"])
    def units(
        caller: Caller,
        bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
        actor: Annotated[Id | None, Query()] = None,
        fresh: bool | None = None,
        at: Time = None,
    ) -> Any:
        """The caller's picture as GeoJSON; with `at`, as it stood then."""
        body = service.unit_collection_json(caller, parse_bbox(bbox), actor, fresh, at)
        return Response(body, media_type="application/json")

    @router.get("/units/{unit_id}", response_model=UnitFeature, responses=ONE, tags=["picture"])
    def unit(caller: Caller, unit_id: PathId) -> Any:
        return service.unit_feature(caller, unit_id)

    @router.get(
        "/units/{unit_id}/track", response_model=TrackFeature, responses=ONE, tags=["picture"]
    )
    def track(caller: Caller, unit_id: PathId, since: Time = None, until: Time = None) -> Any:
        """The unit's reports in the caller's picture as a LineString, in time order."""
        return service.track(caller, unit_id, since, until)

    def stream_position(request: Request, caller: Principal) -> str:
        """The `/events` id of the caller's latest alert event and hotline event."""
        position: Callable[[], Callable[[str], int]] | None = getattr(
            request.app.state, "hotline_position", None
        )
        hotline = position()(caller.party) if position is not None else 0
        return stream_cursor(service.last_event_seq(caller), hotline)

    @router.get(
        "/alerts",
        response_model=AlertPageView,
        responses={
            200: {
                "headers": {
                    "X-Last-Event-ID": {
                        "description": "Where `/events` stood when the page was read",
                        "schema": {"type": "string"},
                    }
                }
            },
            **READ,
        },
        tags=["alerts"],
    )
    def alerts(
        request: Request,
        response: Response,
        caller: Caller,
        state: AlertState | None = None,
        rule: Rule | None = None,
        severity: Severity | None = None,
        since: Time = None,
        cursor: Annotated[str | None, Query(max_length=20)] = None,
        limit: Limit = 100,
        at: Time = None,
    ) -> Any:
        """The caller's alerts in the order they opened, a page at a time.

        `X-Last-Event-ID` says where `/events` stood just before the page was read: a
        client that sends it as `Last-Event-ID` receives only what happened since.
        """
        # Read first: an event that lands between the two reads is sent again by the
        # stream, never missed.
        position = stream_position(request, caller)
        page = service.alert_page(caller, state, rule, severity, since, cursor, limit, at)
        response.headers["X-Last-Event-ID"] = position
        return page

    @router.get("/alerts/{alert_id}", response_model=AlertDetail, responses=ONE, tags=["alerts"])
    def alert(caller: Caller, alert_id: PathId) -> Any:
        return service.alert_detail(caller, alert_id)

    @router.post(
        "/alerts/{alert_id}/ack",
        response_model=AlertDetail,
        responses={**WRITE, **_errors(404)},
        tags=["alerts"],
    )
    def ack(caller: Caller, alert_id: PathId, body: Annotated[AckIn | None, Body()] = None) -> Any:
        """Acknowledge an alert (operator); records who and when."""
        service.ack(caller, alert_id, body.by if body else None)
        return service.alert_detail(caller, alert_id)

    @router.get("/lines", response_model=list[Line], responses=READ, tags=["agreement"])
    def lines(caller: Caller) -> Any:
        """The lines the caller's party is on."""
        return service.party_lines(caller)

    @router.get("/lines/areas", response_model=dict[str, Any], responses=READ, tags=["agreement"])
    def line_areas(caller: Caller) -> Any:
        """The caller's lines as GeoJSON: each side's area and the buffer, as the rules
        compute them."""
        return service.line_areas(caller)

    @router.post(
        "/lines",
        response_model=Line,
        status_code=201,
        responses={**WRITE, **_errors(409)},
        tags=["agreement"],
    )
    def add_line(caller: Caller, line: Line) -> Any:
        """Add a line (admin); both parties must exist and the caller's must be one."""
        return service.add_line(caller, line)

    @router.get("/sites", response_model=list[Site], responses=READ, tags=["agreement"])
    def sites(caller: Caller) -> Any:
        return service.party_sites(caller)

    @router.post(
        "/sites",
        response_model=Site,
        status_code=201,
        responses={**WRITE, **_errors(409)},
        tags=["agreement"],
    )
    def add_site(caller: Caller, site: SiteIn) -> Any:
        return service.add_site(caller, site)

    @router.get("/incidents", response_model=list[Incident], responses=READ, tags=["incidents"])
    def incidents(caller: Caller) -> Any:
        return service.party_incidents(caller)

    @router.get(
        "/incidents.csv",
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **READ},
        tags=["incidents"],
    )
    def incidents_csv(caller: Caller) -> Response:
        """The caller's incidents with ACLED-style columns."""
        return Response(service.incidents_csv(caller), media_type="text/csv; charset=utf-8")

    @router.get(
        "/incidents/{incident_id}", response_model=Incident, responses=ONE, tags=["incidents"]
    )
    def incident(caller: Caller, incident_id: PathId) -> Any:
        return service.party_incident(caller, incident_id)

    @router.post(
        "/incidents",
        response_model=Incident,
        status_code=201,
        responses={**WRITE, **_errors(409)},
        tags=["incidents"],
    )
    def add_incident(caller: Caller, incident: IncidentIn) -> Any:
        service.add_incident(caller, incident)
        return service.party_incident(caller, incident.id)

    @router.get(
        "/events",
        responses={
            200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
            **READ,
        },
        tags=["alerts"],
    )
    def events(
        request: Request,
        caller: Caller,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
    ) -> StreamingResponse:
        """The caller's alert events and hotline events (messages, acks, responses,
        escalations) as Server-Sent Events; send `Last-Event-ID` to resume."""
        start, start_hotline = parse_stream_cursor(last_event_id)
        feed: Callable[[], HotlineFeed] | None = getattr(request.app.state, "hotline_feed", None)
        return StreamingResponse(
            alert_events(
                service,
                caller,
                start,
                hotline=None if feed is None else feed(),
                last_hotline=start_hotline,
            ),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    @router.get("/tokens", response_model=list[TokenView], responses=WRITE, tags=["tokens"])
    def tokens(caller: Caller) -> Any:
        return service.party_tokens(caller)

    @router.post(
        "/tokens", response_model=NewToken, status_code=201, responses=WRITE, tags=["tokens"]
    )
    def add_token(caller: Caller, body: TokenIn) -> Any:
        """A new token of the caller's party (admin), shown once."""
        return service.issue_token(caller, body.role)

    @router.delete(
        "/tokens/{token_id}",
        status_code=204,
        responses={**WRITE, **_errors(404)},
        tags=["tokens"],
    )
    def revoke_token(caller: Caller, token_id: Annotated[int, Field(ge=1, le=2**62)]) -> Response:
        service.revoke_token(caller, token_id)
        return Response(status_code=204)

    return router
