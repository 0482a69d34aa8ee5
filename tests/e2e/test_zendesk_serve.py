"""``helpdesk-slo serve`` polling a fake Zendesk: a scripted day, a failing API, a recovery.

One scenario runs once for the module (:func:`scenario`) and the tests read
what it recorded:

1. A day of seven tickets is scripted 26 hours in the past (:func:`script_day`),
   on the built-in 24x7 calendar so every duration is plain clock time, and
   ``serve`` starts against the fake (token in a file, ``poll_interval: 3s``)
   on a store created an hour before that day: counters count what was
   decided since their store's epoch, so this is the exporter that was
   already deployed then.  After ``/ready`` the first scrape must equal
   :data:`AFTER_FIRST_POLL`, worked out by hand in the comments of
   :func:`script_day`.
2. The ticket export starts answering 500.  Each poll retries (with back-off)
   and then fails: ``helpdesk_up`` turns 0 while ``/metrics`` keeps serving
   the last good values.  Meanwhile the helpdesk moves on
   (:func:`script_outage`): a reply, a solve, a new ticket, a rating.
3. The API heals (and the next ratings request gets one 429 with
   ``Retry-After: 1``).  Once the changes are older than Zendesk's one-minute
   export lag, a poll succeeds and the scrape must equal
   :data:`AFTER_RECOVERY`: nothing that happened during the outage is lost.

Zendesk leaves the last minute out of its exports, and the exporter never
calls anything bad before that minute is over (its watermark), so changes are
dated 20 seconds before they are scripted and the recovery waits until they
are a minute old.  The whole module takes about a minute.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from exporter.store import Store
from tests.e2e.process import ServeProcess
from tests.fakes.zendesk import (
    RATINGS_PATH,
    TICKET_EVENTS_PATH,
    TICKETS_PATH,
    FakeZendesk,
    Request,
)

pytestmark = pytest.mark.slow

HOUR = 3600
MINUTE = 60
START_TIMEOUT = 30.0
#: A failing poll retries 4 times with exponential back-off (about 15-19 s in all).
FAULT_TIMEOUT = 60.0
#: The outage's changes need a minute to reach the export, then one poll.
RECOVERY_TIMEOUT = 120.0

CONFIG = """\
service: support
source:
  type: zendesk
  url: {url}
  email: {email}
  token_file: zendesk-token
  poll_interval: 3s
  lookback: 2d
store: state.db
# no calendars: every SLA runs on the built-in 24x7 calendar
slas:
  first_response:
    targets: {{urgent: 1h, high: 4h, normal: 8h, low: 24h}}
  next_response:
    targets: {{urgent: 1h, high: 2h, normal: 4h, low: 8h}}
  resolution:
    targets: {{urgent: 4h, high: 8h, normal: 24h, low: 48h}}
slos:
  - name: urgent-first-response
    sla: first_response
    match: {{priority: [urgent]}}
    threshold: 30m
    objective: 90%
    window: 28d
  - name: first-response
    sla: first_response
    objective: 95%
    window: 28d
  - name: csat
    kind: csat
    objective: 90%
    window: 28d
"""

Labels = dict[str, str]
Row = tuple[str, Labels, float]


# --- the scripted helpdesk ----------------------------------------------------------------------


def script_day(fake: FakeZendesk, day: int) -> dict[str, int]:
    """Seven tickets from ``day`` (POSIX seconds, 26 h before now) on; their ids by name.

    Every target below is clock time (24x7).  "FR" is first response, "NR"
    next response, "RES" resolution; SLO urgent-first-response has a 30m
    threshold, SLO first-response uses each priority's SLA target.
    """
    t = {}
    # T1 urgent/email: auto-ack at +5s (stops nothing), reply after 20m: FR met, both SLOs
    # good; solved after 1h: RES met (target 4h); rated good.
    t["T1"] = fake.create_ticket(day, priority="urgent", channel="email")
    fake.auto_ack(t["T1"], day + 5)
    fake.assign(t["T1"], day + 10 * MINUTE)
    fake.agent_reply(t["T1"], day + 20 * MINUTE)
    fake.solve(t["T1"], day + HOUR)
    fake.rate(t["T1"], day + 2 * HOUR, "good")
    # T2 urgent/web, assigned: reply after 45m: FR met (1h), urgent-first-response bad at
    # 30m, first-response good; still open: RES breached at +4h, an open breached timer.
    t["T2"] = fake.create_ticket(day + HOUR, priority="urgent", channel="web")
    fake.assign(t["T2"], day + HOUR + 40 * MINUTE)
    fake.agent_reply(t["T2"], day + HOUR + 45 * MINUTE)
    # T3 urgent/email, untouched (status new, unassigned): FR breached at +1h, both SLOs bad,
    # RES breached at +4h; still waiting past both SLO thresholds.
    t["T3"] = fake.create_ticket(day + 2 * HOUR, priority="urgent", channel="email")
    # T4 high/web: an internal note (answers nobody), public reply at +2h set pending: FR met
    # (4h), first-response good. Requester answers 1h later (reopens, NR cycle starts), agent
    # 1h after that: NR met (2h). Solved at +5h: RES ran 2h + 2h (the pending hour paused)
    # = 4h, met (8h). Rated bad.
    t["T4"] = fake.create_ticket(day + 3 * HOUR, priority="high", channel="web")
    fake.internal_note(t["T4"], day + 3 * HOUR + 10 * MINUTE)
    fake.agent_reply(t["T4"], day + 5 * HOUR, status="pending")
    fake.requester_reply(t["T4"], day + 6 * HOUR)
    fake.agent_reply(t["T4"], day + 7 * HOUR)
    fake.solve(t["T4"], day + 8 * HOUR)
    fake.rate(t["T4"], day + 9 * HOUR, "bad")
    # T5 normal/email: reply after 30m: FR met, first-response good; solved after 1h: RES met.
    # The requester writes back 1h later (reopen: NR cycle starts) and it is solved again
    # 1h after: NR met (4h), still one solve and one RES outcome.
    t["T5"] = fake.create_ticket(day + 4 * HOUR, priority="normal", channel="email")
    fake.agent_reply(t["T5"], day + 4 * HOUR + 30 * MINUTE)
    fake.solve(t["T5"], day + 5 * HOUR)
    fake.requester_reply(t["T5"], day + 6 * HOUR)
    fake.solve(t["T5"], day + 7 * HOUR)
    # T6 low/api, untouched: FR (24h) and RES (48h) still running 16h later; nothing decided.
    t["T6"] = fake.create_ticket(day + 10 * HOUR, priority="low", channel="api")
    # T7 normal/email, auto-ack only (status open): FR (8h) running 6h later, RES running.
    t["T7"] = fake.create_ticket(day + 20 * HOUR, priority="normal", channel="email")
    fake.auto_ack(t["T7"], day + 20 * HOUR + 5)
    return t


def script_outage(fake: FakeZendesk, tickets: dict[str, int], at: int) -> None:
    """What support does while the API fails, all at ``at``.

    T7 gets its first reply (FR met after ~6h of 8h: first-response good), T3 is
    answered and solved (its outcomes were decided long ago: nothing new but a
    solve), T8 urgent/chat arrives (FR and RES running), T5 is rated good.
    """
    fake.agent_reply(tickets["T7"], at)
    fake.agent_reply(tickets["T3"], at, status="solved")
    tickets["T8"] = fake.create_ticket(at, priority="urgent", channel="chat")
    fake.rate(tickets["T5"], at, "good")


def outcomes(sla: str, counts: dict[tuple[str, str], int]) -> list[Row]:
    """Every ``helpdesk_sla_outcomes_total`` series of one SLA (absent counts are 0)."""
    return [
        (
            "helpdesk_sla_outcomes_total",
            {"sla": sla, "priority": p, "outcome": o},
            counts.get((p, o), 0),
        )
        for p in ("urgent", "high", "normal", "low")
        for o in ("met", "breached")
    ]


def timers(sla: str, counts: dict[tuple[str, str], int]) -> list[Row]:
    """Every ``helpdesk_sla_open_timers`` series of one SLA (absent counts are 0)."""
    return [
        ("helpdesk_sla_open_timers", {"sla": sla, "priority": p, "state": s}, counts.get((p, s), 0))
        for p in ("urgent", "high", "normal", "low")
        for s in ("running", "paused", "breached")
    ]


def slo_events(slo: str, good: int, bad: int) -> list[Row]:
    return [
        ("helpdesk_slo_events_total", {"slo": slo, "result": "good"}, good),
        ("helpdesk_slo_events_total", {"slo": slo, "result": "bad"}, bad),
    ]


def tickets_open(counts: dict[tuple[str, str], int]) -> list[Row]:
    return [
        ("helpdesk_tickets_open", {"priority": p, "status": s}, counts.get((p, s), 0))
        for p in ("urgent", "high", "normal", "low")
        for s in ("new", "open", "pending", "on_hold")
    ]


def by_labels(name: str, label: str, counts: dict[str, int]) -> list[Row]:
    return [(name, {label: value}, count) for value, count in counts.items()]


#: The first scrape, from the comments of :func:`script_day`.
AFTER_FIRST_POLL: list[Row] = [
    *slo_events("urgent-first-response", good=1, bad=2),  # T1 / T2, T3
    *slo_events("first-response", good=4, bad=1),  # T1, T2, T4, T5 / T3
    *slo_events("csat", good=1, bad=1),  # T1 / T4
    *outcomes(
        "first_response",
        {("urgent", "met"): 2, ("urgent", "breached"): 1, ("high", "met"): 1, ("normal", "met"): 1},
    ),
    *outcomes("next_response", {("high", "met"): 1, ("normal", "met"): 1}),  # T4, T5
    *outcomes(
        "resolution",
        {("urgent", "met"): 1, ("urgent", "breached"): 2, ("high", "met"): 1, ("normal", "met"): 1},
    ),
    *timers(
        "first_response",
        {("urgent", "breached"): 1, ("normal", "running"): 1, ("low", "running"): 1},
    ),
    *timers("next_response", {}),
    *timers(
        "resolution", {("urgent", "breached"): 2, ("normal", "running"): 1, ("low", "running"): 1}
    ),
    *tickets_open(
        {("urgent", "open"): 1, ("urgent", "new"): 1, ("normal", "open"): 1, ("low", "new"): 1}
    ),
    *by_labels(
        "helpdesk_slo_waiting_past_threshold_tickets",
        "slo",
        {"urgent-first-response": 1, "first-response": 1},
    ),
    *by_labels(
        "helpdesk_tickets_unassigned", "priority", {"urgent": 1, "high": 0, "normal": 1, "low": 1}
    ),
    ("helpdesk_tickets_created_total", {"priority": "urgent", "channel": "email"}, 2),
    ("helpdesk_tickets_created_total", {"priority": "urgent", "channel": "web"}, 1),
    ("helpdesk_tickets_created_total", {"priority": "high", "channel": "web"}, 1),
    ("helpdesk_tickets_created_total", {"priority": "normal", "channel": "email"}, 2),
    ("helpdesk_tickets_created_total", {"priority": "low", "channel": "api"}, 1),
    ("helpdesk_tickets_solved_total", {"priority": "urgent", "channel": "email"}, 1),
    ("helpdesk_tickets_solved_total", {"priority": "high", "channel": "web"}, 1),
    ("helpdesk_tickets_solved_total", {"priority": "normal", "channel": "email"}, 1),
    *by_labels("helpdesk_csat_ratings_total", "rating", {"good": 1, "bad": 1}),
    ("helpdesk_up", {"source": "zendesk"}, 1),
]

#: After the outage: :data:`AFTER_FIRST_POLL` changed by :func:`script_outage`.
AFTER_RECOVERY: list[Row] = [
    *slo_events("urgent-first-response", good=1, bad=2),  # T8 is pending (30m threshold)
    *slo_events("first-response", good=5, bad=1),  # + T7
    *slo_events("csat", good=2, bad=1),  # + T5
    *outcomes(
        "first_response",
        {("urgent", "met"): 2, ("urgent", "breached"): 1, ("high", "met"): 1, ("normal", "met"): 2},
    ),
    *outcomes("next_response", {("high", "met"): 1, ("normal", "met"): 1}),
    *outcomes(
        "resolution",
        {("urgent", "met"): 1, ("urgent", "breached"): 2, ("high", "met"): 1, ("normal", "met"): 1},
    ),
    *timers("first_response", {("urgent", "running"): 1, ("low", "running"): 1}),  # T8, T6
    *timers("next_response", {}),
    *timers(
        "resolution",
        {
            ("urgent", "running"): 1,
            ("urgent", "breached"): 1,
            ("normal", "running"): 1,
            ("low", "running"): 1,
        },
    ),  # T8, T2, T7, T6
    *tickets_open(
        {("urgent", "open"): 1, ("urgent", "new"): 1, ("normal", "open"): 1, ("low", "new"): 1}
    ),
    *by_labels(
        "helpdesk_slo_waiting_past_threshold_tickets",
        "slo",
        {"urgent-first-response": 0, "first-response": 0},
    ),
    *by_labels(
        "helpdesk_tickets_unassigned", "priority", {"urgent": 1, "high": 0, "normal": 1, "low": 1}
    ),
    ("helpdesk_tickets_created_total", {"priority": "urgent", "channel": "email"}, 2),
    ("helpdesk_tickets_created_total", {"priority": "urgent", "channel": "web"}, 1),
    ("helpdesk_tickets_created_total", {"priority": "urgent", "channel": "chat"}, 1),  # T8
    ("helpdesk_tickets_created_total", {"priority": "high", "channel": "web"}, 1),
    ("helpdesk_tickets_created_total", {"priority": "normal", "channel": "email"}, 2),
    ("helpdesk_tickets_created_total", {"priority": "low", "channel": "api"}, 1),
    ("helpdesk_tickets_solved_total", {"priority": "urgent", "channel": "email"}, 2),  # + T3
    ("helpdesk_tickets_solved_total", {"priority": "high", "channel": "web"}, 1),
    ("helpdesk_tickets_solved_total", {"priority": "normal", "channel": "email"}, 1),
    *by_labels("helpdesk_csat_ratings_total", "rating", {"good": 2, "bad": 1}),
    ("helpdesk_up", {"source": "zendesk"}, 1),
]


def row_id(row: Row) -> str:
    name, labels, _ = row
    return name.removeprefix("helpdesk_") + "{" + ",".join(labels.values()) + "}"


# --- the exporter process -----------------------------------------------------------------------


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, labels: Labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


class Serve(ServeProcess):
    """One ``helpdesk-slo serve`` on 127.0.0.1; :meth:`kill` always ends it."""

    def scrape(self) -> Samples:
        return parse(self.metrics_text())

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        self.wait_until(what, check, timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


# --- the scenario -------------------------------------------------------------------------------


@dataclass
class Scenario:
    first: Samples
    during_fault: Samples
    recovered: Samples
    requests: list[Request]
    ticket_count: int
    day: int
    outage_at: int
    tickets: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    directory = tmp_path_factory.mktemp("zendesk-serve")
    with FakeZendesk() as fake:
        day = int(time.time()) - 26 * HOUR
        tickets = script_day(fake, day)
        # The exporter was deployed an hour before that day: its store (and so its counters'
        # epoch) dates from then, so the day's outcomes count in the *_total counters too
        # (a store created now would count only what is decided from now on).
        Store(directory / "state.db", clock=lambda: day - HOUR).close()
        (directory / "zendesk-token").write_text(fake.token + "\n", encoding="utf-8")
        config = directory / "helpdesk-slo.yml"
        config.write_text(CONFIG.format(url=fake.url, email=fake.email), encoding="utf-8")
        exporter = Serve(directory, config)
        try:
            exporter.wait_for("/ready", lambda: exporter.get("/ready")[0] == 200, START_TIMEOUT)
            first = exporter.scrape()

            # the ticket export fails; support carries on meanwhile
            fake.fail("tickets", 500)
            outage_at = int(time.time()) - 20
            script_outage(fake, tickets, outage_at)
            up = {"source": "zendesk"}
            exporter.wait_for(
                "helpdesk_up 0 after a failed poll",
                lambda: value(exporter.scrape(), "helpdesk_up", up) == 0,
                FAULT_TIMEOUT,
            )
            during_fault = exporter.scrape()

            # the API heals once the outage's changes are past Zendesk's export lag
            time.sleep(max(0.0, outage_at + MINUTE + 1 - time.time()))
            fake.fail("ratings", 429, retry_after=1, times=1)
            fake.heal("tickets")
            created = {"priority": "urgent", "channel": "chat"}
            exporter.wait_for(
                "a successful poll that reads the outage's changes",
                lambda: (
                    (samples := exporter.scrape()) is not None
                    and value(samples, "helpdesk_up", up) == 1
                    and value(samples, "helpdesk_tickets_created_total", created) == 1
                ),
                RECOVERY_TIMEOUT,
            )
            yield Scenario(
                first=first,
                during_fault=during_fault,
                recovered=exporter.scrape(),
                requests=fake.requests,
                ticket_count=len(fake.ticket_ids()),
                day=day,
                outage_at=outage_at,
                tickets=tickets,
            )
        finally:
            exporter.kill()


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("row", AFTER_FIRST_POLL, ids=row_id)
def test_first_poll_gives_the_hand_worked_values(scenario: Scenario, row: Row) -> None:
    name, labels, expected = row
    assert value(scenario.first, name, labels) == expected


@pytest.mark.parametrize("row", AFTER_RECOVERY, ids=row_id)
def test_after_the_outage_nothing_is_lost(scenario: Scenario, row: Row) -> None:
    name, labels, expected = row
    assert value(scenario.recovered, name, labels) == expected


@pytest.mark.parametrize("slo", ["urgent-first-response", "first-response", "csat"])
@pytest.mark.parametrize("result", ["good", "bad"])
def test_the_window_gauges_hold_the_same_events(scenario: Scenario, slo: str, result: str) -> None:
    """The 28d window holds the whole day, and the store predates it: both views agree."""
    for samples in (scenario.first, scenario.recovered):
        labels = {"slo": slo, "result": result}
        period = value(samples, "helpdesk_slo_period_events", labels)
        assert period == value(samples, "helpdesk_slo_events_total", labels)


@pytest.mark.parametrize(
    ("priority", "expected"),
    [("urgent", 2 * HOUR), ("normal", 20 * HOUR), ("low", 10 * HOUR), ("high", None)],
    ids=["urgent-T3", "normal-T7-auto-ack-only", "low-T6", "high-none"],
)
def test_oldest_unanswered_ticket_after_the_first_poll(
    scenario: Scenario, priority: str, expected: int | None
) -> None:
    found = value(
        scenario.first,
        "helpdesk_oldest_unanswered_ticket_timestamp_seconds",
        {"priority": priority},
    )
    assert found == (None if expected is None else scenario.day + expected)


def test_oldest_unanswered_ticket_after_the_outage_is_the_new_one(scenario: Scenario) -> None:
    samples = scenario.recovered
    name = "helpdesk_oldest_unanswered_ticket_timestamp_seconds"
    assert value(samples, name, {"priority": "urgent"}) == scenario.outage_at  # T8
    assert value(samples, name, {"priority": "normal"}) is None  # T7 answered


def test_a_failing_api_keeps_the_last_values_with_up_0(scenario: Scenario) -> None:
    during = scenario.during_fault
    assert value(during, "helpdesk_up", {"source": "zendesk"}) == 0
    errors = value(
        during, "helpdesk_poll_errors_total", {"source": "zendesk", "reason": "http_5xx"}
    )
    assert errors is not None and errors >= 1
    for name, labels, expected in AFTER_FIRST_POLL:
        if name != "helpdesk_up":
            assert value(during, name, labels) == expected, (name, labels)


def test_every_ticket_of_the_helpdesk_is_counted_once(scenario: Scenario) -> None:
    created = sum(
        v for (name, _), v in scenario.recovered.items() if name == "helpdesk_tickets_created_total"
    )
    assert created == scenario.ticket_count == 8


def test_api_requests_are_counted_by_status_code(scenario: Scenario) -> None:
    def counted(samples: Samples, code: int) -> float:
        labels = {"source": "zendesk", "code": str(code)}
        return value(samples, "helpdesk_api_requests_total", labels) or 0.0

    answered = Counter(r.status for r in scenario.requests)
    # one request per endpoint at least: tickets, ticket events, ratings (no SLA is native, so
    # the metric-events export is not read)
    assert counted(scenario.first, 200) >= 3
    assert not [r for r in scenario.requests if r.endpoint == "metric_events"]
    assert counted(scenario.recovered, 429) == answered[429] == 1
    assert 0 < counted(scenario.recovered, 200) <= answered[200]
    # the first failing request and its 4 retries at least; a poll still retrying is not counted
    assert 5 <= counted(scenario.recovered, 500) <= answered[500]


def test_retry_after_is_honoured(scenario: Scenario) -> None:
    ratings = [r for r in scenario.requests if r.endpoint == "ratings"]
    limited = next(i for i, r in enumerate(ratings) if r.status == 429)
    retried = ratings[limited + 1]
    assert retried.status == 200
    assert retried.at - ratings[limited].at >= 1.0


# --- the fake itself: the paging and the last minute the scenario relies on ---------------------


def zendesk_get(fake: FakeZendesk, path: str, **params: str | int) -> dict[str, Any]:
    session = requests.Session()
    session.auth = (f"{fake.email}/token", fake.token)
    response = session.get(fake.url + path, params=params, timeout=10)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def test_the_fake_pages_the_ticket_export_by_cursor_to_its_end() -> None:
    now = int(time.time())
    with FakeZendesk() as fake:
        for minute in range(5):
            fake.create_ticket(now - HOUR + minute * MINUTE)
        fake.create_ticket(now - 30)  # inside the last minute: not exported yet
        pages = [zendesk_get(fake, TICKETS_PATH, start_time=now - 2 * HOUR, per_page=2)]
        while not pages[-1]["end_of_stream"]:
            after = pages[-1]["after_cursor"]
            pages.append(zendesk_get(fake, TICKETS_PATH, cursor=after, per_page=2))
        again = zendesk_get(fake, TICKETS_PATH, cursor=pages[-1]["after_cursor"])
    assert [[t["id"] for t in page["tickets"]] for page in pages] == [[101, 102], [103, 104], [105]]
    assert again["tickets"] == [] and again["end_of_stream"] is True


def test_the_fake_repeats_the_last_second_of_a_full_time_based_page() -> None:
    now = int(time.time())
    with FakeZendesk() as fake:
        ticket = fake.create_ticket(now - 2 * HOUR)
        for offset in range(1, 1100):
            fake.internal_note(ticket, now - 2 * HOUR + offset)
        first = zendesk_get(fake, TICKET_EVENTS_PATH, start_time=now - 3 * HOUR)
        second = zendesk_get(fake, TICKET_EVENTS_PATH, start_time=first["end_time"])
    assert (first["count"], first["end_of_stream"]) == (1000, False)
    assert first["end_time"] == first["ticket_events"][-1]["timestamp"]
    assert second["ticket_events"][0] == first["ticket_events"][-1]
    assert (second["count"], second["end_of_stream"]) == (101, True)


@pytest.mark.parametrize(
    ("auth", "fault", "expected"),
    [
        (("ops@acme.example/token", "fake-zendesk-token-7c1d"), None, 200),
        (("ops@acme.example/token", "wrong"), None, 401),
        (("ops@acme.example", "fake-zendesk-token-7c1d"), None, 401),
        (("ops@acme.example/token", "fake-zendesk-token-7c1d"), 503, 503),
        (("ops@acme.example/token", "fake-zendesk-token-7c1d"), 429, 429),
    ],
    ids=["token", "wrong-token", "password-style", "fault-503", "fault-429"],
)
def test_the_fake_checks_the_token_and_injects_faults(
    auth: tuple[str, str], fault: int | None, expected: int
) -> None:
    with FakeZendesk() as fake:
        if fault is not None:
            fake.fail("ratings", fault, retry_after=7, times=1)
        response = requests.get(
            fake.url + RATINGS_PATH, params={"score": "received"}, auth=auth, timeout=10
        )
        healed = requests.get(fake.url + RATINGS_PATH, auth=auth, timeout=10)
    assert response.status_code == expected
    if fault is not None:
        assert response.headers["Retry-After"] == "7" and healed.status_code == 200
    if fault == 429:
        assert response.headers["Content-Type"] == "text/plain"
