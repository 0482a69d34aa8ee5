"""``mode: native``: the helpdesk's own SLA clocks, read as of an instant."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.config import parse_config
from exporter.model import ticket_from_json
from exporter.slo import Evaluator
from tests.builders import iso, ts

CONFIG = parse_config(
    """
source: {type: file, path: t.jsonl}
slas:
  first_response:
    mode: native
    targets: {urgent: 1h}
slos:
  - name: native-first-response
    sla: first_response
    objective: 95%
  - name: half-of-target
    sla: first_response
    threshold: 50%
    objective: 95%
"""
)
EVALUATOR = Evaluator(CONFIG)


def native_ticket(**clock: Any) -> Any:
    return ticket_from_json(
        {
            "id": "n1",
            "created_at": iso("2026-11-02 09:00"),
            "priority": "urgent",
            "events": [
                {"at": iso("2026-11-02 09:50"), "type": "agent_reply"},
            ],
            "native": [
                {
                    "metric": "first_response",
                    "started_at": iso("2026-11-02 09:00"),
                    "target_seconds": 7200,
                    **{k: iso(v) if isinstance(v, str) else v for k, v in clock.items()},
                }
            ],
        }
    )


@pytest.mark.parametrize(
    ("clock", "at", "state", "result"),
    [
        pytest.param(
            {"deadline": "2026-11-02 11:00"}, "2026-11-02 10:00", "running", "pending", id="running"
        ),
        pytest.param(
            {"deadline": "2026-11-02 11:00", "stopped_at": "2026-11-02 10:30"},
            "2026-11-02 12:00",
            "met",
            "good",
            id="fulfilled-before-deadline",
        ),
        pytest.param(
            {"deadline": "2026-11-02 11:00", "breached_at": "2026-11-02 11:00"},
            "2026-11-02 12:00",
            "breached",
            "bad",
            id="helpdesk-recorded-breach",
        ),
        pytest.param(
            {"deadline": "2026-11-02 11:00", "breached_at": "2026-11-02 11:00"},
            "2026-11-02 10:30",
            "running",
            "pending",
            id="breach-after-at-not-seen-yet",
        ),
        pytest.param(
            {"deadline": None, "paused": True}, "2026-11-02 12:00", "paused", "pending", id="paused"
        ),
        pytest.param(
            {"deadline": "2026-11-02 11:00"},
            "2026-11-02 11:30",
            "breached",
            "bad",
            id="deadline-passed-without-fulfilment",
        ),
    ],
)
def test_native_clock(clock: dict[str, Any], at: str, state: str, result: str) -> None:
    evaluation = EVALUATOR.evaluate(native_ticket(**clock), ts(at))
    status = evaluation.slas["first_response"][0]
    assert status.state.value == state
    # the helpdesk's own 2h target wins over the config's 1h
    assert status.target_seconds == 7200
    assert evaluation.slos["native-first-response"][0].result.value == result


def test_other_thresholds_use_computed_clocks() -> None:
    # 50% of the configured 1h target: 30m, and the human reply came at 50m
    evaluation = EVALUATOR.evaluate(
        native_ticket(deadline="2026-11-02 11:00"), ts("2026-11-02 12:00")
    )
    outcome = evaluation.slos["half-of-target"][0]
    assert (outcome.result.value, outcome.decided_at) == ("bad", ts("2026-11-02 09:30"))


def test_native_round_trips_through_json() -> None:
    from exporter.model import ticket_to_json

    t = native_ticket(deadline="2026-11-02 11:00", stopped_at="2026-11-02 10:30")
    assert ticket_from_json(ticket_to_json(t)) == t
