"""Business calendars and SLA targets read from the helpdesk itself.

``calendars: {office: {import: zendesk, schedule: 360000123}}`` (or
``import: freshdesk``, ``import: zammad``) keeps one
source of truth for business hours: the schedule the helpdesk already uses;
``slas: {import: zendesk, policy: Enterprise, calendar: office}`` does the
same for the contract's targets.  :func:`resolve_imports` fetches them once,
at start-up, and returns a config with plain calendars and SLAs, so the
engine never knows the difference.  ``holidays`` and ``country`` written in
the config add to the imported holidays.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from exporter.config import ALWAYS, CalendarConfig, Config, SlaConfig, SlaImportConfig
from exporter.model import Priority
from exporter.sla import FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION
from exporter.sources import zammad
from exporter.sources.base import SourceError
from exporter.sources.freshdesk import (
    fetch_business_hours,
    fetch_sla_targets,
    freshdesk_client,
)
from exporter.sources.http import HelpdeskClient
from exporter.sources.intercom import fetch_office_hours, office_hours_client
from exporter.sources.zendesk import fetch_schedule, zendesk_client
from exporter.sources.zendesk_time_zones import ScheduleError, ScheduleHours
from exporter.units import format_duration, parse_duration

ZENDESK_SLA_POLICIES = "/api/v2/slas/policies.json"
#: Zendesk policy metrics that are our reply clocks
_ZENDESK_REPLY_METRICS = {"first_reply_time": FIRST_RESPONSE, "next_reply_time": NEXT_RESPONSE}
#: what pauses each Zendesk metric that can be our resolution clock
_ZENDESK_RESOLUTION_PAUSES = {
    "agent_work_time": frozenset({"pending", "on_hold"}),
    "requester_wait_time": frozenset({"pending"}),
    "resolution_time": frozenset(),
}

#: metric -> priority -> (target seconds, counts business hours)
Targets = dict[str, dict[Priority, tuple[float, bool]]]

log = logging.getLogger(__name__)


def _fetch(config: Config, calendar: CalendarConfig, client: HelpdeskClient) -> ScheduleHours:
    if calendar.import_ == "zendesk":
        assert calendar.schedule is not None
        return fetch_schedule(client, calendar.schedule)
    if calendar.import_ == "zammad":
        return zammad.fetch_calendar(client, calendar.schedule)
    if calendar.import_ == "intercom":
        assert calendar.schedule is not None
        return fetch_office_hours(client, calendar.schedule)
    return fetch_business_hours(client, calendar.schedule)


def zendesk_targets(answer: Any, policy: str | None, resolution_metric: str) -> Targets:
    """Targets of one Zendesk SLA policy (by title or id; default: the first by position)."""
    listed = answer.get("sla_policies") if isinstance(answer, Mapping) else None
    if not isinstance(listed, list) or not listed:
        raise ScheduleError("sla_policies: expected a non-empty list of SLA policies")
    policies: list[Mapping[str, Any]] = sorted(
        (p for p in listed if isinstance(p, Mapping)), key=lambda p: p.get("position") or 0
    )
    if policy is None:
        chosen = policies[0]
    else:
        matching = [p for p in policies if policy in (str(p.get("id")), p.get("title"))]
        if not matching:
            titles = ", ".join(str(p.get("title")) for p in policies)
            raise ScheduleError(
                f"no SLA policy titled or numbered {policy!r} (there are: {titles})"
            )
        chosen = matching[0]
    targets: Targets = {}
    for metric in chosen.get("policy_metrics") or []:
        if not isinstance(metric, Mapping):
            continue
        name = metric.get("metric")
        ours = _ZENDESK_REPLY_METRICS.get(str(name))
        if ours is None and name == resolution_metric:
            ours = RESOLUTION
        try:
            priority = Priority(str(metric.get("priority")))
        except ValueError:
            continue
        minutes = metric.get("target")
        if ours is None or isinstance(minutes, bool) or not isinstance(minutes, int | float):
            continue
        business = metric.get("business_hours") is True
        targets.setdefault(ours, {})[priority] = (float(minutes) * 60, business)
    return targets


def _freshdesk_targets(client: HelpdeskClient, policy: str | None) -> Targets:
    found = fetch_sla_targets(client, policy)
    return {
        metric: {p: (seconds, p in found.business_hours) for p, seconds in values.items()}
        for metric, values in found.targets.items()
    }


def _zammad_targets(config: Config, client: HelpdeskClient, policy: str | None) -> Targets:
    """Zammad SLAs always count business hours, on the calendar of the SLA."""
    wanted = {str(k).lower(): v for k, v in config.source.priority_map.items()}
    found = zammad.fetch_sla_targets(client, lambda name: zammad.map_priority(name, wanted), policy)
    return {
        metric: {p: (seconds, True) for p, seconds in values.items()}
        for metric, values in found.items()
    }


def _sla_configs(config: Config, spec: SlaImportConfig, targets: Targets) -> dict[str, SlaConfig]:
    slas: dict[str, SlaConfig] = {}
    for metric, by_priority in targets.items():
        business = {uses for _, uses in by_priority.values()}
        if len(business) > 1:
            raise SourceError(
                f"slas: the {metric} targets mix business hours and calendar time across "
                "priorities; one calendar per SLA metric is supported: write them out instead",
                "unsupported",
            )
        calendar = ALWAYS
        if True in business:
            if spec.calendar is None:
                raise SourceError(
                    f"slas: the helpdesk's {metric} targets count business hours: name the "
                    "calendar with `slas.calendar:` (e.g. an imported schedule)",
                    "unsupported",
                )
            calendar = spec.calendar
        fields: dict[str, Any] = {
            "calendar": calendar,
            "mode": spec.mode,
            "targets": {
                p: parse_duration(format_duration(seconds))
                for p, (seconds, _) in sorted(by_priority.items())
            },
        }
        if metric == RESOLUTION and spec.import_ == "zendesk":
            fields["pause_statuses"] = _ZENDESK_RESOLUTION_PAUSES[config.source.resolution_metric]
        slas[metric] = SlaConfig(**fields)
    return slas


def resolve_imports(config: Config, client: HelpdeskClient | None = None) -> Config:
    """The config with imported calendars and SLA targets filled in from the helpdesk.

    Raises :class:`~exporter.sources.base.SourceError` when the helpdesk
    cannot be read or its answer cannot be used; a config without imports is
    returned as it is.
    """
    imported = {name: cal for name, cal in config.calendars.items() if cal.import_ is not None}
    if not imported and config.sla_import is None:
        return config
    if client is None:
        makers = {
            "zendesk": zendesk_client,
            "zammad": zammad.zammad_client,
            "intercom": office_hours_client,
        }
        make = makers.get(config.source.type.value, freshdesk_client)
        client = make(config.source)
    try:
        config = _resolve_calendars(config, imported, client)
        spec = config.sla_import
        if spec is None:
            return config
        if spec.import_ == "zendesk":
            answer = client.get_json(ZENDESK_SLA_POLICIES)
            targets = zendesk_targets(answer, spec.policy, config.source.resolution_metric)
        elif spec.import_ == "zammad":
            targets = _zammad_targets(config, client, spec.policy)
        else:
            targets = _freshdesk_targets(client, spec.policy)
    except ScheduleError as exc:
        raise SourceError(f"cannot use what the helpdesk returned: {exc}", "malformed") from None
    slas = _sla_configs(config, spec, targets)
    log.info(
        "SLA targets imported from %s policy=%s metrics=%s",
        spec.import_,
        spec.policy or "default",
        ",".join(slas),
    )
    return config.model_copy(update={"slas": slas, "sla_import": None})


def _resolve_calendars(
    config: Config, imported: dict[str, CalendarConfig], client: HelpdeskClient
) -> Config:
    if not imported:
        return config
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
