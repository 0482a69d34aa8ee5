"""Small builders for tickets and configs used across tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from exporter.config import Config, parse_config
from exporter.model import Ticket, ticket_from_json


def utc(text: str) -> datetime:
    """``"2026-11-02 09:00"`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ts(text: str) -> float:
    return utc(text).timestamp()


def iso(text: str) -> str:
    return utc(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def reply(at: str, **extra: Any) -> dict[str, Any]:
    return {"at": iso(at), "type": "agent_reply", "public": True, "automated": False, **extra}


def auto_ack(at: str) -> dict[str, Any]:
    return reply(at, automated=True)


def note(at: str) -> dict[str, Any]:
    return reply(at, public=False)


def requester(at: str) -> dict[str, Any]:
    return {"at": iso(at), "type": "requester_reply"}


def status(at: str, to: str) -> dict[str, Any]:
    return {"at": iso(at), "type": "status", "to": to}


def assigned(at: str, to: str | None = None) -> dict[str, Any]:
    """An assignment to an agent, or to a group with ``to="group"``."""
    return {"at": iso(at), "type": "assigned", **({"to": to} if to else {})}


def solved(at: str) -> dict[str, Any]:
    return {"at": iso(at), "type": "solved"}


def csat(at: str, rating: str) -> dict[str, Any]:
    return {"at": iso(at), "type": "csat", "rating": rating}


def ticket(
    created: str, *events: dict[str, Any], priority: str = "urgent", id: str = "1", **fields: Any
) -> Ticket:
    return ticket_from_json(
        {
            "id": id,
            "created_at": iso(created),
            "status": fields.pop("status", "open"),
            "priority": priority,
            "events": list(events),
            **fields,
        }
    )


#: Europe/Paris office, 09:00-12:30 and 13:30-18:00 Mon-Fri (UTC+1 in November:
#: 08:00-11:30 and 12:30-17:00 UTC), a holiday on 2026-11-11.
OFFICE_CONFIG = """
service: support
source: {type: file, path: tickets.jsonl}
calendars:
  office:
    timezone: Europe/Paris
    hours: {mon-fri: ["09:00-12:30", "13:30-18:00"]}
    holidays: ["2026-11-11"]
slas:
  first_response:
    calendar: office
    targets: {urgent: 1h, high: 4h, normal: 8h}
  next_response:
    calendar: office
    targets: {urgent: 1h, high: 2h, normal: 4h}
  resolution:
    calendar: office
    targets: {urgent: 4h, high: 8h, normal: 16h}
slos:
  - name: urgent-first-response
    sla: first_response
    match: {priority: [urgent]}
    threshold: 50%
    objective: 95%
  - name: first-response-30m
    sla: first_response
    threshold: 30m
    objective: 90%
    window: 7d
  - name: resolution
    sla: resolution
    objective: 80%
    window: month
  - name: next-response
    sla: next_response
    match: {tags: [vip]}
    objective: 90%
  - name: csat
    kind: csat
    objective: 90%
    window: month
"""


def office_config(extra: str = "") -> Config:
    return parse_config(OFFICE_CONFIG + extra)


#: :data:`OFFICE_CONFIG` with ``start: assigned`` on every SLA.
OFFICE_CONFIG_FROM_ASSIGNMENT = OFFICE_CONFIG.replace(
    "    calendar: office\n", "    calendar: office\n    start: assigned\n"
)
