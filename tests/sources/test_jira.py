"""The Jira Service Management source: what a poll reads, maps, pays for and resumes from.

Mapping, paging, native SLAs and faults run on recorded-shape answers
(``tests/sources/fixtures/jira/``) served through ``responses``; the time zone
of JQL literals, the overlap and the request economy run against the fake
site of :mod:`tests.fakes.jira`, whose world changes between polls.
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
import responses

from exporter.config import load_config, parse_config
from exporter.model import Author, EventType, NativeClock, Priority, TicketEvent
from exporter.sources import build_source
from exporter.sources.base import PollResult, SourceError
from exporter.sources.jira import (
    CLOUD_MYSELF_PATH,
    CLOUD_SEARCH_PATH,
    COMMENTS_PATH,
    LAG_SECONDS,
    SERVER_MYSELF_PATH,
    SERVER_SEARCH_PATH,
    SLA_PATH,
    JiraSource,
    jira_client,
    jql,
    jql_instant,
)
from tests.builders import ts, utc
from tests.fakes.jira import FakeJira
from tests.sources.helpers import FakeClock

FIXTURES = Path(__file__).parent / "fixtures" / "jira"
BASE_URL = "https://acme.atlassian.net"
EMAIL = "ops@acme.example"
TOKEN = "jira-Api-Token-s3cr3t-42"
NOW = ts("2026-11-02 12:00")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_source(
    tmp_path: Path,
    *,
    cloud: bool = True,
    url: str = BASE_URL,
    email: str = EMAIL,
    token: str = TOKEN,
    extra: str = "",
    clock: FakeClock | None = None,
    **options: Any,
) -> JiraSource:
    clock = clock or FakeClock()
    secret = tmp_path / "jira-token"
    secret.write_text(token + "\n")
    login = f"  email: {email}\n" if cloud else ""
    config = parse_config(
        f"source:\n  type: jira\n  url: {url}\n{login}  token_file: {secret}\n{extra}"
    )
    client = jira_client(config.source, sleep=clock.sleep, clock=clock.monotonic)
    client._jitter = lambda: 0.0
    return JiraSource(config.source, client, **options)


Plan = Mapping[str, Sequence[Any]]

#: A Cloud poll of the recorded morning: two search pages, no other request needed.
CLOUD: Plan = {
    CLOUD_MYSELF_PATH: ("myself-cloud.json",),
    CLOUD_SEARCH_PATH: ("search-jql-page1.json", "search-jql-last-page.json"),
}
#: The same morning on Data Center: comments come from the service-desk API.
SERVER: Plan = {
    SERVER_MYSELF_PATH: ("myself-datacenter.json",),
    SERVER_SEARCH_PATH: ("search-datacenter-page1.json", "search-datacenter-last-page.json"),
    COMMENTS_PATH.format(key="SUP-101"): ("request-comments-datacenter.json",),
    COMMENTS_PATH.format(key="SUP-102"): ("request-comments-datacenter-sup-102.json",),
}
SLAS: Plan = {
    SLA_PATH.format(key="SUP-101"): ("request-sla-met-and-running.json",),
    SLA_PATH.format(key="SUP-102"): ("request-sla-breached-cycles.json",),
    SLA_PATH.format(key="SUP-103"): ("request-sla-paused.json",),
}


@dataclass
class Answer:
    """One answer of the site: a JSON ``body``, a raw ``text``, or an ``error`` raised instead."""

    status: int = 200
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None


def answer(status: int, body: Any = None, text: str | None = None, **headers: str) -> Answer:
    return Answer(status, body, text, dict(headers))


def serve(rsps: responses.RequestsMock, plan: Plan) -> None:
    """Answer each path with its answers in order (the last one repeats)."""
    for path, answers in plan.items():
        for item in answers:
            if isinstance(item, str):
                rsps.get(BASE_URL + path, json=fixture(item))
            elif item.error is not None:
                rsps.get(BASE_URL + path, body=item.error)
            elif item.text is not None:
                rsps.get(BASE_URL + path, status=item.status, body=item.text, headers=item.headers)
            else:
                rsps.get(BASE_URL + path, status=item.status, json=item.body, headers=item.headers)


def poll(source: JiraSource, plan: Plan, cursor: str | None = None, now: float = NOW) -> PollResult:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, plan)
        return source.poll(cursor, now)


def calls(source: JiraSource, plan: Plan) -> list[tuple[str, dict[str, str]]]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, plan)
        source.poll(None, NOW)
        return [
            (
                urlsplit(c.request.url).path,
                {k: v[0] for k, v in parse_qs(urlsplit(c.request.url).query).items()},
            )
            for c in rsps.calls
        ]


def by_key(result: PollResult) -> dict[str, Any]:
    return {t.id: t for t in result.tickets}


def at(text: str) -> Any:
    return utc(text)


# --- mapping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "status", "priority", "brand", "kind", "tags", "assignee"),
    [
        pytest.param(
            "SUP-101",
            "open",
            Priority.HIGH,
            "SUP",
            "Get IT help",
            ("printer",),
            "id-agent",
            id="waiting-for-support-high",
        ),
        pytest.param(
            "SUP-102",
            "solved",
            Priority.URGENT,
            "SUP",
            "Report a system problem",
            ("vip",),
            None,
            id="resolved-highest",
        ),
        pytest.param(
            "SUP-103",
            "open",
            Priority.NORMAL,
            "SUP",
            "Get IT help",
            (),
            None,
            id="unmapped-status-no-priority",
        ),
    ],
)
@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "datacenter"])
def test_issue_attributes_are_mapped(
    tmp_path: Path,
    cloud: bool,
    key: str,
    status: str,
    priority: Priority,
    brand: str,
    kind: str,
    tags: tuple[str, ...],
    assignee: str | None,
) -> None:
    ticket = by_key(poll(make_source(tmp_path, cloud=cloud), CLOUD if cloud else SERVER))[key]

    if not cloud and assignee is not None:
        assignee = "JIRAUSER-agent"
    assert (
        ticket.status,
        ticket.priority,
        ticket.brand,
        ticket.type,
        ticket.tags,
        ticket.assignee,
    ) == (status, priority, brand, kind, tags, assignee)


AUTO_ACK = TicketEvent(at("2026-11-02 08:00:05"), EventType.AGENT_REPLY, automated=True)
EVENTS_101 = [
    AUTO_ACK,
    TicketEvent(at("2026-11-02 08:05"), EventType.ASSIGNED),
    TicketEvent(at("2026-11-02 08:10"), EventType.AGENT_REPLY, public=False),
    TicketEvent(at("2026-11-02 08:20"), EventType.AGENT_REPLY),
    TicketEvent(at("2026-11-02 08:21"), EventType.STATUS, to="pending"),
    TicketEvent(at("2026-11-02 09:00"), EventType.REQUESTER_REPLY),
    TicketEvent(at("2026-11-02 09:00:01"), EventType.STATUS, to="open"),
]
EVENTS_102 = [
    TicketEvent(at("2026-11-02 09:40"), EventType.REQUESTER_REPLY),
    TicketEvent(at("2026-11-02 09:50"), EventType.AGENT_REPLY),
    TicketEvent(at("2026-11-02 10:00"), EventType.STATUS, to="solved"),
]


@pytest.mark.parametrize(
    ("cloud", "key", "events"),
    [
        pytest.param(
            True, "SUP-101", EVENTS_101, id="cloud-app-ack-internal-public-customer-status"
        ),
        pytest.param(True, "SUP-102", EVENTS_102, id="cloud-other-customer-account-is-a-requester"),
        pytest.param(True, "SUP-103", [], id="cloud-no-comments"),
        # Data Center users carry no accountType: the app's comment is an agent's, and a
        # customer other than the reporter is too
        pytest.param(
            False,
            "SUP-101",
            [TicketEvent(at("2026-11-02 08:00:05"), EventType.AGENT_REPLY), *EVENTS_101[1:]],
            id="datacenter-reporter-only",
        ),
        pytest.param(
            False,
            "SUP-102",
            [TicketEvent(at("2026-11-02 09:40"), EventType.AGENT_REPLY), *EVENTS_102[1:]],
            id="datacenter-other-customer",
        ),
    ],
)
def test_comments_and_changes_become_events(
    tmp_path: Path, cloud: bool, key: str, events: list[TicketEvent]
) -> None:
    ticket = by_key(poll(make_source(tmp_path, cloud=cloud), CLOUD if cloud else SERVER))[key]

    assert list(ticket.events) == events


@pytest.mark.parametrize(
    ("extra", "key", "status", "priority"),
    [
        pytest.param(
            "  status_map: {Awaiting vendor: on_hold}\n",
            "SUP-103",
            "on_hold",
            Priority.NORMAL,
            id="custom-status-on-hold",
        ),
        pytest.param(
            "  status_map: {waiting for support: new}\n",
            "SUP-101",
            "new",
            Priority.HIGH,
            id="status-names-any-case",
        ),
        pytest.param(
            "  priority_map: {High: urgent}\n",
            "SUP-101",
            "open",
            Priority.URGENT,
            id="priority-name",
        ),
        pytest.param(
            "  priority_map: {highest: high}\n",
            "SUP-102",
            "solved",
            Priority.HIGH,
            id="priority-any-case",
        ),
    ],
)
def test_status_and_priority_maps_override_the_defaults(
    tmp_path: Path, extra: str, key: str, status: str, priority: Priority
) -> None:
    ticket = by_key(poll(make_source(tmp_path, extra=extra), CLOUD))[key]

    assert (ticket.status, ticket.priority) == (status, priority)


@pytest.mark.parametrize(
    ("name", "category", "expected"),
    [
        pytest.param(
            "Waiting for customer", "indeterminate", "pending", id="waits-on-the-customer"
        ),
        pytest.param("Closed", "done", "closed", id="closed"),
        pytest.param("Awaiting vendor", "indeterminate", "open", id="unknown-in-progress-runs"),
        pytest.param("Fixed upstream", "done", "solved", id="unknown-done-is-solved"),
    ],
)
def test_statuses_map_by_name_then_by_category(
    tmp_path: Path, name: str, category: str, expected: str
) -> None:
    assert make_source(tmp_path).map_status(name, category) == expected


def test_a_custom_done_status_in_the_changelog_solves_like_the_current_one(
    tmp_path: Path, site: FakeJira
) -> None:
    site.create_issue("SUP-1", ts("2026-11-02 08:00"))
    site.transition("SUP-1", ts("2026-11-02 09:00"), "Fixed upstream", category="done")
    ticket = site_source(tmp_path, site).poll(None, NOW).tickets[0]

    assert ticket.status == "solved"
    assert list(ticket.events) == [
        TicketEvent(at("2026-11-02 09:00"), EventType.STATUS, to="solved")
    ]


def test_issues_of_other_than_service_projects_are_left_out(tmp_path: Path, site: FakeJira) -> None:
    site.add_project("DEV", kind="software")
    site.create_issue("DEV-1", ts("2026-11-02 08:00"))
    site.create_issue("SUP-1", ts("2026-11-02 08:30"))
    result = site_source(tmp_path, site).poll(None, NOW)

    assert [t.id for t in result.tickets] == ["SUP-1"]
    assert result.problems == []


def test_ai_agent_ids_mark_an_ai_agents_replies(tmp_path: Path) -> None:
    source = make_source(tmp_path, extra="  ai_agent_ids: [id-agent]\n")
    ticket = by_key(poll(source, CLOUD))["SUP-102"]

    reply = next(e for e in ticket.events if e.type is EventType.AGENT_REPLY)
    assert reply.author is Author.AI_AGENT


# --- paging, authentication -------------------------------------------------------------------


def test_cloud_signs_in_with_email_and_token_and_follows_the_next_page_token(
    tmp_path: Path,
) -> None:
    source = make_source(tmp_path)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, CLOUD)
        source.poll(None, NOW)
        sent = [
            (urlsplit(c.request.url).path, parse_qs(urlsplit(c.request.url).query))
            for c in rsps.calls
        ]
        authorization = rsps.calls[0].request.headers["Authorization"]

    token = fixture("search-jql-page1.json")["nextPageToken"]
    assert [path for path, _ in sent] == [CLOUD_MYSELF_PATH, CLOUD_SEARCH_PATH, CLOUD_SEARCH_PATH]
    assert "nextPageToken" not in sent[1][1]
    assert sent[2][1]["nextPageToken"] == [token]
    assert sent[1][1]["expand"] == ["changelog"]
    assert authorization == "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()


def test_data_center_signs_in_with_a_bearer_token_and_pages_by_start_at(tmp_path: Path) -> None:
    source = make_source(tmp_path, cloud=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, SERVER)
        source.poll(None, NOW)
        sent = [
            (urlsplit(c.request.url).path, parse_qs(urlsplit(c.request.url).query))
            for c in rsps.calls
        ]
        authorization = rsps.calls[0].request.headers["Authorization"]

    assert [path for path, _ in sent] == [
        SERVER_MYSELF_PATH,
        SERVER_SEARCH_PATH,
        SERVER_SEARCH_PATH,
        COMMENTS_PATH.format(key="SUP-101"),  # no jsdPublic on Data Center: read the request's
        COMMENTS_PATH.format(key="SUP-102"),
    ]
    assert "startAt" not in sent[1][1]
    assert sent[2][1]["startAt"] == ["2"]
    assert authorization == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("seconds", "zone", "literal"),
    [
        pytest.param(ts("2026-11-02 11:59:30"), "UTC", "2026/11/02 11:59", id="utc-minute-floor"),
        pytest.param(
            ts("2026-11-02 11:59:30"), "Europe/Paris", "2026/11/02 12:59", id="paris-winter"
        ),
        pytest.param(
            ts("2026-07-01 23:30"), "America/New_York", "2026/07/01 19:30", id="new-york-summer"
        ),
        pytest.param(
            ts("2026-10-24 23:30"), "Europe/Paris", "2026/10/25 01:30", id="paris-before-the-switch"
        ),
        # 02:30 happens twice in Paris on 2026-10-25 (00:30 and 01:30 UTC): whichever one
        # Jira reads, an hour earlier on the wall clock is never after the instant
        pytest.param(
            ts("2026-10-25 00:30"), "Europe/Paris", "2026/10/25 01:30", id="paris-first-02-30"
        ),
        pytest.param(
            ts("2026-10-25 01:30"), "Europe/Paris", "2026/10/25 01:30", id="paris-second-02-30"
        ),
    ],
)
def test_jql_dates_are_written_in_the_users_time_zone(
    seconds: float, zone: str, literal: str
) -> None:
    assert jql_instant(seconds, ZoneInfo(zone)) == literal


@pytest.mark.parametrize(
    ("projects", "expected"),
    [
        pytest.param(
            (), 'updated >= "2026/11/02 12:59" ORDER BY updated ASC, key ASC', id="everything"
        ),
        pytest.param(
            ("SUP", "HR"),
            'updated >= "2026/11/02 12:59" AND project in ("SUP", "HR") '
            "ORDER BY updated ASC, key ASC",
            id="projects",
        ),
    ],
)
def test_the_search_overlaps_a_minute_and_restricts_to_the_projects(
    projects: tuple[str, ...], expected: str
) -> None:
    assert jql(ts("2026-11-02 12:00:30"), ZoneInfo("Europe/Paris"), projects) == expected


def test_the_time_zone_is_read_once_per_process(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    first = poll(source, CLOUD)
    sent = calls(source, {**CLOUD, CLOUD_SEARCH_PATH: ("search-jql-empty.json",)})

    assert first.tickets
    assert [path for path, _ in sent] == [CLOUD_SEARCH_PATH]


# --- the fake site: overlap, watermark, economy -----------------------------------------------


@pytest.fixture
def site() -> Iterator[FakeJira]:
    with FakeJira(clock=lambda: NOW, time_zone="America/Los_Angeles") as fake:
        yield fake


def site_source(tmp_path: Path, fake: FakeJira, extra: str = "", **options: Any) -> JiraSource:
    return make_source(
        tmp_path, url=fake.url, email=fake.email, token=fake.token, extra=extra, **options
    )


def endpoints(fake: FakeJira) -> list[str]:
    return [r.endpoint for r in fake.requests]


def test_a_change_in_the_same_minute_is_read_once_and_none_is_lost(
    tmp_path: Path, site: FakeJira
) -> None:
    site.create_issue("SUP-1", ts("2026-11-02 11:58:10"))
    source = site_source(tmp_path, site)
    first = source.poll(None, NOW)
    site.create_issue("SUP-2", ts("2026-11-02 11:58:40"))  # the same minute as SUP-1's update
    second = source.poll(first.cursor, NOW + 60)
    third = source.poll(second.cursor, NOW + 120)

    assert [t.id for t in first.tickets] == ["SUP-1"]
    assert [t.id for t in second.tickets] == ["SUP-2"]
    assert third.tickets == []


def test_a_ticket_changed_again_is_read_again(tmp_path: Path, site: FakeJira) -> None:
    site.create_issue("SUP-1", ts("2026-11-02 11:58:10"))
    source = site_source(tmp_path, site)
    first = source.poll(None, NOW)
    site.comment("SUP-1", ts("2026-11-02 11:58:20"))
    second = source.poll(first.cursor, NOW + 60)

    assert [len(t.events) for t in second.tickets] == [1]


@pytest.mark.parametrize("changed", [0, 1, 4, 5, 12], ids=lambda n: f"{n}-changed")
def test_a_poll_reads_no_more_pages_than_changed_over_page_size_plus_one(
    tmp_path: Path, site: FakeJira, changed: int
) -> None:
    for number in range(1, 8):  # an hour apart: the overlap re-reads none of them
        site.create_issue(f"SUP-{number}", ts("2026-11-01 08:00") + 3600 * number)
    source = site_source(tmp_path, site, extra="  page_size: 5\n")
    first = source.poll(None, NOW)
    site.clear_log()
    for number in range(1, changed + 1):
        if number < 8:
            site.comment(f"SUP-{number}", ts("2026-11-02 12:00:05") + number)
        else:
            site.create_issue(f"SUP-{number}", ts("2026-11-02 12:00:05") + number)
    result = source.poll(first.cursor, NOW + 300)

    assert len(result.tickets) == changed
    assert endpoints(site) == ["search"] * len(endpoints(site))
    assert len(site.requests) <= math.ceil(changed / 5) + 1


def test_native_mode_adds_one_sla_request_per_changed_request_only(
    tmp_path: Path, site: FakeJira
) -> None:
    site.create_issue("SUP-1", ts("2026-11-02 08:00"))
    site.create_issue("SUP-2", ts("2026-11-02 09:00"))
    native = site_source(tmp_path, site, native=True)
    first = native.poll(None, NOW)
    site.clear_log()
    site.comment("SUP-2", ts("2026-11-02 12:00:10"))
    native.poll(first.cursor, NOW + 60)

    assert endpoints(site) == ["search", "sla"]


def test_computed_mode_never_reads_slas(tmp_path: Path, site: FakeJira) -> None:
    site.create_issue("SUP-1", ts("2026-11-02 08:00"))
    site_source(tmp_path, site).poll(None, NOW)

    assert "sla" not in endpoints(site)


@pytest.mark.parametrize(
    ("max_pages", "watermark"),
    [
        pytest.param(10, NOW - LAG_SECONDS, id="read-to-the-end"),
        pytest.param(1, ts("2026-11-02 08:00:02") - 1, id="cut-short-at-the-newest-read"),
    ],
)
def test_watermark(tmp_path: Path, site: FakeJira, max_pages: int, watermark: float) -> None:
    for number in range(1, 5):
        site.create_issue(f"SUP-{number}", ts("2026-11-02 08:00") + number)
    source = site_source(tmp_path, site, extra="  page_size: 2\n", max_pages=max_pages)

    assert source.poll(None, NOW).watermark == watermark


def test_a_cut_short_search_goes_on_at_the_next_poll(tmp_path: Path, site: FakeJira) -> None:
    for number in range(1, 6):
        site.create_issue(f"SUP-{number}", ts("2026-11-02 08:00") + 600 * number)
    source = site_source(tmp_path, site, extra="  page_size: 2\n", max_pages=1)
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        result = source.poll(cursor, NOW)
        seen += [t.id for t in result.tickets]
        cursor = result.cursor

    assert seen == [f"SUP-{n}" for n in range(1, 6)]


def test_a_poll_out_of_time_keeps_the_requests_built_and_the_next_goes_on(tmp_path: Path) -> None:
    clock = FakeClock()

    class SlowComments(FakeJira):
        """Each request's comments take longer than a whole poll may."""

        def answer(
            self, path: str, query: Sequence[tuple[str, str]], authorization: str | None
        ) -> tuple[int, dict[str, str], bytes]:
            if path.endswith("/comment"):
                clock.now += source.poll_timeout + 1.0
            return super().answer(path, query, authorization)

    with SlowComments(cloud=False, clock=lambda: NOW) as fake:
        for number in (1, 2, 3):
            fake.create_issue(f"SUP-{number}", ts("2026-11-02 08:00") + 600 * number)
            fake.reply(f"SUP-{number}", ts("2026-11-02 08:05") + 600 * number)
        source = make_source(tmp_path, cloud=False, url=fake.url, token=fake.token, clock=clock)
        polls = []
        cursor = None
        for _ in range(3):
            result = source.poll(cursor, NOW)
            polls.append(([t.id for t in result.tickets], result.watermark))
            cursor = result.cursor

    assert polls == [
        (["SUP-1"], ts("2026-11-02 08:25") - 1),  # SUP-2 changed at 08:25: read next time
        (["SUP-2"], ts("2026-11-02 08:35") - 1),
        (["SUP-3"], NOW - LAG_SECONDS),
    ]


def test_truncated_comments_and_changelog_are_read_in_full(tmp_path: Path) -> None:
    with FakeJira(clock=lambda: NOW, embedded_comments=1, embedded_changelog=1) as fake:
        fake.create_issue("SUP-1", ts("2026-11-02 08:00"))
        fake.comment("SUP-1", ts("2026-11-02 08:10"), public=False)
        fake.comment("SUP-1", ts("2026-11-02 08:20"))
        fake.transition("SUP-1", ts("2026-11-02 08:21"), "Waiting for customer")
        fake.transition("SUP-1", ts("2026-11-02 09:00"), "Resolved")
        result = site_source(tmp_path, fake).poll(None, NOW)
        asked = endpoints(fake)

    assert asked == ["myself", "search", "comments", "changelog"]
    assert [(e.type, e.public, e.to) for e in result.tickets[0].events] == [
        (EventType.AGENT_REPLY, False, None),
        (EventType.AGENT_REPLY, True, None),
        (EventType.STATUS, True, "pending"),
        (EventType.STATUS, True, "solved"),
    ]


# --- native SLAs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param(
            "SUP-101",
            [
                NativeClock(
                    "first_response",
                    0,
                    at("2026-11-02 08:00"),
                    3600.0,
                    at("2026-11-02 09:00"),
                    at("2026-11-02 08:20"),
                    None,
                    False,
                ),
                NativeClock(
                    "resolution",
                    0,
                    at("2026-11-02 08:00"),
                    14400.0,
                    at("2026-11-02 12:39"),
                    None,
                    None,
                    False,
                ),
            ],
            id="met-and-running",
        ),
        pytest.param(
            "SUP-102",
            [
                NativeClock(
                    "first_response",
                    0,
                    at("2026-11-02 09:30"),
                    600.0,
                    at("2026-11-02 09:40"),
                    None,
                    at("2026-11-02 09:40"),
                    False,
                ),
                NativeClock(
                    "resolution",
                    0,
                    at("2026-11-02 09:30"),
                    1800.0,
                    at("2026-11-02 09:55"),
                    at("2026-11-02 10:00"),
                    at("2026-11-02 09:55"),
                    False,
                ),
            ],
            id="breached-ongoing-and-completed-other-slas-ignored",
        ),
        pytest.param(
            "SUP-103",
            [NativeClock("resolution", 0, at("2026-11-02 10:30"), 28800.0, None, None, None, True)],
            id="paused",
        ),
    ],
)
def test_native_clocks_come_from_the_sla_cycles(
    tmp_path: Path, key: str, expected: list[NativeClock]
) -> None:
    ticket = by_key(poll(make_source(tmp_path, native=True), {**CLOUD, **SLAS}))[key]

    assert list(ticket.native) == expected


def test_a_breached_cycle_without_a_breach_time_breached_at_its_goal_at_the_earliest(
    tmp_path: Path,
) -> None:
    sla = fixture("request-sla-paused.json")
    ongoing = sla["values"][0]["ongoingCycle"]
    ongoing["breached"] = True
    plan = {**CLOUD, SLA_PATH.format(key="SUP-103"): (answer(200, sla),)}
    ticket = by_key(poll(make_source(tmp_path, native=True), {**SLAS, **plan}))["SUP-103"]

    (clock,) = ticket.native
    assert (clock.paused, clock.breached_at) == (True, at("2026-11-02 18:30"))  # 10:30 + 8h


def test_sla_names_pick_the_slas_read(tmp_path: Path) -> None:
    source = make_source(
        tmp_path,
        native=True,
        extra="  sla_names: {first_response: Time to close after resolution}\n",
    )
    ticket = by_key(poll(source, {**CLOUD, **SLAS}))["SUP-102"]

    assert [(c.metric, c.target_seconds) for c in ticket.native] == [
        ("first_response", 86400.0),
        ("resolution", 1800.0),
    ]


def test_several_cycles_of_a_next_response_sla_are_cycles_of_ours(tmp_path: Path) -> None:
    sla = fixture("request-sla-breached-cycles.json")
    resolution = next(v for v in sla["values"] if v["name"] == "Time to resolution")
    resolution["name"] = "Time to next response"
    resolution["ongoingCycle"] = next(
        v for v in sla["values"] if v["name"] == "Time to first response"
    )["ongoingCycle"]
    source = make_source(
        tmp_path, native=True, extra="  sla_names: {next_response: Time to next response}\n"
    )
    plan = {**CLOUD, SLA_PATH.format(key="SUP-102"): (answer(200, sla),)}
    ticket = by_key(poll(source, {**SLAS, **plan}))["SUP-102"]

    cycles = [
        (c.cycle, c.stopped_at, c.breached_at) for c in ticket.native if c.metric == "next_response"
    ]
    assert cycles == [
        (0, at("2026-11-02 10:00"), at("2026-11-02 09:55")),
        (1, None, at("2026-11-02 09:40")),
    ]


# --- faults -----------------------------------------------------------------------------------


RATE_LIMITED = (FIXTURES / "rate-limited-429.txt").read_text()


def test_429_waits_for_retry_after_before_asking_again(tmp_path: Path) -> None:
    clock = FakeClock()
    source = make_source(tmp_path, clock=clock)
    limited = answer(429, text=RATE_LIMITED, **{"Retry-After": "7", "X-RateLimit-Remaining": "0"})
    result = poll(source, {**CLOUD, CLOUD_SEARCH_PATH: (limited, "search-jql-empty.json")})

    assert clock.sleeps == [7.0]
    assert result.api_codes == {"200": 2, "429": 1}


@pytest.mark.parametrize(
    ("failing", "reason"),
    [
        pytest.param(answer(429, text=RATE_LIMITED), "rate_limited", id="429-without-retry-after"),
        pytest.param(
            answer(429, text=RATE_LIMITED, **{"Retry-After": "3600"}),
            "rate_limited",
            id="429-retry-after-too-long",
        ),
        pytest.param(
            answer(503, {"errorMessages": ["Service unavailable"], "errors": {}}),
            "http_5xx",
            id="503",
        ),
        pytest.param(
            answer(401, fixture("error-401-not-authenticated.json")), "auth", id="401-expired-token"
        ),
        pytest.param(
            answer(200, text='{"issues": [{"key": "SUP-1", "fie'),
            "bad_response",
            id="truncated-json",
        ),
        pytest.param(
            answer(200, {"issues": {"key": "SUP-1"}}), "bad_response", id="issues-not-a-list"
        ),
        pytest.param(
            answer(200, fixture("error-400-unknown-project.json")),
            "bad_response",
            id="error-body-without-issues",
        ),
    ],
)
def test_a_failed_search_fails_the_poll_with_its_reason_and_the_next_poll_resumes(
    tmp_path: Path, failing: Answer, reason: str
) -> None:
    clean = poll(make_source(tmp_path), CLOUD)
    source = make_source(tmp_path)
    plan = {**CLOUD, CLOUD_SEARCH_PATH: ("search-jql-page1.json", failing)}
    with pytest.raises(SourceError) as caught:
        poll(source, plan)
    assert caught.value.reason == reason
    again = poll(source, CLOUD)
    assert again.cursor == clean.cursor
    assert by_key(again).keys() == by_key(clean).keys()


def test_a_data_center_page_without_its_position_is_a_bad_response(tmp_path: Path) -> None:
    page = fixture("search-datacenter-page1.json")
    del page["total"]
    plan = {**SERVER, SERVER_SEARCH_PATH: (answer(200, page),)}
    with pytest.raises(SourceError) as caught:
        poll(make_source(tmp_path, cloud=False), plan)

    assert caught.value.reason == "bad_response"
    assert "startAt or total" in str(caught.value)


def test_an_unknown_project_names_source_projects(tmp_path: Path) -> None:
    source = make_source(tmp_path, extra="  projects: [NOPE]\n")
    refused = answer(400, fixture("error-400-unknown-project.json"))
    with pytest.raises(SourceError) as caught:
        poll(source, {**CLOUD, CLOUD_SEARCH_PATH: (refused,)})

    assert caught.value.reason == "http_4xx"
    assert "source.projects" in str(caught.value)


def test_a_myself_without_a_time_zone_is_a_bad_response(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    with pytest.raises(SourceError) as caught:
        poll(source, {**CLOUD, CLOUD_MYSELF_PATH: (answer(200, {"accountId": "x"}),)})

    assert caught.value.reason == "bad_response"
    assert "timeZone" in str(caught.value)


def test_a_search_that_does_not_advance_fails_as_stalled(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    with pytest.raises(SourceError) as caught:
        poll(source, {**CLOUD, CLOUD_SEARCH_PATH: ("search-jql-page1.json",)})

    assert caught.value.reason == "stalled"


def test_a_request_that_is_gone_is_skipped_and_named(tmp_path: Path) -> None:
    gone = answer(404, {"errorMessages": ["The request could not be found."], "errors": {}})
    plan = {**SERVER, COMMENTS_PATH.format(key="SUP-102"): (gone,)}
    result = poll(make_source(tmp_path, cloud=False), plan)

    assert sorted(by_key(result)) == ["SUP-101", "SUP-103"]
    assert [p.split(":")[0] for p in result.problems] == ["issue SUP-102"]


def test_an_issue_without_key_or_created_is_skipped_and_named(tmp_path: Path) -> None:
    page = fixture("search-jql-last-page.json")
    page["issues"].append({"id": "1", "fields": {"updated": "2026-11-02T11:00:00.000+0100"}})
    page["issues"].append(
        {"id": "2", "key": "SUP-9", "fields": {"updated": "2026-11-02T11:00:00.000+0100"}}
    )
    plan = {**CLOUD, CLOUD_SEARCH_PATH: ("search-jql-page1.json", answer(200, page))}
    result = poll(make_source(tmp_path), plan)

    assert sorted(by_key(result)) == ["SUP-101", "SUP-102", "SUP-103"]
    assert len(result.problems) == 2
    assert "issues[1] has no key" in result.problems[0]
    assert result.problems[1] == "issue SUP-9: no created time"


def test_an_unreadable_cursor_starts_again_from_the_lookback(tmp_path: Path) -> None:
    sent = []
    source = make_source(tmp_path)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, CLOUD)
        source.poll("{not json", NOW)
        sent = [parse_qs(urlsplit(c.request.url).query).get("jql") for c in rsps.calls]

    assert sent[1] == ['updated >= "2026/09/28 13:59" ORDER BY updated ASC, key ASC']


@pytest.mark.parametrize(
    ("cloud", "failing"),
    [
        pytest.param(
            True, answer(401, fixture("error-401-not-authenticated.json")), id="cloud-401"
        ),
        pytest.param(
            False, answer(403, {"errorMessages": ["Forbidden"], "errors": {}}), id="datacenter-403"
        ),
        pytest.param(
            True,
            Answer(error=requests.exceptions.ConnectionError(f"{BASE_URL}{CLOUD_MYSELF_PATH}")),
            id="connection",
        ),
    ],
)
def test_credentials_never_appear_in_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cloud: bool, failing: Answer
) -> None:
    source = make_source(tmp_path, cloud=cloud)
    myself = CLOUD_MYSELF_PATH if cloud else SERVER_MYSELF_PATH
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as caught:
        poll(source, {myself: (failing,)})

    encoded = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    for text in (str(caught.value), caplog.text, repr(source.client.session.auth)):
        assert TOKEN not in text
        assert encoded not in text


# --- built from a config file -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_block", "read", "expected"),
    [
        pytest.param(
            "  email: ops@acme.example\n",
            lambda s: (s.cloud, s.search_path),
            (True, CLOUD_SEARCH_PATH),
            id="email-is-cloud",
        ),
        pytest.param(
            "",
            lambda s: (s.cloud, type(s.client.session.auth).__name__),
            (False, "BearerAuth"),
            id="no-email-is-datacenter-bearer",
        ),
        pytest.param("  projects: [SUP, HR]\n", lambda s: s.projects, ("SUP", "HR"), id="projects"),
        pytest.param(
            "  page_size: 1000\n", lambda s: s.page_size, 100, id="page-size-capped-at-100"
        ),
        pytest.param(
            "  sla_names: {resolution: Resolve within}\n",
            lambda s: s.sla_metrics,
            {"time to first response": "first_response", "resolve within": "resolution"},
            id="sla-names",
        ),
        pytest.param(
            "  status_map: {Triage: new}\n",
            lambda s: s.map_status("triage"),
            "new",
            id="status-map",
        ),
        pytest.param("", lambda s: s.native, False, id="computed-reads-no-slas"),
        pytest.param(
            "slas:\n  resolution:\n    mode: native\n    targets: {urgent: 4h}\n",
            lambda s: s.native,
            True,
            id="native-sla-reads-slas",
        ),
    ],
)
def test_a_config_file_builds_the_jira_source(
    tmp_path: Path, source_block: str, read: Any, expected: Any
) -> None:
    (tmp_path / "key").write_text(TOKEN)
    block, _, rest = source_block.partition("slas:")
    text = f"source:\n  type: jira\n  url: {BASE_URL}\n  token_file: key\n{block}"
    if rest:
        text += "slas:" + rest
    (tmp_path / "helpdesk-slo.yml").write_text(text)

    source = build_source(load_config(tmp_path / "helpdesk-slo.yml"))

    assert isinstance(source, JiraSource)
    assert read(source) == expected


# --- assignments (start: assigned) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("created_with", "assignments", "expected"),
    [
        pytest.param(None, [], [], id="never-assigned"),
        pytest.param(None, [("09:00", "agent-a")], ["09:00"], id="assigned-later"),
        pytest.param("agent-a", [], ["08:00"], id="created-with-an-assignee"),
        pytest.param(
            "agent-a",
            [("09:00", "agent-b")],
            ["08:00", "09:00"],
            id="created-with-an-assignee-then-reassigned",
        ),
    ],
)
def test_assignee_changes_and_an_assignee_at_creation_become_assignments(
    created_with: str | None,
    assignments: list[tuple[str, str]],
    expected: list[str],
    tmp_path: Path,
) -> None:
    with FakeJira(clock=lambda: NOW) as fake:
        fake.create_issue("SUP-1", ts("2026-11-02 08:00"), assignee=created_with)
        for when, assignee in assignments:
            fake.assign("SUP-1", ts(f"2026-11-02 {when}"), assignee)
        (ticket,) = site_source(tmp_path, fake).poll(None, NOW).tickets

    assert [
        e.at.strftime("%H:%M") for e in ticket.events if e.type is EventType.ASSIGNED
    ] == expected
