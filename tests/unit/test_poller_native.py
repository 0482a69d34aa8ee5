"""``mode: native`` in the live exporter: the helpdesk's verdicts become the SLA facts.

24x7 calendar; the helpdesk's own clocks disagree with ours on purpose (its
target is 10 minutes where ours is 1 hour), so every assertion shows which
one was used.
"""

from __future__ import annotations

import json
from pathlib import Path

from exporter import metrics
from exporter.config import parse_config
from exporter.poller import Poller
from exporter.sources.file import FileSource
from exporter.store import Store
from tests.builders import iso, ts
from tests.unit.poller_harness import value

CONFIG = """
source: {type: file, path: tickets.jsonl}
store: state.db
slas:
  first_response:
    mode: native
    targets: {urgent: 1h}
slos:
  - name: native-reply
    sla: first_response
    objective: 90%
  - name: half-hour-reply
    sla: first_response
    threshold: 30m
    objective: 90%
"""


def record(ticket_id: str, reply: str, **native: str | bool | None) -> dict[str, object]:
    return {
        "id": ticket_id,
        "created_at": iso("2026-11-02 09:00"),
        "priority": "urgent",
        "status": "open",
        "events": [{"at": iso(reply), "type": "agent_reply"}],
        "native": [
            {
                "metric": "first_response",
                "started_at": iso("2026-11-02 09:00"),
                "target_seconds": 600,
                "deadline": iso("2026-11-02 09:10"),
                **{k: iso(v) if isinstance(v, str) else v for k, v in native.items()},
            }
        ],
    }


def test_native_verdicts_are_the_sla_facts(tmp_path: Path) -> None:
    tickets = [
        # replied at 09:20: our 1h clock would say met, the helpdesk says breached at 09:10
        record(
            "1", "2026-11-02 09:20", stopped_at="2026-11-02 09:20", breached_at="2026-11-02 09:10"
        ),
        # replied at 09:05: met for both
        record("2", "2026-11-02 09:05", stopped_at="2026-11-02 09:05"),
    ]
    (tmp_path / "tickets.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tickets))
    config = parse_config(CONFIG, base_dir=tmp_path)
    now = ts("2026-11-02 12:00")
    store = Store(config.store, clock=lambda: ts("2026-11-02 08:00"))
    poller = Poller(config, FileSource(config.source), store, clock=lambda: now)
    poller.poll_once()
    snapshot = poller.snapshot
    outcomes = metrics.SLA_OUTCOMES.name
    assert value(snapshot, outcomes, "first_response", "urgent", "breached") == 1
    assert value(snapshot, outcomes, "first_response", "urgent", "met") == 1
    events = metrics.SLO_EVENTS.name
    # the SLO at 100% of the SLA takes the helpdesk's verdict ...
    assert value(snapshot, events, "native-reply", "bad") == 1
    assert value(snapshot, events, "native-reply", "good") == 1
    # ... an SLO with its own threshold uses our clocks: 20m and 5m are both within 30m
    assert value(snapshot, events, "half-hour-reply", "good") == 2
    assert value(snapshot, events, "half-hour-reply", "bad") == 0
    store.close()
