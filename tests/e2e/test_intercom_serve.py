"""``helpdesk-slo serve`` polling a fake Intercom on 127.0.0.1: a scripted day, worked out by hand.

The fake (:mod:`tests.fakes.intercom`) serves the Intercom REST API 2.x over
real HTTP; ``serve`` runs as a subprocess with an intercom config (token in a
file, ``page_size: 2`` so the search is paged) and polls it every second.
Every process and server started here is stopped in fixture teardown, also
when a test fails, and every wait is bounded.

**The day.**  ``DAY`` is 00:00 UTC two days before today, so every target of
the day has run out when the exporter polls.  The calendar is 24x7.  The store
is created the day before ``DAY``, so every outcome of the day counts in the
``*_total`` counters.  Intercom's ``priority`` maps to ``high`` and
``not_priority`` to ``normal``.  Targets: first response high 1h, normal 4h;
resolution high 4h, normal 24h.  ``replies_count`` is the default
(``[agent]``): Fin's answers do not stop a clock.

===  ======  =====  ========================================================================
id   prio    via    the day (UTC)
===  ======  =====  ========================================================================
201  high    chat   08:00 created, 08:00:05 Fin answers, 08:40 teammate, 09:00 closed;
                    rated 5 at 09:10
202  high    email  09:00 created, assigned, 10:30 teammate; stays open
203  normal  chat   10:00 created, assigned, 10:05 note, 11:00 teammate, 11:01 snoozed
                    for a week
204  normal  email  11:00 created, unassigned, never answered
205  normal  chat   12:00 created, assigned, 12:30 teammate, 13:00 closed, 13:10 rated 2,
                    13:30 customer
206  high    chat   14:00 created, 14:30 teammate, 15:00 closed
===  ======  =====  ========================================================================

Worked out (computed mode):

* first response: 201 40m (met; Fin's 08:00:05 answer does not count), 202
  1h30 of 1h (breached at 10:00), 203 1h of 4h (the 10:05 note does not count),
  204 never (breached at 15:00), 205 30m, 206 30m: good 4, bad 2.
* resolution: 201 1h, 205 1h (its first stop decides; the 13:30 customer reply
  reopens it), 206 1h: good 3; 202 breached at 13:00, 204 at the next day
  11:00: bad 2; 203 is paused (snoozed is ``pending``) after 1h01m: pending.
* csat: 201 good (5), 205 bad (2).
* open: 202 high open, 203 normal pending, 204 and 205 normal open; open
  timers: first response normal breached (204); resolution high breached (202),
  normal paused (203), normal breached (204; 205 resumed at 13:30 with 23h left).

In ``mode: native`` Intercom's one ``sla_status`` per conversation decides:
201 ``hit`` (met at 08:40 and at the 09:00 close), 202 ``missed`` (breached
at its 10:30 teammate reply, both metrics), 203 and 204 ``active`` (pending:
Intercom gives no deadline, and marks a miss only at the next teammate reply),
205 ``hit`` (first response met at 12:30; reopened, so resolution runs), 206
no SLA (no verdict).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.store import Store
from tests.e2e.process import ServeProcess
from tests.fakes.intercom import FakeIntercom

WAIT_SECONDS = 60.0
SOURCE = "intercom"
TOKEN = "ic-e2e-access-token"

CONFIG = """\
service: support
source:
  type: intercom
  url: {url}
  token_file: token
  poll_interval: 1s
  page_size: 2
store: state.db
calendars:
  always: 24x7
slas:
  first_response:
    calendar: always
    mode: {mode}
    targets: {{urgent: 30m, high: 1h, normal: 4h, low: 7d}}
  resolution:
    calendar: always
    mode: {mode}
    targets: {{urgent: 2h, high: 4h, normal: 24h, low: 7d}}
slos:
  - name: first-response
    sla: first_response
    objective: 90%
    window: 28d
  - name: resolution
    sla: resolution
    objective: 80%
    window: 28d
  - name: csat
    kind: csat
    objective: 90%
    window: 28d
"""

Key = tuple[str, ...]


def scripted_day() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=2)


def script_day(fake: FakeIntercom, day: datetime) -> None:
    def at(clock: str) -> datetime:
        hours, minutes, *seconds = clock.split(":")
        return day + timedelta(
            hours=int(hours), minutes=int(minutes), seconds=int(seconds[0]) if seconds else 0
        )

    fake.create(201, at("08:00"), priority="priority")
    fake.reply(201, at("08:00:05"), author="bot")
    fake.reply(201, at("08:40"))
    fake.close(201, at("09:00"))
    fake.rate(201, at("09:10"), 5)
    fake.apply_sla(201, "Chat 1h", "hit", at("09:00"))
    fake.create(202, at("09:00"), priority="priority", channel="email")
    fake.assign(202, at("09:01"))
    fake.reply(202, at("10:30"))
    fake.apply_sla(202, "Chat 1h", "missed", at("10:30"))
    fake.create(203, at("10:00"))
    fake.assign(203, at("10:01"))
    fake.note(203, at("10:05"))
    fake.reply(203, at("11:00"))
    fake.snooze(203, at("11:01"), at("11:01") + timedelta(days=7))
    fake.apply_sla(203, "Standard 4h", "active", at("10:00"))
    fake.create(204, at("11:00"), channel="email")
    fake.apply_sla(204, "Standard 4h", "active", at("11:00"))
    fake.create(205, at("12:00"))
    fake.assign(205, at("12:01"))
    fake.reply(205, at("12:30"))
    fake.close(205, at("13:00"))
    fake.rate(205, at("13:10"), 2)
    fake.customer_reply(205, at("13:30"))
    fake.apply_sla(205, "Standard 4h", "hit", at("12:30"))
    fake.create(206, at("14:00"), priority="priority")
    fake.reply(206, at("14:30"))
    fake.close(206, at("15:00"))


SLO_EVENTS: dict[Key, float] = {
    ("first-response", "good"): 4,  # 201 203 205 206
    ("first-response", "bad"): 2,  # 202 (10:00), 204 (15:00)
    ("resolution", "good"): 3,  # 201 205 206
    ("resolution", "bad"): 2,  # 202 (13:00), 204 (next day 11:00)
    ("csat", "good"): 1,  # 201
    ("csat", "bad"): 1,  # 205
}
SLA_OUTCOMES: dict[Key, float] = {
    ("first_response", "high", "met"): 2,  # 201 206
    ("first_response", "high", "breached"): 1,  # 202
    ("first_response", "normal", "met"): 2,  # 203 205
    ("first_response", "normal", "breached"): 1,  # 204
    ("resolution", "high", "met"): 2,  # 201 206
    ("resolution", "high", "breached"): 1,  # 202
    ("resolution", "normal", "met"): 1,  # 205
    ("resolution", "normal", "breached"): 1,  # 204
}
OPEN_TIMERS: dict[Key, float] = {
    ("first_response", "normal", "breached"): 1,  # 204
    ("resolution", "high", "breached"): 1,  # 202
    ("resolution", "normal", "paused"): 1,  # 203
    ("resolution", "normal", "breached"): 2,  # 204 205
}
TICKETS_OPEN: dict[Key, float] = {
    ("high", "open"): 1,  # 202
    ("normal", "pending"): 1,  # 203 (snoozed)
    ("normal", "open"): 2,  # 204 205
}
CREATED: dict[Key, float] = {
    ("high", "chat"): 2,  # 201 206
    ("high", "email"): 1,  # 202
    ("normal", "chat"): 2,  # 203 205
    ("normal", "email"): 1,  # 204
}
SOLVED: dict[Key, float] = {("high", "chat"): 2, ("normal", "chat"): 1}  # 201 206; 205
NATIVE_SLO_EVENTS: dict[Key, float] = {
    ("first-response", "good"): 2,  # 201 (hit, 08:40), 205 (hit, 12:30)
    ("first-response", "bad"): 1,  # 202 (missed, 10:30)
    ("resolution", "good"): 1,  # 201 (hit, closed 09:00)
    ("resolution", "bad"): 1,  # 202 (missed, 10:30)
    ("csat", "good"): 1,
    ("csat", "bad"): 1,
}


class Scrape:
    """One /metrics answer, parsed: values by sample name and labels."""

    def __init__(self, text: str) -> None:
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples.setdefault(sample.name, []).append((sample.labels, sample.value))

    def value(self, name: str, **labels: str) -> float | None:
        for sample_labels, value in self.samples.get(name, []):
            if sample_labels == labels:
                return value
        return None

    def nonzero(self, name: str, *label_names: str) -> dict[Key, float]:
        found: dict[Key, float] = {}
        for labels, value in self.samples.get(name, []):
            if value:
                found[tuple(labels[n] for n in label_names)] = value
        return found


class Serve(ServeProcess):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory, directory / "helpdesk-slo.yml")

    def scrape(self) -> Scrape:
        return Scrape(self.metrics_text())

    def wait_until(
        self, what: str, check: Callable[[], bool], timeout: float = WAIT_SECONDS
    ) -> None:
        super().wait_until(what, check, timeout)

    def wait_ready(self) -> None:
        self.wait_until("/ready", lambda: self.get("/ready")[0] == 200)


Start = Callable[[FakeIntercom, str], Serve]


@pytest.fixture
def fake() -> Iterator[FakeIntercom]:
    with FakeIntercom(TOKEN) as served:
        yield served


@pytest.fixture
def start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    """``start(fake, mode)``: a ``serve`` process, stopped at teardown."""
    started: list[Serve] = []

    def run(fake: FakeIntercom, mode: str) -> Serve:
        directory = tmp_path_factory.mktemp("intercom-serve")
        (directory / "token").write_text(TOKEN + "\n", encoding="utf-8")
        config = CONFIG.format(url=fake.url, mode=mode)
        (directory / "helpdesk-slo.yml").write_text(config, encoding="utf-8")
        epoch = (scripted_day() - timedelta(days=1)).timestamp()
        Store(directory / "state.db", clock=lambda: epoch).close()
        serve = Serve(directory)
        started.append(serve)
        return serve

    yield run
    for serve in started:
        serve.stop()


def test_a_scripted_day_is_measured_by_hand_after_a_429_and_an_outage(
    start: Start, fake: FakeIntercom
) -> None:
    day = scripted_day()
    script_day(fake, day)
    fake.fail("search", 429, times=1)  # no Retry-After: the client waits for X-RateLimit-Reset
    serve = start(fake, "computed")
    serve.wait_ready()
    scrape = serve.scrape()

    assert scrape.value("helpdesk_up", source=SOURCE) == 1
    assert scrape.nonzero("helpdesk_slo_events_total", "slo", "result") == SLO_EVENTS
    outcomes = scrape.nonzero("helpdesk_sla_outcomes_total", "sla", "priority", "outcome")
    assert outcomes == SLA_OUTCOMES
    timers = scrape.nonzero("helpdesk_sla_open_timers", "sla", "priority", "state")
    assert timers == OPEN_TIMERS
    assert scrape.nonzero("helpdesk_tickets_open", "priority", "status") == TICKETS_OPEN
    assert scrape.nonzero("helpdesk_tickets_created_total", "priority", "channel") == CREATED
    assert scrape.nonzero("helpdesk_tickets_solved_total", "priority", "channel") == SOLVED
    assert scrape.nonzero("helpdesk_csat_ratings_total", "rating") == {("good",): 1, ("bad",): 1}
    assert scrape.nonzero("helpdesk_tickets_unassigned", "priority") == {("normal",): 1}  # 204
    oldest = scrape.nonzero("helpdesk_oldest_unanswered_ticket_timestamp_seconds", "priority")
    assert oldest == {("normal",): (day + timedelta(hours=11)).timestamp()}  # 204
    last_poll = scrape.value("helpdesk_last_successful_poll_timestamp_seconds", source=SOURCE)
    watermark = scrape.value("helpdesk_source_watermark_timestamp_seconds", source=SOURCE)
    assert last_poll is not None and watermark is not None
    assert last_poll - watermark == pytest.approx(60.0, abs=1.0)  # a round overlaps by 60 s

    # the first poll: one 429, then the search waited for the window to reset (no
    # Retry-After), then 3 search pages at 2 a page and one read of each conversation
    first = fake.requests[:10]
    assert [(r.endpoint, r.status) for r in first] == [
        ("search", 429),
        *[("search", 200), ("conversation", 200), ("conversation", 200)] * 3,
    ]
    reset = (int(first[0].at) // 10 + 1) * 10
    assert first[1].at >= reset - 0.01
    assert {r.version for r in first} == {"2.11"}

    # the helpdesk fails; meanwhile 207 comes in and is answered at once
    fake.fail("search", 500)
    serve.wait_until(
        "helpdesk_up 0 while the search answers 500",
        lambda: serve.scrape().value("helpdesk_up", source=SOURCE) == 0,
    )
    now = time.time()
    fake.create(207, now - 120, priority="priority")
    fake.reply(207, now - 60)
    fake.heal()

    def recovered() -> bool:
        events = serve.scrape().nonzero("helpdesk_slo_events_total", "slo", "result")
        return events.get(("first-response", "good")) == 5

    serve.wait_until("207 counted once after the recovery", recovered)
    after = serve.scrape()
    assert after.value("helpdesk_up", source=SOURCE) == 1
    errors = after.nonzero("helpdesk_poll_errors_total", "source", "reason")
    assert set(errors) == {(SOURCE, "http_5xx")}
    events = after.nonzero("helpdesk_slo_events_total", "slo", "result")
    assert events == {**SLO_EVENTS, ("first-response", "good"): 5}


def test_native_mode_counts_intercoms_own_sla_verdicts(start: Start, fake: FakeIntercom) -> None:
    script_day(fake, scripted_day())
    serve = start(fake, "native")
    serve.wait_ready()

    events = serve.scrape().nonzero("helpdesk_slo_events_total", "slo", "result")

    assert events == NATIVE_SLO_EVENTS
