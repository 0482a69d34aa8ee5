"""The Freshdesk source against recorded-shape answers: what a poll reads, maps and resumes from."""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import responses

from exporter.config import load_config, parse_config
from exporter.model import Author, EventType, Priority, Rating, Ticket, TicketEvent
from exporter.slo import Evaluator
from exporter.sources import build_source
from exporter.sources.base import PollResult, SourceError
from exporter.sources.freshdesk import (
    BUSINESS_HOURS_PATH,
    CONVERSATIONS_PATH,
    LAG_SECONDS,
    RATINGS_PATH,
    SLA_POLICIES_PATH,
    TICKETS_PATH,
    FreshdeskSource,
    fetch_business_hours,
    fetch_sla_targets,
    freshdesk_client,
)
from tests.builders import ts, utc
from tests.sources.helpers import FakeClock

FIXTURES = Path(__file__).parent / "fixtures" / "freshdesk"
BASE_URL = "https://acme.freshdesk.com"
API_KEY = "fd-Api-Key-7h3s3cr3t"
NOW = ts("2026-11-02 12:00")
#: ``now - lookback`` (35 days) for :data:`NOW`: where the first poll starts reading.
HISTORY_START = ts("2026-09-28 12:00")
CONVERSATIONS_106 = CONVERSATIONS_PATH.format(id=106)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def iso(text: str) -> str:
    return utc(text).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- a fake Freshdesk served through ``responses`` --------------------------------------------


@dataclass
class Answer:
    """One answer of the fake helpdesk; ``next_page`` adds a ``Link: ...; rel="next"`` header."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    next_page: int | None = None
    text: str | None = None
    error: Exception | None = None


def page(name: str, next_page: int | None = None, **headers: str) -> Answer:
    return Answer(body=fixture(name), next_page=next_page, headers=dict(headers))


def body(items: list[dict[str, Any]], next_page: int | None = None, **headers: str) -> Answer:
    return Answer(body=items, next_page=next_page, headers=dict(headers))


Plan = Mapping[str, Sequence[Answer]]


class FakeFreshdesk:
    """Answers each path with its answers in turn (the last one repeats) and records the asks."""

    def __init__(self, rsps: responses.RequestsMock, plan: Plan) -> None:
        self.queues = {path: list(answers) for path, answers in plan.items()}
        self.asked: list[tuple[str, dict[str, str]]] = []
        for path in self.queues:
            rsps.add_callback(
                responses.GET, BASE_URL + path, callback=self._callback(path), content_type=None
            )

    def _callback(self, path: str) -> Any:
        def answer(request: Any) -> Any:
            query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
            self.asked.append((path, query))
            queue = self.queues[path]
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
            if reply.error is not None:
                return reply.error
            headers = {"Content-Type": "application/json", **reply.headers}
            if reply.next_page is not None:
                link = urlencode({**query, "page": reply.next_page})
                headers["Link"] = f'<{BASE_URL}{path}?{link}>; rel="next"'
            text = reply.text if reply.text is not None else json.dumps(reply.body)
            return reply.status, headers, text

        return answer

    def paths(self) -> list[str]:
        return [path for path, _ in self.asked]

    def queries(self, path: str) -> list[dict[str, str]]:
        return [query for asked, query in self.asked if asked == path]


#: A first poll over the recorded day: two ticket pages of 3, ratings, and 106's conversations.
FULL: Plan = {
    TICKETS_PATH: (page("tickets-page1-of-2.json", next_page=2), page("tickets-page2-last.json")),
    RATINGS_PATH: (page("satisfaction-ratings-good-neutral-bad.json"),),
    CONVERSATIONS_106: (page("conversations-requester-wrote-twice.json"),),
}
#: A poll in which nothing changed.
EMPTY: Plan = {
    TICKETS_PATH: (page("tickets-empty.json"),),
    RATINGS_PATH: (page("satisfaction-ratings-empty.json"),),
}


def source_config(tmp_path: Path, extra: str = "") -> Any:
    key = tmp_path / "freshdesk-api-key"
    key.write_text(API_KEY + "\n")
    config = parse_config(
        f"""
source:
  type: freshdesk
  url: {BASE_URL}
  token_file: {key}
  lookback: 35d
  page_size: 3
{extra}
"""
    )
    return config.source


def make_source(
    tmp_path: Path, extra: str = "", clock: FakeClock | None = None, **options: Any
) -> FreshdeskSource:
    clock = clock or FakeClock()
    config = source_config(tmp_path, extra)
    client = freshdesk_client(config, sleep=clock.sleep, clock=clock.monotonic)
    client._jitter = lambda: 0.0
    return FreshdeskSource(config, client, **options)


def poll(
    source: FreshdeskSource, plan: Plan, cursor: str | None = None, now: float = NOW
) -> PollResult:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeFreshdesk(rsps, plan)
        return source.poll(cursor, now)


def poll_recorded(
    source: FreshdeskSource, plan: Plan, cursor: str | None = None, now: float = NOW
) -> tuple[PollResult, FakeFreshdesk]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeFreshdesk(rsps, plan)
        return source.poll(cursor, now), fake


def by_id(result: PollResult) -> dict[str, Ticket]:
    return {ticket.id: ticket for ticket in result.tickets}


def state(result: PollResult) -> dict[str, Any]:
    assert result.cursor is not None
    parsed: dict[str, Any] = json.loads(result.cursor)
    return parsed


def kinds(ticket: Ticket) -> list[tuple[str, str]]:
    return [(event.at.strftime("%H:%M"), _kind(event)) for event in ticket.events]


def _kind(event: TicketEvent) -> str:
    if event.type is EventType.AGENT_REPLY:
        who = "ai" if event.author is Author.AI_AGENT else "agent"
        return f"{who}_reply{'' if event.public else ':internal'}"
    if event.type is EventType.STATUS:
        return f"status:{event.to}"
    if event.type is EventType.CSAT:
        return f"csat:{event.rating}"
    return str(event.type)


def listed(name: str, ticket_id: int, **changes: Any) -> dict[str, Any]:
    """A ticket of a listing fixture with some fields (``stats`` merged) changed."""
    for item in fixture(name):
        if item["id"] == ticket_id:
            record: dict[str, Any] = copy.deepcopy(item)
            stats = changes.pop("stats", {})
            record.update(changes)
            record["stats"].update(stats)
            return record
    raise KeyError(ticket_id)


SLAS = """
source: {type: file, path: tickets.jsonl}
slas:
  first_response: {mode: MODE, targets: {urgent: 1h, high: 2h, normal: 8h, low: 24h}}
  next_response: {mode: MODE, targets: {urgent: 1h, high: 2h, normal: 4h, low: 8h}}
  resolution: {mode: MODE, targets: {urgent: 4h, high: 8h, normal: 24h, low: 48h}}
slos:
  - {name: first-response, sla: first_response, objective: 95%}
  - {name: csat, kind: csat, objective: 90%}
"""
COMPUTED = Evaluator(parse_config(SLAS.replace("MODE", "computed")))
NATIVE = Evaluator(parse_config(SLAS.replace("MODE", "native")))


# --- reading the listing ----------------------------------------------------------------------


def test_first_poll_follows_the_link_header_to_the_last_page(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    result, fake = poll_recorded(source, FULL)

    first, second = fake.queries(TICKETS_PATH)
    assert first == {
        "updated_since": "2026-09-28T12:00:00Z",
        "order_by": "updated_at",
        "order_type": "asc",
        "per_page": "3",
        "page": "1",
        "include": "stats",
    }
    assert second == {**first, "page": "2"}
    assert sorted(by_id(result), key=int) == ["101", "102", "103", "104", "106"]  # 105 is older
    assert state(result)["tickets"] == {
        "updated_since": int(ts("2026-11-02 11:00")),
        "seen": ["106"],
    }
    assert fake.paths() == [TICKETS_PATH, TICKETS_PATH, RATINGS_PATH, CONVERSATIONS_106]
    assert result.requests == 4
    assert result.api_codes == {"200": 4}
    assert result.problems == []


def test_an_empty_poll_costs_one_request_per_endpoint(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    result, fake = poll_recorded(source, EMPTY, first.cursor, NOW + 60)

    assert fake.paths() == [TICKETS_PATH, RATINGS_PATH]
    assert fake.queries(TICKETS_PATH)[0]["updated_since"] == "2026-11-02T11:00:00Z"
    assert fake.queries(RATINGS_PATH)[0]["created_since"] == "2026-11-02T10:50:00Z"
    assert result.requests == 2
    assert result.tickets == []
    assert state(result)["tickets"] == state(first)["tickets"]


def test_the_page_cap_rolls_updated_since_forward_to_the_last_updated_at(tmp_path: Path) -> None:
    source = make_source(tmp_path, page_cap=2)
    plan = {
        TICKETS_PATH: (
            page("tickets-cap-page1.json", next_page=2),
            page("tickets-cap-page2.json", next_page=3),  # page 3 would pass the cap
            page("tickets-cap-rolled-forward.json"),
        ),
        RATINGS_PATH: (page("satisfaction-ratings-empty.json"),),
    }
    result, fake = poll_recorded(source, plan)

    asked = [(q["updated_since"], q["page"]) for q in fake.queries(TICKETS_PATH)]
    assert asked == [
        ("2026-09-28T12:00:00Z", "1"),
        ("2026-09-28T12:00:00Z", "2"),
        ("2026-11-02T08:50:00Z", "1"),  # rolled forward, never page 3
    ]
    assert [t.id for t in result.tickets] == [str(i) for i in range(200, 208)]  # each once
    assert state(result)["tickets"] == {
        "updated_since": int(ts("2026-11-02 09:10")),
        "seen": ["207"],
    }
    assert result.watermark == NOW - LAG_SECONDS


def test_a_cap_of_pages_within_one_second_moves_past_it_and_says_so(tmp_path: Path) -> None:
    source = make_source(tmp_path, page_cap=1)
    same_second = [
        listed("tickets-cap-page1.json", 200 + i, updated_at=iso("2026-11-02 08:00"))
        for i in range(3)
    ]
    cursor = json.dumps(
        {
            "v": 1,
            "history_start": int(HISTORY_START),
            "tickets": {"updated_since": int(ts("2026-11-02 08:00")), "seen": []},
            "ratings": {"created_since": int(ts("2026-11-02 08:00")), "seen": []},
        }
    )
    plan = {**EMPTY, TICKETS_PATH: (body(same_second, next_page=2),)}
    result, fake = poll_recorded(source, plan, cursor)

    assert len(fake.queries(TICKETS_PATH)) == 1  # never page 2, never the same query again
    assert state(result)["tickets"]["updated_since"] == int(ts("2026-11-02 08:00")) + 1
    assert any("cannot be listed" in problem for problem in result.problems)


@pytest.mark.parametrize(
    ("max_pages", "watermark"),
    [
        pytest.param(10, NOW - LAG_SECONDS, id="read-to-the-last-page"),
        pytest.param(1, ts("2026-11-02 09:40") - 1, id="cut-short-at-the-newest-updated-at"),
    ],
)
def test_watermark(tmp_path: Path, max_pages: int, watermark: float) -> None:
    source = make_source(tmp_path, max_pages=max_pages)
    result = poll(source, FULL)

    assert result.watermark == watermark


def test_updated_since_that_would_go_backwards_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    late = {**EMPTY, TICKETS_PATH: (page("tickets-updated-before-since.json"),)}
    with caplog.at_level(logging.WARNING, logger="exporter.sources.freshdesk"):
        result = poll(source, late, first.cursor, NOW + 60)

    assert state(result)["tickets"] == state(first)["tickets"]
    assert "going back in time" in caplog.text
    assert result.watermark == NOW + 60 - LAG_SECONDS


def test_an_unreadable_cursor_starts_again_from_the_lookback(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    result, fake = poll_recorded(source, EMPTY, '{"v": 99}')

    assert fake.queries(TICKETS_PATH)[0]["updated_since"] == "2026-09-28T12:00:00Z"
    assert state(result)["history_start"] == int(HISTORY_START)


# --- mapping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ticket_id", "expected"),
    [
        pytest.param(
            "101",
            ("open", Priority.URGENT, "email", "43000190415", None, "Incident", ("vip",)),
            id="urgent-email",
        ),
        pytest.param(
            "102",
            ("solved", Priority.HIGH, "portal", "43000190415", None, "Question", ()),
            id="resolved-is-solved",
        ),
        pytest.param(
            "103",
            ("pending", Priority.NORMAL, "phone", "43000190415", None, "Question", ()),
            id="medium-is-normal",
        ),
        pytest.param(
            "104",
            ("open", Priority.LOW, "chat", None, "43000003741", "Question", ()),
            id="unmapped-custom-status-counts-as-open",
        ),
    ],
)
def test_ticket_attributes_are_mapped(
    tmp_path: Path, ticket_id: str, expected: tuple[Any, ...]
) -> None:
    ticket = by_id(poll(make_source(tmp_path), FULL))[ticket_id]

    got = (ticket.status, ticket.priority, ticket.channel, ticket.group, ticket.brand, ticket.type)
    assert (*got, ticket.tags) == expected


@pytest.mark.parametrize(
    ("extra", "ticket_id", "status", "priority"),
    [
        pytest.param("  status_map: {6: on_hold}", "104", "on_hold", Priority.LOW, id="custom"),
        pytest.param("  status_map: {4: closed}", "102", "closed", Priority.HIGH, id="override"),
        pytest.param("  priority_map: {1: normal}", "104", "open", Priority.NORMAL, id="number"),
        pytest.param("  priority_map: {high: urgent}", "102", "solved", Priority.URGENT, id="name"),
    ],
)
def test_status_and_priority_maps_override_the_defaults(
    tmp_path: Path, extra: str, ticket_id: str, status: str, priority: Priority
) -> None:
    ticket = by_id(poll(make_source(tmp_path, extra), FULL))[ticket_id]

    assert (ticket.status, ticket.priority) == (status, priority)


def test_assignee_is_the_responder(tmp_path: Path) -> None:
    tickets = by_id(poll(make_source(tmp_path), FULL))

    assert tickets["101"].assignee == "43007075231"
    assert tickets["103"].assignee is None


@pytest.mark.parametrize(
    ("ticket_id", "events"),
    [
        pytest.param(
            "101",
            [("08:15", "status:open"), ("09:40", "agent_reply")],
            id="first-reply",
        ),
        pytest.param(
            "102",
            [
                ("08:50", "agent_reply"),
                ("09:00", "requester_reply"),
                ("09:30", "solved"),
                ("09:30", "status:solved"),
                ("10:00", "csat:good"),
            ],
            id="resolved-and-rated",
        ),
        pytest.param(
            "103",
            [("09:20", "agent_reply"), ("09:21", "status:pending")],
            id="pending-since",
        ),
    ],
)
def test_stats_become_events(tmp_path: Path, ticket_id: str, events: list[Any]) -> None:
    ticket = by_id(poll(make_source(tmp_path), FULL))[ticket_id]

    without_ratings = [
        e for e in kinds(ticket) if not e[1].startswith("csat") or ticket_id == "102"
    ]
    assert without_ratings == events


# --- SLA clocks through the evaluator ---------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "state_at_noon"),
    [
        pytest.param("  status_map: {6: on_hold}", "paused", id="mapped-to-on-hold-pauses"),
        pytest.param("", "running", id="unmapped-keeps-running"),
    ],
)
def test_custom_status_mapped_to_on_hold_pauses_resolution(
    tmp_path: Path, extra: str, state_at_noon: str
) -> None:
    ticket = by_id(poll(make_source(tmp_path, extra), FULL))["104"]

    (resolution,) = COMPUTED.evaluate(ticket, NOW).slas["resolution"]
    assert resolution.state == state_at_noon
    assert resolution.elapsed_business_seconds == (600 if extra else 7200)


def test_reopened_ticket_resumes_its_resolution_clock(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    reopened = {**EMPTY, TICKETS_PATH: (page("tickets-reopened.json"),)}
    result = poll(source, reopened, first.cursor, NOW)
    ticket = by_id(result)["102"]

    assert kinds(ticket) == [
        ("08:50", "agent_reply"),
        ("09:00", "requester_reply"),
        ("09:30", "solved"),
        ("09:30", "status:solved"),
        ("10:00", "csat:good"),
        ("11:29", "requester_reply"),
        ("11:30", "reopened"),
        ("11:30", "status:open"),
    ]
    (resolution,) = COMPUTED.evaluate(ticket, NOW).slas["resolution"]
    assert (resolution.state, resolution.elapsed_business_seconds) == ("running", 3600 + 1800)


def test_reopened_ticket_seen_first_after_its_reopen(tmp_path: Path) -> None:
    reopened = {**EMPTY, TICKETS_PATH: (page("tickets-reopened.json"),)}
    ticket = by_id(poll(make_source(tmp_path), reopened))["102"]

    assert [e for e in kinds(ticket) if e[0] >= "09:30"] == [
        ("09:30", "solved"),
        ("11:29", "requester_reply"),
        ("11:30", "reopened"),
        ("11:30", "status:open"),
    ]
    (resolution,) = COMPUTED.evaluate(ticket, NOW).slas["resolution"]
    assert resolution.state == "running"


@pytest.mark.parametrize(
    ("ticket_id", "metric", "expected"),
    [
        pytest.param("101", "first_response", ("breached", "09:15", "09:15"), id="fr-escalated"),
        pytest.param("102", "first_response", ("met", "10:30", None), id="fr-met"),
        pytest.param("102", "resolution", ("met", "16:30", None), id="resolved-in-time"),
        pytest.param("106", "resolution", ("breached", "11:00", "11:00"), id="is-escalated"),
        pytest.param("106", "next_response", ("running", "12:00", None), id="nr-due-by"),
    ],
)
def test_native_clocks_come_from_due_dates_and_escalation_flags(
    tmp_path: Path, ticket_id: str, metric: str, expected: tuple[Any, ...]
) -> None:
    ticket = by_id(poll(make_source(tmp_path), FULL))[ticket_id]

    (status,) = NATIVE.evaluate(ticket, NOW).slas[metric]
    deadline = utc_hm(status.deadline)
    breached = utc_hm(status.breached_at)
    assert (status.state, deadline, breached) == expected


def utc_hm(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return (
        utc("1970-01-01 00:00").fromtimestamp(seconds, utc("2026-01-01").tzinfo).strftime("%H:%M")
    )


def test_null_due_dates_give_no_native_clock(tmp_path: Path) -> None:
    plan = {**EMPTY, TICKETS_PATH: (page("tickets-null-due-dates.json"),)}
    ticket = by_id(poll(make_source(tmp_path), plan))["107"]

    assert ticket.native == ()
    assert ticket.channel == "outbound_email"
    native = NATIVE.evaluate(ticket, NOW)
    assert native.slas == {"first_response": [], "next_response": [], "resolution": []}
    (computed,) = COMPUTED.evaluate(ticket, NOW).slas["first_response"]
    assert computed.state == "running"


# --- conversations: only where stats leave a cycle's start open ------------------------------


def test_conversations_give_the_start_of_a_next_response_cycle(tmp_path: Path) -> None:
    ticket = by_id(poll(make_source(tmp_path), FULL))["106"]

    assert kinds(ticket) == [
        ("07:00", "status:open"),
        ("07:10", "requester_reply"),
        ("07:30", "agent_reply"),
        ("08:00", "agent_reply:internal"),
        ("09:45", "requester_reply"),  # the cycle starts here, not at the 11:00 stats show
        ("11:00", "requester_reply"),
    ]
    (cycle,) = COMPUTED.evaluate(ticket, NOW).slas["next_response"]
    assert cycle.started_at == ts("2026-11-02 09:45")
    native = {c.metric: c for c in ticket.native}["next_response"]
    assert native.started_at == utc("2026-11-02 09:45")


#: Ticket 101 answered at 09:40 (FULL); what the next poll (at 12:00, read position 11:00) shows.
NEEDS = [
    pytest.param(
        {
            "updated_at": iso("2026-11-02 11:01"),
            "stats": {"requester_responded_at": iso("2026-11-02 11:01")},
        },
        False,
        id="reply-since-the-last-poll-is-its-own-start",
    ),
    pytest.param(
        {
            "updated_at": iso("2026-11-02 11:40"),
            "stats": {"requester_responded_at": iso("2026-11-02 11:40")},
        },
        True,
        id="reply-long-after-the-read-position-may-hide-earlier-ones",
    ),
    pytest.param(
        {
            "updated_at": iso("2026-11-02 11:40"),
            "status": 4,
            "stats": {
                "requester_responded_at": iso("2026-11-02 11:30"),
                "resolved_at": iso("2026-11-02 11:40"),
            },
        },
        False,
        id="solved-ticket",
    ),
    pytest.param(
        {
            "updated_at": iso("2026-11-02 11:40"),
            "stats": {"agent_responded_at": iso("2026-11-02 11:40")},
        },
        False,
        id="agent-answered-last",
    ),
]


@pytest.mark.parametrize(("changes", "fetched"), NEEDS)
def test_conversations_are_read_only_when_needed(
    tmp_path: Path, changes: dict[str, Any], fetched: bool
) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    conversations_101 = CONVERSATIONS_PATH.format(id=101)
    plan = {
        **EMPTY,
        TICKETS_PATH: (body([listed("tickets-page1-of-2.json", 101, **changes)]),),
        conversations_101: (body([]),),
    }
    result, fake = poll_recorded(source, plan, first.cursor, NOW)

    assert (conversations_101 in fake.paths()) is fetched
    assert "101" in by_id(result)


def test_first_sight_of_a_waiting_ticket_reads_its_conversations(tmp_path: Path) -> None:
    waiting = listed(
        "tickets-page1-of-2.json",
        101,
        updated_at=iso("2026-11-02 11:01"),
        stats={"requester_responded_at": iso("2026-11-02 11:01")},
    )
    plan = {
        **EMPTY,
        TICKETS_PATH: (body([waiting]),),
        CONVERSATIONS_PATH.format(id=101): (body([]),),
    }
    _, fake = poll_recorded(make_source(tmp_path), plan)

    assert CONVERSATIONS_PATH.format(id=101) in fake.paths()  # its history is unknown


def test_conversations_beyond_the_cap_wait_in_the_cursor(tmp_path: Path) -> None:
    source = make_source(tmp_path, conversations_per_poll=1)
    twin = listed("tickets-page2-last.json", 106, id=108)
    conversations_108 = CONVERSATIONS_PATH.format(id=108)
    plan = {
        **FULL,
        TICKETS_PATH: (
            page("tickets-page1-of-2.json", next_page=2),
            body([*fixture("tickets-page2-last.json"), twin]),
        ),
        conversations_108: (page("conversations-requester-wrote-twice.json"),),
    }
    first, fake = poll_recorded(source, plan)

    assert fake.paths().count(conversations_108) == 0
    assert state(first)["conversations"] == [{"ticket": "108", "since": NOW}]
    assert [e for e in kinds(by_id(first)["108"]) if e[1] == "requester_reply"] == [
        ("11:00", "requester_reply")
    ]

    second, fake = poll_recorded(
        source, {**EMPTY, conversations_108: plan[conversations_108]}, first.cursor, NOW + 60
    )

    assert fake.paths() == [TICKETS_PATH, RATINGS_PATH, conversations_108]
    assert state(second)["conversations"] == []
    assert [t.id for t in second.tickets] == ["108"]
    replies = [e for e in kinds(second.tickets[0]) if e[1] == "requester_reply"]
    assert replies == [
        ("07:10", "requester_reply"),
        ("09:45", "requester_reply"),
        ("11:00", "requester_reply"),
    ]


def test_conversations_wait_while_the_rate_budget_is_low(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    low = {
        "X-Ratelimit-Total": "200",
        "X-Ratelimit-Remaining": "15",
        "X-Ratelimit-Used-CurrentRequest": "3",
    }
    plan = {
        **FULL,
        RATINGS_PATH: (Answer(body=fixture("satisfaction-ratings-empty.json"), headers=low),),
    }
    result, fake = poll_recorded(source, plan)

    assert CONVERSATIONS_106 not in fake.paths()
    assert state(result)["conversations"] == [{"ticket": "106", "since": NOW}]
    assert result.rate_limit_remaining == 15
    assert any("rate-limit window" in problem for problem in result.problems)


@pytest.mark.parametrize(
    "refused",
    [
        pytest.param(
            Answer(status=404, body={"code": "access_denied", "message": "not found"}),
            id="404-deleted",
        ),
        pytest.param(Answer(status=403, body={"code": "access_denied"}), id="403-not-visible"),
    ],
)
def test_conversations_of_a_vanished_ticket_are_given_up(refused: Answer, tmp_path: Path) -> None:
    plan = {**FULL, CONVERSATIONS_106: (refused,)}
    result = poll(make_source(tmp_path), plan)

    assert state(result)["conversations"] == []
    assert "106" in by_id(result)
    assert any("ticket 106: conversations not readable" in p for p in result.problems)


def test_ai_agent_replies_are_marked(tmp_path: Path) -> None:
    source = make_source(tmp_path, "  ai_agent_ids: [43007075231]")
    ticket = by_id(poll(source, FULL))["106"]

    authors = [
        (e.at.strftime("%H:%M"), e.author, e.public)
        for e in ticket.events
        if e.type is EventType.AGENT_REPLY
    ]
    assert authors == [("07:30", Author.AI_AGENT, True), ("08:00", Author.AI_AGENT, False)]


# --- ratings ----------------------------------------------------------------------------------


def test_ratings_become_csat_events_and_unknown_tickets_wait(tmp_path: Path) -> None:
    result = poll(make_source(tmp_path), FULL)
    tickets = by_id(result)

    ratings = {
        ticket_id: [e.rating for e in ticket.events if e.type is EventType.CSAT]
        for ticket_id, ticket in tickets.items()
    }
    assert ratings == {
        "101": [Rating.BAD],  # -103: extremely unhappy
        "102": [Rating.GOOD],  # 103: extremely happy
        "103": [],
        "104": [Rating.BAD],  # 100: neutral is not satisfied
        "106": [],
    }
    assert state(result)["ratings"] == {
        "created_since": int(ts("2026-11-02 10:50")),
        "seen": [5004],
    }
    waiting = state(result)["ratings_waiting"]
    assert [(w["ticket"], w["rating"]) for w in waiting] == [("999", "good")]
    (outcome,) = COMPUTED.evaluate(tickets["102"], NOW).slos["csat"]
    assert outcome.result == "good"


# --- faults -----------------------------------------------------------------------------------


def test_429_waits_for_retry_after_before_asking_again(tmp_path: Path) -> None:
    clock = FakeClock()
    source = make_source(tmp_path, clock=clock)
    limited = Answer(
        status=429,
        text=fixture_text("rate-limited-429.txt"),
        headers={"Retry-After": "7", "Content-Type": "text/plain"},
    )
    plan = {**EMPTY, TICKETS_PATH: (limited, page("tickets-empty.json"))}
    result = poll(source, plan)

    assert clock.sleeps == [7.0]
    assert result.api_codes == {"429": 1, "200": 2}
    assert result.requests == 3


def test_500_then_success(tmp_path: Path) -> None:
    clock = FakeClock()
    source = make_source(tmp_path, clock=clock)
    failing = Answer(status=500, text="<html>Internal Server Error</html>")
    plan = {**FULL, TICKETS_PATH: (failing, *FULL[TICKETS_PATH])}
    result = poll(source, plan)

    assert clock.sleeps == [1.0]
    assert result.api_codes == {"500": 1, "200": 4}
    assert sorted(by_id(result), key=int) == ["101", "102", "103", "104", "106"]


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        pytest.param(
            Answer(error=requests.exceptions.ReadTimeout("read timed out")), "timeout", id="timeout"
        ),
        pytest.param(
            Answer(text=fixture_text("truncated-page.txt")), "bad_response", id="truncated-json"
        ),
        pytest.param(Answer(body={"tickets": []}), "bad_response", id="object-instead-of-list"),
    ],
)
def test_a_broken_page_fails_the_poll_and_the_next_poll_resumes_from_the_same_cursor(
    tmp_path: Path, broken: Answer, reason: str
) -> None:
    source = make_source(tmp_path)
    plan = {
        **FULL,
        TICKETS_PATH: (page("tickets-page1-of-2.json", next_page=2), broken),
    }
    with pytest.raises(SourceError) as caught:
        poll(source, plan)  # the poller keeps its cursor (None) when a poll fails
    assert caught.value.reason == reason

    again = poll(source, FULL)
    clean = poll(make_source(tmp_path), FULL)
    assert again.cursor == clean.cursor
    assert [t.id for t in again.tickets] == [t.id for t in clean.tickets]
    for ticket in again.tickets:  # nothing lost, nothing counted twice
        assert ticket.events == by_id(clean)[ticket.id].events


@pytest.mark.parametrize(
    ("path", "stuck", "asked"),
    [
        pytest.param(
            TICKETS_PATH,
            page("tickets-page1-of-2.json", next_page=2),
            4,  # pages 2, 3 and 4 repeat page 1
            id="tickets-same-page-again",
        ),
        pytest.param(
            TICKETS_PATH,
            page("tickets-page1-of-2.json", next_page=1),
            3,
            id="tickets-link-back-to-the-same-page",
        ),
        pytest.param(
            RATINGS_PATH,
            page("satisfaction-ratings-good-neutral-bad.json", next_page=2),
            4,
            id="ratings-same-page-again",
        ),
    ],
)
def test_a_listing_that_does_not_advance_fails_as_stalled_and_the_next_poll_resumes(
    path: str, stuck: Answer, asked: int, tmp_path: Path
) -> None:
    clean = poll(make_source(tmp_path), FULL)
    source = make_source(tmp_path)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeFreshdesk(rsps, {**FULL, path: (stuck,)})
        with pytest.raises(SourceError) as caught:
            source.poll(None, NOW)

    assert caught.value.reason == "stalled"
    assert f"GET {path}:" in str(caught.value)
    assert len(fake.queries(path)) == asked  # a few repeats, not max_pages
    resumed = poll(source, FULL)
    assert resumed.cursor == clean.cursor
    assert by_id(resumed) == by_id(clean)


def test_a_poll_out_of_time_keeps_what_it_read_and_the_next_poll_goes_on(tmp_path: Path) -> None:
    clean = poll(make_source(tmp_path), FULL)
    clock = FakeClock()
    source = make_source(tmp_path, clock=clock)
    first_page = fixture("tickets-page1-of-2.json")
    newest = max(ts(t["updated_at"].replace("T", " ").rstrip("Z")) for t in first_page)

    def slow_first_page(request: Any) -> tuple[int, dict[str, str], str]:
        clock.now += source.poll_timeout + 1.0  # this page used up the poll's time
        link = f'<{BASE_URL}{TICKETS_PATH}?page=2>; rel="next"'
        return 200, {"Link": link, "Content-Type": "application/json"}, json.dumps(first_page)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, BASE_URL + TICKETS_PATH, callback=slow_first_page)
        first = source.poll(None, NOW)
        asked = [urlsplit(c.request.url).path for c in rsps.calls]
    rest = {**FULL, TICKETS_PATH: FULL[TICKETS_PATH][1:]}
    second = poll(source, rest, first.cursor)

    assert asked == [TICKETS_PATH]  # nothing after the budget ran out
    assert sorted(by_id(first)) == sorted(str(t["id"]) for t in first_page)
    assert state(first)["tickets"]["updated_since"] == int(newest)
    assert first.watermark == newest - 1  # complete up to what was read
    assert state(second)["tickets"] == state(clean)["tickets"]
    assert second.watermark == clean.watermark


def test_repeating_a_poll_from_the_same_cursor_changes_nothing(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    once = poll(source, FULL)
    twice = poll(source, FULL)

    assert twice.cursor == once.cursor
    assert twice.tickets == once.tickets


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(Answer(status=401, body=fixture("invalid-credentials-401.json")), id="401"),
        pytest.param(Answer(status=403, body={"code": "access_denied"}), id="403"),
        pytest.param(
            Answer(error=requests.exceptions.ConnectionError(f"{BASE_URL}/api/v2/tickets")),
            id="connection",
        ),
    ],
)
def test_credentials_never_appear_in_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, answer: Answer
) -> None:
    source = make_source(tmp_path)
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as caught:
        poll(source, {**EMPTY, TICKETS_PATH: (answer,)})

    encoded = base64.b64encode(f"{API_KEY}:X".encode()).decode()
    for text in (str(caught.value), caplog.text, repr(source.client.session.auth)):
        assert API_KEY not in text
        assert encoded not in text
    assert str(caught.value).startswith(f"GET {TICKETS_PATH}")


def test_the_api_key_signs_in_as_the_basic_auth_user_with_password_x(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeFreshdesk(rsps, EMPTY)
        source.poll(None, NOW)
        sent = rsps.calls[0].request.headers["Authorization"]

    assert sent == "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()


def test_build_source_makes_a_freshdesk_source(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text(API_KEY)
    config = parse_config(f"source: {{type: freshdesk, url: {BASE_URL}, token_file: {key}}}")

    made = build_source(config)
    assert isinstance(made, FreshdeskSource)
    assert made.name == "freshdesk"
    assert made.per_page == 100  # Freshdesk's largest page


# --- business hours and SLA policies ---------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar_id", "expected"),
    [
        pytest.param(
            None,
            (
                "America/New_York",
                {
                    0: ((28800, 61200),),
                    1: ((28800, 61200),),
                    2: ((28800, 61200),),
                    3: ((28800, 61200),),
                    4: ((28800, 45000),),
                    5: ((43200, 86400),),  # 12:00 pm to 11:59 pm: until midnight
                },
            ),
            id="default-calendar-rails-zone",
        ),
        pytest.param(
            43000012346,
            ("Asia/Kolkata", {day: ((34200, 66600),) for day in range(5)}),
            id="by-id-chennai",
        ),
    ],
)
def test_business_hours_become_calendar_arguments(
    tmp_path: Path, calendar_id: int | None, expected: tuple[str, dict[int, Any]]
) -> None:
    client = make_source(tmp_path).client
    listed_hours = fixture("business-hours-two-calendars.json")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(BASE_URL + BUSINESS_HOURS_PATH, json=listed_hours)
        rsps.get(f"{BASE_URL}{BUSINESS_HOURS_PATH}/43000012346", json=listed_hours[1])
        hours = fetch_business_hours(client, calendar_id)

    assert (hours.timezone, dict(hours.weekly)) == expected
    assert hours.holidays == frozenset()


@pytest.mark.parametrize(
    ("policy_id", "first_response", "resolution", "business_hours"),
    [
        pytest.param(
            None,
            {
                Priority.URGENT: 3600,
                Priority.HIGH: 14400,
                Priority.NORMAL: 28800,
                Priority.LOW: 86400,
            },
            {
                Priority.URGENT: 14400,
                Priority.HIGH: 32400,
                Priority.NORMAL: 97200,
                Priority.LOW: 162000,
            },
            {Priority.HIGH, Priority.NORMAL, Priority.LOW},
            id="default-policy",
        ),
        pytest.param(
            43000088326,
            {Priority.URGENT: 1200, Priority.HIGH: 900, Priority.NORMAL: 900, Priority.LOW: 900},
            {p: 900 for p in Priority},
            set(Priority),
            id="by-id",
        ),
    ],
)
def test_sla_policies_become_targets(
    tmp_path: Path,
    policy_id: int | None,
    first_response: dict[Priority, float],
    resolution: dict[Priority, float],
    business_hours: set[Priority],
) -> None:
    client = make_source(tmp_path).client
    with responses.RequestsMock() as rsps:
        rsps.get(BASE_URL + SLA_POLICIES_PATH, json=fixture("sla-policies-default-and-custom.json"))
        targets = fetch_sla_targets(client, policy_id)

    assert dict(targets.targets["first_response"]) == first_response
    assert dict(targets.targets["resolution"]) == resolution
    assert "next_response" not in targets.targets
    assert targets.business_hours == business_hours


@pytest.mark.parametrize(
    ("ai_agent_ids", "replies_count", "stopped_at"),
    [
        pytest.param("", "[agent]", ts("2026-11-02 07:30"), id="unnamed-bot-counts-as-agent"),
        pytest.param("[43007075231]", "[agent]", None, id="named-bot-does-not-stop-the-clock"),
        pytest.param(
            "[43007075231]", "[agent, ai_agent]", ts("2026-11-02 07:30"), id="counted-bot-stops-it"
        ),
    ],
)
def test_ai_agent_ids_from_the_config_file_decide_first_response(
    ai_agent_ids: str, replies_count: str, stopped_at: float | None, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text(API_KEY)
    ids = f"  ai_agent_ids: {ai_agent_ids}\n" if ai_agent_ids else ""
    (tmp_path / "helpdesk-slo.yml").write_text(
        f"source:\n  type: freshdesk\n  url: {BASE_URL}\n  token_file: key\n{ids}"
        "slas:\n  first_response:\n    targets: {urgent: 1h, high: 2h, normal: 8h, low: 24h}\n"
        f"    replies_count: {replies_count}\n"
    )
    config = load_config(tmp_path / "helpdesk-slo.yml")
    source = build_source(config)
    assert isinstance(source, FreshdeskSource)

    ticket = by_id(poll(source, FULL))["106"]  # its replies are the bot's, at 07:30 and 08:00

    first = Evaluator(config).evaluate(ticket, NOW).slas["first_response"][0]
    assert first.stopped_at == stopped_at
