"""CoT written to TAK clients: lines and their buffers as drawings, sites as markers,
units as atoms in the viewer's affiliation, alerts as GeoChat plus a marker."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from pyproj import Transformer
from shapely.geometry import LineString

from ..ingest.cot import KIND_FUNCTIONS, UNKNOWN_ERROR, format_equipment
from ..model import Actor, AlertEvent, Line, Site, format_time
from .seam import UnitView

RED = -65536
YELLOW = -256
BLUE = -16776961
TRANSLUCENT_RED = 0x40FF0000 - (1 << 32) if 0x40FF0000 >= (1 << 31) else 0x40FF0000
"""ATAK colours are signed 32-bit ARGB integers."""

SERVER_UID = "deconfliction"
CHATROOM = "All Chat Rooms"
_PREFERRED = "hsjkuanp"
"""When several affiliation letters map to one actor, the first of these wins."""


@lru_cache(maxsize=1024)
def cot_time(value: datetime) -> str:
    """CoT's time format: UTC with milliseconds and a 'Z'."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def event_xml(
    *,
    uid: str,
    cot_type: str,
    time: datetime,
    stale: datetime,
    lon: float = 0.0,
    lat: float = 0.0,
    how: str = "h-g-i-g-o",
    ce: float = UNKNOWN_ERROR,
    detail: str = "",
) -> bytes:
    """One CoT event; `detail` is the already-escaped inner XML of `<detail>`."""
    stamp = cot_time(time)
    return (
        f'<event version="2.0" uid={quoteattr(uid)} type={quoteattr(cot_type)} '
        f'how="{how}" time="{stamp}" start="{stamp}" stale="{cot_time(stale)}">'
        f'<point lat="{lat:.7f}" lon="{lon:.7f}" hae="{UNKNOWN_ERROR:.1f}" ce="{ce:.1f}" '
        f'le="{UNKNOWN_ERROR:.1f}"/><detail>{detail}</detail></event>'
    ).encode()


def text(value: str) -> str:
    """Element text, escaped."""
    return escape(value)


def attr(value: str) -> str:
    """An attribute value with its quotes, escaped."""
    return quoteattr(value)


def line_events(line: Line, now: datetime, stale: datetime) -> list[bytes]:
    """The line as a polyline and its buffer as a closed, filled shape."""
    lon, lat = line.coordinates[0]
    links = "".join(f'<link point="{y:.7f},{x:.7f}"/>' for x, y in line.coordinates)
    remarks = (
        f"{line.left} on the left, {line.right} on the right walking from the first vertex; "
        f"buffer {line.buffer_m:g} m"
    )
    polyline = event_xml(
        uid=f"{SERVER_UID}.line.{line.id}",
        cot_type="u-d-f",
        time=now,
        stale=stale,
        lon=lon,
        lat=lat,
        detail=(
            f'{links}<strokeColor value="{RED}"/><strokeWeight value="4.0"/>'
            f'<strokeStyle value="solid"/><contact callsign={attr(line.name)}/>'
            f'<labels_on value="true"/><remarks>{text(remarks)}</remarks>'
        ),
    )
    out = [polyline]
    if line.buffer_m > 0:
        ring = buffer_ring(tuple(line.coordinates), line.buffer_m)
        links = "".join(f'<link point="{y:.7f},{x:.7f}"/>' for x, y in ring)
        out.append(
            event_xml(
                uid=f"{SERVER_UID}.line.{line.id}.buffer",
                cot_type="u-d-f",
                time=now,
                stale=stale,
                lon=ring[0][0],
                lat=ring[0][1],
                detail=(
                    f'{links}<strokeColor value="{YELLOW}"/><strokeWeight value="2.0"/>'
                    f'<strokeStyle value="dashed"/><fillColor value="{TRANSLUCENT_RED}"/>'
                    f"<contact callsign={attr(line.name + ' buffer')}/>"
                    f'<labels_on value="false"/><remarks>{text(remarks)}</remarks>'
                ),
            )
        )
    return out


@lru_cache(maxsize=64)
def buffer_ring(
    coordinates: tuple[tuple[float, float], ...], buffer_m: float
) -> list[tuple[float, float]]:
    """The outline (lon, lat) of the area within `buffer_m` of a line, closed."""
    lons = np.array([c[0] for c in coordinates])
    lats = np.array([c[1] for c in coordinates])
    centre_lon, centre_lat = float(lons.mean()), float(lats.mean())
    to_local = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={centre_lat} +lon_0={centre_lon} +units=m", always_xy=True
    )
    # Segments are straight in lon/lat (RFC 7946): densify before projecting.
    dense_lon: list[float] = []
    dense_lat: list[float] = []
    for i in range(len(coordinates) - 1):
        steps = max(2, int(np.hypot(lons[i + 1] - lons[i], lats[i + 1] - lats[i]) / 0.01))
        t = np.linspace(0.0, 1.0, steps, endpoint=False)
        dense_lon.extend(lons[i] + t * (lons[i + 1] - lons[i]))
        dense_lat.extend(lats[i] + t * (lats[i + 1] - lats[i]))
    dense_lon.append(float(lons[-1]))
    dense_lat.append(float(lats[-1]))
    x, y = to_local.transform(np.array(dense_lon), np.array(dense_lat))
    area = LineString(np.column_stack([x, y])).buffer(buffer_m, quad_segs=8)
    outline = area.exterior.simplify(buffer_m / 50.0)
    bx, by = outline.xy
    lon_out, lat_out = to_local.transform(np.asarray(bx), np.asarray(by), direction="INVERSE")
    return [(float(a), float(b)) for a, b in zip(lon_out, lat_out, strict=True)]


def site_event(site: Site, now: datetime, stale: datetime) -> bytes:
    remarks = f"{site.kind.value}, {site.personnel} personnel, priority {site.priority.value}"
    return event_xml(
        uid=f"{SERVER_UID}.site.{site.id}",
        cot_type="a-f-G-I",
        time=now,
        stale=stale,
        lon=site.lon,
        lat=site.lat,
        detail=f"<contact callsign={attr(site.name)}/><remarks>{text(remarks)}</remarks>",
    )


def affiliation_for(
    actor_id: str, viewer: str, actors: Mapping[str, Actor], mapping: Mapping[str, str | None]
) -> str:
    """The affiliation letter `viewer` gives a unit of `actor_id`."""
    actor = actors.get(actor_id)
    if actor is not None and actor.party == viewer:
        return "f"
    letters = [letter for letter, mapped in mapping.items() if mapped == actor_id]
    if letters:
        return min(letters, key=lambda c: _PREFERRED.find(c) % len(_PREFERRED))
    if actor is None or actor.party is None:
        return "h"
    return "u"


def unit_event(unit: UnitView, letter: str, now: datetime, stale: datetime) -> bytes:
    function = KIND_FUNCTIONS[unit.kind]
    cot_type = f"a-{letter}-{function}"
    equipment = ", ".join(f"{n} {c}" for n, c in sorted(unit.equipment.items()) if c)
    remarks = (
        f"{unit.actor}, {unit.kind.value}, {unit.strength} personnel"
        + (f", {equipment}" if equipment else "")
        + f"; reported {format_time(unit.time)}"
    )
    extension = (
        f"<__deconfliction actor={attr(unit.actor)} kind={attr(unit.kind.value)} "
        f'strength="{unit.strength}" equipment={attr(format_equipment(unit.equipment))} '
        f'time="{format_time(unit.time)}"/>'
    )
    return event_xml(
        uid=unit.id,
        cot_type=cot_type,
        time=now,
        stale=stale,
        lon=unit.lon,
        lat=unit.lat,
        how="m-g",
        detail=(
            f"<contact callsign={attr(unit.name)}/>{extension}<remarks>{text(remarks)}</remarks>"
        ),
    )


def alert_text(event: AlertEvent) -> str:
    severity = event.severity.value.upper()
    return f"[{severity}] {event.rule.value} {event.id} {event.event}: {event.message}"


def alert_events(event: AlertEvent, now: datetime, stale: timedelta, sequence: int) -> list[bytes]:
    """A GeoChat message to the party's room, and the alert's marker (stale when resolved)."""
    lon = event.lon if event.lon is not None else 0.0
    lat = event.lat if event.lat is not None else 0.0
    message = alert_text(event)
    message_id = f"{event.id}.{event.event}.{sequence}"
    chat = event_xml(
        uid=f"GeoChat.{SERVER_UID}.{CHATROOM}.{message_id}",
        cot_type="b-t-f",
        time=now,
        stale=now + stale,
        lon=lon,
        lat=lat,
        detail=(
            f'<__chat parent="RootContactGroup" groupOwner="false" messageId={attr(message_id)} '
            f'chatroom="{CHATROOM}" id="{CHATROOM}" senderCallsign="Deconfliction">'
            f'<chatgrp uid0="{SERVER_UID}" uid1="{CHATROOM}" id="{CHATROOM}"/></__chat>'
            f'<link uid="{SERVER_UID}" type="a-f-G-U-C" relation="p-p"/>'
            f'<remarks source="BAO.F.ATAK.{SERVER_UID}" to="{CHATROOM}" time="{format_time(now)}">'
            f"{text(message)}</remarks>"
            f"<__deconfliction alert={attr(event.id)} event={attr(event.event)} "
            f"rule={attr(event.rule.value)} severity={attr(event.severity.value)}/>"
        ),
    )
    out = [chat]
    if event.lon is not None and event.lat is not None:
        marker_stale = now if event.event == "resolved" else now + stale
        out.append(
            event_xml(
                uid=f"{SERVER_UID}.alert.{event.id}",
                cot_type="b-m-p-s-m",
                time=now,
                stale=marker_stale,
                lon=lon,
                lat=lat,
                detail=(
                    f"<contact callsign={attr(f'{event.id} {event.rule.value}')}/>"
                    f'<color argb="{RED}"/>'
                    f'<usericon iconsetpath="COT_MAPPING_SPOTMAP/b-m-p-s-m/{RED}"/>'
                    f"<remarks>{text(message)}</remarks>"
                ),
            )
        )
    return out


def pong(now: datetime) -> bytes:
    return event_xml(
        uid="takPong", cot_type="t-x-c-t-r", time=now, stale=now + timedelta(seconds=20)
    )


def protocol_support(now: datetime) -> bytes:
    """The TAK server's offer of protocol version 1, sent when a stream opens."""
    return event_xml(
        uid="protouid",
        cot_type="t-x-takp-v",
        time=now,
        stale=now + timedelta(minutes=1),
        how="m-g",
        detail='<TakControl><TakProtocolSupport version="1"/></TakControl>',
    )


def protocol_response(now: datetime, accepted: bool) -> bytes:
    return event_xml(
        uid="protouid",
        cot_type="t-x-takp-r",
        time=now,
        stale=now + timedelta(minutes=1),
        how="m-g",
        detail=f'<TakControl><TakResponse status="{str(accepted).lower()}"/></TakControl>',
    )
