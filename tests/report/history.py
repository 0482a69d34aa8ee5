"""A hand-built history for the report tests: two whole ISO weeks in UTC, round the clock.

Urgent tickets, first-response SLA target 1h, SLO ``urgent-first-response`` at
50% (30m), objective 90%, 7d windows, backlog alert at 2 tickets for 10m:

=====  ===================  ===========  ============================================
id     created (UTC)        first reply  then
=====  ===================  ===========  ============================================
a      Mon 11-02 09:00      +10m         solved 10:00
b      Mon 11-02 09:00      +20m         solved 10:00
c      Mon 11-02 09:00      +90m         SLA breached at 10:00; solved 11:00
d      Mon 11-02 09:05      +45m         solved 10:00
e      Tue 11-10 14:00      +5m          pending 14:10-16:10, solved 17:10
f      Tue 11-10 14:00      +40m         on hold 15:00-15:30, solved 16:00
=====  ===================  ===========  ============================================

So: first replies 5, 10, 20, 40, 45, 90 minutes; the SLO is bad for c (09:30),
d (09:35) and f (14:30); c and d wait past 30m together from 09:35 to 09:50.
"""

from __future__ import annotations

import json
from pathlib import Path

from exporter.config import Config, parse_config
from exporter.model import Ticket, ticket_to_json
from tests.builders import reply, solved, status, ticket

SINCE = "2026-11-02T00:00:00Z"
UNTIL = "2026-11-16T00:00:00Z"

CONFIG = """\
service: support
source: {type: file, path: tickets.jsonl}
calendars:
  always: 24x7
slas:
  first_response:
    calendar: always
    targets: {urgent: 1h}
  resolution:
    calendar: always
    pause_statuses: [pending, on_hold]
    targets: {urgent: 8h}
slos:
  - name: urgent-first-response
    sla: first_response
    match: {priority: [urgent]}
    threshold: 50%
    objective: 90%
    window: 7d
    alerting: {backlog_tickets: 2, backlog_for: 10m}
"""


def tickets() -> list[Ticket]:
    def quick(tid: str, created: str, first: str, done: str) -> Ticket:
        return ticket(created, reply(first), solved(done), status="solved", id=tid)

    return [
        quick("a", "2026-11-02 09:00", "2026-11-02 09:10", "2026-11-02 10:00"),
        quick("b", "2026-11-02 09:00", "2026-11-02 09:20", "2026-11-02 10:00"),
        quick("c", "2026-11-02 09:00", "2026-11-02 10:30", "2026-11-02 11:00"),
        quick("d", "2026-11-02 09:05", "2026-11-02 09:50", "2026-11-02 10:00"),
        ticket(
            "2026-11-10 14:00",
            reply("2026-11-10 14:05"),
            status("2026-11-10 14:10", "pending"),
            status("2026-11-10 16:10", "open"),
            solved("2026-11-10 17:10"),
            status="solved",
            id="e",
        ),
        ticket(
            "2026-11-10 14:00",
            reply("2026-11-10 14:40"),
            status("2026-11-10 15:00", "on_hold"),
            status("2026-11-10 15:30", "open"),
            solved("2026-11-10 16:00"),
            status="solved",
            id="f",
        ),
    ]


def config(extra: str = "") -> Config:
    return parse_config(CONFIG + extra)


def write(directory: Path, extra: str = "") -> Path:
    """The config and its tickets.jsonl in ``directory``; returns the config's path."""
    lines = [json.dumps(ticket_to_json(t)) for t in tickets()]
    (directory / "tickets.jsonl").write_text("\n".join(lines) + "\n")
    path = directory / "helpdesk-slo.yml"
    path.write_text(CONFIG + extra)
    return path
