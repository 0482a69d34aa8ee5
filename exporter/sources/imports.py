"""Business calendars read from the helpdesk itself (``import: zendesk|freshdesk``).

``calendars: {office: {import: zendesk, schedule: 360000123}}`` keeps one
source of truth for business hours: the schedule the helpdesk already uses.
:func:`resolve_imports` fetches every imported calendar once, at start-up,
and returns a config whose calendars are plain weekly hours, time zone and
holidays, so the engine never knows the difference.  ``holidays`` and
``country`` written in the config add to the imported holidays.
"""

from __future__ import annotations

import logging

from exporter.config import CalendarConfig, Config
from exporter.sources.freshdesk import fetch_business_hours, freshdesk_client
from exporter.sources.http import HelpdeskClient
from exporter.sources.zendesk import fetch_schedule, zendesk_client
from exporter.sources.zendesk_time_zones import ScheduleHours

log = logging.getLogger(__name__)


def _fetch(config: Config, calendar: CalendarConfig, client: HelpdeskClient) -> ScheduleHours:
    if calendar.import_ == "zendesk":
        assert calendar.schedule is not None
        return fetch_schedule(client, calendar.schedule)
    return fetch_business_hours(client, calendar.schedule)


def resolve_imports(config: Config, client: HelpdeskClient | None = None) -> Config:
    """The config with every imported calendar filled in from the helpdesk.

    Raises :class:`~exporter.sources.base.SourceError` when the helpdesk
    cannot be read; a config without imports is returned as it is.
    """
    imported = {name: cal for name, cal in config.calendars.items() if cal.import_ is not None}
    if not imported:
        return config
    if client is None:
        make = zendesk_client if config.source.type.value == "zendesk" else freshdesk_client
        client = make(config.source)
    calendars = dict(config.calendars)
    for name, calendar in imported.items():
        hours = _fetch(config, calendar, client)
        calendars[name] = calendar.model_copy(
            update={
                "timezone": hours.timezone,
                "hours": dict(hours.weekly),
                "holidays": sorted(set(calendar.holidays) | set(hours.holidays)),
                "import_": None,
            }
        )
        log.info(
            "calendar %s imported from %s schedule=%s timezone=%s holidays=%d",
            name,
            calendar.import_,
            calendar.schedule or "default",
            hours.timezone,
            len(hours.holidays),
        )
    return config.model_copy(update={"calendars": calendars})
