"""Errors of the service layer, each carrying its HTTP status and a machine code."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request the service refuses; nothing was changed."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            data["errors"] = self.errors
        return data


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class TooLarge(ServiceError):
    status = 413
    code = "too_large"


class UnsupportedMedia(ServiceError):
    status = 415
    code = "unsupported_media_type"


class Invalid(ServiceError):
    """Input that fails validation; `errors` name each field and what is wrong."""

    status = 422
    code = "invalid"

    @classmethod
    def field(cls, field: str, problem: str) -> Invalid:
        return cls(f"{field}: {problem}", [{"field": field, "message": problem}])


class Unavailable(ServiceError):
    status = 503
    code = "unavailable"
