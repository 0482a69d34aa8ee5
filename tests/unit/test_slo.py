"""SLO outcomes, windows and error budgets, worked out by hand.

Same office calendar as test_sla (UTC business hours 08:00-11:30 and
12:30-17:00 in November).  ``urgent-first-response`` takes 50% of the urgent
1h first-response target (30 business minutes); ``first-response-30m`` has a
fixed 30m threshold for every priority.
"""

from __future__ import annotations

import pytest

from exporter.model import Ticket
from exporter.slo import Evaluator, Result, error_budget_remaining, window_start
from tests.builders import (
    csat,
    office_config,
    reply,
    requester,
    solved,
    status,
    ticket,
    ts,
)

CONFIG = office_config()
EVALUATOR = Evaluator(CONFIG)


def outcome(t: Ticket, slo: str, at: str, watermark: str | None = None) -> tuple[str, float | None]:
    evaluation = EVALUATOR.evaluate(t, ts(at), ts(watermark) if watermark else None)
    latest = evaluation.slos[slo][-1]
    return latest.result.value, latest.decided_at


CASES = [
    pytest.param(
        ticket("2026-11-02 09:00", reply("2026-11-02 09:20")),
        "urgent-first-response",
        "2026-11-02 12:00",
        None,
        ("good", "2026-11-02 09:20"),
        id="reply-within-half-target-is-good-at-reply",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", reply("2026-11-02 09:45")),
        "urgent-first-response",
        "2026-11-02 12:00",
        None,
        ("bad", "2026-11-02 09:30"),
        id="sla-met-but-slo-threshold-missed-bad-at-threshold",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", reply("2026-11-02 11:00")),
        "urgent-first-response",
        "2026-11-02 12:00",
        None,
        ("bad", "2026-11-02 09:30"),
        id="decided-at-threshold-not-when-the-reply-comes",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", reply("2026-11-02 09:30")),
        "urgent-first-response",
        "2026-11-02 12:00",
        None,
        ("good", "2026-11-02 09:30"),
        id="reply-exactly-at-threshold-is-good",
    ),
    pytest.param(
        ticket("2026-11-02 09:00"),
        "urgent-first-response",
        "2026-11-02 09:25",
        None,
        ("pending", None),
        id="running-under-threshold-is-pending",
    ),
    pytest.param(
        ticket("2026-11-02 09:00"),
        "urgent-first-response",
        "2026-11-02 09:40",
        "2026-11-02 09:20",
        ("pending", None),
        id="watermark-before-threshold-keeps-it-pending",
    ),
    pytest.param(
        ticket("2026-11-02 09:00"),
        "urgent-first-response",
        "2026-11-02 09:40",
        "2026-11-02 09:35",
        ("bad", "2026-11-02 09:30"),
        id="watermark-past-threshold-decides-bad",
    ),
    pytest.param(
        ticket("2026-11-02 11:15", reply("2026-11-02 12:40")),
        "urgent-first-response",
        "2026-11-02 16:00",
        None,
        ("good", "2026-11-02 12:40"),
        id="threshold-crosses-lunch-12-45",
    ),
    pytest.param(
        ticket("2026-11-02 09:00", reply("2026-11-02 10:45"), priority="high"),
        "first-response-30m",
        "2026-11-02 16:00",
        None,
        ("bad", "2026-11-02 09:30"),
        id="duration-threshold-ignores-priority-target",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            solved("2026-11-02 09:00"),
            status("2026-11-03 08:00", "open"),
            solved("2026-11-03 12:00"),
        ),
        "resolution",
        "2026-11-03 16:00",
        None,
        ("good", "2026-11-02 09:00"),
        id="resolution-decided-at-first-solve-reopen-changes-nothing",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00",
            reply("2026-11-02 08:05"),
            requester("2026-11-02 09:00"),
            reply("2026-11-02 10:30"),
            tags=["vip"],
        ),
        "next-response",
        "2026-11-02 16:00",
        None,
        ("bad", "2026-11-02 10:00"),
        id="next-response-threshold-defaults-to-the-target",
    ),
    pytest.param(
        ticket(
            "2026-11-02 08:00", csat("2026-11-02 10:00", "good"), csat("2026-11-02 11:00", "bad")
        ),
        "csat",
        "2026-11-02 16:00",
        None,
        ("good", "2026-11-02 10:00"),
        id="csat-first-rating-decides",
    ),
    pytest.param(
        ticket("2026-11-02 08:00", csat("2026-11-02 10:00", "bad")),
        "csat",
        "2026-11-02 16:00",
        None,
        ("bad", "2026-11-02 10:00"),
        id="csat-bad-rating",
    ),
]


@pytest.mark.parametrize(("t", "slo", "at", "watermark", "expect"), CASES)
def test_outcome(
    t: Ticket, slo: str, at: str, watermark: str | None, expect: tuple[str, str | None]
) -> None:
    result, decided_at = outcome(t, slo, at, watermark)
    assert (result, decided_at) == (expect[0], ts(expect[1]) if expect[1] else None)


def test_outcome_never_changes_once_decided() -> None:
    t = ticket("2026-11-02 09:00", reply("2026-11-02 09:45"))
    seen = {
        outcome(t, "urgent-first-response", at) for at in ("2026-11-02 09:31", "2026-11-03 12:00")
    }
    assert seen == {("bad", ts("2026-11-02 09:30"))}


@pytest.mark.parametrize(
    ("t", "slos"),
    [
        pytest.param(
            ticket("2026-11-02 09:00", priority="high"),
            {"first-response-30m", "resolution"},
            id="high",
        ),
        pytest.param(
            ticket("2026-11-02 09:00", priority="urgent"),
            {"urgent-first-response", "first-response-30m", "resolution"},
            id="urgent",
        ),
        pytest.param(
            ticket("2026-11-02 09:00", priority="urgent", tags=["vip"]),
            {"urgent-first-response", "first-response-30m", "resolution"},
            id="vip-without-next-response-cycle",
        ),
    ],
)
def test_match_selects_tickets(t: Ticket, slos: set[str]) -> None:
    evaluation = EVALUATOR.evaluate(t, ts("2026-11-02 12:00"))
    counted = {name for name, outcomes in evaluation.slos.items() if outcomes}
    assert counted == slos


def test_percentage_threshold_takes_each_tickets_target() -> None:
    config = office_config(
        """
  - name: half-target
    sla: first_response
    match: {priority: [urgent, high]}
    threshold: 50%
    objective: 90%
"""
    )
    evaluator = Evaluator(config)
    # urgent: 30m threshold -> bad at 09:30; high: 2h threshold -> good at the 10:45 reply
    urgent = ticket("2026-11-02 09:00", reply("2026-11-02 10:45"), priority="urgent")
    high = ticket("2026-11-02 09:00", reply("2026-11-02 10:45"), priority="high")
    at = ts("2026-11-02 16:00")
    assert evaluator.evaluate(urgent, at).slos["half-target"][0].decided_at == ts(
        "2026-11-02 09:30"
    )
    assert evaluator.evaluate(urgent, at).slos["half-target"][0].result is Result.BAD
    assert evaluator.evaluate(high, at).slos["half-target"][0].result is Result.GOOD


@pytest.mark.parametrize(
    ("good", "bad", "objective", "remaining"),
    [
        pytest.param(0, 0, 0.95, 1.0, id="no-events-untouched"),
        pytest.param(20, 0, 0.95, 1.0, id="all-good"),
        pytest.param(19, 1, 0.95, 0.0, id="exactly-spent"),
        pytest.param(9, 1, 0.8, 0.5, id="half-spent"),
        pytest.param(0, 2, 0.9, -9.0, id="overspent"),
    ],
)
def test_error_budget_remaining(good: int, bad: int, objective: float, remaining: float) -> None:
    assert error_budget_remaining(good, bad, objective) == pytest.approx(remaining)


@pytest.mark.parametrize(
    ("window", "at", "start"),
    [
        pytest.param("7d", "2026-11-09 12:00", "2026-11-02 12:00", id="rolling-7d"),
        pytest.param("week", "2026-11-04 12:00", "2026-11-01 23:00", id="week-starts-monday-paris"),
        pytest.param("week", "2026-10-28 12:00", "2026-10-25 23:00", id="week-after-dst-end"),
        pytest.param("month", "2026-11-15 12:00", "2026-10-31 23:00", id="month-in-winter-time"),
        pytest.param("month", "2026-10-15 12:00", "2026-09-30 22:00", id="month-in-summer-time"),
        pytest.param(
            "month", "2026-12-01 00:30", "2026-11-30 23:00", id="new-month-local-midnight"
        ),
    ],
)
def test_window_start(window: str, at: str, start: str) -> None:
    config = office_config(
        f"""
  - name: windowed
    sla: first_response
    objective: 90%
    window: {window}
"""
    )
    slo = config.slo("windowed")
    assert window_start(slo, ts(at), "Europe/Paris") == ts(start)


def test_summary_counts_outcomes_decided_inside_the_window() -> None:
    # first-response-30m has a rolling 7d window
    tickets = [
        ticket("2026-11-02 09:00", reply("2026-11-02 09:10"), id="old-good"),
        ticket("2026-11-09 09:00", reply("2026-11-09 09:10"), id="good"),
        ticket("2026-11-09 09:00", reply("2026-11-09 10:00"), id="bad"),
        ticket("2026-11-10 09:00", id="pending"),
    ]
    at = ts("2026-11-10 09:10")
    summary = EVALUATOR.summarize([EVALUATOR.evaluate(t, at) for t in tickets], at)
    got = summary["first-response-30m"]
    assert (got.good, got.bad, got.pending) == (1, 1, 1)
    assert got.error_budget_remaining_ratio == pytest.approx(1 - 0.5 / 0.1)
