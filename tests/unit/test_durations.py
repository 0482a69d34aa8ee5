"""Durations the exporter prints can be written back into the config, business calendars too."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import parse_config
from exporter.units import format_duration
from tests.builders import OFFICE_CONFIG
from tests.unit.test_evaluate_cli import run, write_setup


@pytest.mark.parametrize(
    "seconds",
    [59, 5400, 86400, 97200, 90061, 604800, 1209600],
    ids=["59s", "1h30m", "one-day", "27h", "a-day-and-a-second", "one-week", "two-weeks"],
)
def test_a_printed_duration_is_accepted_as_a_business_calendar_target(seconds: int) -> None:
    printed = format_duration(seconds)
    config = parse_config(OFFICE_CONFIG.replace("normal: 16h", f"normal: {printed}"))
    assert config.slas["resolution"].targets["normal"].seconds == seconds


@pytest.mark.parametrize(
    ("ticket", "sla", "elapsed"),
    [("1", "resolution", "39h"), ("3", "first_response", "38h"), ("2", "first_response", "1h30m")],
    ids=["five-business-days", "a-breached-first-reply", "under-a-day"],
)
def test_evaluate_table_prints_elapsed_business_time_in_hours(
    tmp_path: Path, ticket: str, sla: str, elapsed: str
) -> None:
    config = write_setup(tmp_path)
    code, text = run(
        "evaluate", "--config", str(config), "--at", "2026-11-06T18:00:00Z", "--format", "table"
    )
    assert code == 0
    row = next(line.split() for line in text.splitlines() if line.split()[:2] == [ticket, sla])
    assert row[3] == elapsed


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(241200, "2d19h", id="days-and-hours"),
        pytest.param(2592000, "30d", id="whole-days"),
        pytest.param(5400, "1h30m", id="under-a-day"),
    ],
)
def test_wall_clock_spans_may_print_days(seconds: int, text: str) -> None:
    assert format_duration(seconds, days=True) == text
