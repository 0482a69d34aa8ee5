"""Where a ticket's time goes: business seconds per status group."""

from __future__ import annotations

import pytest

from exporter.calendar import BusinessCalendar
from exporter.status_time import STATUS_GROUPS, business_seconds_by_status, status_stretches
from tests.builders import office_config, solved, status, ticket, ts

ALWAYS = BusinessCalendar.always()
MIN = 60.0

CASES = [
    pytest.param(
        ticket("2026-11-02 09:00"), "2026-11-02 10:00", {"open": 60 * MIN}, id="open-until-now"
    ),
    pytest.param(
        ticket(
            "2026-11-02 09:00",
            status("2026-11-02 09:10", "pending"),
            status("2026-11-02 09:40", "open"),
            solved("2026-11-02 10:00"),
        ),
        "2026-11-03 00:00",
        {"open": 30 * MIN, "pending": 30 * MIN},
        id="pending-splits-open-and-solve-stops",
    ),
    pytest.param(
        ticket(
            "2026-11-02 09:00",
            status("2026-11-02 09:20", "on_hold"),
            status("2026-11-02 09:50", "solved"),
            status("2026-11-02 11:00", "open"),
            status("2026-11-02 11:15", "pending"),
        ),
        "2026-11-02 12:00",
        {"open": 20 * MIN, "on_hold": 30 * MIN, "reopened": 15 * MIN, "pending": 45 * MIN},
        id="reopen-after-solve-counts-apart",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", {"at": "2026-11-02T09:05:00Z", "type": "reopened"}),
        "2026-11-02 09:30",
        {"open": 5 * MIN, "reopened": 25 * MIN},
        id="reopened-event",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", status("2026-11-02 09:30", "escalated")),
        "2026-11-02 10:00",
        {"open": 30 * MIN, "on_hold": 30 * MIN},
        id="escalated-is-on-hold",
    ),
    pytest.param(
        ticket(
            "2026-11-02 09:00", solved("2026-11-02 09:10"), status("2026-11-02 09:20", "closed")
        ),
        "2026-11-02 12:00",
        {"open": 10 * MIN},
        id="closing-a-solved-ticket-adds-nothing",
    ),
    pytest.param(ticket("2026-11-02 09:00"), "2026-11-02 08:00", {}, id="before-creation"),
]


@pytest.mark.parametrize(("t", "until", "expected"), CASES)
def test_time_splits_by_status_group(t, until, expected):
    got = business_seconds_by_status(t, ALWAYS, ts(until))
    assert got == {group: expected.get(group, 0.0) for group in STATUS_GROUPS}


def test_groups_of_a_solved_ticket_add_up_to_its_business_time_to_resolution():
    office = office_config().build_calendars()["office"]
    t = ticket(
        "2026-11-02 16:30",  # Monday, 17:30 Paris: half an hour before closing
        status("2026-11-02 16:50", "pending"),
        status("2026-11-03 08:30", "open"),  # Tuesday 09:30 Paris
        solved("2026-11-03 09:00"),
    )
    got = business_seconds_by_status(t, office, ts("2026-11-04 00:00"))
    assert got["open"] == 20 * MIN + 30 * MIN
    assert got["pending"] == 10 * MIN + 30 * MIN
    start, end = ts("2026-11-02 16:30"), ts("2026-11-03 09:00")
    assert sum(got.values()) == office.elapsed_ts(start, end)


def test_stretches_never_overlap_and_end_at_until():
    t = ticket("2026-11-02 09:00", status("2026-11-02 09:10", "pending"))
    stretches = list(status_stretches(t, ts("2026-11-02 10:00")))
    assert stretches == [
        ("open", ts("2026-11-02 09:00"), ts("2026-11-02 09:10")),
        ("pending", ts("2026-11-02 09:10"), ts("2026-11-02 10:00")),
    ]
