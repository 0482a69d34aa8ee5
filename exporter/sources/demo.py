"""A simulated helpdesk for demos: days of history and live traffic from a seed, no credentials.

The whole ticket history is a pure function of ``(seed, time)``:

* **Arrivals.** Time is cut into one-hour buckets.  Each bucket draws its
  tickets from its own random generator, seeded from ``(seed, bucket index)``,
  as a Poisson process whose rate follows the office's rhythm in Europe/Paris:
  busy weekday mornings, a dip at lunch, quiet nights, very quiet weekends
  (:func:`arrival_rate`).  Any time range can therefore be produced on its own
  and always comes out the same.
* **Timelines.** A ticket's whole life is decided when it is generated: an
  auto-acknowledgement seconds after creation (email, web), sometimes an AI
  agent answering first (web, chat), an assignment to an agent of the
  ticket's group 10-60% of the way to the first human reply (so clocks with
  ``start: assigned`` run shorter than those from creation), sometimes an internal
  note, the first human reply after a priority-dependent amount of *staffed*
  work time, then rounds of "pending -> customer replies -> next reply", a
  solve, sometimes a reopen, and sometimes a satisfaction rating (mostly good,
  worse after a slow first reply).  A poll shows each ticket as of ``now``:
  only its events up to ``now`` and the status they imply.
* **Staffing.** Agents work Monday to Friday 08:30-18:30 Paris time.  One or
  two *staffing incidents* a week (drawn per week from the seed: a weekday,
  2 to 3.5 hours starting during office hours) cut the team's pace to a few
  percent, so replies due in that window slip, breaches pile up and burn-rate
  alerts have something to show (:meth:`DemoSource.incidents`).

No ticket changes more than :data:`TICKET_LIFETIME` after its creation (one
still unsolved then is solved by "automation"), which bounds what an
incremental poll has to look at.  Generated hours are cached, so an
incremental poll costs a few binary searches.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from exporter.calendar import BusinessCalendar
from exporter.config import Config, SourceConfig
from exporter.model import CLOSED_STATUSES, Author, EventType, Priority, Rating, Ticket, TicketEvent
from exporter.sources.base import PollResult

MINUTE = 60
HOUR = 3600
DAY = 86400
WEEK = 7 * DAY

#: Width of one generation bucket; arrivals of one bucket share one random generator.
BUCKET_SECONDS = HOUR
#: No ticket gets an event later than this after its creation.
TICKET_LIFETIME = 10 * DAY
#: The time zone the simulated office works in.
TIMEZONE = "Europe/Paris"
#: When agents are at work (Monday to Friday), as seconds since local midnight.
STAFFED_HOURS: dict[int, tuple[tuple[int, int], ...]] = {
    day: ((8 * HOUR + 30 * MINUTE, 18 * HOUR + 30 * MINUTE),) for day in range(5)
}
#: Tickets per hour at the busiest weekday hour.
PEAK_TICKETS_PER_HOUR = 30.0

# Share of the peak rate per local hour on a weekday.
_HOURLY_SHAPE = (
    0.08, 0.06, 0.05, 0.05, 0.05, 0.07, 0.12, 0.3,  # 00-07
    0.7, 1.0, 1.0, 0.95, 0.7, 0.75, 0.85, 0.85,  # 08-15
    0.75, 0.6, 0.4, 0.3, 0.22, 0.18, 0.14, 0.1,  # 16-23
)  # fmt: skip
# Monday is the busiest day; the weekend is quiet.
_DAY_FACTOR = (1.15, 1.0, 1.0, 0.95, 0.85, 0.18, 0.14)

_PRIORITIES = (
    (Priority.URGENT, 5),
    (Priority.HIGH, 20),
    (Priority.NORMAL, 55),
    (Priority.LOW, 20),
)
_CHANNELS = (("email", 40), ("web", 30), ("chat", 18), ("phone", 12))
_GROUPS = (("tier1", 60), ("tier2", 25), ("billing", 15))
_BRANDS = (("acme", 80), ("acme-cloud", 20))
_TYPES = (("question", 50), ("incident", 25), ("problem", 10), ("task", 15))
_AGENTS_PER_GROUP = 8

# Median staffed work seconds before the first human reply, and its spread.
_FIRST_REPLY = {
    Priority.URGENT: (10 * MINUTE, 0.55),
    Priority.HIGH: (45 * MINUTE, 0.7),
    Priority.NORMAL: (2 * HOUR, 0.8),
    Priority.LOW: (4 * HOUR, 0.8),
}
# Median staffed work seconds before answering a customer's reply.
_NEXT_REPLY = {
    Priority.URGENT: (20 * MINUTE, 0.6),
    Priority.HIGH: (50 * MINUTE, 0.7),
    Priority.NORMAL: (2 * HOUR, 0.8),
    Priority.LOW: (3 * HOUR, 0.8),
}
# Median staffed work seconds from the last reply to the solve, when more work is needed.
_WORK = {
    Priority.URGENT: (75 * MINUTE, 0.6),
    Priority.HIGH: (3 * HOUR, 0.7),
    Priority.NORMAL: (8 * HOUR, 0.8),
    Priority.LOW: (12 * HOUR, 0.8),
}
# Live channels are answered by whoever picks up: a fraction of the usual delay.
_LIVE_CHANNELS = frozenset({"chat", "phone"})
_LIVE_FACTOR = 0.15
# Longest draw: a multiple of the median, and at most three staffed days.
_MAX_DELAY_FACTOR = 6.0
_MAX_DELAY = 30 * HOUR


@dataclass(frozen=True, slots=True)
class Incident:
    """A window in which the support team works at ``capacity`` (0-1) of its usual pace."""

    start: float
    end: float
    capacity: float


def arrival_rate(at: float) -> float:
    """Expected new tickets per hour in the local hour that contains ``at``."""
    local = datetime.fromtimestamp(at, ZoneInfo(TIMEZONE))
    return PEAK_TICKETS_PER_HOUR * _HOURLY_SHAPE[local.hour] * _DAY_FACTOR[local.weekday()]


def _pick(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    total = sum(weight for _, weight in choices)
    roll = rng.random() * total
    for value, weight in choices:
        roll -= weight
        if roll < 0:
            return value
    return choices[-1][0]


def _pick_priority(rng: random.Random) -> Priority:
    roll = rng.random() * 100
    for priority, weight in _PRIORITIES:
        roll -= weight
        if roll < 0:
            return priority
    return Priority.LOW


def _delay(rng: random.Random, median_and_spread: tuple[float, float], factor: float = 1) -> float:
    """A log-normal duration around ``median`` (times ``factor``), within sane bounds."""
    median, spread = median_and_spread
    draw = min(math.exp(rng.gauss(0.0, spread)), _MAX_DELAY_FACTOR)
    return max(60.0, min(median * factor * draw, _MAX_DELAY))


class _Staffing:
    """When agents work, and how much slower they are during staffing incidents."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._zone = ZoneInfo(TIMEZONE)
        self.calendar = BusinessCalendar(TIMEZONE, STAFFED_HOURS, name="demo-staffing")
        self._weeks: dict[int, tuple[Incident, ...]] = {}

    def week_incidents(self, week: int) -> tuple[Incident, ...]:
        """The incidents of one week (weeks count from Monday 1970-01-05)."""
        cached = self._weeks.get(week)
        if cached is not None:
            return cached
        rng = random.Random(f"demo:{self._seed}:incidents:{week}")
        count = 2 if rng.random() < 0.2 else 1
        monday = date(1970, 1, 5) + timedelta(weeks=week)
        incidents = []
        for weekday in sorted(rng.sample(range(5), count)):
            day = monday + timedelta(days=weekday)
            hour = rng.choice((9, 10, 11, 13, 14, 15))
            minute = rng.choice((0, 15, 30, 45))
            start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=self._zone)
            duration = rng.randint(8, 14) * 15 * MINUTE
            capacity = round(rng.uniform(0.03, 0.12), 3)
            incidents.append(Incident(start.timestamp(), start.timestamp() + duration, capacity))
        found = tuple(incidents)
        self._weeks[week] = found
        return found

    def incidents_from(self, at: float, weeks: int = 3) -> Iterator[Incident]:
        """Incidents that end after ``at``, in time order, over the next few weeks."""
        first = _week_of(at) - 1
        for week in range(first, first + weeks + 2):
            for incident in self.week_incidents(week):
                if incident.end > at:
                    yield incident

    def after(self, start: float, work: float) -> int:
        """The instant ``work`` staffed seconds after ``start``, slowed by incidents."""
        calendar = self.calendar
        remaining = work
        cursor = start
        for incident in self.incidents_from(start):
            if cursor < incident.start:
                available = calendar.elapsed_ts(cursor, incident.start)
                if available >= remaining:
                    return math.ceil(calendar.add_ts(cursor, remaining))
                remaining -= available
                cursor = incident.start
            slowed = calendar.elapsed_ts(cursor, incident.end) * incident.capacity
            if slowed >= remaining:
                return math.ceil(calendar.add_ts(cursor, remaining / incident.capacity))
            remaining -= slowed
            cursor = incident.end
        return math.ceil(calendar.add_ts(cursor, remaining))


def _week_of(at: float) -> int:
    return math.floor((at - 4 * DAY) / WEEK)


def _instant(at: int) -> datetime:
    return datetime.fromtimestamp(at, UTC)


class _Timeline:
    """Collects one ticket's events in strictly increasing whole seconds, up to its lifetime.

    An event that would fall after :data:`TICKET_LIFETIME` is dropped, with
    everything after it; a ticket still unsolved then is solved at the limit
    (as a helpdesk automation closes stale tickets).
    """

    def __init__(self, created: int) -> None:
        self.created = created
        self.last = created
        self.closed = False
        self.solved = False
        self.events: list[TicketEvent] = []
        self.times: list[int] = []

    def add(
        self,
        at: float,
        type: EventType,
        *,
        public: bool = True,
        automated: bool = False,
        author: Author = Author.AGENT,
        to: str | None = None,
        rating: Rating | None = None,
    ) -> int:
        """Record an event at ``at`` (or just after the previous one); return its instant."""
        moment = max(math.ceil(at), self.last + 1)
        limit = self.created + TICKET_LIFETIME
        if self.closed or moment > limit:
            if not self.closed and not self.solved and self.last < limit:
                self._append(limit, TicketEvent(_instant(limit), EventType.SOLVED))
            self.closed = True
            return moment
        self._append(
            moment, TicketEvent(_instant(moment), type, public, automated, author, to, rating)
        )
        return moment

    def _append(self, moment: int, event: TicketEvent) -> None:
        self.last = moment
        self.events.append(event)
        self.times.append(moment)
        if event.type is EventType.SOLVED:
            self.solved = True
        elif event.type is EventType.STATUS:
            self.solved = event.to in CLOSED_STATUSES


@dataclass(frozen=True, slots=True)
class _Life:
    """A ticket with its whole timeline, and what it looks like after each event."""

    ticket: Ticket
    times: tuple[int, ...]
    statuses: tuple[str, ...]
    assigned_at: int | None

    @property
    def created(self) -> float:
        return self.ticket.created_at.timestamp()

    def at(self, now: float) -> Ticket:
        """The ticket as of ``now``: events up to ``now`` and the status they imply."""
        seen = bisect_right(self.times, now)
        if seen == len(self.times):
            return self.ticket
        assigned = self.assigned_at is not None and self.assigned_at <= now
        return replace(
            self.ticket,
            status=self.statuses[seen - 1] if seen else "new",
            events=self.ticket.events[:seen],
            assignee=self.ticket.assignee if assigned else None,
        )


@dataclass(frozen=True, slots=True)
class _Bucket:
    """The tickets created in one bucket, and every instant one of them changes."""

    lives: tuple[_Life, ...]
    change_times: tuple[int, ...]
    change_owners: tuple[int, ...]

    def changed(self, after: float, until: float) -> set[int]:
        """Indexes of the tickets created or changed in ``(after, until]``."""
        first = bisect_right(self.change_times, after)
        last = bisect_right(self.change_times, until)
        return set(self.change_owners[first:last])


def _is_human_touch(event: TicketEvent) -> bool:
    """An assignment or a human reply: a new ticket becomes open."""
    if event.type is EventType.ASSIGNED:
        return True
    return (
        event.type is EventType.AGENT_REPLY and event.author is Author.AGENT and not event.automated
    )


def _statuses(events: Sequence[TicketEvent]) -> tuple[str, ...]:
    """The ticket status after each event."""
    status = "new"
    out = []
    for event in events:
        if event.type is EventType.STATUS and event.to is not None:
            status = event.to
        elif event.type is EventType.SOLVED:
            status = "solved"
        elif event.type is EventType.REOPENED or (status == "new" and _is_human_touch(event)):
            status = "open"
        out.append(status)
    return tuple(out)


def _simulate_ticket(
    rng: random.Random, ticket_id: str, created: int, staffing: _Staffing
) -> _Life:
    """Decide one ticket's attributes and whole timeline."""
    priority = _pick_priority(rng)
    channel = _pick(rng, _CHANNELS)
    group = _pick(rng, _GROUPS)
    brand = _pick(rng, _BRANDS)
    kind = _pick(rng, _TYPES)
    tags = set()
    if rng.random() < 0.05:
        tags.add("vip")
    if group == "billing" and rng.random() < 0.4:
        tags.add("refund")
    if kind in ("incident", "problem") and rng.random() < 0.5:
        tags.add("bug")
    assignee = f"{group}-agent-{rng.randint(1, _AGENTS_PER_GROUP):02d}"
    base = Ticket(
        id=ticket_id,
        created_at=_instant(created),
        status="new",
        priority=priority,
        channel=channel,
        group=group,
        brand=brand,
        type=kind,
        tags=tuple(sorted(tags)),
    )
    live = _LIVE_FACTOR if channel in _LIVE_CHANNELS else 1.0

    life = _Timeline(created)
    if channel in ("email", "web"):
        life.add(created + rng.randint(2, 30), EventType.AGENT_REPLY, automated=True)
    if channel in ("web", "chat") and rng.random() < 0.12:
        ai_reply = life.add(
            created + rng.randint(20, 180), EventType.AGENT_REPLY, author=Author.AI_AGENT
        )
        if rng.random() < 0.3:  # the AI agent's answer was enough
            ai_solved = life.add(ai_reply + rng.randint(2 * MINUTE, 20 * MINUTE), EventType.SOLVED)
            _maybe_rate(rng, life, ai_solved, slow=False)
            return _finish(life, base, None)

    first_work = _delay(rng, _FIRST_REPLY[priority], live)
    assigned_at = life.add(
        staffing.after(created, first_work * rng.uniform(0.1, 0.6)), EventType.ASSIGNED
    )
    reply_at = staffing.after(created, first_work)
    if rng.random() < 0.12:
        note_at = assigned_at + (reply_at - assigned_at) * rng.uniform(0.2, 0.9)
        life.add(note_at, EventType.AGENT_REPLY, public=False)
    replied = life.add(reply_at, EventType.AGENT_REPLY)
    staffed_wait = staffing.calendar.elapsed_ts(created, replied)
    slow = staffed_wait > 3 * _FIRST_REPLY[priority][0] * live

    solved: int | None = None
    for round_ in range(3):
        roll = rng.random()
        solve_share = 0.3 if round_ == 0 else 0.5
        if roll < solve_share:
            solved = life.add(replied + rng.randint(MINUTE, 10 * MINUTE), EventType.SOLVED)
            break
        if roll < solve_share + 0.5 and round_ < 2:
            pending = life.add(
                replied + rng.randint(10, 5 * MINUTE), EventType.STATUS, to="pending"
            )
            if rng.random() < 0.12:  # the customer never answers: automation solves after 3 days
                solved = life.add(pending + 3 * DAY, EventType.SOLVED)
                break
            answer_due = pending + _delay(rng, (5 * HOUR, 1.0))
            answered = life.add(answer_due, EventType.REQUESTER_REPLY)
            life.add(answered + 1, EventType.STATUS, to="open")
            work = _delay(rng, _NEXT_REPLY[priority], live)
            replied = life.add(staffing.after(answered, work), EventType.AGENT_REPLY)
            continue
        work = _delay(rng, _WORK[priority], live)
        solved = life.add(staffing.after(replied, work), EventType.SOLVED)
        break
    if solved is None:
        solved = life.add(staffing.after(replied, _delay(rng, _WORK[priority])), EventType.SOLVED)

    if rng.random() < 0.05:  # reopened: the fix did not hold
        back = life.add(solved + rng.randint(2 * HOUR, 2 * DAY), EventType.REQUESTER_REPLY)
        life.add(back + 1, EventType.STATUS, to="open")
        work = _delay(rng, _NEXT_REPLY[priority], live)
        replied = life.add(staffing.after(back, work), EventType.AGENT_REPLY)
        solved = life.add(replied + rng.randint(MINUTE, 10 * MINUTE), EventType.SOLVED)
    _maybe_rate(rng, life, solved, slow)
    return _finish(life, base, assignee)


def _maybe_rate(rng: random.Random, life: _Timeline, solved: int, slow: bool) -> None:
    """Sometimes the customer rates the support after the solve; mostly good."""
    if rng.random() >= 0.3:
        return
    bad = rng.random() < (0.35 if slow else 0.04)
    at = solved + _delay(rng, (2 * HOUR, 1.0))
    life.add(at, EventType.CSAT, rating=Rating.BAD if bad else Rating.GOOD)


def _finish(life: _Timeline, base: Ticket, assignee: str | None) -> _Life:
    """Attach a timeline to a ticket's attributes."""
    events = tuple(life.events)
    statuses = _statuses(events)
    assigned_at = next(
        (
            moment
            for moment, e in zip(life.times, events, strict=True)
            if e.type is EventType.ASSIGNED
        ),
        None,
    )
    ticket = replace(
        base,
        status=statuses[-1] if statuses else "new",
        events=events,
        assignee=assignee if assigned_at is not None else None,
    )
    return _Life(ticket, tuple(life.times), statuses, assigned_at)


class DemoSource:
    """A simulated helpdesk, deterministic from ``config.seed``.

    The first poll returns every ticket created within ``config.history``
    before ``now``; later polls return the tickets created or changed since the
    previous poll, in full current state.  The cursor is the previous poll's
    ``now``; the watermark is ``now`` (the simulation is always complete).

    The simulated world runs on the real clock, so that SLA clocks, business
    calendars and Prometheus timestamps all agree.  ``clock`` is accepted like
    other sources' clocks and not read: a poll depends only on the ``now`` it
    is given.
    """

    name = "demo"

    def __init__(self, config: SourceConfig, clock: Callable[[], float] | None = None) -> None:
        self.seed = config.seed
        self.history = config.history.seconds
        self._clock = clock
        self._staffing = _Staffing(self.seed)
        self._buckets: dict[int, _Bucket] = {}

    def incidents(self, start: float, end: float) -> list[Incident]:
        """The staffing incidents that overlap ``[start, end)``, in time order."""
        found = []
        for week in range(_week_of(start) - 1, _week_of(end) + 1):
            for incident in self._staffing.week_incidents(week):
                if incident.end > start and incident.start < end:
                    found.append(incident)
        return found

    def poll(self, cursor: str | None, now: float) -> PollResult:
        since = _parse_cursor(cursor)
        if since is None:
            tickets = self._created_between(now - self.history, now)
            self._warm(now)
        elif since >= now:
            tickets = []
        else:
            tickets = self._changed_between(since, now)
        self._forget_before(now - TICKET_LIFETIME - BUCKET_SECONDS)
        return PollResult(tickets, _format_cursor(now), now, requests=1)

    def _created_between(self, after: float, until: float) -> list[Ticket]:
        tickets = []
        for index in range(_bucket_of(after), _bucket_of(until) + 1):
            for life in self._bucket(index).lives:
                if after < life.created <= until:
                    tickets.append(life.at(until))
        return tickets

    def _changed_between(self, after: float, until: float) -> list[Ticket]:
        tickets = []
        for index in range(_bucket_of(after - TICKET_LIFETIME), _bucket_of(until) + 1):
            bucket = self._bucket(index)
            for owner in sorted(bucket.changed(after, until)):
                tickets.append(bucket.lives[owner].at(until))
        return tickets

    def _warm(self, now: float) -> None:
        """Generate every bucket the next incremental poll will look at."""
        for index in range(_bucket_of(now - TICKET_LIFETIME), _bucket_of(now) + 1):
            self._bucket(index)

    def _forget_before(self, at: float) -> None:
        oldest = _bucket_of(at)
        for index in [i for i in self._buckets if i < oldest]:
            del self._buckets[index]

    def _bucket(self, index: int) -> _Bucket:
        cached = self._buckets.get(index)
        if cached is not None:
            return cached
        bucket = self._generate(index)
        self._buckets[index] = bucket
        return bucket

    def _generate(self, index: int) -> _Bucket:
        """The tickets created in one bucket: a Poisson process at that hour's rate."""
        rng = random.Random(f"demo:{self.seed}:tickets:{index}")
        start = index * BUCKET_SECONDS
        per_second = arrival_rate(start) / HOUR
        arrivals: list[int] = []
        offset = rng.expovariate(per_second)
        while offset < BUCKET_SECONDS and len(arrivals) < 99:
            arrivals.append(start + int(offset))
            offset += rng.expovariate(per_second)
        lives = tuple(
            _simulate_ticket(rng, str(index * 100 + number), created, self._staffing)
            for number, created in enumerate(arrivals)
        )
        changes = sorted(
            (moment, owner)
            for owner, life in enumerate(lives)
            for moment in (math.floor(life.created), *life.times)
        )
        return _Bucket(
            lives,
            tuple(moment for moment, _ in changes),
            tuple(owner for _, owner in changes),
        )


def _bucket_of(at: float) -> int:
    return math.floor(at / BUCKET_SECONDS)


def _format_cursor(now: float) -> str:
    return repr(float(now))


def _parse_cursor(cursor: str | None) -> float | None:
    """The previous poll's ``now``; anything else (another source's cursor) starts over."""
    if cursor is None:
        return None
    try:
        since = float(cursor)
    except ValueError:
        return None
    return since if math.isfinite(since) else None


def build(config: Config) -> DemoSource:
    """The demo source of a config (``source.type: demo``)."""
    return DemoSource(config.source)
