"""Prometheus recording and alerting rules for the SLOs of one config.

Two steps, both pure: :func:`plan_pack` turns the config into a :class:`PackPlan`
(windows, burn-rate tiers with exact factors, guards, URLs, and a note for
every tier that cannot be generated as written), and :func:`rule_groups`
turns the plan into rule groups as plain data.  :func:`render_rules` dumps
them as YAML for Prometheus (and Thanos ruler), prometheus-operator or the
Mimir/Cortex ruler.  The promtool tests in :mod:`exporter.pack.ruletests`
read the same plan, so thresholds are written down once.

Choices that matter (``rules/README.md`` explains them to operators):

* Error ratios are event-weighted: bad increase over total increase in the
  window, never an average of short ratios.  Each window first records its
  event counts (``slo:sli_events:increase<W>`` with ``result="bad"`` and
  ``result="total"``, 0 when nothing happened), then the ratio divides by the
  total only where it is above zero and falls back to 0: no rule yields NaN
  or Inf on a quiet night, and no quiet night poisons the budget.
* Burn-rate factors follow the SRE Workbook: budget share x period / long
  window.  A factor at or above 1 / (1 - objective) can never be reached (the
  error ratio cannot exceed 1), so such a tier is reported and, by default,
  rescaled to that maximum: it then fires when every event in both windows
  is bad.  With ``dead_tiers="drop"`` it is left out instead.
* Every burn tier also needs ``min_bad_events`` bad events in its long window,
  so one late ticket in a quiet hour does not page, and two of them (or
  ``min_bad_events`` when lower) in its short window, so that one late ticket in
  the hours after an incident does not page again.
* An availability SLO counts business minutes: once a minute it records whether its
  calendar is open (``total``) and the share of that minute its ``up`` query was down
  (``bad``, times the calendar gauge), and its windows sum those samples.  Outside
  business hours both are 0, so nothing burns; without data neither is recorded.
* Windows up to 6h are recorded every minute, longer ones every 5 minutes.
  Rules that read a recorded series sit in the same group after it, or read a
  series that is recorded every minute, so no rule reads a value that may
  have dropped out of the 5-minute lookback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from fractions import Fraction
from typing import Any, Literal

import yaml

from exporter import metrics
from exporter.config import AvailabilitySli, Config, ConfigError, Severity, SloConfig, SloKind
from exporter.pack import GENERATED_MARKER, names, promql
from exporter.units import format_percent, format_ratio

RuleFormat = Literal["prometheus", "prometheus-operator", "mimir"]
FORMATS: tuple[RuleFormat, ...] = ("prometheus", "prometheus-operator", "mimir")
DeadTierPolicy = Literal["rescale", "drop"]

MINUTE = 60
HOUR = 3600
DAY = 86400

#: Windows recorded for every SLO (plus the SLO's own window and any tier windows).
STANDARD_WINDOWS = (5 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY)
#: Bad events a burn tier needs in its short window too (when ``min_bad_events`` is as high).
SHORT_WINDOW_BAD_EVENTS = 2
#: Windows up to this length are recorded in the fast group.
FAST_WINDOW_LIMIT = 6 * HOUR
FAST_INTERVAL = "1m"
SLOW_INTERVAL = "5m"
#: ``slo:current_burn_rate:ratio`` reads this window: at support volumes 5m is mostly empty.
CURRENT_BURN_WINDOW = HOUR
#: The budget-exhaustion forecast extrapolates the burn rate of this window.
FORECAST_WINDOW = DAY
#: Nominal length of calendar windows, for factors, forecasts and ``slo:time_period:days``.
CALENDAR_DAYS = {"week": 7, "month": 30}
#: Labels the pack's own expressions use; an SLO's labels may not shadow them.
EXPRESSION_LABELS = frozenset({"result", "sla", "priority", "le", "job", "instance", "alertstate"})

EXPORTER_RUNBOOK = "helpdesk-exporter"

EXPORTER_DOWN_FOR = 5 * MINUTE
METRICS_ABSENT_FOR = 15 * MINUTE
EXHAUSTED_FOR = 15 * MINUTE
FORECAST_FOR = 30 * MINUTE
#: No successful poll (``HelpdeskSourceDown``), or successful polls that leave the watermark
#: where it was (``HelpdeskSourceStale``), for this many poll intervals and at least 10
#: minutes: two failed polls in a row (back-off: 1 then 2 intervals) stay below it.
SOURCE_DOWN_POLL_INTERVALS = 5
SOURCE_DOWN_MINIMUM = 10 * MINUTE
SOURCE_DOWN_FOR = 2 * MINUTE
SOURCE_STALE_FOR = 2 * MINUTE
#: Both source pages should fire within this long of the last successful poll / advance.
SOURCE_DETECTION_TARGET = 15 * MINUTE
#: Source data older than this many poll intervals (and at least 15 minutes) lags...
STALE_POLL_INTERVALS = 5
STALE_MINIMUM = 15 * MINUTE
#: ...and ``HelpdeskSourceLagging`` opens a ticket when it fell further behind over this window.
LAG_TREND_WINDOW = HOUR
SOURCE_LAGGING_FOR = 15 * MINUTE


# --- windows and exact numbers ----------------------------------------------------------------


def format_window(seconds: int) -> str:
    """A Prometheus duration: ``5m``, ``1h``, ``36h``, ``28d`` (days when whole, else hours...)."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def exact_decimal(value: Fraction) -> Decimal:
    """``value`` as a decimal: exact when it terminates, else rounded to 4 significant digits."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        result = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        result = Context(prec=4).divide(Decimal(value.numerator), Decimal(value.denominator))
    return plain(result)


def plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros or exponent: ``20``, not ``2E+1`` nor ``20.00``."""
    return Decimal(format_ratio(value))


def number(value: Decimal | int) -> str:
    """Exact decimal text for PromQL and labels: ``14.4``, ``0.05``, ``28``."""
    return format_ratio(Decimal(value))


def burn_factor(budget_share: Decimal, period_seconds: int, long_window_seconds: int) -> Decimal:
    """The Workbook burn-rate factor: spend ``budget_share`` of the budget in the long window.

    ``burn_factor(Decimal("0.02"), 30 days, 1 hour)`` is ``14.4``.
    """
    return exact_decimal(Fraction(budget_share) * period_seconds / long_window_seconds)


def max_burn_rate(budget: Decimal) -> Fraction:
    """The highest burn rate an SLO can show: every event bad, 1 / (1 - objective)."""
    return 1 / Fraction(budget)


def _to_decimal(value: float) -> Decimal:
    return Decimal(str(value))


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleOptions:
    """Settings of the pack that do not live in the config file."""

    #: ``job`` label under which Prometheus scrapes the exporter.
    job: str = "helpdesk-slo"
    #: Runbooks are linked as ``<base>/<slo>.md`` unless an SLO sets ``alerting.runbook_url``.
    runbook_base_url: str = "runbooks"
    #: Grafana base URL for ``dashboard_url`` annotations (unless an SLO sets its own).
    grafana_url: str = "http://localhost:3000"
    #: What to do with a burn tier that can never fire: rescale it to the maximum, or drop it.
    dead_tiers: DeadTierPolicy = "rescale"

    @classmethod
    def for_config(
        cls,
        config: Config,
        job: str | None = None,
        runbook_base_url: str | None = None,
        grafana_url: str | None = None,
        dead_tiers: DeadTierPolicy | None = None,
    ) -> RuleOptions:
        """Options for ``config``: given values first, then its ``notify:`` links, then defaults."""
        notify = getattr(config, "notify", None)
        defaults = cls()
        return cls(
            job=job or defaults.job,
            runbook_base_url=runbook_base_url
            or getattr(notify, "runbook_base_url", None)
            or defaults.runbook_base_url,
            grafana_url=grafana_url or getattr(notify, "grafana_url", None) or defaults.grafana_url,
            dead_tiers=dead_tiers or defaults.dead_tiers,
        )


@dataclass(frozen=True)
class Window:
    seconds: int

    @property
    def text(self) -> str:
        return format_window(self.seconds)

    @property
    def minutes(self) -> int:
        return self.seconds // MINUTE


@dataclass(frozen=True)
class Tier:
    """One ``SupportSLOErrorBudgetBurn`` alert of one SLO, ready to render."""

    severity: Severity
    long: Window
    short: Window
    #: Burn-rate factor as printed in the ``burn_rate`` label.
    factor: Decimal
    #: Error ratio that both windows must exceed (``factor x budget``), or reach when rescaled.
    ratio_threshold: Decimal
    #: True when the configured factor was unreachable and the tier fires at ratio >= 1.
    rescaled: bool
    #: The factor as configured, before rescaling.
    configured_factor: Decimal
    min_bad_events: int

    @property
    def fast(self) -> bool:
        return self.long.seconds <= FAST_WINDOW_LIMIT

    @property
    def short_min_bad_events(self) -> int:
        """Bad events the short window needs: the burn must still be going on.

        The long window keeps an incident's late tickets for hours after it ended; without
        this, one new late ticket in that time would page again.
        """
        return min(SHORT_WINDOW_BAD_EVENTS, self.min_bad_events)

    def budget_share(self, period: Window) -> Fraction:
        """Share of the period's budget spent in the long window at the threshold."""
        return Fraction(self.factor) * self.long.seconds / period.seconds


@dataclass(frozen=True)
class SloPlan:
    """Everything the rules and their tests need to know about one SLO."""

    slo: SloConfig
    index: int
    service: str
    #: ``slo``, ``service`` and the SLO's own labels (sorted), on every rule of this SLO.
    labels: dict[str, str]
    objective: Decimal
    budget: Decimal
    #: The SLO window, or the nominal 7d/30d of a calendar window.
    period: Window
    #: ``week`` or ``month`` when period figures come from the exporter's gauges.
    calendar: str | None
    windows: tuple[Window, ...]
    tiers: tuple[Tier, ...]
    min_bad_events: int
    for_seconds: int
    backlog_tickets: int | None
    #: ``for:`` of ``SupportSLOBacklogBreached``, seconds.
    backlog_for: int
    #: ``SupportSLOBacklogImminent``: tickets past the threshold within ``backlog_lead``...
    backlog_imminent_tickets: int | None
    #: ...the bucket of ``helpdesk_slo_time_to_threshold_seconds`` it reads (seconds);
    backlog_lead: float | None
    #: ...the window over which it counts the tickets answered in time (seconds);
    backlog_pace: int | None
    #: ...and the business calendar of the SLO's SLA (None: 24x7), open all through the lead.
    business_calendar: str | None
    #: Bucket of ``helpdesk_sla_time_to_breach_seconds`` read by the imminent-breach alert.
    imminent_bucket: float | None
    runbook_url: str
    dashboard_url: str

    @property
    def name(self) -> str:
        return self.slo.name

    @property
    def kind(self) -> SloKind:
        return self.slo.kind

    @property
    def selector(self) -> dict[str, str]:
        """Labels that pick this SLO's recorded series."""
        return {"slo": self.slo.name, "service": self.service}

    @property
    def fast_windows(self) -> tuple[Window, ...]:
        return tuple(w for w in self.windows if w.seconds <= FAST_WINDOW_LIMIT)

    @property
    def slow_windows(self) -> tuple[Window, ...]:
        return tuple(w for w in self.windows if w.seconds > FAST_WINDOW_LIMIT)

    @property
    def window_text(self) -> str:
        if self.calendar is not None and self.kind.counted_by_exporter:
            return f"calendar {self.calendar}"
        return self.period.text

    @property
    def threshold_text(self) -> str:
        threshold = self.slo.threshold
        if threshold is None:
            return "the SLA target"
        if threshold.endswith("%"):
            return f"{threshold} of the SLA target"
        return threshold

    @property
    def priorities(self) -> tuple[str, ...]:
        return tuple(p.value for p in self.slo.match.priority)


@dataclass(frozen=True)
class PackPlan:
    service: str
    config_name: str
    options: RuleOptions
    slos: tuple[SloPlan, ...]
    source_stale_after: Window
    #: no successful poll, or no watermark advance despite successful ones, for this long pages
    source_down_after: Window
    #: ``source.poll_interval`` in whole seconds
    source_interval_seconds: int
    #: ``source`` label of the exporter's per-source series (the helpdesk type).
    source: str = "demo"
    notes: tuple[str, ...] = field(default=())

    @property
    def exporter_labels(self) -> dict[str, str]:
        return {"service": self.service}


@dataclass(frozen=True)
class _DefaultTier:
    severity: Severity
    long: int
    short: int
    budget_percent: Decimal


#: The SRE Workbook's recommended multiwindow, multi-burn-rate alerts.
WORKBOOK_TIERS = (
    _DefaultTier(Severity.PAGE, HOUR, 5 * MINUTE, Decimal(2)),
    _DefaultTier(Severity.PAGE, 6 * HOUR, 30 * MINUTE, Decimal(5)),
    _DefaultTier(Severity.TICKET, DAY, 2 * HOUR, Decimal(10)),
    _DefaultTier(Severity.TICKET, 3 * DAY, 6 * HOUR, Decimal(10)),
)


def plan_pack(config: Config, options: RuleOptions | None = None) -> PackPlan:
    """Resolve windows, tiers, guards and links for every SLO of ``config``.

    Raises :class:`ConfigError` for SLO labels the rules cannot carry.  Tiers
    that cannot be generated as written end up in ``notes``, one line each.
    """
    options = options or RuleOptions.for_config(config)
    notes: list[str] = []
    problems: list[str] = []
    plans = []
    for index, slo in enumerate(config.slos):
        for key in sorted(slo.labels):
            if key in EXPRESSION_LABELS:
                problems.append(
                    f"slos[{index}].labels: label {key!r} is used by the pack's own rules; "
                    "choose another name"
                )
        plans.append(_plan_slo(config, index, slo, options, notes))
    if problems:
        raise ConfigError(problems)
    interval = round(config.source.poll_interval.seconds)
    stale = max(STALE_MINIMUM, STALE_POLL_INTERVALS * interval)
    down = max(SOURCE_DOWN_MINIMUM, SOURCE_DOWN_POLL_INTERVALS * interval)
    if down + SOURCE_DOWN_FOR > SOURCE_DETECTION_TARGET:
        notes.append(
            f"source.poll_interval {format_window(interval)}: HelpdeskSourceDown and "
            f"HelpdeskSourceStale fire {format_window(down + SOURCE_DOWN_FOR)} after the helpdesk "
            f"stops answering or advancing (more than {format_window(SOURCE_DETECTION_TARGET)}); "
            f"a poll interval up to {format_window(_longest_prompt_interval())} keeps them within"
        )
    name = config.path.name if config.path is not None else "helpdesk-slo.yml"
    return PackPlan(
        service=config.service,
        config_name=name,
        options=options,
        slos=tuple(plans),
        source_stale_after=Window(stale),
        source_down_after=Window(down),
        source_interval_seconds=interval,
        source=config.source.type.value,
        notes=tuple(notes),
    )


def _longest_prompt_interval() -> int:
    """The longest poll interval whose source pages still fire within the detection target."""
    return (SOURCE_DETECTION_TARGET - SOURCE_DOWN_FOR) // SOURCE_DOWN_POLL_INTERVALS


def _plan_slo(
    config: Config, index: int, slo: SloConfig, options: RuleOptions, notes: list[str]
) -> SloPlan:
    alerting = slo.alerting
    objective = slo.objective_ratio
    budget = 1 - objective
    calendar = slo.calendar_window
    period = Window(CALENDAR_DAYS[calendar] * DAY if calendar else round(slo.window_seconds))
    if calendar is not None and not slo.kind.counted_by_exporter:
        notes.append(
            f"slo {slo.name}: the exporter has no gauges for the calendar {calendar} of a "
            f"kind: {slo.kind.value} SLO; its period figures use a rolling {period.text} instead"
        )
    if slo.availability is not None and availability_input(slo.availability) is None:
        notes.append(
            f"slo {slo.name}: its up query is not one series selector with = matchers, so the "
            "generated promtool tests cannot feed it: they cover no data and the missing-data "
            "alert only"
        )
    labels = {"slo": slo.name, "service": config.service}
    labels.update({key: slo.labels[key] for key in sorted(slo.labels)})
    tiers = _plan_tiers(slo, budget, period, options, notes)
    windows = {*STANDARD_WINDOWS, period.seconds, CURRENT_BURN_WINDOW, FORECAST_WINDOW}
    for tier in tiers:
        windows.update((tier.long.seconds, tier.short.seconds))
    is_time = slo.kind is SloKind.TIME
    lead = _backlog_lead(config, slo, notes) if is_time else None
    base = options.runbook_base_url.rstrip("/")
    grafana = options.grafana_url.rstrip("/")
    return SloPlan(
        slo=slo,
        index=index,
        service=config.service,
        labels=labels,
        objective=objective,
        budget=budget,
        period=period,
        calendar=calendar,
        windows=tuple(Window(s) for s in sorted(windows)),
        tiers=tuple(tiers),
        min_bad_events=alerting.min_bad_events,
        for_seconds=round(alerting.for_.seconds) if alerting.for_ is not None else 0,
        backlog_tickets=alerting.backlog_tickets if is_time else None,
        backlog_for=round(alerting.backlog_for.seconds),
        backlog_imminent_tickets=(
            (alerting.imminent_tickets or alerting.backlog_tickets) if is_time else None
        ),
        backlog_lead=lead,
        backlog_pace=_backlog_pace(slo, lead, notes) if lead is not None else None,
        business_calendar=_business_calendar(config, slo) if is_time else None,
        imminent_bucket=_imminent_bucket(slo, notes) if is_time else None,
        runbook_url=alerting.runbook_url or f"{base}/{slo.name}.md",
        dashboard_url=alerting.dashboard_url
        or f"{grafana}/d/{names.DETAIL_UID}?var-slo={slo.name}",
    )


def _plan_tiers(
    slo: SloConfig, budget: Decimal, period: Window, options: RuleOptions, notes: list[str]
) -> list[Tier]:
    alerting = slo.alerting
    enabled = {Severity.PAGE: alerting.page, Severity.TICKET: alerting.ticket}
    highest = max_burn_rate(budget)
    highest_text = number(exact_decimal(highest))
    objective_text = format_percent(1 - budget)
    configured: list[tuple[Severity, int, int, Decimal | None, Decimal | None, int | None]] = []
    if alerting.tiers is None:
        for default in WORKBOOK_TIERS:
            configured.append(
                (default.severity, default.long, default.short, default.budget_percent, None, None)
            )
    else:
        for tier in alerting.tiers:
            configured.append(
                (
                    tier.severity,
                    round(tier.long_window.seconds),
                    round(tier.short_window.seconds),
                    _to_decimal(tier.budget_percent) if tier.budget_percent is not None else None,
                    _to_decimal(tier.burn_rate) if tier.burn_rate is not None else None,
                    tier.min_bad_events,
                )
            )
    tiers: list[Tier] = []
    for severity, long, short, percent, rate, min_bad in configured:
        if not enabled[severity]:
            continue
        name = f"slo {slo.name}: {severity.value} tier {format_window(long)}/{format_window(short)}"
        if long > period.seconds:
            notes.append(
                f"{name}: long window is longer than the {period.text} SLO window; dropped"
            )
            continue
        if percent is not None:
            exact = Fraction(percent / 100) * period.seconds / long
        else:
            assert rate is not None  # BurnTier validates one of the two
            exact = Fraction(rate)
        factor = exact_decimal(exact)
        guard = min_bad if min_bad is not None else alerting.min_bad_events
        # from the exact factor, so a rounded factor (28d: 0.9333) does not round twice
        threshold = exact_decimal(exact * Fraction(budget))
        if threshold >= 1:
            if options.dead_tiers == "drop":
                notes.append(
                    f"{name}: burn rate {number(factor)} can never fire "
                    f"(max {highest_text} at objective {objective_text}); dropped"
                )
                continue
            notes.append(
                f"{name}: burn rate {number(factor)} can never fire "
                f"(max {highest_text} at objective {objective_text}); rescaled to {highest_text}, "
                "firing when every event in both windows is bad"
            )
            tiers.append(
                Tier(
                    severity=severity,
                    long=Window(long),
                    short=Window(short),
                    factor=exact_decimal(highest),
                    ratio_threshold=Decimal(1),
                    rescaled=True,
                    configured_factor=factor,
                    min_bad_events=guard,
                )
            )
            continue
        tiers.append(
            Tier(
                severity=severity,
                long=Window(long),
                short=Window(short),
                factor=factor,
                ratio_threshold=plain(threshold),
                rescaled=False,
                configured_factor=factor,
                min_bad_events=guard,
            )
        )
    return tiers


#: ``SupportSLOBacklogImminent`` looks ahead a third of the SLO's shortest threshold by default...
DEFAULT_LEAD_SHARE = Fraction(1, 3)
#: ...and never less than this.
MIN_LEAD = 5 * MINUTE
#: It counts the tickets answered in time over this many leads by default: at a few tickets an
#: hour a lead time often holds no answer at all, and a pace read from it says "stopped" by
#: chance (``bench/bench_alert_quality.py``: fewer false pages than one lead, same detection).
DEFAULT_PACE_LEADS = 3


def shortest_threshold(config: Config, slo: SloConfig) -> float | None:
    """The SLO's threshold in seconds, the shortest of its priorities when it is a share."""
    duration = slo.threshold_duration
    if duration is not None:
        return duration.seconds
    fraction = slo.threshold_fraction
    if fraction is None or slo.sla is None or slo.sla not in config.slas:
        return None
    sla = config.slas[slo.sla]
    wanted = set(slo.match.priority) or set(sla.targets)
    targets = [target.seconds for priority, target in sla.targets.items() if priority in wanted]
    return float(fraction) * min(targets) if targets else None


def _business_calendar(config: Config, slo: SloConfig) -> str | None:
    """The calendar whose business hours run the SLO's clocks; None when they always run."""
    if slo.sla is None or slo.sla not in config.slas:
        return None
    name = config.calendar_name(config.slas[slo.sla])
    calendar = config.calendars.get(name)
    return None if calendar is None or calendar.is_always else name


def _backlog_lead(config: Config, slo: SloConfig, notes: list[str]) -> float:
    """The ``le`` bucket the imminent-backlog alert reads: the lead, rounded down to a bucket."""
    buckets = [b for b in metrics.TIME_TO_THRESHOLD_BUCKETS if b > 0]
    configured = slo.alerting.imminent_lead
    if configured is None:
        threshold = shortest_threshold(config, slo)
        wanted = (
            max(MIN_LEAD, float(threshold * DEFAULT_LEAD_SHARE))
            if threshold is not None
            else 2 * MIN_LEAD
        )
    else:
        wanted = configured.seconds
    chosen = max((b for b in buckets if b <= wanted), default=buckets[0])
    if configured is not None and chosen != wanted:
        notes.append(
            f"slo {slo.name}: alerting.imminent_lead {configured} is not a bucket of "
            f"{metrics.SLO_TIME_TO_THRESHOLD.name}; looking {format_window(round(chosen))} "
            "ahead instead"
        )
    return chosen


def _backlog_pace(slo: SloConfig, lead: float, notes: list[str]) -> int:
    """The window over which the imminent-backlog alert counts the tickets answered in time:
    ``DEFAULT_PACE_LEADS`` leads by default, never shorter than the lead."""
    configured = slo.alerting.imminent_pace
    if configured is None:
        return round(lead) * DEFAULT_PACE_LEADS
    if configured.seconds < lead:
        notes.append(
            f"slo {slo.name}: alerting.imminent_pace {configured} is shorter than the lead "
            f"({format_window(round(lead))}); counting the answers of the lead instead"
        )
        return round(lead)
    return round(configured.seconds)


def _imminent_bucket(slo: SloConfig, notes: list[str]) -> float:
    wanted = slo.alerting.breach_imminent.seconds
    for bound in metrics.TIME_TO_BREACH_BUCKETS:
        if bound >= wanted:
            if bound != wanted:
                notes.append(
                    f"slo {slo.name}: alerting.breach_imminent {slo.alerting.breach_imminent} is "
                    f"not a bucket of {metrics.SLA_TIME_TO_BREACH.name}; warning at "
                    f"{format_window(round(bound))} or less left instead"
                )
            return bound
    notes.append(
        f"slo {slo.name}: alerting.breach_imminent {slo.alerting.breach_imminent} is beyond the "
        f"largest bucket of {metrics.SLA_TIME_TO_BREACH.name}; warning on every running clock"
    )
    return float("inf")


# --- PromQL -----------------------------------------------------------------------------------


def quote(value: str) -> str:
    """A PromQL string literal."""
    return json.dumps(value, ensure_ascii=False)


def selector(labels: Mapping[str, str], regex: Mapping[str, str] | None = None) -> str:
    parts = [f"{key}={quote(value)}" for key, value in labels.items()]
    parts += [f"{key}=~{quote(value)}" for key, value in (regex or {}).items()]
    return "{" + ", ".join(parts) + "}"


def events_name(window: Window) -> str:
    return names.SLI_EVENTS_PREFIX + window.text


def ratio_name(window: Window) -> str:
    return names.SLI_ERROR_RATIO_PREFIX + window.text


_WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.?window\s*\}\}")


def with_window(query: str, window: Window) -> str:
    """The user's query with ``{{window}}`` replaced (``{{.window}}`` is accepted too)."""
    return _WINDOW_PLACEHOLDER.sub(window.text, query.strip())


def _events_expr(plan: SloPlan, window: Window, result: Literal["bad", "total"]) -> str:
    if plan.kind is SloKind.AVAILABILITY:
        # one event per business minute: the sum of the minute samples in the window
        minutes = f"{names.SLI_MINUTE}{selector({**plan.selector, 'result': result})}"
        return f"sum(sum_over_time({minutes}[{window.text}])) or vector(0)"
    if plan.kind is SloKind.PROMQL:
        sli = plan.slo.promql
        assert sli is not None
        total = f"sum({with_window(sli.total, window)})"
        if result == "total":
            rate = total
        elif sli.bad is not None:
            rate = f"sum({with_window(sli.bad, window)})"
        else:
            assert sli.good is not None
            rate = f"clamp_min({total} - (sum({with_window(sli.good, window)}) or vector(0)), 0)"
        # promql SLIs are per-second rates (as in Sloth and OpenSLO): events = rate x seconds
        return f"({rate} * {window.seconds}) or vector(0)"
    counter = metrics.SLO_EVENTS.name
    if result == "bad":
        picked = selector({"slo": plan.name, "result": "bad"})
    else:
        picked = selector({"slo": plan.name}, {"result": "good|bad"})
    return f"sum(increase({counter}{picked}[{window.text}])) or vector(0)"


def calendar_open(calendar: str) -> str:
    """Whether ``calendar`` is in business hours: 1 or 0 (max over exporter replicas)."""
    return f"max({metrics.CALENDAR_OPEN.name}{selector({'calendar': calendar})})"


def minute_rules(plan: SloPlan) -> list[Rule]:
    """An availability SLO's sample of each minute, recorded once a minute (fast group).

    ``total`` is 1 in a business minute of the SLO's calendar and 0 outside business hours;
    ``bad`` is the share of a business minute the service was down: 1 - the lowest value of
    the ``up`` query, and 0 outside business hours.  Without data (the ``up`` query returns
    nothing, or the exporter's calendar gauge is missing) neither is recorded: that minute is
    no event, good or bad.
    """
    sli = plan.slo.availability
    assert sli is not None
    up = f"min({sli.up})"
    open_ = calendar_open(sli.during)
    total = f"{open_}\nand on ()\n{up}"
    bad = f"{open_}\n* on ()\n(1 - clamp({up}, 0, 1))"
    return [
        _record(names.SLI_MINUTE, bad, {**plan.labels, "result": "bad"}),
        _record(names.SLI_MINUTE, total, {**plan.labels, "result": "total"}),
    ]


def availability_input(sli: AvailabilitySli) -> str | None:
    """The one series an ``up`` query reads when it is a plain selector with ``=`` matchers
    (what the generated tests feed), else None."""
    try:
        node = promql.parse(sli.up)
    except promql.PromqlError:
        return None
    if not isinstance(node, promql.Selector) or node.name is None or node.offset is not None:
        return None
    labels: dict[str, str] = {}
    for label, operator, quoted in node.matchers:
        if operator != "=" or label == "__name__":
            return None
        value = _unquote(quoted)
        if value is None:
            return None
        labels[label] = value
    return node.name + (selector(labels) if labels else "")


def _unquote(quoted: str) -> str | None:
    """A PromQL string literal's value; None for escapes JSON does not share."""
    if quoted.startswith("`"):
        return quoted[1:-1]
    if quoted.startswith("'"):
        quoted = '"' + quoted[1:-1].replace("\\'", "'").replace('"', '\\"') + '"'
    try:
        return str(json.loads(quoted))
    except ValueError:
        return None


def _ratio_expr(plan: SloPlan, window: Window) -> str:
    name = events_name(window)
    bad = selector({**plan.selector, "result": "bad"})
    total = selector({**plan.selector, "result": "total"})
    return "\n".join(
        [
            f"sum({name}{bad})",
            "/",
            f"(sum({name}{total}) > 0)",
            "or on () vector(0)",
        ]
    )


def _bad_events(plan: SloPlan, window: Window) -> str:
    return f"{events_name(window)}{selector({**plan.selector, 'result': 'bad'})}"


def _recorded(name: str, plan: SloPlan) -> str:
    return f"{name}{selector(plan.selector)}"


def _calendar_time_left(calendar: str) -> str:
    """Seconds left in the current calendar week or month (UTC)."""
    rest_of_day = "86400 - time() % 86400"
    if calendar == "week":
        return f"(7 - day_of_week()) % 7 * 86400 + {rest_of_day}"
    return f"(days_in_month() - day_of_month()) * 86400 + {rest_of_day}"


# --- Go templates in annotations --------------------------------------------------------------

#: The template snippets annotations use for the alert's value (the tests render them too).
VALUE_1F = '{{ printf "%.1f" $value }}'
VALUE_2F = '{{ printf "%.2f" $value }}'
VALUE_0F = '{{ printf "%.0f" $value }}'
VALUE_PERCENT = "{{ $value | humanizePercentage }}"
VALUE_DURATION = "{{ $value | humanizeDuration }}"


def _go_string(text: str) -> str:
    return f"`{text}`" if "`" not in text else json.dumps(text)


def budget_left_template(plan: SloPlan) -> str:
    query = _recorded(names.PERIOD_BUDGET_REMAINING, plan)
    return (
        "{{ with query " + _go_string(query) + " }}"
        "{{ . | first | value | humanizePercentage }}{{ else }}unknown{{ end }}"
    )


def _percent_text(share: Fraction) -> str:
    return format_ratio(round(Decimal(share.numerator) / Decimal(share.denominator) * 100, 2)) + "%"


# --- rules ------------------------------------------------------------------------------------

Rule = dict[str, Any]
Group = dict[str, Any]


def _record(name: str, expr: str, labels: Mapping[str, str]) -> Rule:
    return {"record": name, "expr": expr, "labels": dict(labels)}


def _alert(
    name: str,
    expr: str,
    for_seconds: int,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> Rule:
    rule: Rule = {"alert": name, "expr": expr}
    if for_seconds > 0:
        rule["for"] = format_window(for_seconds)
    rule["labels"] = dict(labels)
    rule["annotations"] = dict(annotations)
    return rule


def _window_rules(plan: SloPlan, windows: Sequence[Window]) -> list[Rule]:
    rules = []
    for window in windows:
        for result in ("bad", "total"):
            rules.append(
                _record(
                    events_name(window),
                    _events_expr(plan, window, result),
                    {**plan.labels, "result": result},
                )
            )
        rules.append(_record(ratio_name(window), _ratio_expr(plan, window), plan.labels))
    return rules


def _uses_gauges(plan: SloPlan) -> bool:
    return plan.calendar is not None and plan.kind.counted_by_exporter


def _period_rules(plan: SloPlan) -> list[Rule]:
    budget = number(plan.budget)
    days = number(exact_decimal(Fraction(plan.period.seconds, DAY)))
    rules = [
        _record(names.OBJECTIVE, f"vector({number(plan.objective)})", plan.labels),
        _record(names.ERROR_BUDGET, f"vector({budget})", plan.labels),
        _record(names.TIME_PERIOD_DAYS, f"vector({days})", plan.labels),
    ]
    remaining = names.PERIOD_BUDGET_REMAINING
    burn = names.PERIOD_BURN_RATE
    if _uses_gauges(plan):
        gauge = metrics.SLO_BUDGET_REMAINING.name
        rules.append(_record(remaining, f"min({gauge}{selector({'slo': plan.name})})", plan.labels))
        rules.append(_record(burn, f"1 - {_recorded(remaining, plan)}", plan.labels))
    else:
        ratio = _recorded(ratio_name(plan.period), plan)
        rules.append(_record(burn, f"{ratio} / {budget}", plan.labels))
        rules.append(_record(remaining, f"1 - {_recorded(burn, plan)}", plan.labels))
    return rules


def _common_annotations(plan: SloPlan, summary: str, description: str) -> dict[str, str]:
    return {
        "summary": summary,
        "description": description,
        "runbook_url": plan.runbook_url,
        "dashboard_url": plan.dashboard_url,
    }


def _slo_title(plan: SloPlan) -> str:
    return f"SLO {plan.name} ({format_percent(plan.objective)} over {plan.window_text})"


def burn_alert(plan: SloPlan, tier: Tier) -> Rule:
    budget = number(plan.budget)
    op = ">=" if tier.rescaled else ">"
    threshold = number(tier.ratio_threshold)
    lines = [
        f"({_recorded(ratio_name(tier.long), plan)} {op} {threshold}) / {budget}",
        "and",
        f"{_recorded(ratio_name(tier.short), plan)} {op} {threshold}",
    ]
    if tier.min_bad_events > 0:
        guard_expr = f"{_bad_events(plan, tier.long)} >= {tier.min_bad_events}"
        lines += ["and ignoring (result)", guard_expr]
        short_guard = f"{_bad_events(plan, tier.short)} >= {tier.short_min_bad_events}"
        lines += ["and ignoring (result)", short_guard]
    labels = {
        "severity": tier.severity.value,
        **plan.labels,
        "long_window": tier.long.text,
        "short_window": tier.short.text,
        "burn_rate": number(tier.factor),
    }
    share = _percent_text(tier.budget_share(plan.period))
    if tier.rescaled:
        why = (
            f"The configured {number(tier.configured_factor)}x is above the highest burn rate "
            f"possible at a {format_percent(plan.objective)} objective, so this tier fires when "
            f"every event of the last {tier.long.text} and {tier.short.text} was bad."
        )
    else:
        why = (
            f"The threshold is {number(tier.factor)}x over both the last {tier.long.text} and "
            f"the last {tier.short.text}: at that pace {share} of the {plan.window_text} error "
            f"budget goes in {tier.long.text}."
        )
    guard = (
        f" At least {tier.min_bad_events} bad events in the last {tier.long.text}, "
        f"{tier.short_min_bad_events} of them in the last {tier.short.text}."
        if tier.min_bad_events > 0
        else ""
    )
    description = (
        f"{VALUE_1F}x error budget burn rate over the last "
        f"{tier.long.text} for {_slo_title(plan)}. {why}{guard} "
        f"Budget left in the window: {budget_left_template(plan)}."
    )
    summary = (
        f"{plan.name}: error budget burning {'fast' if tier.fast else 'steadily'} "
        f"(over {number(tier.factor)}x for {tier.long.text})"
    )
    return _alert(
        names.BURN,
        "\n".join(lines),
        plan.for_seconds,
        labels,
        _common_annotations(plan, summary, description),
    )


def _period_bad_guard(plan: SloPlan) -> list[str]:
    if plan.min_bad_events <= 0:
        return []
    if _uses_gauges(plan):
        gauge = metrics.SLO_PERIOD_EVENTS.name
        bad = selector({"slo": plan.name, "result": "bad"})
        return ["and on ()", f"sum({gauge}{bad}) >= {plan.min_bad_events}"]
    return ["and ignoring (result)", f"{_bad_events(plan, plan.period)} >= {plan.min_bad_events}"]


def exhausted_alert(plan: SloPlan) -> Rule:
    remaining = _recorded(names.PERIOD_BUDGET_REMAINING, plan)
    lines = [f"{remaining} <= 0", *_period_bad_guard(plan)]
    description = (
        f"Error budget left: {VALUE_PERCENT}. "
        f"{_slo_title(plan)} is missed for the current window"
        + (f" (with at least {plan.min_bad_events} bad events)" if plan.min_bad_events else "")
        + "; every further bad event deepens the overspend."
    )
    return _alert(
        names.EXHAUSTED,
        "\n".join(lines),
        EXHAUSTED_FOR,
        {"severity": Severity.TICKET.value, **plan.labels},
        _common_annotations(plan, f"{plan.name}: error budget spent", description),
    )


def forecast_alert(plan: SloPlan) -> Rule:
    burn = f"{_recorded(ratio_name(Window(FORECAST_WINDOW)), plan)} / {number(plan.budget)}"
    remaining = f"({_recorded(names.PERIOD_BUDGET_REMAINING, plan)} > 0)"
    if _uses_gauges(plan):
        assert plan.calendar is not None
        left = _calendar_time_left(plan.calendar)
        lines = [burn, ">", f"{remaining} * {plan.period.seconds} / scalar({left})"]
        ends = f"the calendar {plan.calendar} ends (UTC)"
    else:
        lines = [burn, ">", remaining]
        ends = f"one {plan.period.text} window passes"
    if plan.min_bad_events > 0:
        guard_expr = f"{_bad_events(plan, Window(FORECAST_WINDOW))} >= {plan.min_bad_events}"
        lines += ["and ignoring (result)", guard_expr]
    description = (
        f"{VALUE_2F}x error budget burn rate over the last day for "
        f"{_slo_title(plan)}: at that pace the budget left ({budget_left_template(plan)}) "
        f"runs out before {ends}."
    )
    return _alert(
        names.FORECAST,
        "\n".join(lines),
        FORECAST_FOR,
        {"severity": Severity.TICKET.value, **plan.labels},
        _common_annotations(
            plan, f"{plan.name}: error budget runs out before the window ends", description
        ),
    )


def backlog_severity(plan: SloPlan) -> Severity:
    return Severity.PAGE if plan.slo.alerting.page else Severity.TICKET


def backlog_alert(plan: SloPlan) -> Rule:
    assert plan.backlog_tickets is not None
    gauge = metrics.SLO_WAITING_PAST_THRESHOLD.name
    expr = f"max({gauge}{selector({'slo': plan.name})}) >= {plan.backlog_tickets}"
    description = (
        f"{VALUE_0F} open tickets of {_slo_title(plan)} are still waiting "
        f"past {plan.threshold_text} (alert at {plan.backlog_tickets}). A staffing gap shows "
        "here first; the alert resolves as agents catch up."
    )
    return _alert(
        names.BACKLOG,
        expr,
        plan.backlog_for,
        {"severity": backlog_severity(plan).value, **plan.labels},
        _common_annotations(
            plan, f"{plan.name}: open tickets are waiting past the SLO threshold", description
        ),
    )


def backlog_imminent_alert(plan: SloPlan) -> Rule:
    """Tickets will pass the threshold within the lead time faster than the team answers them.

    Three conditions, all needed:

    * at least ``k`` open tickets whose clock runs will be past the threshold within the
      lead (those already past included);
    * more of them than the team answered in time over the pace window (three leads by
      default): at the pace of that window they cannot all be answered in time.
      A team that is busy but keeping up answers more than that and stays quiet, and so
      does a team that has just cleared a queue (the weekend's, at Monday's opening).  The
      window is longer than the lead because at a few tickets an hour a lead time often
      holds no answer at all, so a pace read from it says "stopped" by chance;
    * evidence that this is not chance: a ticket has been late all through the last lead
      time, or twice ``k`` are in the lead.  At a few tickets an hour two tickets wait at
      once by chance, and an unlucky one is late for a few minutes; a staffing gap leaves
      the first of them unanswered long after it is late (and a stopped team under load
      fills the lead at once).

    A queue that waits overnight is not counted until the morning: the time to the
    threshold is counted on the SLO's business calendar.  And on a business calendar the
    calendar must have been open all through the last lead: right after opening (or
    lunch) the team has not had a lead time to answer the queue that waited.
    """
    assert plan.backlog_lead is not None and plan.backlog_imminent_tickets is not None
    assert plan.backlog_pace is not None
    k = plan.backlog_imminent_tickets
    lead = Window(round(plan.backlog_lead))
    pace = Window(plan.backlog_pace)
    name = f"{metrics.SLO_TIME_TO_THRESHOLD.name}_bucket"
    bucket = f"{name}{selector({'slo': plan.name}, le_matcher(plan.backlog_lead))}"
    late = f"{name}{selector({'slo': plan.name}, le_matcher(0.0))}"
    answered = (
        f"increase({metrics.SLO_EVENTS.name}{selector({'slo': plan.name, 'result': 'good'})}"
        f"[{pace.text}])"
    )
    expr = "\n".join(
        [
            f"max({bucket}) >= {k}",
            "and on ()",
            f"max({bucket})",
            f"  > on () (max({answered}) or on () vector(0))",
            "and on ()",
            f"(max(min_over_time({late}[{lead.text}])) >= 1 or on () max({bucket}) >= {2 * k})",
        ]
    )
    if plan.business_calendar is not None:
        open_ = f"{metrics.CALENDAR_OPEN.name}{selector({'calendar': plan.business_calendar})}"
        expr += f"\nand on ()\nmax(min_over_time({open_}[{lead.text}])) == 1"
    description = (
        f"{VALUE_0F} open tickets of {_slo_title(plan)} will be waiting past "
        f"{plan.threshold_text} within {lead.text} (alert at {k}, with one late for "
        f"{lead.text} already or {2 * k} about to be), more than the team answered in time "
        f"in the last {pace.text}. At this pace they will be late: the minutes left are for "
        "answering them, oldest first."
    )
    return _alert(
        names.BACKLOG_IMMINENT,
        expr,
        0,
        {"severity": backlog_severity(plan).value, **plan.labels},
        _common_annotations(
            plan,
            f"{plan.name}: tickets will pass the SLO threshold within {lead.text}",
            description,
        ),
    )


def le_matcher(bound: float) -> dict[str, str]:
    """Matcher for one ``le`` bucket, whether the exporter writes ``900`` or ``900.0``."""
    if bound == float("inf"):
        return {"le": r"\+Inf"}
    whole = int(bound)
    return {"le": f"{whole}|{whole}\\.0"}


def imminent_alert(plan: SloPlan) -> Rule:
    assert plan.imminent_bucket is not None and plan.slo.sla is not None
    sla = plan.slo.sla
    regex = le_matcher(plan.imminent_bucket)
    if plan.priorities:
        regex = {"priority": "|".join(plan.priorities), **regex}
    bucket = f"{metrics.SLA_TIME_TO_BREACH.name}_bucket{selector({'sla': sla}, regex)}"
    expr = f"sum by (sla, priority) ({bucket}) > 0"
    left = (
        "any time"
        if plan.imminent_bucket == float("inf")
        else format_window(round(plan.imminent_bucket))
    )
    description = (
        f"{VALUE_0F} running {sla} clock(s) on " + "{{ $labels.priority }} "
        f"tickets have {left} or less before their SLA deadline ({_slo_title(plan)})."
    )
    return _alert(
        names.IMMINENT,
        expr,
        0,
        {"severity": Severity.TICKET.value, **plan.labels},
        _common_annotations(
            plan, "{{ $labels.priority }} " + sla + " SLA clocks are about to breach", description
        ),
    )


def absent_alert(plan: SloPlan, job: str) -> Rule:
    if plan.kind is SloKind.AVAILABILITY:
        availability = plan.slo.availability
        assert availability is not None
        expr = f"absent(min({availability.up}))"
        description = (
            f"The up query of {_slo_title(plan)} returns no data: the probe is not scraped, "
            "or its series were renamed. Minutes without data count as no event, so this SLO "
            "cannot burn (or page) until they are back."
        )
    elif plan.kind is SloKind.PROMQL:
        sli = plan.slo.promql
        assert sli is not None
        expr = f"absent(sum({with_window(sli.total, Window(HOUR))}))"
        description = (
            f"The total query of {_slo_title(plan)} returns no data: its metrics are not "
            "scraped, or were renamed. Every window of this SLO reads 0 until they are back."
        )
    else:
        counter = f"{metrics.SLO_EVENTS.name}{selector({'slo': plan.name})}"
        expr = f"absent({counter}) and on () (up{selector({'job': job})} == 1)"
        description = (
            f"The exporter (job {job}) is up but publishes no {counter}: its config does not "
            f"define {_slo_title(plan)}, or names it differently. Regenerate the pack from the "
            "exporter's config."
        )
    return _alert(
        names.ABSENT,
        expr,
        METRICS_ABSENT_FOR,
        {"severity": Severity.TICKET.value, **plan.labels},
        _common_annotations(plan, f"{plan.name}: no SLO data", description),
    )


def slo_groups(plan: SloPlan) -> list[Group]:
    """The fast (1m) and slow (5m) rule groups of one SLO."""
    fast: list[Rule] = minute_rules(plan) if plan.kind is SloKind.AVAILABILITY else []
    fast += _window_rules(plan, plan.fast_windows)
    fast.append(
        _record(
            names.CURRENT_BURN_RATE,
            f"{_recorded(ratio_name(Window(CURRENT_BURN_WINDOW)), plan)} / {number(plan.budget)}",
            plan.labels,
        )
    )
    fast += [burn_alert(plan, tier) for tier in plan.tiers if tier.fast]
    if plan.backlog_tickets is not None:
        fast.append(backlog_alert(plan))
    if plan.backlog_lead is not None:
        fast.append(backlog_imminent_alert(plan))
    if plan.imminent_bucket is not None:
        fast.append(imminent_alert(plan))
    slow: list[Rule] = _window_rules(plan, plan.slow_windows)
    slow += _period_rules(plan)
    slow += [burn_alert(plan, tier) for tier in plan.tiers if not tier.fast]
    slow.append(exhausted_alert(plan))
    slow.append(forecast_alert(plan))
    return [
        {"name": f"helpdesk-slo-{plan.name}-fast", "interval": FAST_INTERVAL, "rules": fast},
        {"name": f"helpdesk-slo-{plan.name}-slow", "interval": SLOW_INTERVAL, "rules": slow},
    ]


#: Renders the reason of the source's latest failed poll (from
#: ``helpdesk_poll_last_error_timestamp_seconds``) in an exporter alert's annotations.
LAST_ERROR = (
    '{{ with printf "topk(1, ' + metrics.POLL_LAST_ERROR.name + '{job=%q,instance=%q,source=%q})" '
    "$labels.job $labels.instance $labels.source | query }}"
    '{{ . | first | label "reason" }}{{ else }}none recorded{{ end }}'
)
#: What :data:`LAST_ERROR` renders when no poll has failed since the exporter started.
NO_ERROR = "none recorded"


def source_down_expr(plan: PackPlan) -> str:
    """Seconds without a successful poll (since the start when none succeeded), over the limit."""
    job = selector({"job": plan.options.job})
    last_success = f"{metrics.LAST_SUCCESSFUL_POLL.name}{job}"
    return f"time() - {last_success} > {plan.source_down_after.seconds}"


def source_stale_expr(plan: PackPlan) -> str:
    """The watermark's lag, where successful polls left the watermark where it was."""
    job = selector({"job": plan.options.job})
    window = plan.source_down_after.text
    watermark = f"{metrics.WATERMARK.name}{job}"
    last_success = f"{metrics.LAST_SUCCESSFUL_POLL.name}{job}"
    return (
        f"time() - {watermark}\n"
        f"and\nchanges({watermark}[{window}]) == 0\n"
        f"and\nchanges({last_success}[{window}]) > 1"
    )


def source_lagging_expr(plan: PackPlan) -> str:
    """The watermark's lag, where it is over the limit and grew over the trend window."""
    job = selector({"job": plan.options.job})
    watermark = f"{metrics.WATERMARK.name}{job}"
    trend = Window(LAG_TREND_WINDOW)
    return (
        f"time() - {watermark} > {plan.source_stale_after.seconds}\n"
        f"and\n{watermark} - {watermark} offset {trend.text} < {trend.seconds}\n"
        f"and\nchanges({watermark}[{plan.source_down_after.text}]) > 0"
    )


def exporter_group(plan: PackPlan) -> Group:
    """Alerts on the exporter itself, its helpdesk source, and SLO data that should exist."""
    job = plan.options.job
    up = f"up{selector({'job': job})}"
    grafana = plan.options.grafana_url.rstrip("/")
    links = {
        "runbook_url": f"{plan.options.runbook_base_url.rstrip('/')}/{EXPORTER_RUNBOOK}.md",
        "dashboard_url": f"{grafana}/d/{names.OVERVIEW_UID}",
    }
    down = plan.source_down_after
    stale = plan.source_stale_after
    trend = Window(LAG_TREND_WINDOW)
    rules: list[Rule] = [
        _alert(
            names.EXPORTER_DOWN,
            f"{up} == 0\nor\nabsent({up})",
            EXPORTER_DOWN_FOR,
            {"severity": Severity.PAGE.value, **plan.exporter_labels},
            {
                "summary": "helpdesk-slo exporter is down",
                "description": "{{ if $labels.instance }}Prometheus cannot scrape "
                "{{ $labels.instance }} (job "
                + job
                + "){{ else }}No target with job "
                + job
                + " is scraped{{ end }}: support SLO alerts are blind until it is back.",
                **links,
            },
        ),
        _alert(
            names.SOURCE_DOWN,
            source_down_expr(plan),
            SOURCE_DOWN_FOR,
            {"severity": Severity.PAGE.value, **plan.exporter_labels},
            {
                "summary": "helpdesk {{ $labels.source }} does not answer the exporter",
                "description": "{{ $labels.instance }} has had no successful poll of "
                "{{ $labels.source }} for " + VALUE_DURATION + " (since its last success, or "
                "since the exporter started; limit "
                + down.text
                + "). Last error: "
                + LAST_ERROR
                + ". No outcome is decided and no SLO alert can fire until it answers again.",
                **links,
            },
        ),
        _alert(
            names.SOURCE_STALE,
            source_stale_expr(plan),
            SOURCE_STALE_FOR,
            {"severity": Severity.PAGE.value, **plan.exporter_labels},
            {
                "summary": "helpdesk data from {{ $labels.source }} stopped advancing",
                "description": "{{ $labels.source }} answers the polls of {{ $labels.instance }}, "
                "but its watermark has not moved for " + down.text + ": the data is known "
                "complete only up to " + VALUE_DURATION + " ago. Outcomes wait for the "
                "watermark, so no SLO alert can fire on what happened since.",
                **links,
            },
        ),
        _alert(
            names.SOURCE_LAGGING,
            source_lagging_expr(plan),
            SOURCE_LAGGING_FOR,
            {"severity": Severity.TICKET.value, **plan.exporter_labels},
            {
                "summary": "helpdesk data from {{ $labels.source }} falls behind",
                "description": "Data from {{ $labels.source }} is known complete only up to "
                + VALUE_DURATION
                + " ago (limit "
                + stale.text
                + ") and fell further behind over the last "
                + trend.text
                + ": outcomes wait for the watermark, so SLO alerts lag.",
                **links,
            },
        ),
    ]
    rules += [absent_alert(slo, job) for slo in plan.slos]
    rules += status_time_rules(plan)
    return {"name": "helpdesk-slo-exporter", "interval": FAST_INTERVAL, "rules": rules}


#: the window of the status-time recording rules
STATUS_TIME_WINDOW = "1d"


def status_time_rules(plan: PackPlan) -> list[Rule]:
    """Where the last day's business time went, per priority: seconds and share per status.

    A priority with no business time in the day (a weekend) has no share series
    rather than a division by zero.
    """
    counter = f"{metrics.TICKET_STATUS_SECONDS.name}{selector({'job': plan.options.job})}"
    increase = f"sum by (priority, status) (increase({counter}[{STATUS_TIME_WINDOW}]))"
    recorded = f"{names.STATUS_TIME_INCREASE}{selector(plan.exporter_labels)}"
    share = f"{recorded}\n/ on (priority) group_left ()\n(sum by (priority) ({recorded}) > 0)"
    return [
        _record(names.STATUS_TIME_INCREASE, increase, plan.exporter_labels),
        _record(names.STATUS_TIME_SHARE, share, plan.exporter_labels),
    ]


def rule_groups(plan: PackPlan) -> list[Group]:
    """Every rule group of the pack, in file order."""
    groups: list[Group] = []
    for slo in plan.slos:
        groups += slo_groups(slo)
    groups.append(exporter_group(plan))
    return groups


# --- rendering --------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings (PromQL) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """Stable YAML: keys in insertion order, long lines kept whole, literal blocks for PromQL."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,
    )


def header(config_name: str, what: str) -> str:
    return (
        f"# {GENERATED_MARKER} from {config_name}. DO NOT EDIT.\n"
        f"# {what}\n"
        "# Regenerate: helpdesk-slo generate --config <file> --out <dir>\n"
    )


def kubernetes_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name or "default"


def render_rules(plan: PackPlan, format: RuleFormat = "prometheus") -> str:
    """The rule file for ``format``: a Prometheus/Thanos rule file, a ``PrometheusRule``
    manifest, or a Mimir/Cortex ruler namespace file (``mimirtool rules load``)."""
    groups = rule_groups(plan)
    name = f"helpdesk-slo-{kubernetes_name(plan.service)}"
    if format == "prometheus":
        document: dict[str, Any] = {"groups": groups}
        what = (
            "Prometheus rule file, also read by Thanos ruler; tested by helpdesk-slo.rules.test.yml"
        )
    elif format == "prometheus-operator":
        document = {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {
                "name": name,
                "labels": {
                    "app.kubernetes.io/name": "helpdesk-slo-exporter",
                    "app.kubernetes.io/part-of": "helpdesk-slo",
                },
            },
            "spec": {"groups": groups},
        }
        what = "prometheus-operator PrometheusRule; the same rules as helpdesk-slo.rules.yml"
    elif format == "mimir":
        document = {"namespace": name, "groups": groups}
        what = "Mimir/Cortex ruler namespace (mimirtool rules load); same rules as the rule file"
    else:  # pragma: no cover - argparse limits the choices
        raise ValueError(f"unknown rule format {format!r}")
    return header(plan.config_name, what) + dump_yaml(document)


def format_file_name(format: RuleFormat) -> str | None:
    """Extra file written next to the plain rule file for ``format`` (None for prometheus)."""
    return {
        "prometheus": None,
        "prometheus-operator": "helpdesk-slo.prometheusrule.yml",
        "mimir": "helpdesk-slo.mimir.yml",
    }[format]
