"""``generate --import``: SLOs written for Sloth or in OpenSLO become ``kind: promql`` SLOs.

What a spec means is kept or the SLO is refused, never guessed:

- OpenSLO v1 and v1alpha ``SLO`` documents, with their SLI inline
  (``indicator``) or by name (``indicatorRef`` to a ``kind: SLI`` document), and
  metric sources inline or by name (``metricSourceRef`` to a ``kind:
  DataSource``), from any of the imported files (multi-document YAML).
- ``ratioMetric`` good/total or bad/total.  OpenSLO queries carry no window: with
  ``counter: true`` every selector is wrapped in ``rate(...[{{window}}])``
  (cumulative counters), with ``counter: false`` in ``avg_over_time(...[{{window}}])``
  (gauges); only selectors, ``sum`` and ``+`` commute with that, anything else is
  refused.  A query that already holds a ``{{window}}`` template is taken as the
  per-second rate over the window, as Sloth and the pack's own ``kind: promql`` read it.
  ``raw`` ratios become the average of the ratio over each window.
- ``Occurrences`` budgeting only: ``Timeslices`` and ``RatioTimeslices`` (shares of
  good time slices) are refused, because the pack's rules weigh events.
- Rolling windows of whole hours; calendar windows of one week or one month that
  start at midnight (Monday, the 1st) in the config's time zone.
- Only Prometheus-compatible sources (Prometheus, Thanos, Mimir, Cortex,
  VictoriaMetrics).
- Sloth ``prometheus/v1`` specs (and the ``PrometheusServiceLevel`` resource) with
  ``{{.window}}`` templates; plugin SLIs are refused.
- Pyrra ``ServiceLevelObjective`` resources (``pyrra.dev/v1alpha1``): ``ratio``
  (errors/total counter selectors) and ``latency`` (histogram bucket/count
  selectors: success is good) indicators without ``grouping``, each selector
  rated over the window; a window of whole hours.  ``latencyNative`` and
  ``bool_gauge`` indicators are refused (see :func:`_pyrra_slos`).

Each decision is an :class:`ImportNote`: ``note`` for what was taken or changed,
``warning`` for what was refused; ``generate`` prints them one a line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from exporter.config import ALWAYS, RESERVED_LABELS, Config, ConfigError, SloConfig
from exporter.pack.promql import (
    Aggregation,
    Binary,
    Node,
    PromqlError,
    Selector,
    excerpt,
    parse,
)
from exporter.pack.rules import EXPRESSION_LABELS

SLOTH_VERSION = "prometheus/v1"
SLOTH_KUBERNETES = "sloth.slok.dev/v1"
PYRRA_VERSION = "pyrra.dev/v1alpha1"
OPENSLO_VERSIONS = ("openslo/v1", "openslo/v1alpha")
#: Sloth's default SLO period when a spec does not name one.
SLOTH_DEFAULT_WINDOW = "30d"
#: Metric source types whose queries are PromQL (compared case-insensitively).
PROMQL_SOURCES = ("Prometheus", "Thanos", "Mimir", "Cortex", "VictoriaMetrics")
_WINDOW_TEMPLATE = re.compile(r"\{\{\s*\.?window\s*\}\}")
_SHORTHAND = re.compile(r"(\d+)([mhdwMQY])")
_V1ALPHA_UNITS = {"Minute": "m", "Hour": "h", "Day": "d", "Week": "w", "Month": "M"}
_V1ALPHA_UNITS |= {"Quarter": "Q", "Year": "Y"}
_SLICE_METHODS = {
    "Timeslices": "the share of time slices that met timeSliceTarget",
    "RatioTimeslices": "the average of each time slice's ratio",
}
#: The OpenSLO v1 kinds; SLO documents become SLOs, the others are found by name.
OPENSLO_KINDS: tuple[str, ...] = ("SLO", "SLI", "DataSource", "AlertPolicy", "AlertCondition")
OPENSLO_KINDS += ("AlertNotificationTarget", "Service")


@dataclass(frozen=True)
class ImportNote:
    """One line about one import decision."""

    level: Literal["note", "warning"]
    text: str

    def __str__(self) -> str:
        return f"{self.level}: {self.text}"


class Refused(Exception):
    """An SLO the pack cannot express; the message says why, on one line."""


@dataclass
class _Import:
    """What the imported files hold, by kind and name, and what was decided."""

    documents: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    named: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    notes: list[ImportNote] = field(default_factory=list)
    timezone: str = "UTC"

    def note(self, text: str) -> None:
        self.notes.append(ImportNote("note", text))

    def refuse(self, text: str) -> None:
        self.notes.append(ImportNote("warning", text))

    def find(self, kind: str, name: Any, who: str) -> Mapping[str, Any]:
        found = self.named.get((kind, str(name)))
        if found is None:
            raise Refused(f"{who}: no {kind} named {name!r} in the imported files")
        return found


def slo_name(*parts: str) -> str:
    """A valid SLO name from spec names (lowercase, ``-`` for anything else)."""
    name = "-".join(p for p in parts if p)
    name = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return name or "imported"


def _labels(*sources: Any) -> dict[str, str]:
    labels: dict[str, str] = {}
    for source in sources:
        if isinstance(source, Mapping):
            for key, value in source.items():
                key = re.sub(r"[^a-zA-Z0-9_]", "_", str(key))
                if isinstance(value, list):
                    value = ",".join(str(v) for v in value)
                if key and key not in RESERVED_LABELS and key not in EXPRESSION_LABELS:
                    labels[key] = str(value)
    return labels


# --- PromQL windows ---------------------------------------------------------------------------


def _render(node: Node) -> str:
    if isinstance(node, Selector):
        matchers = ",".join(f"{label}{op}{value}" for label, op, value in node.matchers)
        text = (node.name or "") + (f"{{{matchers}}}" if matchers or node.name is None else "")
        return text + (f" offset {node.offset}" if node.offset else "")
    if isinstance(node, Aggregation):
        grouping = ""
        if node.grouping or node.without:
            grouping = f" {'without' if node.without else 'by'} ({', '.join(node.grouping)})"
        return f"{node.operator}{grouping} ({_render(node.expr)})"
    assert isinstance(node, Binary)
    return f"({_render(node.left)}) {node.operator} ({_render(node.right)})"


def _windowed(node: Node, function: str, query: str) -> Node:
    """``node`` with ``function(selector[{{window}}])`` for every selector, or Refused."""
    if isinstance(node, Selector):
        if node.range is not None:
            raise Refused(f"{excerpt(query)!r} already has a fixed range [{node.range}]")
        return node
    if isinstance(node, Aggregation) and node.operator == "sum":
        return Aggregation(
            "sum", _windowed(node.expr, function, query), node.grouping, node.without
        )
    if isinstance(node, Binary) and node.operator == "+" and not node.modifiers:
        return Binary(
            "+", _windowed(node.left, function, query), _windowed(node.right, function, query)
        )
    raise Refused(
        f"cannot put a window into {excerpt(query)!r}: only selectors, sum(...) and + commute "
        f"with {function}(); write the query with a {{{{window}}}} template instead"
    )


def _with_function(node: Node, function: str) -> str:
    if isinstance(node, Selector):
        return f"{function}({_render(node)}[{{{{window}}}}])"
    if isinstance(node, Aggregation):
        grouping = ""
        if node.grouping or node.without:
            grouping = f" {'without' if node.without else 'by'} ({', '.join(node.grouping)})"
        return f"sum{grouping} ({_with_function(node.expr, function)})"
    assert isinstance(node, Binary)
    return f"({_with_function(node.left, function)}) + ({_with_function(node.right, function)})"


def _check_query(query: str) -> None:
    try:
        parse(_WINDOW_TEMPLATE.sub("5m", query))
    except PromqlError as exc:
        raise Refused(f"{excerpt(query)!r} is not PromQL: {exc.message}") from None


def window_query(query: str, counter: bool | None) -> tuple[str, str]:
    """A query with a ``{{window}}`` template for ``query`` (an OpenSLO ratio query); and how."""
    _check_query(query)
    if _WINDOW_TEMPLATE.search(query):
        return query, "taken as the per-second rate over each window ({{window}} template)"
    if counter is None:
        raise Refused(
            f"{excerpt(query)!r} has no {{{{window}}}} and the ratioMetric says neither "
            "counter: true (cumulative counters) nor counter: false (gauges)"
        )
    function = "rate" if counter else "avg_over_time"
    node = _windowed(parse(query), function, query)
    how = (
        "cumulative counters: rate over each window"
        if counter
        else "gauges: averaged over each window"
    )
    return _with_function(node, function), how


# --- windows ----------------------------------------------------------------------------------


def _shorthand(value: Any, who: str) -> tuple[int, str]:
    match = _SHORTHAND.fullmatch(str(value).strip())
    if match is None or int(match[1]) <= 0:
        raise Refused(f"{who}: window duration {value!r} is not an OpenSLO duration (e.g. 28d, 1M)")
    return int(match[1]), match[2]


def _openslo_window(spec: Mapping[str, Any], state: _Import, who: str) -> str:
    windows = spec.get("timeWindow") or spec.get("timeWindows") or []
    if not windows:
        raise Refused(f"{who}: no timeWindow; give one (e.g. duration: 28d, isRolling: true)")
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], Mapping):
        raise Refused(f"{who}: timeWindow must hold exactly one window")
    window = windows[0]
    if "duration" in window:
        count, unit = _shorthand(window["duration"], who)
    else:
        count = int(window.get("count") or 0)
        unit = _V1ALPHA_UNITS.get(str(window.get("unit")), "")
        if count <= 0 or not unit:
            raise Refused(f"{who}: window {dict(window)} is not a count and a unit")
    calendar = window.get("calendar")
    rolling = window.get("isRolling", calendar is None)
    text = f"{count}{unit}"
    if rolling:
        if calendar is not None:
            raise Refused(f"{who}: a window cannot be rolling and have a calendar")
        if unit in ("M", "Q", "Y"):
            days = {"M": "30d", "Q": "90d", "Y": "365d"}[unit]
            raise Refused(
                f"{who}: a rolling {text} window has no fixed length; write it in days "
                f"(e.g. {days})"
            )
        if unit == "m" and count % 60:
            raise Refused(f"{who}: a rolling window must be whole hours (got {text})")
        hours = count // 60 if unit == "m" else count
        if unit in ("m", "h") and hours < 1:
            raise Refused(f"{who}: a rolling window must be at least 1h (got {text})")
        return f"{hours}h" if unit == "m" else text
    if (count, unit) not in ((1, "w"), (1, "M")):
        raise Refused(
            f"{who}: a calendar window of {text}: the pack has calendar windows of 1w (week) "
            "and 1M (month) only"
        )
    name = "week" if unit == "w" else "month"
    calendar = calendar if isinstance(calendar, Mapping) else {}
    zone = str(calendar.get("timeZone") or "UTC")
    if zone != state.timezone:
        raise Refused(
            f"{who}: calendar time zone {zone}: the pack's calendar {name}s follow the "
            f"config's time zone {state.timezone}"
        )
    start = calendar.get("startTime")
    if start is not None:
        try:
            at = datetime.fromisoformat(str(start))
        except ValueError:
            raise Refused(f"{who}: calendar startTime {start!r} is not a date and time") from None
        aligned = at.time() == datetime.min.time() and (
            at.weekday() == 0 if name == "week" else at.day == 1
        )
        if not aligned:
            first = "Monday" if name == "week" else "the 1st"
            raise Refused(
                f"{who}: calendar startTime {start}: the pack's calendar {name}s start on "
                f"{first} at 00:00"
            )
    state.note(f"{who}: calendar {text} in {zone} taken as the config's calendar {name}")
    return name


# --- OpenSLO ----------------------------------------------------------------------------------


def _source_type(metric: Mapping[str, Any], state: _Import, who: str) -> tuple[str, str | None]:
    """(source type, query) of an OpenSLO metric (v1 metricSource or v1alpha source/query)."""
    if "query" in metric or "source" in metric:  # v1alpha
        return str(metric.get("source") or ""), _text(metric.get("query"))
    source = metric.get("metricSource")
    if not isinstance(source, Mapping):
        raise Refused(f"{who}: a metric without metricSource")
    kind = source.get("type")
    if kind is None and source.get("metricSourceRef") is not None:
        data_source = state.find("DataSource", source["metricSourceRef"], who)
        kind = (data_source.get("spec") or {}).get("type")
    spec = source.get("spec") or {}
    return str(kind or ""), _text(spec.get("query") if isinstance(spec, Mapping) else None)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _metric_query(metric: Any, state: _Import, who: str) -> str:
    if not isinstance(metric, Mapping):
        raise Refused(f"{who}: expected a metric with a metricSource")
    kind, query = _source_type(metric, state, who)
    if kind.lower() not in {name.lower() for name in PROMQL_SOURCES}:
        shown = kind or "no type"
        raise Refused(
            f"{who}: metric source {shown} is not Prometheus-compatible "
            f"({', '.join(PROMQL_SOURCES)}); its queries are not PromQL"
        )
    if not query:
        raise Refused(f"{who}: the {kind} metric source has no spec.query")
    return query


def _indicator(holder: Mapping[str, Any], state: _Import, who: str) -> Mapping[str, Any] | None:
    """The SLI spec of an SLO or objective: inline or by indicatorRef."""
    if holder.get("indicator") is not None:
        inline = holder["indicator"]
        return inline.get("spec") if isinstance(inline, Mapping) else None
    if holder.get("indicatorRef") is not None:
        return state.find("SLI", holder["indicatorRef"], who).get("spec") or {}
    return None


def _ratio(ratio: Mapping[str, Any], state: _Import, who: str) -> dict[str, str]:
    """The promql good|bad/total of a ratioMetric, each with a {{window}} template."""
    counter = ratio.get("counter")
    counter = counter if isinstance(counter, bool) else None
    if ratio.get("raw") is not None:
        raw = _metric_query(ratio["raw"], state, who)
        kind = str(ratio.get("rawType", ""))
        if kind not in ("success", "failure"):
            raise Refused(f"{who}: a raw ratio needs rawType: success or failure")
        try:
            _check_query(raw)
            if _WINDOW_TEMPLATE.search(raw):
                average = f"avg({raw})"
            else:
                node = _windowed(parse(raw), "avg_over_time", raw)
                average = f"avg({_with_function(node, 'avg_over_time')})"
        except Refused as exc:
            raise Refused(f"{who} raw: {exc}") from None
        state.note(f"{who}: raw {kind} ratio averaged over each window; event counts are seconds")
        bad = average if kind == "failure" else f"1 - {average}"
        return {"bad": bad, "total": f"{average} * 0 + 1"}
    if ratio.get("total") is None or (ratio.get("good") is None) == (ratio.get("bad") is None):
        raise Refused(f"{who}: a ratioMetric needs total with exactly one of good and bad")
    result = {}
    for part in ("good", "bad", "total"):
        if ratio.get(part) is not None:
            query = _metric_query(ratio[part], state, f"{who} {part}")
            try:
                result[part], how = window_query(query, counter)
            except Refused as exc:
                raise Refused(f"{who} {part}: {exc}") from None
    state.note(f"{who}: ratio {'good' if 'good' in result else 'bad'}/total, {how}")
    return result


def _objective_target(objective: Mapping[str, Any], who: str) -> str:
    if objective.get("target") is not None:
        return str(objective["target"])
    if objective.get("targetPercent") is not None:
        return f"{objective['targetPercent']}%"
    raise Refused(f"{who}: an objective needs target or targetPercent")


def _alert_policies(spec: Mapping[str, Any], state: _Import, who: str) -> None:
    for policy in spec.get("alertPolicies") or []:
        if isinstance(policy, Mapping) and policy.get("alertPolicyRef") is not None:
            name = policy["alertPolicyRef"]
            state.find("AlertPolicy", name, who)
        else:
            name = ((policy or {}).get("metadata") or {}).get("name", "inline")
        state.note(
            f"{who}: alert policy {name}: the pack's page and ticket burn-rate tiers alert instead"
        )


def _openslo_slos(document: Mapping[str, Any], where: str, state: _Import) -> list[dict[str, Any]]:
    metadata = document.get("metadata") or {}
    spec = document.get("spec") or {}
    base = slo_name(str(metadata.get("name", "openslo")))
    who = f"{where}: SLO {base}"
    method = spec.get("budgetingMethod")
    if method is None:
        state.note(f"{who}: no budgetingMethod; read as Occurrences")
    elif method != "Occurrences":
        meaning = _SLICE_METHODS.get(str(method), "not an OpenSLO budgeting method")
        raise Refused(
            f"{who}: budgetingMethod {method} ({meaning}) is not a ratio of events; the "
            "pack's rules budget Occurrences only"
        )
    objectives = spec.get("objectives") or []
    if not objectives:
        raise Refused(f"{who}: no objectives")
    slos = []
    for index, objective in enumerate(objectives):
        name = base if len(objectives) == 1 else f"{base}-{index + 1}"
        one = f"{where}: SLO {name}"
        try:
            indicator = _indicator(objective, state, one) or _indicator(spec, state, one)
            ratio = objective.get("ratioMetrics") or objective.get("ratioMetric")
            if ratio is None and indicator is not None:
                if indicator.get("thresholdMetric") is not None:
                    raise Refused(
                        f"{one}: a thresholdMetric SLI (a value compared with op/value) is not "
                        "an event ratio; only ratioMetric SLIs are imported"
                    )
                ratio = indicator.get("ratioMetric")
            if not isinstance(ratio, Mapping):
                raise Refused(f"{one}: no ratioMetric SLI (indicator or indicatorRef)")
            item: dict[str, Any] = {
                "name": name,
                "kind": "promql",
                "objective": _objective_target(objective, one),
                "labels": _labels(metadata.get("labels")),
                "promql": _ratio(ratio, state, one),
            }
        except Refused as exc:
            state.refuse(f"refused: {exc}")
            continue
        if spec.get("description"):
            item["description"] = " ".join(str(spec["description"]).split())
        slos.append(item)
    if slos:
        window = _openslo_window(spec, state, who)
        _alert_policies(spec, state, who)
        for item in slos:
            item["window"] = window
    return slos


# --- Sloth ------------------------------------------------------------------------------------


def _sloth_slos(document: Mapping[str, Any], where: str, state: _Import) -> list[dict[str, Any]]:
    slos = []
    service = str(document.get("service", ""))
    state.note(f"{where}: Sloth specs name no period; using Sloth's default {SLOTH_DEFAULT_WINDOW}")
    for index, slo in enumerate(document.get("slos") or []):
        name = slo_name(service, str(slo.get("name", f"slo{index}")))
        who = f"{where}: SLO {name}"
        sli = slo.get("sli") or {}
        try:
            if sli.get("plugin") is not None:
                plugin = (sli["plugin"] or {}).get("id", "?")
                raise Refused(f"{who}: SLI plugin {plugin} is Go code run by Sloth; not imported")
            if isinstance(sli.get("events"), Mapping):
                queries = {
                    "bad": str(sli["events"].get("error_query", "")),
                    "total": str(sli["events"].get("total_query", "")),
                }
            elif isinstance(sli.get("raw"), Mapping):
                ratio = str(sli["raw"].get("error_ratio_query", ""))
                queries = {"bad": f"avg({ratio})", "total": f"avg({ratio}) * 0 + 1"}
                state.note(f"{who}: raw error ratio averaged over each window")
            else:
                raise Refused(f"{who}: the SLI has neither events nor raw queries")
            for part, query in queries.items():
                try:
                    _check_query(query)
                except Refused as exc:
                    raise Refused(f"{who}: {part} query: {exc}") from None
                if not _WINDOW_TEMPLATE.search(query):
                    raise Refused(
                        f"{who}: {part} query {excerpt(query)!r} has no {{{{.window}}}}: it "
                        "would read the same on every window"
                    )
        except Refused as exc:
            state.refuse(f"refused: {exc}")
            continue
        alerting = slo.get("alerting") or {}
        spec: dict[str, Any] = {
            "name": name,
            "kind": "promql",
            "objective": f"{slo.get('objective')}%",
            "window": SLOTH_DEFAULT_WINDOW,
            "labels": _labels(document.get("labels"), slo.get("labels")),
            "promql": queries,
            "alerting": {
                "page": not (alerting.get("page_alert") or {}).get("disable", False),
                "ticket": not (alerting.get("ticket_alert") or {}).get("disable", False),
            },
        }
        if alerting.get("name") or alerting.get("labels") or alerting.get("annotations"):
            state.note(
                f"{who}: alerting name, labels and annotations not imported; the pack names "
                "and routes its own alerts"
            )
        if slo.get("description"):
            spec["description"] = str(slo["description"])
        slos.append(spec)
    return slos


# --- Pyrra -----------------------------------------------------------------------------------

#: Prometheus duration units (``model.ParseDuration``), in seconds.
_PROMETHEUS_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
#: ``model.ParseDuration``'s spelling: units from the largest to the smallest, each at most once.
_PROMETHEUS_DURATION = re.compile(r"(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?")
#: What a Pyrra indicator means that the pack's promql ratio cannot say exactly.
_PYRRA_REFUSED = {
    "latencyNative": (
        "a native-histogram latency SLI (histogram_fraction over one series) is not a pair "
        "of counters; write it as a latency SLI over classic _bucket/_count series"
    ),
    "bool_gauge": (
        "a bool_gauge SLI counts samples of a 0/1 gauge, not events; its event counts would "
        "depend on the scrape interval"
    ),
}
#: Spec fields that only tune how Pyrra writes its own rules.
_PYRRA_RULE_FIELDS = ("partial_response_strategy", "performanceOverAccuracy", "ruleOutput")


def _pyrra_window(value: Any, who: str) -> str:
    text = str(value or "").strip()
    if not _PROMETHEUS_DURATION.fullmatch(text):
        raise Refused(f"{who}: window {value!r} is not a Prometheus duration (e.g. 28d)")
    seconds = sum(
        int(count) * (_PROMETHEUS_UNITS.get(unit, 0))
        for count, unit in re.findall(r"(\d+)(ms|[ywdhms])", text)
    )
    if "ms" in text or seconds % 3600 or seconds < 3600:
        raise Refused(f"{who}: window {text}: the pack's rolling windows are whole hours")
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h"


def _pyrra_target(value: Any, who: str) -> str:
    try:
        target = float(str(value))
    except ValueError:
        raise Refused(f'{who}: target {value!r} is not a percentage (e.g. "99.5")') from None
    if not 0 < target < 100:
        raise Refused(f"{who}: target {value} must be above 0 and below 100 (a percentage)")
    return f"{str(value).strip()}%"


def _pyrra_selector(query: Any, part: str, who: str) -> str:
    metric = query.get("metric") if isinstance(query, Mapping) else None
    if not metric:
        raise Refused(f"{who}: {part}.metric is missing")
    try:
        node = parse(str(metric))
    except PromqlError as exc:
        raise Refused(
            f"{who}: {part}.metric {excerpt(str(metric))!r} is not PromQL: {exc.message}"
        ) from None
    if not isinstance(node, Selector) or node.range is not None:
        raise Refused(f"{who}: {part}.metric must be a vector selector, as Pyrra requires")
    return window_query(str(metric), counter=True)[0]


def _pyrra_alerting(alerting: Any, state: _Import, who: str) -> dict[str, bool]:
    alerting = alerting if isinstance(alerting, Mapping) else {}
    on = alerting.get("disabled") is not True and alerting.get("burnrates") is not False
    if not on:
        state.note(f"{who}: Pyrra burn-rate alerts off: page and ticket alerts off")
    named = [k for k in ("name", "absentName", "severities", "absent") if k in alerting]
    if named:
        state.note(
            f"{who}: alerting {', '.join(named)} not imported; the pack names, routes and "
            "watches its own alerts"
        )
    return {"page": on, "ticket": on}


def _pyrra_slos(document: Mapping[str, Any], where: str, state: _Import) -> list[dict[str, Any]]:
    """One promql SLO from a Pyrra ServiceLevelObjective, or Refused."""
    metadata = document.get("metadata") or {}
    spec = document.get("spec") or {}
    name = slo_name(str(metadata.get("name", "pyrra")))
    who = f"{where}: SLO {name}"
    indicator = spec.get("indicator") or {}
    kinds = [k for k in ("ratio", "latency", "latencyNative", "bool_gauge") if indicator.get(k)]
    if len(kinds) != 1:
        raise Refused(
            f"{who}: the indicator needs exactly one of ratio, latency, latencyNative, bool_gauge"
        )
    (kind,) = kinds
    if kind in _PYRRA_REFUSED:
        raise Refused(f"{who}: {kind}: {_PYRRA_REFUSED[kind]}")
    sli = indicator[kind]
    if sli.get("grouping"):
        raise Refused(
            f"{who}: grouping {list(sli['grouping'])} makes one SLO per group; the pack's SLO "
            "is one ratio: import one SLO per group with the group in the selectors"
        )
    if kind == "ratio":
        promql = {
            "bad": _pyrra_selector(sli.get("errors"), "ratio.errors", who),
            "total": _pyrra_selector(sli.get("total"), "ratio.total", who),
        }
        state.note(f"{who}: ratio errors/total, cumulative counters: rate over each window")
    else:
        good = _pyrra_selector(sli.get("success"), "latency.success", who)
        success = parse(str(sli["success"]["metric"]))
        assert isinstance(success, Selector)
        if not any(label == "le" and op == "=" for label, op, _ in success.matchers):
            raise Refused(f'{who}: latency.success.metric needs an le="..." bucket matcher')
        promql = {"good": good, "total": _pyrra_selector(sli.get("total"), "latency.total", who)}
        state.note(f"{who}: latency success/total buckets, rate over each window")
    ignored = [k for k in _PYRRA_RULE_FIELDS if spec.get(k) not in (None, False, "", "abort")]
    if ignored:
        state.note(f"{who}: {', '.join(ignored)} tune Pyrra's own rules; not imported")
    item: dict[str, Any] = {
        "name": name,
        "kind": "promql",
        "objective": _pyrra_target(spec.get("target"), who),
        "window": _pyrra_window(spec.get("window"), who),
        "labels": _labels(metadata.get("labels")),
        "promql": promql,
        "alerting": _pyrra_alerting(spec.get("alerting"), state, who),
    }
    if spec.get("description"):
        item["description"] = " ".join(str(spec["description"]).split())
    return [item]


# --- reading files ----------------------------------------------------------------------------


def _load(path: Path) -> list[Mapping[str, Any]]:
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise ConfigError([f"{path}: not valid YAML: {first}"]) from None
    for number, document in enumerate(documents, start=1):
        if not isinstance(document, Mapping):
            raise ConfigError([f"{path} (document {number}): expected a mapping"])
    return documents


def _classify(document: Mapping[str, Any], where: str) -> str:
    """``sloth``, ``openslo-slo``, ``openslo-other``; ConfigError for anything else."""
    version, api = document.get("version"), document.get("apiVersion")
    if version == SLOTH_VERSION:
        return "sloth"
    if api == SLOTH_KUBERNETES and document.get("kind") == "PrometheusServiceLevel":
        return "sloth-kubernetes"
    if api in OPENSLO_VERSIONS:
        if document.get("kind") not in OPENSLO_KINDS:
            raise ConfigError(
                [f"{where}: kind {document.get('kind')!r} is not one of {', '.join(OPENSLO_KINDS)}"]
            )
        return "openslo-slo" if document.get("kind") == "SLO" else "openslo-other"
    if api == PYRRA_VERSION:
        if document.get("kind") == "ServiceLevelObjective":
            return "pyrra"
        raise ConfigError([f"{where}: a Pyrra {document.get('kind')} document holds no SLO"])
    if api == SLOTH_KUBERNETES:
        why = f"a Sloth {document.get('kind')} document holds no SLOs"
    elif "groups" in document:
        why = "a Prometheus rule file, not an SLO spec: import the spec it was generated from"
    else:
        why = (
            f"not a Sloth {SLOTH_VERSION} spec nor an OpenSLO document nor a Pyrra "
            f"ServiceLevelObjective (version "
            f"{version!r}, apiVersion {api!r})"
        )
    raise ConfigError([f"{where}: {why}"])


def _document_slos(
    kind: str, document: Mapping[str, Any], where: str, state: _Import
) -> list[dict[str, Any]]:
    if kind == "sloth":
        return _sloth_slos(document, where, state)
    if kind == "sloth-kubernetes":
        return _sloth_slos(document.get("spec") or {}, where, state)
    if kind == "openslo-slo":
        return _openslo_slos(document, where, state)
    if kind == "pyrra":
        return _pyrra_slos(document, where, state)
    return []


def read_specs(
    paths: Sequence[Path], timezone: str = "UTC"
) -> tuple[list[dict[str, Any]], list[ImportNote]]:
    """SLO entries (config shape, with ``_from``: the file) and notes from Sloth/OpenSLO files.

    ConfigError for a file that is not a spec at all, or that yields no SLO.
    """
    state = _Import(timezone=timezone)
    files: list[tuple[Path, list[tuple[str, str, Mapping[str, Any]]]]] = []
    for path in paths:
        documents = _load(path)
        classified = []
        for number, document in enumerate(documents, start=1):
            where = f"{path}" if len(documents) == 1 else f"{path} (document {number})"
            kind = _classify(document, where)
            classified.append((kind, where, document))
            metadata = document.get("metadata") or {}
            if kind.startswith("openslo") and not isinstance(metadata, Mapping):
                raise ConfigError([f"{where}: metadata must be a mapping with a name"])
            if kind.startswith("openslo"):
                state.named[(str(document.get("kind")), str(metadata.get("name")))] = document
        files.append((path, classified))
    entries: list[dict[str, Any]] = []
    for path, classified in files:
        found: list[dict[str, Any]] = []
        for kind, where, document in classified:
            try:
                found += _document_slos(kind, document, where, state)
            except Refused as exc:
                state.refuse(f"refused: {exc}")
            except (AttributeError, TypeError, ValueError) as exc:
                # a field of the wrong shape (a list where a mapping belongs, a word for a count)
                raise ConfigError([f"{where}: not a well-formed {kind} spec ({exc})"]) from None
        if not found and not any(kind == "openslo-other" for kind, _, _ in classified):
            reasons = [n.text for n in state.notes if n.level == "warning" and str(path) in n.text]
            raise ConfigError(reasons or [f"{path}: holds no SLO to import"])
        if not found:
            kinds = sorted({str(document.get("kind")) for _, _, document in classified})
            state.note(f"{path}: no SLO; its {', '.join(kinds)} documents serve references by name")
        entries += [{**item, "_from": str(path)} for item in found]
    return entries, state.notes


def config_timezone(config: Config) -> str:
    """The time zone of the config's calendar windows: its first business calendar's, else UTC."""
    return next((c.timezone for n, c in config.calendars.items() if n != ALWAYS), "UTC")


def import_specs(
    config: Config, paths: Sequence[Path], notes: list[ImportNote] | None = None
) -> Config:
    """``config`` with the SLOs of every spec added (kind promql), validated like the config."""
    entries, said = read_specs(paths, config_timezone(config))
    if notes is not None:
        notes += said
    problems: list[str] = []
    imported: list[SloConfig] = []
    names = {slo.name for slo in config.slos}
    for entry in entries:
        item = {key: value for key, value in entry.items() if key != "_from"}
        where = entry["_from"]
        try:
            slo = SloConfig.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function"))
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(f"{where}: SLO {item.get('name')}: {loc}: {message}")
            continue
        if slo.name in names:
            problems.append(f"{where}: SLO {slo.name}: the config already has an SLO of that name")
            continue
        names.add(slo.name)
        imported.append(slo)
    if problems:
        raise ConfigError(problems)
    return config.model_copy(update={"slos": [*config.slos, *imported]})
