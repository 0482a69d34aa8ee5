"""The normalized ticket's JSON form: parsing, errors that name the field, round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.model import (
    EventType,
    InstantRangeError,
    Priority,
    TicketFormatError,
    ticket_from_json,
    ticket_to_json,
)

#: the example of docs/design.md, "Tickets and time"
DOCUMENTED_TICKET: dict[str, Any] = {
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


def test_the_documented_ticket_is_the_one_in_the_docs() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "design.md").read_text()
    block = text.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == DOCUMENTED_TICKET


def test_documented_ticket_parses() -> None:
    t = ticket_from_json(DOCUMENTED_TICKET)
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
    t = ticket_from_json(DOCUMENTED_TICKET)
    assert ticket_from_json(ticket_to_json(t)) == t


@pytest.mark.parametrize("to", [None, "agent", "group"])
def test_assignments_to_an_agent_or_a_group_round_trip(to: str | None) -> None:
    event = {"at": "2026-11-02T08:30:00Z", "type": "assigned", **({"to": to} if to else {})}
    t = ticket_from_json({**DOCUMENTED_TICKET, "events": [event]})
    assert t.events[0].to == to
    assert ticket_to_json(t)["events"] == [event]


def test_events_are_sorted_by_time() -> None:
    record = dict(DOCUMENTED_TICKET, events=list(reversed(DOCUMENTED_TICKET["events"])))
    times = [e.at for e in ticket_from_json(record).events]
    assert times == sorted(times)


def test_offsets_are_converted_to_utc() -> None:
    t = ticket_from_json(dict(DOCUMENTED_TICKET, created_at="2026-11-02T09:15:00+01:00"))
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
        pytest.param(
            {"events": [{"at": "2026-11-02T08:00:00Z", "type": "assigned", "to": "queue"}]},
            "events[0].to: an assignment is to 'agent' (the default) or 'group', got 'queue'",
            id="assigned-to-neither-agent-nor-group",
        ),
    ],
)
def test_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(TicketFormatError) as raised:
        ticket_from_json({**DOCUMENTED_TICKET, **change})
    assert message in str(raised.value)


OUT_OF_RANGE = [
    ("year 0001", {"created_at": "0001-01-01T00:00:00Z"}, "created_at"),
    (
        "year 0001 with an offset east of UTC",
        {"created_at": "0001-01-01T00:30:00+01:00"},
        "created_at",
    ),
    ("year 9999", {"created_at": "9999-12-31T23:00:00Z"}, "created_at"),
    ("past year 9999 in UTC", {"created_at": "9999-12-31T23:30:00-01:00"}, "created_at"),
    ("before 1970", {"created_at": "1969-12-31T23:59:59Z"}, "created_at"),
    ("from 2200 on", {"created_at": "2200-01-01T00:00:00Z"}, "created_at"),
    (
        "an event in year 9999",
        {"events": [{"at": "9999-01-01T00:00:00Z", "type": "solved"}]},
        "events[0].at",
    ),
    (
        "a native deadline in year 0001",
        {"native": [{"metric": "first_response", "deadline": "0001-01-01T00:00:00Z"}]},
        "native[0].deadline",
    ),
]


@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in OUT_OF_RANGE], ids=[c[0] for c in OUT_OF_RANGE]
)
def test_times_outside_the_supported_years_are_range_errors(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InstantRangeError) as raised:
        ticket_from_json({**DOCUMENTED_TICKET, **change})
    assert f"{field}: time" in str(raised.value)
    assert "outside the years 1970 to 2199" in str(raised.value)


IN_RANGE = [
    ("the first instant of 1970", "1970-01-01T00:00:00Z"),
    ("the last second of 2199", "2199-12-31T23:59:59Z"),
    ("an offset that lands in 1970", "1970-01-01T00:30:00-01:00"),
]


@pytest.mark.parametrize("instant", [c[1] for c in IN_RANGE], ids=[c[0] for c in IN_RANGE])
def test_times_at_the_edges_of_the_supported_years_parse(instant: str) -> None:
    record = {**DOCUMENTED_TICKET, "created_at": instant}
    record["events"] = [{"at": instant, "type": "solved"}]
    ticket = ticket_from_json(record)
    assert ticket.created_at == ticket.events[0].at


def test_null_priority_defaults_to_normal() -> None:
    assert ticket_from_json(dict(DOCUMENTED_TICKET, priority=None)).priority is Priority.NORMAL


@given(st.integers(min_value=1_600_000_000, max_value=1_900_000_000))
def test_instants_round_trip(epoch: int) -> None:
    from datetime import UTC, datetime

    from exporter.model import format_instant, parse_instant

    value = datetime.fromtimestamp(epoch, UTC)
    assert parse_instant(format_instant(value), "t") == value
