"""Small readers of the values helpdesk APIs send: instants and ticket ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from exporter.model import format_instant


def instant(value: Any) -> float | None:
    """POSIX seconds of an ISO 8601 time (``2026-11-02T08:15:00Z``), or None.

    A time without an offset is read as UTC, as the helpdesk APIs send them.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def iso(seconds: float) -> str:
    """An instant as the APIs' query parameters take it: ``2026-11-02T08:15:00Z``.

    :func:`~exporter.model.format_instant` to the whole second (a fraction is
    dropped): query parameters such as Freshdesk's ``updated_since`` take no
    fractions.
    """
    return format_instant(datetime.fromtimestamp(seconds, UTC).replace(microsecond=0))


def id_order(ticket_id: str) -> tuple[int, str]:
    """Sort key: numeric ids in number order, then any others."""
    return (int(ticket_id), "") if ticket_id.isdigit() else (1 << 62, ticket_id)
