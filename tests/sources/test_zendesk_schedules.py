"""Zendesk business-hours schedules and Rails time-zone names as business calendars."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses

from exporter.calendar import BusinessCalendar
from exporter.sources.http import HelpdeskClient
from exporter.sources.zendesk import HOLIDAYS_PATH, SCHEDULE_PATH, fetch_schedule
from exporter.sources.zendesk_time_zones import (
    ZENDESK_TIME_ZONES,
    ScheduleError,
    ScheduleHours,
    iana_time_zone,
    schedule_hours,
    weekly_from_intervals,
)
from tests.sources.helpers import BASE_URL, fixture, url

H = 3600
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def calendar(hours: ScheduleHours) -> BusinessCalendar:
    return BusinessCalendar(
        timezone=hours.timezone, weekly=hours.weekly, holidays=hours.holidays, name=hours.name
    )


PACIFIC = schedule_hours(
    fixture("schedule-pacific.json"), fixture("schedule-pacific-holidays.json")["holidays"]
)


def test_every_zendesk_time_zone_is_a_known_iana_zone() -> None:
    assert len(ZENDESK_TIME_ZONES) >= 150
    for rails, iana in ZENDESK_TIME_ZONES.items():
        assert ZoneInfo(iana), rails


@pytest.mark.parametrize(
    ("name", "iana"),
    [
        ("Pacific Time (US & Canada)", "America/Los_Angeles"),
        ("Eastern Time (US & Canada)", "America/New_York"),
        ("Arizona", "America/Phoenix"),
        ("Paris", "Europe/Paris"),
        ("London", "Europe/London"),
        ("Kyiv", "Europe/Kyiv"),
        ("New Delhi", "Asia/Kolkata"),
        ("Kathmandu", "Asia/Kathmandu"),
        ("Beijing", "Asia/Shanghai"),
        ("Sydney", "Australia/Sydney"),
        ("Chatham Is.", "Pacific/Chatham"),
        ("International Date Line West", "Etc/GMT+12"),
        ("UTC", "Etc/UTC"),
        ("Europe/Berlin", "Europe/Berlin"),  # an IANA name is accepted as it is
    ],
)
def test_time_zone_names(name: str, iana: str) -> None:
    assert iana_time_zone(name) == iana


def test_an_unknown_time_zone_is_refused_with_its_name() -> None:
    with pytest.raises(ScheduleError, match="Atlantis"):
        iana_time_zone("Atlantis")


def test_pacific_schedule_becomes_monday_to_friday_nine_to_five() -> None:
    assert PACIFIC.timezone == "America/Los_Angeles"
    assert PACIFIC.name == "North America support"
    assert PACIFIC.weekly == {day: ((9 * H, 17 * H),) for day in (MON, TUE, WED, THU, FRI)}
    assert PACIFIC.holidays == {date(2026, 11, 26), date(2026, 11, 27), date(2026, 12, 25)}


def test_intervals_across_midnight_and_the_sunday_start_of_zendesk_weeks() -> None:
    hours = schedule_hours(fixture("schedule-overnight-sydney.json"))
    assert hours.timezone == "Australia/Sydney"
    assert hours.weekly == {
        SUN: ((23 * H, 24 * H),),  # Zendesk minute 1380 is Sunday 23:00
        MON: ((0, 1 * H),),
        FRI: ((22 * H, 24 * H),),
        SAT: ((0, 2 * H), (23 * H, 24 * H)),  # ...and 10080 ends Saturday at 24:00
    }


@pytest.mark.parametrize(
    ("intervals", "weekly"),
    [
        pytest.param([{"start_time": 0, "end_time": 1440}], {SUN: ((0, 24 * H),)}, id="sunday"),
        pytest.param(
            [{"start_time": 1980, "end_time": 2220}, {"start_time": 2280, "end_time": 2460}],
            {MON: ((9 * H, 13 * H), (14 * H, 17 * H))},
            id="lunch-break",
        ),
        pytest.param(
            [{"start_time": 1980, "end_time": 2100}, {"start_time": 2100, "end_time": 2460}],
            {MON: ((9 * H, 17 * H),)},
            id="touching-merged",
        ),
        pytest.param(
            [{"start_time": 9960, "end_time": 10200}],
            {SAT: ((22 * H, 24 * H),), SUN: ((0, 2 * H),)},
            id="wraps-past-the-week",
        ),
        pytest.param(
            [{"start_time": 0, "end_time": 10080}],
            {day: ((0, 24 * H),) for day in range(7)},
            id="whole-week",
        ),
    ],
)
def test_weekly_from_intervals(intervals: list[dict[str, int]], weekly: dict[int, Any]) -> None:
    assert weekly_from_intervals(intervals) == weekly


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        pytest.param({"time_zone": "Paris", "intervals": []}, "no business hours", id="empty"),
        pytest.param(
            {"time_zone": "Paris", "intervals": [{"start_time": 600, "end_time": 60}]},
            r"intervals\[0\]: 600-60",
            id="backwards-interval",
        ),
        pytest.param(
            {"time_zone": "Paris", "intervals": [{"start_time": "9:00", "end_time": 600}]},
            "whole minutes",
            id="not-minutes",
        ),
        pytest.param({"intervals": [{"start_time": 0, "end_time": 60}]}, "time_zone", id="no-zone"),
    ],
)
def test_unreadable_schedules_say_what_is_wrong(schedule: dict[str, Any], message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        schedule_hours(schedule)


def _pacific(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("America/Los_Angeles"))


@pytest.mark.parametrize(
    ("start", "end", "business_hours"),
    [
        # Friday 16:00 PST -> Monday 10:00 PDT: clocks sprang forward on Sunday 8 March
        pytest.param("2026-03-06 16:00", "2026-03-09 10:00", 2, id="us-spring-forward"),
        # Friday 16:00 PDT -> Monday 10:00 PST: clocks fell back on Sunday 1 November
        pytest.param("2026-10-30 16:00", "2026-11-02 10:00", 2, id="us-fall-back"),
        # the Thanksgiving holidays (Thursday, Friday) hold no business time
        pytest.param("2026-11-25 16:00", "2026-11-30 10:00", 2, id="thanksgiving-holidays"),
        pytest.param("2026-03-09 09:00", "2026-03-09 17:00", 8, id="first-day-of-pdt"),
    ],
)
def test_rails_time_zone_calendar_across_dst(start: str, end: str, business_hours: int) -> None:
    office = calendar(PACIFIC)
    assert office.elapsed(_pacific(start), _pacific(end)) == business_hours * H


def test_spring_forward_keeps_opening_at_nine_local() -> None:
    office = calendar(PACIFIC)
    opened = office.add(_pacific("2026-03-06 17:00"), 1)
    # Monday 09:00 PDT is 16:00 UTC; the Monday before it was 17:00 UTC
    assert opened.astimezone(ZoneInfo("UTC")).strftime("%a %H:%M:%S") == "Mon 16:00:01"


@responses.activate
def test_fetch_schedule_reads_the_schedule_and_its_holidays() -> None:
    responses.get(url(SCHEDULE_PATH.format(id=360000555555)), json=fixture("schedule-pacific.json"))
    responses.get(
        url(HOLIDAYS_PATH.format(id=360000555555)), json=fixture("schedule-pacific-holidays.json")
    )
    client = HelpdeskClient(BASE_URL, sleep=lambda s: None)
    assert fetch_schedule(client, 360000555555) == PACIFIC
    assert len(responses.calls) == 2
