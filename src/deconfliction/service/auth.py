"""Bearer tokens: random, shown once, stored as a SHA-256 hash, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ..store.base import Role, Store
from .errors import Forbidden, Unauthorized

TOKEN_PREFIX = "dcf_"

_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a party, a role, and the token that said so."""

    party: str
    role: Role
    token_id: int

    def require(self, role: Role) -> None:
        if _RANK[self.role] < _RANK[role]:
            raise Forbidden(f"this needs the {role} role; the token is {self.role}")

    @property
    def label(self) -> str:
        return f"{self.party}/{self.role}#{self.token_id}"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def authenticate(store: Store, authorization: str | None) -> Principal:
    """The principal of an `Authorization: Bearer ...` header value."""
    if not authorization:
        raise Unauthorized("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    digest = token_hash(token)
    found = store.token_by_hash(digest)
    # The lookup is by hash, so its timing reveals nothing about the token; the
    # comparison is constant-time all the same.
    if found is None or not hmac.compare_digest(found[1], digest) or found[0].revoked:
        raise Unauthorized("unknown or revoked token")
    record = found[0]
    return Principal(record.party, record.role, record.id)
