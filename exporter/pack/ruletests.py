"""promtool tests for the generated rules, derived from the same plan as the rules.

Each test group replays one kind of day for every SLO of the config at once
(the series of different SLOs never mix) and checks what must, and must not,
fire:

``quiet``      zero traffic: every recorded ratio and count is 0 (not NaN), budgets are
               whole, nothing fires.
``all bad``    every event bad: each burn tier fires, with its rendered annotations, and
               the budget is reported spent.
``outage``     a full outage after a normal morning pages by a time worked out from the
               windows, and the page resolves once the outage is over.
``spike``      a short burst of bad events does not page.
``slow burn``  a steady burn between the ticket and page thresholds opens a ticket only.
``restart``    an exporter restart (a scrape gap, counters resume) and a lost store (a
               counter reset) do not page, and the ratios stay right.
``guard``      fewer bad events than the guard (one late ticket at 3 a.m.) page nobody.
``forecast``   a steady burn that spends the budget left before the window ends warns.
``backlog``    tickets waiting past the threshold page, imminent SLA breaches warn; both
               resolve.
``availability``  (availability SLOs) the probe down in business hours pages and
               resolves; the same outage with the calendar closed, or with its gauge
               missing, burns nothing; a blip does not page; the budget left after a
               known outage is exact.
``exporter``   exporter down or never scraped, SLO series missing.
``source``     the helpdesk never answered since the start, stopped answering, or answers
               while its watermark stands still: each pages within 15 minutes, with the
               last error's reason; data that falls further behind opens a ticket.  A
               healthy exporter, a brief outage of two polls, a restart and a first sync
               that catches up over many polls page nobody.

Expectations come from a model of the rules (:func:`tier_condition`: bad and
total increase per window, as Prometheus 2 computes them on steady 1-minute
samples; :class:`SourceModel` for the source alerts, fed by :func:`source_series`,
which publishes the source's gauges as the poller does).  Every check sits at
least 3 minutes away from a change the model predicts (the source pages' 15-minute
checks at least 1 minute), so Prometheus 3's left-open range selection, which
shifts windows by one sample, gives the same results.  promql SLOs have no known input series:
their tests cover zero traffic and the missing-data alert only; neither do availability SLOs
whose ``up`` query is more than one series selector.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from itertools import pairwise
from typing import Any

from exporter import metrics
from exporter.config import Severity, SloKind
from exporter.pack import names
from exporter.pack.names import (
    ABSENT,
    BACKLOG,
    BACKLOG_IMMINENT,
    BURN,
    EXHAUSTED,
    EXPORTER_DOWN,
    FORECAST,
    IMMINENT,
    SOURCE_ALERTS,
    SOURCE_DOWN,
    SOURCE_LAGGING,
    SOURCE_STALE,
)
from exporter.pack.rules import (
    EXHAUSTED_FOR,
    FORECAST_FOR,
    LAG_TREND_WINDOW,
    LAST_ERROR,
    METRICS_ABSENT_FOR,
    MINUTE,
    NO_ERROR,
    SOURCE_DETECTION_TARGET,
    SOURCE_DOWN_FOR,
    SOURCE_LAGGING_FOR,
    SOURCE_STALE_FOR,
    VALUE_0F,
    VALUE_1F,
    VALUE_2F,
    VALUE_DURATION,
    VALUE_PERCENT,
    PackPlan,
    Rule,
    SloPlan,
    Tier,
    Window,
    absent_alert,
    availability_input,
    backlog_alert,
    backlog_imminent_alert,
    budget_left_template,
    burn_alert,
    dump_yaml,
    events_name,
    exact_decimal,
    exhausted_alert,
    exporter_group,
    format_window,
    header,
    imminent_alert,
    ratio_name,
    selector,
)
from exporter.status_time import ON_HOLD, OPEN, PENDING, REOPENED

Values = list[float | None]

#: ``instance`` label of the exporter in the test series.
INSTANCE = "helpdesk-slo:9707"
#: Events per minute in outage, spike and guard days: busy enough for every window.
RATE = 10
#: Events per minute where a steady ratio must be hit precisely (slow burn, forecast).
FINE_RATE = 1000
#: Minutes of normal traffic before an incident.
MORNING = 120
#: Length of the business day in the availability budget test.
BUSINESS_MINUTES = 300
#: Minutes in an hour.
HOUR_MINUTES = 60
#: Minutes between a check and any change the model predicts.
MARGIN = 3
#: How far the model looks for a page or a ticket before giving up.
HORIZON = 12 * 60

#: ``le`` bounds a gauge histogram of time to breach is written with (plus +Inf).
BUCKETS = (*metrics.TIME_TO_BREACH_BUCKETS, float("inf"))
#: SLOs with a larger ``imminent_tickets`` are left out of the tests in which tickets pile up
#: one by one (they would need hours of series); the rule is the same for every k.
MAX_PILE = 20
#: Seconds left on the running clocks of the imminent-breach test.
SECONDS_LEFT = 200.0


# --- traffic and the model of the rules -------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    """Cumulative good and bad counters of one SLO, one sample per minute from minute 0."""

    good: tuple[int, ...]
    bad: tuple[int, ...]

    @property
    def minutes(self) -> int:
        return len(self.good) - 1


def traffic(segments: Sequence[tuple[int, int, int]], minutes: int) -> Traffic:
    """Counters from ``(minutes, good per minute, bad per minute)`` segments, then quiet.

    Counters start at 0 at minute 0 (the exporter initialises every known series).
    """
    good, bad = [0], [0]
    for length, good_rate, bad_rate in segments:
        for _ in range(length):
            good.append(good[-1] + good_rate)
            bad.append(bad[-1] + bad_rate)
    while len(good) <= minutes:
        good.append(good[-1])
        bad.append(bad[-1])
    return Traffic(tuple(good[: minutes + 1]), tuple(bad[: minutes + 1]))


def _delta(values: Sequence[int], minute: int, window_minutes: int) -> int:
    return values[minute] - values[max(0, minute - window_minutes)]


def error_ratio(data: Traffic, minute: int, window_minutes: int) -> Fraction:
    """``slo:sli_error:ratio_rate<W>`` as the rules record it: 0 when nothing happened."""
    bad = _delta(data.bad, minute, window_minutes)
    total = bad + _delta(data.good, minute, window_minutes)
    return Fraction(bad, total) if total else Fraction(0)


def tier_condition(tier: Tier, data: Traffic, minute: int) -> bool:
    """The burn tier's expression is true at ``minute``."""
    threshold = Fraction(tier.ratio_threshold)

    def over(ratio: Fraction) -> bool:
        return ratio >= threshold if tier.rescaled else ratio > threshold

    return (
        over(error_ratio(data, minute, tier.long.minutes))
        and over(error_ratio(data, minute, tier.short.minutes))
        and _delta(data.bad, minute, tier.long.minutes) >= tier.min_bad_events
        and _delta(data.bad, minute, tier.short.minutes) >= tier.short_min_bad_events
    )


def availability_traffic(open_: Sequence[float], up: Sequence[float]) -> Traffic:
    """An availability SLO's minute samples as counters of good and bad business minutes.

    ``open_[m]`` and ``up[m]`` are the calendar gauge and the probe at minute m.  A window of
    W minutes then holds the W samples before its end, as Prometheus 3 selects them
    (Prometheus 2 adds the sample at its start: checks stay MARGIN minutes from changes).
    """
    good, bad = [0], [0]
    for is_open, value in zip(open_[1:], up[1:], strict=True):
        good.append(good[-1] + int(is_open * value))
        bad.append(bad[-1] + int(is_open * (1 - value)))
    return Traffic(tuple(good), tuple(bad))


def is_firing(condition: Callable[[int], bool], minute: int, for_minutes: int) -> bool:
    """An alert with ``for: for_minutes`` fires at ``minute`` (1-minute evaluations)."""
    start = minute - for_minutes
    return start >= 0 and all(condition(m) for m in range(start, minute + 1))


def severity_firing(plan: SloPlan, severity: Severity, data: Traffic, minute: int) -> bool:
    for_minutes = plan.for_seconds // MINUTE
    return any(
        is_firing(partial(tier_condition, tier, data), minute, for_minutes)
        for tier in plan.tiers
        if tier.severity is severity
    )


def _first(predicate: Callable[[int], bool], start: int, end: int) -> int | None:
    return next((m for m in range(start, end + 1) if predicate(m)), None)


def _stable(predicate: Callable[[int], bool], minute: int, expected: bool) -> bool:
    """``predicate`` keeps ``expected`` within MARGIN minutes of ``minute``."""
    return all(predicate(m) is expected for m in range(minute - MARGIN, minute + MARGIN + 1))


# --- expanding notation and labels ------------------------------------------------------------


def _text(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def expand(values: Sequence[float | None]) -> str:
    """promtool's expanding notation: ``0+10x59 600x30 _x2`` for one value per interval."""
    parts: list[str] = []
    i, n = 0, len(values)
    while i < n:
        value = values[i]
        if value is None:
            j = i
            while j < n and values[j] is None:
                j += 1
            parts.append("_" if j - i == 1 else f"_x{j - i}")
            i = j
            continue
        j = i
        if i + 1 < n and values[i + 1] is not None:
            step = values[i + 1] - value  # type: ignore[operator]
            exact = float(value).is_integer() and float(step).is_integer()
            while (
                j + 1 < n
                and values[j + 1] is not None
                and values[j + 1] - values[j] == step  # type: ignore[operator]
                and (exact or step == 0)
            ):
                j += 1
            if j - i >= 2 or (j - i == 1 and step == 0):
                if step == 0:
                    parts.append(f"{_text(value)}x{j - i}")
                elif step > 0:
                    parts.append(f"{_text(value)}+{_text(step)}x{j - i}")
                else:
                    parts.append(f"{_text(value)}-{_text(-step)}x{j - i}")
                i = j + 1
                continue
        parts.append(_text(value))
        i += 1
    return " ".join(parts)


def series(name: str, labels: Mapping[str, str]) -> str:
    return name + selector(labels)


def at(minute: int) -> str:
    return format_window(minute * MINUTE) if minute else "0m"


# --- rendering the annotations Prometheus will produce ----------------------------------------


def humanize_percentage(value: float) -> str:
    """Prometheus' ``humanizePercentage``: ``%.4g%%`` of value x 100."""
    return "%.4g%%" % (value * 100)


def humanize_duration(value: float) -> str:
    """Prometheus' ``humanizeDuration`` for values of a second or more: ``16m 0s``."""
    if value == 0:
        return "0s"
    sign = "-" if value < 0 else ""
    whole = int(abs(value))
    if whole == 0:
        raise ValueError(f"no rendering for a duration under a second ({value!r})")
    seconds, minutes = whole % 60, whole // 60 % 60
    hours, days = whole // 3600 % 24, whole // 86400
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{abs(value):.4g}s"


_IF_LABEL = re.compile(r"\{\{ if \$labels\.(\w+) \}\}(.*?)\{\{ else \}\}(.*?)\{\{ end \}\}")
_LABEL = re.compile(r"\{\{ \$labels\.(\w+) \}\}")


def render(
    template: str,
    labels: Mapping[str, str],
    value: float,
    budget_left: tuple[str, float] | None = None,
    last_error: str | None = None,
) -> str:
    """Expand the few template forms the rules use, as Prometheus would for this alert.

    ``last_error`` is the reason :data:`~exporter.pack.rules.LAST_ERROR` finds (None: none).
    """
    text = template.replace(LAST_ERROR, last_error or NO_ERROR)
    if budget_left is not None:
        text = text.replace(budget_left[0], humanize_percentage(budget_left[1]))
    if VALUE_DURATION in text:
        text = text.replace(VALUE_DURATION, humanize_duration(value))
    text = _IF_LABEL.sub(lambda m: m[2] if labels.get(m[1]) else m[3], text)
    text = text.replace(VALUE_1F, f"{value:.1f}").replace(VALUE_2F, f"{value:.2f}")
    text = text.replace(VALUE_0F, f"{value:.0f}").replace(VALUE_PERCENT, humanize_percentage(value))
    text = _LABEL.sub(lambda m: labels.get(m[1], ""), text)
    if "{{" in text:
        raise ValueError(f"no rendering for the template in {template!r}")
    return text


def expected_alert(
    rule: Rule,
    value: float,
    extra_labels: Mapping[str, str] | None = None,
    budget_left: tuple[str, float] | None = None,
    last_error: str | None = None,
) -> dict[str, Any]:
    """An ``exp_alerts`` entry: the rule's labels over the expression's, rendered annotations."""
    labels = {**(extra_labels or {}), **rule["labels"]}
    return {
        "exp_labels": labels,
        "exp_annotations": {
            key: render(text, labels, value, budget_left, last_error)
            for key, text in rule["annotations"].items()
        },
    }


# --- the helpdesk source as the exporter publishes it, and a model of the source alerts ------


@dataclass(frozen=True)
class Start:
    """The exporter starts: a new process on the store earlier ones wrote."""


@dataclass(frozen=True)
class Stop:
    """The exporter stops: nothing is scraped until the next start."""


@dataclass(frozen=True)
class Answered:
    """A successful poll, and the watermark it reports (test-clock seconds)."""

    watermark: float


@dataclass(frozen=True)
class Failed:
    """A failed poll and its reason."""

    reason: str


SourceEvent = Start | Stop | Answered | Failed


@dataclass
class SourceSeries:
    """The exporter's source series, one sample a minute (None: the exporter is not running)."""

    scraped: list[bool]
    up: Values
    last_success: Values
    watermark: Values
    #: reason -> ``helpdesk_poll_last_error_timestamp_seconds``
    errors: dict[str, Values]

    def last_error(self, minute: int) -> str | None:
        """The reason the alerts' annotations name at ``minute``: the latest failure's."""
        latest = [
            (values[minute], reason)
            for reason, values in self.errors.items()
            if values[minute] is not None
        ]
        return max(latest)[1] if latest else None


def source_series(events: Mapping[int, Sequence[SourceEvent]], minutes: int) -> SourceSeries:
    """The source series the exporter publishes, minute by minute, for these events.

    As the poller does: ``helpdesk_up`` 0 from a start until a poll succeeds; the last
    success never older than the start; the stored watermark, or the start on a new
    store; the time of the last failure for each reason seen since the start.
    """
    running = False
    started = 0.0
    up = 0.0
    stored_success: float | None = None
    stored_watermark: float | None = None
    failed: dict[str, float] = {}
    reasons = sorted({e.reason for day in events.values() for e in day if isinstance(e, Failed)})
    out = SourceSeries([], [], [], [], {reason: [] for reason in reasons})
    for minute in range(minutes + 1):
        now = 60.0 * minute
        for event in events.get(minute, ()):
            if isinstance(event, Start):
                running, started, up, failed = True, now, 0.0, {}
            elif isinstance(event, Stop):
                running = False
            elif isinstance(event, Answered):
                up, stored_success, stored_watermark = 1.0, now, event.watermark
            else:
                up = 0.0
                failed[event.reason] = now
        out.scraped.append(running)
        if not running:
            for values in (out.up, out.last_success, out.watermark, *out.errors.values()):
                values.append(None)
            continue
        out.up.append(up)
        out.last_success.append(max(stored_success or started, started))
        out.watermark.append(stored_watermark if stored_watermark is not None else started)
        for reason, values in out.errors.items():
            values.append(failed.get(reason))
    return out


def every(
    start: int, end: int, step: int = 1, watermark: Callable[[int], float] | None = None
) -> dict[int, list[SourceEvent]]:
    """Successful polls every ``step`` minutes from ``start`` to ``end`` (inclusive).

    The watermark is one minute behind the poll unless ``watermark(minute)`` says otherwise.
    """
    mark = watermark or (lambda minute: 60.0 * minute - 60)
    return {m: [Answered(mark(m))] for m in range(start, end + 1, step)}


def merge(*parts: Mapping[int, Sequence[SourceEvent]]) -> dict[int, list[SourceEvent]]:
    merged: dict[int, list[SourceEvent]] = {}
    for part in parts:
        for minute, events in part.items():
            merged.setdefault(minute, []).extend(events)
    return merged


def _latest(values: Values, minute: int) -> float | None:
    """An instant selector at ``minute``: the newest sample of the last 5 minutes."""
    for m in range(minute, max(minute - 5, -1), -1):
        if 0 <= m < len(values) and values[m] is not None:
            return values[m]
    return None


def _changes(values: Values, minute: int, window_minutes: int) -> int | None:
    """``changes(x[W])`` at ``minute``; None without a sample in the window."""
    present = [v for v in values[max(0, minute - window_minutes) : minute + 1] if v is not None]
    if not present:
        return None
    return sum(1 for a, b in pairwise(present) if a != b)


@dataclass(frozen=True)
class SourceModel:
    """The expressions of the source alerts on 1-minute samples, as Prometheus 2 evaluates them."""

    data: SourceSeries
    down_after: int
    stale_after: int

    def _age(self, values: Values, minute: int) -> float | None:
        latest = _latest(values, minute)
        return None if latest is None else 60.0 * minute - latest

    def condition(self, alert: str, minute: int) -> bool:
        window = self.down_after // MINUTE
        data = self.data
        if alert == SOURCE_DOWN:
            age = self._age(data.last_success, minute)
            return age is not None and age > self.down_after
        if alert == SOURCE_STALE:
            return (
                _latest(data.watermark, minute) is not None
                and _changes(data.watermark, minute, window) == 0
                and (_changes(data.last_success, minute, window) or 0) > 1
            )
        now, before = _latest(data.watermark, minute), None
        if minute >= LAG_TREND_WINDOW // MINUTE:
            before = _latest(data.watermark, minute - LAG_TREND_WINDOW // MINUTE)
        return (
            now is not None
            and before is not None
            and 60.0 * minute - now > self.stale_after
            and now - before < LAG_TREND_WINDOW
            and (_changes(data.watermark, minute, window) or 0) > 0
        )

    def firing(self, alert: str, minute: int) -> bool:
        for_seconds = {
            SOURCE_DOWN: SOURCE_DOWN_FOR,
            SOURCE_STALE: SOURCE_STALE_FOR,
            SOURCE_LAGGING: SOURCE_LAGGING_FOR,
        }[alert]
        return is_firing(partial(self.condition, alert), minute, for_seconds // MINUTE)

    def value(self, alert: str, minute: int) -> float:
        """The alert's ``$value``: seconds since the last success, or the watermark's lag."""
        values = self.data.last_success if alert == SOURCE_DOWN else self.data.watermark
        age = self._age(values, minute)
        assert age is not None
        return age


# --- test groups ------------------------------------------------------------------------------


@dataclass
class ScenarioGroup:
    name: str
    minutes: int
    input_series: dict[str, Values] = field(default_factory=dict)
    alert_tests: list[dict[str, Any]] = field(default_factory=list)
    expr_tests: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, values: Sequence[float | None]) -> None:
        padded = list(values[: self.minutes + 1])
        while len(padded) <= self.minutes:
            padded.append(padded[-1] if padded else None)
        self.input_series[name] = padded

    def firing(self, query: str, minute: int) -> None:
        self.expr_tests.append(
            {
                "expr": f"max({query})",
                "eval_time": at(minute),
                "exp_samples": [{"labels": "{}", "value": 1}],
            }
        )

    def silent(self, query: str, minute: int) -> None:
        self.expr_tests.append({"expr": query, "eval_time": at(minute), "exp_samples": []})

    def samples(self, query: str, minute: int, expected: Sequence[tuple[str, float]]) -> None:
        self.expr_tests.append(
            {
                "expr": query,
                "eval_time": at(minute),
                "exp_samples": [{"labels": labels, "value": value} for labels, value in expected],
            }
        )

    def alerts(self, alertname: str, minute: int, expected: list[dict[str, Any]]) -> None:
        self.alert_tests.append(
            {"eval_time": at(minute), "alertname": alertname, "exp_alerts": expected}
        )

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "interval": "1m",
            "input_series": [
                {"series": name, "values": expand(values)}
                for name, values in self.input_series.items()
            ],
        }
        if self.alert_tests:
            out["alert_rule_test"] = self.alert_tests
        if self.expr_tests:
            out["promql_expr_test"] = self.expr_tests
        return out


class _Builder:
    """Builds the test groups of one pack."""

    def __init__(self, plan: PackPlan) -> None:
        self.plan = plan
        self.job = plan.options.job
        self.counted = [p for p in plan.slos if p.kind.counted_by_exporter]
        self.timed = [p for p in plan.slos if p.kind is SloKind.TIME]
        #: availability SLOs whose ``up`` query is a series the tests can feed
        self.available = [
            p
            for p in plan.slos
            if p.slo.availability is not None and availability_input(p.slo.availability)
        ]

    # -- series --

    def _exporter_labels(self, **extra: str) -> dict[str, str]:
        return {**extra, "job": self.job, "instance": INSTANCE}

    def _healthy(self, group: ScenarioGroup) -> None:
        """The exporter is up and polling every minute, its watermark one minute behind."""
        self._source(group, every(1, group.minutes), started=True)

    def _source(
        self,
        group: ScenarioGroup,
        events: Mapping[int, Sequence[SourceEvent]],
        started: bool = False,
        instance: str = INSTANCE,
    ) -> SourceModel:
        """The exporter's ``up`` and source series for these events (``started``: at minute 0)."""
        if started:
            events = merge({0: [Start()]}, events)
        data = source_series(events, group.minutes)
        target = {"job": self.job, "instance": instance}
        labels = {"source": self.plan.source, **target}
        group.add(series("up", target), [float(s) for s in data.scraped])
        group.add(series(metrics.UP.name, labels), data.up)
        group.add(series(metrics.LAST_SUCCESSFUL_POLL.name, labels), data.last_success)
        group.add(series(metrics.WATERMARK.name, labels), data.watermark)
        for reason, values in data.errors.items():
            group.add(series(metrics.POLL_LAST_ERROR.name, {**labels, "reason": reason}), values)
        return SourceModel(
            data, self.plan.source_down_after.seconds, self.plan.source_stale_after.seconds
        )

    def _counters(self, group: ScenarioGroup, plan: SloPlan, data: Traffic | None = None) -> None:
        data = data or traffic([], group.minutes)
        for result, values in (("good", data.good), ("bad", data.bad)):
            name = series(
                metrics.SLO_EVENTS.name, self._exporter_labels(slo=plan.name, result=result)
            )
            group.add(name, [float(v) for v in values])
        if plan.calendar is None:
            return
        # calendar windows: the exporter's period gauges (the test data starts with the period)
        budget = float(plan.budget)
        remaining: Values = []
        for good, bad in zip(data.good, data.bad, strict=True):
            remaining.append(1.0 - (bad / (good + bad)) / budget if good + bad else 1.0)
        gauge = series(metrics.SLO_BUDGET_REMAINING.name, self._exporter_labels(slo=plan.name))
        group.add(gauge, remaining)
        for result, values in (("good", data.good), ("bad", data.bad)):
            period = series(
                metrics.SLO_PERIOD_EVENTS.name, self._exporter_labels(slo=plan.name, result=result)
            )
            group.add(period, [float(v) for v in values])

    def _all_counters(
        self, group: ScenarioGroup, data: Mapping[str, Traffic] | None = None
    ) -> None:
        for plan in self.counted:
            self._counters(group, plan, (data or {}).get(plan.name))

    # -- queries --

    def _alerts(self, alertname: str, plan: SloPlan | None = None, **labels: str) -> str:
        picked = {"alertname": alertname, "alertstate": "firing"}
        if plan is not None:
            picked.update(plan.selector)
        return "ALERTS" + selector({**picked, **labels})

    def _page(self, plan: SloPlan) -> str:
        return self._alerts(BURN, plan, severity=Severity.PAGE.value)

    def _ticket(self, plan: SloPlan) -> str:
        return self._alerts(BURN, plan, severity=Severity.TICKET.value)

    # -- the groups --

    def quiet(self) -> ScenarioGroup:
        group = ScenarioGroup(
            "quiet: no traffic records 0 everywhere (never NaN), a whole budget, and no alert",
            minutes=120,
        )
        self._healthy(group)
        self._all_counters(group)
        self._backlog_series(group, lambda minute: 0.0, lambda minute: 0.0)
        check = 100
        for plan in self.plan.slos:
            sel = selector(plan.selector)
            ratios = [(series(ratio_name(w), plan.labels), 0.0) for w in plan.windows]
            ratio_names = f'__name__=~"{names.SLI_ERROR_RATIO_PREFIX}.+"'
            group.samples(f"{{{ratio_names}, {sel[1:-1]}}}", check, ratios)
            counts = [
                (series(events_name(w), {**plan.labels, "result": result}), 0.0)
                for w in plan.windows
                for result in ("bad", "total")
            ]
            event_names = f'__name__=~"{names.SLI_EVENTS_PREFIX}.+"'
            group.samples(f"{{{event_names}, {sel[1:-1]}}}", check, counts)
            days = Fraction(plan.period.seconds, 86400)
            for name, value in (
                (names.CURRENT_BURN_RATE, 0.0),
                (names.PERIOD_BURN_RATE, 0.0),
                (names.PERIOD_BUDGET_REMAINING, 1.0),
                (names.OBJECTIVE, float(plan.objective)),
                (names.ERROR_BUDGET, float(plan.budget)),
                # recorded as written: exact, or to 4 significant digits (1h: 0.04167)
                (names.TIME_PERIOD_DAYS, float(exact_decimal(days))),
            ):
                group.samples(name + sel, check, [(series(name, plan.labels), value)])
            quiet = {"slo": plan.name, "service": plan.service}
            for minute in (30, check, 120):
                if not plan.kind.counted_by_exporter:
                    group.silent(
                        "ALERTS" + selector(quiet, {"alertname": f"{BURN}|{EXHAUSTED}|{FORECAST}"}),
                        minute,
                    )
                else:
                    group.silent("ALERTS" + selector(quiet), minute)
        group.silent("ALERTS" + selector({}, {"alertname": "Helpdesk.+"}), check)
        return group

    def all_bad(self) -> ScenarioGroup | None:
        plans = [p for p in self.counted]
        if not plans:
            return None
        check = max(
            90, max(p.for_seconds for p in plans) // MINUTE + 30, EXHAUSTED_FOR // MINUTE + 30
        )
        group = ScenarioGroup(
            "all bad: every burn tier fires with its annotations, and the budget is spent",
            minutes=check + 5,
        )
        self._healthy(group)
        data = {p.name: traffic([(check + 5, 0, RATE)], check + 5) for p in plans}
        self._all_counters(group, data)
        burns: list[dict[str, Any]] = []
        spent: list[dict[str, Any]] = []
        for plan in plans:
            budget = float(plan.budget)
            burn = 1.0 / budget
            left = (budget_left_template(plan), 1.0 - burn)
            for tier in plan.tiers:
                condition = partial(tier_condition, tier, data[plan.name])
                firing = is_firing(condition, check, plan.for_seconds // MINUTE)
                if firing:
                    burns.append(expected_alert(burn_alert(plan, tier), burn, budget_left=left))
            if data[plan.name].bad[check] >= plan.min_bad_events:
                spent.append(expected_alert(exhausted_alert(plan), 1.0 - burn))
        group.alerts(BURN, check, burns)
        group.alerts(EXHAUSTED, check, spent)
        return group

    def outage(self) -> ScenarioGroup | None:
        cases = []
        for plan in self.counted:
            if not any(t.severity is Severity.PAGE for t in plan.tiers):
                continue
            long_outage = traffic([(MORNING, RATE, 0), (HORIZON, 0, RATE)], MORNING + HORIZON)

            def pages(minute: int, plan: SloPlan = plan, data: Traffic = long_outage) -> bool:
                return severity_firing(plan, Severity.PAGE, data, minute)

            detected = _first(pages, MORNING, MORNING + HORIZON)
            if detected is None:
                continue
            end = detected + 5 * MARGIN
            cases.append((plan, detected, end))
        if not cases:
            return None
        minutes = max(end for _, _, end in cases) + 8 * 60
        timings = []
        group_data: dict[str, Traffic] = {}
        checks: list[tuple[SloPlan, int, int, int]] = []
        for plan, detected, end in cases:
            data = traffic(
                [(MORNING, RATE, 0), (end - MORNING, 0, RATE), (minutes, RATE, 0)], minutes
            )

            def quiet(minute: int, plan: SloPlan = plan, data: Traffic = data) -> bool:
                return not severity_firing(plan, Severity.PAGE, data, minute)

            resolved = _first(quiet, end + 1, minutes)
            assert resolved is not None, f"{plan.name}: the page never resolves"
            group_data[plan.name] = data
            checks.append((plan, detected, end, resolved))
            timings.append(f"{plan.name} within {detected - MORNING + MARGIN}m")
        minutes = max(resolved for _, _, _, resolved in checks) + 2 * MARGIN + 5
        group = ScenarioGroup(
            "outage: every event bad after a normal morning pages ("
            + ", ".join(timings)
            + ") and resolves once it is over",
            minutes=minutes,
        )
        self._healthy(group)
        self._all_counters(group, group_data)
        for plan, detected, _end, resolved in checks:
            group.silent(self._page(plan), MORNING - 5)
            if detected - MARGIN > MORNING:
                group.silent(self._page(plan), detected - MARGIN)
            group.firing(self._page(plan), detected + MARGIN)
            group.silent(self._page(plan), resolved + MARGIN)
        return group

    def spike(self) -> ScenarioGroup | None:
        cases: dict[str, tuple[SloPlan, int, Traffic]] = {}
        span = MORNING + 180  # long enough for the model; the test itself is cut shorter
        for plan in self.counted:
            page_tiers = [t for t in plan.tiers if t.severity is Severity.PAGE]
            if not page_tiers:
                continue
            shortest = min(Fraction(t.ratio_threshold) * t.long.minutes for t in page_tiers)
            length = max(1, int(shortest / 2))
            while length >= 1:
                longer = traffic([(MORNING, RATE, 0), (length + 1, 0, RATE), (span, RATE, 0)], span)
                if not any(
                    severity_firing(plan, Severity.PAGE, longer, m) for m in range(span + 1)
                ):
                    break
                length -= 1
            if length < 1:
                continue
            data = traffic([(MORNING, RATE, 0), (length, 0, RATE), (span, RATE, 0)], span)
            cases[plan.name] = (plan, length, data)
        if not cases:
            return None
        spikes = ", ".join(f"{length}m on {plan.name}" for plan, length, _ in cases.values())
        span = MORNING + max(length for _, length, _ in cases.values()) + 125
        group = ScenarioGroup(f"spike: a short burst of bad events ({spikes}) does not page", span)
        self._healthy(group)
        self._all_counters(group, {name: data for name, (_, _, data) in cases.items()})
        for plan, length, _ in cases.values():
            end = MORNING + length
            for minute in (end, end + 5, end + 30, end + 60, end + 120):
                group.silent(self._page(plan), minute)
        return group

    def aftermath(self) -> ScenarioGroup | None:
        """Hours after an incident, one new late ticket does not page again.

        Sparse traffic (a good event every 30 minutes); an incident of four late tickets
        in 40 minutes; two hours of normal work; then one late ticket.  The long windows
        still hold the incident, so the long-window guard alone would let the lone
        ticket page; the short-window guard keeps it quiet.  Only SLOs whose page tiers
        would page on it without that guard are tested (for the others it proves nothing).
        """
        incident, lone = 60, 60 + 40 + 120
        span = lone + 60
        good = [0] * (span + 1)
        bad = [0] * (span + 1)
        for minute in range(1, span + 1):
            step_good = minute % 30 == 0 and not incident <= minute < incident + 40
            step_bad = (incident <= minute < incident + 40 and minute % 10 == 0) or minute == lone
            good[minute] = good[minute - 1] + int(step_good)
            bad[minute] = bad[minute - 1] + int(step_bad)
        data = Traffic(tuple(good), tuple(bad))

        def unguarded(tier: Tier, minute: int) -> bool:
            threshold = Fraction(tier.ratio_threshold)
            ratios = (
                error_ratio(data, minute, tier.long.minutes),
                error_ratio(data, minute, tier.short.minutes),
            )
            reached = all(r >= threshold if tier.rescaled else r > threshold for r in ratios)
            return reached and _delta(data.bad, minute, tier.long.minutes) >= tier.min_bad_events

        checked = [
            plan
            for plan in self.counted
            if any(tier.severity is Severity.PAGE and unguarded(tier, lone) for tier in plan.tiers)
        ]
        if not checked:
            return None
        group = ScenarioGroup(
            "aftermath: one late ticket two hours after an incident does not page again "
            f"({', '.join(plan.name for plan in checked)})",
            span,
        )
        self._healthy(group)
        self._all_counters(group, {plan.name: data for plan in checked})
        for plan in checked:
            for minute in (lone, lone + 5, lone + 20):
                if severity_firing(plan, Severity.PAGE, data, minute):
                    raise ValueError(f"{group.name}: the model pages {plan.name} at {minute}")
                group.silent(self._page(plan), minute)
        return group

    def slow_burn(self) -> ScenarioGroup | None:
        cases = []
        span = 150
        for plan in self.counted:
            ticket_tiers = [
                t for t in plan.tiers if t.severity is Severity.TICKET and not t.rescaled
            ]
            if not ticket_tiers:
                continue
            low = min(Fraction(t.ratio_threshold) for t in ticket_tiers)
            page_tiers = [t for t in plan.tiers if t.severity is Severity.PAGE]
            high = min([Fraction(t.ratio_threshold) for t in page_tiers] + [Fraction(1)])
            bad = int((low + high) / 2 * FINE_RATE)
            if not low < Fraction(bad, FINE_RATE) < high:
                continue
            data = traffic([(span, FINE_RATE - bad, bad)], span)

            def tickets(minute: int, plan: SloPlan = plan, data: Traffic = data) -> bool:
                return severity_firing(plan, Severity.TICKET, data, minute)

            opened = _first(tickets, 0, span - 10)
            if opened is None or any(
                severity_firing(plan, Severity.PAGE, data, m) for m in range(span + 1)
            ):
                continue
            burn = Fraction(bad, FINE_RATE) / Fraction(plan.budget)
            cases.append((plan, opened, data, burn))
        if not cases:
            return None
        burns = ", ".join(f"{float(burn):.2f}x on {plan.name}" for plan, _, _, burn in cases)
        span = max(60, max(opened for _, opened, _, _ in cases) + 30)
        group = ScenarioGroup(f"slow burn: a steady {burns} opens a ticket and pages nobody", span)
        self._healthy(group)
        self._all_counters(group, {plan.name: data for plan, _, data, _ in cases})
        for plan, opened, _, _ in cases:
            group.firing(self._ticket(plan), opened + MARGIN)
            group.silent(self._page(plan), opened + MARGIN)
            group.silent(self._page(plan), span)
        return group

    def restart(self) -> ScenarioGroup | None:
        plans = [p for p in self.counted if any(t.severity is Severity.PAGE for t in p.tiers)]
        if not plans:
            return None
        span, gap, reset = 240, 61, 150
        group = ScenarioGroup(
            "restart: a scrape gap (same store) and a lost store (counter reset) do not page",
            span,
        )
        self._healthy(group)
        per_minute = 100
        expected: dict[str, float] = {}
        for plan in plans:
            page = min(
                Fraction(t.ratio_threshold) for t in plan.tiers if t.severity is Severity.PAGE
            )
            bad = int(page * per_minute / 4)
            expected[plan.name] = bad / per_minute
            data = traffic([(span, per_minute - bad, bad)], span)
            # a lost store: the counters start again from 0 at minute `reset`
            restarted = Traffic(
                tuple(v if m < reset else v - data.good[reset] for m, v in enumerate(data.good)),
                tuple(v if m < reset else v - data.bad[reset] for m, v in enumerate(data.bad)),
            )
            self._counters(group, plan, restarted)
            for result in ("good", "bad"):
                name = series(
                    metrics.SLO_EVENTS.name, self._exporter_labels(slo=plan.name, result=result)
                )
                values: Values = list(group.input_series[name])
                values[gap] = values[gap + 1] = None
                group.input_series[name] = values
        for plan in plans:
            for minute in (gap + 2, gap + 4, gap + 30, reset + 1, reset + 3, reset + 5, 200, span):
                group.silent(self._page(plan), minute)
            ratio = f"{ratio_name(Window(60 * MINUTE))}{selector(plan.selector)}"
            for minute in (reset + 5, span):
                group.samples(
                    f"abs({ratio} - {expected[plan.name]!r}) < bool 0.02",
                    minute,
                    [(selector(plan.labels), 1.0)],
                )
        return group

    def guard(self) -> ScenarioGroup | None:
        cases = []
        for plan in self.counted:
            if not plan.tiers:
                continue
            guards = [t.min_bad_events for t in plan.tiers] + [plan.min_bad_events]
            fewest = min(guards)
            shortest = min(t.long.minutes for t in plan.tiers)
            if fewest < 2 or fewest >= shortest or MARGIN + 2 * fewest > 60:
                continue
            cases.append((plan, fewest - 1))
        if not cases:
            return None
        last = MORNING + 2 * (max(n for _, n in cases) - 1)
        span = last + 65
        group = ScenarioGroup(
            "guard: fewer bad events than min_bad_events, in an otherwise quiet night, "
            "alert nobody",
            span,
        )
        self._healthy(group)
        data: dict[str, Traffic] = {}
        for plan, count in cases:
            segments = [(MORNING - 1, 0, 0)]
            for _ in range(count):
                segments += [(1, 0, 1), (1, 0, 0)]
            data[plan.name] = traffic(segments, span)
        self._all_counters(group, data)
        for plan, count in cases:
            final = MORNING + 2 * (count - 1)
            for minute in (final + MARGIN, final + 30, final + 60):
                assert not severity_firing(plan, Severity.PAGE, data[plan.name], minute)
                assert not severity_firing(plan, Severity.TICKET, data[plan.name], minute)
                group.silent(self._alerts(BURN, plan), minute)
            group.silent(self._alerts(EXHAUSTED, plan), final + EXHAUSTED_FOR // MINUTE + 10)
            # the windows alone would fire: every event of the last hour was bad
            name = ratio_name(Window(60 * MINUTE))
            group.samples(
                name + selector(plan.selector),
                final + MARGIN,
                [(series(name, plan.labels), 1.0)],
            )
        return group

    def forecast(self) -> ScenarioGroup | None:
        cases = []
        for plan in self.counted:
            bad = round(Fraction(3, 4) * Fraction(plan.budget) * FINE_RATE)
            burn = Fraction(bad, FINE_RATE) / Fraction(plan.budget)
            if not Fraction(1, 2) < burn < 1:
                continue
            cases.append((plan, bad, burn))
        if not cases:
            return None
        forecast_minutes = FORECAST_FOR // MINUTE
        starts = {}
        for plan, bad, _ in cases:
            starts[plan.name] = max(1, -(-plan.min_bad_events // max(bad, 1)))
        check = max(starts.values()) + forecast_minutes + 2 * MARGIN
        span = check + 5
        burns = ", ".join(f"{float(burn):.2f}x on {plan.name}" for plan, _, burn in cases)
        group = ScenarioGroup(
            f"forecast: a steady burn ({burns}) spends the budget left before the window ends",
            span,
        )
        self._healthy(group)
        self._all_counters(
            group,
            {plan.name: traffic([(span, FINE_RATE - bad, bad)], span) for plan, bad, _ in cases},
        )
        for plan, _, _ in cases:
            group.silent(self._alerts(FORECAST, plan), starts[plan.name] + forecast_minutes - 10)
            group.firing(self._alerts(FORECAST, plan), check)
        return group

    def _backlog_series(
        self,
        group: ScenarioGroup,
        waiting: Callable[[int], float],
        clocks: Callable[[int], float],
    ) -> list[tuple[str, str]]:
        """Waiting-past-threshold gauges and time-to-breach buckets; returns (sla, priority)."""
        pairs: list[tuple[str, str]] = []
        for plan in self.timed:
            name = series(
                metrics.SLO_WAITING_PAST_THRESHOLD.name, self._exporter_labels(slo=plan.name)
            )
            group.add(name, [waiting(m) for m in range(group.minutes + 1)])
            assert plan.slo.sla is not None
            for priority in plan.priorities or ("urgent",):
                if (plan.slo.sla, priority) not in pairs:
                    pairs.append((plan.slo.sla, priority))
        for sla, priority in pairs:
            for bound in BUCKETS:
                labels = self._exporter_labels(sla=sla, priority=priority, le=_text_le(bound))
                count = [
                    clocks(m) if bound >= SECONDS_LEFT else 0.0 for m in range(group.minutes + 1)
                ]
                group.add(series(f"{metrics.SLA_TIME_TO_BREACH.name}_bucket", labels), count)
        return pairs

    def backlog(self) -> ScenarioGroup | None:
        if not self.timed:
            return None
        group = ScenarioGroup(
            "backlog: tickets waiting past the threshold page, clocks near their deadline warn, "
            "and both resolve",
            minutes=60,
        )
        self._healthy(group)
        self._all_counters(group)
        tickets = {p.name: p.backlog_tickets or 1 for p in self.timed}
        k = max(tickets.values())
        hold = max(p.backlog_for for p in self.timed) // MINUTE
        # k - 1 tickets wait past the threshold, then k, each for longer than `backlog_for`
        more = 20 + hold
        until = more + hold + 15
        group.minutes = until + 15

        def waiting(minute: int) -> float:
            if 10 <= minute < more:
                return float(k - 1)
            return float(k) if more <= minute < until else 0.0

        def clocks(minute: int) -> float:
            return 2.0 if 10 <= minute < 30 else 0.0

        pairs = self._backlog_series(group, waiting, clocks)
        imminent: list[dict[str, Any]] = []
        for plan in self.timed:
            assert plan.imminent_bucket is not None
            if plan.imminent_bucket < SECONDS_LEFT:
                continue
            for sla, priority in pairs:
                if sla != plan.slo.sla or (plan.priorities and priority not in plan.priorities):
                    continue
                imminent.append(
                    expected_alert(
                        imminent_alert(plan), 2.0, extra_labels={"sla": sla, "priority": priority}
                    )
                )

        def breached(minute: int) -> list[dict[str, Any]]:
            """Firing: k or more waited at every evaluation of the last `backlog_for`."""
            firing = []
            for plan in self.timed:
                assert plan.backlog_tickets is not None
                held = range(max(0, minute - math.ceil(plan.backlog_for / MINUTE)), minute + 1)
                if all(waiting(m) >= plan.backlog_tickets for m in held):
                    firing.append(expected_alert(backlog_alert(plan), waiting(minute)))
            return firing

        checks = {more - 1, more + 1, more + hold + 5, until + 10}
        if hold:
            checks.add(more + hold - 1)
        for minute in sorted(checks):
            group.alerts(BACKLOG, minute, breached(minute))
        group.alerts(IMMINENT, 5, [])
        group.alerts(IMMINENT, 20, imminent)
        group.alerts(IMMINENT, 40, [])
        return group

    def _crossing_series(
        self,
        group: ScenarioGroup,
        plan: SloPlan,
        within_lead: Callable[[int], float],
        late: Callable[[int], float],
        open_: Callable[[int], float] = lambda minute: 1.0,
    ) -> None:
        """The lead and ``le="0"`` buckets of ``helpdesk_slo_time_to_threshold_seconds``, and
        ``helpdesk_calendar_open`` of the SLO's business calendar (open unless ``open_`` says)."""
        assert plan.backlog_lead is not None
        name = f"{metrics.SLO_TIME_TO_THRESHOLD.name}_bucket"
        for bound, values in ((plan.backlog_lead, within_lead), (0.0, late)):
            labels = self._exporter_labels(slo=plan.name, le=_text_le(bound))
            group.add(series(name, labels), [values(m) for m in range(group.minutes + 1)])
        if plan.business_calendar is not None:
            labels = self._exporter_labels(calendar=plan.business_calendar)
            group.add(
                series(metrics.CALENDAR_OPEN.name, labels),
                [open_(m) for m in range(group.minutes + 1)],
            )

    def _lead_minutes(self, plans: Sequence[SloPlan] | None = None) -> int:
        return max(round(p.backlog_lead or 0) for p in plans or self.timed) // MINUTE

    def _pace_minutes(self, plans: Sequence[SloPlan]) -> int:
        return max(p.backlog_pace or 0 for p in plans) // MINUTE

    def _piling_up(self) -> list[SloPlan]:
        """The SLOs whose k is small enough for a test of tickets piling up one by one."""
        return [p for p in self.timed if (p.backlog_imminent_tickets or 1) <= MAX_PILE]

    def _imminent_group(
        self,
        title: str,
        minutes: int,
        within_lead: Callable[[int], float],
        late: Callable[[int], float],
        good: Sequence[int],
        checks: Sequence[int],
        pages: bool,
        open_: Callable[[int], float] = lambda minute: 1.0,
        plans: Sequence[SloPlan] | None = None,
    ) -> ScenarioGroup:
        """One shape of the queue, and the predictive page the model expects at ``checks``.

        The model: k or more in the lead, more than were answered in time over the pace window,
        and a ticket late all through the last lead time or 2k about to be; on a business
        calendar, open all through the last lead.  ``plans``: the SLOs it is written for
        (every time SLO by default).
        """
        timed = list(self.timed if plans is None else plans)
        group = ScenarioGroup(f"{BACKLOG_IMMINENT}: {title}", minutes=minutes)
        self._healthy(group)
        answering = Traffic(tuple(good), tuple(0 for _ in good))
        for plan in self.counted:
            self._counters(group, plan, answering if plan in timed else None)
        for plan in timed:
            self._crossing_series(group, plan, within_lead, late, open_)

        def fires(plan: SloPlan, minute: int) -> bool:
            k = plan.backlog_imminent_tickets or 1
            lead = round(plan.backlog_lead or 0) // MINUTE
            pace = (plan.backlog_pace or 0) // MINUTE
            answered = good[minute] - good[max(0, minute - pace)]
            count = within_lead(minute)
            # min_over_time(late[lead]): the samples of the last lead time, this one included
            window = range(max(0, minute - lead), minute + 1)
            held = min(late(m) for m in window)
            opened = plan.business_calendar is None or min(open_(m) for m in window) == 1
            return opened and count >= k and count > answered and (held >= 1 or count >= 2 * k)

        fired = False
        for minute in checks:
            expected = [
                expected_alert(backlog_imminent_alert(plan), within_lead(minute))
                for plan in timed
                if fires(plan, minute)
            ]
            fired = fired or bool(expected)
            group.alerts(BACKLOG_IMMINENT, minute, expected)
        if fired is not pages:
            raise ValueError(f"{group.name}: the model {'never' if pages else ''} pages here")
        return group

    def _stopped(self, minutes: int, back: int | None = None) -> list[int]:
        """Good events: one every 5 minutes until minute 10, then none (a reply a minute
        from ``back`` on)."""
        good = [min(m, 10) // 5 for m in range(minutes + 1)]
        if back is not None:
            good = [g + max(0, m - back) for m, g in zip(range(minutes + 1), good, strict=True)]
        return good

    def staffing_gap(self) -> ScenarioGroup | None:
        """Replies stop at a few tickets an hour: the page comes before the k-th ticket is late.

        The team answers a ticket every 5 minutes, then nobody from minute 10.  A ticket
        enters the lead, and passes the threshold one lead later; a lead and 5 minutes after
        that the next enters, and so on: the page fires as the k-th enters, with one late
        for longer than the lead and the k-th still in time.  Agents come back, answer them
        all, and the page resolves.
        """
        plans = self._piling_up()
        if not plans:
            return None
        lead = self._lead_minutes(plans)
        k = max(p.backlog_imminent_tickets or 1 for p in plans)
        # the answers before the stop are out of the pace window by the time it pages
        first = 10 + max(lead, self._pace_minutes(plans) - 2 * lead) + 5
        entries = [first] + [first + 2 * lead + 5 * i for i in range(1, k)]
        back = entries[-1] + 10
        minutes = back + lead + 20

        def within_lead(minute: int) -> float:
            return 0.0 if minute >= back else float(sum(1 for e in entries if e <= minute))

        def late(minute: int) -> float:
            return 1.0 if first + lead <= minute < back else 0.0

        checks = (first + lead - 1, entries[-1] - 1, entries[-1], back - 1, back + 1)
        return self._imminent_group(
            "replies stop and tickets pile up at a few an hour; the page comes once one has "
            "been late a while and before the k-th is, and resolves when agents answer",
            minutes,
            within_lead,
            late,
            self._stopped(minutes, back),
            checks,
            pages=True,
            plans=plans,
        )

    def sudden_stop(self) -> ScenarioGroup | None:
        """Replies stop while tickets keep coming: the lead fills and the page comes before any
        ticket is late."""
        plans = self._piling_up()
        if not plans:
            return None
        lead = self._lead_minutes(plans)
        k = max(p.backlog_imminent_tickets or 1 for p in plans)
        # the answers before the stop are out of the pace window by the time it pages
        first = 10 + max(lead, self._pace_minutes(plans)) + 5
        minutes = first + 2 * k + lead + 10

        def within_lead(minute: int) -> float:
            return float(max(0, min(minute - first + 1, 2 * k + 2)))

        checks = (first + k - 1, first + 2 * k - 2, first + 2 * k - 1, first + 2 * k + 3)
        return self._imminent_group(
            f"replies stop while tickets keep coming; the page comes as the {2 * k}th enters "
            "the lead, before any is late",
            minutes,
            within_lead,
            lambda minute: 0.0,
            self._stopped(minutes),
            checks,
            pages=True,
            plans=plans,
        )

    def chance(self) -> ScenarioGroup | None:
        """At a few tickets an hour, k tickets near the threshold at once, none late: quiet."""
        if not self.timed:
            return None
        lead = self._lead_minutes()
        k = max(p.backlog_imminent_tickets or 1 for p in self.timed)
        minutes = lead + 60

        def within_lead(minute: int) -> float:
            return float(k) if lead + 10 <= minute < lead + 40 else 0.0

        def late(minute: int) -> float:
            # one of them is late for three minutes, then answered: bad luck, not a gap
            return 1.0 if lead + 22 <= minute < lead + 25 else 0.0

        return self._imminent_group(
            f"{k} tickets near the threshold at once, one late for a moment, in a quiet "
            "spell, page nobody",
            minutes,
            within_lead,
            late,
            [0] * (minutes + 1),
            (lead + 10, lead + 24, lead + 25, lead + 39),
            pages=False,
        )

    def opening(self) -> ScenarioGroup | None:
        """At opening time the night's queue is in the lead at once: no page before the team
        had a lead time to answer it (SLOs on a business calendar)."""
        plans = [p for p in self.timed if p.business_calendar is not None]
        if not plans:
            return None
        lead = max(round(p.backlog_lead or 0) for p in plans) // MINUTE
        k = max(p.backlog_imminent_tickets or 1 for p in plans)
        opens = 30
        minutes = opens + lead + 30
        queue = 2 * k + 1

        def within_lead(minute: int) -> float:
            # the night's queue, answered one a minute from the opening
            return float(max(0, queue - max(0, minute - opens))) if minute >= opens else 0.0

        return self._imminent_group(
            f"the night's queue of {queue} tickets is in the lead at opening time; it is "
            "answered at once and pages nobody",
            minutes,
            within_lead,
            lambda minute: 0.0,
            [max(0, m - opens) for m in range(minutes + 1)],
            (opens, opens + 1, opens + 3, opens + lead + 1),
            pages=False,
            open_=lambda minute: 1.0 if minute >= opens else 0.0,
            plans=plans,
        )

    def queue_cleared(self) -> ScenarioGroup | None:
        """The team clears a queue in a few minutes; k slow tickets stay in the lead, one late
        all through a lead time: it answered more than k in time within the pace window, so
        it is keeping up and nobody is paged (a lead-long pace would read "stopped")."""
        if not self.timed:
            return None
        lead = min(round(p.backlog_lead or 0) for p in self.timed) // MINUTE
        plans = [
            p
            for p in self.timed
            if round(p.backlog_lead or 0) // MINUTE == lead
            and (p.backlog_pace or 0) // MINUTE >= lead + 10
        ]
        if not plans:
            return None
        k = max(p.backlog_imminent_tickets or 1 for p in plans)
        queue = 2 * k + 1
        minutes = lead + 30

        def within_lead(minute: int) -> float:
            return float(k) if minute >= 6 else 0.0

        def late(minute: int) -> float:
            return 1.0 if minute >= 7 else 0.0

        return self._imminent_group(
            f"a queue of {queue} tickets is answered in five minutes; {k} slow ones stay in "
            "the lead, one of them late, and page nobody while the pace window holds the "
            "answers",
            minutes,
            within_lead,
            late,
            # the queue answered in minutes 1 to 5, then nothing
            [queue * min(5, m) // 5 for m in range(minutes + 1)],
            (lead + 8, lead + 9),
            pages=False,
            plans=plans,
        )

    def busy_keeping_up(self) -> ScenarioGroup | None:
        """A burst: 2k tickets near their threshold, one late, answered at a steady pace: quiet."""
        if not self.timed:
            return None
        lead = self._lead_minutes()
        k = max(p.backlog_imminent_tickets or 1 for p in self.timed)
        minutes = lead + 60

        def within_lead(minute: int) -> float:
            return float(2 * k + 1) if lead + 10 <= minute < lead + 40 else 0.0

        def late(minute: int) -> float:
            return 1.0 if lead + 20 <= minute < lead + 40 else 0.0

        return self._imminent_group(
            "a burst of tickets near their threshold, answered faster than they come due, "
            "pages nobody",
            minutes,
            within_lead,
            late,
            # answers all along, more in a lead time than the tickets in it
            [m * -(-(2 * k + 2) // max(1, lead)) for m in range(minutes + 1)],
            (lead + 10, lead + 25, lead + 39),
            pages=False,
        )

    def quiet_hour_late_ticket(self) -> ScenarioGroup | None:
        """One ticket nears its threshold and passes it in a quiet hour: no page."""
        if not self.timed:
            return None
        group = ScenarioGroup(
            f"{BACKLOG_IMMINENT} and {BACKLOG}: one ticket passing its threshold in a quiet "
            "hour pages nobody",
            minutes=90,
        )
        self._healthy(group)
        self._all_counters(group)

        def one(minute: int) -> float:
            return 1.0 if 10 <= minute < 80 else 0.0

        def late(minute: int) -> float:
            return 1.0 if 40 <= minute < 80 else 0.0

        for plan in self.timed:
            self._crossing_series(group, plan, one, late)
        self._backlog_series(group, late, lambda m: 0.0)
        for minute in (15, 45, 75):
            group.alerts(BACKLOG_IMMINENT, minute, [])
            group.alerts(BACKLOG, minute, [])
        return group

    def exporter_health(self) -> ScenarioGroup:
        span = 40
        group = ScenarioGroup("exporter: no SLO series while the exporter is up", span)
        self._healthy(group)
        absent_minutes = METRICS_ABSENT_FOR // MINUTE
        group.alerts(ABSENT, absent_minutes - 5, [])
        expected = [expected_alert(absent_alert(plan, self.job), 1.0) for plan in self.plan.slos]
        group.alerts(ABSENT, absent_minutes + 5, expected)
        group.silent(self._alerts(EXPORTER_DOWN), span)
        return group

    def status_time_share(self) -> ScenarioGroup:
        """Business time per status group: the day's seconds and each group's share of its
        priority's time; a priority with no business time has no share (no division by 0)."""
        span = 60
        group = ScenarioGroup("status time: the day's business time split by status", span)
        per_minute = {OPEN: 36.0, PENDING: 18.0, ON_HOLD: 0.0, REOPENED: 6.0}
        name = metrics.TICKET_STATUS_SECONDS.name
        for status, rate in per_minute.items():
            for priority, scale in (("urgent", 1.0), ("low", 0.0)):
                labels = self._exporter_labels(priority=priority, status=status)
                group.add(series(name, labels), [rate * scale * m for m in range(span + 1)])
        labels = self.plan.exporter_labels
        total = sum(per_minute.values())
        group.samples(
            names.STATUS_TIME_SHARE,
            span,
            [
                (
                    series(names.STATUS_TIME_SHARE, {**labels, "priority": "urgent", "status": s}),
                    rate / total,
                )
                for s, rate in sorted(per_minute.items())
            ],
        )
        group.samples(
            f'{names.STATUS_TIME_INCREASE}{{status="{OPEN}"}}',
            span,
            [
                (
                    series(names.STATUS_TIME_INCREASE, {**labels, "priority": p, "status": OPEN}),
                    per_minute[OPEN] * span * scale,
                )
                for p, scale in (("low", 0.0), ("urgent", 1.0))
            ],
        )
        return group

    def exporter_down(self) -> list[ScenarioGroup]:
        rules = {r["alert"]: r for r in exporter_group(self.plan)["rules"] if "alert" in r}
        down = ScenarioGroup("exporter down: a failing scrape pages after 5 minutes", 30)
        down.add(series("up", self._exporter_labels()), [1.0] * 10 + [0.0] * 21)
        down.alerts(EXPORTER_DOWN, 13, [])
        down.alerts(
            EXPORTER_DOWN,
            18,
            [expected_alert(rules[EXPORTER_DOWN], 0.0, self._exporter_labels())],
        )
        never = ScenarioGroup("exporter never scraped: no target with the job pages too", 15)
        never.alerts(EXPORTER_DOWN, 3, [])
        never.alerts(
            EXPORTER_DOWN,
            10,
            [expected_alert(rules[EXPORTER_DOWN], 1.0, {"job": self.job})],
        )
        return [down, never]

    # -- the helpdesk source --

    def _interval_minutes(self) -> int:
        """The poll interval in whole minutes of test samples (at least one)."""
        return max(1, math.ceil(self.plan.source_interval_seconds / MINUTE))

    def _fires(self, group: ScenarioGroup, model: SourceModel, alert: str, since: int) -> None:
        """``alert`` fires within 15 minutes of ``since`` (or as soon as the poll interval
        allows), with its annotations, after staying silent; no other source alert fires."""
        rules = {r["alert"]: r for r in exporter_group(self.plan)["rules"] if "alert" in r}
        first = _first(partial(model.firing, alert), since, group.minutes)
        if first is None:
            raise ValueError(f"{group.name}: {alert} never fires in the model")
        check = max(since + SOURCE_DETECTION_TARGET // MINUTE, first + 1)
        if not all(model.firing(alert, m) for m in (check - 1, check, check + 1)):
            raise ValueError(f"{group.name}: {alert} does not keep firing at minute {check}")
        labels = self._exporter_labels(source=self.plan.source)
        expected = expected_alert(
            rules[alert], model.value(alert, check), labels, last_error=model.data.last_error(check)
        )
        group.alerts(alert, check, [expected])
        before = first - MARGIN - 1
        if before >= since and not any(
            model.firing(alert, m) for m in range(before - MARGIN, before + MARGIN + 1)
        ):
            group.alerts(alert, before, [])
        for other in SOURCE_ALERTS:
            if other != alert:
                self._never(group, model, other)

    def _never(self, group: ScenarioGroup, model: SourceModel, alert: str) -> None:
        """``alert`` fires at no minute of the group (checked every 5 minutes)."""
        if any(model.firing(alert, m) for m in range(group.minutes + 1)):
            raise ValueError(f"{group.name}: the model has {alert} firing")
        for minute in range(5, group.minutes + 1, 5):
            group.alerts(alert, minute, [])

    def source_never_answered(self) -> ScenarioGroup:
        group = ScenarioGroup(
            "source never answered: since the start, HelpdeskSourceDown pages within 15 minutes",
            40,
        )
        backoff = (0, 1, 2, 4, 8, 16, 26, 36)  # doubling waits, capped at 10 minutes
        model = self._source(group, {m: [Failed("connect")] for m in backoff}, started=True)
        self._fires(group, model, SOURCE_DOWN, 0)
        return group

    def source_stopped_answering(self) -> ScenarioGroup:
        stop = 30
        group = ScenarioGroup(
            "source stopped answering: HelpdeskSourceDown pages within 15 minutes of the last "
            "successful poll, naming the last error",
            stop + 30,
        )
        failures = {stop + m: [Failed(reason)] for m, reason in ((1, "timeout"), (2, "timeout"))}
        failures |= {stop + m: [Failed("auth")] for m in (4, 8, 16, 26)}
        model = self._source(group, merge(every(1, stop), failures), started=True)
        self._fires(group, model, SOURCE_DOWN, stop)
        return group

    def source_watermark_stuck(self) -> ScenarioGroup:
        stuck = 30
        group = ScenarioGroup(
            "source watermark stuck: it answers, but HelpdeskSourceStale pages within 15 minutes",
            stuck + 30,
        )
        frozen = 60.0 * stuck - 60
        polls = every(1, group.minutes, watermark=lambda m: min(60.0 * m - 60, frozen))
        model = self._source(group, polls, started=True)
        self._fires(group, model, SOURCE_STALE, stuck)
        return group

    def source_falls_behind(self) -> ScenarioGroup:
        group = ScenarioGroup(
            "source falls behind: the data lags more each poll, HelpdeskSourceLagging opens a "
            "ticket",
            100,
        )
        model = self._source(group, every(1, 100, watermark=lambda m: 30.0 * m - 60), True)
        rules = {r["alert"]: r for r in exporter_group(self.plan)["rules"] if "alert" in r}
        first = _first(partial(model.firing, SOURCE_LAGGING), 0, group.minutes)
        if first is None:
            raise ValueError(f"{group.name}: the model never fires {SOURCE_LAGGING}")
        check = first + MARGIN
        labels = self._exporter_labels(source=self.plan.source)
        value = model.value(SOURCE_LAGGING, check)
        group.alerts(SOURCE_LAGGING, check, [expected_alert(rules[SOURCE_LAGGING], value, labels)])
        group.alerts(SOURCE_LAGGING, first - MARGIN - 1, [])
        self._never(group, model, SOURCE_DOWN)
        self._never(group, model, SOURCE_STALE)
        return group

    def source_no_false_page(self) -> ScenarioGroup:
        """A healthy exporter, a brief outage, a restart, a first sync: no source alert.

        One exporter (``instance``) per case, side by side in one group.
        """
        interval = self._interval_minutes()
        down = self.plan.source_down_after.seconds // MINUTE
        outage = 30
        restart = outage + down + 5
        days = 30 * 86400.0

        def catching_up(minute: int) -> float:
            return min(-days + days * minute / 40, 60.0 * minute - 60)

        span = max(restart + 40, outage + 4 * interval + 40, 100)
        cases: dict[str, dict[int, list[SourceEvent]]] = {
            # every poll advances the watermark
            "healthy:9707": every(1, span),
            # two failed polls (back-off: 1, then 2 intervals), then it answers again
            "brief-outage:9707": merge(
                every(1, outage, interval),
                {outage + interval: [Failed("timeout")]},
                {outage + 2 * interval: [Failed("timeout")]},
                every(outage + 4 * interval, span, interval),
            ),
            # stopped longer than the source-down limit; its first poll takes 2 minutes
            "restart:9707": merge(
                every(1, outage),
                {outage + 1: [Stop()], restart: [Start()]},
                every(restart + 2, span),
            ),
            # partial polls: a watermark 30 days back that catches up over 40 polls
            "first-sync:9707": every(1, span, watermark=catching_up),
        }
        group = ScenarioGroup(
            "source no false page: a healthy exporter, a brief outage of two polls, a restart "
            "and a first sync that catches up page nobody",
            span,
        )
        for instance, events in cases.items():
            model = self._source(group, events, started=True, instance=instance)
            for alert in SOURCE_ALERTS:
                if any(model.firing(alert, m) for m in range(span + 1)):
                    raise ValueError(f"{group.name}: the model has {alert} firing on {instance}")
        for alert in SOURCE_ALERTS:
            for minute in range(5, span + 1, 5):
                group.alerts(alert, minute, [])
        return group

    # -- availability SLOs: each business minute is an event --

    def _availability_series(
        self,
        group: ScenarioGroup,
        plans: Sequence[SloPlan],
        open_: Callable[[int], float | None],
        up: Callable[[int], float],
    ) -> None:
        """The calendar gauge of each SLO's calendar and its probe, the same for every SLO."""
        for plan in plans:
            sli = plan.slo.availability
            assert sli is not None
            probe = availability_input(sli)
            assert probe is not None
            gauge = series(metrics.CALENDAR_OPEN.name, self._exporter_labels(calendar=sli.during))
            group.add(gauge, [open_(m) for m in range(group.minutes + 1)])
            group.add(probe, [up(m) for m in range(group.minutes + 1)])

    def _availability_outage_end(self, plans: Sequence[SloPlan]) -> dict[str, int] | None:
        """When a probe down from MORNING in business hours pages each SLO (None: never)."""
        down = availability_traffic(
            [1.0] * (MORNING + HORIZON + 1),
            [1.0 if m < MORNING else 0.0 for m in range(MORNING + HORIZON + 1)],
        )
        detected: dict[str, int] = {}
        for plan in plans:

            def pages(minute: int, plan: SloPlan = plan) -> bool:
                return severity_firing(plan, Severity.PAGE, down, minute)

            found = _first(pages, MORNING, MORNING + HORIZON)
            if found is not None:
                detected[plan.name] = found
        return detected or None

    def availability_outage(self) -> ScenarioGroup | None:
        """(a) The probe down in business hours pages, and the page resolves once it is up."""
        detected = self._availability_outage_end(self.available)
        if detected is None:
            return None
        plans = [p for p in self.available if p.name in detected]
        end = max(detected.values()) + 5 * MARGIN
        span = end + 8 * 60
        data = availability_traffic(
            [1.0] * (span + 1), [0.0 if MORNING <= m < end else 1.0 for m in range(span + 1)]
        )
        resolved: dict[str, int] = {}
        for plan in plans:

            def quiet(minute: int, plan: SloPlan = plan) -> bool:
                return not severity_firing(plan, Severity.PAGE, data, minute)

            found = _first(quiet, end + 1, span)
            assert found is not None, f"{plan.name}: the availability page never resolves"
            resolved[plan.name] = found
        minutes = max(resolved.values()) + 2 * MARGIN + 5
        timings = ", ".join(
            f"{p.name} within {detected[p.name] - MORNING + MARGIN}m" for p in plans
        )
        group = ScenarioGroup(
            f"availability outage: the probe down in business hours pages ({timings}) "
            "and resolves once it is up again",
            minutes,
        )
        self._healthy(group)
        self._availability_series(
            group, plans, lambda m: 1.0, lambda m: 0.0 if MORNING <= m < end else 1.0
        )
        for plan in plans:
            group.silent(self._page(plan), MORNING - 5)
            if detected[plan.name] - MARGIN > MORNING:
                group.silent(self._page(plan), detected[plan.name] - MARGIN)
            group.firing(self._page(plan), detected[plan.name] + MARGIN)
            group.silent(self._page(plan), resolved[plan.name] + MARGIN)
        return group

    def availability_after_hours(self) -> ScenarioGroup | None:
        """(b) The same outage outside business hours, or while the calendar gauge is missing
        (exporter down), burns nothing and pages nobody."""
        detected = self._availability_outage_end(self.available)
        if detected is None:
            return None
        length = max(detected.values()) + 5 * MARGIN - MORNING
        closed = (MORNING, MORNING + length)
        # the gauge goes missing after it read 0 for a while; the lookback (5m) runs out first
        missing = closed[1] + 30
        blind = (missing + 10, missing + 10 + length)
        minutes = blind[1] + 30
        group = ScenarioGroup(
            f"availability after hours: the probe down for {length}m with the calendar closed, "
            "then with its gauge missing (exporter down), spends no budget and pages nobody",
            minutes,
        )
        self._healthy(group)

        def open_(minute: int) -> float | None:
            return 1.0 if minute < MORNING else 0.0 if minute < missing else None

        def up(minute: int) -> float:
            down = closed[0] <= minute < closed[1] or blind[0] <= minute < blind[1]
            return 0.0 if down else 1.0

        self._availability_series(group, self.available, open_, up)
        checks = sorted(
            {
                *(
                    start + d - MORNING + MARGIN
                    for d in detected.values()
                    for start in (closed[0], blind[0])
                )
            }
            | {closed[1], blind[1], minutes}
        )
        name = names.PERIOD_BUDGET_REMAINING
        for plan in self.available:
            sel = selector(plan.selector)
            bad = series(events_name(plan.period), {**plan.labels, "result": "bad"})
            for minute in checks:
                group.silent(self._alerts(BURN, plan), minute)
            for minute in (closed[1], blind[1], minutes):
                group.samples(bad, minute, [(bad, 0.0)])
                group.samples(name + sel, minute, [(series(name, plan.labels), 1.0)])
        return group

    def availability_blip(self) -> ScenarioGroup | None:
        """(c) A probe down for a few minutes in business hours does not page."""
        plans = [p for p in self.available if any(t.severity is Severity.PAGE for t in p.tiers)]
        span = MORNING + 180
        lengths = []
        for plan in plans:
            length = 30
            while length >= 1:
                data = availability_traffic(
                    [1.0] * (span + 1),
                    [0.0 if MORNING <= m < MORNING + length else 1.0 for m in range(span + 1)],
                )
                if not any(severity_firing(plan, Severity.PAGE, data, m) for m in range(span)):
                    break
                length -= 1
            lengths.append(length)
        length = min(lengths, default=0)
        if length < 1:
            return None
        end = MORNING + length
        group = ScenarioGroup(
            f"availability blip: the probe down for {length}m in business hours does not page",
            end + 125,
        )
        self._healthy(group)
        self._availability_series(
            group, plans, lambda m: 1.0, lambda m: 0.0 if MORNING <= m < end else 1.0
        )
        for plan in plans:
            bad = series(
                events_name(Window(HOUR_MINUTES * MINUTE)), {**plan.labels, "result": "bad"}
            )
            group.samples(bad, end + MARGIN, [(bad, float(length))])
            for minute in (end, end + 5, end + 30, end + 60, end + 120):
                group.silent(self._page(plan), minute)
        return group

    def availability_budget(self) -> ScenarioGroup | None:
        """(d) The budget left after a known outage: bad business minutes / business minutes.

        A business day of BUSINESS_MINUTES minutes with an outage of a known length, then the
        calendar closes and the probe goes down for half an hour: the budget left stays where the
        business day left it.  The SLO window reaches back past the start of the data, so the
        counts are exact in every Prometheus version.
        """
        day = BUSINESS_MINUTES
        plans = [p for p in self.available if p.period.minutes > day + 60]
        if not plans:
            return None
        outage = max(1, round(Fraction(plans[0].budget) * day / 2))
        start = day // 2
        closed_down = (day + 10, day + 40)
        minutes = day + 50

        def up(minute: int) -> float:
            down = start <= minute < start + outage or closed_down[0] <= minute < closed_down[1]
            return 0.0 if down else 1.0

        group = ScenarioGroup(
            f"availability budget: {outage}m down in a business day of {day}m are {outage} bad "
            f"minutes of {day}; half an hour down after closing adds none",
            minutes,
        )
        self._healthy(group)
        self._availability_series(group, plans, lambda m: 1.0 if m < day else 0.0, up)
        name = names.PERIOD_BUDGET_REMAINING
        for plan in plans:
            remaining = 1 - Fraction(outage, day) / Fraction(plan.budget)
            sel = selector(plan.selector)
            for minute in (day + 10, minutes):
                for result, count in (("bad", outage), ("total", day)):
                    events = series(events_name(plan.period), {**plan.labels, "result": result})
                    group.samples(events, minute, [(events, float(count))])
                group.samples(
                    f"abs({name}{sel} - {float(remaining)!r}) < bool 0.000001",
                    minute,
                    [(selector(plan.labels), 1.0)],
                )
        return group

    def groups(self) -> list[ScenarioGroup]:
        built = [
            self.quiet(),
            self.all_bad(),
            self.outage(),
            self.spike(),
            self.aftermath(),
            self.slow_burn(),
            self.restart(),
            self.guard(),
            self.forecast(),
            self.backlog(),
            self.staffing_gap(),
            self.sudden_stop(),
            self.chance(),
            self.opening(),
            self.queue_cleared(),
            self.busy_keeping_up(),
            self.quiet_hour_late_ticket(),
            self.availability_outage(),
            self.availability_after_hours(),
            self.availability_blip(),
            self.availability_budget(),
            self.exporter_health(),
            self.status_time_share(),
            *self.exporter_down(),
            self.source_never_answered(),
            self.source_stopped_answering(),
            self.source_watermark_stuck(),
            self.source_falls_behind(),
            self.source_no_false_page(),
        ]
        return [g for g in built if g is not None]


def _text_le(bound: float) -> str:
    """``le`` as prometheus_client writes it: ``300.0``, ``+Inf``."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


def build_tests(plan: PackPlan, rule_file: str) -> dict[str, Any]:
    """The promtool test document for the rules of ``plan`` stored as ``rule_file``."""
    return {
        "rule_files": [rule_file],
        "evaluation_interval": "1m",
        "tests": [group.document() for group in _Builder(plan).groups()],
    }


def render_tests(plan: PackPlan, rule_file: str) -> str:
    what = f"promtool tests for {rule_file}: promtool test rules <this file>"
    return header(plan.config_name, what) + dump_yaml(build_tests(plan, rule_file))
