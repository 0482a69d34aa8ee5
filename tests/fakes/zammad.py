"""A Zammad REST API v1 double on 127.0.0.1: a scripted world of tickets served over real HTTP.

:class:`FakeZammad` is a context manager that runs a stdlib
:class:`~http.server.ThreadingHTTPServer` in a thread on a free port of
127.0.0.1 (``.url`` is its root) and serves, from an in-memory world that the
test drives with explicit times, the shapes the Zammad source reads (recorded
examples are in ``tests/sources/fixtures/zammad/``):

* ``GET /api/v1/tickets/search`` -- ``query`` (the ``updated_at:>=T`` form,
  colons escaped with backslashes as in Elasticsearch's query syntax, or
  ``*``), ``sort_by`` (``updated_at`` or ``id``), ``order_by`` (``asc`` or
  ``desc``), ``per_page`` (50 by default, at most 200) and ``page``.  With
  ``expand=true`` the answer is a JSON list of expanded tickets; without it,
  Zammad's ``{"tickets": [ids], "tickets_count": n, "assets": {...}}``.
* ``GET /api/v1/ticket_articles/by_ticket/{id}`` -- the ticket's articles,
  oldest first, with ``sender`` and ``type`` by name.
* ``GET /api/v1/ticket_history/{id}`` -- ``{"history": [...], "assets": {}}``,
  oldest first (``type``, ``object``, ``attribute``, ``value_from``,
  ``value_to``, ``created_at``).
* ``GET /api/v1/calendars``, ``GET /api/v1/slas`` and
  ``GET /api/v1/ticket_priorities`` -- whatever the test set with
  :meth:`FakeZammad.set_calendars` / :meth:`FakeZammad.set_slas` (Zammad's
  three default priorities unless it says otherwise).

Times are written as Zammad writes them: ``2026-11-02T08:15:00.000Z``.  A
request without ``Authorization: Token token=<token>`` (the right one) gets
401 with Zammad's JSON error body.  An unknown ticket gets 404.

Faults are injected per endpoint (``search``, ``articles``, ``history``) with
:meth:`FakeZammad.fail`: an HTTP status (429 as a reverse proxy in front of
Zammad sends it, with an optional ``Retry-After``, or 5xx), for a number of
answers or until :meth:`FakeZammad.heal`; or ``body`` to answer 200 with
text that is not JSON.  Every request is logged (:class:`Request`).

The world: :meth:`~FakeZammad.create_ticket`, :meth:`~FakeZammad.article`,
:meth:`~FakeZammad.set_state` and :meth:`~FakeZammad.update` take the
instant the change happens and keep ``updated_at`` (and ``close_at``,
``first_response_at``, ``last_contact_*``) the way Zammad does; escalation
fields are set by the test with :meth:`~FakeZammad.update`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
SEARCH_PATH = "/api/v1/tickets/search"
_ARTICLES = re.compile(r"^/api/v1/ticket_articles/by_ticket/(\d+)$")
_HISTORY = re.compile(r"^/api/v1/ticket_history/(\d+)$")
_UPDATED_SINCE = re.compile(r"^updated_at:>=(\S+)$")
#: Zammad's answer to a request without valid credentials.
UNAUTHORIZED = {"error": "Authentication failed!", "error_human": "Authentication failed!"}
#: Agent every reply comes from unless a test says otherwise.
AGENT_ID = 3
#: ``owner_id`` of nobody (Zammad's placeholder user "-").
NOBODY = 1
STATES = {"new": 1, "open": 2, "pending reminder": 3, "closed": 4, "merged": 5, "pending close": 7}
PRIORITIES = {"1 low": 1, "2 normal": 2, "3 high": 3}
SENDERS = {"Agent": 1, "Customer": 2, "System": 3}
TYPES = {"email": 1, "sms": 2, "chat": 3, "fax": 4, "phone": 5, "web": 11, "note": 10}

Instant = datetime | float | int


def instant(value: Instant) -> float:
    """POSIX seconds of an aware datetime (or of POSIX seconds)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; the fake world runs in aware UTC")
        return value.timestamp()
    return float(value)


def iso(seconds: float | None) -> str | None:
    """Zammad's way of writing an instant: ``2026-11-02T08:15:00.000Z`` (or null)."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def parse_query_time(text: str) -> float:
    """``2026-11-02T08\\:15\\:00.000Z`` (escaped as the query syntax wants) -> POSIX seconds."""
    return datetime.fromisoformat(text.replace("\\", "")).timestamp()


@dataclass
class Request:
    """One request the fake answered."""

    endpoint: str
    path: str
    params: Mapping[str, str]
    status: int


@dataclass
class Fault:
    """Answers ``status`` (or a 200 with ``body``) to the next ``times`` requests (None: always)."""

    status: int
    retry_after: float | None
    times: int | None
    body: str | None = None


@dataclass
class FakeTicket:
    """One ticket with its articles and history."""

    fields: dict[str, Any]
    articles: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


class FakeZammad:
    """A scripted Zammad served on 127.0.0.1 (see the module documentation)."""

    def __init__(self, token: str = "zammad-e2e-token") -> None:
        self.token = token
        self._lock = threading.RLock()
        self._tickets: dict[int, FakeTicket] = {}
        self._faults: dict[str, Fault] = {}
        self._log: list[Request] = []
        self._calendars: list[dict[str, Any]] = []
        self._slas: list[dict[str, Any]] = []
        self._priorities: list[dict[str, Any]] = [
            {"id": number, "name": name, "active": True} for name, number in PRIORITIES.items()
        ]
        self._next_article = 1000
        self._next_history = 5000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: called with the number of the search request about to be answered (1, 2, ...), so a
        #: test can change the world while the listing is being read
        self.before_search: Callable[[int], None] | None = None
        self._searches = 0

    # -- the world --

    def create_ticket(
        self,
        ticket_id: int,
        at: Instant,
        *,
        priority: str = "2 normal",
        state: str = "new",
        channel: str = "email",
        group: str = "Users",
        owner_id: int = NOBODY,
        customer_id: int | None = None,
        kind: str | None = None,
    ) -> None:
        """A ticket opened by its customer's first article (of type ``channel``) at ``at``."""
        when = instant(at)
        customer = customer_id if customer_id is not None else 100 + ticket_id
        with self._lock:
            self._tickets[ticket_id] = FakeTicket(
                fields={
                    "id": ticket_id,
                    "group_id": 1,
                    "priority_id": PRIORITIES.get(priority, 2),
                    "state_id": STATES.get(state, 2),
                    "organization_id": None,
                    "number": str(31000 + ticket_id),
                    "title": f"Ticket {ticket_id}",
                    "owner_id": owner_id,
                    "customer_id": customer,
                    "note": None,
                    "first_response_at": None,
                    "first_response_escalation_at": None,
                    "first_response_in_min": None,
                    "first_response_diff_in_min": None,
                    "close_at": None,
                    "close_escalation_at": None,
                    "close_in_min": None,
                    "close_diff_in_min": None,
                    "update_escalation_at": None,
                    "update_in_min": None,
                    "update_diff_in_min": None,
                    "last_close_at": None,
                    "last_contact_at": iso(when),
                    "last_contact_agent_at": None,
                    "last_contact_customer_at": iso(when),
                    "last_owner_update_at": None,
                    "create_article_type_id": TYPES.get(channel, 1),
                    "create_article_sender_id": SENDERS["Customer"],
                    "article_count": 0,
                    "escalation_at": None,
                    "pending_time": None,
                    "type": kind,
                    "time_unit": None,
                    "preferences": {},
                    "updated_by_id": customer,
                    "created_by_id": customer,
                    "created_at": iso(when),
                    "updated_at": iso(when),
                    "article_ids": [],
                    "ticket_time_accounting_ids": [],
                    "group": group,
                    "organization": None,
                    "ticket_time_accounting": [],
                    "state": state,
                    "priority": priority,
                    "owner": "-" if owner_id == NOBODY else f"agent-{owner_id}@acme.example",
                    "customer": f"customer-{customer}@example.com",
                    "created_by": f"customer-{customer}@example.com",
                    "updated_by": f"customer-{customer}@example.com",
                    "create_article_type": channel,
                    "create_article_sender": "Customer",
                }
            )
            self._history(ticket_id, when, "created", None, None, None)
            self.article(ticket_id, when, "Customer", type=channel, by=customer)

    def article(
        self,
        ticket_id: int,
        at: Instant,
        sender: str,
        *,
        internal: bool = False,
        type: str = "email",
        by: int | None = None,
    ) -> None:
        """An article from ``Customer``, ``Agent`` or ``System`` (``type`` ``note`` for a note)."""
        when = instant(at)
        with self._lock:
            ticket = self._tickets[ticket_id]
            self._next_article += 1
            author = by if by is not None else (AGENT_ID if sender != "Customer" else 100)
            ticket.articles.append(
                {
                    "id": self._next_article,
                    "ticket_id": ticket_id,
                    "type_id": TYPES.get(type, 1),
                    "sender_id": SENDERS[sender],
                    "from": "Support <support@acme.example>"
                    if sender != "Customer"
                    else "Customer <customer@example.com>",
                    "to": None,
                    "cc": None,
                    "subject": None,
                    "reply_to": None,
                    "message_id": None,
                    "message_id_md5": None,
                    "in_reply_to": None,
                    "content_type": "text/html",
                    "references": None,
                    "body": "<div>...</div>",
                    "internal": internal,
                    "preferences": {},
                    "updated_by_id": author,
                    "created_by_id": author,
                    "origin_by_id": None,
                    "created_at": iso(when),
                    "updated_at": iso(when),
                    "detected_language": None,
                    "attachments": [],
                    "type": type,
                    "sender": sender,
                    "created_by": f"user-{author}",
                    "updated_by": f"user-{author}",
                    "time_unit": None,
                }
            )
            fields = ticket.fields
            fields["article_count"] = len(ticket.articles)
            fields["article_ids"] = [a["id"] for a in reversed(ticket.articles)]
            communication = not internal and type != "note"
            if sender == "Agent" and communication:
                fields["last_contact_agent_at"] = iso(when)
                fields["last_contact_at"] = iso(when)
                if fields["first_response_at"] is None:
                    fields["first_response_at"] = iso(when)
            elif sender == "Customer" and communication:
                fields["last_contact_customer_at"] = iso(when)
                fields["last_contact_at"] = iso(when)
            fields["updated_at"] = iso(when)

    def set_state(self, ticket_id: int, at: Instant, state: str) -> None:
        """A state change by an agent (``closed`` also sets ``close_at`` the first time)."""
        when = instant(at)
        with self._lock:
            fields = self._tickets[ticket_id].fields
            before = fields["state"]
            fields["state"] = state
            fields["state_id"] = STATES.get(state, 2)
            if state == "closed":
                if fields["close_at"] is None:
                    fields["close_at"] = iso(when)
                fields["last_close_at"] = iso(when)
            fields["updated_at"] = iso(when)
            self._history(ticket_id, when, "updated", "state", before, state)

    def assign(
        self,
        ticket_id: int,
        at: Instant,
        *,
        owner_id: int | None = None,
        group_id: int | None = None,
    ) -> None:
        """An agent gives the ticket to an owner (``1`` is nobody) and/or another group."""
        when = instant(at)
        with self._lock:
            fields = self._tickets[ticket_id].fields
            for attribute, value in (("owner", owner_id), ("group", group_id)):
                if value is None:
                    continue
                before = fields[f"{attribute}_id"]
                fields[f"{attribute}_id"] = value
                self._history(ticket_id, when, "updated", attribute, None, None)
                entry = self._tickets[ticket_id].history[-1]
                entry.update(id_from=before, id_to=value)
                entry.update(value_from=str(before), value_to=str(value))
            fields["updated_at"] = iso(when)

    def update(self, ticket_id: int, at: Instant | None = None, **values: Any) -> None:
        """Set ticket fields (instants given as datetimes are written Zammad's way)."""
        with self._lock:
            fields = self._tickets[ticket_id].fields
            for key, value in values.items():
                fields[key] = iso(instant(value)) if isinstance(value, datetime) else value
            if at is not None:
                fields["updated_at"] = iso(instant(at))

    def load(
        self,
        tickets: list[dict[str, Any]],
        articles: Mapping[str, list[dict[str, Any]]],
        history: Mapping[str, dict[str, Any]],
    ) -> None:
        """Seed the world with recorded answers (expanded tickets, articles, history by id)."""
        with self._lock:
            for record in tickets:
                key = str(record["id"])
                self._tickets[int(record["id"])] = FakeTicket(
                    fields=dict(record),
                    articles=list(articles.get(key, [])),
                    history=list(history.get(key, {}).get("history", [])),
                )

    def set_calendars(self, calendars: list[dict[str, Any]]) -> None:
        self._calendars = calendars

    def set_slas(
        self, slas: list[dict[str, Any]], priorities: list[dict[str, Any]] | None = None
    ) -> None:
        self._slas = slas
        if priorities is not None:
            self._priorities = priorities

    def _history(
        self,
        ticket_id: int,
        when: float,
        kind: str,
        attribute: str | None,
        before: str | None,
        after: str | None,
    ) -> None:
        self._next_history += 1
        entry: dict[str, Any] = {
            "id": self._next_history,
            "o_id": ticket_id,
            "related_o_id": None,
            "value_from": before,
            "value_to": after,
            "id_from": STATES.get(before or "") if before else None,
            "id_to": STATES.get(after or "") if after else None,
            "created_by_id": AGENT_ID,
            "created_at": iso(when),
            "object": "Ticket",
            "type": kind,
        }
        if attribute is not None:
            entry["attribute"] = attribute
        self._tickets[ticket_id].history.append(entry)

    # -- faults and the request log --

    def fail(
        self,
        endpoint: str,
        status: int = 500,
        *,
        retry_after: float | None = None,
        times: int | None = None,
        body: str | None = None,
    ) -> None:
        with self._lock:
            self._faults[endpoint] = Fault(status, retry_after, times, body)

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._log)

    def count(self, endpoint: str) -> int:
        return sum(1 for r in self.requests if r.endpoint == endpoint)

    # -- HTTP --

    def answer(
        self, path: str, params: Mapping[str, str], auth: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        endpoint = _endpoint(path)
        with self._lock:
            status, headers, body = self._answer(endpoint, path, params, auth)
            self._log.append(Request(endpoint, path, dict(params), status))
        return status, headers, body

    def _answer(
        self, endpoint: str, path: str, params: Mapping[str, str], auth: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        if auth != f"Token token={self.token}":
            return 401, {}, json.dumps(UNAUTHORIZED).encode()
        fault = self._faults.get(endpoint)
        if fault is not None:
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[endpoint]
            if fault.body is not None:
                return 200, {}, fault.body.encode()
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            if fault.status == 429:
                return 429, {**headers, "Content-Type": "text/html"}, b"<html>429 Too Many</html>"
            return fault.status, headers, json.dumps({"error": "Internal Server Error"}).encode()
        if endpoint == "search":
            self._searches += 1
            if self.before_search is not None:
                self.before_search(self._searches)
            return self._search(params)
        if endpoint in ("articles", "history"):
            match = (_ARTICLES if endpoint == "articles" else _HISTORY).match(path)
            ticket = self._tickets.get(int(match.group(1))) if match else None
            if ticket is None:
                return 404, {}, json.dumps({"error": "Couldn't find Ticket"}).encode()
            if endpoint == "articles":
                articles = sorted(ticket.articles, key=lambda a: (a["created_at"], a["id"]))
                return 200, {}, json.dumps(articles).encode()
            return 200, {}, json.dumps({"history": ticket.history, "assets": {}}).encode()
        if endpoint == "calendars":
            return 200, {}, json.dumps(self._calendars).encode()
        if endpoint == "slas":
            return 200, {}, json.dumps(self._slas).encode()
        if endpoint == "priorities":
            return 200, {}, json.dumps(self._priorities).encode()
        return 404, {}, json.dumps({"error": "No route matches"}).encode()

    def _search(self, params: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        query = params.get("query", "").strip()
        since: float | None = None
        if query not in ("", "*"):
            match = _UPDATED_SINCE.match(query)
            if match is None:
                return 422, {}, json.dumps({"error": f"unsupported query {query!r}"}).encode()
            since = parse_query_time(match.group(1))
        per_page = min(int(params.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
        page = max(int(params.get("page", 1)), 1)
        key = params.get("sort_by", "id")
        records = [
            t.fields for t in self._tickets.values() if since is None or _updated(t.fields) >= since
        ]
        if key == "updated_at":
            records.sort(key=lambda r: (_updated(r), r["id"]))
        else:
            records.sort(key=lambda r: r["id"])
        if params.get("order_by") == "desc":
            records.reverse()
        chosen = records[(page - 1) * per_page : page * per_page]
        if params.get("expand") == "true":
            return 200, {}, json.dumps(chosen).encode()
        body = {
            "tickets": [r["id"] for r in chosen],
            "tickets_count": len(chosen),
            "assets": {"Ticket": {str(r["id"]): r for r in chosen}},
        }
        return 200, {}, json.dumps(body).encode()

    # -- the server --

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first (use it as a context manager)"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query))
                status, headers, body = fake.answer(
                    parts.path, params, self.headers.get("Authorization")
                )
                self.send_response(status)
                headers.setdefault("Content-Type", "application/json; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)


def _updated(fields: Mapping[str, Any]) -> float:
    """``updated_at`` of a ticket; a broken one (a test's doing) sorts last and always matches."""
    try:
        return parse_query_time(fields["updated_at"])
    except (TypeError, ValueError, AttributeError):
        return float("inf")


def _endpoint(path: str) -> str:
    if path == SEARCH_PATH:
        return "search"
    if _ARTICLES.match(path):
        return "articles"
    if _HISTORY.match(path):
        return "history"
    if path == "/api/v1/calendars":
        return "calendars"
    if path == "/api/v1/slas":
        return "slas"
    if path == "/api/v1/ticket_priorities":
        return "priorities"
    return "other"
