"""Properties of the engine on random ticket histories.

Decided outcomes never change as time goes on (docs/design.md: "Once decided, an
outcome never changes"), a breached clock stays breached, and the elapsed
business time of a clock never exceeds what the calendar allows.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.model import Ticket, ticket_from_json
from exporter.sla import ClockState
from exporter.slo import Evaluator, Result
from tests.builders import office_config, utc

EVALUATOR = Evaluator(office_config())
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


@settings(max_examples=300, deadline=None)
@given(tickets(), st.integers(0, 60 * 24 * 12), st.integers(0, 60 * 24 * 12))
def test_decided_outcomes_never_change(ticket: Ticket, first: int, later: int) -> None:
    t1 = (START + timedelta(minutes=min(first, later))).timestamp()
    t2 = (START + timedelta(minutes=max(first, later))).timestamp()
    before = EVALUATOR.evaluate(ticket, t1)
    after = EVALUATOR.evaluate(ticket, t2)
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


@settings(max_examples=200, deadline=None)
@given(tickets(), st.integers(0, 60 * 24 * 12))
def test_elapsed_is_bounded_by_business_time(ticket: Ticket, minutes: int) -> None:
    at = (START + timedelta(minutes=minutes)).timestamp()
    office = EVALUATOR.calendars["office"]
    evaluation = EVALUATOR.evaluate(ticket, at)
    for statuses in evaluation.slas.values():
        for status in statuses:
            assert 0 <= status.elapsed_business_seconds <= office.elapsed_ts(status.started_at, at)
            if status.state is ClockState.BREACHED:
                assert status.breached_at is not None and status.breached_at < at
