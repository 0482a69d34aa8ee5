"""``start: assigned``: SLA clocks that start when a ticket is taken in hand.

Same office as tests/unit/test_sla.py: business hours are 08:00-11:30 and
12:30-17:00 UTC on weekdays of November 2026; urgent targets are first
response 1h, next response 1h, resolution 4h.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from exporter.config import SlaStart, parse_config
from exporter.engine import Plan, decide
from exporter.model import Ticket
from exporter.sla import ClockState, clock_status, clocks_for
from exporter.slo import Evaluator, Result
from tests.builders import (
    OFFICE_CONFIG_FROM_ASSIGNMENT,
    assigned,
    office_config,
    reply,
    requester,
    solved,
    status,
    ticket,
    ts,
)

CONFIG = parse_config(OFFICE_CONFIG_FROM_ASSIGNMENT)
EVALUATOR = Evaluator(CONFIG)
CREATED_EVALUATOR = Evaluator(office_config())
OFFICE = EVALUATOR.calendars["office"]


@dataclass(frozen=True)
class Expect:
    state: ClockState
    elapsed: float
    deadline: str | None
    stopped_at: str | None = None
    breached_at: str | None = None


#: state, elapsed business seconds, deadline, stopped at, breached at
Seen = tuple[ClockState, float, float | None, float | None, float | None]


def status_of(t: Ticket, metric: str, at: str) -> Seen:
    clocks = EVALUATOR.clocks(t, metric, ts(at))
    assert len(clocks) == 1
    target = EVALUATOR.slas[metric].targets[t.priority].seconds
    s = clock_status(clocks[0], OFFICE, target, ts(at))
    return (s.state, s.elapsed_business_seconds, s.deadline, s.stopped_at, s.breached_at)


def expected(e: Expect) -> Seen:
    def instant(text: str | None) -> float | None:
        return ts(text) if text else None

    return (e.state, e.elapsed, instant(e.deadline), instant(e.stopped_at), instant(e.breached_at))


def test_the_office_config_starts_every_sla_at_the_assignment() -> None:
    assert {sla.start for sla in CONFIG.slas.values()} == {SlaStart.ASSIGNED}
    assert {sla.start for sla in office_config().slas.values()} == {SlaStart.CREATED}


FIRST_RESPONSE_CASES = [
    pytest.param(
        ticket("2026-11-02 08:00", assigned("2026-11-02 09:00"), reply("2026-11-02 09:30")),
        "2026-11-02 12:00",
        Expect(ClockState.MET, 1800, "2026-11-02 10:00", "2026-11-02 09:30"),
        id="assigned-later-starts-the-clock-then",
    ),
    pytest.param(
        ticket("2026-11-02 08:00", assigned("2026-11-02 09:00")),
        "2026-11-02 09:20",
        Expect(ClockState.RUNNING, 1200, "2026-11-02 10:00"),
        id="running-since-the-assignment",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00", assigned("2026-11-02 08:45", to="group"), reply("2026-11-02 09:00")
        ),
        "2026-11-02 12:00",
        Expect(ClockState.MET, 900, "2026-11-02 09:45", "2026-11-02 09:00"),
        id="an-assignment-to-a-group-starts-it-too",
    ),
    pytest.param(
        ticket("2026-11-02 08:00", reply("2026-11-02 09:30"), assigned("2026-11-02 10:00")),
        "2026-11-02 12:00",
        Expect(ClockState.MET, 0, "2026-11-02 10:30", "2026-11-02 09:30"),
        id="a-reply-before-any-assignment-meets-it-in-no-time",
    ),
    pytest.param(
        ticket("2026-11-02 08:00", solved("2026-11-02 09:00")),
        "2026-11-02 12:00",
        Expect(ClockState.MET, 0, "2026-11-02 10:00", "2026-11-02 09:00"),
        id="solved-before-any-assignment-meets-it-in-no-time",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            assigned("2026-11-02 08:30"),
            assigned("2026-11-02 09:00"),
            reply("2026-11-02 09:45"),
        ),
        "2026-11-02 12:00",
        Expect(
            ClockState.BREACHED, 4500, "2026-11-02 09:30", "2026-11-02 09:45", "2026-11-02 09:30"
        ),
        id="a-reassignment-does-not-restart-it",
    ),
    pytest.param(
        ticket("2026-11-06 16:30", assigned("2026-11-06 17:30"), reply("2026-11-09 08:20")),
        "2026-11-09 12:00",
        Expect(ClockState.MET, 1200, "2026-11-09 09:00", "2026-11-09 08:20"),
        id="assigned-after-hours-counts-from-the-next-opening",
    ),
]


@pytest.mark.parametrize(("t", "at", "expect"), FIRST_RESPONSE_CASES)
def test_first_response_from_the_assignment(t: Ticket, at: str, expect: Expect) -> None:
    assert status_of(t, "first_response", at) == expected(expect)


RESOLUTION_CASES = [
    pytest.param(
        ticket("2026-11-02 08:00", assigned("2026-11-02 09:00"), solved("2026-11-02 10:00")),
        "2026-11-02 16:00",
        # 4h from 09:00: 09:00-11:30 and 12:30-14:00
        Expect(ClockState.MET, 3600, "2026-11-02 14:00", "2026-11-02 10:00"),
        id="starts-at-the-assignment",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            assigned("2026-11-02 08:30"),
            status("2026-11-02 09:30", "pending"),
        ),
        "2026-11-02 10:00",
        Expect(ClockState.PAUSED, 3600, None),
        id="pauses-as-before",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            status("2026-11-02 08:30", "pending"),
            assigned("2026-11-02 09:00"),
            status("2026-11-02 10:00", "open"),
        ),
        "2026-11-02 11:00",
        # paused when assigned: runs from 10:00; 3h left at 11:00 -> 11:30 and 12:30-15:00
        Expect(ClockState.RUNNING, 3600, "2026-11-02 15:00"),
        id="assigned-while-pending-starts-paused",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            assigned("2026-11-02 09:00"),
            solved("2026-11-02 10:00"),
            status("2026-11-03 08:00", "open"),
        ),
        "2026-11-03 09:00",
        # 1h before the solve, 1h since the reopen: 2h left from 09:00
        Expect(ClockState.RUNNING, 7200, "2026-11-03 11:00"),
        id="a-reopen-resumes-it",
    ),
]


@pytest.mark.parametrize(("t", "at", "expect"), RESOLUTION_CASES)
def test_resolution_from_the_assignment(t: Ticket, at: str, expect: Expect) -> None:
    assert status_of(t, "resolution", at) == expected(expect)


@pytest.mark.parametrize("metric", ["first_response", "resolution"])
@pytest.mark.parametrize(
    "t",
    [
        pytest.param(ticket("2026-11-02 08:00"), id="nothing-happened"),
        pytest.param(
            ticket(
                "2026-11-02 08:00",
                reply("2026-11-02 08:00:05", automated=True),
                reply("2026-11-02 08:30", public=False),
                status("2026-11-02 09:00", "pending"),
            ),
            id="auto-reply-note-and-status-do-not-take-it",
        ),
    ],
)
def test_a_ticket_never_taken_in_hand_has_no_clock(t: Ticket, metric: str) -> None:
    assert EVALUATOR.clocks(t, metric, ts("2026-11-05 12:00")) == []
    assert CREATED_EVALUATOR.clocks(t, metric, ts("2026-11-05 12:00")) != []


def test_a_ticket_never_assigned_is_pending_not_bad_days_later() -> None:
    t = ticket("2026-11-02 08:00")
    evaluation = EVALUATOR.evaluate(t, ts("2026-11-09 12:00"))
    before = CREATED_EVALUATOR.evaluate(t, ts("2026-11-09 12:00"))
    assert evaluation.slos["urgent-first-response"] == []
    assert [o.result for o in before.slos["urgent-first-response"]] == [Result.BAD]


@pytest.mark.parametrize(
    "t",
    [
        pytest.param(
            ticket(
                "2026-11-02 08:00",
                reply("2026-11-02 08:10"),
                requester("2026-11-02 09:00"),
                assigned("2026-11-02 09:30"),
                reply("2026-11-02 10:30"),
            ),
            id="cycle-before-the-assignment-follows-a-reply-that-took-the-ticket",
        ),
        pytest.param(
            ticket(
                "2026-11-02 08:00",
                assigned("2026-11-02 08:05"),
                reply("2026-11-02 08:10"),
                requester("2026-11-02 09:00"),
                reply("2026-11-02 09:20"),
            ),
            id="cycle-after-the-assignment",
        ),
    ],
)
def test_next_response_cycles_are_the_same_from_the_assignment(t: Ticket) -> None:
    at = ts("2026-11-02 16:00")
    from_assignment = clocks_for(t, "next_response", at, from_assignment=True)
    assert from_assignment == clocks_for(t, "next_response", at)
    assert len(from_assignment) == 1


@pytest.mark.parametrize(
    ("t", "created_elapsed", "assigned_elapsed"),
    [
        pytest.param(
            ticket("2026-11-02 08:00", assigned("2026-11-02 09:00"), reply("2026-11-02 09:30")),
            5400,
            1800,
            id="assigned-an-hour-in",
        ),
        pytest.param(
            ticket("2026-11-02 08:00", assigned("2026-11-02 08:00"), reply("2026-11-02 09:30")),
            5400,
            5400,
            id="assigned-at-creation-changes-nothing",
        ),
    ],
)
def test_start_assigned_measures_less_than_start_created(
    t: Ticket, created_elapsed: float, assigned_elapsed: float
) -> None:
    at = ts("2026-11-02 12:00")
    (created,) = CREATED_EVALUATOR.evaluate(t, at).slas["first_response"]
    (from_assignment,) = EVALUATOR.evaluate(t, at).slas["first_response"]
    assert created.elapsed_business_seconds == created_elapsed
    assert from_assignment.elapsed_business_seconds == assigned_elapsed


SOURCES_ABLE = {
    "zendesk": "{type: zendesk, url: 'https://a.zendesk.com', email: a@b.example, token_env: T}",
    "jira": "{type: jira, url: 'https://a.atlassian.net', email: a@b.example, token_env: T}",
    "zammad": "{type: zammad, url: 'https://zammad.example', token_env: T}",
    "intercom": "{type: intercom, token_env: T}",
    "demo": "{type: demo}",
    "file": "{type: file, path: tickets.jsonl}",
}


@pytest.mark.parametrize("source", list(SOURCES_ABLE.values()), ids=list(SOURCES_ABLE))
def test_start_assigned_is_accepted_for_sources_that_report_assignments(source: str) -> None:
    text = OFFICE_CONFIG_FROM_ASSIGNMENT.replace(
        "source: {type: file, path: tickets.jsonl}", f"source: {source}"
    )
    assert parse_config(text).slas["resolution"].start is SlaStart.ASSIGNED


PLAN = Plan(CONFIG)


@pytest.mark.parametrize(
    ("t", "unassigned", "unanswered"),
    [
        pytest.param(ticket("2026-11-02 08:00"), True, True, id="new-ticket"),
        pytest.param(
            ticket("2026-11-02 08:00", assigned("2026-11-02 08:30", to="group")),
            True,
            True,
            id="in-a-group-queue-still-unassigned",
        ),
        pytest.param(
            ticket("2026-11-02 08:00", assigned("2026-11-02 08:30")),
            False,
            True,
            id="assigned-to-an-agent",
        ),
        pytest.param(
            ticket("2026-11-02 08:00", reply("2026-11-02 08:30")),
            True,
            False,
            id="answered-without-an-assignment",
        ),
    ],
)
def test_unassigned_and_unanswered_tickets_do_not_depend_on_the_clock_start(
    t: Ticket, unassigned: bool, unanswered: bool
) -> None:
    now = ts("2026-11-02 10:00")
    decision = decide(PLAN, t, now, now)
    assert (decision.unassigned, decision.unanswered) == (unassigned, unanswered)
