"""CoT parsing and writing without a network: hardened XML, atoms to reports, framing."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconfliction.ingest import cot
from deconfliction.ingest.cot import (
    CotError,
    affiliation,
    parse_event,
    parse_time,
    unit_id,
    unit_kind,
)
from deconfliction.model import AlertEvent, UnitKind
from deconfliction.tak import outbound, proto
from deconfliction.tak.atoms import AtomColumns, atom_fields
from deconfliction.tak.framing import Framer
from deconfliction.tak.reader import UID, CotRead, read_frames

T = "2018-02-07T20:00:00Z"
ACTORS = {"f": "sdf", "h": "isis", "s": "pro-regime"}


def event(uid: str = "t72", cot_type: str = "a-h-G-U-C-A", detail: str = "", **attrs: str) -> bytes:
    values = {"time": T, "stale": "2018-02-07T20:10:00Z", "lat": "35.36", "lon": "40.2"}
    values.update(attrs)
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="m-g" time="{values["time"]}" '
        f'start="{values["time"]}" stale="{values["stale"]}"><point lat="{values["lat"]}" '
        f'lon="{values["lon"]}" hae="9999999.0" ce="25.0" le="9999999.0"/>'
        f"<detail>{detail}</detail></event>"
    ).encode()


def test_an_atom_becomes_a_report_in_the_observers_picture() -> None:
    parsed = parse_event(event(detail='<contact callsign="Tank company"/>'))
    row = atom_fields(parsed, "coalition", ACTORS)
    assert (row.unit, row.lon, row.lat, row.name) == ("t72", 40.2, 35.36, "Tank company")
    assert row.actor == "isis" and row.kind is UnitKind.ARMOR
    assert row.strength == -1 and row.equipment is None
    assert row.source == "tak ce=25m"
    assert row.time_us == int(datetime(2018, 2, 7, 20, tzinfo=UTC).timestamp()) * 1_000_000
    assert row.report_id == f"cot:coalition:t72:{row.time_us}"


def test_the_deconfliction_detail_carries_full_fidelity() -> None:
    detail = (
        '<__deconfliction actor="pro-regime" strength="60" equipment="tank:10, mortar:2" '
        'kind="armor" rating="B2" source="MQ-9" id="r-1"/>'
    )
    row = atom_fields(parse_event(event(cot_type="a-u-G", detail=detail)), "coalition", ACTORS)
    assert row.actor == "pro-regime" and row.strength == 60
    assert row.equipment == {"tank": 10, "mortar": 2}
    assert (row.kind, row.rating, row.report_id) == (UnitKind.ARMOR, "B2", "r-1")
    assert row.source == "MQ-9 ce=25m"


@pytest.mark.parametrize(
    ("cot_type", "kind"),
    [
        ("a-h-G-U-C-I", UnitKind.INFANTRY),
        ("a-h-G-U-C-A-T", UnitKind.ARMOR),
        ("a-h-G-U-C-F", UnitKind.ARTILLERY),
        ("a-h-G-U-C-F-R", UnitKind.MLRS),
        ("a-h-G-U-C-F-M", UnitKind.MORTAR),
        ("a-h-G-U-C-D", UnitKind.AIR_DEFENCE),
        ("a-h-A-M-F", UnitKind.AIRCRAFT),
        ("a-h-G-U-H", UnitKind.HQ),
        ("a-h-G", UnitKind.OTHER),
        ("a-h-G-U-C-FX", UnitKind.OTHER),
    ],
)
def test_the_2525_function_gives_the_unit_kind(cot_type: str, kind: UnitKind) -> None:
    assert unit_kind(cot_type) is kind


def test_affiliations_and_uids() -> None:
    assert [affiliation(t) for t in ("a-f-G", "a-h-G", "a-s-G", "a-x-G", "a")] == [
        "f",
        "h",
        "s",
        "u",
        "u",
    ]
    assert unit_id("t72-company") == "t72-company"
    android = unit_id("ANDROID-589520ccfcd20f01")
    assert android.startswith("android-589520ccfcd20f01-") and android == unit_id(
        "ANDROID-589520ccfcd20f01"
    )
    assert unit_id("ANDROID-589520ccfcd20f01") != unit_id("android-589520ccfcd20f01!")
    long = unit_id("x" * 300)
    assert len(long) <= 64


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-02-07T20:00:00Z", datetime(2018, 2, 7, 20, tzinfo=UTC)),
        ("2018-02-07T20:00:00.123Z", datetime(2018, 2, 7, 20, 0, 0, 123000, tzinfo=UTC)),
        ("2018-02-07T20:00:00.123456789Z", datetime(2018, 2, 7, 20, 0, 0, 123456, tzinfo=UTC)),
        ("2018-02-07T23:00:00+03:00", datetime(2018, 2, 7, 20, tzinfo=UTC)),
    ],
)
def test_cot_times(value: str, expected: datetime) -> None:
    assert parse_time(value, "time") == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (event(time="yesterday"), "time: 'yesterday' is not an ISO 8601 time"),
        (event(time="2018-02-07T20:00:00"), "time: '2018-02-07T20:00:00' has no time zone"),
        (event(lat="north"), "point/@lat: 'north' is not a number"),
        (event(lon="nan"), "point/@lon: must be a finite number"),
        (event(uid=""), "event/@uid: missing"),
        (
            b"<event uid='x' type='a-h-G' time='2018-02-07T20:00:00Z'><point lat='1'",
            "malformed XML",
        ),
        (b"<evil/>", "root element is <evil>"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><event/>', "DOCTYPE and ENTITY declarations are refused"),
    ],
)
def test_bad_events_are_refused_naming_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(CotError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_event(data)


@pytest.mark.parametrize(
    ("detail", "attrs", "message"),
    [
        ('<__deconfliction strength="many"/>', {}, "strength: not an integer"),
        ('<__deconfliction strength="-3"/>', {}, "strength: must not be negative"),
        ('<__deconfliction equipment="tank"/>', {}, "'tank' is not name:count"),
        ('<__deconfliction equipment="tank:-1"/>', {}, "count is negative"),
        ('<__deconfliction kind="cavalry"/>', {}, "'cavalry' is not a unit kind"),
        ('<__deconfliction rating="Z9"/>', {}, "'Z9' is not A-F then 1-6"),
        ('<__deconfliction actor="Not An Id"/>', {}, "actor: 'Not An Id' is not a valid id"),
        ("", {"lon": "200"}, "point/@lon: 200.0 is outside -180..180"),
        ("", {"stale": "2018-02-07T19:00:00Z"}, "stale when sent"),
    ],
)
def test_bad_atoms_are_refused_naming_the_field(
    detail: str, attrs: dict[str, str], message: str
) -> None:
    parsed = parse_event(event(detail=detail, **attrs))
    with pytest.raises(CotError, match=message):
        atom_fields(parsed, "coalition", ACTORS)


def test_the_parser_itself_refuses_declarations_past_the_frame_check() -> None:
    # The frame check refuses declarations with a clear message; the parser refuses them
    # too, should one ever get past it (a protobuf event's detail, say).
    xxe = (
        b'<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<event uid="x" type="a-h-G" time="2018-02-07T20:00:00Z"><detail>'
        b'<contact callsign="&xxe;"/></detail></event>'
    )
    with pytest.raises(CotError, match="refused"):
        cot.parse_xml(xxe)
    laughs = b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><event>&b;</event>'
    with pytest.raises(CotError, match="refused"):
        cot.parse_xml(laughs)
    event = cot.CotEvent(uid="x", type="a-h-G", time=datetime(2018, 2, 7, tzinfo=UTC))
    with pytest.raises(CotError, match="refused"):
        cot.parse_detail_xml('<!DOCTYPE x [<!ENTITY e "e">]><contact callsign="&e;"/>', event)


def test_the_event_callbacks_keep_the_parsers_refusals() -> None:
    # The gateway's own element callbacks replace the element tree's, not defusedxml's
    # refusal of DTDs, entities and external references, nor expat's of unknown entities.
    xxe = (
        b'<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<event uid="x" type="a-h-G" time="2018-02-07T20:00:00Z"><detail>'
        b'<contact callsign="&xxe;"/></detail></event>'
    )
    laughs = b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><event>&b;</event>'
    for document in (xxe, laughs):
        with pytest.raises(CotError, match="refused"):
            cot._stream(document, 1)
    undefined = b'<event uid="x" type="a-h-G" time="2018-02-07T20:00:00Z">&xxe;</event>'
    with pytest.raises(CotError, match="malformed XML"):
        cot._stream(undefined, 1)


def uids(read: CotRead) -> list[str]:
    return [row[UID] for row in read.atoms]


def test_one_bad_frame_in_a_batch_costs_only_itself() -> None:
    frames = [event(uid=f"u{i}") for i in range(5)]
    frames.insert(2, b"<event uid='broken'><point></event>")
    frames.insert(
        4, b"</cot><event uid='inject' type='a-h-G' time='2018-02-07T20:00:00Z'/><cot></event>"
    )
    read = read_frames(frames)
    assert uids(read) == [f"u{i}" for i in range(5)]
    assert len(read.errors) == 2 and not read.events


def test_a_frame_holding_two_events_is_refused_not_split() -> None:
    two = event(uid="a").replace(b"</event>", b"</event>" + event(uid="b").split(b"?>", 1)[1])
    read = read_frames([event(uid="c"), two])
    assert uids(read) == ["c"] and len(read.errors) == 1


def test_frames_that_only_make_events_together_are_refused() -> None:
    # One frame cut inside a comment, the next closing it, a third holding two events:
    # together as many events as frames, but no frame is one event of its own.
    cut = event(uid="cut").replace(b"<detail>", b"<detail><!-- ")
    closing = b"--></detail></event>"
    two = b"<event uid='d1' type='a-h-G' time='2018-02-07T20:00:00Z'/>" + event(uid="d2")
    two = two.replace(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n', b"")
    read = read_frames([event(uid="c"), cut, closing, two])
    assert uids(read) == ["c"] and len(read.errors) == 3


TRICKY_FRAMES = [
    event(uid="plain"),
    event(uid="called", detail='<contact callsign="Tank &amp; co"/><__group name="Cyan"/>'),
    event(uid="silent", detail='<contact callsign=""/><contact endpoint="x"/>'),
    event(uid="kit", detail='<__deconfliction strength="12" equipment="tank:3" id="r-9"/>'),
    event(uid="bad-kit", detail='<__deconfliction strength="many"/>'),
    event(uid="same-second", time="2018-02-07T20:00:00.5Z", stale="2018-02-07T20:10:00Z"),
    event(uid="long-fraction", time="2018-02-07T20:00:00.9999999Z"),
    event(uid="plus-zero", time="2018-02-07T20:00:00.25+00:00"),
    event(uid="zone", time="2018-02-07T23:00:00.5+03:00", stale="2018-02-07T20:10:00+00:00"),
    event(uid="stale-zone", stale="2018-02-07T22:00:00+03:00"),
    event(uid="stale", stale="2018-02-07T19:00:00Z"),
    event(uid="bad-stale", stale="soon"),
    event(uid="naive", time="2018-02-07T20:00:00"),
    event(uid="bad-time", time="2018-02-07T20:00:00.5"),
    event(uid="off-map", lon="181"),
    event(uid="nan", lat="nan"),
    event(uid="no-lat", lat=""),
    event(uid="no-uid", cot_type="a-f-G").replace(b'uid="no-uid" ', b""),
    event(uid="no-type").replace(b'type="a-h-G-U-C-A" ', b""),
    event(uid="spaced", time=" 2018-02-07T20:00:00Z "),
    event(uid="basic", time="20180207T200000.5Z"),
    event(uid="ping", cot_type="t-x-c-t"),
    event(uid="chat", cot_type="b-t-f", detail='<contact callsign="Desk"/>'),
    event(
        uid="offer",
        cot_type="t-x-takp-q",
        detail='<TakControl><TakRequest version="1"/><status v="2"/></TakControl>',
    ),
    event(uid="bad-ping", cot_type="t-x-c-t", lat="north"),
    event(uid="stale-ping", cot_type="t-x-c-t", stale="2018-02-07T19:00:00Z"),
    event(uid="two-points", detail='<point lat="1" lon="2" ce="3"/>'),
    event(uid="nested", detail='<link><contact callsign="Not mine"/></link>'),
    event(uid="inner", detail='<event uid="x" type="a-f-G"><point lat="5" lon="5"/></event>'),
    b'<event uid="bare" type="a-n-G" time="2018-02-07T20:00:00Z"/>',
    b'<event uid="late-point" type="a-h-G" time="2018-02-07T20:00:00Z"><detail>'
    b'<contact callsign="Late"/></detail><point lat="3" lon="4"/></event>',
    b'<event uid="deep" type="a-h-G" time="2018-02-07T20:00:00Z"><point lat="3" lon="4">'
    b'<detail><contact callsign="Deep"/></detail></point></event>',
    b"<evil/>",
]


def read_one_by_one(frames: list[bytes]) -> CotRead:
    read = CotRead()
    for frame in frames:
        try:
            read.add(parse_event(frame))
        except CotError as exc:
            read.errors.append(str(exc))
    return read


@pytest.mark.parametrize("size", [1, 3, len(TRICKY_FRAMES)])
def test_groups_of_frames_read_as_each_frame_alone(size: int) -> None:
    # The gateway's group reader takes atoms straight into rows; it must read exactly
    # what parsing each event whole does, bad events and unusual ones included.
    good = [f for f in TRICKY_FRAMES if f != b"<evil/>"]
    for frames in (good, TRICKY_FRAMES):
        for start in range(0, len(frames), size):
            group = frames[start : start + size]
            read = read_frames(group)
            assert read == read_one_by_one(group), group
            # only the group holding the frame that is not an event is read again
            assert read.reread == (len(group) if b"<evil/>" in group else 0)


def test_the_group_reader_names_each_problem_as_a_lone_event_would() -> None:
    read = read_frames(TRICKY_FRAMES)
    assert {row[UID] for row in read.atoms} >= {"plain", "kit", "zone", "stale", "inner"}
    assert [e.uid for e in read.events] == ["ping", "chat", "offer", "stale-ping"]
    assert read.events[2].takcontrol == {"TakRequest": "1", "status": ""}
    assert read.events[1].callsign == "Desk"
    assert "point/@lat: 'north' is not a number" in read.errors
    assert "event: root element is <evil>, not <event>" in read.errors
    assert len(read.atoms) + len(read.events) + len(read.errors) == len(TRICKY_FRAMES)


def test_rows_become_columns_and_bad_rows_are_refused_by_uid() -> None:
    read = read_frames(TRICKY_FRAMES)
    columns = AtomColumns("coalition", ACTORS)
    refused = dict((uid, str(exc)) for uid, exc in columns.add_rows(read.atoms))
    assert refused == {
        "bad-kit": "__deconfliction/@strength: not an integer",
        "stale": "event/@stale: the event is stale when sent",
        "stale-zone": "event/@stale: the event is stale when sent",
        "off-map": "point/@lon: 181.0 is outside -180..180",
    }
    one_by_one = AtomColumns("coalition", ACTORS)
    for frame in TRICKY_FRAMES:
        with contextlib.suppress(CotError):
            parsed = parse_event(frame)
            if cot.is_atom(parsed.type):
                one_by_one.add(parsed)
    assert [columns.row(i) for i in range(len(columns))] == [
        one_by_one.row(i) for i in range(len(one_by_one))
    ]
    kit = columns.row(columns.unit.index("kit"))
    assert (kit.strength, kit.equipment, kit.report_id) == (12, {"tank": 3}, "r-9")
    zone = columns.row(columns.unit.index("zone"))
    assert zone.time_us == int(datetime(2018, 2, 7, 20, tzinfo=UTC).timestamp()) * 10**6 + 500_000
    fraction = columns.row(columns.unit.index("long-fraction"))
    assert fraction.time_us % 10**6 == 999_999
    assert columns.name[columns.unit.index("called")] == "Tank & co"
    assert columns.name[columns.unit.index("nested")] == "nested"


def test_atoms_become_columns_aligned_row_by_row() -> None:
    columns = AtomColumns("coalition", ACTORS)
    with_equipment = '<__deconfliction equipment="tank:3" strength="12"/>'
    columns.add(parse_event(event(uid="plain")))
    columns.add(parse_event(event(uid="kit", detail=with_equipment)))
    with pytest.raises(CotError, match="outside"):
        columns.add(parse_event(event(uid="off-map", lon="181")))
    columns.add(parse_event(event(uid="plain-2", cot_type="a-f-G-U-C-I")))
    assert columns.unit == ["plain", "kit", "plain-2"]
    assert columns.equipment == [None, {"tank": 3}, None]
    assert columns.strength == [-1, 12, -1]
    assert columns.actor == ["isis", "isis", "sdf"]
    assert [columns.row(i).report_id.split(":")[2] for i in range(3)] == columns.unit


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=40), st.booleans())
def test_any_split_of_the_stream_gives_the_same_events(cuts: list[int], declarations: bool) -> None:
    stream = b"\n".join(event(uid=f"u{i}") for i in range(6))
    framer = Framer(65536, declarations=declarations)
    frames: list[bytes] = []
    position = 0
    for cut in cuts:
        frames += framer.feed(stream[position : position + cut]).xml
        position += cut
    frames += framer.feed(stream[position:]).xml
    assert [parse_event(f).uid for f in frames] == [f"u{i}" for i in range(6)]
    assert all(f.startswith(b"<?xml") == declarations for f in frames)
    assert uids(read_frames(frames, declarations=declarations)) == [f"u{i}" for i in range(6)]
    assert framer.pending == 0


def test_a_declaration_in_a_group_costs_only_its_frame_and_is_named() -> None:
    doctype = b'<!DOCTYPE event [<!ENTITY a "b">]><event uid="x" type="a-h-G">&a;</event>'
    xxe = (
        b'<event uid="xxe" type="a-h-G" time="2018-02-07T20:00:00Z"><detail><!DOCTYPE x '
        b'[<!ENTITY e SYSTEM "file:///etc/passwd">]><contact callsign="&e;"/></detail></event>'
    )
    frames = [event(uid="a"), doctype, event(uid="b"), xxe, event(uid="c")]
    bodies = Framer(65536, declarations=False).feed(b"".join(frames)).xml
    for read in (read_frames(frames), read_frames(bodies, declarations=False)):
        assert uids(read) == ["a", "b", "c"]
        assert read.errors == ["event: DOCTYPE and ENTITY declarations are refused"] * 2


def test_the_framer_drops_oversized_events_and_keeps_its_memory_bounded() -> None:
    framer = Framer(1024)
    result = framer.feed(b"<event>" + b"x" * 5000)
    assert result.oversized == 1 and framer.pending < 16
    result = framer.feed(b"more</event>" + event(uid="after"))
    assert [parse_event(f).uid for f in result.xml] == ["after"]
    big = event(uid="big", detail="<remarks>" + "y" * 2000 + "</remarks>")
    result = framer.feed(big + event(uid="small"))
    assert result.oversized == 1 and [parse_event(f).uid for f in result.xml] == ["small"]


@pytest.mark.parametrize("declarations", [True, False])
def test_one_read_mixing_xml_protobuf_and_oversized_frames(declarations: bool) -> None:
    big = event(uid="big", detail="<remarks>" + "y" * 2000 + "</remarks>")
    stream = event(uid="a") + b"\xbf\x03abc" + event(uid="b") + b"\n\n" + big + event(uid="c")
    framer = Framer(1024, declarations=declarations)
    frames = framer.feed(stream + event(uid="d")[:40])
    assert [parse_event(f).uid for f in frames.xml] == ["a", "b", "c"]
    assert frames.proto == [b"abc"] and frames.oversized == 1 and framer.pending == 40
    assert [parse_event(f).uid for f in framer.feed(event(uid="d")[40:]).xml] == ["d"]


@pytest.mark.skipif(not proto.AVAILABLE, reason="takproto is not installed")
def test_protobuf_messages_are_framed_and_decoded() -> None:
    xml = event(
        uid="pb-1",
        cot_type="a-f-G-U-C-I",
        detail='<contact callsign="Alpha"/><__deconfliction strength="12"/>',
    )
    body = xml.split(b"?>", 1)[1].strip()
    stream = proto.encode(body) + proto.encode(body.replace(b"pb-1", b"pb-2"))
    framer = Framer(65536)
    payloads = []
    for i in range(len(stream)):
        payloads += framer.feed(stream[i : i + 1]).proto
    decoded = [proto.decode(p) for p in payloads]
    assert [d.uid for d in decoded] == ["pb-1", "pb-2"]
    assert decoded[0].callsign == "Alpha" and decoded[0].extension == {"strength": "12"}
    assert (decoded[0].lon, decoded[0].lat) == (40.2, 35.36)
    with pytest.raises(CotError, match="protobuf"):
        proto.decode(b"\x0a\xff\xff\xff")


def test_what_the_server_writes_parses_back() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    alert = AlertEvent(
        event="open",
        id="a-7",
        rule="zone.violation",
        severity="high",
        time=now,
        party="coalition",
        units=["t72"],
        line="euphrates",
        lon=40.2,
        lat=35.36,
        message='Tank company <T-72> & "friends" crossed',
    )
    chat, marker = outbound.alert_events(alert, now, timedelta(hours=1), 1)
    chat_event = parse_event(chat)
    assert chat_event.type == "b-t-f" and chat_event.uid.startswith("GeoChat.")
    root = ElementTree.fromstring(chat)
    assert root.findtext("detail/remarks") == (
        '[HIGH] zone.violation a-7 open: Tank company <T-72> & "friends" crossed'
    )
    assert parse_event(marker).stale > now
    resolved = alert.model_copy(update={"event": "resolved"})
    assert parse_event(outbound.alert_events(resolved, now, timedelta(hours=1), 2)[1]).stale == now
