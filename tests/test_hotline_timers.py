"""Acknowledgement timers on a fake clock, and who may read what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deconfliction.hotline import Hotline, HotlineError, MessageState, NotFound, Refused
from deconfliction.model import HotlineKind, HotlinePriority, Rule, Severity

T0 = datetime(2016, 9, 17, 13, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def _flash(hotline: Hotline, clock: FakeClock) -> str:
    message = hotline.compose(
        "coalition",
        "russia",
        HotlineKind.REQUEST,
        "Confirm forces near Deir ez-Zor",
        clock.now,
        priority=HotlinePriority.FLASH,
    )
    hotline.send(message, clock.now)
    return message.id


def test_flash_due_in_five_minutes_escalates_then_resolves_on_ack() -> None:
    clock = FakeClock(T0)
    hotline = Hotline(["coalition", "russia", "turkey"])
    mid = _flash(hotline, clock)
    assert hotline.record("coalition", mid).message.due == T0 + timedelta(minutes=5)
    assert hotline.evaluate(clock.advance(minutes=4, seconds=59)) == []
    assert hotline.next_deadline() == T0 + timedelta(minutes=5)

    [opened] = hotline.evaluate(clock.advance(seconds=1))
    assert (opened.event, opened.rule, opened.severity) == (
        "open",
        Rule.HOTLINE_UNACKNOWLEDGED,
        Severity.HIGH,
    )
    assert opened.party == "coalition" and opened.ref == mid
    assert "not acknowledged 0 s after its due time" in opened.message
    assert hotline.evaluate(clock.advance(minutes=3)) == []
    assert (
        hotline.messages("coalition", "outbox", clock.now, MessageState.OVERDUE)[0].message.id
        == mid
    )

    [critical] = hotline.evaluate(clock.advance(minutes=2))
    assert clock.now == T0 + timedelta(minutes=10)
    assert (critical.event, critical.severity, critical.id) == (
        "updated",
        Severity.CRITICAL,
        opened.id,
    )
    assert hotline.next_deadline() is None

    ack = hotline.compose(
        "russia", "coalition", HotlineKind.ACK, "Received", clock.advance(minutes=15), reply_to=mid
    )
    [resolved] = hotline.send(ack, clock.now).events
    assert (resolved.event, resolved.id) == ("resolved", opened.id)
    assert "acknowledged at 2016-09-17T13:25:00Z" in resolved.message
    assert "20 min after its due time" in resolved.message
    assert hotline.alerts("coalition") == []
    assert hotline.alerts("russia", open_only=False) == []
    assert hotline.record("russia", mid).state(clock.now) == MessageState.ACKNOWLEDGED


def test_an_ack_in_time_raises_nothing_and_a_second_ack_is_refused() -> None:
    clock = FakeClock(T0)
    hotline = Hotline(["coalition", "russia"])
    mid = _flash(hotline, clock)
    ack = hotline.compose(
        "russia", "coalition", HotlineKind.ACK, "Received", clock.advance(minutes=5), reply_to=mid
    )
    assert hotline.send(ack, clock.now).events == []
    assert hotline.evaluate(clock.advance(hours=1)) == []
    again = hotline.compose(
        "russia", "coalition", HotlineKind.ACK, "Received", clock.now, reply_to=mid
    )
    with pytest.raises(Refused, match="already acknowledged"):
        hotline.send(again, clock.now)
    assert len(hotline.transcript("coalition", "russia")) == 2


def test_the_sender_cannot_acknowledge_its_own_message() -> None:
    clock = FakeClock(T0)
    hotline = Hotline(["coalition", "russia"])
    mid = _flash(hotline, clock)
    ack = hotline.compose(
        "coalition", "russia", HotlineKind.ACK, "Received", clock.now, reply_to=mid
    )
    with pytest.raises(Exception, match="was not sent to 'coalition'"):
        hotline.send(ack, clock.now)


def test_a_response_acknowledges_and_settings_change_the_deadline() -> None:
    from deconfliction.hotline import HotlineSettings

    clock = FakeClock(T0)
    hotline = Hotline(["coalition", "russia"], HotlineSettings(ack_due_s={"flash": 120}))
    mid = _flash(hotline, clock)
    [opened] = hotline.evaluate(clock.advance(minutes=2))
    reply = hotline.compose(
        "russia",
        "coalition",
        HotlineKind.RESPONSE,
        "Not ours",
        clock.advance(minutes=1),
        reply_to=mid,
        body="Those are not our forces.",
    )
    [resolved] = hotline.send(reply, clock.now).events
    assert resolved.id == opened.id and resolved.event == "resolved"
    assert hotline.record("coalition", mid).state(clock.now) == MessageState.ANSWERED


def test_a_third_party_never_sees_a_message() -> None:
    clock = FakeClock(T0)
    hotline = Hotline(["coalition", "russia", "turkey"])
    mid = _flash(hotline, clock)
    with pytest.raises(NotFound):
        hotline.record("turkey", mid)
    with pytest.raises(NotFound):
        hotline.thread("turkey", mid)
    assert hotline.messages("turkey", "inbox", clock.now) == []
    assert hotline.messages("turkey", "outbox", clock.now) == []
    assert hotline.transcript("turkey", "coalition") == []
    assert [r.message.id for r in hotline.messages("russia", "inbox", clock.now)] == [mid]
    assert [r.message.id for r in hotline.thread("russia", mid)] == [mid]


def test_a_reply_to_another_pair_s_message_answers_as_a_missing_one() -> None:
    hotline = Hotline(["coalition", "russia", "turkey"])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    secret = hotline.compose("coalition", "turkey", HotlineKind.REQUEST, "between two", now)
    hotline.send(secret, now)
    answers = []
    for reply_to in (secret.id, "m-none"):
        ack = hotline.compose("russia", "coalition", HotlineKind.ACK, "ack", now, reply_to=reply_to)
        with pytest.raises(HotlineError) as refused:
            hotline.send(ack, now)
        answers.append(refused.value.args[0].replace(reply_to, "X"))
    assert answers[0] == answers[1] and "no message" in answers[0]
