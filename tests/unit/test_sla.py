"""SLA clocks, worked out by hand on an office calendar.

Office: Europe/Paris, 09:00-12:30 and 13:30-18:00 Mon-Fri, holiday Wed
2026-11-11.  In November Paris is UTC+1, so in the UTC times below business
hours are 08:00-11:30 and 12:30-17:00.  2026-11-02 is a Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from exporter.model import Author, Ticket
from exporter.sla import ClockState, clock_status, clocks_for
from exporter.slo import Evaluator
from tests.builders import (
    auto_ack,
    note,
    office_config,
    reply,
    requester,
    solved,
    status,
    ticket,
    ts,
)

CONFIG = office_config()
EVALUATOR = Evaluator(CONFIG)
OFFICE = EVALUATOR.calendars["office"]


@dataclass(frozen=True)
class Expect:
    state: ClockState
    elapsed: float
    deadline: str | None
    stopped_at: str | None = None
    breached_at: str | None = None


def latest_status(t: Ticket, metric: str, at: str, **kwargs: Any) -> Any:
    sla = CONFIG.slas[metric]
    clocks = clocks_for(
        t,
        metric,
        ts(at),
        replies_count=kwargs.get("replies_count", sla.replies_count),
        pause_statuses=sla.pause_statuses,
    )
    assert clocks, "expected at least one clock cycle"
    target = sla.targets[t.priority].seconds
    return clock_status(clocks[-1], OFFICE, target, ts(at), kwargs.get("watermark"))


def check(status_: Any, expect: Expect) -> None:
    assert status_.state is expect.state
    assert status_.elapsed_business_seconds == expect.elapsed
    assert status_.deadline == (ts(expect.deadline) if expect.deadline else None)
    assert status_.stopped_at == (ts(expect.stopped_at) if expect.stopped_at else None)
    assert status_.breached_at == (ts(expect.breached_at) if expect.breached_at else None)


FIRST_RESPONSE_CASES = [
    pytest.param(
        ticket("2026-11-02 08:15", auto_ack("2026-11-02 08:15:05"), reply("2026-11-02 08:35")),
        "2026-11-02 12:00",
        Expect(ClockState.MET, 1200, "2026-11-02 09:15", "2026-11-02 08:35"),
        id="auto-ack-ignored-human-reply-stops",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", auto_ack("2026-11-02 09:00:05"), reply("2026-11-02 10:30")),
        "2026-11-02 12:00",
        Expect(
            ClockState.BREACHED, 5400, "2026-11-02 10:00", "2026-11-02 10:30", "2026-11-02 10:00"
        ),
        id="late-reply-stays-breached",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", note("2026-11-02 09:10"), reply("2026-11-02 09:50")),
        "2026-11-02 12:00",
        Expect(ClockState.MET, 3000, "2026-11-02 10:00", "2026-11-02 09:50"),
        id="internal-note-does-not-stop",
    ),
    pytest.param(
        ticket(
            "2026-11-02 09:00",
            reply("2026-11-02 09:01", author="ai_agent"),
            reply("2026-11-02 09:30"),
        ),
        "2026-11-02 12:00",
        Expect(ClockState.MET, 1800, "2026-11-02 10:00", "2026-11-02 09:30"),
        id="ai-agent-reply-not-counted-by-default",
    ),
    pytest.param(
        ticket("2026-11-02 11:00", reply("2026-11-02 12:55")),
        "2026-11-02 16:00",
        Expect(ClockState.MET, 3300, "2026-11-02 13:00", "2026-11-02 12:55"),
        id="lunch-break-does-not-count",
    ),
    pytest.param(
        ticket("2026-11-02 10:30", reply("2026-11-02 11:30")),
        "2026-11-02 16:00",
        Expect(ClockState.MET, 3600, "2026-11-02 11:30", "2026-11-02 11:30"),
        id="reply-exactly-at-deadline-before-lunch-meets",
    ),
    pytest.param(
        ticket("2026-11-02 10:30", reply("2026-11-02 12:10")),
        "2026-11-02 16:00",
        Expect(
            ClockState.BREACHED, 3600, "2026-11-02 11:30", "2026-11-02 12:10", "2026-11-02 11:30"
        ),
        id="reply-during-lunch-after-deadline-is-late",
    ),
    pytest.param(
        ticket("2026-11-06 16:30", reply("2026-11-09 08:20")),
        "2026-11-09 12:00",
        Expect(ClockState.MET, 3000, "2026-11-09 08:30", "2026-11-09 08:20"),
        id="deadline-crosses-weekend",
    ),
    pytest.param(
        ticket("2026-11-10 16:45"),
        "2026-11-11 12:00",
        Expect(ClockState.RUNNING, 900, "2026-11-12 08:45"),
        id="holiday-has-no-business-time",
    ),
    pytest.param(
        ticket("2026-11-02 09:00"),
        "2026-11-02 09:40",
        Expect(ClockState.RUNNING, 2400, "2026-11-02 10:00"),
        id="running-before-deadline",
    ),
    pytest.param(
        ticket("2026-11-02 09:00"),
        "2026-11-02 10:00",
        Expect(ClockState.RUNNING, 3600, "2026-11-02 10:00"),
        id="exactly-at-deadline-not-yet-breached",
    ),
    pytest.param(
        ticket("2026-11-02 09:00"),
        "2026-11-02 10:00:01",
        Expect(ClockState.BREACHED, 3601, "2026-11-02 10:00", None, "2026-11-02 10:00"),
        id="one-second-past-deadline-breached",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", reply("2026-11-02 09:30")),
        "2026-11-02 09:20",
        Expect(ClockState.RUNNING, 1200, "2026-11-02 10:00"),
        id="events-after-at-are-ignored",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", solved("2026-11-02 09:05")),
        "2026-11-02 12:00",
        Expect(ClockState.MET, 300, "2026-11-02 10:00", "2026-11-02 09:05"),
        id="solved-without-reply-stops",
    ),
    pytest.param(
        ticket("2026-11-02 17:30", reply("2026-11-03 08:10")),
        "2026-11-03 12:00",
        Expect(ClockState.MET, 600, "2026-11-03 09:00", "2026-11-03 08:10"),
        id="created-after-hours-starts-next-morning",
    ),
]


@pytest.mark.parametrize(("t", "at", "expect"), FIRST_RESPONSE_CASES)
def test_first_response(t: Ticket, at: str, expect: Expect) -> None:
    check(latest_status(t, "first_response", at), expect)


def test_ai_agent_reply_counts_when_the_sla_says_so() -> None:
    t = ticket(
        "2026-11-02 09:00", reply("2026-11-02 09:01", author="ai_agent"), reply("2026-11-02 09:30")
    )
    got = latest_status(
        t, "first_response", "2026-11-02 12:00", replies_count=(Author.AGENT, Author.AI_AGENT)
    )
    check(got, Expect(ClockState.MET, 60, "2026-11-02 10:00", "2026-11-02 09:01"))


def test_breach_waits_for_the_watermark() -> None:
    t = ticket("2026-11-02 09:00")
    # deadline 10:00 has passed, but the data is only known complete up to 09:50
    got = latest_status(t, "first_response", "2026-11-02 10:30", watermark=ts("2026-11-02 09:50"))
    assert got.state is ClockState.RUNNING
    assert got.deadline == ts("2026-11-02 10:00")
    got = latest_status(t, "first_response", "2026-11-02 10:30", watermark=ts("2026-11-02 10:05"))
    assert got.state is ClockState.BREACHED


RESOLUTION_CASES = [
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            reply("2026-11-02 08:30"),
            status("2026-11-02 09:00", "pending"),
            requester("2026-11-02 12:45"),
            status("2026-11-02 12:45", "open"),
            solved("2026-11-02 14:00"),
        ),
        "2026-11-02 16:00",
        # runs 08:00-09:00 (1h) and 12:45-14:00 (1h15m)
        Expect(ClockState.MET, 8100, "2026-11-02 15:45", "2026-11-02 14:00"),
        id="paused-while-pending-then-solved",
    ),
    pytest.param(
        ticket("2026-11-02 08:00", status("2026-11-02 09:00", "pending")),
        "2026-11-02 10:00",
        Expect(ClockState.PAUSED, 3600, None),
        id="paused-has-no-deadline",
    ),
    pytest.param(
        ticket("2026-11-02 08:00", status("2026-11-02 08:30", "on_hold")),
        "2026-11-02 16:00",
        Expect(ClockState.PAUSED, 1800, None),
        id="on-hold-pauses",
    ),
    pytest.param(
        ticket("2026-11-02 08:00", solved("2026-11-02 09:00"), status("2026-11-03 08:00", "open")),
        "2026-11-03 10:00",
        # 1h before the solve, then 2h since the reopen; 1h left from 10:00
        Expect(ClockState.RUNNING, 10800, "2026-11-03 11:00"),
        id="reopen-resumes-the-clock",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            solved("2026-11-02 09:00"),
            {"at": "2026-11-03T08:00:00Z", "type": "reopened"},
            solved("2026-11-03 12:00"),
        ),
        "2026-11-03 16:00",
        # 1h + 08:00-11:30 (3h30m); the 4h target ran out at 11:00
        Expect(
            ClockState.BREACHED, 16200, "2026-11-03 11:00", "2026-11-03 12:00", "2026-11-03 11:00"
        ),
        id="reopened-then-late-is-breached",
    ),
    pytest.param(
        ticket("2026-11-02 08:00", status("2026-11-02 10:00", "pending")),
        "2026-11-05 10:00",
        Expect(ClockState.PAUSED, 7200, None),
        id="pending-for-days-stays-paused",
    ),
]


@pytest.mark.parametrize(("t", "at", "expect"), RESOLUTION_CASES)
def test_resolution(t: Ticket, at: str, expect: Expect) -> None:
    check(latest_status(t, "resolution", at), expect)


def test_pause_at_deadline_is_not_a_breach_until_it_resumes() -> None:
    # urgent resolution target 4h: 08:00-11:30 is 3h30m, then 12:30-13:00 -> 13:00 exactly
    t = ticket(
        "2026-11-02 08:00",
        status("2026-11-02 13:00", "pending"),
        status("2026-11-02 15:00", "open"),
    )
    paused = latest_status(t, "resolution", "2026-11-02 14:00")
    check(paused, Expect(ClockState.PAUSED, 14400, None))
    resumed = latest_status(t, "resolution", "2026-11-02 15:10")
    assert resumed.state is ClockState.BREACHED
    assert resumed.breached_at == ts("2026-11-02 15:00")


NEXT_RESPONSE_CASES = [
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            reply("2026-11-02 08:10"),
            requester("2026-11-02 09:00"),
            reply("2026-11-02 09:30"),
            requester("2026-11-02 10:00"),
            reply("2026-11-02 12:50"),
        ),
        "2026-11-02 16:00",
        # latest cycle: 10:00-11:30 (1h30m) + 12:30-12:50 (20m); deadline 11:00
        [1800, 6600],
        Expect(
            ClockState.BREACHED, 6600, "2026-11-02 11:00", "2026-11-02 12:50", "2026-11-02 11:00"
        ),
        id="one-cycle-per-requester-reply",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            reply("2026-11-02 08:10"),
            requester("2026-11-02 09:00"),
            requester("2026-11-02 09:20"),
            reply("2026-11-02 09:40"),
        ),
        "2026-11-02 16:00",
        [2400],
        Expect(ClockState.MET, 2400, "2026-11-02 10:00", "2026-11-02 09:40"),
        id="second-requester-reply-does-not-restart",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            reply("2026-11-02 08:10"),
            requester("2026-11-02 09:00"),
            solved("2026-11-02 09:20"),
        ),
        "2026-11-02 16:00",
        [1200],
        Expect(ClockState.MET, 1200, "2026-11-02 10:00", "2026-11-02 09:20"),
        id="solve-stops-the-cycle",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            reply("2026-11-02 08:10"),
            requester("2026-11-02 09:00"),
            auto_ack("2026-11-02 09:00:05"),
        ),
        "2026-11-02 09:30",
        [1800],
        Expect(ClockState.RUNNING, 1800, "2026-11-02 10:00"),
        id="open-cycle-runs-automated-reply-ignored",
    ),
]


@pytest.mark.parametrize(("t", "at", "cycles", "expect"), NEXT_RESPONSE_CASES)
def test_next_response(t: Ticket, at: str, cycles: list[float], expect: Expect) -> None:
    clocks = clocks_for(t, "next_response", ts(at))
    assert [EVALUATOR.elapsed(c, "next_response", ts(at)) for c in clocks] == cycles
    check(latest_status(t, "next_response", at), expect)


@pytest.mark.parametrize(
    "t",
    [
        pytest.param(
            ticket("2026-11-02 08:00", requester("2026-11-02 08:05"), reply("2026-11-02 08:30")),
            id="requester-reply-before-any-agent-reply",
        ),
        pytest.param(
            ticket(
                "2026-11-02 08:00", auto_ack("2026-11-02 08:00:05"), requester("2026-11-02 08:05")
            ),
            id="after-an-auto-acknowledgement-only",
        ),
    ],
)
def test_next_response_needs_a_counted_agent_reply_first(t: Ticket) -> None:
    assert clocks_for(t, "next_response", ts("2026-11-02 16:00")) == []


def test_ticket_created_after_at_has_no_clocks() -> None:
    t = ticket("2026-11-02 12:00")
    assert clocks_for(t, "first_response", ts("2026-11-02 11:00")) == []
    assert clocks_for(t, "resolution", ts("2026-11-02 11:00")) == []


def test_priority_without_target_has_no_sla_status() -> None:
    t = ticket("2026-11-02 08:00", priority="low")
    evaluation = EVALUATOR.evaluate(t, ts("2026-11-02 12:00"))
    assert "first_response" not in evaluation.slas
