"""Configuration of the TAK gateway: listeners, party bindings, limits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..ingest.cot import AFFILIATIONS
from ..model import Id

Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class CotConfigError(ValueError):
    """A configuration that cannot run; the message names the setting."""


class Listener(BaseModel):
    """One `--cot` URL: `tcp://host:port[?party=P]` or `tls://host:port` (host defaults to
    127.0.0.1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: Literal["tcp", "tls"]
    host: str
    port: int = Field(ge=0, le=65535)
    party: Id | None = None

    @classmethod
    def parse(cls, url: str) -> Listener:
        parts = urlsplit(url)
        if parts.scheme not in ("tcp", "tls"):
            raise CotConfigError(f"--cot {url}: the scheme must be tcp:// or tls://")
        try:
            port = parts.port
        except ValueError:
            raise CotConfigError(f"--cot {url}: the port is not a number") from None
        if port is None:
            raise CotConfigError(f"--cot {url}: give a port, e.g. tcp://127.0.0.1:8087")
        query = parse_qs(parts.query)
        unknown = set(query) - {"party"}
        if unknown:
            raise CotConfigError(f"--cot {url}: unknown option {sorted(unknown)[0]!r}")
        party = query.get("party", [None])[-1]
        try:
            # Without a host, a listener is local only: opening it wider is a choice.
            host = parts.hostname or "127.0.0.1"
            return cls(scheme=parts.scheme, host=host, port=port, party=party)
        except ValidationError as exc:
            raise CotConfigError(f"--cot {url}: {exc.errors()[0]['msg']}") from None

    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class CotConfig(BaseModel):
    """Everything the gateway needs besides the service.

    `party` binds the plain TCP listeners to one party; a TLS client's party comes from
    its certificate subject through `clients` (keys: the full RFC 4514 subject, or its
    common name). `actors[party][letter]` is the actor an atom of that affiliation letter
    stands for in that party's picture (friendly atoms default to the party's first
    actor).
    """

    model_config = ConfigDict(extra="forbid")

    listeners: list[Listener] = Field(default_factory=list)
    party: Id | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    cafile: Path | None = None
    clients: dict[str, Id] = Field(default_factory=dict)
    actors: dict[Id, dict[str, Id | None]] = Field(default_factory=dict)
    max_event_bytes: int = Field(default=65536, ge=256)
    max_abuse: int = Field(default=3, ge=1)
    """Oversized or forbidden events a connection may send before it is closed."""
    idle_timeout_s: Positive = 600.0
    partial_timeout_s: Positive = 60.0
    """How long an event may stay unfinished before the connection is closed."""
    queue_updates: int = Field(default=5000, ge=10)
    queue_alerts: int = Field(default=20000, ge=10)
    send_buffer_bytes: int = Field(default=262144, ge=4096)
    """Kernel send buffer per client: kept small so that a stalled client's backlog
    stays in its queue, where the oldest updates give way, not in the kernel."""
    alert_stale_s: Positive = 3600.0
    picture_stale_s: Positive = 3600.0
    update_interval_s: Annotated[float, Field(ge=0.0, le=10.0)] = 0.1
    """Changes to the picture within this interval are sent to the clients together."""
    refresh_s: Positive = 600.0
    """How often the whole view is sent again so that nothing goes stale on the devices."""
    batch_events: int = Field(default=10000, ge=1)
    """Events a connection may have parsed but not yet stored before it stops reading."""
    callsign: str = Field(default="Deconfliction", min_length=1, max_length=60)

    @field_validator("actors")
    @classmethod
    def _letters(cls, value: dict[str, dict[str, str | None]]) -> dict[str, dict[str, str | None]]:
        for party, mapping in value.items():
            for letter in mapping:
                if letter not in AFFILIATIONS:
                    raise ValueError(
                        f"actors.{party}.{letter}: not a CoT affiliation letter "
                        f"({''.join(sorted(AFFILIATIONS))})"
                    )
        return value

    @classmethod
    def load(cls, path: Path) -> CotConfig:
        """A configuration file (YAML or JSON), with errors naming the setting."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CotConfigError(f"{path}: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("cot"), dict):
            data = data["cot"]
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CotConfigError(f"{path}: {where}: {first['msg']}") from None

    def with_urls(self, urls: list[str]) -> CotConfig:
        """This configuration listening on `urls` as well."""
        return self.model_copy(update={"listeners": [*self.listeners, *map(Listener.parse, urls)]})

    def check(self) -> None:
        """Refuse listeners that could not tell whose picture a client feeds."""
        for listener in self.listeners:
            if listener.scheme == "tcp" and (listener.party or self.party) is None:
                raise CotConfigError(
                    f"--cot {listener.url()}: a plain listener needs a party "
                    "(?party=P in the URL, or `party:` in the configuration)"
                )
            if listener.scheme == "tls":
                for name in ("certfile", "keyfile", "cafile"):
                    if getattr(self, name) is None:
                        raise CotConfigError(f"--cot {listener.url()}: set `{name}` for TLS")
                    if not Path(getattr(self, name)).is_file():
                        raise CotConfigError(f"{name}: {getattr(self, name)} is not a file")
                if not self.clients:
                    raise CotConfigError(
                        f"--cot {listener.url()}: `clients` maps no certificate to a party"
                    )
