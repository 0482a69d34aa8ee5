"""Properties of the engine on random ticket histories.

Decided outcomes never change as time goes on (docs/design.md: "Once decided, an
outcome never changes"), a breached clock stays breached, and the elapsed
business time of a clock never exceeds what the calendar allows; all of it
also with ``start: assigned``, whose clocks are those from creation started later.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import parse_config
from exporter.model import Ticket, ticket_from_json
from exporter.sla import ClockState
from exporter.slo import Evaluator, Result
from tests.builders import OFFICE_CONFIG_FROM_ASSIGNMENT, office_config, utc

EVALUATOR = Evaluator(office_config())
#: the same SLAs with ``start: assigned``
FROM_ASSIGNMENT = Evaluator(parse_config(OFFICE_CONFIG_FROM_ASSIGNMENT))
EVALUATORS = pytest.mark.parametrize(
    "evaluator",
    [
        pytest.param(EVALUATOR, id="start-created"),
        pytest.param(FROM_ASSIGNMENT, id="start-assigned"),
    ],
)
START = utc("2026-11-02 06:00")

EVENT = st.sampled_from(
    [
        {"type": "agent_reply", "public": True, "automated": False},
        {"type": "agent_reply", "public": True, "automated": True},
        {"type": "agent_reply", "public": False, "automated": False},
        {"type": "agent_reply", "public": True, "automated": False, "author": "ai_agent"},
        {"type": "requester_reply"},
        {"type": "status", "to": "pending"},
        {"type": "status", "to": "on_hold"},
        {"type": "status", "to": "open"},
        {"type": "solved"},
        {"type": "reopened"},
        {"type": "csat", "rating": "good"},
        {"type": "csat", "rating": "bad"},
        {"type": "assigned"},
        {"type": "assigned", "to": "group"},
    ]
)


@st.composite
def tickets(draw: st.DrawFn) -> Ticket:
    created = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 5)))
    gaps = draw(st.lists(st.integers(0, 600), max_size=8))
    events = []
    at = created
    for gap in gaps:
        at += timedelta(minutes=gap)
        events.append({"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), **draw(EVENT)})
    return ticket_from_json(
        {
            "id": "t",
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "priority": draw(st.sampled_from(["urgent", "high", "normal"])),
            "tags": ["vip"],
            "events": events,
        }
    )


@EVALUATORS
@settings(max_examples=300, deadline=None)
@given(tickets(), st.integers(0, 60 * 24 * 12), st.integers(0, 60 * 24 * 12))
def test_decided_outcomes_never_change(
    evaluator: Evaluator, ticket: Ticket, first: int, later: int
) -> None:
    t1 = (START + timedelta(minutes=min(first, later))).timestamp()
    t2 = (START + timedelta(minutes=max(first, later))).timestamp()
    before = evaluator.evaluate(ticket, t1)
    after = evaluator.evaluate(ticket, t2)
    for slo, outcomes in before.slos.items():
        for outcome in outcomes:
            if outcome.result is Result.PENDING:
                continue
            same = [o for o in after.slos[slo] if o.cycle == outcome.cycle]
            assert same == [outcome], (slo, outcome, same)
    for metric, statuses in before.slas.items():
        for status in statuses:
            if status.state is ClockState.BREACHED:
                later_status = next(s for s in after.slas[metric] if s.cycle == status.cycle)
                assert later_status.state is ClockState.BREACHED
                assert later_status.breached_at == status.breached_at


@EVALUATORS
@settings(max_examples=200, deadline=None)
@given(tickets(), st.integers(0, 60 * 24 * 12))
def test_elapsed_is_bounded_by_business_time(
    evaluator: Evaluator, ticket: Ticket, minutes: int
) -> None:
    at = (START + timedelta(minutes=minutes)).timestamp()
    office = evaluator.calendars["office"]
    evaluation = evaluator.evaluate(ticket, at)
    for statuses in evaluation.slas.values():
        for status in statuses:
            assert 0 <= status.elapsed_business_seconds <= office.elapsed_ts(status.started_at, at)
            if status.state is ClockState.BREACHED:
                assert status.breached_at is not None and status.breached_at < at


@settings(max_examples=300, deadline=None)
@given(tickets(), st.integers(0, 60 * 24 * 12))
def test_a_clock_from_the_assignment_is_the_clock_from_creation_started_later(
    ticket: Ticket, minutes: int
) -> None:
    """Same stops and pauses; it never ran longer; its SLO is never decided earlier as bad."""
    at = (START + timedelta(minutes=minutes)).timestamp()
    created = EVALUATOR.evaluate(ticket, at)
    assigned = FROM_ASSIGNMENT.evaluate(ticket, at)
    for metric in ("first_response", "resolution"):
        if not assigned.slas[metric]:
            continue
        (late,) = assigned.slas[metric]
        (early,) = created.slas[metric]
        assert late.started_at >= early.started_at
        assert late.elapsed_business_seconds <= early.elapsed_business_seconds
        (late_clock,) = FROM_ASSIGNMENT.clocks(ticket, metric, at)
        (early_clock,) = EVALUATOR.clocks(ticket, metric, at)
        assert (late_clock.stops, late_clock.stopped, late_clock.paused) == (
            early_clock.stops,
            early_clock.stopped,
            early_clock.paused,
        )
    assert assigned.slas["next_response"] == created.slas["next_response"]
    for slo, outcomes in assigned.slos.items():
        for outcome in outcomes:
            if outcome.result is Result.BAD:
                (same,) = [o for o in created.slos[slo] if o.cycle == outcome.cycle]
                assert same.result is Result.BAD
                assert same.decided_at is not None and outcome.decided_at is not None
                assert same.decided_at <= outcome.decided_at
