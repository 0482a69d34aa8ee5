"""The report document's numbers, against the hand-built history of :mod:`tests.report.history`
and against small hand-made event lists."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.config import SloConfig
from exporter.model import parse_instant
from exporter.report.document import _budget, _gaps, build, percentile
from tests.builders import ts
from tests.report.history import config, tickets

MINUTE = 60


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    doc, skipped = build(
        config(), tickets(), ts("2026-11-02 00:00"), ts("2026-11-16 00:00"), "tickets.jsonl"
    )
    assert skipped == []
    return doc


def _sla(document: dict[str, Any], metric: str) -> dict[str, Any]:
    return next(r for r in document["slas"] if r["sla"] == metric and r["priority"] == "urgent")


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([10.0, 20.0], 90, 19.0),
        ([5.0], 95, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([], 50, None),
    ],
    ids=["between-two", "one-value", "median-of-even", "empty"],
)
def test_percentile_interpolates_between_closest_ranks(
    values: list[float], p: int, expected: float | None
) -> None:
    assert percentile(values, p) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("tickets", 6),
        ("stopped", 6),
        ("met", 5),
        ("breached", 1),
        # first replies 5, 10, 20, 40, 45, 90 minutes
        ("p50_seconds", 30 * MINUTE),
        ("p90_seconds", 67.5 * MINUTE),
        ("p95_seconds", 78.75 * MINUTE),
    ],
    ids=["volume", "stopped", "met", "breached", "p50", "p90", "p95"],
)
def test_first_response_figures(document: dict[str, Any], key: str, expected: float) -> None:
    assert _sla(document, "first_response")[key] == expected


def test_sla_met_and_breached_per_week(document: dict[str, Any]) -> None:
    weeks = _sla(document, "first_response")["weeks"]
    assert [(w["week"], w["met"], w["breached"]) for w in weeks] == [
        ("2026-W45", 3, 1),
        ("2026-W46", 2, 0),
    ]


def test_slo_compliance_per_week_against_its_objective(document: dict[str, Any]) -> None:
    (slo,) = document["slos"]
    assert [
        (w["week"], w["good"], w["bad"], w["compliance_ratio"], w["meets_objective"])
        for w in slo["weeks"]
    ] == [("2026-W45", 2, 2, 0.5, False), ("2026-W46", 1, 1, 0.5, False)]


def test_budget_windows_are_laid_back_from_the_end(document: dict[str, Any]) -> None:
    (slo,) = document["slos"]
    assert [
        (w["from"], w["to"], w["events"], w["bad"], w["allowed_bad"], w["exhausted_at"])
        for w in slo["budget_windows"]
    ] == [
        ("2026-11-02T00:00:00Z", "2026-11-09T00:00:00Z", 4, 2, 0.4, "2026-11-02T09:30:00Z"),
        ("2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z", 2, 1, 0.2, "2026-11-10T14:30:00Z"),
    ]


def test_burn_down_counts_bad_events_up_to_each_day(document: dict[str, Any]) -> None:
    points = document["slos"][0]["budget_windows"][1]["burn_down"]
    # f's bad event on Tuesday 11-10 14:30 spends 1 / 0.2 of the budget
    assert [p["remaining_ratio"] for p in points[:3]] == [1, 1, -4]
    assert len(points) == 8


def test_heatmap_counts_breaches_by_weekday_and_hour(document: dict[str, Any]) -> None:
    heatmap = document["heatmap"]
    cells = {
        (day, hour): count
        for day, row in enumerate(heatmap["breaches"])
        for hour, count in enumerate(row)
        if count
    }
    assert cells == {(0, 10): 1}  # c's first-response deadline, Monday 10:00 UTC
    assert heatmap["worst_days"] == [{"date": "2026-11-02", "breaches": 1}]
    assert heatmap["worst_hours"] == [{"weekday": "Mon", "hour": 10, "breaches": 1}]


def test_staffing_gap_is_the_stretch_with_two_tickets_past_the_threshold(
    document: dict[str, Any],
) -> None:
    assert document["slos"][0]["staffing_gaps"] == [
        {
            "from": "2026-11-02T09:35:00Z",
            "to": "2026-11-02T09:50:00Z",
            "duration_seconds": 15 * MINUTE,
            "peak_tickets": 2,
            "alerted": True,
            "tickets": ["c", "d"],
        }
    ]


def test_time_split_divides_resolution_time_by_status(document: dict[str, Any]) -> None:
    # working 60+60+120+55+70+90 minutes, pending 120 (e), on hold 30 (f), over 6 tickets
    assert document["time_split"] == [
        {
            "priority": "urgent",
            "solved": 6,
            "working_seconds": 455 * MINUTE / 6,
            "waiting_on_customer_seconds": 20 * MINUTE,
            "on_hold_seconds": 5 * MINUTE,
        }
    ]


def test_first_reply_distribution_bins_with_thresholds(document: dict[str, Any]) -> None:
    (panel,) = document["first_reply"]
    counted = {b["le_seconds"]: b["count"] for b in panel["bins"] if b["count"]}
    # 5-minute bins up to 2h: 5, 10, 20, 40, 45 and 90 minutes
    assert counted == {300: 1, 600: 1, 1200: 1, 2400: 1, 2700: 1, 5400: 1}
    assert panel["sla_target_seconds"] == 3600
    assert panel["slo_thresholds"] == [{"slo": "urgent-first-response", "seconds": 1800}]


def test_breached_tickets_name_the_breach(document: dict[str, Any]) -> None:
    assert document["breached_tickets"] == [
        {
            "id": "c",
            "url": None,
            "priority": "urgent",
            "channel": "none",
            "sla": "first_response",
            "cycle": 0,
            "breached_at": "2026-11-02T10:00:00Z",
            "target_seconds": 3600,
        }
    ]


def test_ticket_url_template_links_breached_tickets() -> None:
    doc, _ = build(
        config().model_copy(
            update={
                "source": config().source.model_copy(
                    update={"ticket_url": "https://help.example/t/{id}"}
                )
            }
        ),
        tickets(),
        ts("2026-11-02 00:00"),
        ts("2026-11-16 00:00"),
        "x",
    )
    assert [b["url"] for b in doc["breached_tickets"]] == ["https://help.example/t/c"]


DAY = 86400.0
UNTIL = ts("2026-11-16 00:00")


def _slo(objective: str, window: str = "7d") -> SloConfig:
    return SloConfig.model_validate(
        {"name": "s", "sla": "first_response", "objective": objective, "window": window}
    )


@pytest.mark.parametrize(
    ("objective", "bad_days_back", "expected"),
    [
        # 10 events, 80%: 2 bad allowed; 1 bad 3 days ago: 1 bad per 7 days -> 7 days more
        ("80%", [3], {"exhausted": False, "exhaustion_at": "2026-11-23T00:00:00Z",
                      "before_window_end": True}),
        # 10 events, 50%: 5 allowed; 1 bad: 4 left at 1 per 7 days -> 28 days, past the end
        ("50%", [3], {"exhausted": False, "exhaustion_at": "2026-12-14T00:00:00Z",
                      "before_window_end": False}),
        # 10 events, 90%: 1 allowed, 1 bad: spent at that event
        ("90%", [3], {"exhausted": True, "exhaustion_at": "2026-11-13T00:00:00Z",
                      "before_window_end": True}),
        ("90%", [], {"exhausted": False, "exhaustion_at": None, "before_window_end": False}),
    ],
    ids=["runs-out-in-window", "lasts-past-window", "already-spent", "no-bad-events"],
)  # fmt: skip
def test_exhaustion_forecast_extends_the_pace_of_the_last_days(
    objective: str, bad_days_back: list[int], expected: dict[str, Any]
) -> None:
    bad = [(UNTIL - days * DAY, False) for days in bad_days_back]
    good = [(UNTIL - 6 * DAY + n * 3600, True) for n in range(10 - len(bad))]
    windows = _budget(_slo(objective), sorted(good + bad), UNTIL - 7 * DAY, UNTIL, "UTC")
    forecast = windows[-1]["forecast"]
    assert {key: forecast[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("window", "start", "expected"),
    [
        ("7d", "2026-11-01 00:00",
         [("2026-11-01", True), ("2026-11-02", False), ("2026-11-09", False)]),
        ("week", "2026-11-04 00:00", [("2026-11-04", True), ("2026-11-09", False)]),
        ("month", "2026-10-20 00:00", [("2026-10-20", True), ("2026-11-01", True)]),
    ],
    ids=["rolling-back-from-the-end", "calendar-weeks", "calendar-months"],
)  # fmt: skip
def test_windows_cover_the_history_and_say_when_partial(
    window: str, start: str, expected: list[tuple[str, bool]]
) -> None:
    windows = _budget(_slo("90%", window), [], ts(start), UNTIL, "UTC")
    assert [(w["from"][:10], w["partial"]) for w in windows] == expected


@pytest.mark.parametrize(
    ("waits", "tickets", "expected"),
    [
        ([(0, 10, "a"), (5, 20, "b")], 2, [(5, 10, 2, ["a", "b"])]),
        ([(0, 10, "a"), (10, 20, "b")], 2, []),
        ([(0, 10, "a"), (2, 8, "b"), (4, 6, "c")], 3, [(4, 6, 3, ["a", "b", "c"])]),
        ([(0, 10, "a"), (2, 8, "b"), (4, 6, "c")], 2, [(2, 8, 3, ["a", "b", "c"])]),
        ([(0, 10, "a")], 1, [(0, 10, 1, ["a"])]),
    ],
    ids=["overlap", "touching-is-not-at-once", "three-at-once", "peak-within-gap", "one-ticket"],
)
def test_gaps_are_stretches_with_enough_tickets_waiting(
    waits: list[tuple[float, float, str]],
    tickets: int,
    expected: list[tuple[float, float, int, list[str]]],
) -> None:
    gaps = _gaps(waits, tickets, hold=3)
    assert [
        (_seconds(g["from"]), _seconds(g["to"]), g["peak_tickets"], g["tickets"]) for g in gaps
    ] == expected


@pytest.mark.parametrize(
    ("hold", "alerted"), [(5, True), (6, False)], ids=["lasted-backlog-for", "shorter"]
)
def test_gap_is_alerted_when_it_lasts_backlog_for(hold: float, alerted: bool) -> None:
    (gap,) = _gaps([(0, 10, "a"), (5, 20, "b")], 2, hold=hold)
    assert gap["alerted"] is alerted


def _seconds(text: str) -> float:
    return parse_instant(text, "t").timestamp()


def test_breakdown_by_channel_when_configured() -> None:
    doc, _ = build(
        config("exporter: {breakdown: {channel: [email, web]}}\n"),
        tickets(),
        ts("2026-11-02 00:00"),
        ts("2026-11-16 00:00"),
        "x",
    )
    rows = [(r["by"], r["value"], r["sla"], r["tickets"], r["met"], r["breached"])
            for r in doc["breakdown"]]  # fmt: skip
    assert rows == [
        ("channel", "none", "first_response", 6, 5, 1),
        ("channel", "none", "resolution", 6, 6, 0),
    ]


def test_no_breakdown_unless_configured(document: dict[str, Any]) -> None:
    assert document["breakdown"] == []


def test_slos_prometheus_computes_are_named_but_not_replayed() -> None:
    doc, _ = build(
        config(
            "  - name: chat\n"
            "    kind: availability\n"
            "    objective: 99.5%\n"
            "    availability: {up: 'probe_success{job=\"chat\"}', during: always}\n"
            "  - name: api\n"
            "    kind: promql\n"
            "    objective: 99%\n"
            "    promql: {bad: 'rate(errors_total[5m])', total: 'rate(requests_total[5m])'}\n"
        ),
        tickets(),
        ts("2026-11-02 00:00"),
        ts("2026-11-16 00:00"),
        "x",
    )
    assert [s["name"] for s in doc["slos"]] == ["urgent-first-response"]
    assert doc["computed_by_prometheus"] == [
        {"name": "chat", "kind": "availability"},
        {"name": "api", "kind": "promql"},
    ]
