"""The FastAPI application: routes, error answers, body limit, the map's static files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .. import __version__
from ..service.core import Service
from ..service.errors import ServiceError
from .fastpath import ReportsFastPath
from .middleware import BodyLimit, SecurityHeaders
from .routes import build_router

WEB = Path(__file__).resolve().parents[1] / "web"


def _field(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "header":
        parts = parts[1:]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() and out else (f".{part}" if out else part)
    return out


def create_app(service: Service, web: Path | None = WEB) -> FastAPI:
    """The API over one service; the map page at / when `web` holds an index.html."""
    app = FastAPI(
        title="deconfliction",
        version=__version__,
        description="Each party's picture, the watch on it, and the alerts it raises.",
    )
    app.state.service = service

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))}
            for e in exc.errors()[:20]
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return JSONResponse(
            {
                "code": "invalid",
                "message": f"{first['field']}: {first['message']}",
                "errors": errors,
            },
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # the framework's answer to a body it cannot decode: say which, as 422
            problem = f"cannot be read: {exc.detail}"
            return JSONResponse(
                {
                    "code": "invalid",
                    "message": f"body: {problem}",
                    "errors": [{"field": "body", "message": problem}],
                },
                status_code=422,
            )
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            {"code": code.get(exc.status_code, "error"), "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    app.include_router(build_router(service))
    if importlib.util.find_spec(f"{__package__}.hotline") is not None:
        from . import hotline

        app.include_router(hotline.router, prefix="/api/v1")
        # /events carries the hotline's events of the caller's desk too
        app.state.hotline_feed = lambda: hotline.desk_of(app).feed
        app.state.hotline_position = lambda: hotline.desk_of(app).feed_position
    if web is not None and (web / "index.html").is_file():
        app.mount("/", StaticFiles(directory=web, html=True), name="web")
    # innermost: the body limit and the security headers apply to it as to any route
    app.add_middleware(ReportsFastPath, service=service)
    app.add_middleware(BodyLimit, limit=service.limits.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app
