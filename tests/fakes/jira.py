"""A Jira Service Management double on 127.0.0.1: a scripted site of requests served over HTTP.

:class:`FakeJira` is a context manager that runs a stdlib
:class:`~http.server.ThreadingHTTPServer` on a free port of 127.0.0.1 (``.url``
is the site's root) and answers, from an in-memory world the test drives with
explicit times, the shapes of Jira's public REST APIs that the Jira source
reads (recorded examples: ``tests/sources/fixtures/jira/``):

* ``GET /rest/api/3/myself`` (Cloud) and ``/rest/api/2/myself`` (Data Center):
  the API user, with ``timeZone``.
* ``GET /rest/api/3/search/jql`` (Cloud: ``nextPageToken``, ``isLast``; an
  opaque token) and ``GET /rest/api/2/search`` (Data Center: ``startAt``,
  ``maxResults``, ``total``).  The JQL understood is what the source sends:
  ``updated >= "yyyy/MM/dd HH:mm"``, optionally ``AND project in ("A", "B")``,
  then ``ORDER BY updated ASC, key ASC``.  The date literal is read in the API
  user's time zone, as Jira does.  ``maxResults`` above 100 is served as 100.
  ``expand=changelog`` adds the changelog and the ``comment`` field holds the
  comments, each with its real ``total``; Cloud embeds at most 20 of each
  (:data:`CLOUD_EMBEDDED`), as ``search/jql`` does, Data Center all of them.  Times are written
  as Jira writes them, ``2026-11-02T09:15:00.000+0100``, in the user's zone.
  Cloud comments carry ``jsdPublic``; Data Center ones do not.
* ``GET /rest/api/3/issue/{key}/changelog``: ``startAt``/``maxResults``/
  ``total``/``isLast``/``values``.
* ``GET /rest/servicedeskapi/request/{key}/comment`` and ``.../sla``: the
  service-desk pages (``start``, ``limit``, ``size``, ``isLastPage``,
  ``values``); dates as ``{"iso8601", "jira", "friendly", "epochMillis"}``,
  durations as ``{"millis", "friendly"}``.

Cloud sites (``cloud=True``) take HTTP basic auth ``email:token``; Data
Center ones ``Authorization: Bearer token``.  Anything else gets 401 with
Jira's error body ``{"errorMessages": [...], "errors": {}}``; a search naming
an unknown project gets 400 with the same shape.  Every answer carries
``X-RateLimit-Limit`` and ``X-RateLimit-Remaining`` for a fixed one-minute
window of :attr:`FakeJira.rate_limit` requests; over it, 429 with
``Retry-After`` (seconds), ``X-RateLimit-Reset`` (``yyyy-MM-ddTHH:mmZ``) and
``RateLimit-Reason``.

Faults per endpoint (``myself``, ``search``, ``comments``, ``changelog``,
``sla``) with :meth:`FakeJira.fail`: a status (429, 5xx, 401, or 200 with a
body that is not JSON: ``status=200, body=b"..."``), an optional
``Retry-After`` and a number of answers.  Every request is logged
(:class:`Request`) for assertions.
"""

from __future__ import annotations

import base64
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
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

#: Largest ``maxResults`` a search with fields is served.
MAX_RESULTS = 100
#: Comments and changelog items Cloud's ``search/jql`` embeds per issue, at most.
CLOUD_EMBEDDED = 20
#: Endpoints, as named in faults and in the request log.
ENDPOINTS = ("myself", "search", "comments", "changelog", "sla")
#: Users of the scripted world.
AGENT = "agent"
OTHER_AGENT = "agent-2"
AUTOMATION = "automation"
#: Status names and their categories, as Jira Service Management's workflows name them.
CATEGORIES = {
    "Open": "new",
    "Waiting for support": "new",
    "In progress": "indeterminate",
    "Waiting for customer": "indeterminate",
    "Pending": "indeterminate",
    "Escalated": "indeterminate",
    "Resolved": "done",
    "Closed": "done",
    "Canceled": "done",
}
_CATEGORY_NAMES = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
_CATEGORY_IDS = {"new": 2, "indeterminate": 4, "done": 3}
_PRIORITY_IDS = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
_JQL = re.compile(
    r'^updated >= "(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2})"'
    r"(?: AND project in \(([^)]*)\))? ORDER BY updated ASC, key ASC$"
)
_ISSUE_PATH = re.compile(r"^/rest/api/3/issue/([A-Z][A-Z0-9_]*-\d+)/changelog$")
_REQUEST_PATH = re.compile(r"^/rest/servicedeskapi/request/([A-Z][A-Z0-9_]*-\d+)/(comment|sla)$")
_ISSUE_EXPANDS = (
    "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
)
_UNAUTHORIZED = {
    "errorMessages": [
        "You are not authenticated. Authentication required to perform this operation."
    ],
    "errors": {},
}

Instant = datetime | float | int


def instant(value: Instant) -> float:
    """POSIX seconds of an aware datetime (or of POSIX seconds)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; the fake world runs in aware UTC")
        return value.timestamp()
    return float(value)


# --- the world ----------------------------------------------------------------------------------


@dataclass
class Comment:
    id: int
    created: float
    author: str
    public: bool
    body: str


@dataclass
class History:
    id: int
    created: float
    author: str
    items: list[dict[str, Any]]


@dataclass
class Cycle:
    """One SLA cycle: ``stop`` None makes it the ongoing one."""

    start: float
    goal: float
    stop: float | None = None
    breach_time: float | None = None
    breached: bool = False
    paused: bool = False


@dataclass
class Sla:
    id: int
    name: str
    completed: list[Cycle] = field(default_factory=list)
    ongoing: Cycle | None = None


@dataclass
class Issue:
    id: int
    key: str
    created: float
    updated: float
    status: str
    priority: str | None
    reporter: str
    assignee: str | None
    issue_type: str
    labels: list[str]
    comments: list[Comment] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)
    slas: list[Sla] = field(default_factory=list)

    @property
    def project(self) -> str:
        return self.key.rsplit("-", 1)[0]


@dataclass(frozen=True)
class Request:
    """One request the fake answered: endpoint, path, query, status."""

    endpoint: str
    path: str
    params: Mapping[str, str]
    status: int
    at: float


@dataclass
class Fault:
    status: int
    retry_after: float | None
    times: int | None
    body: bytes | None


class FakeJira:
    """A scripted Jira Service Management site served on 127.0.0.1 (see the module docs).

    ``time_zone`` is the API user's (``myself``): JQL literals are read in it
    and times are written with its offset.  ``clock`` drives the rate-limit
    window and the request log only; every change carries its own time.
    """

    def __init__(
        self,
        *,
        cloud: bool = True,
        email: str = "ops@acme.example",
        token: str = "jira-e2e-api-token",
        time_zone: str = "Europe/Paris",
        rate_limit: int = 5000,
        embedded_comments: int | None = None,
        embedded_changelog: int | None = None,
        customer_accounts: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cloud = cloud
        self.email = email
        self.token = token
        self.zone = ZoneInfo(time_zone)
        self.time_zone = time_zone
        self.rate_limit = rate_limit
        #: Cloud's search/jql embeds at most 20 comments and 20 changelog items; Data
        #: Center's search embeds them all
        limit = CLOUD_EMBEDDED if cloud else None
        self.embedded_comments = embedded_comments if embedded_comments is not None else limit
        self.embedded_changelog = embedded_changelog if embedded_changelog is not None else limit
        #: Cloud users carry ``accountType`` (``atlassian``, ``customer``, ``app``)
        self.customer_accounts = customer_accounts
        self._clock = clock
        self._lock = threading.RLock()
        self._issues: dict[str, Issue] = {}
        self._projects: set[str] = set()
        #: project key -> projectTypeKey (``service_desk`` unless added otherwise)
        self.project_types: dict[str, str] = {}
        self._faults: dict[str, Fault] = {}
        self._log: list[Request] = []
        self._next_id = 10000
        #: status name -> category key (``new``, ``indeterminate``, ``done``)
        self.categories = dict(CATEGORIES)
        self._order: list[tuple[float, str, int, Issue]] | None = None
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
        if self._server is None:
            raise RuntimeError("the fake Jira is not serving; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- the world -------------------------------------------------------------------------------

    def add_project(self, key: str, kind: str = "service_desk") -> None:
        """A project; ``kind`` is its ``projectTypeKey`` (``software``, ``business``, ...)."""
        with self._lock:
            self._projects.add(key)
            self.project_types[key] = kind

    def create_issue(
        self,
        key: str,
        at: Instant,
        *,
        priority: str | None = "Medium",
        status: str = "Waiting for support",
        reporter: str | None = None,
        assignee: str | None = None,
        issue_type: str = "Get IT help",
        labels: Iterable[str] = (),
    ) -> Issue:
        """A new request, created (and last updated) at ``at``; its reporter is a customer."""
        created = instant(at)
        with self._lock:
            if key in self._issues:
                raise ValueError(f"issue {key} exists already")
            self._next_id += 1
            issue = Issue(
                id=self._next_id,
                key=key,
                created=created,
                updated=created,
                status=status,
                priority=priority,
                reporter=reporter or f"customer-{key}",
                assignee=assignee,
                issue_type=issue_type,
                labels=list(labels),
            )
            self._issues[key] = issue
            self._projects.add(issue.project)
            self._order = None
            return issue

    def comment(
        self, key: str, at: Instant, *, author: str = AGENT, public: bool = True, body: str = "Hi"
    ) -> Comment:
        """A comment; ``author`` is a user name (the reporter's is ``customer-KEY``)."""
        when = instant(at)
        with self._lock:
            issue = self._issue(key)
            self._next_id += 1
            comment = Comment(self._next_id, when, author, public, body)
            issue.comments.append(comment)
            self._touch(issue, when)
            return comment

    def reply(self, key: str, at: Instant, *, public: bool = True) -> Comment:
        """The reporter (the customer) writes."""
        return self.comment(key, at, author=self._issue(key).reporter, public=public)

    def transition(
        self,
        key: str,
        at: Instant,
        status: str,
        *,
        author: str = AGENT,
        category: str | None = None,
    ) -> None:
        """A status change; ``category`` (``new``, ``indeterminate``, ``done``) for a custom one."""
        when = instant(at)
        with self._lock:
            if category is not None:
                self.categories[status] = category
            issue = self._issue(key)
            item = {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": str(_status_id(issue.status)),
                "fromString": issue.status,
                "to": str(_status_id(status)),
                "toString": status,
            }
            issue.status = status
            self._history(issue, when, author, [item])

    def assign(self, key: str, at: Instant, assignee: str, *, author: str = AGENT) -> None:
        when = instant(at)
        with self._lock:
            issue = self._issue(key)
            item = {
                "field": "assignee",
                "fieldtype": "jira",
                "fieldId": "assignee",
                "from": issue.assignee,
                "fromString": issue.assignee,
                "to": assignee,
                "toString": assignee,
            }
            issue.assignee = assignee
            self._history(issue, when, author, [item])

    def set_sla(
        self,
        key: str,
        name: str,
        completed: Sequence[Cycle] = (),
        ongoing: Cycle | None = None,
    ) -> None:
        """The request's SLA ``name`` as Jira computed it (does not change ``updated``)."""
        with self._lock:
            issue = self._issue(key)
            existing = next((s for s in issue.slas if s.name == name), None)
            if existing is None:
                self._next_id += 1
                existing = Sla(self._next_id, name)
                issue.slas.append(existing)
            existing.completed = list(completed)
            existing.ongoing = ongoing

    def issue(self, key: str) -> Issue:
        with self._lock:
            return self._issue(key)

    def _issue(self, key: str) -> Issue:
        issue = self._issues.get(key)
        if issue is None:
            raise KeyError(f"no issue {key} in the fake Jira")
        return issue

    def _history(self, issue: Issue, when: float, author: str, items: list[dict[str, Any]]) -> None:
        self._next_id += 1
        issue.histories.append(History(self._next_id, when, author, items))
        self._touch(issue, when)

    def _touch(self, issue: Issue, when: float) -> None:
        if when < issue.updated:
            raise ValueError(f"issue {issue.key}: script the world in time order")
        issue.updated = when
        self._order = None

    def _by_updated(self) -> list[tuple[float, str, int, Issue]]:
        """Every issue, oldest change first (kept until the world changes)."""
        if self._order is None:
            self._order = sorted(
                (i.updated, i.project, int(i.key.rsplit("-", 1)[1]), i)
                for i in self._issues.values()
            )
        return self._order

    # -- faults and the request log ---------------------------------------------------------------

    def fail(
        self,
        endpoint: str,
        status: int = 500,
        *,
        retry_after: float | None = None,
        times: int | None = None,
        body: bytes | None = None,
    ) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
        with self._lock:
            self._faults[endpoint] = Fault(status, retry_after, times, body)

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
        self, path: str, query: Sequence[tuple[str, str]], authorization: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        params = dict(query)
        endpoint = self._endpoint(path)
        with self._lock:
            status, headers, body = self._answer(endpoint, path, params, authorization)
            self._log.append(Request(endpoint, path, params, status, self._clock()))
            return status, headers, body

    def _endpoint(self, path: str) -> str:
        version = "3" if self.cloud else "2"
        if path == f"/rest/api/{version}/myself":
            return "myself"
        if path == ("/rest/api/3/search/jql" if self.cloud else "/rest/api/2/search"):
            return "search"
        if self.cloud and _ISSUE_PATH.match(path):
            return "changelog"
        match = _REQUEST_PATH.match(path)
        if match:
            return "comments" if match.group(2) == "comment" else "sla"
        return "other"

    def _answer(
        self, endpoint: str, path: str, params: Mapping[str, str], authorization: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        if not self._authorized(authorization):
            return 401, _json_type({}), _json(_UNAUTHORIZED)
        now = self._clock()
        if self._window_start is None or now - self._window_start >= 60.0:
            self._window_start, self._window_used = now, 0
        reset_in = max(1, int(self._window_start + 60.0 - now + 0.999))
        if self._window_used >= self.rate_limit:
            return 429, self._limited(reset_in, "jira-quota-global-based"), b"Rate limit exceeded."
        self._window_used += 1
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - self._window_used)),
        }
        fault = self._faults.get(endpoint)
        if fault is not None:
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[endpoint]
            if fault.status == 429:
                wait = fault.retry_after
                limited = self._limited(reset_in if wait is None else wait, "jira-cost-based")
                if wait is None:
                    del limited["Retry-After"]
                return 429, limited, b"Rate limit exceeded."
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            if fault.body is not None:
                return fault.status, _json_type(headers), fault.body
            if fault.status == 401:
                return 401, _json_type(headers), _json(_UNAUTHORIZED)
            error = {"errorMessages": ["Internal server error"], "errors": {}}
            return fault.status, _json_type(headers), _json(error)
        if endpoint == "myself":
            return 200, _json_type(headers), _json(self._myself())
        if endpoint == "search":
            return self._search(params, headers)
        if endpoint == "changelog":
            match = _ISSUE_PATH.match(path)
            assert match is not None
            issue = self._issues.get(match.group(1))
            if issue is None:
                return self._not_found(
                    headers, "Issue does not exist or you do not have permission to see it."
                )
            return 200, _json_type(headers), _json(self._changelog_page(issue, params))
        if endpoint in ("comments", "sla"):
            match = _REQUEST_PATH.match(path)
            assert match is not None
            issue = self._issues.get(match.group(1))
            if issue is None:
                return self._not_found(headers, "The request could not be found.")
            values: list[dict[str, Any]]
            if endpoint == "comments":
                values = [self._desk_comment(issue, c) for c in issue.comments]
            else:
                values = [self._sla(issue, s) for s in issue.slas]
            return 200, _json_type(headers), _json(self._desk_page(path, params, values))
        return self._not_found(headers, "null for uri: " + path)

    def _limited(self, wait: float, reason: str) -> dict[str, str]:
        reset = datetime.fromtimestamp(self._clock() + wait, UTC).strftime("%Y-%m-%dT%H:%MZ")
        return {
            "Content-Type": "text/plain; charset=utf-8",
            "Retry-After": f"{wait:g}",
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
            "RateLimit-Reason": reason,
        }

    @staticmethod
    def _not_found(headers: dict[str, str], message: str) -> tuple[int, dict[str, str], bytes]:
        return 404, _json_type(headers), _json({"errorMessages": [message], "errors": {}})

    def _authorized(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        if self.cloud:
            if not authorization.startswith("Basic "):
                return False
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except ValueError:
                return False
            return decoded == f"{self.email}:{self.token}"
        return authorization == f"Bearer {self.token}"

    @property
    def _api(self) -> str:
        return f"{self.url}/rest/api/{'3' if self.cloud else '2'}"

    # -- shapes ------------------------------------------------------------------------------------

    def _time(self, seconds: float) -> str:
        """Jira's way of writing an instant: ``2026-11-02T09:15:00.000+0100`` in the user's zone."""
        local = datetime.fromtimestamp(seconds, UTC).astimezone(self.zone)
        return (
            local.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{local.microsecond // 1000:03d}"
            + local.strftime("%z")
        )

    def _date(self, seconds: float) -> dict[str, Any]:
        """A service-desk date object."""
        local = datetime.fromtimestamp(seconds, UTC).astimezone(self.zone)
        return {
            "iso8601": local.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "jira": self._time(seconds),
            "friendly": local.strftime("%d/%b/%y %I:%M %p"),
            "epochMillis": round(seconds * 1000),
        }

    @staticmethod
    def _duration(seconds: float) -> dict[str, Any]:
        minutes = int(abs(seconds) // 60)
        sign = "-" if seconds < 0 else ""
        return {
            "millis": round(seconds * 1000),
            "friendly": f"{sign}{minutes // 60}h {minutes % 60}m",
        }

    def _user(self, name: str, reporter: str | None = None) -> dict[str, Any]:
        if self.cloud:
            user: dict[str, Any] = {
                "self": f"{self.url}/rest/api/3/user?accountId=id-{name}",
                "accountId": f"id-{name}",
                "displayName": name.replace("-", " ").title(),
                "active": True,
                "timeZone": self.time_zone,
            }
            if self.customer_accounts:
                if name == AUTOMATION:
                    user["accountType"] = "app"
                elif name.startswith("customer"):
                    user["accountType"] = "customer"
                else:
                    user["accountType"] = "atlassian"
            return user
        return {
            "self": f"{self.url}/rest/api/2/user?username={name}",
            "name": name,
            "key": f"JIRAUSER-{name}",
            "emailAddress": f"{name}@acme.example",
            "displayName": name.replace("-", " ").title(),
            "active": True,
            "timeZone": self.time_zone,
        }

    def _myself(self) -> dict[str, Any]:
        user = self._user("ops")
        user["timeZone"] = self.time_zone
        user["locale"] = "en_GB"
        return user

    def _comment(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        body: Any = comment.body
        if self.cloud:
            body = {
                "type": "doc",
                "version": 1,
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": comment.body}]}
                ],
            }
        record: dict[str, Any] = {
            "self": f"{self._api}/issue/{issue.id}/comment/{comment.id}",
            "id": str(comment.id),
            "author": self._user(comment.author),
            "body": body,
            "updateAuthor": self._user(comment.author),
            "created": self._time(comment.created),
            "updated": self._time(comment.created),
        }
        if self.cloud:
            record["jsdPublic"] = comment.public
        return record

    def _desk_comment(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        user = self._user(comment.author)
        author = {
            k: v
            for k, v in user.items()
            if k
            in ("accountId", "key", "name", "emailAddress", "displayName", "active", "timeZone")
        }
        author["_links"] = {"self": user["self"]}
        return {
            "_expands": ["attachment", "renderedBody"],
            "id": str(comment.id),
            "body": comment.body,
            "public": comment.public,
            "author": author,
            "created": self._date(comment.created),
            "_links": {
                "self": f"{self.url}/rest/servicedeskapi/request/{issue.id}/comment/{comment.id}"
            },
        }

    def _history_json(self, history: History) -> dict[str, Any]:
        return {
            "id": str(history.id),
            "author": self._user(history.author),
            "created": self._time(history.created),
            "items": history.items,
        }

    def _issue_json(self, issue: Issue, changelog: bool) -> dict[str, Any]:
        version = "3" if self.cloud else "2"
        category = self.categories.get(issue.status, "indeterminate")
        comments = issue.comments[: self.embedded_comments]  # [:None] is all
        fields: dict[str, Any] = {
            "created": self._time(issue.created),
            "updated": self._time(issue.updated),
            "status": {
                "self": f"{self.url}/rest/api/{version}/status/{_status_id(issue.status)}",
                "description": "",
                "iconUrl": f"{self.url}/images/icons/statuses/generic.png",
                "name": issue.status,
                "id": str(_status_id(issue.status)),
                "statusCategory": {
                    "self": f"{self._api}/statuscategory/{_CATEGORY_IDS[category]}",
                    "id": _CATEGORY_IDS[category],
                    "key": category,
                    "colorName": {"new": "blue-gray", "indeterminate": "yellow", "done": "green"}[
                        category
                    ],
                    "name": _CATEGORY_NAMES[category],
                },
            },
            "priority": None
            if issue.priority is None
            else {
                "self": f"{self._api}/priority/{_PRIORITY_IDS.get(issue.priority, '3')}",
                "iconUrl": f"{self.url}/images/icons/priorities/{issue.priority.lower()}.svg",
                "name": issue.priority,
                "id": _PRIORITY_IDS.get(issue.priority, "3"),
            },
            "reporter": self._user(issue.reporter),
            "assignee": None if issue.assignee is None else self._user(issue.assignee),
            "issuetype": {
                "self": f"{self.url}/rest/api/{version}/issuetype/10003",
                "id": "10003",
                "description": "For general IT problems and questions.",
                "name": issue.issue_type,
                "subtask": False,
            },
            "labels": list(issue.labels),
            "project": {
                "self": f"{self.url}/rest/api/{version}/project/{issue.project}",
                "id": "10000",
                "key": issue.project,
                "name": f"{issue.project} service desk",
                "projectTypeKey": self.project_types.get(issue.project, "service_desk"),
            },
            "comment": {
                "comments": [self._comment(issue, c) for c in comments],
                "self": f"{self.url}/rest/api/{version}/issue/{issue.id}/comment",
                "maxResults": len(comments),
                "total": len(issue.comments),
                "startAt": 0,
            },
        }
        record: dict[str, Any] = {
            "expand": _ISSUE_EXPANDS,
            "id": str(issue.id),
            "self": f"{self.url}/rest/api/{version}/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }
        if changelog:
            shown = issue.histories[: self.embedded_changelog]
            record["changelog"] = {
                "startAt": 0,
                "maxResults": len(shown),
                "total": len(issue.histories),
                "histories": [self._history_json(h) for h in shown],
            }
        return record

    def _sla(self, issue: Issue, sla: Sla) -> dict[str, Any]:
        now = self._clock()

        def cycle(c: Cycle, ongoing: bool) -> dict[str, Any]:
            end = now if ongoing else (c.stop or now)
            elapsed = max(0.0, end - c.start)
            record: dict[str, Any] = {
                "startTime": self._date(c.start),
                "breached": c.breached,
                "goalDuration": self._duration(c.goal),
                "elapsedTime": self._duration(elapsed),
                "remainingTime": self._duration(c.goal - elapsed),
            }
            if c.breach_time is not None:
                record["breachTime"] = self._date(c.breach_time)
            if ongoing:
                record["paused"] = c.paused
                record["withinCalendarHours"] = True
            else:
                record["stopTime"] = self._date(c.stop or now)
            return record

        record: dict[str, Any] = {
            "id": str(sla.id),
            "name": sla.name,
            "_links": {"self": f"{self.url}/rest/servicedeskapi/request/{issue.id}/sla/{sla.id}"},
            "completedCycles": [cycle(c, False) for c in sla.completed],
            "slaDisplayFormat": "NEW_SLA_FORMAT",
        }
        if sla.ongoing is not None:
            record["ongoingCycle"] = cycle(sla.ongoing, True)
        return record

    # -- listings ----------------------------------------------------------------------------------

    def _search(
        self, params: Mapping[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        match = _JQL.match(params.get("jql", ""))
        if match is None:
            message = "Error in the JQL Query: the query is not one this fake understands."
            return 400, _json_type(headers), _json({"errorMessages": [message], "errors": {}})
        year, month, day, hour, minute = (int(g) for g in match.groups()[:5])
        since = datetime(year, month, day, hour, minute, tzinfo=self.zone).timestamp()
        projects: set[str] | None = None
        if match.group(6) is not None:
            projects = {p.strip().strip('"') for p in match.group(6).split(",")}
            unknown = sorted(projects - self._projects)
            if unknown:
                messages = [
                    f"The value '{p}' does not exist for the field 'project'." for p in unknown
                ]
                return 400, _json_type(headers), _json({"errorMessages": messages, "errors": {}})
        order = self._by_updated()
        first = bisect_left(order, (since,))
        picked: Sequence[Issue]
        if projects is None:
            picked = _Window(order, first)
        else:
            picked = [entry[-1] for entry in order[first:] if entry[-1].project in projects]
        size = min(_int(params.get("maxResults"), 50), MAX_RESULTS)
        changelog = "changelog" in params.get("expand", "").split(",")
        if self.cloud:
            token = params.get("nextPageToken")
            start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
            issues = picked[start : start + size]
            body: dict[str, Any] = {"issues": [self._issue_json(i, changelog) for i in issues]}
            if start + size < len(picked):
                body["nextPageToken"] = base64.urlsafe_b64encode(
                    str(start + size).encode()
                ).decode()
                body["isLast"] = False
            else:
                body["isLast"] = True
        else:
            start = _int(params.get("startAt"), 0)
            issues = picked[start : start + size]
            body = {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(picked),
                "issues": [self._issue_json(i, changelog) for i in issues],
            }
        return 200, _json_type(headers), _json(body)

    def _changelog_page(self, issue: Issue, params: Mapping[str, str]) -> dict[str, Any]:
        start = _int(params.get("startAt"), 0)
        size = min(_int(params.get("maxResults"), 100), 100)
        values = issue.histories[start : start + size]
        return {
            "self": f"{self._api}/issue/{issue.key}/changelog?startAt={start}&maxResults={size}",
            "maxResults": size,
            "startAt": start,
            "total": len(issue.histories),
            "isLast": start + size >= len(issue.histories),
            "values": [self._history_json(h) for h in values],
        }

    def _desk_page(
        self, path: str, params: Mapping[str, str], values: list[dict[str, Any]]
    ) -> dict[str, Any]:
        start = _int(params.get("start"), 0)
        limit = min(_int(params.get("limit"), 50), 100)
        shown = values[start : start + limit]
        last = start + limit >= len(values)
        links: dict[str, Any] = {"base": self.url, "context": "", "self": f"{self.url}{path}"}
        if not last:
            links["next"] = f"{self.url}{path}?start={start + limit}&limit={limit}"
        return {
            "_expands": [],
            "size": len(shown),
            "start": start,
            "limit": limit,
            "isLastPage": last,
            "_links": links,
            "values": shown,
        }


class _Window(Sequence[Issue]):
    """The issues of a sorted index from ``first`` on, sliced without copying the index."""

    def __init__(self, order: list[tuple[float, str, int, Issue]], first: int) -> None:
        self._order = order
        self._first = first

    def __len__(self) -> int:
        return len(self._order) - self._first

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, _ = index.indices(len(self))
            return [e[-1] for e in self._order[self._first + start : self._first + stop]]
        return self._order[self._first + index][-1]


class _Handler(BaseHTTPRequestHandler):
    owner: FakeJira
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
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
        """Quiet: the request log is :attr:`FakeJira.requests`."""


def _status_id(name: str) -> int:
    return 10000 + sorted(CATEGORIES).index(name) if name in CATEGORIES else 10099


def _int(text: str | None, default: int) -> int:
    if text is None or not text.isdigit():
        return default
    return int(text)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _json_type(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/json;charset=UTF-8", **headers}
