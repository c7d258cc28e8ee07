"""TAK protocol version 1 (protobuf), used when the optional `takproto` package is installed.

On a stream a message is `0xbf`, a varint length and a serialized `TakMessage`; the
framer strips the header, this module reads and writes the message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..ingest.cot import UNKNOWN_ERROR, CotError, CotEvent, parse_detail_xml

try:
    from google.protobuf.message import DecodeError
    from takproto import TAKProtoVer, xml2proto
    from takproto.proto import TakMessage
except ImportError:  # the XML protocol needs none of it
    TakMessage = None

AVAILABLE = TakMessage is not None
"""Whether TAK protocol v1 is offered and accepted."""


def _time(ms: int) -> datetime | None:
    if ms <= 0:
        return None
    return datetime.fromtimestamp(ms / 1000.0, UTC)


def decode(payload: bytes) -> CotEvent:
    """The CoT event of one protobuf `TakMessage` payload (header and length removed)."""
    if not AVAILABLE:
        raise CotError("protobuf: TAK protocol v1 is not enabled on this server")
    message: Any = TakMessage()
    try:
        message.ParseFromString(payload)
    except DecodeError:
        raise CotError("protobuf: not a TakMessage") from None
    if not message.HasField("cotEvent"):
        raise CotError("protobuf: TakMessage without cotEvent")
    cot = message.cotEvent
    if not cot.uid:
        raise CotError("event/@uid: missing")
    if not cot.type:
        raise CotError("event/@type: missing")
    sent = _time(cot.sendTime)
    if sent is None:
        raise CotError("event/@time: missing")
    event = CotEvent(
        uid=cot.uid,
        type=cot.type,
        time=sent,
        stale=_time(cot.staleTime),
        how=cot.how or "m-g",
        lon=cot.lon,
        lat=cot.lat,
        ce=cot.ce or UNKNOWN_ERROR,
    )
    for name in ("lon", "lat", "ce"):
        value = getattr(event, name)
        if value != value or value in (float("inf"), float("-inf")):
            raise CotError(f"point/@{name}: must be a finite number")
    if cot.HasField("detail"):
        if cot.detail.contact.callsign:
            event.callsign = cot.detail.contact.callsign
        parse_detail_xml(cot.detail.xmlDetail, event)
    return event


def encode(xml: bytes) -> bytes:
    """One of this server's own XML events as a stream protobuf message."""
    if not AVAILABLE:
        raise RuntimeError("takproto is not installed")
    return bytes(xml2proto(xml, TAKProtoVer.STREAM))
