"""The Intercom source: mapping of recorded-shape conversations, search rounds, faults, API economy.

Mapping and native-mode tests read the fixtures in ``fixtures/intercom/`` (one
file per API shape); paging, watermark, faults and request counts run against
:class:`tests.fakes.intercom.FakeIntercom` over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from exporter.config import ConfigError, load_config, parse_config
from exporter.model import Author, EventType, NativeClock, Priority, Rating, Ticket, TicketEvent
from exporter.records import SkippedRecord, SkipReason
from exporter.slo import Evaluator
from exporter.sources import build_source
from exporter.sources.base import SourceError
from exporter.sources.imports import resolve_imports
from exporter.sources.intercom import (
    CONVERSATION_PATH,
    LAG_SECONDS,
    MAX_PER_PAGE,
    OFFICE_HOURS_EXCEPTIONS_PATH,
    OFFICE_HOURS_PATH,
    SEARCH_PATH,
    CursorState,
    IntercomSource,
    intercom_client,
    office_hours,
)
from exporter.sources.zendesk_time_zones import ScheduleError
from tests.builders import ticket, ts, utc
from tests.fakes.intercom import FakeIntercom
from tests.sources.helpers import FakeClock

FIXTURES = Path(__file__).parent / "fixtures" / "intercom"
TOKEN = "ic-Access-Token-s3cr3t-42"
NOW = ts("2026-11-02 12:00")
BASE_URL = "https://api.intercom.io"
FIN = "conversation-fin-then-teammate-snoozed-closed-rated.json"
ACTIVE = "conversation-unanswered-sla-active.json"
MISSED = "conversation-late-reply-sla-missed-reopened.json"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def source_config(tmp_path: Path, url: str | None = BASE_URL, extra: str = "") -> Any:
    token = tmp_path / "intercom-token"
    token.write_text(TOKEN + "\n")
    url_line = f"  url: {url}\n" if url else ""
    config = parse_config(
        f"source:\n  type: intercom\n{url_line}  token_file: {token}\n  lookback: 35d\n{extra}"
    )
    return config.source


def make_source(
    tmp_path: Path,
    url: str | None = BASE_URL,
    *,
    clock: FakeClock | None = None,
    wall: Callable[[], float] = lambda: NOW,
    extra: str = "",
    **options: Any,
) -> IntercomSource:
    clock = clock or FakeClock()
    config = source_config(tmp_path, url, extra)
    client = intercom_client(config, sleep=clock.sleep, clock=clock.monotonic, wall_clock=wall)
    client._jitter = lambda: 0.0
    return IntercomSource(config, client, **options)


def at(text: str) -> datetime:
    return utc(f"2026-11-02 {text}")


@pytest.fixture
def fake() -> Iterator[FakeIntercom]:
    with FakeIntercom(TOKEN, clock=lambda: NOW) as server:
        yield server


def day(fake: FakeIntercom, count: int, start: str = "09:00") -> None:
    """``count`` conversations created a minute apart, each answered a minute later."""
    for number in range(count):
        created = ts(f"2026-11-02 {start}") + 60 * number
        fake.create(300 + number, created)
        fake.reply(300 + number, created + 60)


# --- mapping ----------------------------------------------------------------------------------


def events_of(name: str, extra: str = "", tmp_path: Path | None = None) -> Ticket:
    assert tmp_path is not None
    return make_source(tmp_path, extra=extra).conversation(fixture(name))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            FIN,
            [
                TicketEvent(at("08:00:05"), EventType.AGENT_REPLY, author=Author.AI_AGENT),
                TicketEvent(at("08:10"), EventType.AGENT_REPLY, public=False),
                TicketEvent(at("08:12"), EventType.ASSIGNED),
                TicketEvent(at("08:20"), EventType.AGENT_REPLY),
                TicketEvent(at("08:21"), EventType.STATUS, to="pending"),
                TicketEvent(at("09:00"), EventType.STATUS, to="open"),
                TicketEvent(at("09:05"), EventType.REQUESTER_REPLY),
                TicketEvent(at("09:30"), EventType.AGENT_REPLY),
                TicketEvent(at("09:31"), EventType.STATUS, to="solved"),
                TicketEvent(at("09:40"), EventType.CSAT, rating=Rating.GOOD),
            ],
            id="fin-note-assignment-snooze-unsnooze-customer-close-rating",
        ),
        pytest.param(
            MISSED,
            [
                TicketEvent(at("11:50"), EventType.AGENT_REPLY),
                TicketEvent(at("11:55"), EventType.STATUS, to="solved"),
                TicketEvent(at("11:58"), EventType.REQUESTER_REPLY),
                TicketEvent(at("11:58"), EventType.STATUS, to="open"),
            ],
            id="customer-reply-reopens-a-closed-conversation",
        ),
        pytest.param(ACTIVE, [], id="unanswered-has-no-events"),
    ],
)
def test_conversation_parts_become_events(
    name: str, expected: list[TicketEvent], tmp_path: Path
) -> None:
    assert list(events_of(name, tmp_path=tmp_path).events) == expected


@pytest.mark.parametrize(
    ("name", "extra", "read", "expected"),
    [
        pytest.param(FIN, "", lambda t: t.priority, Priority.HIGH, id="priority-is-high"),
        pytest.param(ACTIVE, "", lambda t: t.priority, Priority.NORMAL, id="not-priority-normal"),
        pytest.param(
            FIN,
            "  priority_map: {priority: urgent}\n",
            lambda t: t.priority,
            Priority.URGENT,
            id="priority-map-overrides",
        ),
        pytest.param(FIN, "", lambda t: t.status, "solved", id="closed-is-solved"),
        pytest.param(MISSED, "", lambda t: t.status, "open", id="open-is-open"),
        pytest.param(FIN, "", lambda t: t.channel, "chat", id="messenger-is-chat"),
        pytest.param(ACTIVE, "", lambda t: t.channel, "email", id="email-is-email"),
        pytest.param(FIN, "", lambda t: t.group, "8013", id="team-is-group"),
        pytest.param(FIN, "", lambda t: t.assignee, "5017691", id="admin-is-assignee"),
        pytest.param(ACTIVE, "", lambda t: t.assignee, None, id="unassigned"),
        pytest.param(FIN, "", lambda t: t.tags, ("vip", "billing"), id="tags"),
        pytest.param(FIN, "", lambda t: t.id, "215", id="id"),
        pytest.param(FIN, "", lambda t: t.created_at, at("08:00"), id="created-at"),
    ],
)
def test_conversation_fields_map_onto_the_ticket(
    name: str, extra: str, read: Callable[[Ticket], Any], expected: Any, tmp_path: Path
) -> None:
    assert read(events_of(name, extra, tmp_path)) == expected


@pytest.mark.parametrize(
    ("state", "status_map", "expected"),
    [
        pytest.param("snoozed", "", "pending", id="snoozed-pauses-as-pending"),
        pytest.param("snoozed", "  status_map: {snoozed: on_hold}\n", "on_hold", id="mapped"),
        pytest.param("closed", "", "solved", id="closed"),
        pytest.param("open", "", "open", id="open"),
    ],
)
def test_state_maps_through_status_map_first(
    state: str, status_map: str, expected: str, tmp_path: Path
) -> None:
    raw = {**fixture(ACTIVE), "state": state}
    assert make_source(tmp_path, extra=status_map).conversation(raw).status == expected


@pytest.mark.parametrize(
    ("author", "ai_agent_ids", "expected"),
    [
        pytest.param({"type": "admin", "id": "42"}, "", Author.AGENT, id="teammate"),
        pytest.param({"type": "admin", "id": "42"}, "[42]", Author.AI_AGENT, id="ai-agent-id"),
        pytest.param({"type": "bot", "id": "7"}, "", Author.AI_AGENT, id="bot-fin-operator"),
        pytest.param(
            {"type": "admin", "id": "42", "from_ai_agent": True},
            "",
            Author.AI_AGENT,
            id="from-ai-agent",
        ),
        pytest.param({"type": "team", "id": "8013"}, "", Author.AGENT, id="team"),
    ],
)
def test_who_wrote_a_reply_decides_whether_it_is_an_ai_agents(
    author: dict[str, Any], ai_agent_ids: str, expected: Author, tmp_path: Path
) -> None:
    raw = fixture(ACTIVE)
    raw["conversation_parts"]["conversation_parts"] = [
        {"part_type": "comment", "created_at": int(ts("2026-11-02 10:05")), "author": author}
    ]
    extra = f"  ai_agent_ids: {ai_agent_ids}\n" if ai_agent_ids else ""
    (event,) = make_source(tmp_path, extra=extra).conversation(raw).events
    assert (event.type, event.public, event.author) == (EventType.AGENT_REPLY, True, expected)


@pytest.mark.parametrize(
    ("rating", "expected"),
    [
        pytest.param(5, Rating.GOOD, id="5-good"),
        pytest.param(4, Rating.GOOD, id="4-good"),
        pytest.param(3, Rating.BAD, id="3-bad"),
        pytest.param(1, Rating.BAD, id="1-bad"),
    ],
)
def test_conversation_rating_four_and_up_is_good(
    rating: int, expected: Rating, tmp_path: Path
) -> None:
    raw = fixture(ACTIVE)
    raw["conversation_rating"] = {"rating": rating, "created_at": int(ts("2026-11-02 10:30"))}
    (event,) = make_source(tmp_path).conversation(raw).events
    assert (event.type, event.rating) == (EventType.CSAT, expected)


# --- native mode ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            FIN,
            {
                "first_response": (at("08:20"), None),
                "resolution": (at("09:31"), None),
            },
            id="hit-met-at-first-human-reply-and-at-close",
        ),
        pytest.param(
            MISSED,
            {
                "first_response": (at("11:50"), at("11:50")),
                "resolution": (None, at("11:50")),
            },
            id="missed-breached-at-the-teammate-reply",
        ),
        pytest.param(
            ACTIVE,
            {"first_response": (None, None), "resolution": (None, None)},
            id="active-running",
        ),
    ],
)
def test_sla_status_maps_onto_native_clocks(
    name: str,
    expected: dict[str, tuple[datetime | None, datetime | None]],
    tmp_path: Path,
) -> None:
    ticket = make_source(tmp_path).conversation(fixture(name))
    got = {c.metric: (c.stopped_at, c.breached_at) for c in ticket.native}
    assert got == expected
    assert all(c.started_at == ticket.created_at for c in ticket.native)


@pytest.mark.parametrize(
    "applied",
    [
        pytest.param(None, id="no-sla"),
        pytest.param({"sla_name": "x", "sla_status": "cancelled"}, id="cancelled"),
        pytest.param({"sla_name": "x", "sla_status": None}, id="null-status"),
    ],
)
def test_no_applied_sla_gives_no_native_clock(applied: Any, tmp_path: Path) -> None:
    raw = {**fixture(FIN), "sla_applied": applied}
    assert make_source(tmp_path).conversation(raw).native == ()


def test_a_snoozed_conversation_pauses_its_native_resolution_clock(tmp_path: Path) -> None:
    raw = {**fixture(ACTIVE), "state": "snoozed"}
    clocks = {c.metric: c for c in make_source(tmp_path).conversation(raw).native}
    assert clocks["resolution"] == NativeClock("resolution", started_at=at("10:00"), paused=True)


# --- reading: pages, cursor, watermark ---------------------------------------------------------


def test_search_pages_follow_starting_after_and_send_the_watermark(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    day(fake, 5)
    source = make_source(tmp_path, fake.url, extra="  page_size: 2\n")

    result = source.poll(None, NOW)

    searches = [r.body for r in fake.requests if r.endpoint == "search"]
    history = int(NOW - 35 * 86400)
    assert [s["pagination"] for s in searches] == [
        {"per_page": 2},
        {"per_page": 2, "starting_after": "b2Zmc2V0OjI="},
        {"per_page": 2, "starting_after": "b2Zmc2V0OjQ="},
    ]
    assert {json.dumps(s["query"]) for s in searches} == {
        json.dumps({"field": "updated_at", "operator": ">", "value": history})
    }
    assert [t.id for t in result.tickets] == ["300", "301", "302", "303", "304"]


def test_a_finished_round_moves_the_position_and_the_watermark_to_its_start_less_the_lag(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    day(fake, 1)
    result = make_source(tmp_path, fake.url).poll(None, NOW)

    state = CursorState.parse(result.cursor, NOW, 0)
    assert (state.since, state.round_started, result.watermark) == (
        int(NOW) - LAG_SECONDS,
        None,
        NOW - LAG_SECONDS,
    )


def test_a_round_cut_short_keeps_the_watermark_and_continues_where_it_stopped(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    day(fake, 5)
    source = make_source(tmp_path, fake.url, extra="  page_size: 2\n", max_pages=1)

    first = source.poll(None, NOW)
    second = source.poll(first.cursor, NOW + 60)

    history = NOW - 35 * 86400
    assert first.watermark == history
    state = CursorState.parse(first.cursor, NOW, 0)
    assert (state.round_started, state.starting_after) == (int(NOW), "b2Zmc2V0OjI=")
    # most recently updated first: 304 and 303, then 302 and 301
    assert [t.id for t in first.tickets] == ["303", "304"]
    assert [t.id for t in second.tickets] == ["301", "302"]
    assert second.watermark == history


def test_a_conversation_read_at_its_updated_at_is_not_read_again_in_the_overlap(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    fake.create(400, NOW - 30)  # inside the lag: the next round lists it again
    source = make_source(tmp_path, fake.url)
    first = source.poll(None, NOW)
    fake.clear_log()

    second = source.poll(first.cursor, NOW + 60)

    assert [(r.endpoint, r.status) for r in fake.requests] == [("search", 200)]
    assert second.tickets == []


def test_a_changed_conversation_is_read_again(fake: FakeIntercom, tmp_path: Path) -> None:
    fake.create(400, NOW - 3600)
    source = make_source(tmp_path, fake.url)
    first = source.poll(None, NOW)
    fake.reply(400, NOW + 30)

    second = source.poll(first.cursor, NOW + 60)

    (ticket,) = second.tickets
    assert [e.type for e in ticket.events] == [EventType.AGENT_REPLY]


def test_conversations_created_before_the_lookback_are_not_tracked(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    fake.create(500, NOW - 40 * 86400)
    fake.reply(500, NOW - 600)

    result = make_source(tmp_path, fake.url).poll(None, NOW)

    assert result.tickets == []
    assert [r.endpoint for r in fake.requests] == ["search"]


def test_every_request_carries_the_bearer_token_and_the_api_version(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    day(fake, 1)
    make_source(tmp_path, fake.url, extra='  api_version: "2.10"\n').poll(None, NOW)

    assert {(r.status, r.version) for r in fake.requests} == {(200, "2.10")}


def test_per_page_is_capped_at_intercoms_maximum(fake: FakeIntercom, tmp_path: Path) -> None:
    make_source(tmp_path, fake.url).poll(None, NOW)

    (search,) = [r.body for r in fake.requests]
    assert search["pagination"] == {"per_page": MAX_PER_PAGE}


def test_a_conversation_gone_since_it_was_listed_is_skipped_and_named(
    tmp_path: Path,
) -> None:
    listed = fixture("search-page2-last.json")
    with responses.RequestsMock() as rsps:
        rsps.post(BASE_URL + SEARCH_PATH, json=listed)
        rsps.get(
            BASE_URL + CONVERSATION_PATH.format(id=215),
            json=fixture("unauthorized-401.json") | {"errors": [{"code": "not_found"}]},
            status=404,
        )
        result = make_source(tmp_path).poll(None, NOW)

    assert result.tickets == []
    assert result.problems == ["/conversations/215: gone since it was listed (HTTP 404); skipped"]


def test_a_listed_conversation_without_an_id_is_counted_as_a_problem(tmp_path: Path) -> None:
    listed = fixture("search-empty.json")
    listed["conversations"] = [{"type": "conversation", "updated_at": int(NOW) - 5}]
    with responses.RequestsMock() as rsps:
        rsps.post(BASE_URL + SEARCH_PATH, json=listed)
        result = make_source(tmp_path).poll(None, NOW)

    assert result.problems == [
        f"{SEARCH_PATH} page 1 after {int(NOW - 35 * 86400)}: conversations[0] has no id "
        "or updated_at"
    ]


@pytest.mark.parametrize(
    ("change", "reason", "detail"),
    [
        pytest.param(
            {"created_at": None},
            SkipReason.INVALID,
            "the conversation has no id or created_at",
            id="no-created-at",
        ),
        pytest.param(
            {"created_at": 99_999_999_999},
            SkipReason.OUT_OF_RANGE,
            "time 99999999999 is outside the years 1970 to 2199",
            id="created-at-out-of-range",
        ),
        pytest.param(
            {
                "conversation_parts": {
                    "conversation_parts": [
                        {"part_type": "note", "created_at": 99_999_999_999, "author": {}}
                    ]
                }
            },
            SkipReason.OUT_OF_RANGE,
            "time 99999999999 is outside the years 1970 to 2199",
            id="part-out-of-range",
        ),
    ],
)
def test_a_conversation_that_cannot_be_read_is_skipped_with_its_reason(
    change: dict[str, Any], reason: SkipReason, detail: str, tmp_path: Path
) -> None:
    listed = fixture("search-page2-last.json")
    with responses.RequestsMock() as rsps:
        rsps.post(BASE_URL + SEARCH_PATH, json=listed)
        rsps.get(BASE_URL + CONVERSATION_PATH.format(id=215), json=fixture(FIN) | change)
        result = make_source(tmp_path).poll(None, NOW)

    (problem,) = result.problems
    assert result.tickets == []
    assert isinstance(problem, SkippedRecord)
    assert (problem.reason, problem.where, problem.detail) == (reason, "conversation 215", detail)


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        pytest.param(
            [(401, {}, json.dumps(fixture("unauthorized-401.json")))], "auth", id="401-expired"
        ),
        pytest.param([(500, {}, "{}")] * 5, "http_5xx", id="5xx-after-retries"),
        pytest.param(
            [(429, {"Retry-After": "1"}, json.dumps(fixture("rate-limit-exceeded-429.json")))] * 5,
            "rate_limited",
            id="429-until-retries-run-out",
        ),
        pytest.param(
            [(200, {}, (FIXTURES / "search-truncated.txt").read_text())],
            "bad_response",
            id="truncated-page",
        ),
        pytest.param([(200, {}, json.dumps({"type": "error"}))], "bad_response", id="no-list"),
    ],
)
def test_search_faults_fail_the_poll_with_their_reason(
    answers: list[tuple[int, dict[str, str], str]], reason: str, tmp_path: Path
) -> None:
    queue = list(answers)

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.POST, BASE_URL + SEARCH_PATH, callback=answer)
        with pytest.raises(SourceError) as failure:
            make_source(tmp_path).poll(None, NOW)

    assert failure.value.reason == reason
    assert TOKEN not in str(failure.value)


def test_a_429_with_retry_after_waits_that_long_then_reads_on(tmp_path: Path) -> None:
    clock = FakeClock()
    answers = [
        (429, {"Retry-After": "7"}, json.dumps(fixture("rate-limit-exceeded-429.json"))),
        (200, {}, json.dumps(fixture("search-empty.json"))),
    ]
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, BASE_URL + SEARCH_PATH, callback=lambda r: answers.pop(0))
        result = make_source(tmp_path, clock=clock).poll(None, NOW)

    assert clock.sleeps == [7.0]
    assert result.api_codes == {"429": 1, "200": 1}


@pytest.mark.parametrize(
    ("reset_in", "waited"),
    [
        pytest.param(9, [9.0], id="waits-until-the-window-resets"),
        pytest.param(4000, None, id="over-max-retry-after-fails-at-once"),
    ],
)
def test_a_429_without_retry_after_waits_for_x_ratelimit_reset(
    reset_in: int, waited: list[float] | None, tmp_path: Path
) -> None:
    clock = FakeClock()
    limited = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + reset_in)}
    answers = [
        (429, limited, json.dumps(fixture("rate-limit-exceeded-429.json"))),
        (200, {}, json.dumps(fixture("search-empty.json"))),
    ]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.POST, BASE_URL + SEARCH_PATH, callback=lambda r: answers.pop(0))
        source = make_source(tmp_path, clock=clock)
        if waited is None:
            with pytest.raises(SourceError) as failure:
                source.poll(None, NOW)
            assert (failure.value.reason, failure.value.retry_after) == ("rate_limited", 300.0)
            assert clock.sleeps == []
        else:
            source.poll(None, NOW)
            assert clock.sleeps == waited


def test_a_nearly_spent_window_waits_for_x_ratelimit_reset_before_the_next_request(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    clock = FakeClock()
    day(fake, 1)
    fake.rate_limit = 3  # the search leaves 2: the reserve

    make_source(tmp_path, fake.url, clock=clock).poll(None, NOW)

    reset = (int(NOW) // 10 + 1) * 10
    assert clock.sleeps == [reset - NOW]


def test_a_search_that_answers_the_same_cursor_again_is_stalled(tmp_path: Path) -> None:
    page = fixture("search-page1-of-2.json")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(BASE_URL + SEARCH_PATH, json=page)
        for listed in page["conversations"]:
            rsps.get(BASE_URL + CONVERSATION_PATH.format(id=listed["id"]), json=fixture(ACTIVE))
        with pytest.raises(SourceError) as failure:
            make_source(tmp_path).poll(None, NOW)

    assert failure.value.reason == "stalled"


def test_a_failed_poll_keeps_nothing_and_the_next_one_reads_everything(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    day(fake, 3)
    source = make_source(tmp_path, fake.url, extra="  page_size: 2\n")
    fake.fail("conversation", 500)
    with pytest.raises(SourceError):
        source.poll(None, NOW)
    fake.heal()

    result = source.poll(None, NOW)

    assert [t.id for t in result.tickets] == ["300", "301", "302"]


# --- API economy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changed", "page_size"),
    [
        pytest.param(0, 2, id="nothing-changed"),
        pytest.param(1, 2, id="one"),
        pytest.param(4, 2, id="two-full-pages"),
        pytest.param(5, 2, id="two-and-a-bit"),
        pytest.param(7, 150, id="one-page"),
    ],
)
def test_a_poll_costs_one_search_page_per_page_of_changes_and_one_read_per_change(
    changed: int, page_size: int, fake: FakeIntercom, tmp_path: Path
) -> None:
    day(fake, 20, start="06:00")
    source = make_source(tmp_path, fake.url, extra=f"  page_size: {page_size}\n")
    first = source.poll(None, NOW - 3600)
    for number in range(changed):
        fake.customer_reply(300 + number, NOW - 1800 + number)
    fake.clear_log()

    source.poll(first.cursor, NOW)

    kinds = [r.endpoint for r in fake.requests]
    assert kinds.count("search") <= max(1, math.ceil(changed / page_size)) + 1
    assert kinds.count("search") == max(1, math.ceil(changed / page_size))
    assert kinds.count("conversation") == changed


# --- built from a config file -----------------------------------------------------------------


def test_a_config_file_builds_an_intercom_source_on_the_public_api_by_default(
    tmp_path: Path,
) -> None:
    (tmp_path / "key").write_text(TOKEN)
    (tmp_path / "helpdesk-slo.yml").write_text(
        "source:\n  type: intercom\n  token_file: key\n  api_version: '2.11'\n"
        "  ai_agent_ids: [5017692]\n"
    )

    source = build_source(load_config(tmp_path / "helpdesk-slo.yml"))

    assert isinstance(source, IntercomSource)
    assert source.client.base_url == "https://api.intercom.io"
    assert source.client.session.headers["Intercom-Version"] == "2.11"
    assert source.ai_agent_ids == frozenset({"5017692"})


# --- office hours imported as a calendar ------------------------------------------------------

SCHEDULE = "office-hours-schedule-weekdays-lunch-break-saturday.json"
EXCEPTIONS = "office-hours-exceptions-closed-recurring-and-custom.json"
IMPORT_CONFIG = """
source:
  type: intercom
  token_env: INTERCOM_TOKEN
calendars:
  support:
    import: intercom
    schedule: 123
    holidays: ["2026-12-31"]
slas:
  first_response:
    calendar: support
    targets: {urgent: 6h}
"""


def test_an_office_hours_schedule_becomes_the_business_calendar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERCOM_TOKEN", TOKEN)
    with responses.RequestsMock() as rsps:
        rsps.get(BASE_URL + OFFICE_HOURS_PATH.format(id=123), json=fixture(SCHEDULE))
        rsps.get(BASE_URL + OFFICE_HOURS_EXCEPTIONS_PATH.format(id=123), json=fixture(EXCEPTIONS))
        config = resolve_imports(parse_config(IMPORT_CONFIG))
        versions = {call.request.headers["Intercom-Version"] for call in rsps.calls}

    support = config.calendars["support"]
    assert versions == {"2.16"}  # the first version with office hours; 2.11 is configured
    assert support.timezone == "Europe/Dublin"
    assert support.hours[0] == ((9 * 3600, 12 * 3600 + 1800), (13 * 3600 + 1800, 17 * 3600 + 1800))
    assert support.hours[5] == ((10 * 3600, 14 * 3600),)
    assert 6 not in support.hours
    holidays = {d.isoformat() for d in support.holidays}
    assert {"2026-12-25", "2027-12-25", "2036-12-25", "2026-12-28", "2026-12-31"} <= holidays
    assert "2027-12-28" not in holidays and "2026-12-24" not in holidays
    # Thu 24 Dec 17:00 (custom hours are not imported: the regular hours apply): 30m; Fri 25
    # closed; Sat 26 10:00-14:00: 4h; Mon 28 closed; Tue 29 from 09:00: the last 1h30
    evaluation = Evaluator(config).evaluate(ticket("2026-12-24 17:00"), ts("2026-12-30 12:00"))
    assert evaluation.slas["first_response"][0].deadline == ts("2026-12-29 10:30")


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param(
            {"time_intervals": [{"start_minute": 0, "end_minute": 10079}]},
            {day: ((0, 86400),) for day in range(7)},
            id="whole-week-interval-is-24x7",
        ),
        pytest.param(
            {"twenty_four_seven": True, "time_intervals": []},
            {day: ((0, 86400),) for day in range(7)},
            id="twenty-four-seven",
        ),
        pytest.param(
            {"time_intervals": [{"start_minute": 6 * 1440 + 1320, "end_minute": 10080}]},
            {6: ((22 * 3600, 86400),)},
            id="sunday-to-the-end-of-the-week",
        ),
        pytest.param(
            {"time_intervals": [{"start_minute": 1320, "end_minute": 1440 + 120}]},
            {0: ((22 * 3600, 86400),), 1: ((0, 7200),)},
            id="across-midnight-split",
        ),
    ],
)
def test_office_hours_intervals_become_weekly_hours(
    schedule: dict[str, Any], expected: dict[int, Any]
) -> None:
    hours = office_hours({"time_zone_name": "Europe/Dublin", **schedule}, [])
    assert dict(hours.weekly) == expected


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        pytest.param({"time_intervals": []}, "time_zone_name", id="no-time-zone"),
        pytest.param(
            {"time_zone_name": "Europe/Dublin", "time_intervals": []},
            "the schedule has no open hours",
            id="no-hours",
        ),
        pytest.param(
            {
                "time_zone_name": "Europe/Dublin",
                "time_intervals": [{"start_minute": 600, "end_minute": 540}],
            },
            "time_intervals[0]",
            id="backwards",
        ),
    ],
)
def test_an_unusable_schedule_says_which_field(schedule: dict[str, Any], problem: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(problem)):
        office_hours(schedule, [])


def test_importing_office_hours_needs_the_schedule_id() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(IMPORT_CONFIG.replace("    schedule: 123\n", ""))

    assert caught.value.problems == [
        "<config>:6: calendars.support: `import: intercom` needs `schedule:` (the schedule id)"
    ]


# --- assignments (start: assigned) ------------------------------------------------------------


def _assignments(ticket: Ticket) -> list[tuple[str, str | None]]:
    return [(e.at.strftime("%H:%M"), e.to) for e in ticket.events if e.type is EventType.ASSIGNED]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        pytest.param(lambda f: f.assign(500, at("09:00")), [("09:00", None)], id="to-a-teammate"),
        pytest.param(
            lambda f: f.assign(500, at("09:00"), team_id="5151"),
            [("09:00", "group")],
            id="to-a-team-is-to-a-group",
        ),
        pytest.param(
            lambda f: f.assign(500, at("09:00"), admin_id=0), [], id="to-nobody-assigns-no-one"
        ),
        pytest.param(
            lambda f: f.assign(500, at("09:00"), kind="default_assignment", team_id="5151"),
            [("09:00", "group")],
            id="default-assignment-by-a-rule",
        ),
        pytest.param(
            lambda f: f.assign(500, at("09:00"), kind="away_mode_assignment"),
            [("09:00", None)],
            id="away-mode-reassignment",
        ),
    ],
)
def test_assignment_parts_become_assignments_to_whom_they_name(
    script: Callable[[FakeIntercom], None],
    expected: list[tuple[str, str | None]],
    fake: FakeIntercom,
    tmp_path: Path,
) -> None:
    fake.create(500, at("08:00"))
    script(fake)

    (conversation,) = make_source(tmp_path, fake.url).poll(None, NOW).tickets

    assert _assignments(conversation) == expected


def test_assign_and_reopen_assigns_and_opens_a_closed_conversation(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    fake.create(501, at("08:00"))
    fake.reply(501, at("08:10"))
    fake.close(501, at("08:20"))
    fake.assign(501, at("09:00"), kind="assign_and_reopen")

    (conversation,) = make_source(tmp_path, fake.url).poll(None, NOW).tickets

    assert [(e.type, e.to) for e in conversation.events if e.at == at("09:00")] == [
        (EventType.ASSIGNED, None),
        (EventType.STATUS, "open"),
    ]


@pytest.mark.parametrize(
    ("first_assignment_at", "expected"),
    [
        pytest.param(None, [("08:12", None)], id="no-statistic-parts-alone"),
        pytest.param("08:12", [("08:12", None)], id="statistic-agrees-with-the-parts"),
        pytest.param(
            "08:05", [("08:05", None), ("08:12", None)], id="statistic-before-the-parts-read"
        ),
    ],
)
def test_first_assignment_statistic_covers_parts_cut_off(
    first_assignment_at: str | None, expected: list[tuple[str, str | None]], tmp_path: Path
) -> None:
    raw = fixture(FIN)
    raw["statistics"] = {
        **(raw.get("statistics") or {}),
        "first_assignment_at": None
        if first_assignment_at is None
        else int(at(first_assignment_at).timestamp()),
    }

    assert _assignments(make_source(tmp_path).conversation(raw)) == expected
