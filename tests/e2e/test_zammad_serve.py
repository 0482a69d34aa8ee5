"""``helpdesk-slo serve`` polling a fake Zammad on 127.0.0.1: a scripted day, worked out by hand.

The fake (:mod:`tests.fakes.zammad`) serves Zammad's REST API v1 over real
HTTP; ``serve`` runs as a subprocess with a zammad config (access token in a
file, ``page_size: 2`` so the listing takes several pages) and polls it every
second.  Every process and server started here is stopped in fixture
teardown, also when a test fails, and every wait is bounded.

**The day.**  ``DAY`` is 00:00 UTC two days before today, so the day is over
when the exporter polls; ``low`` targets are 7 days, so those clocks still
run.  The calendar is 24x7.  The store is created the day before ``DAY``, so
every outcome of the day counts in the ``*_total`` counters.

Targets (config): first response high 1h, normal 4h, low 7d; next response
high 1h, normal 2h, low 7d; resolution high 4h, normal 8h, low 7d.  SLOs
``first-response``, ``next-response`` and ``resolution``, each at 100% of the
SLA.

=====  ========  =======  ====================================================================
id     priority  channel  the day (UTC)
=====  ========  =======  ====================================================================
201    3 high    email    08:00 created, 08:00:05 auto-reply (System), 08:10 internal note,
                          08:40 agent reply (open), 09:00 closed
202    3 high    phone    09:00 created, 10:30 agent reply (open), 11:00 customer, 11:30 agent
203    2 normal  web      10:00 created, 10:20 public note, 11:00 agent reply, 11:05 pending
204    1 low     email    12:00 created; nobody answers, nobody owns it (state new)
205    2 normal  email    13:00 created, 13:30 agent reply (open), 14:00 customer; no answer
=====  ========  =======  ====================================================================

Worked out (computed mode):

* 201: first response 40m (the auto-reply and the note do not stop it): met,
  good; resolution 1h: met, good.
* 202: first response 90m: breached at 10:00, bad; next response 11:00-11:30
  met, good; resolution breached at 13:00 (bad), still open.
* 203: first response 60m met, good (the public note is not a reply);
  resolution ran 65m and is paused (pending): no outcome.
* 204: both clocks run (7 days); unassigned; the oldest unanswered low ticket.
* 205: first response 30m met, good; next response from 14:00 breached at
  16:00 (bad); resolution breached at 21:00 (bad).

Then, while the search answers 500, ``t1`` (a real instant after the first
poll): 204 is answered and closed.  After recovery it counts exactly once.

In ``mode: native`` (first response and resolution) the day is judged by
Zammad's escalation fields, which differ from the config on purpose: 204's
first response was due at 12:30 in Zammad (breached), and 203 is pending, so
Zammad shows no resolution deadline for it and it has no native clock.
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
from tests.fakes.zammad import FakeZammad

#: Longest wait for anything the exporter does (start, a poll, a recovery).
WAIT_SECONDS = 60.0
SOURCE = "zammad"
WEEK = 7 * 86400.0
AGENT = 3

CONFIG = """\
service: support
source:
  type: zammad
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
  next_response:
    calendar: always
    targets: {{urgent: 30m, high: 1h, normal: 2h, low: 7d}}
  resolution:
    calendar: always
    mode: {mode}
    targets: {{urgent: 2h, high: 4h, normal: 8h, low: 7d}}
slos:
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
    """00:00 UTC two days before today: the whole day is over when the exporter polls."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=2)


def script_day(fake: FakeZammad, day: datetime) -> None:
    """The day of the table above, with Zammad's escalation fields (for ``mode: native``)."""

    def at(clock: str, days: int = 0) -> datetime:
        hours, minutes = clock.split(":")[:2]
        seconds = int(clock.split(":")[2]) if clock.count(":") == 2 else 0
        return day + timedelta(days=days, hours=int(hours), minutes=int(minutes), seconds=seconds)

    fake.create_ticket(201, at("08:00"), priority="3 high", owner_id=AGENT)
    fake.article(201, at("08:00:05"), "System")
    fake.article(201, at("08:10"), "Agent", internal=True, type="note")
    fake.article(201, at("08:40"), "Agent")
    fake.set_state(201, at("08:40"), "open")
    fake.set_state(201, at("09:00"), "closed")
    fake.update(
        201,
        first_response_in_min=40,
        first_response_diff_in_min=20,
        close_in_min=60,
        close_diff_in_min=180,
    )

    fake.create_ticket(202, at("09:00"), priority="3 high", channel="phone", owner_id=AGENT)
    fake.article(202, at("10:30"), "Agent", type="phone")
    fake.set_state(202, at("10:30"), "open")
    fake.article(202, at("11:00"), "Customer", type="phone")
    fake.article(202, at("11:30"), "Agent", type="phone")
    fake.update(
        202,
        first_response_in_min=90,
        first_response_diff_in_min=-30,
        close_escalation_at=at("13:00"),
    )

    fake.create_ticket(203, at("10:00"), channel="web", owner_id=AGENT)
    fake.article(203, at("10:20"), "Agent", type="note")
    fake.article(203, at("11:00"), "Agent")
    fake.set_state(203, at("11:00"), "open")
    fake.set_state(203, at("11:05"), "pending reminder")
    fake.update(203, first_response_in_min=60, first_response_diff_in_min=180)

    fake.create_ticket(204, at("12:00"), priority="1 low")
    fake.update(
        204,
        first_response_escalation_at=at("12:30"),
        close_escalation_at=at("12:00", days=7),
    )

    fake.create_ticket(205, at("13:00"), owner_id=AGENT)
    fake.article(205, at("13:30"), "Agent")
    fake.set_state(205, at("13:30"), "open")
    fake.article(205, at("14:00"), "Customer")
    fake.update(
        205,
        first_response_in_min=30,
        first_response_diff_in_min=210,
        update_escalation_at=at("16:00"),
        close_escalation_at=at("21:00"),
    )


# --- what the exporter must show -------------------------------------------------------------

Key = tuple[str, ...]

#: helpdesk_slo_events_total{slo, result} (zeros left out), computed mode
SLO_EVENTS: dict[Key, float] = {
    ("first-response", "good"): 3,  # 201 203 205
    ("first-response", "bad"): 1,  # 202 (10:00)
    ("next-response", "good"): 1,  # 202
    ("next-response", "bad"): 1,  # 205 (16:00)
    ("resolution", "good"): 1,  # 201
    ("resolution", "bad"): 2,  # 202 (13:00) 205 (21:00)
}
SLA_OUTCOMES: dict[Key, float] = {
    ("first_response", "high", "met"): 1,  # 201
    ("first_response", "high", "breached"): 1,  # 202
    ("first_response", "normal", "met"): 2,  # 203 205
    ("next_response", "high", "met"): 1,  # 202
    ("next_response", "normal", "breached"): 1,  # 205
    ("resolution", "high", "met"): 1,  # 201
    ("resolution", "high", "breached"): 1,  # 202
    ("resolution", "normal", "breached"): 1,  # 205
}
OPEN_TIMERS: dict[Key, float] = {
    ("first_response", "low", "running"): 1,  # 204
    ("next_response", "normal", "breached"): 1,  # 205
    ("resolution", "high", "breached"): 1,  # 202
    ("resolution", "normal", "paused"): 1,  # 203
    ("resolution", "normal", "breached"): 1,  # 205
    ("resolution", "low", "running"): 1,  # 204
}
TICKETS_OPEN: dict[Key, float] = {
    ("high", "open"): 1,  # 202
    ("normal", "pending"): 1,  # 203
    ("normal", "open"): 1,  # 205
    ("low", "new"): 1,  # 204
}
CREATED: dict[Key, float] = {
    ("high", "email"): 1,  # 201
    ("high", "phone"): 1,  # 202
    ("normal", "web"): 1,  # 203
    ("low", "email"): 1,  # 204
    ("normal", "email"): 1,  # 205
}
WAITING: dict[Key, float] = {
    ("next-response",): 1,  # 205
    ("resolution",): 2,  # 202 205
}

#: mode: native -- 204's first response breached at 12:30 in Zammad; 203 has no resolution clock
NATIVE_SLO_EVENTS: dict[Key, float] = {
    ("first-response", "good"): 3,  # 201 203 205
    ("first-response", "bad"): 2,  # 202 204
    ("next-response", "good"): 1,  # computed: 202
    ("next-response", "bad"): 1,  # computed: 205
    ("resolution", "good"): 1,  # 201
    ("resolution", "bad"): 2,  # 202 205
}
NATIVE_SLA_OUTCOMES: dict[Key, float] = {
    **SLA_OUTCOMES,
    ("first_response", "low", "breached"): 1,  # 204
}
NATIVE_OPEN_TIMERS: dict[Key, float] = {
    ("first_response", "low", "breached"): 1,  # 204
    ("next_response", "normal", "breached"): 1,  # 205
    ("resolution", "high", "breached"): 1,  # 202
    ("resolution", "normal", "breached"): 1,  # 205
    ("resolution", "low", "running"): 1,  # 204
}


# --- the exporter process and its scrapes ----------------------------------------------------


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
    def scrape(self) -> Scrape:
        return Scrape(self.metrics_text())

    def wait(self, what: str, check: Callable[[], bool]) -> None:
        self.wait_until(what, check, WAIT_SECONDS)


def launch(directory: Path, fake: FakeZammad, mode: str, token: str | None = None) -> Serve:
    (directory / "token").write_text((token or fake.token) + "\n", encoding="utf-8")
    (directory / "helpdesk-slo.yml").write_text(
        CONFIG.format(url=fake.url, mode=mode), encoding="utf-8"
    )
    epoch = (scripted_day() - timedelta(days=1)).timestamp()
    Store(directory / "state.db", clock=lambda: epoch).close()
    return Serve(directory, directory / "helpdesk-slo.yml")


Start = Callable[..., Serve]


@pytest.fixture
def fake() -> Iterator[FakeZammad]:
    with FakeZammad() as served:
        yield served


@pytest.fixture
def start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    """``start(fake, mode, token=None)``: a ``serve`` process, stopped at teardown."""
    started: list[Serve] = []

    def run(fake: FakeZammad, mode: str, token: str | None = None) -> Serve:
        serve = launch(tmp_path_factory.mktemp("zammad-serve"), fake, mode, token)
        started.append(serve)
        return serve

    yield run
    for serve in started:
        serve.stop()


def test_a_scripted_day_survives_a_429_and_an_outage(start: Start, fake: FakeZammad) -> None:
    day = scripted_day()
    script_day(fake, day)
    fake.fail("search", 429, retry_after=1, times=1)
    serve = start(fake, "computed")
    serve.wait("/ready", lambda: serve.get("/ready")[0] == 200)
    scrape = serve.scrape()

    assert scrape.value("helpdesk_up", source=SOURCE) == 1
    assert scrape.nonzero("helpdesk_slo_events_total", "slo", "result") == SLO_EVENTS
    outcomes = scrape.nonzero("helpdesk_sla_outcomes_total", "sla", "priority", "outcome")
    assert outcomes == SLA_OUTCOMES
    timers = scrape.nonzero("helpdesk_sla_open_timers", "sla", "priority", "state")
    assert timers == OPEN_TIMERS
    assert scrape.nonzero("helpdesk_tickets_open", "priority", "status") == TICKETS_OPEN
    assert scrape.nonzero("helpdesk_tickets_created_total", "priority", "channel") == CREATED
    solved = scrape.nonzero("helpdesk_tickets_solved_total", "priority", "channel")
    assert solved == {("high", "email"): 1}  # 201
    waiting = scrape.nonzero("helpdesk_slo_waiting_past_threshold_tickets", "slo")
    assert waiting == WAITING
    assert scrape.nonzero("helpdesk_tickets_unassigned", "priority") == {("low",): 1}  # 204
    oldest = scrape.nonzero("helpdesk_oldest_unanswered_ticket_timestamp_seconds", "priority")
    assert oldest == {("low",): (day + timedelta(hours=12)).timestamp()}
    next_breach = scrape.nonzero("helpdesk_sla_next_breach_timestamp_seconds", "sla", "priority")
    created_204 = (day + timedelta(hours=12)).timestamp()
    assert next_breach == {
        ("first_response", "low"): created_204 + WEEK,
        ("resolution", "low"): created_204 + WEEK,
    }
    budget = scrape.nonzero("helpdesk_slo_error_budget_remaining_ratio", "slo")
    assert budget == pytest.approx(
        {
            ("first-response",): 1 - (1 / 4) / 0.10,
            ("next-response",): 1 - (1 / 2) / 0.10,
            ("resolution",): 1 - (2 / 3) / 0.20,
        }
    )
    last_poll = scrape.value("helpdesk_last_successful_poll_timestamp_seconds", source=SOURCE)
    watermark = scrape.value("helpdesk_source_watermark_timestamp_seconds", source=SOURCE)
    assert last_poll is not None and watermark is not None
    assert last_poll - watermark == pytest.approx(120.0)  # the search index lag

    # the first poll: one 429 (its Retry-After honoured), then the listing by key in three
    # pages of up to 3 (2 new + 1 of overlap), then articles and history of each ticket
    searches = [r for r in fake.requests if r.endpoint == "search"][:4]
    assert [r.status for r in searches] == [429, 200, 200, 200]
    assert [r.params["per_page"] for r in searches[1:]] == ["3", "3", "3"]
    assert searches[1].params["sort_by"] == "updated_at"
    assert searches[1].params["order_by"] == "asc"
    assert searches[2].params["query"] == (
        f"updated_at:>={day:%Y-%m-%d}T11\\:30\\:00.000Z"  # 202's updated_at
    )
    assert fake.count("articles") == fake.count("history") == 5
    # later polls with nothing changed: one search each, nothing else
    before = fake.count("search")
    serve.wait("two idle polls", lambda: fake.count("search") >= before + 2)
    assert fake.count("articles") == 5

    # an outage: every search answers 500; the exporter keeps serving the last values
    fake.fail("search", 500, retry_after=0)
    serve.wait("helpdesk_up 0", lambda: serve.scrape().value("helpdesk_up", source=SOURCE) == 0)
    during = serve.scrape()
    assert during.nonzero("helpdesk_slo_events_total", "slo", "result") == SLO_EVENTS
    errors = during.value("helpdesk_poll_errors_total", source=SOURCE, reason="http_5xx")
    assert errors is not None and errors >= 1

    t1 = float(int(time.time()))
    fake.article(204, t1, "Agent")
    fake.set_state(204, t1, "closed")
    fake.heal()

    def recovered() -> bool:
        now = serve.scrape()
        return now.value("helpdesk_up", source=SOURCE) == 1 and not now.value(
            "helpdesk_tickets_open", priority="low", status="new"
        )

    serve.wait("recovery", recovered)
    after = serve.scrape()
    events = {**SLO_EVENTS, ("first-response", "good"): 4, ("resolution", "good"): 2}
    assert after.nonzero("helpdesk_slo_events_total", "slo", "result") == events
    outcomes = {
        **SLA_OUTCOMES,
        ("first_response", "low", "met"): 1,
        ("resolution", "low", "met"): 1,
    }
    assert after.nonzero("helpdesk_sla_outcomes_total", "sla", "priority", "outcome") == outcomes
    timers = {k: v for k, v in OPEN_TIMERS.items() if k[1:] != ("low", "running")}
    assert after.nonzero("helpdesk_sla_open_timers", "sla", "priority", "state") == timers
    for sla in ("first_response", "resolution"):
        labels = {"sla": sla, "priority": "low"}
        assert after.value("helpdesk_sla_elapsed_business_seconds_count", **labels) == 1
        assert after.value("helpdesk_sla_elapsed_business_seconds_sum", **labels) == (
            t1 - created_204
        )
    assert fake.token not in serve.log


def test_native_mode_takes_zammads_escalation_fields(start: Start, fake: FakeZammad) -> None:
    day = scripted_day()
    script_day(fake, day)
    serve = start(fake, "native")
    serve.wait("/ready", lambda: serve.get("/ready")[0] == 200)
    scrape = serve.scrape()

    assert scrape.nonzero("helpdesk_slo_events_total", "slo", "result") == NATIVE_SLO_EVENTS
    outcomes = scrape.nonzero("helpdesk_sla_outcomes_total", "sla", "priority", "outcome")
    assert outcomes == NATIVE_SLA_OUTCOMES
    timers = scrape.nonzero("helpdesk_sla_open_timers", "sla", "priority", "state")
    assert timers == NATIVE_OPEN_TIMERS
    next_breach = scrape.nonzero("helpdesk_sla_next_breach_timestamp_seconds", "sla", "priority")
    assert next_breach == {("resolution", "low"): (day + timedelta(days=7, hours=12)).timestamp()}


def test_a_wrong_token_is_refused_and_never_logged(start: Start, fake: FakeZammad) -> None:
    script_day(fake, scripted_day())
    serve = start(fake, "computed", token="not-the-token-8c1d")
    serve.wait("a refused poll", lambda: fake.count("search") >= 2)

    assert serve.get("/ready")[0] == 503
    scrape = serve.scrape()
    assert scrape.value("helpdesk_up", source=SOURCE) == 0
    errors = scrape.value("helpdesk_poll_errors_total", source=SOURCE, reason="auth")
    assert errors is not None and errors >= 1
    assert {r.status for r in fake.requests} == {401}
    assert "HTTP 401" in serve.log
    outputs = {"log": serve.log.encode()}
    outputs.update({f"GET {path}": serve.get(path)[1] for path in ("/", "/metrics", "/ready")})
    outputs.update(
        {
            f"file {p.name}": p.read_bytes()
            for p in serve.directory.rglob("*")
            if p.is_file() and p.name != "token"
        }
    )
    leaks = [where for where, data in outputs.items() if b"not-the-token" in data]
    assert leaks == []
