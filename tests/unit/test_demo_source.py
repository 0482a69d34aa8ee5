"""The simulated helpdesk: deterministic history, incremental polls, seasonality, incidents.

Times below are UTC.  Europe/Paris is UTC+1 in winter and UTC+2 in summer, so
the office's 09:00 is 08:00 UTC in November and 07:00 UTC in June.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from exporter.config import Config, SlaStart, SourceType, default_config, parse_config
from exporter.demo_config import DEMO_CONFIG
from exporter.model import (
    CLOSED_STATUSES,
    Author,
    EventType,
    Priority,
    Rating,
    Ticket,
    ticket_from_json,
    ticket_to_json,
)
from exporter.slo import Evaluator, Result
from exporter.sources import build_source
from exporter.sources.demo import TICKET_LIFETIME, DemoSource, Incident, arrival_rate
from exporter.units import parse_duration
from tests.builders import ts

HOUR = 3600
DAY = 86400
PARIS = ZoneInfo("Europe/Paris")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "helpdesk-slo.yml"

#: A Friday afternoon in November (16:00 in Paris).
FRIDAY = ts("2026-11-20 15:00")


def demo(seed: int = 1, history: str = "7d") -> DemoSource:
    source = default_config().source
    return DemoSource(source.model_copy(update={"seed": seed, "history": parse_duration(history)}))


def as_json(tickets: Iterable[Ticket]) -> list[dict[str, Any]]:
    return [ticket_to_json(t) for t in tickets]


def changed_in(ticket: Ticket, after: float, until: float) -> bool:
    moments = [ticket.created_at.timestamp(), *(e.at.timestamp() for e in ticket.events)]
    return any(after < moment <= until for moment in moments)


@pytest.fixture(scope="module")
def four_weeks() -> list[Ticket]:
    """Every ticket created in the four weeks before FRIDAY, seed 1, as of FRIDAY."""
    return demo(history="28d").poll(None, FRIDAY).tickets


#: FULL_UNTIL is far enough past FRIDAY that tickets created before FRIDAY - 6d
#: have their whole timeline by then.
FULL_UNTIL = FRIDAY + 4 * DAY


@pytest.fixture(scope="module")
def full_timelines() -> list[Ticket]:
    """Tickets created in the 40 days before FULL_UNTIL, as of FULL_UNTIL."""
    return demo(history="40d").poll(None, FULL_UNTIL).tickets


# --- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now",
    [
        pytest.param(FRIDAY, id="friday-afternoon"),
        pytest.param(ts("2026-11-23 08:30"), id="monday-morning"),
        pytest.param(ts("2026-11-22 23:59:59"), id="sunday-night"),
        pytest.param(ts("2026-10-27 10:00"), id="after-dst-change"),
        pytest.param(ts("2026-06-15 12:34:56.789"), id="fractional-now"),
    ],
)
def test_same_seed_gives_identical_tickets(now: float) -> None:
    first = demo(seed=1).poll(None, now)
    second = demo(seed=1).poll(None, now)
    assert first.tickets
    assert as_json(first.tickets) == as_json(second.tickets)


@pytest.mark.parametrize(
    ("seed", "other"),
    [pytest.param(1, 2, id="1-vs-2"), pytest.param(1, 1001, id="1-vs-1001")],
)
def test_different_seeds_give_different_tickets(seed: int, other: int) -> None:
    ours = as_json(demo(seed=seed).poll(None, FRIDAY).tickets)
    theirs = as_json(demo(seed=other).poll(None, FRIDAY).tickets)
    assert ours != theirs
    assert demo(seed=seed).incidents(FRIDAY - 28 * DAY, FRIDAY) != demo(seed=other).incidents(
        FRIDAY - 28 * DAY, FRIDAY
    )


@pytest.mark.parametrize(
    "earlier_polls",
    [
        pytest.param([FRIDAY - 3 * DAY], id="an-earlier-first-poll"),
        pytest.param([FRIDAY + 5 * DAY], id="a-later-first-poll"),
        pytest.param([FRIDAY - 40 * DAY, FRIDAY - 20 * DAY], id="polls-a-month-back"),
    ],
)
def test_history_does_not_depend_on_what_was_generated_before(earlier_polls: list[float]) -> None:
    used = demo()
    for moment in earlier_polls:
        used.poll(None, moment)
    assert as_json(used.poll(None, FRIDAY).tickets) == as_json(demo().poll(None, FRIDAY).tickets)


def test_ticket_ids_are_unique(four_weeks: list[Ticket]) -> None:
    ids = [t.id for t in four_weeks]
    assert len(ids) == len(set(ids))


# --- first poll -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "now"),
    [
        pytest.param("1d", FRIDAY, id="1d-friday"),
        pytest.param("7d", FRIDAY, id="7d-friday"),
        pytest.param("7d", ts("2026-11-23 06:00"), id="7d-monday-dawn"),
        pytest.param("36h", ts("2026-03-29 12:00"), id="36h-across-spring-dst"),
    ],
)
def test_first_poll_returns_the_tickets_created_within_history(history: str, now: float) -> None:
    span = parse_duration(history).seconds
    result = demo(history=history).poll(None, now)
    created = [t.created_at.timestamp() for t in result.tickets]
    assert all(now - span < moment <= now for moment in created)
    expected = sum(arrival_rate(hour) for hour in range(int(now - span), int(now), HOUR))
    assert 0.8 * expected <= len(created) <= 1.2 * expected
    assert min(created) < now - 0.75 * span  # the history reaches back, not just a recent slice
    assert result.watermark == now
    assert result.cursor == str(now)
    assert result.requests == 1
    assert result.problems == []


@pytest.mark.parametrize(
    "now",
    [
        pytest.param(FRIDAY, id="friday-afternoon"),
        pytest.param(ts("2026-11-23 09:17:31"), id="monday-morning"),
        pytest.param(ts("2026-11-23 09:17:31.5"), id="fractional-now"),
    ],
)
def test_no_event_after_now(now: float) -> None:
    tickets = demo().poll(None, now).tickets
    assert any(t.events for t in tickets)
    for ticket in tickets:
        assert ticket.created_at.timestamp() <= now
        assert all(e.at.timestamp() <= now for e in ticket.events), ticket.id


def _implied_status(ticket: Ticket) -> str:
    status = "new"
    for event in ticket.events:
        if event.type is EventType.STATUS:
            assert event.to is not None
            status = event.to
        elif event.type is EventType.SOLVED:
            status = "solved"
        elif status == "new" and (
            event.type is EventType.ASSIGNED
            or (
                event.type is EventType.AGENT_REPLY
                and not event.automated
                and event.author is Author.AGENT
            )
        ):
            status = "open"
    return status


@pytest.mark.parametrize(
    "now",
    [
        pytest.param(FRIDAY, id="friday-afternoon"),
        pytest.param(ts("2026-11-23 07:45"), id="monday"),
    ],
)
def test_status_is_the_one_the_events_imply(now: float) -> None:
    tickets = demo().poll(None, now).tickets
    statuses = Counter(t.status for t in tickets)
    assert {"new", "open", "pending", "solved"} <= set(statuses)
    for ticket in tickets:
        assert ticket.status == _implied_status(ticket), ticket.id


def test_a_ticket_is_unassigned_until_its_assignment(four_weeks: list[Ticket]) -> None:
    for ticket in four_weeks:
        assigned = any(e.type is EventType.ASSIGNED for e in ticket.events)
        assert (ticket.assignee is not None) == assigned, ticket.id


# --- incremental polls ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([60] * 180, id="every-minute-through-a-busy-morning"),
        pytest.param([15 * 60] * 96, id="every-15-minutes-for-a-day"),
        pytest.param([7, 0.5, 3600, 1, 59, 2 * DAY, 30], id="irregular-steps"),
        pytest.param([12 * DAY], id="one-gap-longer-than-a-ticket-lifetime"),
    ],
)
def test_incremental_polls_lose_no_ticket(steps: list[float]) -> None:
    start = ts("2026-11-23 06:00")
    source = demo()
    result = source.poll(None, start)
    state = {t.id: t for t in result.tickets}
    now = start
    for step in steps:
        cursor, before = result.cursor, now
        now += step
        result = source.poll(cursor, now)
        assert result.cursor == str(now)
        assert result.watermark == now
        for ticket in result.tickets:
            assert changed_in(ticket, before, now), ticket.id
            state[ticket.id] = ticket
    fresh = demo().poll(None, now).tickets
    for ticket in fresh:
        assert ticket_to_json(state[ticket.id]) == ticket_to_json(ticket)
    newest = {t.id for t in fresh}
    for ticket in state.values():
        if ticket.id not in newest:  # only tickets that fell out of the history window
            assert ticket.created_at.timestamp() <= now - 7 * DAY, ticket.id


@pytest.mark.parametrize(
    ("after", "until"),
    [
        pytest.param(FRIDAY, FRIDAY + 60, id="one-minute"),
        pytest.param(FRIDAY, FRIDAY + HOUR, id="one-hour"),
        pytest.param(FRIDAY - 2 * DAY, FRIDAY, id="two-days"),
        pytest.param(ts("2026-11-22 01:00"), ts("2026-11-22 04:00"), id="sunday-night"),
        pytest.param(ts("2026-11-23 08:59:30"), ts("2026-11-23 09:00:30"), id="monday-opening"),
    ],
)
def test_incremental_poll_returns_exactly_the_changed_tickets(
    full_timelines: list[Ticket], after: float, until: float
) -> None:
    assert until <= FULL_UNTIL and after - TICKET_LIFETIME > FULL_UNTIL - 40 * DAY
    expected = {t.id for t in full_timelines if changed_in(t, after, until)}
    result = demo().poll(str(after), until)
    assert expected
    assert [t.id for t in result.tickets] == sorted(expected, key=int)


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(str(FRIDAY), id="same-now"),
        pytest.param(str(FRIDAY + 60), id="cursor-ahead-of-now"),
    ],
)
def test_poll_with_nothing_new_returns_nothing(cursor: str) -> None:
    result = demo().poll(cursor, FRIDAY)
    assert result.tickets == []
    assert result.cursor == str(FRIDAY)
    assert result.requests == 1


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("1713369600:123456789", id="file-source-fingerprint"),
        pytest.param("nan", id="not-a-number"),
        pytest.param("", id="empty"),
    ],
)
def test_a_foreign_cursor_starts_over_with_a_first_poll(cursor: str) -> None:
    assert as_json(demo().poll(cursor, FRIDAY).tickets) == as_json(
        demo().poll(None, FRIDAY).tickets
    )


def test_no_ticket_changes_after_its_lifetime(full_timelines: list[Ticket]) -> None:
    finished = [t for t in full_timelines if t.created_at.timestamp() < FULL_UNTIL - 11 * DAY]
    assert len(finished) > 1000
    for ticket in finished:
        created = ticket.created_at.timestamp()
        assert all(e.at.timestamp() <= created + TICKET_LIFETIME for e in ticket.events)
        assert ticket.status == "solved", ticket.id


# --- the shape of the traffic -----------------------------------------------------------------


def _local(ticket: Ticket) -> datetime:
    return ticket.created_at.astimezone(PARIS)


def test_weekday_mornings_are_busier_than_nights(four_weeks: list[Ticket]) -> None:
    weekdays = [_local(t) for t in four_weeks if _local(t).weekday() < 5]
    mornings = sum(9 <= moment.hour < 12 for moment in weekdays)  # 3 hours a day
    nights = sum(0 <= moment.hour < 6 for moment in weekdays)  # 6 hours a day
    assert mornings > 5 * nights


def test_weekdays_are_busier_than_weekends(four_weeks: list[Ticket]) -> None:
    days = Counter(_local(t).weekday() for t in four_weeks)
    assert min(days[d] for d in range(5)) > 3 * max(days[5], days[6])


@pytest.mark.parametrize(
    ("priority", "low", "high"),
    [
        pytest.param(Priority.URGENT, 0.03, 0.07, id="urgent-5%"),
        pytest.param(Priority.HIGH, 0.17, 0.23, id="high-20%"),
        pytest.param(Priority.NORMAL, 0.51, 0.59, id="normal-55%"),
        pytest.param(Priority.LOW, 0.17, 0.23, id="low-20%"),
    ],
)
def test_priority_mix(
    four_weeks: list[Ticket], priority: Priority, low: float, high: float
) -> None:
    share = sum(t.priority is priority for t in four_weeks) / len(four_weeks)
    assert low <= share <= high


@pytest.mark.parametrize(
    ("field", "values"),
    [
        pytest.param("channel", {"email", "web", "chat", "phone"}, id="channels"),
        pytest.param("group", {"tier1", "tier2", "billing"}, id="groups"),
        pytest.param("brand", {"acme", "acme-cloud"}, id="brands"),
    ],
)
def test_every_category_appears(four_weeks: list[Ticket], field: str, values: set[str]) -> None:
    assert {getattr(t, field) for t in four_weeks} == values


def test_about_one_ticket_in_twenty_is_vip(four_weeks: list[Ticket]) -> None:
    share = sum("vip" in t.tags for t in four_weeks) / len(four_weeks)
    assert 0.03 <= share <= 0.07


def _has_reopen(ticket: Ticket) -> bool:
    solved = False
    for event in ticket.events:
        if event.type is EventType.SOLVED:
            solved = True
        elif solved and event.type is EventType.STATUS and event.to not in CLOSED_STATUSES:
            return True
    return False


def _has_pending_cycle(ticket: Ticket) -> bool:
    kinds = [(e.type, e.to) for e in ticket.events]
    return (EventType.STATUS, "pending") in kinds and (EventType.REQUESTER_REPLY, None) in kinds


def _has(type: EventType, **fields: Any) -> Callable[[Ticket], bool]:
    def check(ticket: Ticket) -> bool:
        return any(
            e.type is type and all(getattr(e, k) == v for k, v in fields.items())
            for e in ticket.events
        )

    return check


@pytest.mark.parametrize(
    ("feature", "low", "high"),
    [
        pytest.param(_has(EventType.AGENT_REPLY, automated=True), 0.6, 0.8, id="auto-ack"),
        pytest.param(_has(EventType.AGENT_REPLY, author=Author.AI_AGENT), 0.02, 0.1, id="ai-agent"),
        pytest.param(_has(EventType.AGENT_REPLY, public=False), 0.05, 0.2, id="internal-note"),
        pytest.param(_has(EventType.ASSIGNED), 0.9, 1.0, id="assignment"),
        pytest.param(_has_pending_cycle, 0.3, 0.7, id="pending-then-customer-reply"),
        pytest.param(_has(EventType.SOLVED), 0.85, 1.0, id="solve"),
        pytest.param(_has_reopen, 0.01, 0.1, id="reopen"),
        pytest.param(_has(EventType.CSAT), 0.15, 0.4, id="csat"),
    ],
)
def test_timeline_features_occur(
    four_weeks: list[Ticket], feature: Callable[[Ticket], bool], low: float, high: float
) -> None:
    share = sum(feature(t) for t in four_weeks) / len(four_weeks)
    assert low <= share <= high


@pytest.mark.parametrize(
    ("channel", "acknowledged"),
    [
        pytest.param("email", True, id="email"),
        pytest.param("web", True, id="web"),
        pytest.param("chat", False, id="chat"),
        pytest.param("phone", False, id="phone"),
    ],
)
def test_auto_acknowledgement_seconds_after_creation(
    four_weeks: list[Ticket], channel: str, acknowledged: bool
) -> None:
    for ticket in (t for t in four_weeks if t.channel == channel):
        acks = [e for e in ticket.events if e.automated]
        if not acknowledged:
            assert acks == [], ticket.id
            continue
        assert len(acks) == 1 and acks[0] is ticket.events[0], ticket.id
        assert 0 < (acks[0].at - ticket.created_at).total_seconds() <= 60


def test_ratings_are_mostly_good(four_weeks: list[Ticket]) -> None:
    ratings = Counter(e.rating for t in four_weeks for e in t.events if e.type is EventType.CSAT)
    assert 0.85 <= ratings[Rating.GOOD] / ratings.total() <= 0.97


def test_every_ticket_round_trips_through_json(four_weeks: list[Ticket]) -> None:
    partial = demo().poll(None, ts("2026-11-18 10:30:15")).tickets
    for ticket in [*four_weeks, *partial]:
        assert ticket_from_json(ticket_to_json(ticket)) == ticket


# --- staffing incidents -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 42])
@pytest.mark.parametrize(
    "start",
    [
        pytest.param(ts("2026-11-02 00:00"), id="november"),
        pytest.param(ts("2026-03-23 00:00"), id="across-spring-dst"),
        pytest.param(ts("2027-06-07 00:00"), id="june"),
    ],
)
def test_one_or_two_incidents_a_week_during_office_hours(seed: int, start: float) -> None:
    incidents = demo(seed=seed).incidents(start, start + 14 * DAY)
    assert 2 <= len(incidents) <= 4
    for incident in incidents:
        local_start = datetime.fromtimestamp(incident.start, PARIS)
        assert local_start.weekday() < 5
        assert 9 <= local_start.hour < 16
        assert 2 * HOUR <= incident.end - incident.start <= 4 * HOUR
        assert 0 < incident.capacity < 0.2


def _bad_decisions(config: Config, tickets: list[Ticket], at: float, slos: set[str]) -> list[float]:
    evaluator = Evaluator(config)
    decided = []
    for ticket in tickets:
        for name, outcomes in evaluator.evaluate(ticket, at).slos.items():
            if name in slos:
                decided += [
                    o.decided_at for o in outcomes if o.result is Result.BAD and o.decided_at
                ]
    return decided


@pytest.mark.parametrize(
    ("seed", "end"),
    [
        pytest.param(1, FRIDAY, id="seed-1-november"),
        pytest.param(2, FRIDAY - 10 * 7 * DAY, id="seed-2-september"),
        pytest.param(3, FRIDAY - 30 * 7 * DAY, id="seed-3-april"),
        pytest.param(7, ts("2026-04-03 15:00"), id="seed-7-across-spring-dst"),
    ],
)
def test_incidents_pile_up_breaches(seed: int, end: float) -> None:
    """Bad first responses cluster in incident windows (and the two hours after them)."""
    tickets = demo(seed=seed, history="14d").poll(None, end).tickets
    bad = _bad_decisions(
        default_config(), tickets, end, {"urgent-first-response", "first-response"}
    )
    incidents = demo(seed=seed).incidents(end - 13 * DAY, end - DAY)
    assert incidents

    def window(incident: Incident) -> tuple[float, float]:
        return incident.start, incident.end + 2 * HOUR

    per_incident = [sum(a <= b <= z for b in bad) for a, z in map(window, incidents)]
    inside = sum(any(a <= b <= z for a, z in map(window, incidents)) for b in bad)
    inside_hours = sum(z - a for a, z in map(window, incidents)) / HOUR
    outside_hours = 14 * 24 - inside_hours
    assert max(per_incident) >= 3
    assert inside / inside_hours > 4 * (len(bad) - inside) / outside_hours


# --- performance ------------------------------------------------------------------------------


# --- the built-in demo config and its written-out example -------------------------------------


def test_example_file_is_the_built_in_demo_config() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == yaml.safe_load(DEMO_CONFIG)
    base = Path("/srv/helpdesk-slo")
    assert parse_config(text, base_dir=base) == parse_config(DEMO_CONFIG, base_dir=base)


def test_built_in_config_runs_the_demo_source() -> None:
    config = default_config(base_dir=Path("/srv/helpdesk-slo"))
    assert config.source.type is SourceType.DEMO
    assert config.store == Path("/srv/helpdesk-slo/helpdesk-slo-demo.db")
    source = build_source(config)
    assert isinstance(source, DemoSource)
    assert source.name == "demo"


@pytest.mark.parametrize(
    ("name", "sla", "threshold", "objective", "window"),
    [
        pytest.param("urgent-first-response", "first_response", "50%", "0.95", "28d", id="urgent"),
        pytest.param("first-response", "first_response", "100%", "0.90", "28d", id="first"),
        pytest.param("next-response", "next_response", "100%", "0.90", "28d", id="next"),
        pytest.param("resolution", "resolution", "100%", "0.85", "28d", id="resolution"),
        pytest.param("csat", None, None, "0.90", "month", id="csat"),
    ],
)
def test_built_in_slos(
    name: str, sla: str | None, threshold: str | None, objective: str, window: str
) -> None:
    slo = default_config().slo(name)
    assert (slo.sla, slo.threshold, slo.objective_ratio, slo.window) == (
        sla,
        threshold,
        Decimal(objective),
        window,
    )
    assert "team" in slo.labels


def test_start_assigned_on_the_demo_measures_first_responses_from_the_assignment() -> None:
    """Demo tickets are assigned a while after creation: the clock from there runs shorter."""
    tickets = demo().poll(None, FRIDAY).tickets
    created = default_config()
    assigned = created.model_copy(
        update={
            "slas": {
                metric: sla.model_copy(update={"start": SlaStart.ASSIGNED})
                for metric, sla in created.slas.items()
            }
        }
    )

    def elapsed(config: Config) -> list[float]:
        evaluator = Evaluator(config)
        return [
            s.elapsed_business_seconds
            for t in tickets
            for s in evaluator.evaluate(t, FRIDAY).slas.get("first_response", [])
            if s.stopped_at is not None
        ]

    from_creation, from_assignment = elapsed(created), elapsed(assigned)
    assert len(from_creation) == len(from_assignment) > 100
    assert all(a <= c for a, c in zip(from_assignment, from_creation, strict=True))
    assert sum(from_assignment) < 0.9 * sum(from_creation)
