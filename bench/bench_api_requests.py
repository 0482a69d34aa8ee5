"""Requests per poll: the Freshdesk, Zendesk, Jira, Zammad and Intercom sources against their local
fake helpdesks.

For each source and each count of changed tickets (0, 1, 1,000 and 50,000
by default), a fake helpdesk (:mod:`tests.fakes.freshdesk`,
:mod:`tests.fakes.zendesk`) serves a world of ``max(changed, 10)`` tickets,
each created two days earlier and answered once, plus two satisfaction
ratings.  The real source, with its real HTTP client, polls it once to read
that history (not measured), then ``changed`` tickets change, each at its own
second, and the source polls again.  The fake's request log gives the
requests of that second poll per endpoint; the poll must return exactly the
changed tickets.  Two kinds of change:

* ``agent reply``: an agent answers each ticket (the usual change);
* ``requester reply``: the requester writes back more than two minutes after
  the last agent reply.  Freshdesk's stats show only the latest requester
  reply, so the Freshdesk source reads those tickets' conversations (at most
  ``CONVERSATIONS_PER_POLL`` a poll, the rest on later polls); Zendesk's
  ticket-events export already holds every comment.

**The minimum** is the issue's bound: ``ceil(changed / page size) + 1`` per
endpoint the source reads, summed (the ``+ 1`` is the request that finds the
end of the list).  For Freshdesk: the ticket listing (100 a page, its
``changed`` tickets) and the ratings (nothing new); conversations are not
counted, as an events stream would make them unnecessary.  For Zendesk: the
ticket export and the ticket-events export (1,000 a page, one update per
changed ticket), the metric-events export and the ratings (nothing new).
For Jira (Cloud): the search (100 a page); Cloud comments say whether the
customer sees them, so no other endpoint is read.
For Zammad: the ticket search (100 new tickets a page); the articles and the
history read per changed ticket are not counted, like conversations.
Freshdesk ends a listing with the absence of a ``Link`` header, so it can
need one request fewer than that bound per endpoint; ``Link`` floor is
``max(1, ceil(changed / 100))`` per listing.

**Time.**  The fakes and the clients share one simulated clock that moves
only when a client waits for its rate budget, so waits cost no real time and
are reported as *client waits*: the Zendesk source keeps under Zendesk's 10
incremental-export requests a minute by itself.  The fakes' own account
limits are set out of reach, so no answer is a 429.  *Wall* is the real time
of the measured poll on loopback (JSON, HTTP and the source's work; the fake
server runs in the same process).

    python bench/bench_api_requests.py [--changed 0,1,1000,50000] [--sources freshdesk,zendesk,jira]
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter.config import parse_config
from exporter.sources.base import PollResult
from exporter.sources.freshdesk import FreshdeskSource
from tests.fakes.freshdesk import FakeFreshdesk

try:
    from exporter.sources.jira import JiraSource
    from tests.fakes.jira import FakeJira
except ImportError:  # a checkout without the Jira source or its fake
    JiraSource = None  # type: ignore[assignment,misc]
    FakeJira = None  # type: ignore[assignment,misc]

try:
    from exporter.sources.intercom import IntercomSource
    from tests.fakes.intercom import FakeIntercom
except ImportError:  # a checkout without the Intercom source or its fake
    IntercomSource = None  # type: ignore[assignment,misc]
    FakeIntercom = None  # type: ignore[assignment,misc]

try:
    from exporter.sources.zendesk import ZendeskSource
    from tests.fakes.zendesk import FakeZendesk
except ImportError:  # a checkout without the Zendesk source or its fake
    ZendeskSource = None  # type: ignore[assignment,misc]
    FakeZendesk = None  # type: ignore[assignment,misc]
from exporter.sources.zammad import ZammadSource
from tests.fakes.zammad import FakeZammad

#: The simulated "now" of the first poll.
START = datetime(2026, 11, 2, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0
#: Tickets in the world even when fewer change.
MIN_TICKETS = 10
FRESHDESK_PAGE = 100
ZENDESK_PAGE = 1000
ZENDESK_RATINGS_PAGE = 100
INTERCOM_PAGE = 150
ZAMMAD_PAGE = 100
JIRA_PAGE = 100
#: Account limits of the fakes: out of reach, so the answers are never 429.
UNLIMITED = 10**9
KINDS = ("agent reply", "requester reply")


class SimulatedClock:
    """Time shared by the fakes and the clients; it moves when a client waits (or when told)."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.waited = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        self.waited += max(0.0, seconds)


class Source(Protocol):
    def poll(self, cursor: str | None, now: float) -> PollResult: ...


@dataclass
class Measure:
    source: str
    kind: str
    changed: int
    requests: Counter[str]
    minimum: int
    link_floor: int | None
    returned: int
    problems: list[str]
    wall: float
    waited: float

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def bound(changed: int, page: int) -> int:
    """The issue's minimum for one endpoint: its pages plus the request that finds the end."""
    return math.ceil(changed / page) + 1


# --- Freshdesk ----------------------------------------------------------------------------------


def measure_freshdesk(changed: int, kind: str, directory: Path) -> Measure:
    clock = SimulatedClock(START)
    with FakeFreshdesk(rate_limit=UNLIMITED, clock=clock.time) as fake:
        ids = list(range(1, max(changed, MIN_TICKETS) + 1))
        for number in ids:
            created = START - 2 * DAY + number
            fake.create_ticket(number, created)
            fake.reply(number, created + 60)
        fake.rate(1, START - DAY, 103)
        fake.rate(2, START - DAY, -103)
        key = directory / "freshdesk-key"
        key.write_text(fake.api_key + "\n")
        config = parse_config(
            f"source: {{type: freshdesk, url: '{fake.url}', token_file: '{key}', "
            f"page_size: {FRESHDESK_PAGE}}}\n"
            "slas: {first_response: {targets: {urgent: 1h}}}\n"
        )
        source = FreshdeskSource(config.source, clock=clock.time, sleep=clock.sleep)
        first = source.poll(None, clock.now)
        assert len(first.tickets) == len(ids), "the first poll must read the whole history"
        change_at = clock.now + 1
        for offset, number in enumerate(ids[:changed]):
            if kind == "agent reply":
                fake.reply(number, change_at + offset)
            else:
                fake.requester_reply(number, change_at + offset)
        clock.now = change_at + changed + 120
        fake.clear_log()
        result, wall, waited = timed_poll(source, first.cursor, clock)
        requests = Counter(r.endpoint for r in fake.requests)
    return Measure(
        source="Freshdesk",
        kind=kind,
        changed=changed,
        requests=requests,
        minimum=bound(changed, FRESHDESK_PAGE) + bound(0, FRESHDESK_PAGE),
        link_floor=max(1, math.ceil(changed / FRESHDESK_PAGE)) + 1,
        returned=len(result.tickets),
        problems=list(result.problems),
        wall=wall,
        waited=waited,
    )


# --- Zendesk ------------------------------------------------------------------------------------


def measure_zendesk(changed: int, kind: str, directory: Path) -> Measure:
    assert FakeZendesk is not None and ZendeskSource is not None
    clock = SimulatedClock(START)
    with FakeZendesk(clock=clock.time, rate_limit=UNLIMITED) as fake:
        ids = []
        for number in range(max(changed, MIN_TICKETS)):
            created = START - 2 * DAY + number
            ticket = fake.create_ticket(created)
            fake.agent_reply(ticket, created + 60)
            ids.append(ticket)
        fake.rate(ids[0], START - DAY, "good")
        fake.rate(ids[1], START - DAY, "bad")
        key = directory / "zendesk-token"
        key.write_text(fake.token + "\n")
        config = parse_config(
            f"source: {{type: zendesk, url: '{fake.url}', email: '{fake.email}', "
            f"token_file: '{key}', page_size: {ZENDESK_PAGE}}}\n"
            "slas: {first_response: {targets: {urgent: 1h}}}\n"
        )
        source = ZendeskSource(config.source, clock=clock.time, sleep=clock.sleep)
        first = source.poll(None, clock.now)
        assert len(first.tickets) == len(ids), "the first poll must read the whole history"
        change_at = clock.now + 1  # after everything the first poll was served
        for offset, ticket in enumerate(ids[:changed]):
            if kind == "agent reply":
                fake.agent_reply(ticket, change_at + offset)
            else:
                fake.requester_reply(ticket, change_at + offset)
        clock.now = change_at + changed + 120  # past Zendesk's one-minute export lag
        before = len(fake.requests)
        result, wall, waited = timed_poll(source, first.cursor, clock)
        requests = Counter(r.endpoint for r in fake.requests[before:])
    return Measure(
        source="Zendesk",
        kind=kind,
        changed=changed,
        requests=requests,
        minimum=2 * bound(changed, ZENDESK_PAGE)
        + bound(0, ZENDESK_PAGE)
        + bound(0, ZENDESK_RATINGS_PAGE),
        link_floor=None,
        returned=len(result.tickets),
        problems=list(result.problems),
        wall=wall,
        waited=waited,
    )


def second_poll(
    name: str,
    kind: str,
    changed: int,
    source: Source,
    clock: SimulatedClock,
    history: int,
    change: Callable[[int, float], None],
    log: Callable[[], Sequence[Any]],
    minimum: int,
    link_floor: int | None = None,
) -> Measure:
    """Read the history (not measured), ``change(i, at)`` the first ``changed`` tickets one
    second apart, then measure the next poll from the fake's request ``log``."""
    first = source.poll(None, clock.now)
    assert len(first.tickets) == history, "the first poll must read the whole history"
    change_at = clock.now + 1
    for offset in range(changed):
        change(offset, change_at + offset)
    clock.now = change_at + changed + 120  # past any search index lag
    before = len(log())
    result, wall, waited = timed_poll(source, first.cursor, clock)
    return Measure(
        source=name,
        kind=kind,
        changed=changed,
        requests=Counter(r.endpoint for r in log()[before:]),
        minimum=minimum,
        link_floor=link_floor,
        returned=len(result.tickets),
        problems=list(result.problems),
        wall=wall,
        waited=waited,
    )


# --- Zammad -------------------------------------------------------------------------------------


def measure_zammad(changed: int, kind: str, directory: Path) -> Measure:
    clock = SimulatedClock(START)
    with FakeZammad() as fake:
        ids = list(range(1, max(changed, MIN_TICKETS) + 1))
        for number in ids:
            created = START - 2 * DAY + number
            fake.create_ticket(number, created)
            fake.article(number, created + 60, "Agent")
        key = directory / "zammad-token"
        key.write_text(fake.token + "\n")
        config = parse_config(
            f"source: {{type: zammad, url: '{fake.url}', token_file: '{key}', "
            f"page_size: {ZAMMAD_PAGE}}}\n"
            "slas: {first_response: {targets: {urgent: 1h}}}\n"
        )
        sender = "Agent" if kind == "agent reply" else "Customer"
        return second_poll(
            "Zammad",
            kind,
            changed,
            ZammadSource(config.source, clock=clock.time, sleep=clock.sleep),
            clock,
            len(ids),
            lambda i, at: fake.article(ids[i], at, sender),
            lambda: fake.requests,
            bound(changed, ZAMMAD_PAGE),
        )


# --- Jira Service Management --------------------------------------------------------------------


def measure_jira(changed: int, kind: str, directory: Path) -> Measure:
    assert FakeJira is not None and JiraSource is not None
    clock = SimulatedClock(START)
    with FakeJira(clock=clock.time, rate_limit=UNLIMITED) as fake:
        keys = []
        for number in range(1, max(changed, MIN_TICKETS) + 1):
            created = START - 2 * DAY + number
            key = f"SUP-{number}"
            fake.create_issue(key, created)
            fake.comment(key, created + 60)
            keys.append(key)
        token = directory / "jira-token"
        token.write_text(fake.token + "\n")
        config = parse_config(
            f"source: {{type: jira, url: '{fake.url}', email: '{fake.email}', "
            f"token_file: '{token}', page_size: {JIRA_PAGE}}}\n"
            "slas: {first_response: {targets: {urgent: 1h}}}\n"
        )
        act = fake.comment if kind == "agent reply" else fake.reply
        return second_poll(
            "Jira",
            kind,
            changed,
            JiraSource(config.source, clock=clock.time, sleep=clock.sleep),
            clock,
            len(keys),
            lambda i, at: act(keys[i], at),
            lambda: fake.requests,
            bound(changed, JIRA_PAGE),
        )


# --- Intercom -----------------------------------------------------------------------------------


def measure_intercom(changed: int, kind: str, directory: Path) -> Measure:
    """The search (150 a page) is the one listing; each changed conversation is read once more."""
    assert FakeIntercom is not None and IntercomSource is not None
    clock = SimulatedClock(START)
    with FakeIntercom(rate_limit=UNLIMITED, clock=clock.time) as fake:
        ids = list(range(1, max(changed, MIN_TICKETS) + 1))
        for number in ids:
            created = START - 2 * DAY + number
            fake.create(number, created)
            fake.reply(number, created + 60)
        fake.rate(1, START - DAY, 5)
        fake.rate(2, START - DAY, 1)
        key = directory / "intercom-token"
        key.write_text(fake.token + "\n")
        config = parse_config(
            f"source: {{type: intercom, url: '{fake.url}', token_file: '{key}', "
            f"page_size: {INTERCOM_PAGE}}}\n"
            "slas: {first_response: {targets: {urgent: 1h}}}\n"
        )
        act = fake.reply if kind == "agent reply" else fake.customer_reply
        return second_poll(
            "Intercom",
            kind,
            changed,
            IntercomSource(config.source, clock=clock.time, sleep=clock.sleep),
            clock,
            len(ids),
            lambda i, at: act(ids[i], at),
            lambda: fake.requests,
            bound(changed, INTERCOM_PAGE),
            link_floor=max(1, math.ceil(changed / INTERCOM_PAGE)),
        )


def timed_poll(
    source: Source, cursor: str | None, clock: SimulatedClock
) -> tuple[PollResult, float, float]:
    waited_before = clock.waited
    started = time.perf_counter()
    result = source.poll(cursor, clock.now)
    return result, time.perf_counter() - started, clock.waited - waited_before


# --- report -------------------------------------------------------------------------------------

ENDPOINT_NAMES = {
    "tickets": "tickets",
    "conversations": "conversations",
    "ratings": "ratings",
    "ticket_events": "ticket events",
    "metric_events": "metric events",
    "search": "search",
    "conversation": "conversation reads",
    "articles": "articles",
    "history": "history",
    "comments": "request comments",
}


def describe(requests: Counter[str]) -> str:
    return " + ".join(
        f"{ENDPOINT_NAMES.get(name, name)} {count:,}" for name, count in requests.items()
    )


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report(measures: Sequence[Measure], missing: Sequence[str]) -> str:
    lines = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- platform: {platform.platform()}",
        f"- CPU: {cpu_name()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()})",
    ]
    lines += [f"- {name}: not measured (no fake server in this checkout)" for name in missing]
    lines += [
        "",
        "| source | change | changed tickets | requests per poll | total | minimum "
        "(`ceil(changed / page) + 1` per endpoint) | `Link` floor | tickets returned | "
        "wall | client waits (simulated) |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    for m in measures:
        floor = f"{m.link_floor:,}" if m.link_floor is not None else "-"
        returned = f"{m.returned:,}"
        for problem in m.problems:
            notes.append(f"{m.source}, {m.kind}, {m.changed:,} changed: {problem}")
            returned += f" [{len(notes)}]"
        lines.append(
            f"| {m.source} | {m.kind} | {m.changed:,} | {describe(m.requests)} | {m.total:,} | "
            f"{m.minimum:,} | {floor} | {returned} | {m.wall:.2f} s | {m.waited:,.0f} s |"
        )
    if notes:
        lines.append("")
        lines += [f"[{number}] {note}" for number, note in enumerate(notes, 1)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changed", default="0,1,1000,50000", help="comma-separated counts")
    parser.add_argument(
        "--sources",
        default="freshdesk,zendesk,jira,zammad,intercom",
        help="freshdesk, zendesk, jira, zammad, intercom",
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help="agent reply, requester reply")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.changed.split(",")]
    kinds = [k.strip() for k in args.kinds.split(",")]
    runners: dict[str, Callable[[int, str, Path], Measure]] = {"freshdesk": measure_freshdesk}
    runners["zammad"] = measure_zammad
    if FakeIntercom is not None and IntercomSource is not None:
        runners["intercom"] = measure_intercom
    missing: list[str] = []
    if FakeZendesk is not None and ZendeskSource is not None:
        runners["zendesk"] = measure_zendesk
    else:
        missing.append("Zendesk")
    if FakeJira is not None and JiraSource is not None:
        runners["jira"] = measure_jira
    else:
        missing.append("Jira")
    measures: list[Measure] = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.sources.split(","):
            runner = runners.get(name.strip())
            if runner is None:
                continue
            for kind in kinds:
                for changed in counts:
                    measure = runner(changed, kind, Path(scratch))
                    if measure.returned != changed:
                        raise SystemExit(
                            f"{measure.source}, {kind}, {changed} changed: the poll returned "
                            f"{measure.returned} tickets"
                        )
                    print(
                        f"{measure.source:9} {kind:15} {changed:>6,} changed: "
                        f"{describe(measure.requests)} (minimum {measure.minimum:,}) "
                        f"in {measure.wall:.2f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    measures.append(measure)
    print(report(measures, missing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
