"""A Freshdesk API v2 double on 127.0.0.1: a scripted world of tickets served over real HTTP.

:class:`FakeFreshdesk` is a context manager that runs a stdlib
:class:`~http.server.ThreadingHTTPServer` in a thread on a free port of
127.0.0.1 (``.url`` is its root) and serves, from an in-memory world that the
test drives with explicit times, exactly the shapes the Freshdesk source
reads (see ``tests/sources/fixtures/freshdesk/`` for recorded examples):

* ``GET /api/v2/tickets`` -- ``updated_since`` (inclusive), ``order_by``
  (``created_at`` by default, or ``updated_at``), ``order_type`` (``desc`` by
  default, or ``asc``), ``per_page`` (30 by default, at most 100), ``page``
  (at most :data:`PAGE_CAP`) and ``include=stats``.  Without
  ``updated_since`` only tickets created in the last 30 days are listed, as
  Freshdesk does.  A page that is not the last carries
  ``Link: <...page=N+1>; rel="next"``; the last one carries no ``Link``.
* ``GET /api/v2/tickets/{id}/conversations`` -- replies and notes, oldest
  first, paged the same way.
* ``GET /api/v2/surveys/satisfaction_ratings`` -- ``created_since``
  (inclusive), oldest first, paged the same way.

Every answer to a request with the right API key (HTTP basic auth, the key as
the user name, any password) carries ``X-Ratelimit-Total``,
``X-Ratelimit-Remaining`` and ``X-Ratelimit-Used-CurrentRequest`` for a fixed
one-minute window of :attr:`FakeFreshdesk.rate_limit` credits; a listing with
``include=`` costs one more credit.  A request over the limit is answered 429
with ``Retry-After`` (seconds to the next window) and a ``text/plain`` body.
Any other key gets 401 with Freshdesk's JSON error.  Bad parameters get 400
with Freshdesk's validation error.

Faults are injected per endpoint (``tickets``, ``conversations``,
``ratings``) with :meth:`FakeFreshdesk.fail`: an HTTP status (429 or 5xx),
an optional ``Retry-After`` and a number of answers (or until
:meth:`FakeFreshdesk.heal`).  Every request is logged (:class:`Request`: the
endpoint, path, query parameters and the status answered) for assertions.

The world: :meth:`~FakeFreshdesk.create_ticket`, :meth:`~FakeFreshdesk.reply`,
:meth:`~FakeFreshdesk.note`, :meth:`~FakeFreshdesk.requester_reply`,
:meth:`~FakeFreshdesk.set_status`, :meth:`~FakeFreshdesk.update` and
:meth:`~FakeFreshdesk.rate` each take the instant the change happens (an
aware datetime or POSIX seconds) and keep the ticket's ``updated_at`` and
``stats`` the way Freshdesk does: ``first_responded_at`` at the first public
agent reply, ``agent_responded_at`` and ``requester_responded_at`` at the
latest ones, ``status_updated_at`` at each status change, ``pending_since``
while pending, ``resolved_at``/``closed_at`` when resolved or closed and
``reopened_at`` when a resolved or closed ticket becomes active again (a
requester reply to a resolved ticket reopens it).  Notes change
``updated_at`` only; ratings change nothing on the ticket.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

#: Freshdesk serves at most this many pages of one listing.
PAGE_CAP = 300
#: ``per_page`` when the request gives none, and the most Freshdesk accepts.
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
#: Without ``updated_since``/``created_since`` only the last 30 days are listed.
DEFAULT_LISTING_DAYS = 30
#: Status numbers.
OPEN, PENDING, RESOLVED, CLOSED = 2, 3, 4, 5
#: Priority numbers.
LOW, MEDIUM, HIGH, URGENT = 1, 2, 3, 4
#: Ticket ``source`` numbers (the channel).
EMAIL, PORTAL, PHONE, CHAT = 1, 2, 3, 7
#: Conversation ``source`` of a reply and of a note.
REPLY_SOURCE, NOTE_SOURCE = 0, 2
#: The agent every reply comes from unless a test says otherwise.
AGENT_ID = 43007075231
#: Requester ids are this plus the ticket id unless a test says otherwise.
REQUESTER_BASE = 43012340000
#: Endpoints, as named in faults and in the request log.
ENDPOINTS = ("tickets", "conversations", "ratings")

TICKETS_PATH = "/api/v2/tickets"
RATINGS_PATH = "/api/v2/surveys/satisfaction_ratings"
_CONVERSATIONS = re.compile(r"^/api/v2/tickets/(\d+)/conversations$")
_STAT_KEYS = (
    "agent_responded_at",
    "requester_responded_at",
    "first_responded_at",
    "status_updated_at",
    "reopened_at",
    "resolved_at",
    "closed_at",
    "pending_since",
)
_SOLVED = frozenset({RESOLVED, CLOSED})
_RATE_LIMITED_TEXT = (
    "You have exceeded the limit of requests per minute. Please try again after some time."
)
_INVALID_CREDENTIALS = {
    "code": "invalid_credentials",
    "message": "You have to be logged in to perform this action.",
}

Instant = datetime | float | int
_Item = TypeVar("_Item")


def instant(value: Instant) -> float:
    """POSIX seconds of an aware datetime (or of POSIX seconds)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; the fake world runs in aware UTC")
        return value.timestamp()
    return float(value)


def iso(seconds: float | None) -> str | None:
    """Freshdesk's way of writing an instant: ``2026-11-02T08:15:00Z`` (or null)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the world ----------------------------------------------------------------------------------


@dataclass
class Conversation:
    """One reply or note of a ticket."""

    id: int
    ticket_id: int
    created_at: float
    user_id: int
    incoming: bool
    private: bool
    source: int
    body_text: str

    def to_json(self, requester_email: str) -> dict[str, Any]:
        support = "support@acme.example"
        outgoing_to = [requester_email] if not self.private else ["tier2@acme.example"]
        return {
            "body": f"<div>{self.body_text}</div>",
            "body_text": self.body_text,
            "id": self.id,
            "incoming": self.incoming,
            "private": self.private,
            "user_id": self.user_id,
            "support_email": None if self.private else support,
            "source": self.source,
            "ticket_id": self.ticket_id,
            "to_emails": [support] if self.incoming else outgoing_to,
            "from_email": requester_email if self.incoming else (None if self.private else support),
            "cc_emails": [],
            "bcc_emails": [],
            "attachments": [],
            "created_at": iso(self.created_at),
            "updated_at": iso(self.created_at),
            "last_edited_at": None,
            "last_edited_user_id": None,
        }


@dataclass
class FakeTicket:
    """One ticket as Freshdesk keeps it; ``stats`` holds POSIX seconds (or None)."""

    id: int
    created_at: float
    updated_at: float
    subject: str
    priority: int
    status: int
    source: int
    requester_id: int
    responder_id: int | None
    group_id: int | None
    product_id: int | None
    type: str | None
    tags: list[str]
    fr_due_by: float | None
    due_by: float | None
    nr_due_by: float | None
    fr_escalated: bool | None
    is_escalated: bool | None
    nr_escalated: bool | None
    spam: bool = False
    stats: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(_STAT_KEYS))
    conversations: list[Conversation] = field(default_factory=list)

    @property
    def requester_email(self) -> str:
        return f"requester-{self.requester_id}@customer.example"

    def to_json(self, with_stats: bool) -> dict[str, Any]:
        record: dict[str, Any] = {
            "cc_emails": [],
            "fwd_emails": [],
            "reply_cc_emails": [],
            "ticket_cc_emails": [],
            "fr_escalated": self.fr_escalated,
            "spam": self.spam,
            "email_config_id": None,
            "group_id": self.group_id,
            "priority": self.priority,
            "requester_id": self.requester_id,
            "responder_id": self.responder_id,
            "source": self.source,
            "company_id": None,
            "status": self.status,
            "subject": self.subject,
            "association_type": None,
            "support_email": None,
            "to_emails": None,
            "product_id": self.product_id,
            "id": self.id,
            "type": self.type,
            "due_by": iso(self.due_by),
            "fr_due_by": iso(self.fr_due_by),
            "is_escalated": self.is_escalated,
            "custom_fields": {},
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "associated_tickets_count": None,
            "tags": list(self.tags),
            "nr_due_by": iso(self.nr_due_by),
            "nr_escalated": self.nr_escalated,
        }
        if with_stats:
            record["stats"] = {key: iso(self.stats[key]) for key in _STAT_KEYS}
        return record


@dataclass(frozen=True)
class Rating:
    """One satisfaction rating (``value`` is ``ratings.default_question``: 103..-103)."""

    id: int
    ticket_id: int
    created_at: float
    value: int
    user_id: int
    agent_id: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "survey_id": 1,
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "feedback": "",
            "group_id": None,
            "ticket_id": self.ticket_id,
            "ratings": {"default_question": self.value},
            "created_at": iso(self.created_at),
            "updated_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class Request:
    """One request the fake answered: which endpoint, its path and query, the status it got."""

    endpoint: str
    path: str
    params: Mapping[str, str]
    status: int
    at: float


@dataclass
class Fault:
    """Answers ``status`` to the next ``times`` requests of an endpoint (None: until healed)."""

    status: int
    retry_after: float | None
    times: int | None


class _BadRequest(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


class FakeFreshdesk:
    """A scripted Freshdesk account served on 127.0.0.1 (see the module documentation).

    ``clock`` is only used for the rate-limit window, the request log and the
    default 30-day listing; every change to the world carries its own time.
    """

    def __init__(
        self,
        api_key: str = "fd-e2e-api-key",
        *,
        rate_limit: int = 5000,
        include_credits: int = 1,
        page_cap: int = PAGE_CAP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.rate_limit = rate_limit
        self.include_credits = include_credits
        self.page_cap = page_cap
        self._clock = clock
        self._lock = threading.RLock()
        self._tickets: dict[int, FakeTicket] = {}
        self._ratings: list[Rating] = []
        self._faults: dict[str, Fault] = {}
        self._log: list[Request] = []
        self._next_conversation = 43000
        self._next_rating = 5000
        self._order: list[tuple[float, int]] | None = None
        self._window_start: float | None = None
        self._window_used = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- serving ---------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            return
        fake = self

        class Handler(_Handler):
            owner = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port (waits at most a few seconds)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def url(self) -> str:
        """The account's root, e.g. ``http://127.0.0.1:40123`` (what ``source.url`` takes)."""
        if self._server is None:
            raise RuntimeError("the fake Freshdesk is not serving; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- the world -------------------------------------------------------------------------------

    def create_ticket(
        self,
        ticket_id: int,
        at: Instant,
        *,
        priority: int = MEDIUM,
        source: int = EMAIL,
        status: int = OPEN,
        subject: str | None = None,
        requester_id: int | None = None,
        responder_id: int | None = AGENT_ID,
        group_id: int | None = 43000190415,
        product_id: int | None = None,
        type: str | None = "Question",
        tags: Iterable[str] = (),
        fr_due_by: Instant | None = None,
        due_by: Instant | None = None,
        nr_due_by: Instant | None = None,
        fr_escalated: bool | None = False,
        is_escalated: bool | None = False,
        nr_escalated: bool | None = False,
    ) -> FakeTicket:
        """A new ticket, created (and last updated) at ``at``."""
        created = instant(at)
        with self._lock:
            if ticket_id in self._tickets:
                raise ValueError(f"ticket {ticket_id} exists already")
            ticket = FakeTicket(
                id=ticket_id,
                created_at=created,
                updated_at=created,
                subject=subject or f"Ticket {ticket_id}",
                priority=priority,
                status=status,
                source=source,
                requester_id=requester_id or REQUESTER_BASE + ticket_id,
                responder_id=responder_id,
                group_id=group_id,
                product_id=product_id,
                type=type,
                tags=list(tags),
                fr_due_by=_optional(fr_due_by),
                due_by=_optional(due_by),
                nr_due_by=_optional(nr_due_by),
                fr_escalated=fr_escalated,
                is_escalated=is_escalated,
                nr_escalated=nr_escalated,
            )
            ticket.stats["status_updated_at"] = created
            if status == PENDING:
                ticket.stats["pending_since"] = created
            self._tickets[ticket_id] = ticket
            self._order = None
            return ticket

    def reply(
        self, ticket_id: int, at: Instant, *, user_id: int = AGENT_ID, text: str = "Reply"
    ) -> None:
        """A public agent reply: sets ``first_responded_at`` once, ``agent_responded_at`` always."""
        when = instant(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            self._converse(ticket, when, user_id, incoming=False, private=False, text=text)
            if ticket.stats["first_responded_at"] is None:
                ticket.stats["first_responded_at"] = when
            ticket.stats["agent_responded_at"] = when
            self._touch(ticket, when)

    def note(
        self,
        ticket_id: int,
        at: Instant,
        *,
        private: bool = True,
        user_id: int = AGENT_ID,
        text: str = "Note",
    ) -> None:
        """A note (internal unless ``private=False``): no stats change, only ``updated_at``."""
        when = instant(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            self._converse(
                ticket, when, user_id, incoming=False, private=private, text=text, kind=NOTE_SOURCE
            )
            self._touch(ticket, when)

    def requester_reply(self, ticket_id: int, at: Instant, *, text: str = "Any news?") -> None:
        """The requester writes; a resolved or closed ticket is reopened by it."""
        when = instant(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            self._converse(
                ticket, when, ticket.requester_id, incoming=True, private=False, text=text
            )
            ticket.stats["requester_responded_at"] = when
            if ticket.status in _SOLVED:
                self._set_status(ticket, OPEN, when)
            self._touch(ticket, when)

    def set_status(self, ticket_id: int, at: Instant, status: int) -> None:
        """A status change at ``at`` (2 open, 3 pending, 4 resolved, 5 closed, 6+ custom)."""
        when = instant(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            self._set_status(ticket, status, when)
            self._touch(ticket, when)

    def update(self, ticket_id: int, at: Instant, **fields: Any) -> None:
        """Any other ticket field (priority, responder_id, fr_due_by, is_escalated, ...)."""
        when = instant(at)
        with self._lock:
            ticket = self._ticket(ticket_id)
            for name, value in fields.items():
                if name in ("id", "created_at", "updated_at", "stats", "conversations"):
                    raise ValueError(f"{name} is not a field a change sets")
                if not hasattr(ticket, name):
                    raise ValueError(f"a Freshdesk ticket has no field {name!r}")
                if name in ("fr_due_by", "due_by", "nr_due_by"):
                    value = _optional(value)
                setattr(ticket, name, value)
            self._touch(ticket, when)

    def rate(
        self, ticket_id: int, at: Instant, value: int = 103, *, rating_id: int | None = None
    ) -> Rating:
        """A satisfaction rating (103 happy ... 100 neutral ... -103 unhappy)."""
        with self._lock:
            ticket = self._ticket(ticket_id)
            if rating_id is None:
                self._next_rating += 1
                rating_id = self._next_rating
            rating = Rating(
                rating_id, ticket_id, instant(at), value, ticket.requester_id, ticket.responder_id
            )
            self._ratings.append(rating)
            self._ratings.sort(key=lambda r: (r.created_at, r.id))
            return rating

    def ticket(self, ticket_id: int) -> FakeTicket:
        with self._lock:
            return self._ticket(ticket_id)

    def _ticket(self, ticket_id: int) -> FakeTicket:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise KeyError(f"no ticket {ticket_id} in the fake Freshdesk")
        return ticket

    def _converse(
        self,
        ticket: FakeTicket,
        when: float,
        user_id: int,
        *,
        incoming: bool,
        private: bool,
        text: str,
        kind: int = REPLY_SOURCE,
    ) -> Conversation:
        self._next_conversation += 1
        conversation = Conversation(
            self._next_conversation, ticket.id, when, user_id, incoming, private, kind, text
        )
        ticket.conversations.append(conversation)
        ticket.conversations.sort(key=lambda c: (c.created_at, c.id))
        return conversation

    @staticmethod
    def _set_status(ticket: FakeTicket, status: int, when: float) -> None:
        stats = ticket.stats
        if ticket.status in _SOLVED and status not in _SOLVED:
            stats["reopened_at"] = when
        if status == RESOLVED:
            stats["resolved_at"] = when
        elif status == CLOSED:
            stats["closed_at"] = when
            if ticket.status != RESOLVED:
                stats["resolved_at"] = when
        stats["pending_since"] = when if status == PENDING else None
        stats["status_updated_at"] = when
        ticket.status = status

    def _touch(self, ticket: FakeTicket, when: float) -> None:
        if when < ticket.updated_at:
            raise ValueError(
                f"ticket {ticket.id}: a change at {iso(when)} is older than its last update "
                f"{iso(ticket.updated_at)}; script the world in time order"
            )
        ticket.updated_at = when
        self._order = None

    # -- faults and the request log ---------------------------------------------------------------

    def fail(
        self,
        endpoint: str,
        status: int = 500,
        *,
        retry_after: float | None = None,
        times: int | None = None,
    ) -> None:
        """Answer ``status`` to the next ``times`` requests of ``endpoint`` (None: until healed).

        ``endpoint`` is ``tickets``, ``conversations`` or ``ratings``; a 429
        gets Freshdesk's ``text/plain`` body, a 5xx a JSON one.
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
        with self._lock:
            self._faults[endpoint] = Fault(status, retry_after, times)

    def heal(self, endpoint: str | None = None) -> None:
        """Remove the fault of one endpoint (or of all)."""
        with self._lock:
            if endpoint is None:
                self._faults.clear()
            else:
                self._faults.pop(endpoint, None)

    @property
    def requests(self) -> list[Request]:
        """Every request answered so far, in order."""
        with self._lock:
            return list(self._log)

    def codes(self) -> Counter[str]:
        """Answers so far by status code (``"200"``, ``"500"``, ...)."""
        with self._lock:
            return Counter(str(r.status) for r in self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- answering -------------------------------------------------------------------------------

    def answer(
        self, path: str, query: Sequence[tuple[str, str]], authorization: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one GET (what the HTTP handler sends)."""
        params = dict(query)
        endpoint = _endpoint(path)
        with self._lock:
            status, headers, body = self._answer(endpoint, path, params, authorization)
            self._log.append(Request(endpoint, path, params, status, self._clock()))
            return status, headers, body

    def _answer(
        self,
        endpoint: str,
        path: str,
        params: Mapping[str, str],
        authorization: str | None,
    ) -> tuple[int, dict[str, str], bytes]:
        if not self._authorized(authorization):
            return 401, _json_type({}), _json(_INVALID_CREDENTIALS)
        now = self._clock()
        if self._window_start is None or now - self._window_start >= 60.0:
            self._window_start, self._window_used = now, 0
        cost = 1 + (self.include_credits if params.get("include") else 0)
        reset = max(1, int(self._window_start + 60.0 - now + 0.999))
        if self._window_used + cost > self.rate_limit:
            headers = self._limit_headers(0, {"Retry-After": str(reset)})
            return 429, _text_type(headers), _text_429()
        self._window_used += cost
        remaining = self.rate_limit - self._window_used
        headers = self._limit_headers(remaining, {"X-Ratelimit-Used-CurrentRequest": str(cost)})
        fault = self._faults.get(endpoint)
        if fault is not None:
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[endpoint]
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            if fault.status == 429:
                return 429, _text_type(headers), _text_429()
            return fault.status, _json_type(headers), _json({"code": "internal_error"})
        try:
            if endpoint == "tickets":
                items, link = self._list_tickets(path, params)
            elif endpoint == "ratings":
                items, link = self._list_ratings(path, params)
            elif endpoint == "conversations":
                match = _CONVERSATIONS.match(path)
                assert match is not None
                ticket = self._tickets.get(int(match.group(1)))
                if ticket is None:
                    return 404, _json_type(headers), _json({"code": "access_denied"})
                email = ticket.requester_email
                items, link = self._page(
                    path, params, ticket.conversations, lambda c: c.to_json(email)
                )
            else:
                return 404, _json_type(headers), _json({"code": "not_found"})
        except _BadRequest as problem:
            error = {
                "field": problem.field_name,
                "message": problem.message,
                "code": "invalid_value",
            }
            body = {"description": "Validation failed", "errors": [error]}
            return 400, _json_type(headers), _json(body)
        if link is not None:
            headers["Link"] = f'<{link}>; rel="next"'
        return 200, _json_type(headers), _json(items)

    def _authorized(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, _ = decoded.partition(":")
        return user == self.api_key

    def _limit_headers(self, remaining: int, extra: Mapping[str, str]) -> dict[str, str]:
        return {
            "X-Ratelimit-Total": str(self.rate_limit),
            "X-Ratelimit-Remaining": str(max(0, remaining)),
            **extra,
        }

    def _list_tickets(
        self, path: str, params: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        order_by = params.get("order_by", "created_at")
        order_type = params.get("order_type", "desc")
        if order_by not in ("created_at", "updated_at"):
            raise _BadRequest(
                "order_by", "It should be one of these values: 'created_at,updated_at'"
            )
        if order_type not in ("asc", "desc"):
            raise _BadRequest("order_type", "It should be one of these values: 'asc,desc'")
        includes = {part for part in params.get("include", "").split(",") if part}
        if includes - {"stats", "requester", "description"}:
            raise _BadRequest(
                "include", "It should be one of these values: 'requester,stats,description'"
            )
        with_stats = "stats" in includes
        since_text = params.get("updated_since")
        if since_text is not None and order_by == "updated_at" and order_type == "asc":
            # what the source asks for, over and over: served from one sorted index
            ordered = self._by_updated_at()
            start = bisect_left(ordered, (_parse_since("updated_since", since_text), -1))
            tickets = self._tickets

            def window(first: int, last: int) -> list[FakeTicket]:
                return [tickets[i] for _, i in ordered[start + first : start + last]]

            return self._paged(
                path, params, len(ordered) - start, window, lambda t: t.to_json(with_stats)
            )
        if since_text is not None:
            since = _parse_since("updated_since", since_text)
            picked = [t for t in self._tickets.values() if t.updated_at >= since]
        else:
            earliest = self._clock() - DEFAULT_LISTING_DAYS * 86400.0
            picked = [t for t in self._tickets.values() if t.created_at >= earliest]
        picked.sort(key=lambda t: (getattr(t, order_by), t.id), reverse=order_type == "desc")
        return self._page(path, params, picked, lambda t: t.to_json(with_stats))

    def _list_ratings(
        self, path: str, params: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        since_text = params.get("created_since")
        if since_text is not None:
            since = _parse_since("created_since", since_text)
        else:
            since = self._clock() - DEFAULT_LISTING_DAYS * 86400.0
        picked = [r for r in self._ratings if r.created_at >= since]
        return self._page(path, params, picked, Rating.to_json)

    def _by_updated_at(self) -> list[tuple[float, int]]:
        if self._order is None:
            self._order = sorted((t.updated_at, t.id) for t in self._tickets.values())
        return self._order

    def _page(
        self,
        path: str,
        params: Mapping[str, str],
        items: Sequence[_Item],
        render: Callable[[_Item], dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self._paged(path, params, len(items), lambda a, b: items[a:b], render)

    def _paged(
        self,
        path: str,
        params: Mapping[str, str],
        count: int,
        window: Callable[[int, int], Sequence[_Item]],
        render: Callable[[_Item], dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``count`` items (``window(first, last)`` gives a slice) and its next link."""
        per_page = _positive("per_page", params.get("per_page", str(DEFAULT_PER_PAGE)))
        if per_page > MAX_PER_PAGE:
            raise _BadRequest("per_page", f"Must be a number less than or equal to {MAX_PER_PAGE}")
        page = _positive("page", params.get("page", "1"))
        if page > self.page_cap:
            raise _BadRequest(
                "page", f"It should be a Positive Integer less than or equal to {self.page_cap}"
            )
        first = (page - 1) * per_page
        rendered = [render(item) for item in window(first, first + per_page)]
        link = None
        if first + per_page < count:
            link = f"{self.url}{path}?{urlencode({**params, 'page': page + 1})}"
        return rendered, link


class _Handler(BaseHTTPRequestHandler):
    """Hands each GET to the owning :class:`FakeFreshdesk`; HTTP/1.1 with keep-alive."""

    owner: FakeFreshdesk
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without this, Nagle's algorithm holds
        # the body until the client's delayed ACK of the headers (40 ms a request)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        status, headers, body = self.owner.answer(
            parts.path, query, self.headers.get("Authorization")
        )
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is :attr:`FakeFreshdesk.requests`."""


def _endpoint(path: str) -> str:
    if path == TICKETS_PATH:
        return "tickets"
    if path == RATINGS_PATH:
        return "ratings"
    if _CONVERSATIONS.match(path):
        return "conversations"
    return "other"


def _optional(value: Instant | None) -> float | None:
    return None if value is None else instant(value)


def _parse_since(name: str, text: str) -> float:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _BadRequest(name, "It should be in the 'YYYY-MM-DDTHH:MM:SSZ' format") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _positive(name: str, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise _BadRequest(name, "It should be a Positive Integer")
    return int(text)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _text_429() -> bytes:
    return _RATE_LIMITED_TEXT.encode()


def _json_type(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8", **headers}


def _text_type(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "text/plain; charset=utf-8", **headers}
