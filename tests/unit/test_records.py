"""One ticket at a time: ``evaluate_ticket`` turns any failure into a located, counted skip."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from exporter.calendar import BusinessCalendar, CalendarRangeError
from exporter.model import EventType, NativeClock, Priority, Ticket, TicketEvent
from exporter.records import (
    SkippedRecord,
    SkipReason,
    evaluate_ticket,
    skip_reason,
)

GOOD_TIME = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)


def ticket(**changes: object) -> Ticket:
    fields: dict[str, object] = {
        "id": "42",
        "created_at": GOOD_TIME,
        "status": "open",
        "priority": Priority.URGENT,
    }
    fields.update(changes)
    return Ticket(**fields)  # type: ignore[arg-type]


def beyond_the_calendar(_: Ticket) -> float:
    office = BusinessCalendar("UTC", {0: [(32400, 32401)]}, name="office")
    return office.add_ts(GOOD_TIME.timestamp(), 1e12)  # a million years of one-second days


def fails(_: Ticket) -> float:
    raise KeyError("first_response")


def overflows(_: Ticket) -> float:
    raise OverflowError("date value out of range")


SKIPS = [
    # (case, ticket, evaluation, reason, fragment of the message)
    ("an evaluation error", ticket(), fails, SkipReason.EVALUATION, "'first_response'"),
    ("a date overflow", ticket(), overflows, SkipReason.OUT_OF_RANGE, "out of range"),
    (
        "a deadline past the calendar's years",
        ticket(),
        beyond_the_calendar,
        SkipReason.OUT_OF_RANGE,
        "beyond year",
    ),
    (
        "an API ticket created in year 0001",
        ticket(created_at=YEAR_ONE),
        lambda t: 1.0,
        SkipReason.OUT_OF_RANGE,
        "created_at: time 0001-01-01T00:00:00Z is outside the years 1970 to 2199",
    ),
    (
        "an API ticket with an event in year 9999",
        ticket(events=(TicketEvent(datetime(9999, 1, 1, tzinfo=UTC), EventType.SOLVED),)),
        lambda t: 1.0,
        SkipReason.OUT_OF_RANGE,
        "events: time 9999-01-01T00:00:00Z",
    ),
    (
        "an API ticket with a native deadline in year 0001",
        ticket(native=(NativeClock("first_response", deadline=YEAR_ONE),)),
        lambda t: 1.0,
        SkipReason.OUT_OF_RANGE,
        "native.deadline",
    ),
]


@pytest.mark.parametrize(
    ("record", "evaluate", "reason", "fragment"),
    [c[1:] for c in SKIPS],
    ids=[c[0] for c in SKIPS],
)
def test_a_ticket_that_cannot_be_evaluated_is_a_located_skip(
    record: Ticket, evaluate: object, reason: SkipReason, fragment: str
) -> None:
    outcome = evaluate_ticket(record, evaluate)  # type: ignore[arg-type]
    assert isinstance(outcome, SkippedRecord)
    assert outcome.reason is reason
    assert outcome.startswith("ticket 42: ")
    assert fragment in outcome
    assert "\n" not in outcome and "Traceback" not in outcome


def test_a_good_ticket_gives_the_evaluation_result() -> None:
    assert evaluate_ticket(ticket(), lambda t: t.id) == "42"


def test_a_long_ticket_id_is_cut_in_the_message() -> None:
    outcome = evaluate_ticket(ticket(id="7" * 100_000), fails)
    assert isinstance(outcome, SkippedRecord)
    assert len(outcome) < 200


def test_the_calendar_reports_its_range_as_a_range_error() -> None:
    with pytest.raises(CalendarRangeError):
        beyond_the_calendar(ticket())


def test_a_skipped_record_survives_a_trip_to_a_worker_process() -> None:
    skip = SkippedRecord(SkipReason.UNDECODABLE, "tickets.jsonl:3", "not UTF-8 text")
    copy = pickle.loads(pickle.dumps(skip))
    assert copy == "tickets.jsonl:3: not UTF-8 text"
    assert copy.reason is SkipReason.UNDECODABLE


REASONS = [
    (
        "a skipped record says its reason",
        SkippedRecord(SkipReason.OUT_OF_RANGE, "x:1", "y"),
        "out_of_range",
    ),
    (
        "a source's plain problem line is an invalid record",
        "tickets.json: [3] has no id",
        "invalid",
    ),
]


@pytest.mark.parametrize(
    ("problem", "reason"), [c[1:] for c in REASONS], ids=[c[0] for c in REASONS]
)
def test_skip_reason_of_a_problem_line(problem: str, reason: str) -> None:
    assert skip_reason(problem) == reason


def test_a_skip_line_is_one_line_of_bounded_length() -> None:
    skip = SkippedRecord(SkipReason.INVALID, "t.jsonl:1", "tags: got ['" + "x\n" * 500_000 + "']")
    assert "\n" not in skip
    assert len(skip) < 400
    assert pickle.loads(pickle.dumps(skip)) == skip
