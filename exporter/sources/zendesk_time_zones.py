"""Zendesk business-hours schedules as business calendars, and Zendesk's time-zone names.

Zendesk names time zones the way Ruby on Rails does ("Pacific Time (US &
Canada)", "Paris"): :data:`ZENDESK_TIME_ZONES` maps every name of Rails'
``ActiveSupport::TimeZone::MAPPING`` (the list Zendesk offers in its settings)
to an IANA name, using the current canonical IANA spelling (``Europe/Kyiv``,
``Asia/Yangon``, ``America/Nuuk``) so the zones resolve on any recent tzdata.

A schedule (``GET /api/v2/business_hours/schedules/{id}.json``) lists its
opening hours as ``intervals`` in minutes from Sunday 00:00 local time (a
week is 0..10080); Monday 09:00-17:00 is ``{"start_time": 1980, "end_time":
2460}``.  :func:`schedule_hours` turns a schedule and its holidays
(``.../holidays.json``, inclusive ``start_date``..``end_date`` ranges) into
the ``timezone``, ``weekly`` and ``holidays`` arguments of
:class:`~exporter.calendar.BusinessCalendar`, whose weeks start on Monday
(weekday 0) and whose intervals stay within one day: an interval that runs
past midnight is split at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
#: Longest holiday range expanded into single dates (a typo such as 2062 for 2026 stays bounded).
MAX_HOLIDAY_DAYS = 366

#: Zendesk (Rails) time-zone name -> IANA time-zone name.
ZENDESK_TIME_ZONES: Mapping[str, str] = {
    "International Date Line West": "Etc/GMT+12",
    "Midway Island": "Pacific/Pago_Pago",
    "American Samoa": "Pacific/Pago_Pago",
    "Hawaii": "Pacific/Honolulu",
    "Alaska": "America/Juneau",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Tijuana": "America/Tijuana",
    "Mountain Time (US & Canada)": "America/Denver",
    "Arizona": "America/Phoenix",
    "Chihuahua": "America/Chihuahua",
    "Mazatlan": "America/Mazatlan",
    "Central Time (US & Canada)": "America/Chicago",
    "Saskatchewan": "America/Regina",
    "Guadalajara": "America/Mexico_City",
    "Mexico City": "America/Mexico_City",
    "Monterrey": "America/Monterrey",
    "Central America": "America/Guatemala",
    "Eastern Time (US & Canada)": "America/New_York",
    "Indiana (East)": "America/Indiana/Indianapolis",
    "Bogota": "America/Bogota",
    "Lima": "America/Lima",
    "Quito": "America/Lima",
    "Atlantic Time (Canada)": "America/Halifax",
    "Caracas": "America/Caracas",
    "La Paz": "America/La_Paz",
    "Santiago": "America/Santiago",
    "Asuncion": "America/Asuncion",
    "Newfoundland": "America/St_Johns",
    "Brasilia": "America/Sao_Paulo",
    "Buenos Aires": "America/Argentina/Buenos_Aires",
    "Montevideo": "America/Montevideo",
    "Georgetown": "America/Guyana",
    "Puerto Rico": "America/Puerto_Rico",
    "Greenland": "America/Nuuk",
    "Mid-Atlantic": "Atlantic/South_Georgia",
    "Azores": "Atlantic/Azores",
    "Cape Verde Is.": "Atlantic/Cape_Verde",
    "Dublin": "Europe/Dublin",
    "Edinburgh": "Europe/London",
    "Lisbon": "Europe/Lisbon",
    "London": "Europe/London",
    "Casablanca": "Africa/Casablanca",
    "Monrovia": "Africa/Monrovia",
    "UTC": "Etc/UTC",
    "Belgrade": "Europe/Belgrade",
    "Bratislava": "Europe/Bratislava",
    "Budapest": "Europe/Budapest",
    "Ljubljana": "Europe/Ljubljana",
    "Prague": "Europe/Prague",
    "Sarajevo": "Europe/Sarajevo",
    "Skopje": "Europe/Skopje",
    "Warsaw": "Europe/Warsaw",
    "Zagreb": "Europe/Zagreb",
    "Brussels": "Europe/Brussels",
    "Copenhagen": "Europe/Copenhagen",
    "Madrid": "Europe/Madrid",
    "Paris": "Europe/Paris",
    "Amsterdam": "Europe/Amsterdam",
    "Berlin": "Europe/Berlin",
    "Bern": "Europe/Zurich",
    "Zurich": "Europe/Zurich",
    "Rome": "Europe/Rome",
    "Stockholm": "Europe/Stockholm",
    "Vienna": "Europe/Vienna",
    "West Central Africa": "Africa/Algiers",
    "Bucharest": "Europe/Bucharest",
    "Cairo": "Africa/Cairo",
    "Helsinki": "Europe/Helsinki",
    "Kyiv": "Europe/Kyiv",
    "Riga": "Europe/Riga",
    "Sofia": "Europe/Sofia",
    "Tallinn": "Europe/Tallinn",
    "Vilnius": "Europe/Vilnius",
    "Athens": "Europe/Athens",
    "Istanbul": "Europe/Istanbul",
    "Minsk": "Europe/Minsk",
    "Jerusalem": "Asia/Jerusalem",
    "Harare": "Africa/Harare",
    "Pretoria": "Africa/Johannesburg",
    "Kaliningrad": "Europe/Kaliningrad",
    "Moscow": "Europe/Moscow",
    "St. Petersburg": "Europe/Moscow",
    "Volgograd": "Europe/Volgograd",
    "Samara": "Europe/Samara",
    "Kuwait": "Asia/Kuwait",
    "Riyadh": "Asia/Riyadh",
    "Nairobi": "Africa/Nairobi",
    "Baghdad": "Asia/Baghdad",
    "Tehran": "Asia/Tehran",
    "Abu Dhabi": "Asia/Muscat",
    "Muscat": "Asia/Muscat",
    "Baku": "Asia/Baku",
    "Tbilisi": "Asia/Tbilisi",
    "Yerevan": "Asia/Yerevan",
    "Kabul": "Asia/Kabul",
    "Ekaterinburg": "Asia/Yekaterinburg",
    "Islamabad": "Asia/Karachi",
    "Karachi": "Asia/Karachi",
    "Tashkent": "Asia/Tashkent",
    "Chennai": "Asia/Kolkata",
    "Kolkata": "Asia/Kolkata",
    "Mumbai": "Asia/Kolkata",
    "New Delhi": "Asia/Kolkata",
    "Kathmandu": "Asia/Kathmandu",
    "Astana": "Asia/Dhaka",
    "Dhaka": "Asia/Dhaka",
    "Sri Jayawardenepura": "Asia/Colombo",
    "Almaty": "Asia/Almaty",
    "Novosibirsk": "Asia/Novosibirsk",
    "Rangoon": "Asia/Yangon",
    "Bangkok": "Asia/Bangkok",
    "Hanoi": "Asia/Bangkok",
    "Jakarta": "Asia/Jakarta",
    "Krasnoyarsk": "Asia/Krasnoyarsk",
    "Beijing": "Asia/Shanghai",
    "Chongqing": "Asia/Chongqing",
    "Hong Kong": "Asia/Hong_Kong",
    "Urumqi": "Asia/Urumqi",
    "Kuala Lumpur": "Asia/Kuala_Lumpur",
    "Singapore": "Asia/Singapore",
    "Taipei": "Asia/Taipei",
    "Perth": "Australia/Perth",
    "Irkutsk": "Asia/Irkutsk",
    "Ulaanbaatar": "Asia/Ulaanbaatar",
    "Ulaan Bataar": "Asia/Ulaanbaatar",
    "Seoul": "Asia/Seoul",
    "Osaka": "Asia/Tokyo",
    "Sapporo": "Asia/Tokyo",
    "Tokyo": "Asia/Tokyo",
    "Yakutsk": "Asia/Yakutsk",
    "Darwin": "Australia/Darwin",
    "Adelaide": "Australia/Adelaide",
    "Canberra": "Australia/Melbourne",
    "Melbourne": "Australia/Melbourne",
    "Sydney": "Australia/Sydney",
    "Brisbane": "Australia/Brisbane",
    "Hobart": "Australia/Hobart",
    "Vladivostok": "Asia/Vladivostok",
    "Guam": "Pacific/Guam",
    "Port Moresby": "Pacific/Port_Moresby",
    "Magadan": "Asia/Magadan",
    "Srednekolymsk": "Asia/Srednekolymsk",
    "Solomon Is.": "Pacific/Guadalcanal",
    "New Caledonia": "Pacific/Noumea",
    "Fiji": "Pacific/Fiji",
    "Kamchatka": "Asia/Kamchatka",
    "Marshall Is.": "Pacific/Majuro",
    "Auckland": "Pacific/Auckland",
    "Wellington": "Pacific/Auckland",
    "Nuku'alofa": "Pacific/Tongatapu",
    "Tokelau Is.": "Pacific/Fakaofo",
    "Chatham Is.": "Pacific/Chatham",
    "Samoa": "Pacific/Apia",
}


class ScheduleError(ValueError):
    """A Zendesk schedule that cannot be read as business hours; says which field and why."""


def iana_time_zone(name: str) -> str:
    """The IANA name of a Zendesk time zone; IANA names are accepted as they are."""
    mapped = ZENDESK_TIME_ZONES.get(name.strip())
    if mapped is not None:
        return mapped
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"time_zone {name!r} is neither a Zendesk (Rails) time-zone name nor an IANA name"
        ) from None
    return name


@dataclass(frozen=True, slots=True)
class ScheduleHours:
    """A schedule as the arguments of :class:`~exporter.calendar.BusinessCalendar`."""

    name: str
    timezone: str
    #: weekday (0 = Monday) -> sorted, merged ``(start, end)`` seconds since local midnight
    weekly: Mapping[int, tuple[tuple[int, int], ...]]
    holidays: frozenset[date]


def weekly_from_intervals(
    intervals: Iterable[Mapping[str, Any]],
) -> dict[int, tuple[tuple[int, int], ...]]:
    """Zendesk intervals (minutes from Sunday 00:00) -> our weekly hours (Monday = 0).

    Intervals crossing midnight are split at it; one ending at the end of
    Saturday (10080) ends at Saturday 24:00; one reaching past the end of the
    week wraps to Sunday.  Touching or overlapping pieces are merged.
    """
    days: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
    for index, interval in enumerate(intervals):
        start, end = interval.get("start_time"), interval.get("end_time")
        if not _is_int(start) or not _is_int(end):
            raise ScheduleError(
                f"intervals[{index}]: start_time and end_time must be whole minutes, "
                f"got {start!r} and {end!r}"
            )
        assert isinstance(start, int) and isinstance(end, int)
        if not 0 <= start < end or end - start > MINUTES_PER_WEEK:
            raise ScheduleError(
                f"intervals[{index}]: {start}-{end} is not a span of minutes within a week "
                "(0 = Sunday 00:00)"
            )
        minute = start
        while minute < end:
            day_start = minute - minute % MINUTES_PER_DAY
            piece_end = min(end, day_start + MINUTES_PER_DAY)
            sunday_based = (day_start // MINUTES_PER_DAY) % 7
            weekday = (sunday_based + 6) % 7  # Zendesk day 0 is Sunday, ours is Monday
            days[weekday].append(((minute - day_start) * 60, (piece_end - day_start) * 60))
            minute = piece_end
    return {day: _merge(spans) for day, spans in days.items() if spans}


def holiday_dates(holidays: Iterable[Mapping[str, Any]]) -> frozenset[date]:
    """Every date of Zendesk holidays (``start_date``..``end_date``, both included)."""
    dates: set[date] = set()
    for index, holiday in enumerate(holidays):
        where = f"holidays[{index}]"
        first = _date(holiday.get("start_date"), f"{where}.start_date")
        last = _date(holiday.get("end_date") or holiday.get("start_date"), f"{where}.end_date")
        if last < first:
            raise ScheduleError(f"{where}: end_date {last} is before start_date {first}")
        if (last - first).days >= MAX_HOLIDAY_DAYS:
            raise ScheduleError(f"{where}: {first}..{last} is longer than a year")
        day = first
        while day <= last:
            dates.add(day)
            day += timedelta(days=1)
    return frozenset(dates)


def schedule_hours(
    schedule: Mapping[str, Any], holidays: Iterable[Mapping[str, Any]] = ()
) -> ScheduleHours:
    """A Zendesk schedule object (and its holidays) as business-calendar arguments.

    ``schedule`` is the ``schedule`` object of the API answer (or the whole
    answer); ``holidays`` the ``holidays`` list of the holidays answer.
    """
    if "schedule" in schedule and isinstance(schedule["schedule"], Mapping):
        schedule = schedule["schedule"]
    zone = schedule.get("time_zone")
    if not isinstance(zone, str):
        raise ScheduleError(f"time_zone: expected a time-zone name, got {zone!r}")
    intervals = schedule.get("intervals") or []
    if not isinstance(intervals, list) or not all(isinstance(i, Mapping) for i in intervals):
        raise ScheduleError("intervals: expected a list of {start_time, end_time} objects")
    weekly = weekly_from_intervals(intervals)
    if not weekly:
        raise ScheduleError("intervals: the schedule has no business hours")
    name = schedule.get("name")
    return ScheduleHours(
        name=str(name) if name is not None else f"zendesk-{schedule.get('id')}",
        timezone=iana_time_zone(zone),
        weekly=weekly,
        holidays=holiday_dates(holidays),
    )


def _merge(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ScheduleError(f"{where}: expected a date like 2026-12-25, got {value!r}") from None
