"""A Zendesk Support double on 127.0.0.1: a scripted world of tickets served over real HTTP.

:class:`FakeZendesk` is a context manager that runs a stdlib
:class:`~http.server.ThreadingHTTPServer` in a thread on a free port of
127.0.0.1 (``.url`` is its root) and serves, from an in-memory world the test
drives with explicit times, the endpoints the Zendesk source reads, shaped
like Zendesk's documented JSON (``tests/sources/fixtures/zendesk/`` holds
recorded examples):

* ``GET /api/v2/incremental/tickets/cursor.json`` -- cursor-based incremental
  ticket export: ``start_time`` on the first request, then ``cursor``;
  ``per_page`` (1000 at most); ``include=users`` sideloads the requester
  (also the submitter) and assignee of each ticket (``role``
  ``end-user``/``agent``).
  Tickets are ordered by ``generated_timestamp`` (their last change) and id;
  a ticket appears once, in its current state, at its last change.
  ``after_cursor`` is Zendesk's ``base64("<seconds>.0||<id>|")``.
* ``GET /api/v2/incremental/ticket_events.json`` -- time-based export of
  ticket audits (``start_time``; ``include=comment_events`` adds the
  ``Comment`` child events), 1000 a page, ``end_time`` = the time of the
  page's last item (``start_time`` when empty), ``end_of_stream``.
* ``GET /api/v2/incremental/ticket_metric_events.json`` -- the same for
  ticket metric events (scripted with :meth:`FakeZendesk.metric_event`; the
  fake does not run Zendesk's SLA clocks itself).
* ``GET /api/v2/satisfaction_ratings.json`` -- ``score`` (``received``,
  ``good``, ``bad``), ``start_time`` (created at or after), cursor pagination
  with ``page[size]`` (100 at most) and ``page[after]``.

**The last minute.**  Incremental exports leave out everything created or
changed within the minute before the request (``export_lag`` seconds): an
audit shows once it is that old, and a ticket whose last change is younger
is not exported at all until then.  Ratings are a plain listing and show at
once.  Times are whole seconds (Zendesk's precision); finer times are cut.

**The world** changes only through the methods below, each taking the instant
it happens (an aware datetime or POSIX seconds), which may lie in the past
or the future: :meth:`~FakeZendesk.create_ticket`,
:meth:`~FakeZendesk.agent_reply`, :meth:`~FakeZendesk.internal_note`,
:meth:`~FakeZendesk.auto_ack`, :meth:`~FakeZendesk.requester_reply`,
:meth:`~FakeZendesk.set_status`, :meth:`~FakeZendesk.solve`,
:meth:`~FakeZendesk.assign`, :meth:`~FakeZendesk.rate` and
:meth:`~FakeZendesk.metric_event`.  An event is real once the fake's clock
has reached it.  Writing into a past that an export has already served
raises :class:`ValueError`: Zendesk cannot change history either, and a test
that did so would expect data no client could have read.

**Auth and limits.**  Requests must carry HTTP basic auth as
``{email}/token`` with the API token; anything else gets 401 with Zendesk's
JSON error.  Every answer carries ``X-Rate-Limit`` and
``X-Rate-Limit-Remaining`` for a sliding one-minute window of
:attr:`FakeZendesk.rate_limit` requests; a request over it is answered 429
with ``Retry-After`` and a ``text/plain`` body.  With ``incremental_limit``
set, the incremental exports also get their own window (Zendesk allows 10
requests a minute).

**Faults** are injected per endpoint (``tickets``, ``ticket_events``,
``metric_events``, ``ratings``) with :meth:`FakeZendesk.fail`: an HTTP status
(429 or 5xx), an optional ``Retry-After``, for a number of answers or until
:meth:`FakeZendesk.heal`.  :meth:`FakeZendesk.misbehave` injects answers that
are not errors: ``stall`` (the page asked for, but the export does not move:
the same ``after_cursor``, an ``end_time`` that stays at ``start_time``, the
same ratings cursor, never the end), ``trickle`` (the right answer, one body
byte every :attr:`FakeZendesk.trickle_pace` seconds) and ``redirect`` (a 301
to another host).  Every request is logged (:class:`Request`: when,
the endpoint, the query parameters and the status answered).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from bisect import bisect_left, bisect_right, insort
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

TICKETS_PATH = "/api/v2/incremental/tickets/cursor.json"
TICKET_EVENTS_PATH = "/api/v2/incremental/ticket_events.json"
METRIC_EVENTS_PATH = "/api/v2/incremental/ticket_metric_events.json"
RATINGS_PATH = "/api/v2/satisfaction_ratings.json"
#: Endpoint names (for faults and the request log) and their paths.
ENDPOINTS: Mapping[str, str] = {
    "tickets": TICKETS_PATH,
    "ticket_events": TICKET_EVENTS_PATH,
    "metric_events": METRIC_EVENTS_PATH,
    "ratings": RATINGS_PATH,
}
INCREMENTAL = frozenset({"tickets", "ticket_events", "metric_events"})

#: Zendesk leaves out of its exports what changed within the last minute.
EXPORT_LAG_SECONDS = 60
#: Items per page of the exports (Zendesk's maximum and default).
EXPORT_PAGE = 1000
RATINGS_PAGE = 100
#: Requests a minute of the account (Zendesk Suite Professional) and of the exports.
RATE_LIMIT = 700
INCREMENTAL_RATE_LIMIT = 10

#: The agent who answers unless a test says otherwise.
AGENT_ID = 8001
#: Author of comments Zendesk itself adds.
SYSTEM_USER_ID = -1
FIRST_TICKET_ID = 101
FIRST_REQUESTER_ID = 9001
#: Ticket attributes that are the same on every ticket of the fake account.
ORGANIZATION_ID = 360011111111
BRAND_ID = 360000114114
FORM_ID = 360000222222
CUSTOM_STATUS_ID = 360000000001

#: ``via`` of an audit and ``via.channel`` of its comment, by ticket channel.
AUDIT_VIA = {"email": "Mail", "web": "Web form", "api": "API", "chat": "Chat", "voice": "Voice"}
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")

Instant = datetime | float | int


def seconds(value: Instant) -> int:
    """Whole POSIX seconds of an aware datetime (or of POSIX seconds), as Zendesk keeps them."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; the fake world runs in aware UTC")
        return int(value.timestamp())
    return int(value)


def iso(at: int | None) -> str | None:
    """Zendesk's way of writing an instant: ``2026-11-02T08:15:00Z``."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ticket_cursor(at: int, ticket_id: int) -> str:
    """Zendesk's export cursor: the position just after ``ticket_id`` changed at ``at``."""
    return base64.b64encode(f"{at}.0||{ticket_id}|".encode()).decode()


def read_ticket_cursor(cursor: str) -> tuple[int, int] | None:
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        stamp, _, rest = text.partition("||")
        return int(float(stamp)), int(rest.rstrip("|") or 0)
    except (ValueError, UnicodeError, binascii.Error):
        return None


# --- the world ----------------------------------------------------------------------------------


class _Timed(Protocol):
    @property
    def at(self) -> int: ...


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str
    role: str  # end-user | agent | admin

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"https://acme.zendesk.com/api/v2/users/{self.id}.json",
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "role_type": None,
            "active": True,
            "time_zone": "UTC",
            "iana_time_zone": "Etc/UTC",
            "created_at": "2025-01-10T09:00:00Z",
            "updated_at": "2026-01-10T09:00:00Z",
        }


@dataclass
class Audit:
    """One ticket update: who, when, through what, and its child events (as Zendesk writes them)."""

    id: int
    ticket_id: int
    at: int
    updater_id: int
    via: str
    children: list[dict[str, Any]]

    def to_json(self, with_comments: bool) -> dict[str, Any]:
        children = [
            {**child, "audit_id": self.id} if child["event_type"] == "Comment" else child
            for child in self.children
            if with_comments or child["event_type"] != "Comment"
        ]
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "timestamp": self.at,
            "created_at": iso(self.at),
            "updater_id": self.updater_id,
            "via": self.via,
            "system": {
                "client": "Mozilla/5.0",
                "ip_address": "203.0.113.7",
                "location": "Paris, France",
                "latitude": 48.86,
                "longitude": 2.35,
            },
            "metadata": {},
            "merged_ticket_ids": [],
            "event_type": "Audit",
            "child_events": children,
        }


@dataclass(frozen=True)
class Rating:
    id: int
    ticket_id: int
    at: int
    score: str
    assignee_id: int | None
    group_id: int | None
    requester_id: int

    def to_json(self) -> dict[str, Any]:
        return {
            "url": f"https://acme.zendesk.com/api/v2/satisfaction_ratings/{self.id}.json",
            "id": self.id,
            "assignee_id": self.assignee_id,
            "group_id": self.group_id,
            "requester_id": self.requester_id,
            "ticket_id": self.ticket_id,
            "score": self.score,
            "created_at": iso(self.at),
            "updated_at": iso(self.at),
            "comment": None,
            "reason": None,
            "reason_code": 0,
            "reason_id": None,
        }


@dataclass(frozen=True)
class MetricEvent:
    id: int
    ticket_id: int
    at: int
    metric: str
    instance_id: int
    type: str
    target_seconds: int | None = None
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "metric": self.metric,
            "instance_id": self.instance_id,
            "type": self.type,
            "time": iso(self.at),
        }
        if self.type == "apply_sla" and self.target_seconds is not None:
            record["sla"] = {
                "target": self.target_seconds // 60,
                "target_in_seconds": self.target_seconds,
                "business_hours": False,
                "policy": {"id": 360000444444, "title": "Support SLA", "description": ""},
            }
        if self.type == "breach":
            record["deleted"] = self.deleted
        return record


@dataclass
class FakeTicket:
    """A ticket's fixed attributes and its audits; its state at any instant folds the audits."""

    id: int
    created_at: int
    channel: str
    requester_id: int
    subject: str
    type: str | None
    tags: tuple[str, ...]
    brand_id: int | None
    audits: list[Audit] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)

    def state(self, now: int) -> dict[str, Any] | None:
        """Status, priority, group, assignee and last change at ``now`` (None before it exists)."""
        state: dict[str, Any] = dict.fromkeys(("priority", "group_id", "assignee_id"))
        state["status"] = "new"
        last: int | None = None
        for audit in self.audits:
            if audit.at > now:
                break
            last = audit.at
            for child in audit.children:
                if child["event_type"] in ("Create", "Change"):
                    for key in ("status", "priority", "group_id", "assignee_id"):
                        if key in child:
                            state[key] = child[key]
        if last is None:
            return None
        state["updated_at"] = last  # a rating is an audit too
        state["rating"] = next((r for r in reversed(self.ratings) if r.at <= now), None)
        return state

    def to_json(self, state: Mapping[str, Any]) -> dict[str, Any]:
        updated = int(state["updated_at"])
        rating: Rating | None = state["rating"]
        satisfaction = (
            {"id": rating.id, "score": rating.score, "comment": None, "reason": None}
            if rating is not None
            else {"score": "unoffered"}
        )
        return {
            "url": f"https://acme.zendesk.com/api/v2/tickets/{self.id}.json",
            "id": self.id,
            "external_id": None,
            "via": {"channel": self.channel, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso(self.created_at),
            "updated_at": iso(updated),
            "generated_timestamp": updated,
            "type": self.type,
            "subject": self.subject,
            "raw_subject": self.subject,
            "description": "See the first comment.",
            "priority": state["priority"],
            "status": state["status"],
            "recipient": "support@acme.zendesk.com",
            "requester_id": self.requester_id,
            "submitter_id": self.requester_id,
            "assignee_id": state["assignee_id"],
            "organization_id": ORGANIZATION_ID,
            "group_id": state["group_id"],
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "forum_topic_id": None,
            "problem_id": None,
            "has_incidents": False,
            "is_public": True,
            "due_at": None,
            "tags": list(self.tags),
            "custom_fields": [],
            "satisfaction_rating": satisfaction,
            "sharing_agreement_ids": [],
            "custom_status_id": CUSTOM_STATUS_ID,
            "fields": [],
            "followup_ids": [],
            "ticket_form_id": FORM_ID,
            "brand_id": self.brand_id,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": False,
        }


@dataclass(frozen=True)
class Request:
    """One request as the fake saw it."""

    at: float
    endpoint: str
    path: str
    params: dict[str, str]
    status: int


@dataclass
class Fault:
    status: int
    retry_after: float | None
    times: int | None  # None: until heal()


#: What :meth:`FakeZendesk.misbehave` can make an endpoint do.
MISBEHAVIOURS = ("stall", "trickle", "redirect")
#: Where ``redirect`` sends the client.
REDIRECT_TO = "https://moved.acme.example"


@dataclass
class Misbehaviour:
    kind: str
    times: int | None  # None: until heal()


# --- the fake -----------------------------------------------------------------------------------


class FakeZendesk:
    """A Zendesk account on ``127.0.0.1``; see the module documentation.

    ``clock`` gives the fake's "now" (POSIX seconds; real time by default), so
    a test can run the world on a scripted clock.
    """

    def __init__(
        self,
        *,
        email: str = "ops@acme.example",
        token: str = "fake-zendesk-token-7c1d",
        clock: Callable[[], float] = time.time,
        export_lag: int = EXPORT_LAG_SECONDS,
        rate_limit: int = RATE_LIMIT,
        incremental_limit: int | None = None,
    ) -> None:
        self.email = email
        self.token = token
        self.clock = clock
        self.export_lag = export_lag
        self.rate_limit = rate_limit
        self.incremental_limit = incremental_limit
        self._lock = threading.RLock()
        self._tickets: dict[int, FakeTicket] = {}
        self._audits: list[Audit] = []  # sorted by (at, id)
        self._metric_events: list[MetricEvent] = []  # sorted by (at, id)
        self._ratings: list[Rating] = []  # sorted by id
        self._users: dict[int, User] = {
            AGENT_ID: User(AGENT_ID, "Alex Agent", "alex@acme.example", "agent")
        }
        self._next_ticket = FIRST_TICKET_ID
        self._next_requester = FIRST_REQUESTER_ID
        self._next_id = 926256957000
        self._served_until = -1  # newest instant an export has shown
        self._faults: dict[str, deque[Fault]] = {name: deque() for name in ENDPOINTS}
        self._misbehaviours: dict[str, Misbehaviour] = {}
        #: seconds between the body bytes of a ``trickle`` answer
        self.trickle_pace = 0.05
        self._requests: list[Request] = []
        self._recent: deque[float] = deque()
        self._recent_incremental: deque[float] = deque()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first (use it as a context manager)"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- scripting the world --

    def agent(self, user_id: int, name: str) -> int:
        """Add an agent (``role: agent``) who can answer tickets."""
        with self._lock:
            self._users[user_id] = User(user_id, name, f"agent{user_id}@acme.example", "agent")
        return user_id

    def create_ticket(
        self,
        at: Instant,
        *,
        priority: str | None = "normal",
        channel: str = "email",
        group_id: int | None = 360001234567,
        brand_id: int | None = BRAND_ID,
        type: str | None = "question",
        tags: Iterable[str] = (),
        assignee_id: int | None = None,
        subject: str | None = None,
    ) -> int:
        """A requester opens a ticket at ``at`` (status ``new``); returns its id."""
        if priority is not None and priority not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r}")
        when = seconds(at)
        with self._lock:
            self._check_not_served(when, "create a ticket")
            ticket_id = self._next_ticket
            self._next_ticket += 1
            requester = User(
                self._next_requester,
                f"Requester {self._next_requester}",
                f"requester{self._next_requester}@customer.example",
                "end-user",
            )
            self._next_requester += 1
            self._users[requester.id] = requester
            ticket = FakeTicket(
                id=ticket_id,
                created_at=when,
                channel=channel,
                requester_id=requester.id,
                subject=subject or f"Ticket {ticket_id}",
                type=type,
                tags=tuple(tags),
                brand_id=brand_id,
            )
            self._tickets[ticket_id] = ticket
            via = AUDIT_VIA.get(channel, "Web form")
            children = [
                self._comment(requester.id, public=True, channel=channel, at=when),
                {**self._child("Create", via), "status": "new"},
            ]
            created = {"priority": priority, "group_id": group_id, "assignee_id": assignee_id}
            for name, value in created.items():
                if value is not None:
                    children.append({**self._child("Create", via), name: value})
            self._add_audit(ticket, when, requester.id, via, children)
        return ticket_id

    def agent_reply(
        self,
        ticket_id: int,
        at: Instant,
        *,
        public: bool = True,
        status: str | None = None,
        agent_id: int = AGENT_ID,
    ) -> None:
        """An agent comments; a ``new`` ticket becomes ``open`` unless ``status`` says otherwise."""
        when = seconds(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            current = self._status_before(ticket, when)
            to = status or ("open" if current == "new" else None)
            children = [self._comment(agent_id, public=public, channel="web", at=when)]
            children += self._status_change(current, to, "Web form")
            self._add_audit(ticket, when, agent_id, "Web form", children)

    def internal_note(self, ticket_id: int, at: Instant, *, agent_id: int = AGENT_ID) -> None:
        """An agent adds a private comment (it answers nobody)."""
        self.agent_reply(ticket_id, at, public=False, agent_id=agent_id)

    def auto_ack(self, ticket_id: int, at: Instant) -> None:
        """A trigger sends "we received your request" (public, from a rule; opens a new ticket)."""
        when = seconds(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            current = self._status_before(ticket, when)
            comment = self._comment(AGENT_ID, public=True, channel="rule", at=when)
            comment["via"] = {
                "channel": "rule",
                "source": {
                    "to": {},
                    "from": {"id": 360000111111, "title": "Auto-reply", "deleted": False},
                    "rel": "trigger",
                },
            }
            children = [comment, *self._status_change(current, "open", "Rule")]
            self._add_audit(ticket, when, SYSTEM_USER_ID, "Rule", children)

    def requester_reply(self, ticket_id: int, at: Instant) -> None:
        """The requester answers by email; a pending or solved ticket becomes ``open`` again."""
        when = seconds(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            current = self._status_before(ticket, when)
            to = "open" if current in ("pending", "hold", "solved") else None
            children = [self._comment(ticket.requester_id, public=True, channel="email", at=when)]
            children += self._status_change(current, to, "Mail")
            self._add_audit(ticket, when, ticket.requester_id, "Mail", children)

    def set_status(
        self, ticket_id: int, at: Instant, status: str, *, agent_id: int = AGENT_ID
    ) -> None:
        """An agent changes the status (``hold`` is Zendesk's name for on-hold)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r} (Zendesk has {', '.join(STATUSES)})")
        when = seconds(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            changes = self._status_change(self._status_before(ticket, when), status, "Web form")
            self._add_audit(ticket, when, agent_id, "Web form", changes)

    def solve(self, ticket_id: int, at: Instant, *, agent_id: int = AGENT_ID) -> None:
        self.set_status(ticket_id, at, "solved", agent_id=agent_id)

    def assign(self, ticket_id: int, at: Instant, agent_id: int = AGENT_ID) -> None:
        when = seconds(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            previous = ticket.state(when)
            child = {
                **self._child("Change", "Web form"),
                "assignee_id": agent_id,
                "previous_value": previous["assignee_id"] if previous else None,
            }
            self._add_audit(ticket, when, agent_id, "Web form", [child])

    def assign_group(self, ticket_id: int, at: Instant, group_id: int) -> None:
        """An agent moves the ticket to another group (a ``group_id`` Change event)."""
        when = seconds(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            previous = ticket.state(when)
            child = {
                **self._child("Change", "Web form"),
                "group_id": group_id,
                "previous_value": previous["group_id"] if previous else None,
            }
            self._add_audit(ticket, when, AGENT_ID, "Web form", [child])

    def rate(self, ticket_id: int, at: Instant, score: str) -> None:
        """The requester rates the ticket ``good`` or ``bad``."""
        if score not in ("good", "bad"):
            raise ValueError(f"a received rating is good or bad, got {score!r}")
        when = seconds(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            self._check_not_served(when, "rate a ticket")
            state = ticket.state(when) or {}
            rating = Rating(
                self._new_id(),
                ticket_id,
                when,
                score,
                state.get("assignee_id"),
                state.get("group_id"),
                ticket.requester_id,
            )
            ticket.ratings.append(rating)
            ticket.ratings.sort(key=lambda r: r.at)
            self._ratings.append(rating)
            child = {
                **self._child("SatisfactionRating", "Web form"),
                "score": score,
                "assignee_id": rating.assignee_id,
                "body": "",
            }
            self._add_audit(ticket, when, ticket.requester_id, "Web form", [child])

    def metric_event(
        self,
        ticket_id: int,
        at: Instant,
        metric: str,
        type: str,
        *,
        instance_id: int = 1,
        target_seconds: int | None = None,
        deleted: bool = False,
    ) -> None:
        """One of Zendesk's own SLA clock events (``apply_sla``, ``activate``, ``breach``...)."""
        when = seconds(at)
        with self._lock:
            self._ticket(ticket_id)
            self._check_not_served(when, "add a metric event")
            event = MetricEvent(
                self._new_id(), ticket_id, when, metric, instance_id, type, target_seconds, deleted
            )
            insort(self._metric_events, event, key=lambda e: (e.at, e.id))

    # -- faults --

    def fail(
        self,
        endpoint: str,
        status: int = 500,
        *,
        retry_after: float | None = None,
        times: int | None = None,
    ) -> None:
        """Answer ``status`` on ``endpoint`` the next ``times`` requests (None: until healed)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r} (known: {', '.join(ENDPOINTS)})")
        with self._lock:
            self._faults[endpoint].append(Fault(status, retry_after, times))

    def misbehave(self, endpoint: str, kind: str, *, times: int | None = None) -> None:
        """Answer the next ``times`` requests of ``endpoint`` with ``kind`` (None: until healed).

        ``kind`` is one of :data:`MISBEHAVIOURS` (see the module documentation).
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r} (known: {', '.join(ENDPOINTS)})")
        if kind not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {kind!r} (known: {', '.join(MISBEHAVIOURS)})")
        with self._lock:
            self._misbehaviours[endpoint] = Misbehaviour(kind, times)

    def heal(self, endpoint: str | None = None) -> None:
        """Drop the faults and misbehaviours of ``endpoint`` (of every endpoint when None)."""
        with self._lock:
            for name in [endpoint] if endpoint else list(ENDPOINTS):
                self._faults[name].clear()
                self._misbehaviours.pop(name, None)

    # -- what happened --

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def status_counts(self) -> Counter[str]:
        """Answers given so far by HTTP status code (``"200"``, ``"500"``...)."""
        return Counter(str(r.status) for r in self.requests)

    def ticket_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._tickets)

    # -- internals: the world --

    def _ticket(self, ticket_id: int) -> FakeTicket:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise KeyError(f"no ticket {ticket_id} in the fake account")
        return ticket

    def _new_id(self) -> int:
        self._next_id += 7
        return self._next_id

    def _child(self, event_type: str, via: str) -> dict[str, Any]:
        return {
            "id": self._new_id(),
            "via": via,
            "via_reference_id": None,
            "event_type": event_type,
        }

    def _comment(self, author_id: int, *, public: bool, channel: str, at: int) -> dict[str, Any]:
        text = "Thanks, we are on it." if author_id == AGENT_ID else "Please help."
        return {
            "id": self._new_id(),
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "via_reference_id": None,
            "type": "Comment",
            "author_id": author_id,
            "body": text,
            "html_body": f'<div class="zd-comment" dir="auto"><p dir="auto">{text}</p></div>',
            "plain_body": text,
            "public": public,
            "attachments": [],
            "created_at": iso(at),
            "event_type": "Comment",
        }

    def _status_change(self, current: str, to: str | None, via: str) -> list[dict[str, Any]]:
        if to is None or to == current:
            return []
        return [{**self._child("Change", via), "status": to, "previous_value": current}]

    def _status_before(self, ticket: FakeTicket, at: int) -> str:
        state = ticket.state(at)
        if state is None:
            raise ValueError(f"ticket {ticket.id} does not exist yet at {iso(at)}")
        return str(state["status"])

    def _add_audit(
        self,
        ticket: FakeTicket,
        at: int,
        updater_id: int,
        via: str,
        children: list[dict[str, Any]],
    ) -> None:
        self._check_not_served(at, f"update ticket {ticket.id}")
        if at < ticket.created_at:
            raise ValueError(f"ticket {ticket.id} was created at {iso(ticket.created_at)}")
        audit = Audit(self._new_id(), ticket.id, at, updater_id, via, children)
        insort(ticket.audits, audit, key=lambda a: (a.at, a.id))
        insort(self._audits, audit, key=lambda a: (a.at, a.id))

    def _check_not_served(self, at: int, what: str) -> None:
        if at <= self._served_until:
            raise ValueError(
                f"cannot {what} at {iso(at)}: an export has already served everything up to "
                f"{iso(self._served_until)} (script changes after it, as real ones would be)"
            )

    # -- internals: answering --

    def _horizon(self, now: int) -> int:
        return now - self.export_lag

    def answer(
        self, path: str, params: Mapping[str, str], authorization: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one GET."""
        return self.paced_answer(path, params, authorization)[:3]

    def paced_answer(
        self, path: str, params: Mapping[str, str], authorization: str | None
    ) -> tuple[int, dict[str, str], bytes, float]:
        """:meth:`answer` and the seconds between body bytes (0: all at once; for the handler)."""
        endpoint = next((name for name, p in ENDPOINTS.items() if p == path), None)
        with self._lock:
            now = self.clock()
            status, headers, body = self._answer(endpoint, path, params, authorization, now)
            self._requests.append(Request(now, endpoint or "", path, dict(params), status))
            pace = 0.0
            misbehaviour = self._misbehaviours.get(endpoint or "")
            if status == 200 and misbehaviour is not None:
                if misbehaviour.times is not None:
                    misbehaviour.times -= 1
                    if misbehaviour.times <= 0:
                        del self._misbehaviours[endpoint or ""]
                if misbehaviour.kind == "trickle":
                    pace = self.trickle_pace
                elif misbehaviour.kind == "redirect":
                    location = f"{REDIRECT_TO}{path}?{urlencode(params)}"
                    headers = {"Location": location, "Content-Type": "text/html"}
                    status, body = 301, b"<html>Moved Permanently</html>"
                    self._requests[-1] = Request(now, endpoint or "", path, dict(params), status)
                else:
                    body = _stalled(endpoint or "", params, json.loads(body))
        return status, headers, body, pace

    def _answer(
        self,
        endpoint: str | None,
        path: str,
        params: Mapping[str, str],
        authorization: str | None,
        now: float,
    ) -> tuple[int, dict[str, str], bytes]:
        if not self._authorized(authorization):
            return _json(401, {"error": "Couldn't authenticate you"})
        limited = self._rate_limited(endpoint, now)
        if limited is not None:
            return limited
        headers = {
            "X-Rate-Limit": str(self.rate_limit),
            "X-Rate-Limit-Remaining": str(max(0, self.rate_limit - len(self._recent))),
        }
        if endpoint is None:
            status, _, body = _json(404, {"error": "InvalidEndpoint", "description": "Not found"})
            return status, headers, body
        faults = self._faults[endpoint]
        if faults:
            fault = faults[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    faults.popleft()
            fault_headers = dict(headers)
            if fault.retry_after is not None:
                fault_headers["Retry-After"] = f"{fault.retry_after:g}"
            if fault.status == 429:
                return 429, {**fault_headers, "Content-Type": "text/plain"}, b"Too Many Requests\n"
            status, _, body = _json(fault.status, {"error": "InternalError"})
            return status, fault_headers, body
        try:
            document = self._document(endpoint, params, int(now))
        except _BadRequest as exc:
            status, _, body = _json(400, {"error": "InvalidValue", "description": str(exc)})
            return status, headers, body
        status, content, body = _json(200, document)
        return status, {**headers, **content}, body

    def _authorized(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:]).decode()
        except (ValueError, UnicodeError, binascii.Error):
            return False
        return decoded == f"{self.email}/token:{self.token}"

    def _rate_limited(
        self, endpoint: str | None, now: float
    ) -> tuple[int, dict[str, str], bytes] | None:
        windows = [(self._recent, self.rate_limit)]
        if endpoint in INCREMENTAL and self.incremental_limit is not None:
            windows.append((self._recent_incremental, self.incremental_limit))
        for recent, limit in windows:
            while recent and now - recent[0] >= 60.0:
                recent.popleft()
            if len(recent) >= limit:
                retry_after = max(1, int(60.0 - (now - recent[0])) + 1)
                headers = {
                    "Retry-After": str(retry_after),
                    "Content-Type": "text/plain",
                    "X-Rate-Limit": str(self.rate_limit),
                    "X-Rate-Limit-Remaining": "0",
                }
                return 429, headers, b"Too Many Requests\n"
        for recent, _ in windows:
            recent.append(now)
        return None

    def _document(self, endpoint: str, params: Mapping[str, str], now: int) -> dict[str, Any]:
        if endpoint == "tickets":
            return self._ticket_export(params, now)
        if endpoint == "ticket_events":
            with_comments = "comment_events" in params.get("include", "").split(",")
            return self._time_based(
                TICKET_EVENTS_PATH,
                "ticket_events",
                self._audits,
                lambda audit: audit.to_json(with_comments),
                params,
                now,
            )
        if endpoint == "metric_events":
            return self._time_based(
                METRIC_EVENTS_PATH,
                "ticket_metric_events",
                self._metric_events,
                lambda event: event.to_json(),
                params,
                now,
            )
        return self._ratings_page(params, now)

    def _ticket_export(self, params: Mapping[str, str], now: int) -> dict[str, Any]:
        per_page = _int_param(params, "per_page", EXPORT_PAGE)
        if not 1 <= per_page <= EXPORT_PAGE:
            raise _BadRequest(f"per_page must be between 1 and {EXPORT_PAGE}")
        if "cursor" in params:
            position = read_ticket_cursor(params["cursor"])
            if position is None:
                raise _BadRequest("cursor is not valid")
        elif "start_time" in params:
            position = (_int_param(params, "start_time", 0), 0)  # every ticket from start_time on
            if position[0] > now:
                raise _BadRequest("start_time cannot be in the future")
        else:
            raise _BadRequest("start_time or cursor is required")
        horizon = self._horizon(now)
        listed: list[tuple[int, int, FakeTicket, dict[str, Any]]] = []
        for ticket in self._tickets.values():
            state = ticket.state(now)
            if state is None or state["updated_at"] > horizon:
                continue  # not created yet, or changed within the last minute: not exported
            key = (int(state["updated_at"]), ticket.id)
            if key > position:  # positions are (last change, id); a cursor is exclusive
                listed.append((*key, ticket, state))
        listed.sort(key=lambda item: (item[0], item[1]))
        page = listed[:per_page]
        end_of_stream = len(listed) <= per_page
        after = ticket_cursor(*(page[-1][:2] if page else position))
        before = ticket_cursor(page[0][0], page[0][1] - 1) if page else None
        self._served_until = max(self._served_until, horizon if end_of_stream else page[-1][0])
        document: dict[str, Any] = {"tickets": [t.to_json(s) for _, _, t, s in page]}
        if "users" in params.get("include", "").split(","):
            ids: list[int] = []
            for _, _, ticket, state in page:
                for user_id in (ticket.requester_id, state["assignee_id"]):
                    if user_id is not None and user_id not in ids and user_id in self._users:
                        ids.append(user_id)
            document["users"] = [self._users[i].to_json() for i in ids]
        base = f"https://acme.zendesk.com{TICKETS_PATH}?"
        document.update(
            {
                "after_url": base + urlencode({"cursor": after}),
                "after_cursor": after,
                "before_url": base + urlencode({"cursor": before}) if before else None,
                "before_cursor": before,
                "end_of_stream": end_of_stream,
            }
        )
        return document

    def _time_based(
        self,
        path: str,
        key: str,
        items: Sequence[_Timed],
        render: Callable[[Any], dict[str, Any]],
        params: Mapping[str, str],
        now: int,
    ) -> dict[str, Any]:
        """One page of a time-based export of ``items`` (sorted by time, then id)."""
        if "start_time" not in params:
            raise _BadRequest("start_time is required")
        start = _int_param(params, "start_time", 0)
        if start > now:
            raise _BadRequest("start_time cannot be in the future")
        horizon = self._horizon(now)
        first = bisect_left(items, start, key=lambda item: item.at)
        last = bisect_right(items, horizon, key=lambda item: item.at)
        page = items[first : min(last, first + EXPORT_PAGE)]
        end_of_stream = last - first <= EXPORT_PAGE
        end_time = page[-1].at if page else start
        self._served_until = max(self._served_until, horizon if end_of_stream else end_time)
        query = {"start_time": str(end_time)}
        if "include" in params:
            query["include"] = params["include"]
        return {
            key: [render(item) for item in page],
            "next_page": f"https://acme.zendesk.com{path}?{urlencode(query)}",
            "count": len(page),
            "end_of_stream": end_of_stream,
            "end_time": end_time,
        }

    def _ratings_page(self, params: Mapping[str, str], now: int) -> dict[str, Any]:
        size = _int_param(params, "page[size]", RATINGS_PAGE)
        if not 1 <= size <= RATINGS_PAGE:
            raise _BadRequest(f"page[size] must be between 1 and {RATINGS_PAGE}")
        score = params.get("score", "")
        wanted = {"received": {"good", "bad"}, "good": {"good"}, "bad": {"bad"}, "": None}
        if score not in wanted:
            raise _BadRequest(f"score {score!r} is not supported by the fake")
        scores = wanted[score]
        start = _int_param(params, "start_time", 0)
        after = 0
        if "page[after]" in params:
            position = _read_ratings_cursor(params["page[after]"])
            if position is None:
                raise _BadRequest("page[after] is not valid")
            after = position
        listed = [
            r
            for r in self._ratings
            if r.at <= now
            and r.at >= start
            and r.id > after
            and (scores is None or r.score in scores)
        ]
        page = listed[:size]
        has_more = len(listed) > size
        after_cursor = _ratings_cursor(page[-1].id) if page else None
        before_cursor = _ratings_cursor(page[0].id - 1) if page else None
        base = f"https://acme.zendesk.com{RATINGS_PATH}?"

        def link(cursor: str | None, direction: str) -> str | None:
            if cursor is None:
                return None
            query = {**dict(params), f"page[{direction}]": cursor, "page[size]": str(size)}
            query.pop("page[after]" if direction == "before" else "page[before]", None)
            return base + urlencode(query)

        return {
            "satisfaction_ratings": [r.to_json() for r in page],
            "meta": {
                "has_more": has_more,
                "after_cursor": after_cursor,
                "before_cursor": before_cursor,
            },
            "links": {
                "prev": link(before_cursor, "before"),
                "next": link(after_cursor, "after") if has_more else None,
            },
        }


class _BadRequest(Exception):
    pass


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise _BadRequest(f"{name} must be a whole number, got {value!r}") from None


def _ratings_cursor(rating_id: int) -> str:
    text = json.dumps({"o": "id", "v": rating_id}, separators=(",", ":"))
    return base64.b64encode(text.encode()).decode()


def _read_ratings_cursor(cursor: str) -> int | None:
    try:
        return int(json.loads(base64.b64decode(cursor).decode())["v"])
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        return None


def _stalled(endpoint: str, params: Mapping[str, str], document: dict[str, Any]) -> bytes:
    """``document`` rewritten so that the export does not move past what was asked."""
    if endpoint == "tickets":
        asked = params.get("cursor") or ticket_cursor(_int_param(params, "start_time", 0), 0)
        document.update({"after_cursor": asked, "end_of_stream": False})
    elif endpoint == "ratings":
        asked = params.get("page[after]") or _ratings_cursor(0)
        document["meta"] = {**document["meta"], "has_more": True, "after_cursor": asked}
    else:
        document.update({"end_time": _int_param(params, "start_time", 0), "end_of_stream": False})
    return json.dumps(document).encode()


def _json(status: int, document: Any) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps(document).encode()
    return status, {"Content-Type": "application/json; charset=utf-8"}, body


class _Handler(BaseHTTPRequestHandler):
    owner: FakeZendesk
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        status, headers, body, pace = self.owner.paced_answer(
            split.path, params, self.headers.get("Authorization")
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not pace:
            self.wfile.write(body)
            return
        try:
            for index in range(len(body)):
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                time.sleep(pace)
        except OSError:
            self.close_connection = True  # the client gave up: as it should

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is :attr:`FakeZendesk.requests`."""
