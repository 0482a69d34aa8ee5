"""Jira Service Management as a source: issues changed since the watermark, by JQL search.

Endpoints (one request each when nothing changed; the user's time zone once per
process):

* ``GET /rest/api/3/myself`` (Cloud) or ``/rest/api/2/myself`` (Data Center)
  -- the API user's ``timeZone``: Jira reads the date literals of a JQL query
  in that zone.
* The JQL search, ``updated >= "yyyy/MM/dd HH:mm" [AND project in (...)] ORDER
  BY updated ASC, key ASC`` with ``expand=changelog`` and the fields below.
  On Cloud (``source.email`` given) ``GET /rest/api/3/search/jql``, paged by
  ``nextPageToken`` until a page comes without one: Atlassian removed the
  offset-paged ``/rest/api/{2,3}/search`` from Cloud.  On Data Center (a
  bearer personal access token, no ``email``) ``GET /rest/api/2/search``,
  paged by ``startAt``/``maxResults``/``total``: Data Center has no
  ``search/jql``.  Both carry the same issue JSON.
* ``GET /rest/servicedeskapi/request/{key}/comment`` -- only for an issue
  whose embedded ``comment`` field does not say for every comment whether the
  customer sees it (``jsdPublic``, which Cloud sends and Data Center does
  not), or holds fewer comments than its ``total`` (Cloud's ``search/jql``
  embeds at most 20).  Its ``public`` flag tells
  replies from internal comments.
* ``GET /rest/api/3/issue/{key}/changelog`` -- only on Cloud, for an issue
  whose embedded changelog is cut short (``total`` above the histories sent;
  ``search/jql`` embeds at most 20).
* ``GET /rest/servicedeskapi/request/{key}/sla`` -- per changed issue, only
  when an SLA has ``mode: native``.

**Time zone and overlap.** A JQL date literal has minute precision and is
read in the API user's time zone (``timeZone`` of ``myself``).  The query
starts one minute before the newest ``updated`` read so far, written in that
zone (an hour earlier on the wall clock when that local time is ambiguous, at
the end of summer time), and issues already read with the same key and ``updated`` are skipped:
nothing is lost at the boundary and nothing is counted twice.

**Mapping.** Only issues of service projects (``projectTypeKey``
``service_desk``) are requests; the others a search returns are left out.
Each changed issue comes with its comments and changelog, so it is rebuilt
whole on every change (no merging across polls).  The ticket id is
the issue key, ``brand`` the project key, ``type`` the issue type's name,
``tags`` the labels, ``assignee`` the assignee.  Priority through
``source.priority_map`` (Jira's names, any case), then ``Highest``,
``Blocker`` and ``Critical`` ``urgent``; ``High`` and ``Major`` ``high``;
``Medium`` ``normal``; ``Low``, ``Lowest``, ``Minor`` and ``Trivial`` ``low``;
none ``normal``.  Status by name through ``source.status_map``, then
:data:`DEFAULT_STATUSES` (``Waiting for support`` ``open``, ``Waiting for
customer`` ``pending``, ``Resolved`` ``solved``, ``Closed`` ``closed``, ...);
any other status by its category (``done`` is ``solved``, the rest ``open``),
logged once.  Events:

* a comment by the reporter, or by any user whose ``accountType`` is
  ``customer``, is a requester reply (an internal one is ignored);
* a comment by an app (``accountType`` ``app``, such as Automation for Jira)
  is an automated agent reply, which never stops a clock;
* a comment by one of ``ai_agent_ids`` (account id, or key or name on Data
  Center) is an AI agent's reply;
* any other comment is an agent reply, public or internal as Jira says;
* a changelog ``status`` item is a status change to the mapped status; an
  ``assignee`` item that sets someone is an assignment.  The changelog holds
  changes only: an issue created with an assignee (its first ``assignee``
  item has a ``from``, or it has none and the issue has an assignee) was
  assigned at its creation.  Jira has no groups: ``start: assigned`` waits
  for a person.

**Native clocks** (``mode: native``): the request's SLAs named in
``source.sla_names`` (by default ``Time to first response`` for
``first_response`` and ``Time to resolution`` for ``resolution``; give a name
for ``next_response`` to read one).  For first response and resolution the
cycles form one clock: it starts at the first cycle, is stopped by the last
completed cycle when none is ongoing, runs to the ongoing cycle's
``breachTime`` (paused when it says ``paused``), and is breached from the
first breached cycle on.  Each cycle of a ``next_response`` SLA is one cycle
of ours.  ``goalDuration`` is the target.

**Cursor** (one opaque string, JSON; POSIX seconds)::

    {"v": 1, "history_start": 1790596800, "since": 1793617200.5,
     "seen": {"SUP-12": 1793617200.5}}

``seen`` holds the issues read in the last two minutes before ``since``, with
their ``updated``.  A failed poll keeps nothing: the next one starts from the
same cursor.

**Watermark.** A search read to its last page is complete up to ``now`` minus
:data:`LAG_SECONDS` (Jira's index may trail a change by a few seconds); one
cut short by ``max_pages`` or the poll's time budget (``source.poll_timeout``)
up to the newest ``updated`` it read, less a second.  Issues come oldest
change first, so what was read is complete up to there.

**Stalls.** A Cloud search whose ``nextPageToken`` does not move
:data:`STALL_REPEATS` times in a row fails the poll with reason ``stalled``
(a Data Center ``startAt`` always moves: it is ours).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exporter.config import SLA_METRICS, Config, ConfigError, SlaMode, SourceConfig, read_secret
from exporter.model import Author, EventType, NativeClock, Priority, Ticket, TicketEvent
from exporter.sources.base import PollResult, SourceError
from exporter.sources.http import BasicAuth, BearerAuth, HelpdeskClient, PollBudgetSpent
from exporter.sources.incremental import STALL_REPEATS, IncrementalSource, KnownTickets, SinceCursor
from exporter.sources.progress import ReadProgress
from exporter.sources.values import id_order as _id_order
from exporter.sources.values import instant as _instant

log = logging.getLogger(__name__)

CLOUD_SEARCH_PATH = "/rest/api/3/search/jql"
SERVER_SEARCH_PATH = "/rest/api/2/search"
CLOUD_MYSELF_PATH = "/rest/api/3/myself"
SERVER_MYSELF_PATH = "/rest/api/2/myself"
CHANGELOG_PATH = "/rest/api/3/issue/{key}/changelog"
COMMENTS_PATH = "/rest/servicedeskapi/request/{key}/comment"
SLA_PATH = "/rest/servicedeskapi/request/{key}/sla"

#: The issue fields each search asks for.
FIELDS = (
    "created",
    "updated",
    "status",
    "priority",
    "reporter",
    "assignee",
    "issuetype",
    "labels",
    "project",
    "comment",
)
#: ``projectTypeKey`` of a service project; issues of other projects are not requests.
SERVICE_DESK = "service_desk"
#: Largest ``maxResults`` Jira honours for a search that returns fields.
MAX_PAGE = 100
#: Pages of a listing of one issue (comments, changelog, SLAs) and their size.
MAX_DETAIL_PAGES = 20
DETAIL_PAGE = 100
#: Search pages read per poll; the rest is read on the next poll.
MAX_PAGES = 1000
#: The search starts this long before the newest ``updated`` read (JQL has minute precision).
OVERLAP_SECONDS = 60
#: Issues read this long before the position are remembered to skip them when read again.
SEEN_SECONDS = 120
#: A change this recent may not be searchable yet: the watermark stays this far behind ``now``.
LAG_SECONDS = 30

#: Jira status names (lower case) -> ours; the service-desk workflows' names and common ones.
DEFAULT_STATUSES: Mapping[str, str] = {
    "new": "new",
    "to do": "new",
    "open": "open",
    "reopened": "open",
    "waiting for support": "open",
    "in progress": "open",
    "work in progress": "open",
    "escalated": "open",
    "waiting for customer": "pending",
    "pending": "pending",
    "on hold": "on_hold",
    "resolved": "solved",
    "done": "solved",
    "completed": "solved",
    "closed": "closed",
    "canceled": "closed",
    "cancelled": "closed",
    "declined": "closed",
}
#: Jira priority names (lower case) -> ours: the service-desk scheme and the classic one.
DEFAULT_PRIORITIES: Mapping[str, Priority] = {
    "highest": Priority.URGENT,
    "blocker": Priority.URGENT,
    "critical": Priority.URGENT,
    "high": Priority.HIGH,
    "major": Priority.HIGH,
    "medium": Priority.NORMAL,
    "low": Priority.LOW,
    "lowest": Priority.LOW,
    "minor": Priority.LOW,
    "trivial": Priority.LOW,
}
#: Jira Service Management's default SLA names for our metrics (``source.sla_names``).
DEFAULT_SLA_NAMES: Mapping[str, str] = {
    "first_response": "Time to first response",
    "resolution": "Time to resolution",
}
#: Metrics whose Jira cycles form one clock of ours (the others: one cycle each).
_ONE_CLOCK = frozenset({"first_response", "resolution"})


# --- cursor -----------------------------------------------------------------------------------


class CursorState(SinceCursor):
    """Where the search resumes: the newest ``updated`` read and the issues read near it."""

    vendor = "jira"


def jql_instant(seconds: float, zone: ZoneInfo) -> str:
    """The JQL date literal (``yyyy/MM/dd HH:mm``, minute floor) of an instant in ``zone``.

    When that local time is ambiguous (the repeated hour at the end of summer
    time) the literal is an hour earlier on the wall clock, so that whichever
    of the two instants Jira reads it as, it is never later than ``seconds``.
    """
    local = datetime.fromtimestamp(seconds, UTC).astimezone(zone)
    naive = local.replace(tzinfo=None)
    early = naive.replace(tzinfo=zone, fold=0).utcoffset()
    late = naive.replace(tzinfo=zone, fold=1).utcoffset()
    if early != late:
        local = (local - timedelta(hours=1)).astimezone(zone)
    return local.strftime("%Y/%m/%d %H:%M")


def jql(since: float, zone: ZoneInfo, projects: Sequence[str]) -> str:
    """The search: issues updated from ``since`` minus the overlap, oldest change first."""
    clauses = [f'updated >= "{jql_instant(since - OVERLAP_SECONDS, zone)}"']
    if projects:
        keys = ", ".join(f'"{key}"' for key in projects)
        clauses.append(f"project in ({keys})")
    return " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"


# --- the source -------------------------------------------------------------------------------


def jira_client(
    config: SourceConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> HelpdeskClient:
    """A client for the configured Jira site.

    With ``email``: HTTP basic auth as that user with the API token (Cloud).
    Without: ``Authorization: Bearer`` with a personal access token (Data
    Center).  The token comes from ``token_file`` or ``token_env``.
    """
    if config.url is None:
        raise ConfigError(["source.url: a jira source needs `url:`"])
    secret = read_secret(config)
    if secret is None:
        raise ConfigError(["source: a jira source needs `token_file:` or `token_env:`"])
    auth = BasicAuth(config.email, secret) if config.email else BearerAuth(secret)
    read = config.timeout.seconds
    return HelpdeskClient(
        config.url,
        auth=auth,
        timeout=(min(10.0, read), read),
        max_retry_after=config.max_retry_after.seconds,
        sleep=sleep,
        clock=clock,
    )


class JiraSource(IncrementalSource):
    """Polls one Jira Service Management site; see the module documentation.

    ``client`` defaults to :func:`jira_client` built with ``clock`` and
    ``sleep`` (injectable so tests never wait).  ``native`` reads each changed
    request's SLAs (``mode: native`` needs them).
    """

    name = "jira"

    def __init__(
        self,
        config: SourceConfig,
        client: HelpdeskClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        sleep: Callable[[float], None] = time.sleep,
        known: KnownTickets | None = None,
        native: bool = False,
        max_pages: int = MAX_PAGES,
    ) -> None:
        super().__init__(config, client or jira_client(config, sleep=sleep, clock=clock), known)
        self.native = native
        self.cloud = bool(config.email)
        self.lookback = config.lookback.seconds
        self.poll_timeout = config.poll_timeout.seconds
        self.page_size = min(config.page_size, MAX_PAGE)
        self.projects = tuple(config.projects)
        self.priority_map = {str(k).lower(): v for k, v in config.priority_map.items()}
        self.status_map = {str(k).lower(): v for k, v in config.status_map.items()}
        self.ai_agent_ids = frozenset(str(i) for i in config.ai_agent_ids)
        names = {**DEFAULT_SLA_NAMES, **config.sla_names}
        #: Jira SLA name (lower case) -> our metric
        self.sla_metrics = {
            name.strip().lower(): metric for metric, name in names.items() if metric in SLA_METRICS
        }
        self.max_pages = max_pages
        self.zone: ZoneInfo | None = None
        self._unmapped_logged: set[str] = set()
        #: status name (lower case) -> Jira status category key, as issues showed them
        self._categories: dict[str, str] = {}

    @property
    def search_path(self) -> str:
        return CLOUD_SEARCH_PATH if self.cloud else SERVER_SEARCH_PATH

    # -- one poll --

    def read(self, cursor: str | None, now: float) -> PollResult:
        """Read what changed since ``cursor``; nothing is kept unless the whole poll succeeds."""
        state = CursorState.parse(cursor, now, self.lookback)
        run = _PollRun(self, state, now)
        with self.client.poll_budget(self.poll_timeout):
            zone = self.time_zone()
            run.search(zone)
            tickets = run.build()
        return PollResult(
            tickets=tickets,
            cursor=run.state.dump(),
            watermark=run.watermark,
            problems=run.problems,
        )

    def time_zone(self) -> ZoneInfo:
        """The API user's time zone (read once): Jira reads JQL date literals in it."""
        if self.zone is not None:
            return self.zone
        path = CLOUD_MYSELF_PATH if self.cloud else SERVER_MYSELF_PATH
        body = self.client.get_json(path)
        name = body.get("timeZone") if isinstance(body, Mapping) else None
        if not isinstance(name, str) or not name:
            raise SourceError(
                f"GET {path}: the answer has no timeZone; the JQL dates cannot be written in the "
                "API user's time zone",
                "bad_response",
            )
        try:
            self.zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise SourceError(
                f"GET {path}: timeZone {name[:64]!r} is not a known IANA time zone",
                "bad_response",
            ) from None
        return self.zone

    # -- mapping --

    def map_status(self, name: Any, category: Any = None) -> str:
        """Our status for a Jira status name; an unmapped one by its category.

        The category of a status seen as an issue's current status is
        remembered, so a changelog item (which names no category) maps the
        same way.
        """
        text = str(name).strip().lower() if name is not None else ""
        mapped = self.status_map.get(text) or DEFAULT_STATUSES.get(text)
        if mapped is not None:
            return mapped
        if isinstance(category, str):
            self._categories[text] = category
        fallback = "solved" if self._categories.get(text) == "done" else "open"
        if text not in self._unmapped_logged:
            self._unmapped_logged.add(text)
            log.warning(
                "jira: status %r is not mapped; it counts as %s (its category). Map it in "
                "source.status_map, e.g. {%r: pending} for a status that waits on the customer",
                name,
                fallback,
                str(name),
            )
        return fallback

    def map_priority(self, name: Any) -> Priority:
        if not isinstance(name, str) or not name.strip():
            return Priority.NORMAL
        text = name.strip().lower()
        return self.priority_map.get(text) or DEFAULT_PRIORITIES.get(text, Priority.NORMAL)

    def comment_event(
        self, author: Any, public: bool, at: datetime, reporter: str | None
    ) -> TicketEvent | None:
        """What one comment is for the clocks (``None``: nothing)."""
        who = _user_id(author)
        kind = author.get("accountType") if isinstance(author, Mapping) else None
        if (who is not None and who == reporter) or kind == "customer":
            return TicketEvent(at, EventType.REQUESTER_REPLY) if public else None
        if kind == "app":
            return TicketEvent(at, EventType.AGENT_REPLY, public=public, automated=True)
        writer = Author.AI_AGENT if who in self.ai_agent_ids else Author.AGENT
        return TicketEvent(at, EventType.AGENT_REPLY, public=public, author=writer)


class _PollRun:
    """The staging area of one poll: nothing here reaches the source until it succeeded."""

    def __init__(self, source: JiraSource, state: CursorState, now: float) -> None:
        self.source = source
        self.client = source.client
        self.state = state
        self.now = now
        self.problems: list[str] = []
        self.issues: dict[str, Mapping[str, Any]] = {}
        #: every issue read (or skipped as read before) with its ``updated``
        self.read: dict[str, float] = dict(state.seen)
        self.watermark = now - LAG_SECONDS

    def get(self, path: str, params: Mapping[str, str | int]) -> Mapping[str, Any]:
        body = self.client.get_json(path, params)
        if not isinstance(body, Mapping):
            raise SourceError(
                f"GET {path}: expected a JSON object, got {type(body).__name__}; the same page "
                "is asked for again on the next poll",
                "bad_response",
            )
        return body

    # -- the search --

    def search(self, zone: ZoneInfo) -> None:
        source = self.source
        path = source.search_path
        query = jql(self.state.since, zone, source.projects)
        base: dict[str, str | int] = {
            "jql": query,
            "maxResults": source.page_size,
            "fields": ",".join(FIELDS),
            "expand": "changelog",
        }
        newest = self.state.since
        seen = dict(self.state.seen)
        exhausted = False
        token: str | int | None = None
        repeats = 0
        progress = ReadProgress("jira", path, self.client, since=newest, until=self.now)
        for number in range(1, source.max_pages + 1):
            params = dict(base)
            if token is not None:
                params["nextPageToken" if source.cloud else "startAt"] = token
            try:
                page = self._search_page(path, params)
            except PollBudgetSpent as exc:
                log.warning("jira: %s (%s is cut short here)", exc, path)
                break
            issues = _list(page, "issues", path)
            if not source.cloud and isinstance(page.get("total"), int):
                progress.total = page["total"]
            last = _instant(_fields(issues[-1]).get("updated")) if issues else None
            progress.page(len(issues), last)
            for index, issue in enumerate(issues):
                key = issue.get("key")
                updated = _instant(_fields(issue).get("updated"))
                if not isinstance(key, str) or not key or updated is None:
                    self.problems.append(
                        f"{path} page {number}: issues[{index}] has no key or updated"
                    )
                    continue
                if seen.get(key) == updated:
                    continue  # read by an earlier poll (the overlap of the query)
                earlier = self.issues.get(key)
                if (
                    earlier is not None
                    and (_instant(_fields(earlier).get("updated")) or 0) > updated
                ):
                    continue
                self.issues[key] = issue
                seen[key] = updated
                newest = max(newest, updated)
            following = self._next(page, token, len(issues))
            if following is None:
                exhausted = True
                break
            repeats = repeats + 1 if following == token else 0
            if repeats >= STALL_REPEATS:
                raise SourceError(
                    f"GET {path}: the search answered the same page {STALL_REPEATS} times in a "
                    "row; it does not advance, so the poll stops instead of reading it forever. "
                    "It is asked again on the next poll",
                    "stalled",
                )
            token = following
        progress.done()
        self.read = seen
        self.state.since = newest
        self.state.seen = {k: v for k, v in seen.items() if v >= newest - SEEN_SECONDS}
        if not exhausted:
            self.watermark = min(self.watermark, newest - 1.0)

    def _search_page(self, path: str, params: Mapping[str, str | int]) -> Mapping[str, Any]:
        try:
            return self.get(path, params)
        except SourceError as exc:
            if exc.status == 400 and self.source.projects:
                raise SourceError(
                    f"{exc}. Jira refused the search: check source.projects (every key must be "
                    "a project this token can see)",
                    exc.reason,
                    status=exc.status,
                ) from None
            raise

    def _next(
        self, page: Mapping[str, Any], token: str | int | None, count: int
    ) -> str | int | None:
        """Where the next search page starts, or None after the last page."""
        if self.source.cloud:
            following = page.get("nextPageToken")
            if page.get("isLast") is True or not isinstance(following, str) or not following:
                return None
            return following
        start = page.get("startAt")
        total = page.get("total")
        if not isinstance(start, int) or not isinstance(total, int):
            raise SourceError(
                f"GET {self.source.search_path}: the answer has no startAt or total; the same "
                "page is asked for again on the next poll",
                "bad_response",
            )
        following_start = start + count
        if count == 0 or following_start >= total:
            return None
        return following_start

    # -- building tickets --

    def build(self) -> list[Ticket]:
        """The changed tickets, oldest change first.

        When the poll's time budget runs out while the comments or SLAs of an
        issue are read, the tickets built so far are kept, and the search
        resumes at that issue's change on the next poll.
        """
        tickets: list[Ticket] = []
        order = sorted(self.issues, key=lambda k: (self._updated(k), _key_order(k)))
        for key in order:  # learn the categories of the statuses the changelogs name
            status = _mapping(_fields(self.issues[key]).get("status"))
            category = _mapping(status.get("statusCategory")).get("key")
            self.source.map_status(status.get("name"), category)
        for index, key in enumerate(order):
            try:
                ticket = self._ticket(key, self.issues[key])
            except PollBudgetSpent as exc:
                log.warning("jira: %s (the rest is read on the next poll)", exc)
                self._resume_at(order[index:])
                break
            except SourceError as exc:
                if exc.reason != "http_4xx":
                    raise
                self.problems.append(f"issue {key}: {exc}")
                continue
            if ticket is not None:
                tickets.append(ticket)
        return tickets  # each ticket is whole: no earlier state is kept or read

    def _updated(self, key: str) -> float:
        return _instant(_fields(self.issues[key]).get("updated")) or 0.0

    def _resume_at(self, unbuilt: Sequence[str]) -> None:
        """Move the position back to the first issue not built, and forget those issues."""
        cut = self._updated(unbuilt[0])
        left = set(unbuilt)
        self.state.since = min(self.state.since, cut)
        self.state.seen = {
            k: v for k, v in self.read.items() if k not in left and v >= cut - SEEN_SECONDS
        }
        self.watermark = min(self.watermark, cut - 1.0)

    def _ticket(self, key: str, issue: Mapping[str, Any]) -> Ticket | None:
        source = self.source
        fields = _fields(issue)
        created = _instant(fields.get("created"))
        if created is None:
            self.problems.append(f"issue {key}: no created time")
            return None
        kind_of_project = _mapping(fields.get("project")).get("projectTypeKey")
        if isinstance(kind_of_project, str) and kind_of_project != SERVICE_DESK:
            return None  # a software or business project's issue: not a request
        status = _mapping(fields.get("status"))
        category = _mapping(status.get("statusCategory")).get("key")
        reporter = _user_id(fields.get("reporter"))
        events = [*self._comments(key, fields, reporter), *self._changes(key, issue)]
        events.sort(key=lambda e: e.at)
        project = _mapping(fields.get("project")).get("key")
        kind = _mapping(fields.get("issuetype")).get("name")
        labels = fields.get("labels")
        ticket = Ticket(
            id=key,
            created_at=_at(created),
            status=source.map_status(status.get("name"), category),
            priority=source.map_priority(_mapping(fields.get("priority")).get("name")),
            channel=None,
            group=None,
            brand=project if isinstance(project, str) else None,
            type=kind if isinstance(kind, str) and kind else None,
            tags=tuple(t for t in labels if isinstance(t, str)) if isinstance(labels, list) else (),
            events=tuple(dict.fromkeys(events)),
            assignee=_user_id(fields.get("assignee")),
        )
        if source.native:
            ticket = replace(ticket, native=self._native(key))
        return ticket

    def _comments(
        self, key: str, fields: Mapping[str, Any], reporter: str | None
    ) -> list[TicketEvent]:
        embedded = _mapping(fields.get("comment"))
        comments = [c for c in embedded.get("comments") or [] if isinstance(c, Mapping)]
        total = embedded.get("total")
        complete = not isinstance(total, int) or total <= len(comments)
        flagged = all(isinstance(c.get("jsdPublic"), bool) for c in comments)
        if complete and flagged:
            visible = [
                (c.get("author"), c.get("jsdPublic") is True, c.get("created")) for c in comments
            ]
        else:
            visible = self._request_comments(key)
        events = []
        for author, public, created in visible:
            at = _instant(created) if isinstance(created, str) else _date(created)
            if at is None:
                self.problems.append(f"issue {key}: a comment has no created time")
                continue
            event = self.source.comment_event(author, public, _at(at), reporter)
            if event is not None:
                events.append(event)
        return events

    def _request_comments(self, key: str) -> list[tuple[Any, bool, Any]]:
        """Every comment of a request with its ``public`` flag, from the service-desk API."""
        path = COMMENTS_PATH.format(key=key)
        found: list[tuple[Any, bool, Any]] = []
        for value in self._paged(path):
            found.append((value.get("author"), value.get("public") is True, value.get("created")))
        return found

    def _paged(self, path: str) -> list[Mapping[str, Any]]:
        """All values of a service-desk listing (``start``/``limit``/``isLastPage``)."""
        values: list[Mapping[str, Any]] = []
        start = 0
        for _ in range(MAX_DETAIL_PAGES):
            page = self.get(path, {"start": start, "limit": DETAIL_PAGE})
            batch = _list(page, "values", path)
            values.extend(batch)
            if page.get("isLastPage") is not False or not batch:
                break
            start += len(batch)
        return values

    def _changes(self, key: str, issue: Mapping[str, Any]) -> list[TicketEvent]:
        fields = _fields(issue)
        changelog = _mapping(issue.get("changelog"))
        histories = [h for h in changelog.get("histories") or [] if isinstance(h, Mapping)]
        total = changelog.get("total")
        if isinstance(total, int) and total > len(histories):
            if self.source.cloud:
                histories = self._full_changelog(key)
            else:
                self.problems.append(
                    f"issue {key}: the changelog holds {len(histories)} of {total} changes; "
                    "status changes before those are not seen"
                )
        events: list[TicketEvent] = []
        #: whether the first change of the assignee found someone already assigned
        assigned_before: bool | None = None
        ordered = sorted(
            (h for h in histories if _instant(h.get("created")) is not None),
            key=lambda h: _instant(h.get("created")) or 0.0,
        )
        for history in ordered:
            at = _instant(history.get("created"))
            assert at is not None
            for item in history.get("items") or []:
                if not isinstance(item, Mapping):
                    continue
                name = item.get("fieldId") or item.get("field")
                if name == "status":
                    to = self.source.map_status(item.get("toString"))
                    events.append(TicketEvent(_at(at), EventType.STATUS, to=to))
                elif name == "assignee":
                    if assigned_before is None:
                        assigned_before = bool(item.get("from") or item.get("fromString"))
                    if item.get("to"):
                        events.append(TicketEvent(_at(at), EventType.ASSIGNED))
        if assigned_before or (assigned_before is None and _user_id(fields.get("assignee"))):
            # the changelog records changes only: someone was assigned when it was created
            created = _instant(fields.get("created"))
            if created is not None:
                events.append(TicketEvent(_at(created), EventType.ASSIGNED))
        return events

    def _full_changelog(self, key: str) -> list[Mapping[str, Any]]:
        path = CHANGELOG_PATH.format(key=key)
        histories: list[Mapping[str, Any]] = []
        start = 0
        for _ in range(MAX_DETAIL_PAGES):
            page = self.get(path, {"startAt": start, "maxResults": DETAIL_PAGE})
            batch = _list(page, "values", path)
            histories.extend(batch)
            total = page.get("total")
            start += len(batch)
            if (
                page.get("isLast") is True
                or not batch
                or (isinstance(total, int) and start >= total)
            ):
                break
        return histories

    def _native(self, key: str) -> tuple[NativeClock, ...]:
        clocks: list[NativeClock] = []
        for sla in self._paged(SLA_PATH.format(key=key)):
            name = sla.get("name")
            metric = (
                self.source.sla_metrics.get(name.strip().lower()) if isinstance(name, str) else None
            )
            if metric is not None:
                clocks.extend(native_clocks(metric, sla))
        return tuple(sorted(clocks, key=lambda c: (c.metric, c.cycle)))


# --- native clocks ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cycle:
    start: datetime | None
    stop: datetime | None
    deadline: datetime | None
    breached: bool
    goal: float | None
    paused: bool


def _cycle(record: Mapping[str, Any], ongoing: bool) -> _Cycle:
    def at(key: str) -> datetime | None:
        seconds = _date(record.get(key))
        return None if seconds is None else _at(seconds)

    goal = _mapping(record.get("goalDuration")).get("millis")
    return _Cycle(
        start=at("startTime"),
        stop=None if ongoing else at("stopTime"),
        deadline=at("breachTime"),
        breached=record.get("breached") is True,
        goal=float(goal) / 1000.0
        if isinstance(goal, int | float) and not isinstance(goal, bool)
        else None,
        paused=ongoing and record.get("paused") is True,
    )


def native_clocks(metric: str, sla: Mapping[str, Any]) -> list[NativeClock]:
    """Jira's cycles of one SLA as our clocks of ``metric`` (see the module documentation)."""
    cycles = [_cycle(c, False) for c in sla.get("completedCycles") or [] if isinstance(c, Mapping)]
    ongoing_record = sla.get("ongoingCycle")
    ongoing = _cycle(ongoing_record, True) if isinstance(ongoing_record, Mapping) else None
    if metric not in _ONE_CLOCK:
        every = [*cycles, *([ongoing] if ongoing is not None else [])]
        return [_clock(metric, index, [cycle], None) for index, cycle in enumerate(every)]
    if not cycles and ongoing is None:
        return []
    return [_clock(metric, 0, cycles, ongoing)]


def _clock(
    metric: str, index: int, completed: Sequence[_Cycle], ongoing: _Cycle | None
) -> NativeClock:
    every = [*completed, *([ongoing] if ongoing is not None else [])]
    first, last = every[0], every[-1]
    breach = next((c for c in every if c.breached), None)
    breached_at = None
    if breach is not None:
        breached_at = breach.deadline or breach.stop
        if breached_at is None and breach.start is not None and breach.goal is not None:
            # no breachTime (a paused, breached cycle): the earliest it can have been
            breached_at = breach.start + timedelta(seconds=breach.goal)
    stopped = last.stop if last is not ongoing else None
    if breached_at is not None and stopped is not None and stopped <= breached_at:
        breached_at = None  # stopped by the deadline: met
    return NativeClock(
        metric=metric,
        cycle=index,
        started_at=first.start,
        target_seconds=last.goal,
        deadline=last.deadline,
        stopped_at=stopped,
        breached_at=breached_at,
        paused=last.paused,
    )


# --- small readers ----------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _fields(issue: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(issue.get("fields"))


def _list(page: Mapping[str, Any], key: str, path: str) -> list[Mapping[str, Any]]:
    value = page.get(key)
    if not isinstance(value, list):
        raise SourceError(
            f"GET {path}: the answer's {key!r} is not a list; the same page is asked for again "
            "on the next poll",
            "bad_response",
        )
    return [item for item in value if isinstance(item, Mapping)]


def _user_id(user: Any) -> str | None:
    """A user's id: ``accountId`` on Cloud, ``key`` or ``name`` on Data Center."""
    if not isinstance(user, Mapping):
        return None
    for name in ("accountId", "key", "name"):
        value = user.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _date(value: Any) -> float | None:
    """POSIX seconds of a service-desk date (``epochMillis``, else ``iso8601``)."""
    if not isinstance(value, Mapping):
        return None
    millis = value.get("epochMillis")
    if isinstance(millis, int | float) and not isinstance(millis, bool):
        return float(millis) / 1000.0
    return _instant(value.get("iso8601"))


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _key_order(key: str) -> tuple[str, int, str]:
    """Issue keys in project, then number order (``SUP-9`` before ``SUP-10``)."""
    project, _, number = key.rpartition("-")
    order = _id_order(number)
    return (project, order[0], order[1])


def build(config: Config) -> JiraSource:
    """The Jira source of a config; native SLAs add one SLA request per changed issue."""
    native = (config.sla_import is not None and config.sla_import.mode is SlaMode.NATIVE) or any(
        sla.mode is SlaMode.NATIVE for sla in config.slas.values()
    )
    return JiraSource(config.source, native=native)
