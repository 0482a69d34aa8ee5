"""The Zammad source against a fake Zammad seeded with recorded-shape answers.

The fake (:mod:`tests.fakes.zammad`) runs on 127.0.0.1; the fixtures under
``fixtures/zammad/`` are the answers it starts from: two expanded tickets of
2026-11-02 (101 closed, 102 pending), their articles and their history.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from exporter.config import load_config, parse_config
from exporter.model import Author, EventType, NativeClock, Priority, Ticket, TicketEvent
from exporter.sources import build_source
from exporter.sources.base import PollResult, SourceError
from exporter.sources.http import HelpdeskClient
from exporter.sources.imports import resolve_imports
from exporter.sources.zammad import (
    INDEX_LAG_SECONDS,
    TokenAuth,
    ZammadSource,
    calendar_hours,
    fetch_calendar,
    map_priority,
    sla_targets,
    zammad_client,
)
from exporter.sources.zendesk_time_zones import ScheduleError
from tests.builders import ts, utc
from tests.fakes.zammad import NOBODY, FakeZammad
from tests.sources.helpers import FakeClock

FIXTURES = Path(__file__).parent / "fixtures" / "zammad"
TOKEN = "zammad-Access-T0ken-5ecret"
NOW = ts("2026-11-02 12:00")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def zammad() -> Iterator[FakeZammad]:
    """The fake, seeded with the recorded tickets 101 and 102."""
    with FakeZammad(TOKEN) as fake:
        fake.load(
            fixture("search-expanded-two-tickets.json"),
            {i: fixture(f"articles-by-ticket-{i}.json") for i in ("101", "102")},
            {i: fixture(f"ticket-history-{i}.json") for i in ("101", "102")},
        )
        yield fake


@pytest.fixture
def empty_zammad() -> Iterator[FakeZammad]:
    with FakeZammad(TOKEN) as fake:
        yield fake


def make_source(
    tmp_path: Path,
    fake: FakeZammad,
    extra: str = "",
    token: str = TOKEN,
    clock: FakeClock | None = None,
    **options: Any,
) -> ZammadSource:
    (tmp_path / "token").write_text(token + "\n")
    config = parse_config(
        f"source:\n  type: zammad\n  url: {fake.url}\n  token_file: {tmp_path / 'token'}\n"
        f"  lookback: 35d\n  timeout: 5s\n{extra}"
    ).source
    clock = clock or FakeClock()
    client = zammad_client(config, sleep=clock.sleep, clock=clock.monotonic)
    client._jitter = lambda: 0.0
    return ZammadSource(config, client, **options)


def by_id(result: PollResult) -> dict[str, Ticket]:
    return {t.id: t for t in result.tickets}


# --- mapping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ticket_id", "read", "expected"),
    [
        pytest.param("101", lambda t: t.status, "closed", id="closed-state"),
        pytest.param("102", lambda t: t.status, "pending", id="pending-reminder-is-pending"),
        pytest.param("101", lambda t: t.priority, Priority.HIGH, id="priority-3-high"),
        pytest.param("102", lambda t: t.priority, Priority.NORMAL, id="priority-2-normal"),
        pytest.param("102", lambda t: t.channel, "phone", id="channel-create-article-type"),
        pytest.param("102", lambda t: t.group, "2nd Level", id="group-by-name"),
        pytest.param("101", lambda t: t.type, "Incident", id="type"),
        pytest.param("101", lambda t: t.assignee, "3", id="owner-is-assignee"),
        pytest.param("102", lambda t: t.assignee, None, id="owner-1-is-nobody"),
        pytest.param("101", lambda t: t.created_at, utc("2026-11-02 08:00"), id="created-at"),
    ],
)
def test_ticket_attributes_are_mapped(
    ticket_id: str, read: Callable[[Ticket], Any], expected: Any, tmp_path: Path, zammad: FakeZammad
) -> None:
    result = make_source(tmp_path, zammad).poll(None, NOW)

    assert read(by_id(result)[ticket_id]) == expected


@pytest.mark.parametrize(
    ("ticket_id", "events"),
    [
        pytest.param(
            "101",
            [
                # created in a group, with an owner: both assignments at creation
                TicketEvent(utc("2026-11-02 08:00"), EventType.ASSIGNED, to="group"),
                TicketEvent(utc("2026-11-02 08:00"), EventType.ASSIGNED),
                TicketEvent(utc("2026-11-02 08:00:05"), EventType.AGENT_REPLY, automated=True),
                TicketEvent(utc("2026-11-02 08:10"), EventType.AGENT_REPLY, public=False),
                TicketEvent(utc("2026-11-02 08:20"), EventType.AGENT_REPLY),
                TicketEvent(utc("2026-11-02 08:20"), EventType.STATUS, to="open"),
                TicketEvent(utc("2026-11-02 09:00"), EventType.REQUESTER_REPLY),
                TicketEvent(utc("2026-11-02 09:30"), EventType.AGENT_REPLY),
                TicketEvent(utc("2026-11-02 10:00"), EventType.STATUS, to="closed"),
            ],
            id="system-auto-reply-internal-note-replies-states",
        ),
        pytest.param(
            "102",
            [
                TicketEvent(utc("2026-11-02 09:00"), EventType.ASSIGNED, to="group"),
                TicketEvent(utc("2026-11-02 09:30"), EventType.AGENT_REPLY, public=False),
                TicketEvent(utc("2026-11-02 10:00"), EventType.AGENT_REPLY),
                TicketEvent(utc("2026-11-02 10:00"), EventType.STATUS, to="open"),
                TicketEvent(utc("2026-11-02 10:01"), EventType.STATUS, to="pending"),
            ],
            id="public-note-is-not-a-reply",
        ),
    ],
)
def test_articles_and_history_become_events(
    ticket_id: str, events: list[TicketEvent], tmp_path: Path, zammad: FakeZammad
) -> None:
    result = make_source(tmp_path, zammad).poll(None, NOW)

    assert list(by_id(result)[ticket_id].events) == events


@pytest.mark.parametrize(
    ("extra", "ticket_id", "read", "expected"),
    [
        pytest.param(
            "  status_map: {'pending reminder': on_hold}\n",
            "102",
            lambda t: t.status,
            "on_hold",
            id="status-map",
        ),
        pytest.param(
            "  priority_map: {'3 high': urgent}\n",
            "101",
            lambda t: t.priority,
            Priority.URGENT,
            id="priority-map",
        ),
        pytest.param(
            "  ai_agent_ids: [7001]\n",
            "102",
            lambda t: [e.author for e in t.events if e.type is EventType.AGENT_REPLY and e.public],
            [Author.AI_AGENT],
            id="ai-agent-ids",
        ),
    ],
)
def test_config_maps_override_the_defaults(
    extra: str,
    ticket_id: str,
    read: Callable[[Ticket], Any],
    expected: Any,
    tmp_path: Path,
    zammad: FakeZammad,
) -> None:
    result = make_source(tmp_path, zammad, extra).poll(None, NOW)

    assert read(by_id(result)[ticket_id]) == expected


AT = utc("2026-11-02 09:00")


@pytest.mark.parametrize(
    ("article", "event"),
    [
        pytest.param(
            {"sender": "Customer", "type": "email"},
            TicketEvent(AT, EventType.REQUESTER_REPLY),
            id="customer",
        ),
        pytest.param({"sender": "Customer", "internal": True}, None, id="customer-internal"),
        pytest.param(
            {"sender": "Agent", "type": "email"},
            TicketEvent(AT, EventType.AGENT_REPLY),
            id="agent-email",
        ),
        pytest.param(
            {"sender": "Agent", "type": "phone", "internal": True},
            TicketEvent(AT, EventType.AGENT_REPLY, public=False),
            id="agent-internal",
        ),
        pytest.param(
            {"sender": "Agent", "type": "note"},
            TicketEvent(AT, EventType.AGENT_REPLY, public=False),
            id="agent-public-note",
        ),
        pytest.param(
            {"sender": "System", "type": "email"},
            TicketEvent(AT, EventType.AGENT_REPLY, automated=True),
            id="system-auto-reply",
        ),
        pytest.param({"sender": "System", "internal": True}, None, id="system-internal"),
        pytest.param(
            {"sender_id": 2, "type": "web"},
            TicketEvent(AT, EventType.REQUESTER_REPLY),
            id="sender-id-2-is-customer",
        ),
        pytest.param(
            {"sender_id": 1, "type": "email", "created_by_id": 7001},
            TicketEvent(AT, EventType.AGENT_REPLY, author=Author.AI_AGENT),
            id="sender-id-1-by-an-ai-agent",
        ),
        pytest.param({"sender": "Agent", "created_at": None}, None, id="no-created-at"),
    ],
)
def test_an_article_becomes_an_event(
    article: dict[str, Any], event: TicketEvent | None, tmp_path: Path, zammad: FakeZammad
) -> None:
    source = make_source(tmp_path, zammad, "  ai_agent_ids: [7001]\n")

    assert source.article_event({"created_at": "2026-11-02T09:00:00.000Z", **article}) == event


def test_an_unmapped_custom_state_counts_as_open_and_is_logged_once(
    tmp_path: Path, zammad: FakeZammad, caplog: pytest.LogCaptureFixture
) -> None:
    zammad.update(102, state="waiting for parts")
    source = make_source(tmp_path, zammad)
    with caplog.at_level(logging.WARNING, "exporter.sources.zammad"):
        result = source.poll(None, NOW)

    assert by_id(result)["102"].status == "open"
    assert sum("waiting for parts" in r.getMessage() for r in caplog.records) == 1


# --- native clocks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ticket_id", "clocks"),
    [
        pytest.param(
            "101",
            [
                NativeClock(
                    "first_response",
                    started_at=utc("2026-11-02 08:00"),
                    target_seconds=3600.0,
                    stopped_at=utc("2026-11-02 08:20"),
                ),
                NativeClock(
                    "resolution",
                    started_at=utc("2026-11-02 08:00"),
                    target_seconds=4 * 3600.0,
                    stopped_at=utc("2026-11-02 10:00"),
                ),
            ],
            id="met-from-diff-in-min",
        ),
        pytest.param(
            "102",
            [
                NativeClock(
                    "first_response",
                    started_at=utc("2026-11-02 09:00"),
                    target_seconds=1800.0,
                    stopped_at=utc("2026-11-02 10:00"),
                    breached_at=utc("2026-11-02 10:00"),
                ),
            ],
            id="negative-diff-is-a-breach-no-sla-on-resolution",
        ),
    ],
)
def test_native_clocks_come_from_the_escalation_fields(
    ticket_id: str, clocks: list[NativeClock], tmp_path: Path, zammad: FakeZammad
) -> None:
    result = make_source(tmp_path, zammad).poll(None, NOW)

    assert list(by_id(result)[ticket_id].native) == clocks


def test_a_running_deadline_is_kept_once_zammad_clears_it(
    tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    zammad = empty_zammad
    zammad.create_ticket(7, utc("2026-11-02 08:00"), priority="3 high")
    zammad.update(7, first_response_escalation_at=utc("2026-11-02 09:00"))
    source = make_source(tmp_path, zammad)
    first = source.poll(None, NOW)
    zammad.article(7, utc("2026-11-02 12:30"), "Agent")
    zammad.update(
        7,
        first_response_escalation_at=None,
        first_response_in_min=270,
        first_response_diff_in_min=-210,
    )

    second = source.poll(first.cursor, NOW + 3600)

    assert by_id(second)["7"].native[0] == NativeClock(
        "first_response",
        started_at=utc("2026-11-02 08:00"),
        target_seconds=3600.0,
        deadline=utc("2026-11-02 09:00"),
        stopped_at=utc("2026-11-02 12:30"),
        breached_at=utc("2026-11-02 09:00"),
    )


@pytest.mark.parametrize(
    ("answered_at", "breached_at"),
    [
        pytest.param("2026-11-02 09:45", None, id="answered-before-the-deadline"),
        pytest.param("2026-11-02 11:00", "2026-11-02 10:00", id="answered-late"),
    ],
)
def test_native_next_response_keeps_zammads_update_deadline(
    answered_at: str, breached_at: str | None, tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    zammad = empty_zammad
    zammad.create_ticket(9, utc("2026-11-02 08:00"))
    zammad.article(9, utc("2026-11-02 08:30"), "Agent")
    zammad.article(9, utc("2026-11-02 09:00"), "Customer")
    zammad.update(9, update_escalation_at=utc("2026-11-02 10:00"))
    source = make_source(tmp_path, zammad)
    first = source.poll(None, NOW)
    zammad.article(9, utc(answered_at), "Agent")
    zammad.update(9, at=NOW + 60, update_escalation_at=None)

    second = source.poll(first.cursor, NOW + 3600)

    running = [c for c in by_id(first)["9"].native if c.metric == "next_response"]
    answered = [c for c in by_id(second)["9"].native if c.metric == "next_response"]
    assert running == [
        NativeClock(
            "next_response", started_at=utc("2026-11-02 09:00"), deadline=utc("2026-11-02 10:00")
        )
    ]
    assert answered == [
        NativeClock(
            "next_response",
            started_at=utc("2026-11-02 09:00"),
            deadline=utc("2026-11-02 10:00"),
            stopped_at=utc(answered_at),
            breached_at=None if breached_at is None else utc(breached_at),
        )
    ]


@pytest.mark.parametrize(
    ("state", "paused"),
    [
        pytest.param("open", False, id="open-runs"),
        pytest.param("pending close", True, id="pending-pauses"),
    ],
)
def test_native_resolution_pauses_in_pending_states(
    state: str, paused: bool, tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    empty_zammad.create_ticket(8, utc("2026-11-02 08:00"))
    empty_zammad.update(8, close_escalation_at=utc("2026-11-02 16:00"))
    empty_zammad.set_state(8, utc("2026-11-02 09:00"), state)

    result = make_source(tmp_path, empty_zammad).poll(None, NOW)

    (clock,) = by_id(result)["8"].native
    assert (clock.metric, clock.deadline, clock.paused) == (
        "resolution",
        utc("2026-11-02 16:00"),
        paused,
    )


# --- paging, position, economy ----------------------------------------------------------------


def world(fake: FakeZammad, count: int) -> None:
    """``count`` tickets created a minute apart from 08:00, each answered ten minutes later."""
    start = utc("2026-11-02 08:00")
    for number in range(1, count + 1):
        fake.create_ticket(number, start + timedelta(minutes=number))
        fake.article(number, start + timedelta(minutes=number + 10), "Agent")


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(0, id="none"),
        pytest.param(1, id="one"),
        pytest.param(3, id="exactly-one-page"),
        pytest.param(4, id="one-more-than-a-page"),
        pytest.param(10, id="several-pages"),
    ],
)
def test_a_poll_reads_every_changed_ticket_within_the_page_bound(
    changed: int, tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    world(empty_zammad, changed)

    result = make_source(tmp_path, empty_zammad, "  page_size: 3\n").poll(None, NOW)

    assert sorted(int(t.id) for t in result.tickets) == list(range(1, changed + 1))
    assert empty_zammad.count("search") <= math.ceil(changed / 3) + 1
    assert empty_zammad.count("articles") == empty_zammad.count("history") == changed


def test_a_poll_with_nothing_changed_costs_one_request(
    tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    world(empty_zammad, 5)
    source = make_source(tmp_path, empty_zammad, "  page_size: 3\n")
    first = source.poll(None, NOW)
    before = len(empty_zammad.requests)

    second = source.poll(first.cursor, NOW + 60)

    assert (len(empty_zammad.requests) - before, second.tickets) == (1, [])


def test_tickets_listed_again_inside_the_index_lag_are_not_read_again(
    tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    empty_zammad.create_ticket(1, NOW - 30)
    source = make_source(tmp_path, empty_zammad)
    first = source.poll(None, NOW)

    second = source.poll(first.cursor, NOW + 10)

    assert [t.id for t in first.tickets] == ["1"]
    assert second.tickets == []
    assert empty_zammad.count("articles") == 1
    assert empty_zammad.requests[-1].params["query"] == "updated_at:>=2026-11-02T11\\:58\\:00.000Z"


def test_a_ticket_changed_while_the_listing_is_read_does_not_push_another_out(
    tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    world(empty_zammad, 7)

    def change_the_first(search_number: int) -> None:
        if search_number == 2:  # after page 1: ticket 1 moves to the end of the listing
            empty_zammad.article(1, utc("2026-11-02 11:00"), "Customer")

    empty_zammad.before_search = change_the_first

    result = make_source(tmp_path, empty_zammad, "  page_size: 3\n").poll(None, NOW)

    assert sorted(int(t.id) for t in result.tickets) == list(range(1, 8))


@pytest.mark.parametrize(
    ("max_pages", "watermark"),
    [
        pytest.param(10, NOW - INDEX_LAG_SECONDS, id="read-to-the-end"),
        # page 1 reads 1..4; page 2 starts at 4's updated_at (08:14) and reads 5..7
        pytest.param(1, ts("2026-11-02 08:14") - 0.001, id="cut-by-the-page-limit"),
    ],
)
def test_watermark(
    max_pages: int, watermark: float, tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    world(empty_zammad, 7)

    result = make_source(tmp_path, empty_zammad, "  page_size: 3\n", max_pages=max_pages).poll(
        None, NOW
    )

    assert result.watermark == pytest.approx(watermark)


def test_a_poll_cut_short_goes_on_where_it_stopped(
    tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    world(empty_zammad, 7)
    source = make_source(tmp_path, empty_zammad, "  page_size: 3\n", max_pages=1)
    first = source.poll(None, NOW)

    second = source.poll(first.cursor, NOW + 60)

    assert [t.id for t in first.tickets] == ["1", "2", "3", "4"]
    assert [t.id for t in second.tickets] == ["5", "6", "7"]


def test_a_poll_cut_short_among_recent_changes_keeps_its_position_behind_the_index_lag(
    tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    for number in range(1, 8):  # changed in the last minute: maybe not all indexed yet
        empty_zammad.create_ticket(number, NOW - 60 + number)
    first = make_source(tmp_path, empty_zammad, "  page_size: 3\n", max_pages=1).poll(None, NOW)
    second = make_source(tmp_path, empty_zammad, "  page_size: 3\n").poll(first.cursor, NOW + 1)

    assert json.loads(first.cursor or "")["since"] == NOW - INDEX_LAG_SECONDS
    assert [t.id for t in second.tickets] == ["5", "6", "7"]  # 1..4 seen, not read again


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "fault", "reason"),
    [
        pytest.param("search", {"status": 429}, "rate_limited", id="429-without-retry-after"),
        pytest.param(
            "search", {"status": 429, "retry_after": 900}, "rate_limited", id="429-retry-after-long"
        ),
        pytest.param("search", {"status": 503}, "http_5xx", id="503"),
        pytest.param("articles", {"status": 500}, "http_5xx", id="500-on-articles"),
        pytest.param(
            "search", {"status": 200, "body": '[{"id": 1,'}, "bad_response", id="cut-json"
        ),
        pytest.param(
            "search",
            {"status": 200, "body": json.dumps(fixture("search-not-expanded.json"))},
            "bad_response",
            id="not-the-expanded-list",
        ),
        pytest.param(
            "history", {"status": 200, "body": "[]"}, "bad_response", id="history-not-an-object"
        ),
    ],
)
def test_faults_fail_the_poll_with_their_reason(
    endpoint: str, fault: dict[str, Any], reason: str, tmp_path: Path, zammad: FakeZammad
) -> None:
    zammad.fail(endpoint, **fault)

    with pytest.raises(SourceError) as failed:
        make_source(tmp_path, zammad).poll(None, NOW)

    assert failed.value.reason == reason


def test_an_expired_token_fails_with_auth(tmp_path: Path, zammad: FakeZammad) -> None:
    with pytest.raises(SourceError) as failed:
        make_source(tmp_path, zammad, token="expired-token-0000").poll(None, NOW)

    assert (failed.value.reason, failed.value.status) == ("auth", 401)
    assert "expired-token-0000" not in str(failed.value)


def test_429_with_retry_after_is_waited_for_then_read(tmp_path: Path, zammad: FakeZammad) -> None:
    clock = FakeClock()
    zammad.fail("search", 429, retry_after=7, times=1)

    result = make_source(tmp_path, zammad, clock=clock).poll(None, NOW)

    assert (clock.sleeps, sorted(by_id(result))) == ([7.0], ["101", "102"])


def test_a_listing_that_answers_the_same_page_fails_as_stalled(
    tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    world(empty_zammad, 4)
    stuck = json.dumps(fixture("search-expanded-two-tickets.json"))

    empty_zammad.fail("search", 200, body=stuck)

    with pytest.raises(SourceError) as failed:
        make_source(tmp_path, empty_zammad, "  page_size: 1\n").poll(None, NOW)
    assert failed.value.reason == "stalled"


def test_a_failed_poll_loses_nothing_on_the_next_one(tmp_path: Path, zammad: FakeZammad) -> None:
    source = make_source(tmp_path, zammad)
    zammad.fail("history", 500)
    with pytest.raises(SourceError):
        source.poll(None, NOW)
    zammad.heal()

    result = source.poll(None, NOW)

    assert sorted(by_id(result)) == ["101", "102"]


def test_a_listing_that_goes_back_in_time_does_not_move_the_position_back(
    tmp_path: Path, zammad: FakeZammad, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_source(tmp_path, zammad)
    first = source.poll(None, NOW)
    zammad.fail("search", 200, body=json.dumps(fixture("search-expanded-two-tickets.json")))

    with caplog.at_level(logging.WARNING, "exporter.sources.zammad"):
        second = source.poll(first.cursor, NOW + 3600)

    assert [t.id for t in second.tickets] == ["101", "102"]  # read again, nothing lost
    assert json.loads(second.cursor or "")["since"] == NOW + 3600 - INDEX_LAG_SECONDS
    assert any("going back in time" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param({"updated_at": None}, "has no id or updated_at", id="no-updated-at"),
        pytest.param({"created_at": "soon"}, "has no created_at", id="bad-created-at"),
    ],
)
def test_a_record_that_cannot_be_read_is_skipped_and_named(
    change: dict[str, Any], problem: str, tmp_path: Path, zammad: FakeZammad
) -> None:
    zammad.update(102, **change)

    result = make_source(tmp_path, zammad).poll(None, NOW)

    assert sorted(by_id(result)) == ["101"]
    assert len(result.problems) == 1 and problem in result.problems[0]


def test_a_ticket_gone_while_it_is_read_is_skipped(tmp_path: Path, zammad: FakeZammad) -> None:
    zammad.fail("articles", 404, times=1)

    result = make_source(tmp_path, zammad).poll(None, NOW)

    assert sorted(by_id(result)) == ["102"]
    assert "ticket 101" in result.problems[0]


def test_the_token_is_sent_as_a_zammad_token_header(tmp_path: Path, zammad: FakeZammad) -> None:
    source = make_source(tmp_path, zammad)

    source.poll(None, NOW)

    assert zammad.count("search") == 1 and zammad.requests[0].status == 200
    assert "hidden" in repr(source.client.session.auth)


# --- built from a config file -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_block", "read", "expected"),
    [
        pytest.param("", lambda s: type(s).__name__, "ZammadSource", id="type"),
        pytest.param("  ai_agent_ids: [7001]\n", lambda s: s.ai_agent_ids, {"7001"}, id="ai-ids"),
        pytest.param("  page_size: 25\n", lambda s: s.page_size, 25, id="page-size"),
        pytest.param(
            "  status_map: {waiting: on_hold}\n",
            lambda s: s.map_status("Waiting"),
            "on_hold",
            id="status-map",
        ),
    ],
)
def test_the_source_is_built_from_a_config_file(
    source_block: str, read: Callable[[Any], Any], expected: Any, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text(TOKEN)
    (tmp_path / "helpdesk-slo.yml").write_text(
        "source:\n  type: zammad\n  url: https://support.acme.example\n  token_file: key\n"
        + source_block
    )

    source = build_source(load_config(tmp_path / "helpdesk-slo.yml"))

    assert read(source) == expected


# --- calendars and SLAs imported ----------------------------------------------------------------

HOUR = 3600.0


def admin_client(fake: FakeZammad) -> HelpdeskClient:
    return HelpdeskClient(fake.url, auth=TokenAuth(TOKEN), retries=0)


@pytest.mark.parametrize(
    ("calendar", "read", "expected"),
    [
        pytest.param(None, lambda h: h.timezone, "Europe/Berlin", id="default-calendar-zone"),
        pytest.param(
            None,
            lambda h: h.weekly[0],
            ((9 * 3600, 12 * 3600 + 1800), (13 * 3600 + 1800, 17 * 3600)),
            id="monday-with-a-lunch-break",
        ),
        pytest.param(None, lambda h: h.weekly[4], ((9 * 3600, 15 * 3600),), id="friday"),
        pytest.param(None, lambda h: 5 in h.weekly, False, id="inactive-saturday-is-closed"),
        pytest.param(
            None,
            lambda h: sorted(d.isoformat() for d in h.holidays),
            ["2026-12-24", "2026-12-25"],
            id="active-holidays-only",
        ),
        pytest.param("2", lambda h: h.timezone, "America/New_York", id="by-id"),
        pytest.param(
            "New York", lambda h: h.weekly[5], ((8 * 3600, 24 * 3600),), id="23-59-is-midnight"
        ),
    ],
)
def test_a_zammad_calendar_becomes_business_hours(
    calendar: str | None, read: Callable[[Any], Any], expected: Any, empty_zammad: FakeZammad
) -> None:
    empty_zammad.set_calendars(fixture("calendars.json"))

    hours = fetch_calendar(admin_client(empty_zammad), calendar)

    assert read(hours) == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"business_hours": {"mon": {"active": True, "timeframes": [["17:00", "09:00"]]}}},
            "business_hours.mon.timeframes[0]: ends before it starts",
            id="backwards-timeframe",
        ),
        pytest.param(
            {"business_hours": {"mon": {"active": True, "timeframes": [["9am", "5pm"]]}}},
            "expected a time like 09:00",
            id="not-a-time",
        ),
        pytest.param(
            {"business_hours": {"mon": {"active": False, "timeframes": []}}},
            "no active business hours",
            id="no-active-day",
        ),
        pytest.param({"public_holidays": {"Xmas": {}}}, "'Xmas' is not a date", id="bad-holiday"),
    ],
)
def test_a_calendar_that_cannot_be_read_says_where(change: dict[str, Any], message: str) -> None:
    record = {**fixture("calendars.json")[0], **change}

    with pytest.raises(ScheduleError, match=re.escape(message)):
        calendar_hours(record)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(
            None,
            {
                "first_response": {
                    Priority.URGENT: HOUR,
                    Priority.HIGH: HOUR,
                    Priority.NORMAL: 4 * HOUR,
                    Priority.LOW: 4 * HOUR,
                },
                "next_response": {
                    Priority.URGENT: 2 * HOUR,
                    Priority.HIGH: 2 * HOUR,
                    Priority.NORMAL: 8 * HOUR,
                    Priority.LOW: 8 * HOUR,
                },
                "resolution": {
                    Priority.URGENT: 8 * HOUR,
                    Priority.HIGH: 8 * HOUR,
                    Priority.NORMAL: 24 * HOUR,
                    Priority.LOW: 24 * HOUR,
                },
            },
            id="first-matching-sla-by-name-per-priority-skipping-group-conditions",
        ),
        pytest.param(
            "0 vip group",
            {
                "first_response": {Priority.HIGH: 1800.0},
                "next_response": {Priority.HIGH: HOUR},
                "resolution": {Priority.HIGH: 4 * HOUR},
            },
            id="a-named-sla-for-the-priorities-it-names",
        ),
        pytest.param(
            "3",
            {
                "first_response": dict.fromkeys(Priority, 4 * HOUR),
                "next_response": dict.fromkeys(Priority, 8 * HOUR),
                "resolution": dict.fromkeys(Priority, 24 * HOUR),
            },
            id="by-id-without-condition-every-priority",
        ),
    ],
)
def test_zammad_slas_become_targets_per_priority(
    policy: str | None, expected: dict[str, dict[Priority, float]]
) -> None:
    targets = sla_targets(
        fixture("slas.json"),
        fixture("ticket-priorities.json"),
        lambda name: map_priority(name, {}),
        policy,
    )

    assert targets == expected


def test_a_response_time_is_the_next_response_target() -> None:
    sla = {**fixture("slas.json")[0], "response_time": 90}

    targets = sla_targets([sla], fixture("ticket-priorities.json"), lambda n: map_priority(n, {}))

    assert targets["next_response"][Priority.NORMAL] == 90 * 60.0


IMPORT_CONFIG = """
source:
  type: zammad
  url: {url}
  token_file: {token}
calendars:
  office:
    import: zammad
    holidays: ["2026-12-31"]
slas:
  import: zammad
  calendar: office
"""


def test_calendars_and_slas_are_imported_into_the_config(
    tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    empty_zammad.set_calendars(fixture("calendars.json"))
    empty_zammad.set_slas(fixture("slas.json"), fixture("ticket-priorities.json"))
    (tmp_path / "token").write_text(TOKEN)
    config = parse_config(IMPORT_CONFIG.format(url=empty_zammad.url, token=tmp_path / "token"))

    resolved = resolve_imports(config)

    office = resolved.calendars["office"]
    assert (office.timezone, office.hours[4]) == ("Europe/Berlin", ((9 * 3600, 15 * 3600),))
    assert {d.isoformat() for d in office.holidays} == {"2026-12-24", "2026-12-25", "2026-12-31"}
    first = resolved.slas["first_response"]
    assert (first.calendar, first.targets[Priority.HIGH].seconds) == ("office", HOUR)
    assert resolved.slas["resolution"].targets[Priority.LOW].seconds == 24 * HOUR


def test_imported_slas_need_the_calendar_they_count_on(
    tmp_path: Path, empty_zammad: FakeZammad
) -> None:
    empty_zammad.set_slas(fixture("slas.json"), fixture("ticket-priorities.json"))
    (tmp_path / "token").write_text(TOKEN)
    text = IMPORT_CONFIG.format(url=empty_zammad.url, token=tmp_path / "token")
    config = parse_config(text.split("calendars:")[0] + "slas:\n  import: zammad\n")

    with pytest.raises(SourceError, match=re.escape("name the calendar with `slas.calendar:`")):
        resolve_imports(config)


# --- assignments (start: assigned) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "changes", "expected"),
    [
        pytest.param(NOBODY, [], [("08:00", "group")], id="in-its-group-from-creation"),
        pytest.param(
            NOBODY,
            [("09:00", {"owner_id": 7})],
            [("08:00", "group"), ("09:00", None)],
            id="owner-set-later",
        ),
        pytest.param(7, [], [("08:00", "group"), ("08:00", None)], id="created-with-an-owner"),
        pytest.param(
            7,
            [("09:00", {"owner_id": 8})],
            [("08:00", "group"), ("08:00", None), ("09:00", None)],
            id="created-with-an-owner-then-reassigned",
        ),
        pytest.param(
            NOBODY,
            [("09:00", {"owner_id": 7}), ("10:00", {"owner_id": NOBODY})],
            [("08:00", "group"), ("09:00", None)],
            id="owner-back-to-nobody-assigns-no-one",
        ),
        pytest.param(
            NOBODY,
            [("09:00", {"group_id": 2})],
            [("08:00", "group"), ("09:00", "group")],
            id="moved-to-another-group",
        ),
    ],
)
def test_owner_and_group_history_become_assignments(
    owner: int,
    changes: list[tuple[str, dict[str, int]]],
    expected: list[tuple[str, str | None]],
    tmp_path: Path,
    empty_zammad: FakeZammad,
) -> None:
    empty_zammad.create_ticket(5, utc("2026-11-02 08:00"), owner_id=owner)
    for when, assignment in changes:
        empty_zammad.assign(5, utc(f"2026-11-02 {when}"), **assignment)

    (ticket,) = make_source(tmp_path, empty_zammad).poll(None, NOW).tickets

    assert [
        (e.at.strftime("%H:%M"), e.to) for e in ticket.events if e.type is EventType.ASSIGNED
    ] == expected
