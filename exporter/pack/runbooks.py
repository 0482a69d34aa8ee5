"""Runbooks: one Markdown page per SLO, linked from its alerts, plus an index and the exporter's.

:func:`runbook_files` renders ``runbooks/<slo>.md`` for every SLO of a config,
``runbooks/helpdesk-exporter.md`` (the exporter's own alerts link it) and
``runbooks/README.md`` (the index).  Each SLO page says what the SLO promises
in plain words, what each of its alerts means (with the burn-rate tiers the
rules actually use), how to check (dashboards, ``helpdesk-slo evaluate``,
PromQL), what to do, and when a silence is the right answer.

The pages are jinja2 templates in ``exporter/pack/templates/``; this module
only gathers the facts, from the config and from the rules' plan, so the
numbers in a runbook are the numbers in the alerts.
:func:`default_runbook_url` is the link alerts carry when an SLO sets no
``alerting.runbook_url`` of its own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import jinja2

from exporter import metrics
from exporter.config import (
    ALWAYS,
    DEFAULT_LISTEN_PORT,
    CalendarConfig,
    Config,
    SlaStart,
    SloConfig,
    SloKind,
)
from exporter.model import PRIORITIES, Author
from exporter.pack import GENERATED_MARKER
from exporter.pack import alertmanager as notify
from exporter.pack.names import DETAIL_UID, OVERVIEW_UID, WALLBOARD_UID
from exporter.units import format_duration, format_percent

if TYPE_CHECKING:
    from exporter.pack.rules import PackPlan, SloPlan

# The rules module is imported inside the functions that use it: the rules link runbooks
# through default_runbook_url, and this module must import cleanly whichever comes first.

RUNBOOK_DIR = "runbooks"
INDEX_FILE = f"{RUNBOOK_DIR}/README.md"

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("exporter.pack", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # Markdown, not HTML
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def runbook_path(name: str) -> str:
    """Where the page for ``name`` (an SLO, or the exporter) is written."""
    return f"{RUNBOOK_DIR}/{name}.md"


def default_runbook_url(config: Config, slo: SloConfig | str) -> str:
    """The runbook link for an SLO that sets no ``alerting.runbook_url``.

    ``<notify.runbook_base_url>/<slo>.md``; without a base URL that is the
    page's path in the pack, ``runbooks/<slo>.md``.
    """
    name = slo if isinstance(slo, str) else slo.name
    base = notify.notify_settings(config).runbook_base_url.rstrip("/")
    return f"{base}/{name}.md"


# --- facts in plain words ---------------------------------------------------------------------

#: SLA metric -> (what one event is, what stops its clock).
_SLA_WORDS = {
    "first_response": ("first reply", "the first public reply by {who}"),
    "next_response": (
        "next reply",
        "the next public reply by {who} after each customer reply (one event per customer reply)",
    ),
    "resolution": ("resolution", "the ticket being solved (a reopen resumes the clock)"),
}
_NOT_REPLIES = "auto-acknowledgements, triggers and internal notes never stop it"
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _hours_text(calendar: CalendarConfig) -> str:
    """``Mon-Fri 09:00-12:30, 13:30-18:00; Sat 10:00-14:00`` (closed days left out)."""
    if calendar.hours == {day: ((0, 86400),) for day in range(7)}:
        return "round the clock"
    parts = []
    days = [(day, calendar.hours.get(day, ())) for day in range(7)]
    for intervals, group in itertools.groupby(days, key=lambda item: item[1]):
        members = [day for day, _ in group]
        if not intervals:
            continue
        span = _DAY_NAMES[members[0]]
        if len(members) > 1:
            span += f"-{_DAY_NAMES[members[-1]]}"
        hours = ", ".join(f"{_clock(start)}-{_clock(end)}" for start, end in intervals)
        parts.append(f"{span} {hours}")
    return "; ".join(parts) or "never open"


def _calendar_text(config: Config, name: str) -> str:
    if name == ALWAYS or name not in config.calendars or config.calendars[name].is_always:
        return "round the clock (24x7, UTC)"
    calendar = config.calendars[name]
    text = f"business hours of calendar `{name}` ({calendar.timezone}: {_hours_text(calendar)}"
    extras = []
    if calendar.holidays:
        extras.append(f"{len(calendar.holidays)} listed holiday(s)")
    if calendar.country is not None:
        region = f"{calendar.country}-{calendar.subdivision}" if calendar.subdivision else ""
        extras.append(f"public holidays of {region or calendar.country}")
    if extras:
        text += "; closed on " + " and ".join(extras)
    return text + ")"


def _either(values: tuple[str, ...]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + f" or {values[-1]}"


def _match_text(slo: SloConfig) -> str:
    """``tickets with priority urgent or high, channel email, tagged vip`` or ``all tickets``."""
    match = slo.match
    parts = []
    if match.priority:
        parts.append("priority " + _either(tuple(p.value for p in match.priority)))
    for field in ("channel", "group", "brand", "type"):
        values: tuple[str, ...] = getattr(match, field)
        if values:
            parts.append(f"{field} " + _either(values))
    text = "tickets with " + ", ".join(parts) if parts else "tickets"
    if match.tags:
        text += (", " if parts else " ") + "tagged " + " and ".join(match.tags)
    return text if parts or match.tags else "all tickets"


def _window_text(config: Config, slo: SloConfig) -> str:
    if slo.calendar_window is None:
        return f"a rolling {slo.window} window"
    zone = next(iter(config.calendars.values())).timezone if config.calendars else "UTC"
    return f"the calendar {slo.calendar_window} ({zone} time), starting afresh each {slo.window}"


def _one_in(budget: Decimal) -> str:
    """``0.05`` -> ``1 in 20``."""
    every = (1 / budget).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return f"about 1 in {every}"


def _hours(seconds: float | Decimal) -> str:
    """``27h``, ``1h30m``, ``30m``: no days, which mean nothing on a business calendar."""
    total = int(Decimal(seconds).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
    return text or "0s"


def _threshold_text(slo: SloConfig) -> str:
    """``the SLA target``, ``50% of the SLA target`` or the duration as written."""
    duration = slo.threshold_duration
    if duration is not None:
        return str(duration)
    fraction = slo.threshold_fraction
    if fraction is None or fraction == 1:
        return "the SLA target"
    return f"{format_percent(fraction)} of the SLA target"


@dataclass(frozen=True)
class ThresholdRow:
    priority: str
    target: str
    threshold: str


def _threshold_rows(config: Config, slo: SloConfig) -> list[ThresholdRow]:
    if slo.sla is None or slo.sla not in config.slas:
        return []
    targets = config.slas[slo.sla].targets
    priorities = slo.match.priority or tuple(p for p in PRIORITIES if p in targets)
    fraction = slo.threshold_fraction
    duration = slo.threshold_duration
    rows = []
    for priority in priorities:
        target = targets.get(priority)
        if target is None:
            continue
        if duration is not None:
            threshold = str(duration)
        else:
            assert fraction is not None  # a threshold is a duration or a share of the target
            threshold = _hours(Decimal(str(target.seconds)) * fraction)
        rows.append(ThresholdRow(priority.value, str(target), threshold))
    return rows


# --- alerts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierRow:
    severity: str
    long_window: str
    short_window: str
    burn_rate: str
    #: Share of the window's budget spent in the long window at that rate.
    budget_spent: str
    #: How long the whole budget lasts at that rate.
    budget_gone_in: str
    min_bad_events: int
    rescaled_from: str | None


def _about(seconds: float) -> str:
    """A wall-clock span rounded for reading: whole hours from 6h up, else whole minutes."""
    unit = 3600 if seconds >= 6 * 3600 else 60
    return format_duration(round(seconds / unit) * unit, days=True)


def _tier_rows(plan: SloPlan) -> list[TierRow]:
    from exporter.pack import rules as rule_pack

    rows = []
    for tier in plan.tiers:
        share = tier.budget_share(plan.period)
        rows.append(
            TierRow(
                severity=tier.severity.value,
                long_window=tier.long.text,
                short_window=tier.short.text,
                burn_rate=rule_pack.number(tier.factor),
                budget_spent=format_percent(
                    (Decimal(share.numerator) / Decimal(share.denominator)).quantize(
                        Decimal("0.0001"), rounding=ROUND_HALF_UP
                    )
                ),
                budget_gone_in=_about(plan.period.seconds / float(tier.factor)),
                min_bad_events=tier.min_bad_events,
                rescaled_from=rule_pack.number(tier.configured_factor) if tier.rescaled else None,
            )
        )
    return rows


def _slo_notes(plan: PackPlan, name: str) -> list[str]:
    prefix = f"slo {name}: "
    return [note.removeprefix(prefix) for note in plan.notes if note.startswith(prefix)]


@dataclass(frozen=True)
class Links:
    detail: str
    overview: str
    wallboard: str
    #: The SLO's own ``alerting.dashboard_url``, when it differs from ``detail``.
    configured: str | None


def _links(pack: PackPlan, slo: SloConfig | None) -> Links:
    """Dashboard links on the Grafana the rules' ``dashboard_url`` annotations point at."""
    grafana = pack.options.grafana_url.rstrip("/")
    detail = f"{grafana}/d/{DETAIL_UID}"
    configured = None
    if slo is not None:
        detail += f"?var-slo={slo.name}"
        own = slo.alerting.dashboard_url
        configured = own if own is not None and own != detail else None
    return Links(
        detail=detail,
        overview=f"{grafana}/d/{OVERVIEW_UID}",
        wallboard=f"{grafana}/d/{WALLBOARD_UID}?theme=dark",
        configured=configured,
    )


def _config_name(config: Config) -> str:
    return config.path.name if config.path is not None else "helpdesk-slo.yml"


def _slo_context(config: Config, pack: PackPlan, plan: SloPlan) -> dict[str, Any]:
    from exporter.pack import rules as rule_pack

    slo = plan.slo
    sla = next((value for key, value in config.slas.items() if key == slo.sla), None)
    sla_name, sla_meaning = _SLA_WORDS.get(slo.sla or "", ("", ""))
    if sla is not None and slo.sla != "resolution":
        who = "an agent or an AI agent" if Author.AI_AGENT in sla.replies_count else "an agent"
        sla_meaning = sla_meaning.format(who=who) + f"; {_NOT_REPLIES}"
        if Author.AI_AGENT not in sla.replies_count:
            sla_meaning += ", and neither do AI-agent replies"
    calendar = _calendar_text(config, config.calendar_name(sla)) if sla is not None else ""
    selector = rule_pack.selector(plan.selector)
    promql = slo.promql
    return {
        "marker": GENERATED_MARKER,
        "config_name": _config_name(config),
        "service": config.service,
        "name": slo.name,
        "kind": slo.kind.value,
        "description": slo.description,
        "objective": format_percent(plan.objective),
        "budget": format_percent(plan.budget),
        "one_in": _one_in(plan.budget),
        "window": _window_text(config, slo),
        "period": plan.period.text,
        "labels": plan.labels,
        "selector": selector,
        "sla": slo.sla,
        "sla_name": sla_name,
        "sla_meaning": sla_meaning,
        "pause_statuses": sorted(sla.pause_statuses) if sla is not None else [],
        "starts_at_assignment": sla is not None
        and sla.start is SlaStart.ASSIGNED
        and slo.sla != "next_response",
        "calendar": calendar,
        "threshold": _threshold_text(slo),
        "threshold_rows": _threshold_rows(config, slo),
        "match": _match_text(slo),
        "promql": promql,
        "tiers": _tier_rows(plan),
        "page": slo.alerting.page,
        "ticket": slo.alerting.ticket,
        "backlog_tickets": plan.backlog_tickets,
        "backlog_severity": rule_pack.backlog_severity(plan).value,
        "backlog_for": rule_pack.format_window(plan.backlog_for),
        "backlog_lead": (
            None if plan.backlog_lead is None else rule_pack.format_window(round(plan.backlog_lead))
        ),
        "backlog_pace": (
            None if plan.backlog_pace is None else rule_pack.format_window(plan.backlog_pace)
        ),
        "imminent_tickets": plan.backlog_imminent_tickets,
        "business_calendar": plan.business_calendar,
        "imminent": (
            None
            if plan.imminent_bucket is None
            else "any time"
            if plan.imminent_bucket == float("inf")
            else rule_pack.format_window(round(plan.imminent_bucket))
        ),
        "priorities": plan.priorities,
        "min_bad_events": plan.min_bad_events,
        "exhausted_for": rule_pack.format_window(rule_pack.EXHAUSTED_FOR),
        "forecast_for": rule_pack.format_window(rule_pack.FORECAST_FOR),
        "absent_for": rule_pack.format_window(rule_pack.METRICS_ABSENT_FOR),
        "forecast_window": rule_pack.format_window(rule_pack.FORECAST_WINDOW),
        "notes": _slo_notes(pack, slo.name),
        "links": _links(pack, slo),
        "exporter_page": f"{rule_pack.EXPORTER_RUNBOOK}.md",
        "job": pack.options.job,
        "is_time": slo.kind is SloKind.TIME,
        "is_csat": slo.kind is SloKind.CSAT,
        "is_promql": slo.kind is SloKind.PROMQL,
        "is_availability": slo.kind is SloKind.AVAILABILITY,
        "availability": _availability_context(config, plan),
    }


def _availability_context(config: Config, plan: SloPlan) -> dict[str, Any] | None:
    """The ``up`` query, its calendar, and the downtime the budget allows per business week."""
    sli = plan.slo.availability
    if sli is None:
        return None
    calendar = config.calendars.get(sli.during)
    if sli.during == ALWAYS or calendar is None or calendar.is_always:
        weekly = 7 * 86400
    else:
        weekly = sum(end - start for day in calendar.hours.values() for start, end in day)
    return {
        "up": sli.up,
        "during": sli.during,
        "calendar": _calendar_text(config, sli.during),
        "open": f'{metrics.CALENDAR_OPEN.name}{{calendar="{sli.during}"}}',
        "weekly_hours": _hours(weekly),
        "weekly_downtime": _hours(plan.budget * weekly),
    }


def _index_context(
    config: Config, pack: PackPlan, settings: notify.NotifySettings
) -> dict[str, Any]:
    from exporter.pack import rules as rule_pack

    rows = []
    for plan in pack.slos:
        severities = sorted({tier.severity.value for tier in plan.tiers})
        if plan.backlog_tickets is not None:
            severities = sorted({*severities, rule_pack.backlog_severity(plan).value})
        rows.append(
            {
                "name": plan.name,
                "file": f"{plan.name}.md",
                "objective": format_percent(plan.objective),
                "window": plan.window_text,
                "kind": plan.kind.value,
                "description": plan.slo.description or "",
                "severities": ", ".join(severities) or "none",
            }
        )
    return {
        "marker": GENERATED_MARKER,
        "config_name": _config_name(config),
        "service": config.service,
        "rows": rows,
        "exporter_page": f"{rule_pack.EXPORTER_RUNBOOK}.md",
        "links": _links(pack, None),
        "settings": settings,
        "runbook_base_url": pack.options.runbook_base_url.rstrip("/"),
        "runbook_links": pack.options.runbook_base_url.startswith(("http://", "https://")),
    }


def _exporter_context(config: Config, pack: PackPlan) -> dict[str, Any]:
    from exporter.pack import rules as rule_pack

    return {
        "marker": GENERATED_MARKER,
        "config_name": _config_name(config),
        "service": config.service,
        "source": pack.source,
        "job": pack.options.job,
        "poll_interval": str(config.source.poll_interval),
        "stale_after": pack.source_stale_after.text,
        "down_for": rule_pack.format_window(rule_pack.EXPORTER_DOWN_FOR),
        "source_down_after": pack.source_down_after.text,
        "source_down_for": rule_pack.format_window(rule_pack.SOURCE_DOWN_FOR),
        "stale_for": rule_pack.format_window(rule_pack.SOURCE_STALE_FOR),
        "lagging_for": rule_pack.format_window(rule_pack.SOURCE_LAGGING_FOR),
        "lag_trend": rule_pack.format_window(rule_pack.LAG_TREND_WINDOW),
        "absent_for": rule_pack.format_window(rule_pack.METRICS_ABSENT_FOR),
        "links": _links(pack, None),
        "port": DEFAULT_LISTEN_PORT,
    }


def runbook_files(config: Config, pack: PackPlan | None = None) -> dict[str, str]:
    """``{relative path: Markdown}``: one page per SLO, the exporter's page and the index.

    ``pack`` is the rules' plan for ``config`` (tiers, windows, notes, links); without it,
    the plan with default rule options.
    """
    from exporter.pack import rules as rule_pack

    settings = notify.notify_settings(config)
    pack = pack if pack is not None else rule_pack.plan_pack(config)
    page = _environment.get_template("runbook.md.j2")
    files = {
        runbook_path(plan.name): page.render(_slo_context(config, pack, plan)) for plan in pack.slos
    }
    exporter_page = _environment.get_template("runbook-exporter.md.j2")
    files[runbook_path(rule_pack.EXPORTER_RUNBOOK)] = exporter_page.render(
        _exporter_context(config, pack)
    )
    index = _environment.get_template("runbook-index.md.j2")
    files[INDEX_FILE] = index.render(_index_context(config, pack, settings))
    return files
