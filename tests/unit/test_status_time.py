"""Where a ticket's time goes: business seconds per status group."""

from __future__ import annotations

import itertools

import pytest

from exporter.calendar import BusinessCalendar
from exporter.config import parse_config
from exporter.status_time import (
    STATUS_GROUPS,
    accrue,
    business_seconds_by_status,
    status_calendar,
    status_stretches,
)
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
    pytest.param(
        ticket(
            "2026-11-02 09:00",
            status("2026-11-02 09:10", "pending"),
            {"at": "2026-11-02T09:40:00Z", "type": "requester_reply"},
            status="closed",
        ),
        "2026-11-02 12:00",
        {"open": 10 * MIN, "pending": 30 * MIN},
        id="closed-without-a-closing-event-ends-at-its-last-event",
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


# --- the calendar status time is counted on ------------------------------------------------------

TWO_CALENDARS = """
service: support
source: {type: file, path: tickets.jsonl}
calendars:
  office: {timezone: Europe/Paris, hours: {mon-fri: ["09:00-18:00"]}}
  late: {timezone: Europe/Paris, hours: {mon-fri: ["14:00-22:00"]}}
"""


@pytest.mark.parametrize(
    ("slas", "expected"),
    [
        pytest.param(
            "slas:\n  first_response: {calendar: office, targets: {urgent: 1h}}\n"
            "  resolution: {calendar: late, targets: {urgent: 4h}}\n",
            "late",
            id="the-resolution-sla-calendar",
        ),
        pytest.param(
            "slas:\n  next_response: {calendar: late, targets: {urgent: 1h}}\n"
            "  first_response: {calendar: office, targets: {urgent: 1h}}\n",
            "late",
            id="without-resolution-the-first-sla-in-the-file",
        ),
        pytest.param(
            "slas:\n  resolution: {targets: {urgent: 4h}}\n",
            "office",
            id="an-sla-without-calendar-takes-the-first-calendar",
        ),
        pytest.param("slos: []\n", "24x7", id="without-any-sla-24x7"),
    ],
)
def test_status_time_counts_on_the_resolution_calendar(slas, expected):
    config = parse_config(TWO_CALENDARS + slas)
    calendars = config.build_calendars()
    got = status_calendar(config, calendars)
    assert got.name == expected


# --- accrual for the counters ------------------------------------------------------------------

EPOCH = ts("2026-11-02 08:00")


def _run(polls, calendar=ALWAYS):
    """Accrue one ticket at each poll ``(horizon, ticket)``; every group's counter after each."""
    counters = dict.fromkeys(STATUS_GROUPS, 0.0)
    previous, previous_horizon, seen = None, EPOCH, []
    for horizon, t in polls:
        accrual, added = accrue(t, calendar, EPOCH, ts(horizon), previous, previous_horizon)
        for group, seconds in added.items():
            counters[group] += seconds
        seen.append(dict(counters))
        previous, previous_horizon = accrual, ts(horizon)
    return seen


OPEN_0810 = ticket("2026-11-02 08:10")
PENDING_0930 = ticket("2026-11-02 08:10", status("2026-11-02 09:30", "pending"))
SOLVED_1030 = ticket(
    "2026-11-02 08:10",
    status("2026-11-02 09:30", "pending"),
    solved("2026-11-02 10:30"),
    status="solved",
)

ACCRUAL = [
    pytest.param(
        [
            ("2026-11-02 09:00", OPEN_0810),
            ("2026-11-02 10:00", PENDING_0930),
            ("2026-11-02 11:00", SOLVED_1030),
            ("2026-11-02 12:00", SOLVED_1030),
        ],
        {"open": 80 * MIN, "pending": 60 * MIN},
        id="open-pending-solved-across-polls",
    ),
    pytest.param(
        [("2026-11-02 09:00", OPEN_0810), ("2026-11-02 09:00", OPEN_0810)],
        {"open": 50 * MIN},
        id="watermark-not-advancing-adds-nothing",
    ),
    pytest.param(
        [
            ("2026-11-02 10:00", OPEN_0810),
            ("2026-11-02 11:00", ticket("2026-11-02 08:10", status("2026-11-02 09:00", "pending"))),
        ],
        # published: 110 min open at 10:00; the late pending (09:00) counts from then in
        # pending and stays counted in open: 60 min too many, never fewer
        {"open": 110 * MIN, "pending": 120 * MIN},
        id="back-dated-change-never-takes-back",
    ),
    pytest.param(
        [
            ("2026-11-02 09:00", OPEN_0810),
            (
                "2026-11-02 10:00",
                ticket("2026-11-02 08:10", status("2026-11-02 09:30", "closed"), status="closed"),
            ),
            (
                "2026-11-02 11:00",
                ticket("2026-11-02 08:10", status("2026-11-02 09:30", "closed"), status="closed"),
            ),
        ],
        {"open": 80 * MIN},
        id="deleted-ticket-closed-stops-and-keeps-its-time",
    ),
    pytest.param(
        [
            ("2026-11-02 09:00", OPEN_0810),
            (
                "2026-11-02 10:00",
                ticket("2026-11-02 08:10", status("2026-11-02 09:30", "pending"), status="closed"),
            ),
            (
                "2026-11-02 11:00",
                ticket("2026-11-02 08:10", status("2026-11-02 09:30", "pending"), status="closed"),
            ),
        ],
        {"open": 80 * MIN},
        id="closed-without-a-closing-event-stops-at-its-last-event",
    ),
    pytest.param(
        [("2026-11-02 10:00", ticket("2026-11-02 07:00"))],
        {"open": 120 * MIN},
        id="time-before-the-epoch-is-not-counted",
    ),
    pytest.param(
        [("2026-11-02 07:30", OPEN_0810), ("2026-11-02 09:00", OPEN_0810)],
        {"open": 50 * MIN},
        id="ticket-created-past-the-horizon-counts-from-creation",
    ),
]


@pytest.mark.parametrize(("polls", "expected"), ACCRUAL)
def test_accrual_across_polls(polls, expected):
    seen = _run([(at, t) for at, t in polls])
    assert seen[-1] == {group: expected.get(group, 0.0) for group in STATUS_GROUPS}
    for before, after in itertools.pairwise(seen):
        assert all(after[group] >= before[group] for group in STATUS_GROUPS)


def test_closed_business_hours_add_nothing():
    office = office_config().build_calendars()["office"]
    t = ticket("2026-11-02 16:00")  # Monday 17:00 Paris, open an hour before closing
    seen = _run([("2026-11-02 17:00", t), ("2026-11-03 07:00", t)], office)
    assert seen == [{**dict.fromkeys(STATUS_GROUPS, 0.0), "open": 60 * MIN}] * 2


def test_a_status_change_past_the_horizon_is_due_for_a_recheck():
    t = ticket("2026-11-02 08:10", status("2026-11-02 09:05", "pending"))
    accrual, _ = accrue(t, ALWAYS, EPOCH, ts("2026-11-02 09:00"), None, EPOCH)
    assert (accrual.running, accrual.recheck_at) == ("open", ts("2026-11-02 09:05"))
    again, added = accrue(t, ALWAYS, EPOCH, ts("2026-11-02 10:00"), accrual, ts("2026-11-02 09:00"))
    assert (again.running, again.recheck_at) == ("pending", None)
    assert added == {"open": 5 * MIN, "pending": 55 * MIN}


def test_a_priority_change_adds_under_the_new_priority_only():
    first, _ = accrue(OPEN_0810, ALWAYS, EPOCH, ts("2026-11-02 09:00"), None, EPOCH)
    moved = ticket("2026-11-02 08:10", priority="low")
    again, added = accrue(
        moved, ALWAYS, EPOCH, ts("2026-11-02 10:00"), first, ts("2026-11-02 09:00")
    )
    # the 50 minutes published under urgent stay there; the hour since goes under low
    assert (first.priority, again.priority) == ("urgent", "low")
    assert added == {"open": 60 * MIN}
    assert again.published(ALWAYS, ts("2026-11-02 11:00"))[0] == 170 * MIN


def test_a_ticket_entirely_before_the_epoch_keeps_nothing():
    old = ticket("2026-11-01 08:00", solved("2026-11-01 09:00"), status="solved")
    assert accrue(old, ALWAYS, EPOCH, ts("2026-11-02 10:00"), None, EPOCH) == (None, {})
