"""The engine's live set: what the poller keeps in memory of tickets still open or undecided.

* :class:`Timeline`: instants keyed by ticket (deadlines, SLO threshold instants,
  creation of unanswered tickets), sorted for the range counts the gauges need;
* :class:`DecisionTimes`: the sorted decision instants of one SLO result, for its window;
* :class:`LiveTicket`: the engine state of one live ticket, persisted next to it in the
  store so that a restart loads it instead of evaluating the ticket again.

The poller (:mod:`exporter.poller`) owns the loop and the store transaction; these
units hold the state between polls and answer the snapshot's questions with binary
searches, whatever the number of tickets.
"""

from __future__ import annotations

import heapq
import json
import math
from array import array
from bisect import bisect_left, bisect_right, insort
from sys import intern
from typing import Any

from exporter.labels import status_label

#: Compact JSON for persisted live states (built once: ``json.dumps`` builds one per call).
_STATE_JSON = json.JSONEncoder(separators=(",", ":"))


# --- sorted instants ----------------------------------------------------------------------------


class Timeline:
    """Instants keyed by ticket id (at most one per ticket), sorted for range counts.

    Changes are buffered and applied when a query needs the order: a handful
    of changes are inserted in place, many at once trigger one re-sort.
    """

    __slots__ = ("_added", "_at", "_ids", "_removed", "_times", "_total")

    def __init__(self) -> None:
        #: sum of every instant, kept as they come and go (recomputed at each re-sort)
        self._total = 0.0
        self._at: dict[str, float] = {}
        self._times: list[float] = []
        self._ids: list[str] = []
        self._added: dict[str, float] = {}
        self._removed: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._at)

    def add(self, ticket_id: str, instant: float) -> None:
        self.discard(ticket_id)
        self._at[ticket_id] = instant
        self._total += instant
        if self._removed.get(ticket_id) == instant:
            del self._removed[ticket_id]  # back where it was: nothing to move
        else:
            self._added[ticket_id] = instant

    def discard(self, ticket_id: str) -> None:
        instant = self._at.pop(ticket_id, None)
        if instant is None:
            return
        self._total -= instant
        if self._added.pop(ticket_id, None) is None:
            self._removed[ticket_id] = instant

    def _settle(self) -> None:
        if not self._added and not self._removed:
            return
        times, ids = self._times, self._ids
        if (len(self._added) + len(self._removed)) * 32 < len(times):
            # in place; equal instants are ordered by ticket id, so both are binary searches
            for ticket_id, instant in self._removed.items():
                low = bisect_left(times, instant)
                index = bisect_left(ids, ticket_id, low, bisect_right(times, instant, low))
                del times[index]
                del ids[index]
            for ticket_id, instant in self._added.items():
                low = bisect_left(times, instant)
                index = bisect_left(ids, ticket_id, low, bisect_right(times, instant, low))
                times.insert(index, instant)
                ids.insert(index, ticket_id)
        else:
            ordered = sorted(self._at.items(), key=lambda item: (item[1], item[0]))
            self._ids = [ticket_id for ticket_id, _ in ordered]
            self._times = [instant for _, instant in ordered]
            self._total = math.fsum(self._times)
        self._added.clear()
        self._removed.clear()

    def count_before(self, instant: float) -> int:
        """How many instants are strictly earlier than ``instant``."""
        self._settle()
        return bisect_left(self._times, instant)

    def count_until(self, instant: float) -> int:
        """How many instants are at or before ``instant``."""
        self._settle()
        return bisect_right(self._times, instant)

    def first(self) -> float | None:
        self._settle()
        return self._times[0] if self._times else None

    def sum_from(self, instant: float) -> tuple[int, float]:
        """Count and sum of ``t - instant`` over instants ``t >= instant``.

        From the running total less the (usually few) earlier instants, so a snapshot
        does not add up every open ticket's instant.
        """
        self._settle()
        index = bisect_left(self._times, instant)
        count = len(self._times) - index
        if index > count:  # mostly past: adding the rest is cheaper
            return count, math.fsum(self._times[index:]) - count * instant
        return count, max(0.0, self._total - math.fsum(self._times[:index]) - count * instant)

    def sum_all(self, instant: float) -> tuple[int, float]:
        """Count of every instant and sum of ``t - instant``, earlier instants counting 0."""
        _, seconds = self.sum_from(instant)
        return len(self._times), seconds

    def nearest_from(self, instant: float, limit: int) -> list[tuple[float, str]]:
        """The ``limit`` earliest instants at or after ``instant``, with their tickets."""
        self._settle()
        index = bisect_left(self._times, instant)
        end = index + limit
        return list(zip(self._times[index:end], self._ids[index:end], strict=True))


class DecisionTimes:
    """Sorted decision instants of one SLO's outcomes with one result (for its window)."""

    __slots__ = ("_times",)

    def __init__(self, times: array[float] | None = None) -> None:
        self._times: array[float] = times if times is not None else array("d")

    def add(self, instant: float) -> None:
        times = self._times
        if not times or instant >= times[-1]:
            times.append(instant)
        else:
            insort(times, instant)

    def count(self, start: float, end: float) -> int:
        return bisect_right(self._times, end) - bisect_left(self._times, start)

    def forget_before(self, instant: float) -> None:
        cut = bisect_left(self._times, instant)
        if cut and cut * 8 >= len(self._times):
            del self._times[:cut]


# --- engine state of one live ticket ------------------------------------------------------------


class LiveTicket:
    """What the engine keeps of an open or undecided ticket (never the ticket itself).

    ``deadlines``: (SLA metric, instant it breaches) of each running clock;
    ``thresholds``: (SLO, instant its threshold passes) of each running clock
    whose outcome is not good; ``paused``: (SLA metric, ``paused`` or
    ``breached``) of each paused clock; ``pending``: (instant, ``sla``/``slo``,
    name, cycle) of each undecided outcome that will be decided bad at that
    instant.  Gauges only count the clocks of open tickets.
    """

    __slots__ = (
        "created_at",
        "deadlines",
        "generation",
        "id",
        "is_open",
        "paused",
        "pending",
        "priority",
        "recheck_at",
        "settle_base",
        "status",
        "thresholds",
        "unanswered",
        "unassigned",
    )

    def __init__(
        self,
        ticket_id: str,
        priority: str,
        status: str,
        is_open: bool,
        unassigned: bool,
        unanswered: bool,
        created_at: float,
        settle_base: float,
        recheck_at: float | None,
        deadlines: tuple[tuple[str, float], ...],
        thresholds: tuple[tuple[str, float], ...],
        paused: tuple[tuple[str, str], ...],
        pending: list[tuple[float, str, str, int]],
    ) -> None:
        self.id = ticket_id
        self.priority = priority
        self.status = status
        self.is_open = is_open
        self.unassigned = unassigned
        self.unanswered = unanswered
        self.created_at = created_at
        self.settle_base = settle_base
        self.recheck_at = recheck_at
        self.deadlines = deadlines
        self.thresholds = thresholds
        self.paused = paused
        self.pending = pending
        self.generation = 0

    @property
    def is_live(self) -> bool:
        return self.is_open or bool(self.pending) or self.recheck_at is not None

    def to_json(self) -> str:
        return _STATE_JSON.encode(
            [
                self.priority,
                self.status,
                self.is_open,
                self.unassigned,
                self.unanswered,
                self.created_at,
                self.settle_base,
                self.recheck_at,
                self.deadlines,
                self.thresholds,
                self.paused,
                self.pending,
            ]
        )

    @classmethod
    def from_json(cls, ticket_id: str, text: str) -> LiveTicket:
        (
            priority,
            status,
            is_open,
            unassigned,
            unanswered,
            created_at,
            settle_base,
            recheck_at,
            deadlines,
            thresholds,
            paused,
            pending,
        ) = json.loads(text)
        # The names repeat across every live ticket: share one string object each
        # (JSON decoding makes a new one per occurrence).
        return cls(
            ticket_id,
            intern(priority),
            intern(status_label(status)),  # stores of older versions kept the raw status
            is_open,
            unassigned,
            unanswered,
            created_at,
            settle_base,
            recheck_at,
            tuple((intern(metric), instant) for metric, instant in deadlines),
            tuple((intern(slo), instant) for slo, instant in thresholds),
            tuple((intern(metric), intern(state)) for metric, state in paused),
            [
                (instant, intern(kind), intern(name), cycle)
                for instant, kind, name, cycle in pending
            ],
        )


# --- the live set ---------------------------------------------------------------------------------


class LiveSet:
    """Every live ticket's state, indexed for the gauges and the pending decisions.

    ``heap`` holds (instant, ticket, generation, kind, name, cycle) of every pending
    outcome; an entry whose generation is not its ticket's current one is stale and
    skipped when popped (:meth:`rebuild_heap` drops them).  Timelines and counts cover
    open tickets only: ``deadlines`` per (SLA metric, priority), ``thresholds`` per
    SLO, ``unanswered`` per priority (creation instants); ``paused`` per (metric,
    priority, ``paused``/``breached``), ``open`` per (priority, status),
    ``unassigned`` per priority.  ``rechecks`` are tickets to evaluate again at an
    instant even when unchanged.
    """

    def __init__(self) -> None:
        self.tickets: dict[str, LiveTicket] = {}
        self.heap: list[tuple[float, str, int, str, str, int]] = []
        self.generation = 0
        self.pending_total = 0
        self.rechecks: dict[str, float] = {}
        self.deadlines: dict[tuple[str, str], Timeline] = {}
        self.thresholds: dict[str, Timeline] = {}
        self.unanswered: dict[str, Timeline] = {}
        self.paused: dict[tuple[str, str, str], int] = {}
        self.open: dict[tuple[str, str], int] = {}
        self.unassigned: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.tickets)

    def add(self, live: LiveTicket, push: bool = True) -> None:
        """Index ``live`` (``push``: also its pending outcomes, else :meth:`rebuild_heap` later)."""
        self.generation += 1
        live.generation = self.generation
        self.tickets[live.id] = live
        if live.recheck_at is not None:
            self.rechecks[live.id] = live.recheck_at
        self.pending_total += len(live.pending)
        if push:
            for instant, kind, name, cycle in live.pending:
                heapq.heappush(self.heap, (instant, live.id, live.generation, kind, name, cycle))
        if not live.is_open:
            return
        priority = live.priority
        for metric, instant in live.deadlines:
            _timeline(self.deadlines, (metric, priority)).add(live.id, instant)
        for slo, instant in live.thresholds:
            _timeline(self.thresholds, slo).add(live.id, instant)
        for metric, paused_state in live.paused:
            key = (metric, priority, paused_state)
            self.paused[key] = self.paused.get(key, 0) + 1
        self.open[(priority, live.status)] = self.open.get((priority, live.status), 0) + 1
        if live.unassigned:
            self.unassigned[priority] = self.unassigned.get(priority, 0) + 1
        if live.unanswered:
            _timeline(self.unanswered, priority).add(live.id, live.created_at)

    def remove(self, ticket_id: str) -> None:
        live = self.tickets.pop(ticket_id, None)
        if live is None:
            return
        self.rechecks.pop(ticket_id, None)
        self.pending_total -= len(live.pending)
        if not live.is_open:
            return
        priority = live.priority
        for metric, _ in live.deadlines:
            self.deadlines[(metric, priority)].discard(ticket_id)
        for slo, _ in live.thresholds:
            self.thresholds[slo].discard(ticket_id)
        for metric, paused_state in live.paused:
            self.paused[(metric, priority, paused_state)] -= 1
        self.open[(priority, live.status)] -= 1
        if live.unassigned:
            self.unassigned[priority] -= 1
        if live.unanswered:
            self.unanswered[priority].discard(ticket_id)

    def rebuild_heap(self) -> None:
        """The heap of every live ticket's pending outcomes, without stale entries."""
        self.heap = [
            (instant, live.id, live.generation, kind, name, cycle)
            for live in self.tickets.values()
            for instant, kind, name, cycle in live.pending
        ]
        heapq.heapify(self.heap)


def _timeline(table: dict[Any, Timeline], key: Any) -> Timeline:
    timeline = table.get(key)
    if timeline is None:
        timeline = table[key] = Timeline()
    return timeline
