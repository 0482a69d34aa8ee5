"""The facts one evaluation of a ticket yields: decided outcomes, clock stops, solves, ratings.

Plain rows, written to the store by the poller as they are, and turned into
counter samples by ``backfill``.
"""

from __future__ import annotations

from typing import NamedTuple


class SloOutcomeRow(NamedTuple):
    ticket_id: str
    slo: str
    cycle: int
    result: str
    decided_at: float


class SlaOutcomeRow(NamedTuple):
    ticket_id: str
    sla: str
    cycle: int
    priority: str
    outcome: str
    decided_at: float


class SlaStopRow(NamedTuple):
    ticket_id: str
    sla: str
    cycle: int
    priority: str
    elapsed: float
    stopped_at: float


class SolveRow(NamedTuple):
    ticket_id: str
    priority: str
    channel: str
    solved_at: float


class CsatRow(NamedTuple):
    ticket_id: str
    rating: str
    rated_at: float
