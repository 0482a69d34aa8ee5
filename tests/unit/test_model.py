"""The normalized ticket's JSON form: parsing, errors that name the field, round trip."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.model import (
    EventType,
    Priority,
    TicketFormatError,
    ticket_from_json,
    ticket_to_json,
)

DESIGN_EXAMPLE: dict[str, Any] = {
    "id": "123",
    "created_at": "2026-11-02T08:15:00Z",
    "status": "open",
    "priority": "urgent",
    "channel": "email",
    "group": "tier1",
    "brand": None,
    "type": "incident",
    "tags": ["vip"],
    "events": [
        {"at": "2026-11-02T08:15:05Z", "type": "agent_reply", "public": True, "automated": True},
        {
            "at": "2026-11-02T09:40:00Z",
            "type": "agent_reply",
            "public": True,
            "automated": False,
            "author": "agent",
        },
        {"at": "2026-11-02T09:41:00Z", "type": "status", "to": "pending"},
        {"at": "2026-11-03T10:00:00Z", "type": "requester_reply"},
        {"at": "2026-11-03T11:00:00Z", "type": "solved"},
        {"at": "2026-11-03T12:00:00Z", "type": "csat", "rating": "good"},
    ],
}


def test_design_example_parses() -> None:
    t = ticket_from_json(DESIGN_EXAMPLE)
    assert t.id == "123"
    assert t.priority is Priority.URGENT
    assert t.brand is None
    assert [e.type for e in t.events] == [
        EventType.AGENT_REPLY,
        EventType.AGENT_REPLY,
        EventType.STATUS,
        EventType.REQUESTER_REPLY,
        EventType.SOLVED,
        EventType.CSAT,
    ]
    assert t.events[0].automated and not t.events[1].automated
    assert t.created_at.utcoffset() is not None


def test_round_trip() -> None:
    t = ticket_from_json(DESIGN_EXAMPLE)
    assert ticket_from_json(ticket_to_json(t)) == t


def test_events_are_sorted_by_time() -> None:
    record = dict(DESIGN_EXAMPLE, events=list(reversed(DESIGN_EXAMPLE["events"])))
    times = [e.at for e in ticket_from_json(record).events]
    assert times == sorted(times)


def test_offsets_are_converted_to_utc() -> None:
    t = ticket_from_json(dict(DESIGN_EXAMPLE, created_at="2026-11-02T09:15:00+01:00"))
    assert ticket_to_json(t)["created_at"] == "2026-11-02T08:15:00Z"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"id": None}, "id: every ticket needs an id", id="no-id"),
        pytest.param({"created_at": "2026-11-02"}, "created_at: time", id="date-without-time"),
        pytest.param({"created_at": "2026-11-02T08:00:00"}, "has no offset", id="naive-time"),
        pytest.param({"priority": "p1"}, "priority: 'p1' is not one of", id="unknown-priority"),
        pytest.param({"tags": "vip"}, "tags: expected a list", id="tags-not-a-list"),
        pytest.param(
            {"events": [{"at": "2026-11-02T08:00:00Z", "type": "phone_call"}]},
            "events[0].type",
            id="unknown-event-type",
        ),
        pytest.param(
            {"events": [{"at": "2026-11-02T08:00:00Z", "type": "status"}]},
            "events[0].to",
            id="status-without-to",
        ),
        pytest.param(
            {"events": [{"at": "2026-11-02T08:00:00Z", "type": "csat", "rating": "meh"}]},
            "events[0].rating",
            id="unknown-rating",
        ),
    ],
)
def test_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(TicketFormatError) as raised:
        ticket_from_json({**DESIGN_EXAMPLE, **change})
    assert message in str(raised.value)


def test_null_priority_defaults_to_normal() -> None:
    assert ticket_from_json(dict(DESIGN_EXAMPLE, priority=None)).priority is Priority.NORMAL


@given(st.integers(min_value=1_600_000_000, max_value=1_900_000_000))
def test_instants_round_trip(epoch: int) -> None:
    from datetime import UTC, datetime

    from exporter.model import format_instant, parse_instant

    value = datetime.fromtimestamp(epoch, UTC)
    assert parse_instant(format_instant(value), "t") == value
