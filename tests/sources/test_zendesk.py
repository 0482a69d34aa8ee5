"""The Zendesk source against recorded-shape answers: what a poll reads, maps and resumes from."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from exporter.config import parse_config
from exporter.model import Author, EventType, Priority, Ticket, TicketEvent
from exporter.slo import Evaluator
from exporter.sources import build_source
from exporter.sources.base import PollResult, SourceError
from exporter.sources.zendesk import (
    METRIC_EVENTS_PATH,
    RATINGS_PATH,
    TICKET_EVENTS_PATH,
    TICKETS_PATH,
    ZendeskSource,
    cursor_time,
    zendesk_client,
)
from tests.builders import ts, utc
from tests.fakes.zendesk import FakeZendesk
from tests.sources.helpers import (
    EMPTY,
    ENDPOINTS,
    FULL,
    HISTORY_START,
    NOW,
    FakeClock,
    fixture,
    make_source,
    path_of,
    query,
    serve,
    serve_empty_time_based,
    source_config,
    url,
)

SLAS = """
source: {type: file, path: tickets.jsonl}
slas:
  first_response: {mode: MODE, targets: {urgent: 2h, high: 4h, normal: 8h, low: 24h}}
  next_response: {mode: MODE, targets: {urgent: 1h, high: 2h, normal: 4h, low: 8h}}
  resolution: {mode: MODE, targets: {urgent: 4h, high: 8h, normal: 24h, low: 48h}}
slos:
  - {name: first-response, sla: first_response, objective: 95%}
  - {name: csat, kind: csat, objective: 90%}
"""
COMPUTED = Evaluator(parse_config(SLAS.replace("MODE", "computed")))
NATIVE = Evaluator(parse_config(SLAS.replace("MODE", "native")))


#: A later poll in which ticket 101 got the comments of every kind.
UPDATED_101 = {
    **EMPTY,
    TICKETS_PATH: ("tickets-cursor-ticket-101-updated.json",),
    TICKET_EVENTS_PATH: ("ticket-events-comment-kinds.json",),
}


def poll(
    source: ZendeskSource,
    plan: Mapping[str, Sequence[str]],
    cursor: str | None = None,
    now: float = NOW,
) -> PollResult:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, plan)
        return source.poll(cursor, now)


def by_id(result: PollResult) -> dict[str, Ticket]:
    return {ticket.id: ticket for ticket in result.tickets}


def state(result: PollResult) -> dict[str, Any]:
    assert result.cursor is not None
    parsed: dict[str, Any] = json.loads(result.cursor)
    return parsed


def kinds(ticket: Ticket) -> list[tuple[str, str]]:
    return [(event.at.strftime("%H:%M:%S"), _kind(event)) for event in ticket.events]


def _kind(event: TicketEvent) -> str:
    if event.type is EventType.AGENT_REPLY:
        who = "ai" if event.author is Author.AI_AGENT else "agent"
        return (
            f"{who}_reply{'' if event.public else ':internal'}{':auto' if event.automated else ''}"
        )
    if event.type is EventType.STATUS:
        return f"status:{event.to}"
    if event.type is EventType.CSAT:
        return f"csat:{event.rating}"
    if event.type is EventType.ASSIGNED and event.to is not None:
        return f"assigned:{event.to}"
    return str(event.type)


# --- reading the exports ---------------------------------------------------------------------


def test_first_poll_pages_the_ticket_export_to_its_end(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    with responses.RequestsMock() as rsps:
        serve(rsps, FULL)
        result = source.poll(None, NOW)
        ticket_calls = [c for c in rsps.calls if path_of(c) == TICKETS_PATH]

    first, second = (query(c) for c in ticket_calls)
    assert first == {"start_time": str(int(HISTORY_START)), "include": "users", "per_page": "1000"}
    assert second == {
        "cursor": fixture("tickets-cursor-page1.json")["after_cursor"],
        "include": "users",
        "per_page": "1000",
    }
    assert sorted(by_id(result)) == ["101", "102", "103"]  # 104 predates the history read
    assert (
        state(result)["tickets"]["cursor"]
        == fixture("tickets-cursor-end-of-stream.json")["after_cursor"]
    )
    assert result.problems == []
    assert result.api_codes == {"200": 5}
    assert result.requests == 5


def test_each_endpoint_is_asked_what_changed_since_the_saved_position(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    with responses.RequestsMock() as rsps:
        serve(rsps, EMPTY)
        source.poll(first.cursor, NOW + 60)
        asked = {path_of(c): query(c) for c in rsps.calls}

    assert asked[TICKET_EVENTS_PATH] == {
        "start_time": str(int(ts("2026-11-02 10:30"))),
        "include": "comment_events",
    }
    assert asked[METRIC_EVENTS_PATH] == {"start_time": str(int(ts("2026-11-02 11:30")))}
    assert asked[RATINGS_PATH] == {
        "score": "received",
        "start_time": str(int(NOW) - 120),
        "page[size]": "100",
    }
    assert asked[TICKETS_PATH]["cursor"] == state(first)["tickets"]["cursor"]


def test_an_empty_poll_costs_exactly_one_request_per_endpoint(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    with responses.RequestsMock() as rsps:
        serve(rsps, EMPTY)
        result = source.poll(first.cursor, NOW + 60)
        paths = sorted(path_of(c) for c in rsps.calls)

    assert paths == sorted(ENDPOINTS)
    assert result.tickets == []
    assert result.requests == 4
    assert result.api_codes == {"200": 4}


def test_time_based_pages_that_repeat_their_last_second_count_each_update_once(
    tmp_path: Path,
) -> None:
    single = poll(make_source(tmp_path), FULL)
    paged_plan = {
        **FULL,
        TICKET_EVENTS_PATH: (
            "ticket-events-page1-of-2.json",
            "ticket-events-page2-repeats-last-second.json",
        ),
    }
    with responses.RequestsMock() as rsps:
        serve(rsps, paged_plan)
        paged = make_source(tmp_path).poll(None, NOW)
        starts = [query(c)["start_time"] for c in rsps.calls if path_of(c) == TICKET_EVENTS_PATH]

    assert starts == [str(int(HISTORY_START)), str(int(ts("2026-11-02 09:00")))]
    assert by_id(paged) == by_id(single)


# --- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(
            {TICKETS_PATH: ("tickets-cursor-page1.json", "truncated-page.txt")},
            id="second-ticket-page",
        ),
        pytest.param({TICKET_EVENTS_PATH: ("truncated-page.txt",)}, id="ticket-events"),
        pytest.param({METRIC_EVENTS_PATH: ("truncated-page.txt",)}, id="metric-events"),
        pytest.param({RATINGS_PATH: ("truncated-page.txt",)}, id="satisfaction-ratings"),
    ],
)
def test_malformed_page_fails_cleanly_and_the_next_poll_resumes_without_loss_or_doubles(
    broken: Mapping[str, Sequence[str]], tmp_path: Path
) -> None:
    clean = poll(make_source(tmp_path), FULL)
    source = make_source(tmp_path)

    with pytest.raises(SourceError) as caught:
        poll(source, {**FULL, **broken})
    assert caught.value.reason == "bad_response"
    resumed = poll(source, FULL)  # the poller hands back the cursor it had: None

    assert by_id(resumed) == by_id(clean)
    assert resumed.cursor == clean.cursor


def test_malformed_page_in_a_later_poll_changes_nothing_until_the_retry(tmp_path: Path) -> None:
    clean = make_source(tmp_path)
    clean_second = poll(clean, UPDATED_101, poll(clean, FULL).cursor, NOW + 600)
    source = make_source(tmp_path)
    first = poll(source, FULL)

    broken = {**UPDATED_101, METRIC_EVENTS_PATH: ("truncated-page.txt",)}
    with pytest.raises(SourceError):
        poll(source, broken, first.cursor, NOW + 600)
    retried = poll(source, UPDATED_101, first.cursor, NOW + 600)

    assert by_id(retried) == by_id(clean_second)
    events = by_id(retried)["101"].events
    assert len(set(events)) == len(events)


def stalled_time_based(rsps: responses.RequestsMock, path: str, key: str) -> None:
    """A time-based export whose every page stays at the asked start_time, never at its end."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        start = int(query_of(request.url)["start_time"])
        page = {key: [], "end_time": start, "end_of_stream": False, "count": 0}
        return 200, {}, json.dumps(page)

    rsps.add_callback(responses.GET, url(path), callback=answer, content_type="application/json")


def query_of(address: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(address).query).items()}


def ratings_with_more(after: str) -> dict[str, Any]:
    page = fixture("satisfaction-ratings-good-and-bad.json")
    page["meta"] = {**page["meta"], "has_more": True, "after_cursor": after}
    return dict(page)


@pytest.mark.parametrize(
    ("path", "stall", "asked"),
    [
        pytest.param(
            TICKETS_PATH,
            lambda rsps: rsps.get(url(TICKETS_PATH), json=fixture("tickets-cursor-page1.json")),
            4,  # the first page, then the same after_cursor three times
            id="ticket-export-same-after-cursor",
        ),
        pytest.param(
            TICKET_EVENTS_PATH,
            lambda rsps: stalled_time_based(rsps, TICKET_EVENTS_PATH, "ticket_events"),
            3,
            id="ticket-events-end-time-stays",
        ),
        pytest.param(
            METRIC_EVENTS_PATH,
            lambda rsps: stalled_time_based(rsps, METRIC_EVENTS_PATH, "ticket_metric_events"),
            3,
            id="metric-events-end-time-stays",
        ),
        pytest.param(
            RATINGS_PATH,
            lambda rsps: rsps.get(url(RATINGS_PATH), json=ratings_with_more("c2FtZQ==")),
            4,
            id="ratings-same-after-cursor",
        ),
    ],
)
def test_an_export_that_does_not_advance_fails_as_stalled_and_the_next_poll_resumes(
    path: str, stall: Any, asked: int, tmp_path: Path
) -> None:
    clean = poll(make_source(tmp_path), FULL)
    source = make_source(tmp_path)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, {p: names for p, names in FULL.items() if p != path})
        stall(rsps)
        with pytest.raises(SourceError) as caught:
            source.poll(None, NOW)
        calls = [c for c in rsps.calls if path_of(c) == path]

    assert caught.value.reason == "stalled"
    assert f"GET {path}:" in str(caught.value)
    assert len(calls) == asked  # a few repeats, not MAX_PAGES
    resumed = poll(source, FULL)  # the poller hands back the cursor it had: None
    assert by_id(resumed) == by_id(clean)
    assert resumed.cursor == clean.cursor


def test_a_poll_out_of_time_keeps_what_it_read_and_the_next_poll_goes_on(tmp_path: Path) -> None:
    clean = poll(make_source(tmp_path), FULL)
    clock = FakeClock()
    source = make_source(tmp_path, clock)
    budget = source.poll_timeout
    first_page = fixture("tickets-cursor-page1.json")

    def slow_first_page(request: Any) -> tuple[int, dict[str, str], str]:
        clock.now += budget + 1.0  # this page used up the poll's time
        return 200, {}, json.dumps(first_page)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(
            responses.GET,
            url(TICKETS_PATH),
            callback=slow_first_page,
            content_type="application/json",
        )
        first = source.poll(None, NOW)
        asked = [path_of(c) for c in rsps.calls]
    second = poll(source, {**FULL, TICKETS_PATH: FULL[TICKETS_PATH][1:]}, first.cursor)

    assert asked == [TICKETS_PATH]  # nothing after the budget ran out
    assert sorted(by_id(first)) == sorted(str(t["id"]) for t in first_page["tickets"])
    assert state(first)["tickets"]["cursor"] == first_page["after_cursor"]
    assert first.watermark == HISTORY_START  # the event streams were not read at all
    assert state(second)["tickets"] == state(clean)["tickets"]
    assert {**by_id(first), **by_id(second)} == by_id(clean)
    assert second.watermark == clean.watermark


@pytest.mark.parametrize(
    ("plan", "stream"),
    [
        pytest.param(
            {TICKETS_PATH: ("tickets-cursor-backwards.json",)}, "tickets", id="ticket-cursor"
        ),
        pytest.param(
            {TICKET_EVENTS_PATH: ("ticket-events-end-time-backwards.json",)},
            "ticket_events",
            id="ticket-events-end-time",
        ),
    ],
)
def test_a_position_that_would_go_backwards_is_refused(
    plan: Mapping[str, Sequence[str]],
    stream: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    with caplog.at_level(logging.WARNING, logger="exporter.sources.zendesk"):
        second = poll(source, {**EMPTY, **plan}, first.cursor, NOW + 60)

    assert state(second)[stream] == state(first)[stream]
    assert "back in time" in caplog.text
    assert second.watermark <= NOW + 60 - 60


def test_cursor_time_reads_zendesk_cursors_and_gives_up_on_others() -> None:
    assert cursor_time(fixture("tickets-cursor-page1.json")["after_cursor"]) == ts(
        "2026-11-02 09:00"
    )
    assert cursor_time("not a zendesk cursor") is None
    assert cursor_time(None) is None


def test_an_unreadable_saved_cursor_starts_again_from_the_lookback(tmp_path: Path) -> None:
    with responses.RequestsMock() as rsps:
        serve(rsps, FULL)
        make_source(tmp_path).poll("some other source's cursor", NOW)
        first = query(next(c for c in rsps.calls if path_of(c) == TICKETS_PATH))
    assert first["start_time"] == str(int(HISTORY_START))


# --- mapping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ticket_id", "expected"),
    [
        pytest.param(
            "101",
            {
                "status": "open",
                "priority": Priority.URGENT,
                "channel": "email",
                "group": "360001234567",
                "brand": "360000114114",
                "type": "incident",
                "tags": ("vip", "billing"),
                "assignee": "8001",
                "created_at": utc("2026-11-02 08:15"),
            },
            id="all-fields",
        ),
        pytest.param(
            "102",
            {
                "status": "on_hold",
                "priority": Priority.NORMAL,
                "channel": None,
                "group": None,
                "brand": None,
                "type": None,
                "tags": (),
                "assignee": None,
            },
            id="priority-via-group-brand-type-null-and-hold",
        ),
        pytest.param(
            "103", {"status": "open", "priority": Priority.HIGH, "channel": "web"}, id="web-high"
        ),
    ],
)
def test_ticket_attributes(ticket_id: str, expected: dict[str, Any], tmp_path: Path) -> None:
    ticket = by_id(poll(make_source(tmp_path), FULL))[ticket_id]
    assert {key: getattr(ticket, key) for key in expected} == expected


def test_priority_and_status_maps_apply_before_zendesk_names(tmp_path: Path) -> None:
    config = source_config(
        tmp_path, "  priority_map: {urgent: high}\n  status_map: {hold: pending}"
    )
    clock = FakeClock()
    from exporter.sources.zendesk import zendesk_client

    source = ZendeskSource(config, zendesk_client(config, sleep=clock.sleep))
    tickets = by_id(poll(source, FULL))
    assert tickets["101"].priority is Priority.HIGH
    assert tickets["102"].status == "pending"
    assert tickets["102"].events[-2].to == "pending"


def test_auto_acknowledgement_then_human_reply(tmp_path: Path) -> None:
    ticket = by_id(poll(make_source(tmp_path), FULL))["101"]

    assert kinds(ticket) == [
        ("08:15:00", "status:new"),  # the request itself is no reply
        ("08:15:00", "assigned:group"),  # created in a group's queue
        ("08:15:05", "agent_reply:auto"),  # trigger "Auto-reply: we received your request"
        ("08:15:05", "status:open"),
        ("08:20:00", "assigned"),
        ("09:40:00", "agent_reply"),
        ("09:41:00", "status:pending"),
        ("10:30:00", "requester_reply"),
        ("10:30:00", "status:open"),
    ]
    first = COMPUTED.evaluate(ticket, NOW).slas["first_response"][0]
    assert first.stopped_at == ts("2026-11-02 09:40")  # measured to the human reply
    assert first.elapsed_business_seconds == 85 * 60
    assert first.state == "met"
    following = COMPUTED.evaluate(ticket, NOW).slas["next_response"][0]
    assert (following.started_at, following.state) == (ts("2026-11-02 10:30"), "breached")


@pytest.mark.parametrize(
    ("at", "kind"),
    [
        pytest.param("11:00:00", "agent_reply:internal", id="internal-note"),
        pytest.param("11:01:00", "ai_reply", id="ai-agent-by-author-id"),
        pytest.param("11:02:00", "requester_reply", id="cc-end-user-counts-as-requester"),
        pytest.param("11:03:00", "agent_reply:auto", id="zendesk-system-author"),
        pytest.param("11:04:00", "agent_reply:auto", id="automation-via-rule"),
        pytest.param("11:05:00", None, id="private-end-user-comment-ignored"),
        pytest.param("11:06:00", "agent_reply", id="human-agent"),
    ],
)
def test_comment_kinds(at: str, kind: str | None, tmp_path: Path) -> None:
    source = make_source(tmp_path, extra="  ai_agent_ids: [7001]")
    plan = {**FULL, TICKET_EVENTS_PATH: ("ticket-events-comment-kinds.json",)}
    ticket = by_id(poll(source, plan))["101"]
    found = [k for when, k in kinds(ticket) if when == at]
    assert found == ([] if kind is None else [kind])


def test_reopened_ticket_resumes_its_resolution_clock(tmp_path: Path) -> None:
    plan = {**FULL, TICKET_EVENTS_PATH: ("ticket-events-reopened.json",)}
    ticket = by_id(poll(make_source(tmp_path), plan))["103"]

    assert [k for _, k in kinds(ticket) if k.startswith("status")] == [
        "status:new",
        "status:solved",
        "status:open",
    ]
    resolution = COMPUTED.evaluate(ticket, NOW).slas["resolution"][0]
    assert resolution.state == "running"
    assert resolution.elapsed_business_seconds == 30 * 60 + 2 * 3600  # 07:00-07:30, 10:00-12:00


def test_satisfaction_ratings_become_csat_events(tmp_path: Path) -> None:
    tickets = by_id(poll(make_source(tmp_path), FULL))
    ratings = {
        ticket_id: [(e.at, e.rating) for e in t.events if e.type is EventType.CSAT]
        for ticket_id, t in tickets.items()
    }
    assert ratings == {
        "101": [],
        "102": [(utc("2026-11-02 09:30"), "bad")],
        "103": [(utc("2026-11-02 08:30"), "good")],
    }
    outcome = COMPUTED.evaluate(tickets["102"], NOW).slos["csat"][0]
    assert outcome.result == "bad"


# --- native clocks ----------------------------------------------------------------------------


def _native(ticket: Ticket) -> dict[tuple[str, int], dict[str, Any]]:
    def hm(value: datetime | None) -> str | None:
        return None if value is None else value.strftime("%H:%M")

    return {
        (c.metric, c.cycle): {
            "started": hm(c.started_at),
            "target": c.target_seconds,
            "deadline": hm(c.deadline),
            "stopped": hm(c.stopped_at),
            "breached": hm(c.breached_at),
            "paused": c.paused,
        }
        for c in ticket.native
    }


def test_metric_events_become_native_clocks(tmp_path: Path) -> None:
    ticket = by_id(poll(make_source(tmp_path), FULL))["101"]
    assert _native(ticket) == {
        # reply_time instance 1; the target was raised to 2h, its 09:15 breach withdrawn
        ("first_response", 0): {
            "started": "08:15",
            "target": 7200.0,
            "deadline": None,
            "stopped": "09:40",
            "breached": None,
            "paused": False,
        },
        # reply_time instance 2 started with the requester's reply
        ("next_response", 0): {
            "started": "10:30",
            "target": 3600.0,
            "deadline": "11:30",
            "stopped": None,
            "breached": "11:30",
            "paused": False,
        },
        # agent_work_time: paused while pending, running again since 10:30
        ("resolution", 0): {
            "started": "08:15",
            "target": 3600.0,
            "deadline": "09:15",
            "stopped": None,
            "breached": "09:15",
            "paused": False,
        },
    }


@pytest.mark.parametrize(
    ("deleted", "state", "result"),
    [
        pytest.param(True, "met", "good", id="deleted-breach-ignored"),
        pytest.param(False, "breached", "bad", id="same-breach-not-deleted-counts"),
    ],
)
def test_deleted_breach_events_are_ignored(
    deleted: bool, state: str, result: str, tmp_path: Path
) -> None:
    page = fixture("metric-events-deleted-breach.json")
    for event in page["ticket_metric_events"]:
        if (
            event["type"] == "breach"
            and event["time"] == "2026-11-02T09:15:00Z"
            and event["metric"] == "reply_time"
        ):
            event["deleted"] = deleted
    source = make_source(tmp_path)
    with responses.RequestsMock() as rsps:
        serve(rsps, {k: v for k, v in FULL.items() if k != METRIC_EVENTS_PATH})
        rsps.get(url(METRIC_EVENTS_PATH), json=page)
        ticket = by_id(source.poll(None, NOW))["101"]

    evaluation = NATIVE.evaluate(ticket, NOW)
    assert evaluation.slas["first_response"][0].state == state
    assert evaluation.slos["first-response"][0].result == result


def test_a_breach_dated_ahead_of_now_and_withdrawn_later(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    ahead = {**FULL, METRIC_EVENTS_PATH: ("metric-events-breach-ahead-of-now.json",)}
    first = poll(source, ahead)
    clock = {c.metric: c for c in by_id(first)["101"].native}["next_response"]
    assert clock.deadline == utc("2026-11-02 12:40")
    assert NATIVE.evaluate(by_id(first)["101"], NOW).slas["next_response"][0].state == "running"
    # the position stays a minute behind now, never at the breach's future time
    assert state(first)["metric_events"]["start_time"] == NOW - 60

    withdrawn = {**EMPTY, METRIC_EVENTS_PATH: ("metric-events-breach-withdrawn.json",)}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, withdrawn)
        second = source.poll(first.cursor, NOW + 600)
        asked = [query(c) for c in rsps.calls if path_of(c) == METRIC_EVENTS_PATH]
    assert asked == [{"start_time": str(int(NOW - 60))}]
    clock = {c.metric: c for c in by_id(second)["101"].native}["next_response"]
    assert (clock.deadline, clock.breached_at) == (None, None)
    assert clock.stopped_at == utc("2026-11-02 12:05")
    evaluation = NATIVE.evaluate(by_id(second)["101"], NOW + 3 * 3600)
    assert evaluation.slas["next_response"][0].state == "met"


def test_resolution_metric_can_be_requester_wait_time(tmp_path: Path) -> None:
    source = make_source(tmp_path, extra="  resolution_metric: requester_wait_time")
    clock = {c.metric: c for c in by_id(poll(source, FULL))["101"].native}["resolution"]
    assert clock.breached_at is None and clock.target_seconds is None
    assert clock.started_at == utc("2026-11-02 08:15") and not clock.paused


# --- merging across polls ---------------------------------------------------------------------


@pytest.mark.parametrize("restart", [False, True], ids=["same-process", "restart-with-store"])
def test_a_later_poll_returns_the_full_ticket_with_old_and_new_events(
    restart: bool, tmp_path: Path
) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    stored = by_id(first)
    if restart:
        source = make_source(tmp_path)
        source.use_known_tickets(lambda ids: {i: stored[i] for i in ids if i in stored})

    second = by_id(poll(source, UPDATED_101, first.cursor, NOW + 600))
    before, after = stored["101"], second["101"]
    assert after.events[: len(before.events)] == before.events
    assert [k for when, k in kinds(after) if when >= "11:00:00"] == [
        "agent_reply:internal",
        "agent_reply",
        "requester_reply",
        "agent_reply:auto",
        "agent_reply:auto",
        "agent_reply",
    ]
    assert after.native == before.native
    assert len(set(after.events)) == len(after.events)


def test_updates_read_before_their_ticket_wait_in_the_cursor(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    early_now, late_now = ts("2026-11-02 12:02"), ts("2026-11-02 12:04")

    with responses.RequestsMock() as rsps:
        serve(rsps, {**EMPTY, TICKET_EVENTS_PATH: ("ticket-events-before-ticket-export.json",)})
        early = source.poll(first.cursor, early_now)
    assert "105" not in by_id(early)
    waiting = state(early)["pending"]
    assert {(u["ticket"], u["kind"]) for u in waiting} == {("105", "status"), ("105", "comment")}
    # 105 is not known yet, so it has no verdict to get wrong: its waiting updates do not hold
    # back the watermark (and with it every other ticket's bad verdicts)
    assert early.watermark == early_now - 60

    with responses.RequestsMock() as rsps:
        serve(rsps, {**EMPTY, TICKETS_PATH: ("tickets-cursor-late-ticket.json",)})
        rsps.remove(responses.GET, url(TICKET_EVENTS_PATH))
        serve_empty_time_based(rsps, TICKET_EVENTS_PATH, "ticket-events-empty.json")
        late = source.poll(early.cursor, late_now)
    ticket = by_id(late)["105"]
    assert kinds(ticket) == [
        ("11:57:00", "status:new"),
        ("11:58:30", "agent_reply"),
        ("11:58:30", "status:open"),
    ]
    assert state(late)["pending"] == []
    assert COMPUTED.evaluate(ticket, late_now).slas["first_response"][0].stopped_at == ts(
        "2026-11-02 11:58:30"
    )


def test_watermark_is_the_export_lag_when_every_stream_reached_its_end(tmp_path: Path) -> None:
    result = poll(make_source(tmp_path), FULL)
    assert result.watermark == NOW - 60


def test_a_deleted_ticket_is_closed(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    first = poll(source, FULL)
    page = fixture("tickets-cursor-ticket-101-updated.json")
    page["tickets"][0]["status"] = "deleted"
    with responses.RequestsMock() as rsps:
        serve(rsps, {k: v for k, v in EMPTY.items() if k != TICKETS_PATH})
        rsps.get(url(TICKETS_PATH), json=page)
        ticket = by_id(source.poll(first.cursor, NOW + 600))["101"]
    assert ticket.status == "closed"
    assert kinds(ticket)[-1] == ("11:06:00", "status:closed")


def test_build_source_makes_a_zendesk_source(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    config = parse_config(
        f"source: {{type: zendesk, url: https://acme.zendesk.com, email: a@b.example, "
        f"token_file: {token}}}"
    )
    source = build_source(config)
    assert isinstance(source, ZendeskSource)
    assert source.name == "zendesk"


# --- assignments (start: assigned), against the local double -----------------------------------


#: The double's clock at the poll: tickets below are made in the three hours before it.
T0 = 1_793_620_800


def _double_source(fake: FakeZendesk, tmp_path: Path) -> ZendeskSource:
    token = tmp_path / "token"
    token.write_text(fake.token + "\n")
    config = parse_config(
        f"source:\n  type: zendesk\n  url: {fake.url}\n  email: {fake.email}\n"
        f"  token_file: {token}\n  lookback: 1d\n  timeout: 2s\n"
    ).source
    clock = FakeClock()
    client = zendesk_client(config, sleep=clock.sleep, clock=clock.monotonic)
    client._jitter = lambda: 0.0
    return ZendeskSource(config, client)


@pytest.mark.parametrize(
    ("group_id", "script", "expected"),
    [
        pytest.param(None, lambda f, t: None, [], id="created-in-no-group-never-assigned"),
        pytest.param(360001234567, lambda f, t: None, [(0, "group")], id="created-in-a-group"),
        pytest.param(
            None,
            lambda f, t: f.assign_group(t, T0 - 2 * 3600, 360007654321),
            [(3600, "group")],
            id="group-set-later",
        ),
        pytest.param(
            None,
            lambda f, t: f.assign(t, T0 - 2 * 3600),
            [(3600, None)],
            id="agent-assigned-later",
        ),
        pytest.param(
            360001234567,
            lambda f, t: f.assign(t, T0 - 2 * 3600),
            [(0, "group"), (3600, None)],
            id="in-a-group-then-to-an-agent",
        ),
    ],
)
def test_assignee_and_group_changes_become_assignments(
    group_id: int | None,
    script: Callable[[FakeZendesk, int], None],
    expected: list[tuple[int, str | None]],
    tmp_path: Path,
) -> None:
    with FakeZendesk() as fake:
        fake.clock = lambda: float(T0)
        created = T0 - 3 * 3600
        ticket_id = fake.create_ticket(created, group_id=group_id)
        script(fake, ticket_id)
        result = _double_source(fake, tmp_path).poll(None, float(T0))

    (ticket,) = result.tickets
    assert [
        (int(e.ts) - created, e.to) for e in ticket.events if e.type is EventType.ASSIGNED
    ] == expected
