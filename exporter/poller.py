"""Background loop: source -> store -> engine -> snapshot.

:class:`Poller` polls the source, writes what changed to the :class:`~exporter.store.Store`
in one transaction, keeps the engine state of *live* tickets (open, or with an
SLO/SLA outcome still pending) in memory, and publishes an immutable
:class:`~exporter.snapshot.Snapshot` with every metric of :mod:`exporter.metrics`.

How the work stays small:

* A poll evaluates only tickets whose content changed (their digest differs
  from the stored one); unchanged live tickets need no evaluation because the
  instant each pending outcome would turn bad is known in advance: those
  instants sit in a heap, and each poll pops the ones the watermark has passed.
* Time-dependent gauges (time to breach, breached timers, tickets waiting past
  an SLO threshold, oldest unanswered ticket) come from sorted timelines of
  those instants, so :meth:`Poller.refresh` is a few binary searches.
* Counters are loaded once from the store (:meth:`Store.totals`) and then
  advanced by what each committed poll inserted; SLO windows count decision
  times kept in sorted arrays.
* Each live ticket's engine state is persisted next to it, so a restart loads
  it instead of re-evaluating every open ticket (unless the SLA/SLO config
  changed, in which case the live tickets are re-evaluated from their stored
  JSON on the next poll).

Status time (``helpdesk_ticket_status_business_seconds_total``): each poll
accrues every ticket that changed through :func:`exporter.status_time.accrue`
and writes what it added as plain counter increments; every other ticket
still in a status group adds the same business seconds between the previous
horizon and this one, so those are added per (priority, group) from a count,
without touching the tickets.  The horizon is ``min(now, watermark)``, never
moving back.  A scrape adds nothing: the counters only move at polls.

Watermark (docs/design.md): outcomes are decided with the horizon
``min(now, watermark)``; a ``bad`` or ``breached`` outcome is never decided
before the source's data is known complete past its threshold instant.
Gauges use ``now``.

Sources report API usage in each :class:`PollResult` (or the
:class:`SourceError` of a failed poll): ``api_codes``, request counts by HTTP
status code, and ``rate_limit_remaining``.  Without ``api_codes``, a
successful poll counts ``PollResult.requests`` as code ``200``.
"""

from __future__ import annotations

import gc
import hashlib
import heapq
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter import __version__, metrics
from exporter.config import Config, SlaConfig
from exporter.engine import Plan, decide, known_counter_series
from exporter.engine.core import SLO as _SLO
from exporter.labels import bounded, channel_label
from exporter.live import DecisionTimes, LiveSet, LiveTicket
from exporter.model import (
    PRIORITIES,
    Ticket,
    format_instant,
    ticket_from_json,
    ticket_to_json,
)
from exporter.records import (
    SkippedRecord,
    SkipReason,
    describe,
    evaluate_ticket,
    reason_of,
    skip_reason,
)
from exporter.slo import (
    Result,
    error_budget_remaining,
    window_start,
)
from exporter.snapshot import HistogramSample, Sample, Snapshot
from exporter.sources.base import KnowsTickets, PollResult, Source, SourceError
from exporter.status_time import STATUS_GROUPS, StatusAccrual, accrue, status_calendar
from exporter.store import (
    ELAPSED_BUCKET,
    ELAPSED_SUM,
    INF,
    CounterKey,
    PollBatch,
    PollDeltas,
    SlaOutcomeRow,
    SloOutcomeRow,
    Store,
    TicketRow,
    TicketState,
)
from exporter.units import format_duration

log = logging.getLogger(__name__)

#: Seconds between refreshes of time-dependent gauges while waiting for the next poll.
REFRESH_INTERVAL = 15.0
#: Longest wait between polls after repeated failures (at least the poll interval).
MAX_BACKOFF = 600.0
#: ``/ready`` holds while the last successful poll is at most this many poll intervals old...
READY_POLL_INTERVALS = 3
#: ...and at least this many seconds old (a slow poll on a short interval is not an outage).
READY_MINIMUM = 60.0
#: Statuses every priority shows in ``helpdesk_tickets_open`` even when no ticket has them.
KNOWN_OPEN_STATUSES = ("new", "open", "pending", "on_hold")
#: Live tickets from which the loaded state is moved out of the garbage collector's sight.
FREEZE_LIVE_TICKETS = 10_000
#: Bump when the persisted engine state of live tickets changes shape.
LIVE_STATE_VERSION = 1
#: Store meta key of the config fingerprint the persisted live states were computed with.
FINGERPRINT_KEY = "config_fingerprint"
#: Store meta key of the instant up to which the status-time counters have accrued.
STATUS_HORIZON_KEY = "status_horizon"

#: What a poller publishes before it could ever read its store: no counter (a zero would
#: read as a reset), but every gauge the source alerts need (HelpdeskSourceDown).
_HEALTH_ONLY = frozenset(
    {
        metrics.UP.name,
        metrics.LAST_SUCCESSFUL_POLL.name,
        metrics.WATERMARK.name,
        metrics.SOURCE_BACKOFF.name,
        metrics.POLL_LAST_ERROR.name,
        metrics.BUILD_INFO.name,
    }
)
# compact JSON encoders, built once (``json.dumps`` with options builds one per call)
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_MONTH = 31 * 86400.0
_WEEK = 7 * 86400.0


# --- helpers ------------------------------------------------------------------------------------


def ticket_body(ticket: Ticket) -> tuple[str, bytes]:
    """The stored JSON of a ticket and its digest (equal digests: nothing changed)."""
    body = _COMPACT_JSON.encode(ticket_to_json(ticket))
    return body, hashlib.blake2b(body.encode(), digest_size=16).digest()


def config_fingerprint(config: Config) -> str:
    """Identifies everything the persisted engine state depends on."""
    data = json.loads(config.model_dump_json(include={"calendars", "slas", "slos"}))
    for sla in data.get("slas", {}).values():
        sla["pause_statuses"] = sorted(sla.get("pause_statuses", []))
    data["live_state_version"] = LIVE_STATE_VERSION
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def retention_seconds(config: Config) -> float:
    """How long a settled ticket is kept: the longest SLO window plus the margin."""
    longest = 0.0
    for slo in config.slos:
        if slo.window == "month":
            longest = max(longest, _MONTH)
        elif slo.window == "week":
            longest = max(longest, _WEEK)
        else:
            longest = max(longest, slo.window_seconds)
    return longest + config.exporter.retention_margin.seconds


def backoff_delay(interval: float, failures: int, retry_after: float | None = None) -> float:
    """Seconds until the next poll after ``failures`` consecutive failed polls.

    The interval after a success or a first failure, then doubling up to
    :data:`MAX_BACKOFF` (never below the interval); at least ``retry_after``.
    """
    delay = interval
    if failures > 1:
        delay = min(interval * 2 ** min(failures - 1, 16), max(MAX_BACKOFF, interval))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def _stored_ticket(ticket_id: str, body: str) -> Ticket | SkippedRecord:
    """A ticket from its stored JSON, or why it cannot be read back."""
    try:
        return ticket_from_json(json.loads(body))
    except Exception as exc:
        reason = reason_of(exc)
        if reason is SkipReason.EVALUATION:
            reason = SkipReason.INVALID
        return SkippedRecord(reason, f"ticket {bounded(ticket_id)} (stored)", describe(exc))


def _iso(instant: float | None) -> str:
    return "-" if instant is None else format_instant(instant)


# --- readiness ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Readiness:
    """What ``/ready`` and the landing page say: ready or not, and why (one line, no prefix)."""

    ready: bool
    reason: str


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How the polls of the helpdesk went since the exporter started (no ticket data)."""

    source: str
    #: when the exporter started (the poller was created)
    started: float
    #: last successful poll in this process, None when none succeeded yet
    last_success: float | None
    #: last failed poll in this process and its reason
    last_failure: float | None
    last_error: str | None
    #: failed polls since the last success (or since the start)
    failures: int
    #: seconds the poller waits after the last failed poll (0 after a success)
    backoff: float
    #: ``/ready`` needs a successful poll at most this many seconds old
    fresh_for: float


def fresh_for(poll_interval: float) -> float:
    """Age up to which the last successful poll keeps ``/ready`` at 200."""
    return max(READY_POLL_INTERVALS * poll_interval, READY_MINIMUM)


def assess(health: SourceHealth, now: float) -> Readiness:
    """Ready when a poll succeeded in this process at most ``fresh_for`` seconds ago.

    The reason names the helpdesk, says whether it has never answered since
    the start or stopped answering, and gives the last error's reason.
    """
    helpdesk = f"the helpdesk ({health.source})"
    errors = ""
    if health.failures:
        polls = "poll" if health.failures == 1 else "polls"
        errors = f"{health.failures} failed {polls}, last error: {health.last_error}"
        if health.last_failure is not None and health.backoff > 0:
            wait = max(health.last_failure + health.backoff - now, 0.0)
            errors += f", next attempt in {format_duration(wait)}"
    if health.last_success is None:
        if not health.failures:
            return Readiness(False, f"the first poll of {helpdesk} has not finished")
        since = format_duration(now - health.started)
        return Readiness(
            False,
            f"{helpdesk} has never answered since the exporter started {since} ago ({errors})",
        )
    age = now - health.last_success
    if age > health.fresh_for:
        ago = f"{format_duration(age)} ago ({_iso(health.last_success)})"
        if health.failures:
            return Readiness(
                False,
                f"{helpdesk} stopped answering: last successful poll {ago}; {errors}",
            )
        return Readiness(
            False,
            f"the last successful poll of {helpdesk} was {ago}, more than "
            f"{format_duration(health.fresh_for)}, and no poll has finished since (one may hang)",
        )
    text = f"last successful poll of {helpdesk} {format_duration(age)} ago"
    if health.failures:
        text += f"; since then {errors}"
    return Readiness(True, text)


# --- the poller ---------------------------------------------------------------------------------


class Poller:
    """Polls a source into a store and publishes snapshots of every metric.

    ``poll_once`` never raises because of the source: a failure is counted in
    ``helpdesk_poll_errors_total{reason}``, ``helpdesk_up`` turns 0 and the
    last good values stay.  ``run`` loops until ``stop`` is set.

    The source's series exist from the moment the poller is created, before
    the store is read and before any poll, so a rule sees a helpdesk that
    never answers: ``helpdesk_up`` is 0 until a poll succeeds,
    ``helpdesk_last_successful_poll_timestamp_seconds`` is never older than
    the start, and the watermark is the stored one (the start on a new store).
    """

    def __init__(
        self,
        config: Config,
        source: Source,
        store: Store,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.source = source
        self.store = store
        self._clock = clock
        self._offer_known_tickets()
        self._plan = Plan(config)
        self._evaluator = self._plan.evaluator
        self._time_slos = self._plan.time_slos
        self._event_slos = [s for s in config.slos if s.kind.counted_by_exporter]
        self._slas: dict[str, SlaConfig] = self._plan.slas
        self._channels = config.exporter.breakdown.get("channel")
        self._status_calendar = status_calendar(config, self._evaluator.calendars)
        self._retention = retention_seconds(config)
        self._fingerprint = config_fingerprint(config)
        self._lock = threading.RLock()
        self._snapshot = Snapshot(taken_at=0.0)
        self._loaded = False
        #: the state was read from the store at least once (else no counter is known)
        self._loaded_once = False
        #: counter increments the store could not take yet (written with the next write)
        self._unsaved: dict[CounterKey, float] = {}
        self._ready = False
        self._up = False
        self._last_failed = False
        self._retry_after: float | None = None
        self._started = clock()
        self._fresh_for = fresh_for(config.source.poll_interval.seconds)
        self._succeeded_at: float | None = None
        self._failed_at: float | None = None
        self._last_error: str | None = None
        self._failures = 0
        self._backoff = 0.0
        #: requests left in the helpdesk's rate-limit window, as the last poll reported
        self._rate_limit_remaining: float | None = None
        #: reason -> when a poll last failed for it (this process)
        self._error_times: dict[str, float] = {}
        self._reset_state()
        self._read_source_state()
        self._snapshot = self._source_snapshot(self._started)

    def _reset_state(self) -> None:
        self._counters: dict[CounterKey, float] = {}
        self._decisions: dict[tuple[str, str], DecisionTimes] = {}
        self._set = LiveSet()
        self._recheck_all: set[str] = set()
        self._stored_fingerprint: str | None = None
        self._cursor: str | None = None
        self._watermark: float | None = None
        self._last_success: float | None = None
        #: tickets accruing status time, per (priority, group)
        self._status_running: dict[tuple[str, str], int] = {}
        #: ticket -> instant of a known status change past the horizon
        self._status_rechecks: dict[str, float] = {}
        #: the status-time counters have accrued up to here (never moves back)
        self._status_horizon = 0.0

    def _read_source_state(self) -> None:
        """The stored watermark and last success, for the series published before the load."""
        try:
            stored = self.store.source_state(self.source.name)
        except Exception:  # the first poll reports it, in one line
            log.debug("reading the source's state from the store failed", exc_info=True)
            return
        self._watermark, self._last_success = stored.watermark, stored.last_success

    # -- public API --

    @property
    def snapshot(self) -> Snapshot:
        """The latest snapshot (replaced as a whole; safe to read from any thread)."""
        return self._snapshot

    @property
    def ready(self) -> bool:
        """True while the data is fresh: see :meth:`readiness`."""
        return self.readiness().ready

    def health(self) -> SourceHealth:
        """How the polls went since the start (read without waiting for a poll in progress)."""
        return SourceHealth(
            source=self.source.name,
            started=self._started,
            last_success=self._succeeded_at,
            last_failure=self._failed_at,
            last_error=self._last_error,
            failures=self._failures,
            backoff=self._backoff,
            fresh_for=self._fresh_for,
        )

    def readiness(self) -> Readiness:
        """``/ready``: a poll succeeded in this process and not too long ago (:func:`assess`)."""
        return assess(self.health(), self._clock())

    @property
    def live_count(self) -> int:
        return len(self._set.tickets)

    def counters(self) -> dict[CounterKey, float]:
        """The counters as kept in memory (always equal to ``store.totals()``)."""
        with self._lock:
            self._ensure_loaded()
            return dict(self._counters)

    def _offer_known_tickets(self) -> None:
        """Let a source that merges partial updates read previous ticket states from the store.

        API sources receive events apart from tickets; to return a changed
        ticket in full they need its earlier history, which after a restart
        only the store has.
        """
        if not isinstance(self.source, KnowsTickets):
            return
        offer = self.source.use_known_tickets
        store = self.store

        def known(ids: Iterable[str]) -> dict[str, Ticket]:
            tickets: dict[str, Ticket] = {}
            for ticket_id, body in store.bodies(list(ids)).items():
                try:
                    tickets[ticket_id] = ticket_from_json(json.loads(body))
                except (ValueError, TypeError, KeyError) as exc:
                    # a damaged stored body: the source reads the ticket as if it were new
                    log.warning(
                        "store: stored ticket %s is unreadable (%s); reading it afresh",
                        ticket_id[:64],
                        type(exc).__name__,
                    )
            return tickets

        offer(known)

    def poll_once(self) -> None:
        """Poll the source once, write the changes, publish a new snapshot."""
        with self._lock:
            now = self._clock()
            try:
                self._ensure_loaded()
            except Exception as exc:
                self._store_failed("cannot be read", now, exc)
                return
            started = time.perf_counter()
            try:
                result = self.source.poll(self._cursor, now)
            except SourceError as exc:
                log.warning(
                    "poll source=%s failed reason=%s: %s", self.source.name, exc.reason, exc
                )
                self._failed(exc.reason or "error", now, exc)
                return
            except Exception as exc:
                log.exception("poll source=%s failed with an unexpected error", self.source.name)
                self._failed("exception", now, exc)
                return
            try:
                summary = self._apply(result, now)
            except Exception as exc:
                self._reload_after_failure()
                self._store_failed("could not be written", now, exc)
                return
            self._up = True
            self._last_failed = False
            self._retry_after = None
            self._ready = True
            self._succeeded_at = now
            self._failures = 0
            self._backoff = 0.0
            self._publish(now)
            log.info(
                "poll source=%s ok tickets=%d changed=%d decided=%d pruned=%d live=%d "
                "duration_ms=%.0f watermark=%s",
                self.source.name,
                len(result.tickets),
                summary[0],
                summary[1],
                summary[2],
                len(self._set.tickets),
                (time.perf_counter() - started) * 1000,
                _iso(result.watermark),
            )
            for problem in result.problems[:20]:
                log.warning("poll source=%s skipped %s", self.source.name, problem)

    def refresh(self) -> None:
        """Rebuild the time-dependent gauges at ``clock()`` from memory (no source call)."""
        with self._lock:
            self._ensure_loaded()
            self._publish(self._clock())

    def checkpoint(self) -> None:
        """Fold the store's write-ahead log into its file, after a poll has published.

        Done apart from :meth:`poll_once` so that a poll's snapshot does not wait
        for it; a failure is logged and left to the next call.
        """
        try:
            self.store.checkpoint()
        except Exception:
            log.exception("checkpointing the store failed; will retry after the next poll")

    def run(self, stop: threading.Event) -> None:
        """Poll every ``source.poll_interval`` until ``stop`` is set; refresh in between.

        Consecutive failures back off exponentially (capped at
        :data:`MAX_BACKOFF`, never below the poll interval) and honour a
        source error's ``retry_after`` seconds when it has one.
        """
        interval = self.config.source.poll_interval.seconds
        try:
            self.refresh()
        except Exception as exc:  # the first poll reports it
            log.debug("loading state from the store failed: %s", describe(exc))
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # never end the loop: the next poll may well succeed
                log.error("poll source=%s failed: %s", self.source.name, describe(exc))
                log.debug("poll failure", exc_info=True)
                self._last_failed = True
                try:
                    with self._lock:
                        self._failed("exception", self._clock(), exc)
                except Exception:
                    log.debug("could not publish the failed poll", exc_info=True)
            if not self._last_failed:
                self.checkpoint()
            # after a failure, the back-off :meth:`_failed` worked out and published
            delay = self._backoff if self._last_failed else interval
            deadline = time.monotonic() + delay
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0 or stop.wait(min(REFRESH_INTERVAL, left)):
                    break
                if deadline - time.monotonic() > 0:
                    try:
                        self.refresh()
                    except Exception as exc:
                        log.debug("refreshing gauges failed: %s", describe(exc), exc_info=True)

    # -- loading --

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._load()

    def _load(self) -> None:
        """Rebuild the in-memory state from the store (start, or after a failed write).

        All or nothing: when the store cannot be read, the state from before
        the call is put back (the last good values stay published) and the
        next poll tries again.
        """
        before = dict(self.__dict__)
        try:
            self._load_state()
        except BaseException:
            self.__dict__.update(before)
            raise
        self._loaded_once = True

    def _load_state(self) -> None:
        self._reset_state()
        now = self._clock()
        state = self.store.source_state(self.source.name)
        self._cursor, self._watermark, self._last_success = state
        self._counters = self.store.totals()
        for slo in self._event_slos:
            since = window_start(slo, now, self._evaluator.timezone) - 86400.0
            for result in (Result.GOOD, Result.BAD):
                times = self.store.decision_times(slo.name, result.value, since)
                self._decisions[(slo.name, result.value)] = DecisionTimes(times)
        for key, value in self._unsaved.items():
            self._counters[key] = self._counters.get(key, 0.0) + value
        self._stored_fingerprint = self.store.meta(FINGERPRINT_KEY)
        self._load_status()
        if self._stored_fingerprint == self._fingerprint:
            for ticket_id, text in self.store.live_states():
                try:
                    live = LiveTicket.from_json(ticket_id, text)
                except Exception as exc:  # one damaged row: evaluate that ticket again
                    log.warning(
                        "store %s: engine state of ticket %s unreadable (%s); re-evaluating it",
                        self.store.path,
                        bounded(ticket_id),
                        describe(exc),
                    )
                    self._recheck_all.add(ticket_id)
                    continue
                self._set.add(live, push=False)
            self._set.rebuild_heap()
        else:
            # the SLA/SLO config changed: re-evaluate every live ticket on the next poll
            self._recheck_all = {ticket_id for ticket_id, _ in self.store.live_states()}
        self._loaded = True
        if len(self._set.tickets) >= FREEZE_LIVE_TICKETS:
            # A big live set is long-lived: keep the cyclic garbage collector from
            # rescanning it on every full collection (tens of ms at 100k tickets).
            gc.freeze()

    def _load_status(self) -> None:
        """The status-time horizon and who accrues; a store without them starts at its epoch
        and accrues every live ticket on the next poll."""
        stored = self.store.meta(STATUS_HORIZON_KEY)
        if stored is None:
            self._status_horizon = self.store.epoch
            self._status_rechecks = dict.fromkeys(
                (ticket_id for ticket_id, _ in self.store.live_states()), -math.inf
            )
            return
        self._status_horizon = float(stored)
        for ticket_id, priority, running, recheck_at in self.store.running_status():
            if running is not None:
                key = (priority, running)
                self._status_running[key] = self._status_running.get(key, 0) + 1
            if recheck_at is not None:
                self._status_rechecks[ticket_id] = recheck_at

    def _reload_after_failure(self) -> None:
        self._loaded = False
        try:
            self._load()
        except Exception as exc:  # reported by the caller; the next poll loads again
            log.debug("reloading state from the store failed: %s", describe(exc))

    # -- one poll --

    def _apply(self, result: PollResult, now: float) -> tuple[int, int, int]:
        """Evaluate what changed, write it in one transaction, then update memory."""
        horizon = min(now, result.watermark)
        batch = PollBatch(
            source=self.source.name,
            cursor=result.cursor,
            watermark=result.watermark,
            polled_at=now,
            prune_before=now - self._retention,
        )
        incoming: dict[str, Ticket] = {ticket.id: ticket for ticket in result.tickets}
        encoded = {ticket_id: ticket_body(ticket) for ticket_id, ticket in incoming.items()}
        stored = self.store.digests(list(incoming))
        # None: parse the stored body when its turn comes (a full recompute then holds
        # one parsed ticket at a time instead of all of them)
        changed: dict[str, tuple[Ticket | None, str, bytes]] = {
            ticket_id: (incoming[ticket_id], body, digest)
            for ticket_id, (body, digest) in encoded.items()
            if stored.get(ticket_id) != digest
        }
        # tickets to re-evaluate from their stored JSON: future events now past, or a new config
        again = {i for i, at in self._set.rechecks.items() if at <= now} | self._recheck_all
        again.difference_update(changed)
        stored_bodies = self.store.bodies(sorted(again))
        digests = self.store.digests(list(stored_bodies)) if stored_bodies else {}
        for ticket_id, body in stored_bodies.items():
            changed[ticket_id] = (None, body, digests[ticket_id])
        del stored_bodies

        status_horizon = max(self._status_horizon, horizon)
        status_due = [
            ticket_id
            for ticket_id, at in self._status_rechecks.items()
            if at < status_horizon and ticket_id not in changed
        ]
        status_before = self.store.status_accruals([*changed, *status_due])
        status_added: dict[tuple[str, str], float] = {}

        def accrue_status(ticket: Ticket) -> None:
            accrual, added = accrue(
                ticket,
                self._status_calendar,
                self.store.epoch,
                status_horizon,
                status_before.get(ticket.id),
                self._status_horizon,
            )
            if accrual is not None:
                batch.status[ticket.id] = accrual
            for group, seconds in added.items():
                key = (group, ticket.priority.value)
                status_added[key] = status_added.get(key, 0.0) + seconds

        evaluated: dict[str, LiveTicket | None] = {}
        #: the tickets left out of this poll (a source's own skips are in its problems)
        skipped: dict[str, SkippedRecord] = {}
        for ticket_id, (maybe_ticket, body, digest) in changed.items():
            ticket = maybe_ticket or _stored_ticket(ticket_id, body)
            if isinstance(ticket, SkippedRecord):
                skipped[ticket_id] = ticket
                continue
            outcome = self._evaluate_or_skip(ticket, now, horizon, batch, accrue_status)
            if isinstance(outcome, SkippedRecord):
                skipped[ticket_id] = outcome
                continue
            live, settled_at = outcome
            evaluated[ticket_id] = live
            batch.tickets.append(
                TicketRow(
                    ticket_id,
                    body,
                    digest,
                    ticket.created_at.timestamp(),
                    ticket.priority.value,
                    channel_label(ticket.channel),
                )
            )
            batch.states.append(
                TicketState(ticket_id, live.to_json(), None)
                if live is not None
                else TicketState(ticket_id, None, settled_at)
            )
        decided = len(batch.slo_outcomes) + len(batch.sla_outcomes)
        for ticket_id, body in self.store.bodies(status_due).items():
            stored_ticket = _stored_ticket(ticket_id, body)
            if not isinstance(stored_ticket, SkippedRecord):
                evaluate_ticket(stored_ticket, accrue_status)  # a failure waits for a change
        self._fold_status(status_before, batch.status, status_horizon, status_added)

        # pending outcomes of unchanged live tickets that the watermark has now passed
        touched: dict[str, LiveTicket] = {}
        heap = self._set.heap
        while heap and heap[0][0] < horizon:
            instant, ticket_id, generation, kind, name, cycle = heapq.heappop(heap)
            live = self._set.tickets.get(ticket_id)
            if live is None or live.generation != generation or ticket_id in evaluated:
                continue
            entry = (instant, kind, name, cycle)
            if entry not in live.pending:
                continue
            live.pending.remove(entry)
            self._set.pending_total -= 1
            live.settle_base = max(live.settle_base, instant)
            if kind == _SLO:
                batch.slo_outcomes.append(
                    SloOutcomeRow(ticket_id, name, cycle, Result.BAD.value, instant)
                )
            else:
                batch.sla_outcomes.append(
                    SlaOutcomeRow(ticket_id, name, cycle, live.priority, "breached", instant)
                )
            decided += 1
            touched[ticket_id] = live
        for ticket_id, live in touched.items():
            batch.states.append(
                TicketState(ticket_id, live.to_json(), None)
                if live.is_live
                else TicketState(ticket_id, None, live.settle_base)
            )
        if len(heap) > 2 * self._set.pending_total + 1024:
            self._set.rebuild_heap()

        increments = batch.increments = self._api_requests(result)
        reasons = [skip_reason(problem) for problem in result.problems]
        reasons.extend(skip.reason for skip in skipped.values())
        for reason in reasons:
            skip_key: CounterKey = (metrics.RECORDS_SKIPPED.name, (self.source.name, reason.value))
            increments[skip_key] = increments.get(skip_key, 0.0) + 1.0
        unsaved = self._unsaved
        for counter, value in unsaved.items():
            increments[counter] = increments.get(counter, 0.0) + value
        for (group, priority), seconds in status_added.items():
            status_key: CounterKey = (metrics.TICKET_STATUS_SECONDS.name, (group, priority))
            increments[status_key] = increments.get(status_key, 0.0) + seconds
        batch.meta[STATUS_HORIZON_KEY] = repr(status_horizon)
        if self._stored_fingerprint != self._fingerprint:
            batch.meta[FINGERPRINT_KEY] = self._fingerprint
        deltas = self.store.write_poll(batch)
        self._stored_fingerprint = self._fingerprint

        # committed: now memory follows
        self._recheck_all = set()
        self._unsaved = {}
        for counter, value in unsaved.items():  # already counted in memory when they happened
            self._counters[counter] -= value
        self._apply_deltas(deltas)
        for ticket_id in skipped:
            self._set.rechecks.pop(ticket_id, None)  # not again every poll; a change brings it back
        for skip in list(skipped.values())[:20]:
            log.warning("poll source=%s skipped %s", self.source.name, skip)
        for ticket_id, live in evaluated.items():
            self._set.remove(ticket_id)
            if live is not None:
                self._set.add(live)
        for ticket_id, live in touched.items():
            if not live.is_live:
                self._set.remove(ticket_id)
        self._status_committed(status_before, batch.status, status_due, status_horizon)
        self._cursor = result.cursor
        self._watermark = result.watermark
        self._last_success = now
        return len(changed), decided, deltas.pruned

    def _fold_status(
        self,
        before: Mapping[str, StatusAccrual],
        after: Mapping[str, StatusAccrual],
        horizon: float,
        added: dict[tuple[str, str], float],
    ) -> None:
        """Add the business seconds from the last horizon to ``horizon`` of every ticket
        still in a status group, but those this poll accrued itself (in ``after``)."""
        seconds = self._status_calendar.elapsed_ts(self._status_horizon, horizon)
        if not seconds:
            return
        running = dict(self._status_running)
        for ticket_id in after:
            accrual = before.get(ticket_id)
            if accrual is not None and accrual.running is not None:
                running[(accrual.priority, accrual.running)] -= 1
        for (priority, group), count in running.items():
            if count:
                key = (group, priority)
                added[key] = added.get(key, 0.0) + count * seconds

    def _status_committed(
        self,
        before: Mapping[str, StatusAccrual],
        after: Mapping[str, StatusAccrual],
        due: Iterable[str],
        horizon: float,
    ) -> None:
        """Memory follows the committed status accruals."""
        running = self._status_running
        for ticket_id, accrual in after.items():
            old = before.get(ticket_id)
            if old is not None and old.running is not None:
                running[(old.priority, old.running)] -= 1
            if accrual.running is not None:
                key = (accrual.priority, accrual.running)
                running[key] = running.get(key, 0) + 1
            if accrual.recheck_at is not None:
                self._status_rechecks[ticket_id] = accrual.recheck_at
            else:
                self._status_rechecks.pop(ticket_id, None)
        for ticket_id in due:
            if ticket_id not in after:  # unreadable or gone: a change brings it back
                self._status_rechecks.pop(ticket_id, None)
        self._status_horizon = horizon

    def _apply_deltas(self, deltas: PollDeltas) -> None:
        for key, value in deltas.counters.items():
            self._counters[key] = self._counters.get(key, 0.0) + value
        for row in deltas.slo_outcomes:
            times = self._decisions.get((row.slo, row.result))
            if times is not None:
                times.add(row.decided_at)

    def _api_requests(self, result: PollResult | SourceError | None) -> dict[CounterKey, float]:
        counts: Mapping[str, int] = {}
        if result is not None:
            if result.rate_limit_remaining is not None:
                self._rate_limit_remaining = result.rate_limit_remaining
            counts = result.api_codes
        if not counts and isinstance(result, PollResult) and result.requests:
            counts = {"200": result.requests}
        return {
            (metrics.API_REQUESTS.name, (self.source.name, str(code))): float(count)
            for code, count in counts.items()
            if count
        }

    def _store_failed(self, what: str, now: float, exc: BaseException) -> None:
        """The store failed: one log line, ``reason="store"``, the last good values stay."""
        log.error(
            "poll source=%s: store %s %s: %s; serving the last good values, retrying",
            self.source.name,
            self.store.path,
            what,
            describe(exc),
        )
        log.debug("store failure", exc_info=True)
        self._failed("store", now, exc)

    def _failed(self, reason: str, now: float, exc: BaseException) -> None:
        increments = self._api_requests(exc if isinstance(exc, SourceError) else None)
        key = (metrics.POLL_ERRORS.name, (self.source.name, reason))
        increments[key] = increments.get(key, 0.0) + 1.0
        unsaved = self._unsaved
        for counter, value in increments.items():
            self._counters[counter] = self._counters.get(counter, 0.0) + value
            unsaved[counter] = unsaved.get(counter, 0.0) + value
        try:
            self.store.add_counters(unsaved)
        except Exception as store_exc:  # kept in memory and written with the next write
            if reason != "store":  # already reported
                log.error(
                    "poll source=%s: could not count the failed poll in the store: %s",
                    self.source.name,
                    describe(store_exc),
                )
        else:
            self._unsaved = {}
        retry_after = getattr(exc, "retry_after", None)
        self._retry_after = float(retry_after) if isinstance(retry_after, int | float) else None
        self._up = False
        self._last_failed = True
        self._failed_at = now
        self._last_error = reason
        self._error_times[reason] = now
        self._failures += 1
        # the wait ``run`` takes before the next poll (it counts the same consecutive failures)
        self._backoff = backoff_delay(
            self.config.source.poll_interval.seconds, self._failures, self._retry_after
        )
        self._publish(now)

    # -- evaluation of one changed ticket --

    def _evaluate_or_skip(
        self,
        ticket: Ticket,
        now: float,
        horizon: float,
        batch: PollBatch,
        accrue_status: Callable[[Ticket], None],
    ) -> tuple[LiveTicket | None, float] | SkippedRecord:
        """:meth:`_evaluate` then ``accrue_status`` through :func:`evaluate_ticket`: a ticket
        that fails is skipped and leaves nothing in ``batch`` (its earlier state, if any,
        stays as it was; ``accrue_status`` records nothing when it fails)."""
        facts: tuple[list[Any], ...] = (
            batch.slo_outcomes,
            batch.sla_outcomes,
            batch.sla_stops,
            batch.solves,
            batch.csat,
        )
        sizes = [len(rows) for rows in facts]

        def evaluate(t: Ticket) -> tuple[LiveTicket | None, float]:
            result = self._evaluate(t, now, horizon, batch)
            accrue_status(t)
            return result

        outcome = evaluate_ticket(ticket, evaluate)
        if isinstance(outcome, SkippedRecord):
            for rows, size in zip(facts, sizes, strict=True):
                del rows[size:]
        return outcome

    def _evaluate(
        self, ticket: Ticket, now: float, horizon: float, batch: PollBatch
    ) -> tuple[LiveTicket | None, float]:
        """Decide what can be decided (:func:`exporter.engine.decide`) and record the facts
        in ``batch``.

        Returns the ticket's live state (None once it is closed and decided)
        and the instant it settled: its latest event or decision.
        """
        decision = decide(self._plan, ticket, now, horizon)
        batch.slo_outcomes.extend(decision.slo_outcomes)
        batch.sla_outcomes.extend(decision.sla_outcomes)
        batch.sla_stops.extend(decision.sla_stops)
        batch.solves.extend(decision.solves)
        batch.csat.extend(decision.csat)
        live = LiveTicket(
            decision.ticket_id,
            decision.priority,
            decision.status,
            decision.is_open,
            decision.unassigned,
            decision.unanswered,
            decision.created_at,
            decision.settle,
            decision.recheck_at,
            decision.deadlines,
            decision.thresholds,
            decision.paused,
            decision.pending,
        )
        return (live if live.is_live else None), decision.settle

    # -- the snapshot --

    def _publish(self, now: float) -> None:
        snapshot = self._build_snapshot(now)
        if not self._loaded_once:
            # The store was never read: no counter or gauge is known.  Publishing
            # zeros would read as counter resets, so only the health series go out.
            snapshot = Snapshot(
                taken_at=snapshot.taken_at,
                samples={
                    name: series
                    for name, series in snapshot.samples.items()
                    if name in _HEALTH_ONLY
                },
                ready=snapshot.ready,
            )
        self._snapshot = snapshot

    def _channel(self, stored: str) -> str:
        """The published channel of a stored one (stores of older versions kept raw values)."""
        return self._plan.channel(stored)

    def _build_snapshot(self, now: float) -> Snapshot:
        samples: dict[str, dict[tuple[str, ...], float]] = {spec.name: {} for spec in metrics.ALL}
        histograms: dict[str, list[HistogramSample]] = {
            metrics.SLA_TIME_TO_BREACH.name: [],
            metrics.SLA_ELAPSED.name: [],
            metrics.SLO_TIME_TO_THRESHOLD.name: [],
        }
        config = self.config
        sla_priorities = [
            (metric, priority.value)
            for metric, sla in self._slas.items()
            for priority in PRIORITIES
            if priority in sla.targets
        ]

        def put(spec: metrics.MetricSpec, labels: tuple[str, ...], value: float) -> None:
            samples[spec.name][labels] = value

        def inc(spec: metrics.MetricSpec, labels: tuple[str, ...], value: float) -> None:
            series = samples[spec.name]
            series[labels] = series.get(labels, 0.0) + value

        # counters: every known label combination first, then the stored values
        for spec, labels in known_counter_series(config):
            put(spec, labels, 0.0)
        for reason in SkipReason:
            put(metrics.RECORDS_SKIPPED, (self.source.name, reason.value), 0.0)
        elapsed: dict[tuple[str, str], dict[str, float]] = {pair: {} for pair in sla_priorities}
        elapsed_sums: dict[tuple[str, str], float] = {}
        for (name, labels), value in self._counters.items():
            if name == metrics.TICKETS_CREATED.name or name == metrics.TICKETS_SOLVED.name:
                spec = (
                    metrics.TICKETS_CREATED
                    if name == metrics.TICKETS_CREATED.name
                    else metrics.TICKETS_SOLVED
                )
                inc(spec, (labels[0], self._channel(labels[1])), value)
            elif name == ELAPSED_BUCKET:
                buckets = elapsed.setdefault((labels[0], labels[1]), {})
                buckets[labels[2]] = buckets.get(labels[2], 0.0) + value
            elif name == ELAPSED_SUM:
                pair = (labels[0], labels[1])
                elapsed_sums[pair] = elapsed_sums.get(pair, 0.0) + value
                elapsed.setdefault(pair, {})
            elif name in samples:
                series = samples[name]
                series[labels] = series.get(labels, 0.0) + value
        for (metric, priority), buckets in elapsed.items():
            cumulative = 0.0
            bounds: list[tuple[float, float]] = []
            for bound in metrics.ELAPSED_BUCKETS:
                cumulative += buckets.get(repr(bound), 0.0)
                bounds.append((bound, cumulative))
            count = cumulative + buckets.get(INF, 0.0)
            histograms[metrics.SLA_ELAPSED.name].append(
                HistogramSample(
                    (metric, priority),
                    tuple(bounds),
                    count,
                    elapsed_sums.get((metric, priority), 0.0),
                )
            )

        for priority in PRIORITIES:
            for group in STATUS_GROUPS:
                samples[metrics.TICKET_STATUS_SECONDS.name].setdefault((group, priority.value), 0.0)

        # SLO gauges
        for slo in config.slos:
            put(metrics.SLO_OBJECTIVE, (slo.name,), float(slo.objective_ratio))
        for slo in self._event_slos:
            start = window_start(slo, now, self._evaluator.timezone)
            counts = {}
            for result in (Result.GOOD, Result.BAD):
                times = self._decisions.get((slo.name, result.value))
                counts[result] = times.count(start, now) if times is not None else 0
                if times is not None:
                    times.forget_before(start - 86400.0)
                put(metrics.SLO_PERIOD_EVENTS, (slo.name, result.value), float(counts[result]))
            put(
                metrics.SLO_BUDGET_REMAINING,
                (slo.name,),
                error_budget_remaining(
                    counts[Result.GOOD], counts[Result.BAD], float(slo.objective_ratio)
                ),
            )
        for slo in self._time_slos:
            waiting = self._set.thresholds.get(slo.name)
            put(
                metrics.SLO_WAITING_PAST_THRESHOLD,
                (slo.name,),
                float(waiting.count_before(now)) if waiting is not None else 0.0,
            )
            # cumulative: a ticket already past its threshold is in every bucket
            crossing = tuple(
                (bound, float(waiting.count_until(now + bound)) if waiting is not None else 0.0)
                for bound in metrics.TIME_TO_THRESHOLD_BUCKETS
            )
            count, seconds = waiting.sum_all(now) if waiting is not None else (0, 0.0)
            histograms[metrics.SLO_TIME_TO_THRESHOLD.name].append(
                HistogramSample((slo.name,), crossing, float(count), seconds)
            )

        for name, calendar in self._evaluator.calendars.items():
            put(metrics.CALENDAR_OPEN, (name,), 1.0 if calendar.is_open_ts(now) else 0.0)

        # SLA clock gauges
        nearest: dict[str, list[tuple[float, str, str]]] = {}
        top = config.exporter.top_deadlines
        for metric, priority in sla_priorities:
            timeline = self._set.deadlines.get((metric, priority))
            breached_running = timeline.count_before(now) if timeline is not None else 0
            paused = self._set.paused.get((metric, priority, "paused"), 0)
            paused_late = self._set.paused.get((metric, priority, "breached"), 0)
            running, seconds_left = timeline.sum_from(now) if timeline is not None else (0, 0.0)
            put(metrics.SLA_OPEN_TIMERS, (metric, priority, "running"), float(running))
            put(metrics.SLA_OPEN_TIMERS, (metric, priority, "paused"), float(paused))
            put(
                metrics.SLA_OPEN_TIMERS,
                (metric, priority, "breached"),
                float(breached_running + paused_late),
            )
            bounds = []
            for bound in metrics.TIME_TO_BREACH_BUCKETS:
                within = (
                    timeline.count_until(now + bound) - breached_running
                    if timeline is not None
                    else 0
                )
                bounds.append((bound, float(within)))
            histograms[metrics.SLA_TIME_TO_BREACH.name].append(
                HistogramSample((metric, priority), tuple(bounds), float(running), seconds_left)
            )
            if timeline is not None and running:
                upcoming = timeline.nearest_from(now, max(top, 1))
                put(metrics.SLA_NEXT_BREACH, (metric, priority), upcoming[0][0])
                if top:
                    nearest.setdefault(metric, []).extend(
                        (instant, ticket_id, priority) for instant, ticket_id in upcoming
                    )
        for metric, candidates in nearest.items():
            for instant, ticket_id, priority in sorted(candidates)[:top]:
                put(metrics.SLA_TICKET_DEADLINE, (metric, priority, bounded(ticket_id)), instant)

        # tickets
        for priority in PRIORITIES:
            for status in KNOWN_OPEN_STATUSES:
                put(metrics.TICKETS_OPEN, (priority.value, status), 0.0)
            put(metrics.TICKETS_UNASSIGNED, (priority.value,), 0.0)
        for (priority, status), count in self._set.open.items():
            if count or status in KNOWN_OPEN_STATUSES:
                put(metrics.TICKETS_OPEN, (priority, status), float(count))
        for priority, count in self._set.unassigned.items():
            put(metrics.TICKETS_UNASSIGNED, (priority,), float(count))
        for priority, timeline in self._set.unanswered.items():
            oldest = timeline.first()
            if oldest is not None:
                put(metrics.OLDEST_UNANSWERED, (priority,), oldest)

        # the source and the exporter
        for spec, labels, value in self._source_series():
            put(spec, labels, value)

        return Snapshot(
            taken_at=now,
            samples={
                name: tuple(Sample(labels, value) for labels, value in sorted(series.items()))
                for name, series in samples.items()
                if name not in histograms
            },
            histograms={name: tuple(series) for name, series in histograms.items()},
            ready=self._ready,
        )

    def _source_series(self) -> list[tuple[metrics.MetricSpec, tuple[str, ...], float]]:
        """The series of the source and the exporter, present from the start.

        Until a poll succeeds in this process the last success reads as the
        stored one or the start, whichever is later, and the watermark as the
        stored one, or the start on a new store (see :mod:`exporter.metrics`).
        """
        source = self.source.name
        last_success = max(self._last_success or self._started, self._started)
        watermark = self._watermark if self._watermark is not None else self._started
        series: list[tuple[metrics.MetricSpec, tuple[str, ...], float]] = [
            (metrics.UP, (source,), 1.0 if self._up else 0.0),
            (metrics.LAST_SUCCESSFUL_POLL, (source,), last_success),
            (metrics.WATERMARK, (source,), watermark),
            (metrics.SOURCE_BACKOFF, (source,), self._backoff),
        ]
        for reason, at in self._error_times.items():
            series.append((metrics.POLL_LAST_ERROR, (source, reason), at))
        remaining = self._rate_limit_remaining
        if remaining is not None and not math.isnan(remaining):
            series.append((metrics.API_RATE_LIMIT_REMAINING, (source,), float(remaining)))
        series.append((metrics.BUILD_INFO, (__version__,), 1.0))
        return series

    def _source_snapshot(self, now: float) -> Snapshot:
        """Before the store is read: only the series of the source and the exporter."""
        samples: dict[str, list[Sample]] = {}
        for spec, labels, value in self._source_series():
            samples.setdefault(spec.name, []).append(Sample(labels, value))
        return Snapshot(
            taken_at=now,
            samples={
                name: tuple(sorted(series, key=lambda sample: sample.labels))
                for name, series in samples.items()
            },
        )
