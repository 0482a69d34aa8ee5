"""The forecast sentence of the pages, one per state of the last window's budget."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.report.render import forecast_text


def _window(**forecast: Any) -> dict[str, Any]:
    base = {"pace_days": 7, "bad_per_day": 0.5, "exhausted": False, "exhaustion_at": None,
            "before_window_end": False}  # fmt: skip
    return {"forecast": {**base, **forecast}}


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (_window(exhausted=True, exhaustion_at="2026-11-02T10:00:00Z", before_window_end=True),
         "budget spent since 2026-11-02T10:00:00Z"),
        (_window(exhaustion_at="2026-11-20T00:00:00Z", before_window_end=True),
         "at the pace of the last 7 days (0.50 bad/day), the budget runs out on "
         "2026-11-20T00:00:00Z"),
        (_window(exhaustion_at="2027-01-20T00:00:00Z"),
         "at the pace of the last 7 days (0.50 bad/day), the budget lasts past the window's end"),
        (_window(bad_per_day=0, pace_days=2.69724),
         "no bad events in the last 2.7 days: no exhaustion in sight"),
        ({"forecast": None}, ""),
    ],
    ids=["spent", "runs-out", "lasts", "no-bad-events", "not-the-last-window"],
)  # fmt: skip
def test_forecast_sentence(window: dict[str, Any], expected: str) -> None:
    assert forecast_text(window, lambda text: text) == expected
