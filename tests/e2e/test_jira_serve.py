"""``helpdesk-slo serve`` polling a fake Jira Service Management site: a scripted day, by hand.

The fake (:mod:`tests.fakes.jira`) serves Jira Cloud's REST API over real
HTTP on 127.0.0.1, with the API user in Europe/Paris (the JQL dates must be
written in that zone); ``serve`` runs as a subprocess with a jira config
(email and API token in a file, ``page_size: 2`` so the search is paged by
``nextPageToken``) and polls every second.  Every process and server started
here is stopped in fixture teardown, also when a test fails.

**The day.** ``DAY`` is 00:00 UTC two days before today, so every short target
has run out when the exporter polls; ``low`` targets are 7 days.  The
calendar is 24x7.  The store is created the day before ``DAY``, so every
outcome of the day counts in the ``*_total`` counters.

Targets: first response urgent 1h, high 4h, normal 8h, low 7d; next response
urgent 1h, high 2h, normal 4h, low 7d; resolution urgent 4h, high 8h, normal
24h, low 7d.  SLOs: ``urgent-first-response`` (urgent, 50% = 30m), and
``first-response``, ``next-response``, ``resolution`` at 100% of the SLA.

=======  ========  =====================================================================
key      priority  the day (UTC); every request has an assignee but SUP-4
=======  ========  =====================================================================
SUP-1    Highest   08:00 created, 08:00:05 automation's acknowledgement, 08:20 reply,
                   09:30 Resolved
SUP-2    Highest   09:00 created, 09:10 internal comment, 09:45 reply; stays open
SUP-3    High      10:00 created, 10:30 reply, 11:00 customer, 12:30 reply,
                   12:31 Waiting for customer
SUP-4    Medium    11:00 created, unassigned, never answered
SUP-5    Low       13:00 created, 13:05 reply, 13:07 and 13:10 customer; stays open
SUP-6    High      14:00 created, 14:10 reply, 15:00 Resolved, 16:00 customer and
                   Waiting for support (a reopen)
SUP-7    Medium    15:00 created, 15:30 reply, 16:00 Closed
SUP-8    Highest   18:00 created, 18:10 internal comment, 19:30 reply; stays open
=======  ========  =====================================================================

Worked out per request (computed mode):

* SUP-1: the app's acknowledgement stops nothing; first response 20m (met; 30m
  SLO good); resolution 1h30 (met).
* SUP-2: the internal comment stops nothing; first response 45m: met and
  first-response good, urgent-first-response bad at 09:30; resolution breached
  at 13:00 (bad), an open breached timer.
* SUP-3: first response 30m met; next response 11:00-12:30 met (1h30 of 2h);
  resolution paused (pending) after 2h31m: no outcome yet.
* SUP-4: first response bad at 19:00, resolution bad at next day 11:00; both
  timers open and breached; unassigned; oldest unanswered normal request.
* SUP-5: first response 5m met; next response from 13:07 and resolution from
  13:00 still run (7 days).
* SUP-6: first response 10m met; resolution met at 15:00 after 1h (good: the
  first stop decides), runs again from 16:00 with 7h left: breached at 23:00;
  next response from 16:00 breached at 18:00 (bad).
* SUP-7: first response 30m met, resolution 1h met.
* SUP-8: first response 1h30: urgent-first-response bad at 18:30,
  first-response bad at 19:00; resolution bad at 22:00.

Then, while the search answers 500, the test adds (at ``t1``, after the first
poll): SUP-5 answered and resolved, SUP-9 (Highest) created.  After recovery
each counts exactly once.

In ``mode: native`` the same day is judged by Jira's own SLA cycles (the
``NATIVE_*`` tables say where they differ from the config, and why).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exporter.store import Store
from tests.e2e.test_freshdesk_serve import Scrape, Serve
from tests.fakes.jira import AGENT, AUTOMATION, Cycle, FakeJira

WAIT_SECONDS = 60.0
SOURCE = "jira"
HOUR = 3600.0
WEEK = 7 * 86400.0

CONFIG = """\
service: support
source:
  type: jira
  url: {url}
  email: {email}
  token_file: api-token
  poll_interval: 1s
  page_size: 2
store: state.db
calendars:
  always: 24x7
slas:
  first_response:
    calendar: always
    mode: {mode}
    targets: {{urgent: 1h, high: 4h, normal: 8h, low: 7d}}
  next_response:
    calendar: always
    targets: {{urgent: 1h, high: 2h, normal: 4h, low: 7d}}
  resolution:
    calendar: always
    mode: {mode}
    targets: {{urgent: 4h, high: 8h, normal: 24h, low: 7d}}
slos:
  - name: urgent-first-response
    sla: first_response
    match: {{priority: [urgent]}}
    threshold: 50%
    objective: 95%
    window: 28d
  - name: first-response
    sla: first_response
    objective: 90%
    window: 28d
  - name: next-response
    sla: next_response
    objective: 90%
    window: 28d
  - name: resolution
    sla: resolution
    objective: 80%
    window: 28d
"""


def scripted_day() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=2)


def script_day(fake: FakeJira, day: datetime) -> None:
    """The day of the table above, with Jira's own SLA cycles for ``mode: native``.

    Jira's SLAs differ from the config on purpose: SUP-2's first response has
    a 30-minute goal (breached at 09:30), SUP-4 has no first-response SLA, and
    SUP-6's resolution starts a new 4-hour cycle at its reopen (breached at
    20:00).
    """

    def at(clock: str, days: int = 0) -> float:
        hours, minutes = clock.split(":")
        return (day + timedelta(days=days, hours=int(hours), minutes=int(minutes))).timestamp()

    def sla(key: str, name: str, *cycles: Cycle) -> None:
        done = [c for c in cycles if c.stop is not None]
        running = [c for c in cycles if c.stop is None]
        fake.set_sla(key, name, done, running[0] if running else None)

    first, resolution = "Time to first response", "Time to resolution"
    fake.create_issue("SUP-1", at("08:00"), priority="Highest", assignee=AGENT)
    fake.comment("SUP-1", at("08:00") + 5, author=AUTOMATION)
    fake.comment("SUP-1", at("08:20"))
    fake.create_issue("SUP-2", at("09:00"), priority="Highest", assignee=AGENT)
    fake.comment("SUP-2", at("09:10"), public=False)
    fake.transition("SUP-1", at("09:30"), "Resolved")
    fake.comment("SUP-2", at("09:45"))
    fake.create_issue("SUP-3", at("10:00"), priority="High", assignee=AGENT)
    fake.comment("SUP-3", at("10:30"))
    fake.reply("SUP-3", at("11:00"))
    fake.create_issue("SUP-4", at("11:00"), priority="Medium")
    fake.comment("SUP-3", at("12:30"))
    fake.transition("SUP-3", at("12:31"), "Waiting for customer")
    fake.create_issue("SUP-5", at("13:00"), priority="Low", assignee=AGENT)
    fake.comment("SUP-5", at("13:05"))
    fake.reply("SUP-5", at("13:07"))
    fake.reply("SUP-5", at("13:10"))
    fake.create_issue("SUP-6", at("14:00"), priority="High", assignee=AGENT)
    fake.comment("SUP-6", at("14:10"))
    fake.create_issue("SUP-7", at("15:00"), priority="Medium", assignee=AGENT)
    fake.transition("SUP-6", at("15:00"), "Resolved")
    fake.comment("SUP-7", at("15:30"))
    fake.reply("SUP-6", at("16:00"))
    fake.transition("SUP-6", at("16:00"), "Waiting for support")
    fake.transition("SUP-7", at("16:00"), "Closed")
    fake.create_issue("SUP-8", at("18:00"), priority="Highest", assignee=AGENT)
    fake.comment("SUP-8", at("18:10"), public=False)
    fake.comment("SUP-8", at("19:30"))

    sla("SUP-1", first, Cycle(at("08:00"), HOUR, stop=at("08:20"), breach_time=at("09:00")))
    sla(
        "SUP-1", resolution, Cycle(at("08:00"), 4 * HOUR, stop=at("09:30"), breach_time=at("12:00"))
    )
    sla(
        "SUP-2",
        first,
        Cycle(at("09:00"), HOUR / 2, stop=at("09:45"), breach_time=at("09:30"), breached=True),
    )
    sla("SUP-2", resolution, Cycle(at("09:00"), 4 * HOUR, breach_time=at("13:00"), breached=True))
    sla("SUP-3", first, Cycle(at("10:00"), 4 * HOUR, stop=at("10:30"), breach_time=at("14:00")))
    sla("SUP-3", resolution, Cycle(at("10:00"), 8 * HOUR, paused=True))
    sla(
        "SUP-4",
        resolution,
        Cycle(at("11:00"), 24 * HOUR, breach_time=at("11:00", days=1), breached=True),
    )
    sla("SUP-5", first, Cycle(at("13:00"), WEEK, stop=at("13:05"), breach_time=at("13:00", 7)))
    sla("SUP-5", resolution, Cycle(at("13:00"), 3 * 86400, breach_time=at("13:00", days=3)))
    sla("SUP-6", first, Cycle(at("14:00"), 4 * HOUR, stop=at("14:10"), breach_time=at("18:00")))
    sla(
        "SUP-6",
        resolution,
        Cycle(at("14:00"), 8 * HOUR, stop=at("15:00"), breach_time=at("22:00")),
        Cycle(at("16:00"), 4 * HOUR, breach_time=at("20:00"), breached=True),
    )
    sla("SUP-7", first, Cycle(at("15:00"), 8 * HOUR, stop=at("15:30"), breach_time=at("23:00")))
    sla(
        "SUP-7",
        resolution,
        Cycle(at("15:00"), 24 * HOUR, stop=at("16:00"), breach_time=at("15:00", 1)),
    )
    sla(
        "SUP-8",
        first,
        Cycle(at("18:00"), HOUR, stop=at("19:30"), breach_time=at("19:00"), breached=True),
    )
    sla("SUP-8", resolution, Cycle(at("18:00"), 4 * HOUR, breach_time=at("22:00"), breached=True))


# --- what the exporter must show -----------------------------------------------------------

Key = tuple[str, ...]

SLO_EVENTS: dict[Key, float] = {
    ("urgent-first-response", "good"): 1,  # SUP-1
    ("urgent-first-response", "bad"): 2,  # SUP-2 (09:30), SUP-8 (18:30)
    ("first-response", "good"): 6,  # SUP-1 2 3 5 6 7
    ("first-response", "bad"): 2,  # SUP-4 (19:00), SUP-8 (19:00)
    ("next-response", "good"): 1,  # SUP-3
    ("next-response", "bad"): 1,  # SUP-6 (18:00)
    ("resolution", "good"): 3,  # SUP-1 6 7
    ("resolution", "bad"): 3,  # SUP-2 (13:00), SUP-4 (next day 11:00), SUP-8 (22:00)
}
SLA_OUTCOMES: dict[Key, float] = {
    ("first_response", "urgent", "met"): 2,  # SUP-1 2
    ("first_response", "urgent", "breached"): 1,  # SUP-8
    ("first_response", "high", "met"): 2,  # SUP-3 6
    ("first_response", "normal", "met"): 1,  # SUP-7
    ("first_response", "normal", "breached"): 1,  # SUP-4
    ("first_response", "low", "met"): 1,  # SUP-5
    ("next_response", "high", "met"): 1,  # SUP-3
    ("next_response", "high", "breached"): 1,  # SUP-6
    ("resolution", "urgent", "met"): 1,  # SUP-1
    ("resolution", "urgent", "breached"): 2,  # SUP-2 8
    ("resolution", "high", "met"): 1,  # SUP-6 (its first stop)
    ("resolution", "normal", "met"): 1,  # SUP-7
    ("resolution", "normal", "breached"): 1,  # SUP-4
}
OPEN_TIMERS: dict[Key, float] = {
    ("first_response", "normal", "breached"): 1,  # SUP-4
    ("next_response", "high", "breached"): 1,  # SUP-6
    ("next_response", "low", "running"): 1,  # SUP-5
    ("resolution", "urgent", "breached"): 2,  # SUP-2 8
    ("resolution", "high", "paused"): 1,  # SUP-3
    ("resolution", "high", "breached"): 1,  # SUP-6
    ("resolution", "normal", "breached"): 1,  # SUP-4
    ("resolution", "low", "running"): 1,  # SUP-5
}
TICKETS_OPEN: dict[Key, float] = {
    ("urgent", "open"): 2,  # SUP-2 8
    ("high", "pending"): 1,  # SUP-3 (Waiting for customer)
    ("high", "open"): 1,  # SUP-6
    ("normal", "open"): 1,  # SUP-4
    ("low", "open"): 1,  # SUP-5
}
WAITING: dict[Key, float] = {
    ("first-response",): 1,  # SUP-4
    ("next-response",): 1,  # SUP-6
    ("resolution",): 3,  # SUP-2 4 8
}
#: Jira requests carry no channel the source reads: every one is ``none``
CREATED: dict[Key, float] = {
    ("urgent", "none"): 3,  # SUP-1 2 8
    ("high", "none"): 2,  # SUP-3 6
    ("normal", "none"): 2,  # SUP-4 7
    ("low", "none"): 1,  # SUP-5
}
SOLVED: dict[Key, float] = {
    ("urgent", "none"): 1,  # SUP-1
    ("high", "none"): 1,  # SUP-6 at 15:00
    ("normal", "none"): 1,  # SUP-7
}
ELAPSED: dict[Key, tuple[float, float]] = {
    ("first_response", "urgent"): (3, (20 + 45 + 90) * 60),  # SUP-1 2 8
    ("first_response", "high"): (2, (30 + 10) * 60),  # SUP-3 6
    ("first_response", "normal"): (1, 30 * 60),  # SUP-7
    ("first_response", "low"): (1, 5 * 60),  # SUP-5
    ("next_response", "high"): (1, 90 * 60),  # SUP-3
    ("resolution", "urgent"): (1, 90 * 60),  # SUP-1
    ("resolution", "high"): (1, 60 * 60),  # SUP-6, 14:00-15:00
    ("resolution", "normal"): (1, 60 * 60),  # SUP-7
}


def launch(directory: Path, fake: FakeJira, mode: str, token: str | None = None) -> Serve:
    (directory / "api-token").write_text((token or fake.token) + "\n", encoding="utf-8")
    config = CONFIG.format(url=fake.url, email=fake.email, mode=mode)
    (directory / "helpdesk-slo.yml").write_text(config, encoding="utf-8")
    epoch = (scripted_day() - timedelta(days=1)).timestamp()
    Store(directory / "state.db", clock=lambda: epoch).close()
    return Serve(directory)


Start = Callable[..., Serve]


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    with FakeJira() as served:
        yield served


@pytest.fixture
def start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    started: list[Serve] = []

    def run(fake: FakeJira, mode: str, token: str | None = None) -> Serve:
        serve = launch(tmp_path_factory.mktemp("jira-serve"), fake, mode, token)
        started.append(serve)
        return serve

    yield run
    for serve in started:
        serve.stop()


def assert_day(scrape: Scrape, day: datetime) -> None:
    assert scrape.value("helpdesk_up", source=SOURCE) == 1
    assert scrape.nonzero("helpdesk_slo_events_total", "slo", "result") == SLO_EVENTS
    assert scrape.nonzero("helpdesk_slo_period_events", "slo", "result") == SLO_EVENTS
    outcomes = scrape.nonzero("helpdesk_sla_outcomes_total", "sla", "priority", "outcome")
    assert outcomes == SLA_OUTCOMES
    timers = scrape.nonzero("helpdesk_sla_open_timers", "sla", "priority", "state")
    assert timers == OPEN_TIMERS
    assert scrape.nonzero("helpdesk_tickets_open", "priority", "status") == TICKETS_OPEN
    waiting = scrape.nonzero("helpdesk_slo_waiting_past_threshold_tickets", "slo")
    assert waiting == WAITING
    assert scrape.nonzero("helpdesk_tickets_created_total", "priority", "channel") == CREATED
    assert scrape.nonzero("helpdesk_tickets_solved_total", "priority", "channel") == SOLVED
    assert scrape.nonzero("helpdesk_tickets_unassigned", "priority") == {("normal",): 1}
    oldest = scrape.nonzero("helpdesk_oldest_unanswered_ticket_timestamp_seconds", "priority")
    assert oldest == {("normal",): (day + timedelta(hours=11)).timestamp()}  # SUP-4
    next_breach = scrape.nonzero("helpdesk_sla_next_breach_timestamp_seconds", "sla", "priority")
    assert next_breach == {
        ("next_response", "low"): (day + timedelta(hours=13, minutes=7)).timestamp() + WEEK,
        ("resolution", "low"): (day + timedelta(hours=13)).timestamp() + WEEK,
    }
    for (sla, priority), (count, total) in ELAPSED.items():
        labels = {"sla": sla, "priority": priority}
        assert scrape.value("helpdesk_sla_elapsed_business_seconds_count", **labels) == count
        assert scrape.value("helpdesk_sla_elapsed_business_seconds_sum", **labels) == total
    budget = scrape.nonzero("helpdesk_slo_error_budget_remaining_ratio", "slo")
    assert budget == pytest.approx(
        {
            ("urgent-first-response",): 1 - (2 / 3) / 0.05,
            ("first-response",): 1 - (2 / 8) / 0.10,
            ("next-response",): 1 - (1 / 2) / 0.10,
            ("resolution",): 1 - (3 / 6) / 0.20,
        }
    )
    last_poll = scrape.value("helpdesk_last_successful_poll_timestamp_seconds", source=SOURCE)
    watermark = scrape.value("helpdesk_source_watermark_timestamp_seconds", source=SOURCE)
    assert last_poll is not None and watermark is not None
    assert last_poll - watermark == pytest.approx(30.0)  # the search lags 30 s behind a poll


def api_codes(scrape: Scrape) -> dict[str, float]:
    """helpdesk_api_requests_total of the jira source by code."""
    return {
        labels["code"]: value
        for labels, value in scrape.samples.get("helpdesk_api_requests_total", [])
        if labels.get("source") == SOURCE and value
    }


def codes_once_settled(serve: Serve, fake: FakeJira) -> dict[str, float]:
    """helpdesk_api_requests_total by code once it equals what the fake answered."""
    seen: dict[str, float] = {}

    def agree() -> bool:
        nonlocal seen
        before = fake.codes()
        seen = api_codes(serve.scrape())
        after = fake.codes()
        return before == after and seen == {code: float(n) for code, n in after.items()}

    serve.wait_until("helpdesk_api_requests_total to equal the fake's answers by code", agree)
    return seen


def test_a_scripted_day_survives_a_429_and_an_outage(start: Start, fake: FakeJira) -> None:
    day = scripted_day()
    script_day(fake, day)
    fake.fail("search", 429, retry_after=1, times=1)
    serve = start(fake, "computed")
    serve.wait_ready()
    assert_day(serve.scrape(), day)

    # the first poll: the user's time zone, then 8 requests at 2 a page after one 429;
    # nothing else (Cloud comments say whether the customer sees them)
    first = fake.requests[:6]
    assert [(r.endpoint, r.status, "nextPageToken" in r.params) for r in first] == [
        ("myself", 200, False),
        ("search", 429, False),
        ("search", 200, False),
        ("search", 200, True),
        ("search", 200, True),
        ("search", 200, True),
    ]
    assert first[2].at - first[1].at >= 1.0  # Retry-After honoured
    # 35 days back, written in the user's time zone (Europe/Paris), a minute early
    lookback = datetime.fromtimestamp(first[0].at - 35 * 86400.0 - 60, UTC)
    literal = lookback.astimezone(fake.zone).strftime("%Y/%m/%d %H:%M")
    assert first[2].params["jql"] == f'updated >= "{literal}" ORDER BY updated ASC, key ASC'
    # an idle poll: one search from a minute before SUP-8's last change (19:30 UTC)
    serve.wait_until("an idle poll", lambda: len(fake.requests) >= 7)
    idle = fake.requests[6]
    newest = (day + timedelta(hours=19, minutes=29)).astimezone(fake.zone)
    assert (idle.endpoint, idle.status) == ("search", 200)
    assert idle.params["jql"].startswith(f'updated >= "{newest:%Y/%m/%d %H:%M}"')
    codes = codes_once_settled(serve, fake)
    assert codes["429"] == 1 and set(codes) == {"200", "429"}

    # an outage: the search answers 500; the exporter keeps the last good values
    fake.fail("search", 500, retry_after=0)
    serve.wait_until(
        "helpdesk_up 0", lambda: serve.scrape().value("helpdesk_up", source=SOURCE) == 0
    )
    during = serve.scrape()
    assert during.nonzero("helpdesk_slo_events_total", "slo", "result") == SLO_EVENTS
    errors = during.value("helpdesk_poll_errors_total", source=SOURCE, reason="http_5xx")
    assert errors is not None and errors >= 1

    t1 = float(int(time.time()))
    fake.comment("SUP-5", t1)
    fake.transition("SUP-5", t1, "Resolved")
    fake.create_issue("SUP-9", t1, priority="Highest", assignee=AGENT)
    fake.heal()

    def recovered() -> bool:
        now = serve.scrape()
        return now.value("helpdesk_up", source=SOURCE) == 1 and not now.value(
            "helpdesk_tickets_open", priority="low", status="open"
        )

    serve.wait_until("recovery", recovered)
    after = serve.scrape()
    events = {**SLO_EVENTS, ("next-response", "good"): 2, ("resolution", "good"): 4}
    assert after.nonzero("helpdesk_slo_events_total", "slo", "result") == events
    outcomes = {
        **SLA_OUTCOMES,
        ("next_response", "low", "met"): 1,
        ("resolution", "low", "met"): 1,
    }
    assert after.nonzero("helpdesk_sla_outcomes_total", "sla", "priority", "outcome") == outcomes
    timers = {key: value for key, value in OPEN_TIMERS.items() if key[1:] != ("low", "running")}
    timers[("first_response", "urgent", "running")] = 1
    timers[("resolution", "urgent", "running")] = 1
    assert after.nonzero("helpdesk_sla_open_timers", "sla", "priority", "state") == timers
    assert after.nonzero("helpdesk_sla_next_breach_timestamp_seconds", "sla", "priority") == {
        ("first_response", "urgent"): t1 + HOUR,
        ("resolution", "urgent"): t1 + 4 * HOUR,
    }
    created = {**CREATED, ("urgent", "none"): 4}
    assert after.nonzero("helpdesk_tickets_created_total", "priority", "channel") == created
    solved = {**SOLVED, ("low", "none"): 1}
    assert after.nonzero("helpdesk_tickets_solved_total", "priority", "channel") == solved
    codes = codes_once_settled(serve, fake)
    assert set(codes) == {"200", "429", "500"}
    assert fake.token not in serve.log


NATIVE_SLO_EVENTS: dict[Key, float] = {
    # the 30m SLO is not the SLA itself: our clock decides it, as in computed mode
    ("urgent-first-response", "good"): 1,  # SUP-1
    ("urgent-first-response", "bad"): 2,  # SUP-2 SUP-8
    # Jira's verdicts: SUP-2 breached its 30m goal; SUP-4 has no first-response SLA
    ("first-response", "good"): 5,  # SUP-1 3 5 6 7
    ("first-response", "bad"): 2,  # SUP-2 8
    ("next-response", "good"): 1,  # computed: SUP-3
    ("next-response", "bad"): 1,  # computed: SUP-6
    # SUP-6's second cycle breached at 20:00: bad, whatever its first cycle said
    ("resolution", "good"): 2,  # SUP-1 7
    ("resolution", "bad"): 4,  # SUP-2 4 6 8
}
NATIVE_SLA_OUTCOMES: dict[Key, float] = {
    ("first_response", "urgent", "met"): 1,  # SUP-1
    ("first_response", "urgent", "breached"): 2,  # SUP-2 8
    ("first_response", "high", "met"): 2,  # SUP-3 6
    ("first_response", "normal", "met"): 1,  # SUP-7 (SUP-4: no native clock)
    ("first_response", "low", "met"): 1,  # SUP-5
    ("next_response", "high", "met"): 1,
    ("next_response", "high", "breached"): 1,
    ("resolution", "urgent", "met"): 1,  # SUP-1
    ("resolution", "urgent", "breached"): 2,  # SUP-2 8
    ("resolution", "high", "breached"): 1,  # SUP-6
    ("resolution", "normal", "met"): 1,  # SUP-7
    ("resolution", "normal", "breached"): 1,  # SUP-4
}


def test_native_mode_takes_jiras_own_sla_cycles(start: Start, fake: FakeJira) -> None:
    day = scripted_day()
    script_day(fake, day)
    serve = start(fake, "native")
    serve.wait_ready()
    scrape = serve.scrape()

    assert scrape.nonzero("helpdesk_slo_events_total", "slo", "result") == NATIVE_SLO_EVENTS
    outcomes = scrape.nonzero("helpdesk_sla_outcomes_total", "sla", "priority", "outcome")
    assert outcomes == NATIVE_SLA_OUTCOMES
    timers = scrape.nonzero("helpdesk_sla_open_timers", "sla", "priority", "state")
    assert timers == {key: v for key, v in OPEN_TIMERS.items() if key[0] != "first_response"}
    # SUP-5's resolution runs to Jira's breachTime (3 days on); its next response is ours
    next_breach = scrape.nonzero("helpdesk_sla_next_breach_timestamp_seconds", "sla", "priority")
    assert next_breach == {
        ("next_response", "low"): (day + timedelta(hours=13, minutes=7)).timestamp() + WEEK,
        ("resolution", "low"): (day + timedelta(days=3, hours=13)).timestamp(),
    }
    # one SLA request per request on the first poll, none when nothing changed
    serve.wait_until("an idle poll", lambda: fake.requests[-1].endpoint == "search")
    assert [r.endpoint for r in fake.requests].count("sla") == 8


def test_a_wrong_token_is_refused_and_never_logged(start: Start, fake: FakeJira) -> None:
    script_day(fake, scripted_day())
    serve = start(fake, "computed", token="not-the-token-5f2a")
    serve.wait_until("a refused poll", lambda: fake.codes()["401"] >= 1)
    assert serve.get("/ready")[0] == 503
    codes = codes_once_settled(serve, fake)
    scrape = serve.scrape()
    assert scrape.value("helpdesk_up", source=SOURCE) == 0
    assert set(codes) == {"401"}
    errors = scrape.value("helpdesk_poll_errors_total", source=SOURCE, reason="auth")
    assert errors is not None and errors >= 1
    assert "not-the-token-5f2a" not in serve.log
    assert "HTTP 401" in serve.log
