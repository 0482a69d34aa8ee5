"""One record at a time: a ticket that cannot be read or evaluated is skipped, located and counted.

Whatever reads tickets (the file source, ``backfill``) or evaluates them (the
poller, ``backfill``, ``evaluate``) handles each record on its own, so one bad
record never stops the rest.  A record it has to leave out becomes a
:class:`SkippedRecord`: a line of text naming where the record was (``file:line``
or ``ticket ID``) and what is wrong with it, with a bounded :class:`SkipReason`
for ``helpdesk_source_records_skipped_total{reason}``.  ``SkippedRecord`` is a
``str``, so it goes wherever problem lines go (``PollResult.problems``, logs).

:func:`evaluate_ticket` is the one guarded way to evaluate a ticket::

    result = evaluate_ticket(ticket, lambda t: evaluator.evaluate(t, at, at))
    if isinstance(result, SkippedRecord):
        warn(f"skipped {result}")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from exporter.calendar import CalendarRangeError
from exporter.labels import bounded
from exporter.model import EARLIEST, LATEST, InstantRangeError, Ticket, format_instant

T = TypeVar("T")


class SkipReason(StrEnum):
    """Why a record was skipped: the ``reason`` label of the skip counter."""

    #: bytes that are not UTF-8 text
    UNDECODABLE = "undecodable"
    #: not JSON, or not the shape of a ticket
    INVALID = "invalid"
    #: a time outside the supported years, or a deadline past the calendar's range
    OUT_OF_RANGE = "out_of_range"
    #: evaluating the ticket's clocks and outcomes failed
    EVALUATION = "evaluation"


#: Longest detail a skip line carries (a record can hold a megabyte of text).
MAX_DETAIL = 300


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


class SkippedRecord(str):
    """``"WHERE: DETAIL"`` on one line of bounded length, with the :class:`SkipReason` as
    ``reason``."""

    reason: SkipReason
    where: str
    detail: str

    def __new__(cls, reason: SkipReason, where: str, detail: str) -> SkippedRecord:
        detail = _cut(detail)
        self = super().__new__(cls, f"{where}: {detail}")
        self.reason = reason
        self.where = where
        self.detail = detail
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # crosses process boundaries in backfill
        return (SkippedRecord, (self.reason, self.where, self.detail))


def skip_reason(problem: str) -> SkipReason:
    """The reason of a problem line: its own, or ``invalid`` for a plain line from a source."""
    return problem.reason if isinstance(problem, SkippedRecord) else SkipReason.INVALID


def reason_of(error: BaseException) -> SkipReason:
    """The reason an exception raised while reading or evaluating one record stands for."""
    if isinstance(error, InstantRangeError | CalendarRangeError | OverflowError):
        return SkipReason.OUT_OF_RANGE
    if isinstance(error, UnicodeDecodeError):
        return SkipReason.UNDECODABLE
    return SkipReason.EVALUATION


def describe(error: BaseException) -> str:
    """One line about an exception, for a log line or skip message (never a traceback)."""
    return _cut(str(error)) or type(error).__name__


def check_instants(ticket: Ticket) -> None:
    """Raise :class:`InstantRangeError` when a time of the ticket is outside the supported years.

    The JSON form is checked as it is read; tickets from the API sources are
    checked here before they are evaluated.
    """
    instants: list[tuple[str, datetime | None]] = [("created_at", ticket.created_at)]
    if ticket.events:
        instants.append(("events", ticket.events[0].at))
        instants.append(("events", ticket.events[-1].at))
    for clock in ticket.native:
        instants.append(("native.started_at", clock.started_at))
        instants.append(("native.deadline", clock.deadline))
        instants.append(("native.stopped_at", clock.stopped_at))
        instants.append(("native.breached_at", clock.breached_at))
    for name, instant in instants:
        if instant is not None and not EARLIEST <= instant < LATEST:
            raise InstantRangeError(
                f"{name}: time {format_instant(instant)} is outside the years "
                f"{EARLIEST.year} to {LATEST.year - 1}"
            )


def evaluate_ticket(ticket: Ticket, evaluate: Callable[[Ticket], T]) -> T | SkippedRecord:
    """``evaluate(ticket)``, or the :class:`SkippedRecord` saying why it could not be done.

    The ticket's times are checked first (:func:`check_instants`); any
    exception ``evaluate`` raises is caught and described in one line, so the
    caller skips this ticket and goes on with the next.
    """
    try:
        check_instants(ticket)
        return evaluate(ticket)
    except Exception as error:  # one ticket must never stop the rest
        return SkippedRecord(reason_of(error), f"ticket {bounded(ticket.id)}", describe(error))
