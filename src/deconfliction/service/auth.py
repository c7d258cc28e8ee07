"""Bearer tokens: random, shown once, stored as a SHA-256 hash, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
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


class TokenCache:
    """Principals of recently seen tokens, so that a request costs no database read.

    A read on the event loop waits for the interpreter lock behind the ingest and
    writer threads; under load that wait, not the lookup, was most of a small
    request's time. Revocations through the service drop the cache at once; one made
    by another process (`deconfliction token revoke`) is honoured within `ttl_s`.
    """

    def __init__(self, store: Store, ttl_s: float = 1.0, size: int = 10_000) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._size = size
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Principal, float]] = {}

    def authenticate(self, authorization: str | None) -> Principal:
        if authorization:
            now = time.monotonic()
            with self._lock:
                known = self._known.get(authorization)
            if known is not None and known[1] > now:
                return known[0]
        principal = authenticate(self._store, authorization)
        with self._lock:
            if len(self._known) >= self._size:
                self._known.clear()
            assert authorization is not None
            self._known[authorization] = (principal, time.monotonic() + self._ttl_s)
        return principal

    def clear(self) -> None:
        with self._lock:
            self._known.clear()
