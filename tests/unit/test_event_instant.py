"""An event's epoch seconds are derived from its time and change nothing else about it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.model import (
    EventType,
    TicketEvent,
    event_from_json,
    event_to_json,
    format_instant,
)
from exporter.sources.values import iso
from exporter.store import Store

AT = datetime(2026, 11, 2, 8, 15, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "at",
    [
        pytest.param(AT, id="utc"),
        pytest.param(AT.replace(microsecond=250), id="utc-microseconds"),
        pytest.param(AT.astimezone(timezone(timedelta(hours=-5))), id="other-offset"),
    ],
)
def test_event_seconds_equal_its_timestamp(at: datetime) -> None:
    assert TicketEvent(at, EventType.SOLVED).ts == at.timestamp()


def test_event_seconds_follow_a_replaced_time() -> None:
    later = replace(TicketEvent(AT, EventType.SOLVED), at=AT + timedelta(hours=1))
    assert later.ts == (AT + timedelta(hours=1)).timestamp()


def test_event_seconds_take_no_part_in_equality_or_json() -> None:
    event = TicketEvent(AT, EventType.STATUS, to="pending")
    same = TicketEvent(AT.astimezone(timezone(timedelta(hours=2))), EventType.STATUS, to="pending")
    assert event == same and hash(event) == hash(same)
    record = event_to_json(event)
    assert "ts" not in record
    assert event_from_json(record, "event") == event


@pytest.mark.parametrize(
    ("at", "text"),
    [
        pytest.param(AT, "2026-11-02T08:15:05Z", id="utc"),
        pytest.param(datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC), "0005-01-02T03:04:05Z", id="year-5"),
        pytest.param(AT.replace(microsecond=7), "2026-11-02T08:15:05.000007Z", id="microseconds"),
        pytest.param(
            AT.astimezone(timezone(timedelta(hours=2))), "2026-11-02T08:15:05Z", id="offset"
        ),
    ],
)
def test_format_instant_writes_utc_with_z(at: datetime, text: str) -> None:
    assert format_instant(at) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(AT.timestamp(), "2026-11-02T08:15:05Z", id="whole-seconds"),
        pytest.param(int(AT.timestamp()), "2026-11-02T08:15:05Z", id="integer"),
        pytest.param(AT.timestamp() + 0.25, "2026-11-02T08:15:05.250000Z", id="fraction"),
        pytest.param(0, "1970-01-01T00:00:00Z", id="epoch"),
    ],
)
def test_format_instant_writes_posix_seconds_as_their_utc_time(seconds: float, text: str) -> None:
    assert format_instant(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(AT.timestamp(), "2026-11-02T08:15:05Z", id="whole-seconds"),
        pytest.param(AT.timestamp() + 0.75, "2026-11-02T08:15:05Z", id="fraction-dropped"),
        pytest.param(
            AT.timestamp() + 0.9999996, "2026-11-02T08:15:06Z", id="rounds-to-microsecond"
        ),
    ],
)
def test_query_parameter_times_have_whole_seconds(seconds: float, text: str) -> None:
    assert iso(seconds) == text


def test_checkpoint_keeps_every_committed_value(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path, clock=lambda: 0.0) as store:
        store.set_meta("key", "value")
        store.checkpoint()
        store.checkpoint()
    with Store(path) as reopened:
        assert reopened.meta("key") == "value"
        assert reopened.integrity_check() == "ok"
