"""An Intercom REST API 2.x double on 127.0.0.1: a scripted workspace of conversations over HTTP.

:class:`FakeIntercom` is a context manager that runs a stdlib
:class:`~http.server.ThreadingHTTPServer` in a thread on a free port of
127.0.0.1 (``.url`` is its root) and serves, from an in-memory world that the
test drives with explicit times, exactly the shapes the Intercom source reads
(recorded examples are in ``tests/sources/fixtures/intercom/``):

* ``POST /conversations/search`` -- a single filter ``{"field": "updated_at",
  "operator": ">"|">="|"<"|"=", "value": <POSIX seconds>}`` (or ``AND``/``OR``
  of such filters) and ``pagination`` (``per_page``: 20 by default, at most
  150; ``starting_after``).  It answers a ``conversation.list`` with
  ``total_count`` and ``pages`` (``type``, ``page``, ``per_page``,
  ``total_pages`` and, when there is more, ``next: {page, starting_after}``).
  Conversations come most recently updated first, and the cursor is
  stateless, as Intercom's is.
* ``GET /conversations/{id}`` -- one conversation with its
  ``conversation_parts``, ``statistics``, ``sla_applied``,
  ``conversation_rating``, ``tags`` and ``source``.

Every request must carry ``Authorization: Bearer <token>``; any other gets 401
with Intercom's ``error.list`` (``unauthorized``, ``Access Token Invalid``).
Answers carry ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (the POSIX second the 10-second window ends) for
:attr:`FakeIntercom.rate_limit` requests a window; a request over it gets 429
with the ``rate_limit_exceeded`` error list and no ``Retry-After``, as
Intercom answers.  The ``Intercom-Version`` header of every request is logged.

Faults are injected per endpoint (``search``, ``conversation``) with
:meth:`FakeIntercom.fail`: an HTTP status (429 or 5xx) for a number of answers
(or until :meth:`FakeIntercom.heal`).

The world: :meth:`~FakeIntercom.create`, :meth:`~FakeIntercom.reply` (by an
``admin`` or a ``bot``), :meth:`~FakeIntercom.note`,
:meth:`~FakeIntercom.customer_reply`, :meth:`~FakeIntercom.close`,
:meth:`~FakeIntercom.reopen`, :meth:`~FakeIntercom.snooze`,
:meth:`~FakeIntercom.unsnooze`, :meth:`~FakeIntercom.assign`,
:meth:`~FakeIntercom.rate` and :meth:`~FakeIntercom.apply_sla` each take the
instant of the change and keep ``updated_at``, ``state``, ``waiting_since``
and ``statistics`` the way Intercom does (``first_admin_reply_at`` is the
first reply by a human admin; bots do not set it).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

SEARCH_PATH = "/conversations/search"
_CONVERSATION = re.compile(r"^/conversations/(\d+)$")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 150
#: Intercom spreads its per-minute limit over 10-second windows.
WINDOW_SECONDS = 10
ENDPOINTS = ("search", "conversation")
#: The admin every reply comes from unless a test says otherwise, and the Fin bot.
ADMIN_ID = "5017691"
FIN_ID = "5017692"
CONTACT_BASE = "6329bd9ffe4e2e91dac76188"

Instant = datetime | float | int


def instant(value: Instant) -> int:
    """POSIX seconds (Intercom's time format) of an aware datetime or of seconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; the fake world runs in aware UTC")
        return int(value.timestamp())
    return int(value)


@dataclass
class Part:
    id: int
    part_type: str
    created_at: int
    author_type: str
    author_id: str
    body: str | None
    #: whom an assignment part gave the conversation to (``{"type": "team", "id": ...}``)
    assigned_to: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        names = {"admin": "Ann Agent", "bot": "Fin", "user": "Casey Customer"}
        return {
            "type": "conversation_part",
            "id": str(self.id),
            "part_type": self.part_type,
            "body": self.body,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "notified_at": self.created_at,
            "assigned_to": self.assigned_to,
            "author": {
                "id": self.author_id,
                "type": self.author_type,
                "name": names.get(self.author_type, "Someone"),
                "email": "",
                "from_ai_agent": self.author_type == "bot",
                "is_ai_answer": self.author_type == "bot" and self.part_type == "comment",
            },
            "attachments": [],
            "external_id": None,
            "redacted": False,
        }


@dataclass
class FakeConversation:
    id: int
    created_at: int
    updated_at: int
    priority: str
    source_type: str
    state: str = "open"
    admin_assignee_id: int | None = None
    team_assignee_id: str | None = None
    tags: list[str] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    rating: tuple[int, int] | None = None
    sla: tuple[str, str] | None = None
    snoozed_until: int | None = None

    def statistics(self) -> dict[str, Any]:
        def first(kind: str, authors: tuple[str, ...]) -> int | None:
            times = [
                p.created_at for p in self.parts if p.part_type == kind and p.author_type in authors
            ]
            return min(times) if times else None

        def last(kind: str, authors: tuple[str, ...]) -> int | None:
            times = [
                p.created_at for p in self.parts if p.part_type == kind and p.author_type in authors
            ]
            return max(times) if times else None

        closes = [p.created_at for p in self.parts if p.part_type == "close"]
        assignments = [
            p.created_at
            for p in self.parts
            if p.assigned_to is not None and p.assigned_to["type"] != "nobody_admin"
        ]
        first_admin = first("comment", ("admin",))
        return {
            "type": "conversation_statistics",
            "time_to_assignment": None,
            "time_to_admin_reply": None if first_admin is None else first_admin - self.created_at,
            "time_to_first_close": None if not closes else min(closes) - self.created_at,
            "time_to_last_close": None if not closes else max(closes) - self.created_at,
            "median_time_to_reply": None,
            "first_contact_reply_at": self.created_at,
            "first_assignment_at": min(assignments) if assignments else None,
            "first_admin_reply_at": first_admin,
            "first_close_at": min(closes) if closes else None,
            "last_assignment_at": max(assignments) if assignments else None,
            "last_assignment_admin_reply_at": None,
            "last_contact_reply_at": last("comment", ("user",)) or self.created_at,
            "last_admin_reply_at": last("comment", ("admin",)),
            "last_close_at": max(closes) if closes else None,
            "last_closed_by_id": ADMIN_ID if closes else None,
            "count_reopens": sum(1 for p in self.parts if p.part_type == "open"),
            "count_assignments": len(assignments),
            "count_conversation_parts": len(self.parts) + 1,
        }

    def waiting_since(self) -> int | None:
        replies = [p for p in self.parts if p.part_type == "comment"]
        if replies and replies[-1].author_type != "user":
            return None
        return replies[-1].created_at if replies else self.created_at

    def to_json(self, full: bool) -> dict[str, Any]:
        contact = f"{CONTACT_BASE}{self.id:06d}"
        body: dict[str, Any] = {
            "type": "conversation",
            "id": str(self.id),
            "title": None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "waiting_since": self.waiting_since(),
            "snoozed_until": self.snoozed_until,
            "open": self.state != "closed",
            "state": self.state,
            "read": True,
            "priority": self.priority,
            "admin_assignee_id": self.admin_assignee_id,
            "team_assignee_id": self.team_assignee_id,
            "tags": {
                "type": "tag.list",
                "tags": [
                    {"type": "tag", "id": str(9000 + i), "name": name}
                    for i, name in enumerate(self.tags)
                ],
            },
            "conversation_rating": None,
            "source": {
                "type": self.source_type,
                "id": str(400000000 + self.id),
                "delivered_as": "customer_initiated",
                "subject": "",
                "body": "<p>Hello, I need help</p>",
                "author": {
                    "type": "user",
                    "id": contact,
                    "name": "Casey Customer",
                    "email": f"casey{self.id}@example.com",
                },
                "attachments": [],
                "url": None,
                "redacted": False,
            },
            "contacts": {
                "type": "contact.list",
                "contacts": [{"type": "contact", "id": contact, "external_id": None}],
            },
            "teammates": {
                "type": "admin.list",
                "admins": [{"type": "admin", "id": ADMIN_ID}],
            },
            "custom_attributes": {},
            "first_contact_reply": {
                "created_at": self.created_at,
                "type": "conversation",
                "url": None,
            },
            "sla_applied": None,
            "statistics": self.statistics(),
            "linked_objects": {
                "type": "list",
                "data": [],
                "total_count": 0,
                "has_more": False,
            },
            "ai_agent_participated": any(p.author_type == "bot" for p in self.parts),
        }
        if self.rating is not None:
            body["conversation_rating"] = {
                "rating": self.rating[0],
                "remark": "",
                "created_at": self.rating[1],
                "contact": {"type": "contact", "id": contact},
                "teammate": {"type": "admin", "id": ADMIN_ID},
            }
        if self.sla is not None:
            body["sla_applied"] = {
                "type": "conversation_sla_summary",
                "sla_name": self.sla[0],
                "sla_status": self.sla[1],
            }
        if full:
            parts = [p.to_json() for p in self.parts[-500:]]
            body["conversation_parts"] = {
                "type": "conversation_part.list",
                "conversation_parts": parts,
                "total_count": len(parts),
            }
        return body


@dataclass
class Request:
    endpoint: str
    method: str
    path: str
    body: Any
    status: int
    version: str | None
    at: float


@dataclass
class Fault:
    status: int
    times: int | None


class FakeIntercom:
    """A scripted Intercom workspace served on 127.0.0.1 (see the module documentation).

    ``clock`` (POSIX seconds) is used for the rate-limit window and the
    request log; every change to the world carries its own time.
    """

    def __init__(
        self,
        token: str = "ic-e2e-access-token",
        *,
        rate_limit: int = 1666,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.rate_limit = rate_limit
        self._clock = clock
        self._lock = threading.RLock()
        self._conversations: dict[int, FakeConversation] = {}
        self._faults: dict[str, Fault] = {}
        self._log: list[Request] = []
        self._next_part = 100
        self._window = -1
        self._used = 0
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
        """The API root, e.g. ``http://127.0.0.1:40123`` (what ``source.url`` takes)."""
        if self._server is None:
            raise RuntimeError("the fake Intercom is not serving; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- the world -------------------------------------------------------------------------------

    def create(
        self,
        conversation_id: int,
        at: Instant,
        *,
        priority: str = "not_priority",
        channel: str = "conversation",
        team: str | None = None,
        tags: tuple[str, ...] = (),
    ) -> None:
        """A customer starts a conversation (``source.author.type`` ``user``)."""
        when = instant(at)
        with self._lock:
            self._conversations[conversation_id] = FakeConversation(
                conversation_id,
                when,
                when,
                priority,
                channel,
                team_assignee_id=team,
                tags=list(tags),
            )

    def reply(
        self, conversation_id: int, at: Instant, *, author: str = "admin", body: str = "On it"
    ) -> None:
        """A public reply by an ``admin`` (a teammate) or a ``bot`` (Fin, Operator)."""
        author_id = FIN_ID if author == "bot" else ADMIN_ID
        self._part(conversation_id, at, "comment", author, author_id, f"<p>{body}</p>")

    def note(self, conversation_id: int, at: Instant) -> None:
        self._part(conversation_id, at, "note", "admin", ADMIN_ID, "<p>internal</p>")

    def customer_reply(self, conversation_id: int, at: Instant) -> None:
        """A customer writes again; a closed or snoozed conversation opens again."""
        conversation = self.conversation(conversation_id)
        self._part(conversation_id, at, "comment", "user", "customer", "<p>Any news?</p>")
        with self._lock:
            conversation.state = "open"
            conversation.snoozed_until = None

    def close(self, conversation_id: int, at: Instant) -> None:
        self._part(conversation_id, at, "close", "admin", ADMIN_ID, None)
        with self._lock:
            self.conversation(conversation_id).state = "closed"

    def reopen(self, conversation_id: int, at: Instant) -> None:
        self._part(conversation_id, at, "open", "admin", ADMIN_ID, None)
        with self._lock:
            self.conversation(conversation_id).state = "open"

    def snooze(self, conversation_id: int, at: Instant, until: Instant) -> None:
        self._part(conversation_id, at, "snoozed", "admin", ADMIN_ID, None)
        with self._lock:
            conversation = self.conversation(conversation_id)
            conversation.state = "snoozed"
            conversation.snoozed_until = instant(until)

    def unsnooze(self, conversation_id: int, at: Instant) -> None:
        self._part(conversation_id, at, "timer_unsnooze", "bot", FIN_ID, None)
        with self._lock:
            conversation = self.conversation(conversation_id)
            conversation.state = "open"
            conversation.snoozed_until = None

    def assign(
        self,
        conversation_id: int,
        at: Instant,
        admin_id: int = int(ADMIN_ID),
        *,
        team_id: str | None = None,
        kind: str = "assignment",
    ) -> None:
        """An assignment part of type ``kind``: to ``team_id`` when given, else to ``admin_id``
        (``0`` is nobody, Intercom's "unassigned")."""
        if team_id is not None:
            to = {"type": "team", "id": team_id}
        elif admin_id == 0:
            to = {"type": "nobody_admin", "id": "0"}
        else:
            to = {"type": "admin", "id": str(admin_id)}
        self._part(conversation_id, at, kind, "admin", ADMIN_ID, None, assigned_to=to)
        with self._lock:
            conversation = self.conversation(conversation_id)
            if team_id is not None:
                conversation.team_assignee_id = team_id
            else:
                conversation.admin_assignee_id = admin_id or None
            if kind in ("assign_and_reopen", "assign_and_unsnooze"):
                conversation.state = "open"

    def rate(self, conversation_id: int, at: Instant, rating: int) -> None:
        """The customer rates the conversation 1 (worst) to 5 (best)."""
        with self._lock:
            conversation = self.conversation(conversation_id)
            conversation.rating = (rating, instant(at))
            conversation.updated_at = max(conversation.updated_at, instant(at))

    def apply_sla(self, conversation_id: int, name: str, status: str, at: Instant) -> None:
        """Set ``sla_applied`` (``active``, ``hit``, ``missed`` or ``cancelled``)."""
        with self._lock:
            conversation = self.conversation(conversation_id)
            conversation.sla = (name, status)
            conversation.updated_at = max(conversation.updated_at, instant(at))

    def conversation(self, conversation_id: int) -> FakeConversation:
        with self._lock:
            return self._conversations[conversation_id]

    def _part(
        self,
        conversation_id: int,
        at: Instant,
        kind: str,
        author_type: str,
        author_id: str,
        body: str | None,
        assigned_to: dict[str, str] | None = None,
    ) -> None:
        when = instant(at)
        with self._lock:
            conversation = self.conversation(conversation_id)
            self._next_part += 1
            conversation.parts.append(
                Part(self._next_part, kind, when, author_type, author_id, body, assigned_to)
            )
            conversation.updated_at = max(conversation.updated_at, when)

    # -- faults and the log -----------------------------------------------------------------------

    def fail(self, endpoint: str, status: int = 500, *, times: int | None = None) -> None:
        """Answer ``status`` to the next ``times`` requests of ``endpoint`` (None: until healed)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
        with self._lock:
            self._faults[endpoint] = Fault(status, times)

    def heal(self, endpoint: str | None = None) -> None:
        with self._lock:
            if endpoint is None:
                self._faults.clear()
            else:
                self._faults.pop(endpoint, None)

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._log)

    def codes(self) -> Counter[str]:
        with self._lock:
            return Counter(str(r.status) for r in self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- answering -------------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, headers: Any, raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request (what the HTTP handler sends)."""
        endpoint = "search" if path == SEARCH_PATH else "conversation"
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            status, out, data = self._answer(endpoint, method, path, headers, body)
            self._log.append(
                Request(
                    endpoint,
                    method,
                    path,
                    body,
                    status,
                    headers.get("Intercom-Version"),
                    self._clock(),
                )
            )
            return status, out, data

    def _answer(
        self,
        endpoint: str,
        method: str,
        path: str,
        headers: Any,
        body: Any,
    ) -> tuple[int, dict[str, str], bytes]:
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, json_type, _errors("unauthorized", "Access Token Invalid")
        now = self._clock()
        window = int(now) // WINDOW_SECONDS
        if window != self._window:
            self._window, self._used = window, 0
        reset = (window + 1) * WINDOW_SECONDS
        limit_headers = {
            **json_type,
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Reset": str(reset),
        }
        if self._used >= self.rate_limit:
            limit_headers["X-RateLimit-Remaining"] = "0"
            return 429, limit_headers, _errors("rate_limit_exceeded", "Rate Limit Exceeded")
        self._used += 1
        limit_headers["X-RateLimit-Remaining"] = str(self.rate_limit - self._used)
        fault = self._faults.get(endpoint)
        if fault is not None:
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[endpoint]
            if fault.status == 429:
                limit_headers["X-RateLimit-Remaining"] = "0"
                return 429, limit_headers, _errors("rate_limit_exceeded", "Rate Limit Exceeded")
            return fault.status, limit_headers, _errors("server_error", "Server Error")
        if endpoint == "search":
            if method != "POST":
                return 404, limit_headers, _errors("not_found", "Resource Not Found")
            try:
                answer = self._search(body)
            except ValueError as problem:
                return 400, limit_headers, _errors("parameter_invalid", str(problem))
            return 200, limit_headers, _json(answer)
        match = _CONVERSATION.match(path)
        conversation = self._conversations.get(int(match.group(1))) if match else None
        if method != "GET" or conversation is None:
            return 404, limit_headers, _errors("conversation_not_found", "Conversation Not Found")
        return 200, limit_headers, _json(conversation.to_json(full=True))

    def _search(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping) or not isinstance(body.get("query"), Mapping):
            raise ValueError("query is required")
        matches = _matcher(body["query"])
        pagination = body.get("pagination") or {}
        per_page = int(pagination.get("per_page", DEFAULT_PER_PAGE))
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        found = sorted(
            (c for c in self._conversations.values() if matches(c)),
            key=lambda c: (-c.updated_at, -c.id),
        )
        offset = 0
        after = pagination.get("starting_after")
        if after:
            offset = int(base64.b64decode(after).decode().split(":", 1)[1])
        page = found[offset : offset + per_page]
        total_pages = max(1, -(-len(found) // per_page))
        number = offset // per_page + 1
        pages: dict[str, Any] = {
            "type": "pages",
            "page": number,
            "per_page": per_page,
            "total_pages": total_pages,
        }
        if offset + per_page < len(found):
            token = base64.b64encode(f"offset:{offset + per_page}".encode()).decode()
            pages["next"] = {"page": number + 1, "starting_after": token}
        return {
            "type": "conversation.list",
            "pages": pages,
            "total_count": len(found),
            "conversations": [c.to_json(full=False) for c in page],
        }


def _matcher(query: Mapping[str, Any]) -> Callable[[FakeConversation], bool]:
    operator = query.get("operator")
    if operator in ("AND", "OR"):
        parts = [_matcher(q) for q in query.get("value") or []]
        if operator == "AND":
            return lambda c: all(p(c) for p in parts)
        return lambda c: any(p(c) for p in parts)
    name, value = query.get("field"), query.get("value")
    if name not in ("updated_at", "created_at") or not isinstance(value, int):
        raise ValueError(f"unsupported filter {query!r}")
    compare: dict[Any, Callable[[int, int], bool]] = {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "=": lambda a, b: a == b,
    }
    test = compare.get(operator)
    if test is None:
        raise ValueError(f"unsupported operator {operator!r}")
    return lambda c: test(getattr(c, str(name)), value)


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to the owning :class:`FakeIntercom`; HTTP/1.1 with keep-alive."""

    owner: FakeIntercom
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, out, body = self.owner.answer(method, urlsplit(self.path).path, self.headers, raw)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in out.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is :attr:`FakeIntercom.requests`."""


def _errors(code: str, message: str) -> bytes:
    return _json(
        {
            "type": "error.list",
            "request_id": "000ekhflr3ft7ra4cnb0",
            "errors": [{"code": code, "message": message}],
        }
    )


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
