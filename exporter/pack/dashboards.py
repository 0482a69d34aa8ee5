"""Grafana dashboards of the pack: an overview, a per-SLO detail view and a TV wallboard.

:func:`dashboard_files` builds the three dashboards for a config with the
``grafana-foundation-sdk`` builders and returns them as pretty, key-sorted
JSON, ready to drop into ``dashboards/``:

* ``helpdesk-slo-overview``: one row per SLO (compliance over its window,
  error budget burn-down, burn rate against the alert thresholds, firing
  alerts), then ticket inflow and SLA outcomes;
* ``helpdesk-slo-detail``: one SLO at a time (variable ``slo``): SLI from 5m
  to the SLO window, burn rate per alert tier with its threshold, budget and
  exhaustion forecast, good/bad events, reply and resolution percentiles and
  the exporter's own health;
* ``helpdesk-slo-wallboard``: big tiles for the support room's TV.

Every query reads its data source from the ``datasource`` variable (no
data-source uid is written anywhere), metric names come from
:mod:`exporter.metrics` and thresholds from the config, so the same config
always yields byte-identical files.  :func:`panel_queries` lists every PromQL
expression of a dashboard, for tests that run them on a real Prometheus.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

with warnings.catch_warnings():
    # The classic dashboard model warns on import that a v2 model exists; the JSON schemas
    # the dashboards are validated against (schemaVersion 42) are the classic ones.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as builders
    from grafana_foundation_sdk.builders import prometheus as promql
    from grafana_foundation_sdk.cog.builder import Builder
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as model
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from exporter import metrics
from exporter.config import Config, Severity, SloKind
from exporter.model import PRIORITIES
from exporter.pack import GENERATED_MARKER, names
from exporter.pack.rules import (
    FORECAST_WINDOW,
    STANDARD_WINDOWS,
    PackPlan,
    SloPlan,
    Window,
    events_name,
    le_matcher,
    number,
    plan_pack,
    quote,
    ratio_name,
)
from exporter.units import format_percent

TAG = "helpdesk-slo"
OVERVIEW_UID = names.OVERVIEW_UID
DETAIL_UID = names.DETAIL_UID
WALLBOARD_UID = names.WALLBOARD_UID
UIDS = names.UIDS

#: Name of the data-source variable; every panel and query points at ``${datasource}``.
DATASOURCE_VARIABLE = "datasource"
DATASOURCE = common.DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VARIABLE + "}")
#: Name of the SLO variable of the detail dashboard.
SLO_VARIABLE = "slo"

#: How close to its deadline a running clock counts as "breaching soon" on the wallboard.
BREACH_SOON_SECONDS = 900.0

# Grafana's named colours, as the UI writes them.
GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


# --- recording rule and metric names ----------------------------------------------------------

OBJECTIVE = names.OBJECTIVE
ERROR_BUDGET = names.ERROR_BUDGET
TIME_PERIOD_DAYS = names.TIME_PERIOD_DAYS
CURRENT_BURN_RATE = names.CURRENT_BURN_RATE
PERIOD_BURN_RATE = names.PERIOD_BURN_RATE
PERIOD_BUDGET_REMAINING = names.PERIOD_BUDGET_REMAINING
#: The fixed windows of ``slo:sli_error:ratio_rate<W>`` (every SLO also has its own window).
SLI_WINDOWS = tuple(Window(seconds) for seconds in STANDARD_WINDOWS)


def _bucket(metric: metrics.MetricSpec) -> str:
    return f"{metric.name}_bucket"


def _matchers(**labels: str) -> str:
    return ", ".join(f"{name}={quote(value)}" for name, value in labels.items())


def _number(value: Decimal) -> float:
    """An exact decimal as a float that JSON prints without noise (0.95, 13.44)."""
    return float(number(value))


def _calendar(plan: SloPlan) -> str | None:
    """``week`` or ``month`` when the SLO's figures follow the calendar, else None.

    A promql SLO has no exporter gauges for its calendar period: the rules give
    it a rolling window of the same nominal length instead.
    """
    return plan.calendar if plan.kind is not SloKind.PROMQL else None


def _window_text(plan: SloPlan) -> str:
    """``28d`` for a rolling window, ``this month`` for a calendar one."""
    calendar = _calendar(plan)
    return f"this {calendar}" if calendar is not None else plan.period.text


def _compliance(selector: str) -> str:
    """Share of good events over the SLO's window (its calendar period for week/month).

    From the period burn rate, which the rules define for rolling and calendar
    windows alike: compliance = 1 - burn rate x error budget.
    """
    return f"1 - {PERIOD_BURN_RATE}{{{selector}}} * on(slo, service) {ERROR_BUDGET}{{{selector}}}"


# --- small builders -----------------------------------------------------------------------------


def _query(
    expr: str,
    legend: str = "",
    *,
    ref: str = "A",
    instant: bool = False,
    table_format: bool = False,
) -> promql.Dataquery:
    query = promql.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    query = query.instant() if instant else query.range()
    if table_format:
        query = query.format(PromQueryFormat.TABLE)
    return query


def _steps(*steps: tuple[float | None, str]) -> builders.ThresholdsConfig:
    """Absolute thresholds; the first step is the base colour (value None: -Infinity)."""
    return (
        builders.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def _thresholds_value(*steps: tuple[float | None, str]) -> dict[str, object]:
    """Thresholds as an override value (the JSON form of :func:`_steps`)."""
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


def _names(*names: str) -> model.MatcherConfig:
    """Matches fields by display name.

    Grafana's ``byNames`` matcher, whose options are an object; ``byName``
    takes a bare string, which the dashboard schema does not allow.
    """
    return model.MatcherConfig(id_val="byNames", options={"mode": "include", "names": list(names)})


def _fixed_colour(colour: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})


def _dashed() -> model.DynamicConfigValue:
    return model.DynamicConfigValue(
        id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}
    )


def _reduce_last() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def _stat(title: str, description: str, unit: str, width: int, height: int) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(width)
        .height(height)
        .reduce_options(_reduce_last())
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.AUTO)
        .justify_mode(common.BigValueJustifyMode.CENTER)
        .orientation(common.VizOrientation.AUTO)
    )


def _timeseries(
    title: str, description: str, unit: str, width: int, height: int
) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(width)
        .height(height)
        .line_width(2)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )


def _threshold_lines(panel: timeseries.Panel, mode: common.GraphThresholdsStyleMode) -> None:
    panel.thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(mode))


def _link(title: str, uid: str, tooltip: str, query: str = "") -> builders.DashboardLink:
    return (
        builders.DashboardLink(title)
        .type(model.DashboardLinkType.LINK)
        .url(f"/d/{uid}{query}")
        .icon("dashboard")
        .tooltip(tooltip)
        .include_vars(True)
        .keep_time(True)
        .target_blank(False)
        .as_dropdown(False)
        .tags([])
    )


def _detail_link(slo: str) -> builders.DashboardLink:
    """A panel link to the detail dashboard for one SLO, keeping the data source."""
    return (
        builders.DashboardLink(f"Detail of {slo}")
        .type(model.DashboardLinkType.LINK)
        .url(f"/d/{DETAIL_UID}?var-{SLO_VARIABLE}={slo}&${{{DATASOURCE_VARIABLE}:queryparam}}")
        .icon("dashboard")
        .tooltip(f"Burn rates, budget and response times of {slo}")
        .keep_time(True)
        .include_vars(False)
        .target_blank(False)
        .as_dropdown(False)
        .tags([])
    )


_DASHBOARD_TITLES = {
    OVERVIEW_UID: "Helpdesk SLO overview",
    DETAIL_UID: "Helpdesk SLO detail",
    WALLBOARD_UID: "Helpdesk SLO wallboard",
}
_DASHBOARD_LINK_TEXT = {
    OVERVIEW_UID: "Every SLO at a glance",
    DETAIL_UID: "One SLO: burn rates, budget, response times, exporter health",
    WALLBOARD_UID: "Big tiles for the support room's TV",
}


LinkBuilders = list[Builder[model.DashboardLink]]


def _links_from(uid: str) -> LinkBuilders:
    links: LinkBuilders = []
    for other in UIDS:
        if other == uid:
            continue
        query = "?theme=dark" if other == WALLBOARD_UID else ""
        links.append(_link(_DASHBOARD_TITLES[other], other, _DASHBOARD_LINK_TEXT[other], query))
    return links


def _datasource_variable() -> builders.DatasourceVariable:
    return (
        builders.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Data source")
        .type("prometheus")
        .regex("")
        .multi(False)
        .include_all(False)
    )


def _timezone(config: Config) -> str:
    """The support team's time zone: that of the first calendar (calendar windows use it too)."""
    for calendar in config.calendars.values():
        return calendar.timezone
    return "utc"


def _base(config: Config, plan: PackPlan, uid: str, description: str) -> builders.Dashboard:
    # the marker leads the description, which comes early in the key-sorted JSON, so that
    # ``generate`` recognises the file as its own
    generated = f"{GENERATED_MARKER} from {plan.config_name}; do not edit by hand."
    return (
        builders.Dashboard(_DASHBOARD_TITLES[uid])
        .uid(uid)
        .description(f"{generated} {description}")
        .tags([TAG])
        .timezone(_timezone(config))
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .links(_links_from(uid))
        .with_variable(_datasource_variable())
    )


def _alerts_annotation(selector: str) -> builders.AnnotationQuery:
    return (
        builders.AnnotationQuery()
        .name("Firing SLO alerts")
        .datasource(DATASOURCE)
        .enable(True)
        .hide(False)
        .icon_color(RED)
        .expr(f'ALERTS{{alertstate="firing", {selector}}}')
        .step("1m")
        .title_format("{{alertname}}")
        .text_format("{{slo}}: {{severity}}")
        .tag_keys("severity,slo")
    )


def _finish(dashboard: builders.Dashboard) -> model.Dashboard:
    """Stable panel ids in reading order, and ``${datasource}`` on every panel."""
    built = dashboard.build()
    next_id = 1
    for panel in built.panels or []:
        panel.id_val = next_id
        next_id += 1
        if isinstance(panel, model.Panel):
            panel.datasource = DATASOURCE
        else:
            for inner in panel.panels:
                inner.id_val = next_id
                inner.datasource = DATASOURCE
                next_id += 1
    return built


# --- overview -----------------------------------------------------------------------------------


def _range_of_window(plan: SloPlan) -> str:
    """A relative time range covering the SLO's current window: ``28d``, ``now/M``..."""
    calendar = _calendar(plan)
    if calendar == "week":
        return "now/w"
    if calendar == "month":
        return "now/M"
    return plan.period.text


def _burn_down(slo_selector: str, budget: str) -> str:
    """Budget left since the start of the panel's range, 1 at the start (event-weighted).

    Spent = bad events decided since the range started / (budget x every event
    of the range).  A counter's value at the range start is its smallest value
    in the range (counters only grow), so the curve starts at 100% even when
    the history does not reach back that far; with no history at all yet, the
    value now stands in.
    """
    name = metrics.SLO_EVENTS.name
    bad = f'{name}{{{slo_selector}, result="bad"}}'
    every = f"{name}{{{slo_selector}}}"

    def at_start(series: str) -> str:
        return f"(min_over_time(sum({series})[$__range:1m] @ end()) or sum({series} @ end()))"

    spent = f"(sum({bad}) - {at_start(bad)})"
    allowed = f"clamp_min({budget} * (sum({every} @ end()) - {at_start(every)}), 1e-9)"
    return f"1 - {spent} / {allowed}"


def _tier_text(plan: SloPlan) -> str:
    return ", ".join(
        f"{tier.severity.value} {number(tier.factor)}x over {tier.long.text}" for tier in plan.tiers
    )


def _burn_rate_steps(plan: SloPlan) -> builders.ThresholdsConfig:
    """Green, orange from the lowest ticket factor, red from the lowest page factor."""
    steps: list[tuple[float | None, str]] = [(None, GREEN)]
    for severity, colour in ((Severity.TICKET, ORANGE), (Severity.PAGE, RED)):
        factors = [tier.factor for tier in plan.tiers if tier.severity is severity]
        if factors:
            steps.append((_number(min(factors)), colour))
    steps[1:] = sorted(steps[1:], key=lambda step: step[0] or 0.0)
    return _steps(*steps)


def _overview_row(plan: SloPlan, dashboard: builders.Dashboard) -> None:
    selector = _matchers(slo=plan.name, service=plan.service)
    objective = format_percent(plan.objective)
    window = _window_text(plan)
    title = f"{plan.name}: {objective} over {window}"
    if plan.slo.description:
        title += f" — {plan.slo.description.rstrip('.')}"
    dashboard.with_row(builders.Row(title))
    links: LinkBuilders = [_detail_link(plan.name)]

    compliance = (
        _stat(
            f"Compliance, {window}",
            f"Share of good events of {plan.name} over its window ({window}). Green at or "
            f"above the objective ({objective}), red below it.",
            "percentunit",
            5,
            6,
        )
        .decimals(2)
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(_steps((None, RED), (_number(plan.objective), GREEN)))
        .links(links)
        .with_target(_query(_compliance(selector), "compliance"))
    )
    dashboard.with_panel(compliance)

    burn_down = (
        _timeseries(
            f"Error budget burn-down, {window}",
            "Error budget left since the start of the SLO window: 100% at the start, "
            "falling with every bad event, 0% when the budget is spent (below 0: overspent). "
            "The panel always shows the SLO's window, whatever the dashboard's time range.",
            "percentunit",
            8,
            6,
        )
        .time_from(_range_of_window(plan))
        .decimals(1)
        .thresholds(_steps((None, RED), (0, GREEN)))
        .links(links)
    )
    _threshold_lines(burn_down, common.GraphThresholdsStyleMode.DASHED)
    if plan.kind is SloKind.PROMQL:
        # no exporter counter to start from: the budget left in the window at each instant
        burn_down.description(
            f"Error budget left in the {window} window at each instant "
            f"({PERIOD_BUDGET_REMAINING}); 0% when the budget is spent, below 0 overspent."
        ).with_target(_query(f"{PERIOD_BUDGET_REMAINING}{{{selector}}}", "budget left"))
    else:
        burn_down.with_target(
            _query(_burn_down(_matchers(slo=plan.name), number(plan.budget)), "budget left")
        )
    dashboard.with_panel(burn_down)

    burn_rate = (
        _stat(
            "Burn rate now",
            f"How fast {plan.name} spends its error budget over the last hour "
            f"({CURRENT_BURN_RATE}); 1 spends exactly the budget over the window. Orange from "
            "the lowest ticket threshold, red from the lowest page threshold. Alert "
            f"thresholds: {_tier_text(plan) or 'none'}.",
            "short",
            5,
            6,
        )
        .decimals(2)
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(_burn_rate_steps(plan))
        .links(links)
        .with_target(_query(f"{CURRENT_BURN_RATE}{{{selector}}}", "burn rate"))
    )
    dashboard.with_panel(burn_rate)

    alerts = (
        _stat(
            "Firing alerts",
            f"Alerts of {plan.name} firing now, by name and severity (from ALERTS); "
            "'none' when nothing fires.",
            "short",
            6,
            6,
        )
        .decimals(0)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .no_value("none")
        .thresholds(_steps((None, GREEN), (1, RED)))
        .links(links)
        .with_target(
            _query(
                f'count by (alertname, severity) (ALERTS{{alertstate="firing", {selector}}})',
                "{{alertname}} ({{severity}})",
            )
        )
    )
    dashboard.with_panel(alerts)


def _overview_tickets(dashboard: builders.Dashboard) -> None:
    dashboard.with_row(builders.Row("Tickets and SLA outcomes"))
    created, solved = metrics.TICKETS_CREATED.name, metrics.TICKETS_SOLVED.name
    inflow = (
        _timeseries(
            "Ticket inflow vs solved",
            "Tickets created and solved per hour, all priorities and channels. Created above "
            "solved for long means the backlog grows.",
            "short",
            12,
            8,
        )
        .axis_label("tickets per hour")
        .with_override(_names("created"), [_fixed_colour(BLUE)])
        .with_override(_names("solved"), [_fixed_colour(GREEN)])
        .with_target(_query(f"sum(rate({created}[$__rate_interval])) * 3600", "created"))
        .with_target(_query(f"sum(rate({solved}[$__rate_interval])) * 3600", "solved", ref="B"))
    )
    dashboard.with_panel(inflow)

    outcomes = metrics.SLA_OUTCOMES.name
    counts = (
        bargauge.Panel()
        .title("SLA outcomes by priority")
        .description(
            "SLA clocks decided in the dashboard's time range, met (stopped before the "
            "deadline) and breached, by priority; all SLA metrics together."
        )
        .unit("short")
        .span(6)
        .height(8)
        .decimals(0)
        .reduce_options(_reduce_last())
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .show_unfilled(True)
        .min(0)
        .thresholds(_steps((None, BLUE)))
        .with_override(
            _names(*(f"{priority.value} breached" for priority in PRIORITIES)),
            [_fixed_colour(RED)],
        )
        .with_override(
            _names(*(f"{priority.value} met" for priority in PRIORITIES)), [_fixed_colour(GREEN)]
        )
        .with_target(
            _query(
                f"sum by (priority, outcome) (increase({outcomes}[$__range]))",
                "{{priority}} {{outcome}}",
                instant=True,
            )
        )
    )
    dashboard.with_panel(counts)

    share = (
        bargauge.Panel()
        .title("SLA met, by metric and priority")
        .description(
            "Share of SLA clocks decided in the dashboard's time range that met their "
            "deadline, per SLA metric and priority."
        )
        .unit("percentunit")
        .span(6)
        .height(8)
        .decimals(1)
        .min(0)
        .max(1)
        .reduce_options(_reduce_last())
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .show_unfilled(True)
        .thresholds(_steps((None, RED), (0.8, ORANGE), (0.9, GREEN)))
        .with_target(
            _query(
                f'sum by (sla, priority) (increase({outcomes}{{outcome="met"}}[$__range])) / '
                f"(sum by (sla, priority) (increase({outcomes}[$__range])) > 0)",
                "{{sla}} {{priority}}",
                instant=True,
            )
        )
    )
    dashboard.with_panel(share)


def overview_dashboard(config: Config, plan: PackPlan | None = None) -> model.Dashboard:
    """Every SLO at a glance, one row each, then tickets and SLA outcomes."""
    plan = plan or plan_pack(config)
    dashboard = (
        _base(
            config,
            plan,
            OVERVIEW_UID,
            "Every SLO of the support team: compliance, error budget, burn rate and alerts.",
        )
        .time("now-7d", "now")
        .refresh("1m")
        .annotation(_alerts_annotation(_matchers(service=config.service)))
    )
    for slo in plan.slos:
        _overview_row(slo, dashboard)
    _overview_tickets(dashboard)
    return _finish(dashboard)


# --- detail -------------------------------------------------------------------------------------


def _slo_selector(service: str) -> str:
    """The selected SLO's recorded series."""
    return f'slo="${SLO_VARIABLE}", {_matchers(service=service)}'


def _per_slo(plan: PackPlan, values: Mapping[str, Decimal]) -> str | None:
    """A number that depends on the selected SLO (``values``: SLO name -> number).

    One ``vector(n)`` per distinct number, kept only when the selected SLO is
    one of the SLOs with that number; None when no SLO has one.
    """
    groups: dict[str, list[str]] = {}
    for name, value in values.items():
        groups.setdefault(number(value), []).append(name)
    terms = [
        f"(vector({text}) and on() "
        f"{OBJECTIVE}{{slo=~{quote('|'.join(names))}, {_slo_selector(plan.service)}}})"
        for text, names in groups.items()
    ]
    return " or ".join(terms) if terms else None


def _red_from_query(ref: str, field: str) -> model.DataTransformerConfig:
    """Colours the panel red from the value of query ``ref``, green below it.

    Grafana's "config from query results" transformation: its ``threshold1``
    handler replaces the panel's thresholds with a green base and a red step
    at the value, so the step follows the selected SLO.  (It always starts
    green, so it suits values where higher is worse.)
    """
    return model.DataTransformerConfig(
        id_val="configFromData",
        options={
            "configRefId": ref,
            "mappings": [
                {"fieldName": field, "handlerKey": "threshold1", "reducerId": "lastNotNull"}
            ],
        },
    )


def _budget_steps() -> builders.ThresholdsConfig:
    return _steps((None, RED), (0, ORANGE), (0.25, YELLOW), (0.5, GREEN))


def _lowest_page_factors(plan: PackPlan) -> dict[str, Decimal]:
    return {
        slo.name: min(tier.factor for tier in slo.tiers if tier.severity is Severity.PAGE)
        for slo in plan.slos
        if any(tier.severity is Severity.PAGE for tier in slo.tiers)
    }


def _detail_summary(plan: PackPlan, dashboard: builders.Dashboard) -> None:
    selector = _slo_selector(plan.service)
    dashboard.with_row(builders.Row(f"${SLO_VARIABLE}: objective and error budget"))

    compliance = (
        _stat(
            "Compliance over the SLO window",
            "Share of good events over the SLO's window (its current week or month for "
            "calendar windows); 100% with no events. Compare it with the objective beside "
            "it: the error budget tile turns red when compliance falls below the objective.",
            "percentunit",
            5,
            5,
        )
        .decimals(2)
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(_steps((None, BLUE)))
        .with_target(_query(_compliance(selector), "compliance"))
    )
    dashboard.with_panel(compliance)

    objective = (
        _stat(
            "Objective",
            "The share of events that must be good over the SLO window.",
            "percentunit",
            4,
            5,
        )
        .decimals(2)
        .color_mode(common.BigValueColorMode.VALUE)
        .thresholds(_steps((None, BLUE)))
        .with_target(_query(f"{OBJECTIVE}{{{selector}}}", "objective"))
    )
    dashboard.with_panel(objective)

    budget = (
        _stat(
            "Error budget left",
            "Share of the error budget left in the SLO window: 100% untouched, 0% spent, "
            "below 0 overspent. Red below 0, orange below 25%, yellow below 50%.",
            "percentunit",
            5,
            5,
        )
        .decimals(1)
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(_budget_steps())
        .with_target(_query(f"{PERIOD_BUDGET_REMAINING}{{{selector}}}", "budget left"))
    )
    dashboard.with_panel(budget)

    lowest_page = _lowest_page_factors(plan)
    burn_rate = (
        _stat(
            "Burn rate now",
            "How fast the budget burns over the last hour: 1 spends exactly the budget over "
            "the window. Red from the selected SLO's lowest page-tier factor (green below); "
            "for an SLO without page tiers, orange from 1.",
            "short",
            5,
            5,
        )
        .decimals(2)
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(_steps((None, GREEN), (1, ORANGE)))
        .with_target(_query(f"{CURRENT_BURN_RATE}{{{selector}}}", "burn rate"))
    )
    page_threshold = _per_slo(plan, lowest_page)
    if page_threshold is not None:
        burn_rate.with_target(_query(page_threshold, "page", ref="B")).with_transformation(
            _red_from_query("B", "page")
        )
    dashboard.with_panel(burn_rate)

    backlog = {
        slo.name: Decimal(slo.backlog_tickets)
        for slo in plan.slos
        if slo.backlog_tickets is not None
    }
    waiting = (
        _stat(
            "Waiting past the threshold",
            "Open tickets whose clock still runs past the SLO threshold: already bad and "
            "still unanswered (time SLOs only). Red from the number that raises "
            "SupportSLOBacklogBreached for the selected SLO (green below).",
            "short",
            5,
            5,
        )
        .decimals(0)
        .no_value("none")
        .thresholds(_steps((None, GREEN), (1, ORANGE)))
        .with_target(
            _query(
                f'max({metrics.SLO_WAITING_PAST_THRESHOLD.name}{{slo="${SLO_VARIABLE}"}})',
                "waiting",
            )
        )
    )
    backlog_threshold = _per_slo(plan, backlog)
    if backlog_threshold is not None:
        waiting.with_target(_query(backlog_threshold, "backlog", ref="B")).with_transformation(
            _red_from_query("B", "backlog")
        )
    dashboard.with_panel(waiting)


def _detail_sli(plan: PackPlan, dashboard: builders.Dashboard) -> None:
    selector = _slo_selector(plan.service)
    dashboard.with_row(builders.Row("Service level indicator"))
    sli = (
        _timeseries(
            "SLI by window",
            "Share of good events over windows from 5 minutes to the SLO window, event-"
            "weighted (good events / all events in the window, 100% when there were none). "
            "Short windows react first and are noisy at support volumes; the dashed red "
            "line is the objective.",
            "percentunit",
            12,
            8,
        )
        .decimals(2)
        .max(1)
        .with_override(_names("objective"), [_fixed_colour(RED), _dashed()])
    )
    for index, window in enumerate(SLI_WINDOWS):
        sli.with_target(
            _query(
                f"1 - {ratio_name(window)}{{{selector}}}", window.text, ref=chr(ord("A") + index)
            )
        )
    sli.with_target(_query(_compliance(selector), "SLO window", ref="W"))
    sli.with_target(_query(f"{OBJECTIVE}{{{selector}}}", "objective", ref="O"))
    dashboard.with_panel(sli)

    hourly = events_name(Window(3600))
    bad = f'{hourly}{{{selector}, result="bad"}}'
    total = f'{hourly}{{{selector}, result="total"}}'
    events = (
        _timeseries(
            "Events per hour: good and bad",
            "SLO events decided in each hour, stacked: good in green, bad in red. A bad event "
            "is decided the moment the threshold passes, not when the reply finally comes.",
            "short",
            12,
            8,
        )
        .interval("1h")
        .decimals(0)
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        .with_override(_names("good"), [_fixed_colour(GREEN)])
        .with_override(_names("bad"), [_fixed_colour(RED)])
        .with_target(_query(f"{total} - ignoring(result) {bad}", "good"))
        .with_target(_query(bad, "bad", ref="B"))
    )
    dashboard.with_panel(events)


def _detail_burn(plan: PackPlan, dashboard: builders.Dashboard) -> None:
    selector = _slo_selector(plan.service)
    tiers: dict[tuple[Severity, Window, Window], dict[str, Decimal]] = {}
    for slo in plan.slos:
        for tier in slo.tiers:
            tiers.setdefault((tier.severity, tier.long, tier.short), {})[slo.name] = tier.factor
    if not tiers:
        return
    dashboard.with_row(builders.Row("Burn rate per alert tier"))
    width = max(6, 24 // len(tiers))
    for (severity, long, short), factors in tiers.items():
        colour = RED if severity is Severity.PAGE else ORANGE
        panel = (
            _timeseries(
                f"{severity.value.capitalize()}: {long.text} and {short.text} windows",
                f"Burn rate over the long ({long.text}) and short ({short.text}) windows of this "
                f"{severity.value} tier: the alert fires while both lines are above the dashed "
                "threshold and enough events in the long window were bad. No threshold line: "
                "the selected SLO has no such tier.",
                "short",
                width,
                7,
            )
            .decimals(2)
            .axis_soft_min(0)
            .with_override(_names("threshold"), [_fixed_colour(colour), _dashed()])
        )
        for ref, window in (("A", long), ("B", short)):
            panel.with_target(
                _query(
                    f"{ratio_name(window)}{{{selector}}} / on(slo, service) "
                    f"{ERROR_BUDGET}{{{selector}}}",
                    window.text,
                    ref=ref,
                )
            )
        threshold = _per_slo(plan, factors)
        assert threshold is not None  # the tier exists for at least one SLO
        panel.with_target(_query(threshold, "threshold", ref="T"))
        dashboard.with_panel(panel)


def _detail_budget(plan: PackPlan, dashboard: builders.Dashboard) -> None:
    selector = _slo_selector(plan.service)
    dashboard.with_row(builders.Row("Error budget"))
    budget = f"sum({ERROR_BUDGET}{{{selector}}})"
    remaining = (
        _timeseries(
            "Error budget: burn-down and budget left",
            "Burn-down: budget left since the start of the selected time range, 100% at the "
            "start and falling with each bad event; pick the SLO window as the time range "
            "(e.g. 'Last 28 days' or 'This month so far'). Exporter SLOs only. Budget left "
            "in the window: the value at each instant for the window ending then. 0% means "
            "spent, below 0 overspent.",
            "percentunit",
            16,
            8,
        )
        .decimals(1)
        .thresholds(_steps((None, RED), (0, GREEN)))
        .with_override(_names("burn-down over the range"), [_fixed_colour(ORANGE)])
        .with_override(_names("budget left in the window"), [_fixed_colour(BLUE)])
        .with_target(
            _query(
                _burn_down(f'slo="${SLO_VARIABLE}"', budget),
                "burn-down over the range",
            )
        )
        .with_target(
            _query(f"{PERIOD_BUDGET_REMAINING}{{{selector}}}", "budget left in the window", ref="B")
        )
    )
    _threshold_lines(remaining, common.GraphThresholdsStyleMode.DASHED)
    dashboard.with_panel(remaining)

    daily = ratio_name(Window(FORECAST_WINDOW))
    forecast = (
        _stat(
            "Budget exhausted in",
            "Time until the budget left is spent if the last day's burn rate goes on (the "
            "pace SupportSLOBudgetExhaustionForecast watches): budget left x window length / "
            "burn rate. 'not burning' when nothing was bad in the last day; 0 when the "
            "budget is already spent.",
            "s",
            8,
            8,
        )
        .decimals(1)
        .no_value("not burning")
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(_steps((None, RED), (86400, ORANGE), (3 * 86400, YELLOW), (7 * 86400, GREEN)))
        .with_target(
            _query(
                f"clamp_min({PERIOD_BUDGET_REMAINING}{{{selector}}}, 0)"
                f" * on(slo, service) {TIME_PERIOD_DAYS}{{{selector}}} * 86400"
                f" / on(slo, service) ({daily}{{{selector}}}"
                f" / on(slo, service) {ERROR_BUDGET}{{{selector}}} > 0)",
                "exhausted in",
            )
        )
    )
    dashboard.with_panel(forecast)


def _quantile(q: str, sla: str, window: str, by: str = "le") -> str:
    elapsed = _bucket(metrics.SLA_ELAPSED)
    increase = f'increase({elapsed}{{sla="{sla}"}}[{window}])'
    # no stopped clock in the window gives NaN: leave it out, the panel says "no data"
    return f"histogram_quantile({q}, sum by ({by}) ({increase})) >= 0"


def _detail_times(dashboard: builders.Dashboard) -> None:
    dashboard.with_row(builders.Row("Response and resolution times (business hours)"))
    for sla, label in (("first_response", "First reply"), ("resolution", "Resolution")):
        panel = _timeseries(
            f"{label} time: p50, p90, p95",
            f"Business time to {label.lower()} of the clocks that stopped in the trailing 24 "
            "hours, all priorities, estimated from the histogram buckets of "
            f"{metrics.SLA_ELAPSED.name}. p90: 90% of tickets were faster.",
            "s",
            8,
            8,
        ).axis_soft_min(0)
        for ref, quantile, legend in (
            ("A", "0.5", "p50"),
            ("B", "0.9", "p90"),
            ("C", "0.95", "p95"),
        ):
            panel.with_target(_query(_quantile(quantile, sla, "1d"), legend, ref=ref))
        dashboard.with_panel(panel)
        by_priority = (
            bargauge.Panel()
            .title(f"{label} p90 by priority")
            .description(
                f"90th percentile of business time to {label.lower()} over the dashboard's "
                "time range, per priority."
            )
            .unit("s")
            .span(4)
            .height(8)
            .decimals(1)
            .min(0)
            .reduce_options(_reduce_last())
            .orientation(common.VizOrientation.HORIZONTAL)
            .display_mode(common.BarGaugeDisplayMode.GRADIENT)
            .thresholds(_steps((None, BLUE)))
            .with_target(
                _query(
                    _quantile("0.9", sla, "$__range", "le, priority"),
                    "{{priority}}",
                    instant=True,
                )
            )
        )
        dashboard.with_panel(by_priority)


def _detail_health(plan: PackPlan, dashboard: builders.Dashboard) -> None:
    dashboard.with_row(builders.Row("Exporter health"))
    stale = plan.source_stale_after
    up = (
        _stat(
            "Helpdesk reachable",
            "up when the exporter's last poll of the helpdesk succeeded; while down the "
            "exporter keeps serving its last good snapshot.",
            "short",
            4,
            6,
        )
        .mappings(
            [
                model.ValueMap(
                    options={
                        "0": model.ValueMappingResult(text="down", color=RED, index=0),
                        "1": model.ValueMappingResult(text="up", color=GREEN, index=1),
                    }
                )
            ]
        )
        .thresholds(_steps((None, RED), (1, GREEN)))
        .with_target(_query(metrics.UP.name, "{{source}}"))
    )
    dashboard.with_panel(up)

    down = plan.source_down_after
    since = (
        _stat(
            "Since last successful poll",
            "How long the exporter has gone without an answer from the helpdesk: since its "
            "last successful poll, or since it started when none succeeded yet. Orange from "
            f"half the HelpdeskSourceDown limit, red from the limit ({down.text}).",
            "s",
            4,
            6,
        )
        .decimals(0)
        .thresholds(_steps((None, GREEN), (down.seconds / 2, ORANGE), (down.seconds, RED)))
        .with_target(
            _query(f"time() - max by (source) ({metrics.LAST_SUCCESSFUL_POLL.name})", "{{source}}")
        )
    )
    dashboard.with_panel(since)

    lag = (
        _stat(
            "Watermark lag",
            "How far behind now the source's data is known complete (the watermark). Bad "
            "outcomes wait for it, so a growing lag delays them. Orange from half the "
            f"HelpdeskSourceLagging limit, red from the limit ({stale.text}).",
            "s",
            4,
            6,
        )
        .decimals(0)
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(_steps((None, GREEN), (stale.seconds / 2, ORANGE), (stale.seconds, RED)))
        .with_target(_query(f"time() - max by (source) ({metrics.WATERMARK.name})", "{{source}}"))
    )
    dashboard.with_panel(lag)

    errors = (
        _timeseries(
            "Poll and API errors",
            "Failed polls by reason, and helpdesk API responses other than 2xx by status "
            "code, per second. 429 means rate limited (the exporter honours Retry-After).",
            "short",
            6,
            6,
        )
        .axis_label("per second")
        .axis_soft_min(0)
        .with_target(
            _query(
                f"sum by (reason) (rate({metrics.POLL_ERRORS.name}[$__rate_interval]))",
                "poll: {{reason}}",
            )
        )
        .with_target(
            _query(
                f'sum by (code) (rate({metrics.API_REQUESTS.name}{{code!~"2.."}}'
                "[$__rate_interval]))",
                "API {{code}}",
                ref="B",
            )
        )
    )
    dashboard.with_panel(errors)

    headroom = (
        _timeseries(
            "Rate-limit headroom",
            "Requests left in the helpdesk's current rate-limit window, from its response "
            "headers. Near 0 the helpdesk starts answering 429.",
            "short",
            6,
            6,
        )
        .decimals(0)
        .axis_soft_min(0)
        .with_target(_query(metrics.API_RATE_LIMIT_REMAINING.name, "{{source}}"))
    )
    dashboard.with_panel(headroom)


def _slo_variable(plan: PackPlan) -> builders.QueryVariable:
    query = f"label_values({OBJECTIVE}{{{_matchers(service=plan.service)}}}, slo)"
    variable = (
        builders.QueryVariable(SLO_VARIABLE)
        .label("SLO")
        .datasource(DATASOURCE)
        .query(query)
        .definition(query)
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(False)
        .include_all(False)
    )
    if plan.slos:
        first = plan.slos[0].name
        variable.current(model.VariableOption(selected=True, text=first, value=first))
    return variable


def _detail_time_from(plan: PackPlan) -> str:
    """Default range: the first SLO's window (the burn-down counts from the range start)."""
    if not plan.slos:
        return "now-7d"
    window = _range_of_window(plan.slos[0])
    return window if window.startswith("now") else f"now-{window}"


def detail_dashboard(config: Config, plan: PackPlan | None = None) -> model.Dashboard:
    """One SLO at a time (variable ``slo``): SLI, burn rates, budget, times, exporter health."""
    plan = plan or plan_pack(config)
    dashboard = (
        _base(
            config,
            plan,
            DETAIL_UID,
            "One SLO in depth: SLI by window, burn rate per alert tier, error budget, "
            "response times and the exporter's health.",
        )
        .time(_detail_time_from(plan), "now")
        .refresh("1m")
        .with_variable(_slo_variable(plan))
        .annotation(_alerts_annotation(_slo_selector(plan.service)))
    )
    _detail_summary(plan, dashboard)
    _detail_sli(plan, dashboard)
    _detail_burn(plan, dashboard)
    _detail_budget(plan, dashboard)
    _detail_times(dashboard)
    _detail_health(plan, dashboard)
    return _finish(dashboard)


# --- wallboard ----------------------------------------------------------------------------------


def _big(panel: stat.Panel) -> stat.Panel:
    """Readable from across the room: solid colour tiles, large titles."""
    return panel.color_mode(common.BigValueColorMode.BACKGROUND_SOLID).text(
        common_builders.VizTextDisplayOptions().title_size(28)
    )


def _per_priority_thresholds(panel: stat.Panel, config: Config, warn_share: Decimal) -> stat.Panel:
    """Colour each priority against its first-response target: orange from ``warn_share``."""
    sla = config.slas.get("first_response")
    if sla is None:
        return panel
    for priority in PRIORITIES:
        target = sla.targets.get(priority)
        if target is None:
            continue
        warn = float(Decimal(str(target.seconds)) * warn_share)
        panel.with_override(
            _names(priority.value),
            [
                model.DynamicConfigValue(
                    id_val="thresholds",
                    value=_thresholds_value((None, GREEN), (warn, ORANGE), (target.seconds, RED)),
                )
            ],
        )
    return panel


def _targets_text(config: Config) -> str:
    sla = config.slas.get("first_response")
    if sla is None:
        return "no first_response SLA is configured, so no colours"
    return ", ".join(
        f"{priority.value} {sla.targets[priority].text}"
        for priority in PRIORITIES
        if priority in sla.targets
    )


def _closest_to_breach(config: Config) -> table.Panel:
    deadline = metrics.SLA_TICKET_DEADLINE.name
    count = config.exporter.top_deadlines or 10
    return (
        table.Panel()
        .title("Tickets closest to breach")
        .description(
            "Running SLA clocks nearest their deadline, soonest first: ticket, SLA metric, "
            "priority and time left. Needs the opt-in per-ticket series (exporter.top_deadlines "
            "in the config, N <= 50)."
        )
        .unit("s")
        .span(24)
        .height(10)
        .decimals(0)
        .no_value("No running clocks, or per-ticket deadlines are off (exporter.top_deadlines).")
        .thresholds(_steps((None, RED), (BREACH_SOON_SECONDS, ORANGE), (3600, GREEN)))
        .with_override(
            _names("time left"),
            [
                model.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background"}
                )
            ],
        )
        .show_header(True)
        .cell_height(common.TableCellHeight.LG)
        .sort_by([common_builders.TableSortByFieldState().display_name("time left").desc(False)])
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True, "instance": True, "job": True},
                    "indexByName": {"ticket_id": 0, "sla": 1, "priority": 2, "Value": 3},
                    "renameByName": {
                        "ticket_id": "ticket",
                        "sla": "SLA",
                        "priority": "priority",
                        "Value": "time left",
                    },
                },
            )
        )
        .with_target(
            _query(
                f"bottomk({count}, {deadline} - time())",
                instant=True,
                table_format=True,
            )
        )
    )


def wallboard_dashboard(config: Config, plan: PackPlan | None = None) -> model.Dashboard:
    """Big coloured tiles for a TV in the support room, refreshed every 30 seconds."""
    plan = plan or plan_pack(config)
    dashboard = (
        _base(
            config,
            plan,
            WALLBOARD_UID,
            "For the support room's TV: open it with ?kiosk&theme=dark. Refreshes every 30s.",
        )
        .time("now-6h", "now")
        .refresh("30s")
        .timepicker(builders.TimePicker().hidden(True).refresh_intervals(["30s", "1m", "5m"]))
        .tooltip(model.DashboardCursorSync.OFF)
    )
    assert BREACH_SOON_SECONDS in metrics.TIME_TO_BREACH_BUCKETS
    breach_soon = _bucket(metrics.SLA_TIME_TO_BREACH)
    le = quote(le_matcher(BREACH_SOON_SECONDS)["le"])
    urgent = _big(
        _stat(
            "Urgent: breaching in < 15 min",
            "Running SLA clocks of urgent tickets with less than 15 minutes left (all SLA "
            "metrics). Someone should pick these up now.",
            "short",
            6,
            9,
        )
        .decimals(0)
        .thresholds(_steps((None, GREEN), (1, ORANGE), (3, RED)))
        .with_target(
            _query(
                f'sum({breach_soon}{{priority="urgent", le=~{le}}}) or vector(0)',
                "urgent, < 15 min",
            )
        )
    )
    dashboard.with_panel(urgent)

    breached = _big(
        _stat(
            "Breached, still open",
            "SLA clocks of open tickets already past their deadline (a ticket counts once per "
            "breached SLA metric). They stay here until the ticket is answered or solved.",
            "short",
            6,
            9,
        )
        .decimals(0)
        .thresholds(_steps((None, GREEN), (1, ORANGE), (5, RED)))
        .with_target(
            _query(
                f'sum({metrics.SLA_OPEN_TIMERS.name}{{state="breached"}}) or vector(0)',
                "breached",
            )
        )
    )
    dashboard.with_panel(breached)

    oldest = _big(
        _stat(
            "Oldest unanswered ticket",
            "Age (wall clock) of the oldest open ticket still without a first reply, per "
            "priority. Orange from half the priority's first-response target, red from the "
            f"target ({_targets_text(config)}); targets count business hours, so off hours "
            "look older than they are.",
            "s",
            12,
            9,
        )
        .decimals(0)
        .no_value("none waiting")
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .thresholds(_steps((None, GREEN)))
        .with_target(
            _query(
                f"time() - min by (priority) ({metrics.OLDEST_UNANSWERED.name})",
                "{{priority}}",
            )
        )
    )
    dashboard.with_panel(_per_priority_thresholds(oldest, config, Decimal("0.5")))

    budget = _big(
        _stat(
            "Error budget left",
            "Share of each SLO's error budget left in its window: 100% untouched, 0% spent, "
            "below 0 overspent. Red below 0, orange below 25%, yellow below 50%.",
            "percentunit",
            16,
            9,
        )
        .decimals(0)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .thresholds(_budget_steps())
        .with_target(
            _query(f"{PERIOD_BUDGET_REMAINING}{{{_matchers(service=config.service)}}}", "{{slo}}")
        )
    )
    dashboard.with_panel(budget)

    p90 = _big(
        _stat(
            "First reply p90 today",
            "90% of today's first replies came within this business time, per priority (since "
            "midnight in the team's time zone). Orange from 75% of the priority's target, red "
            f"from the target ({_targets_text(config)}).",
            "s",
            8,
            9,
        )
        .decimals(0)
        .no_value("no replies yet")
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .time_from("now/d")
        .hide_time_override(True)
        .thresholds(_steps((None, GREEN)))
        .with_target(
            _query(
                _quantile("0.9", "first_response", "$__range", "le, priority"),
                "{{priority}}",
                instant=True,
            )
        )
    )
    dashboard.with_panel(_per_priority_thresholds(p90, config, Decimal("0.75")))

    dashboard.with_panel(_closest_to_breach(config))
    return _finish(dashboard)


# --- output -------------------------------------------------------------------------------------


def to_json(dashboard: model.Dashboard) -> str:
    """Pretty JSON with sorted keys and a trailing newline: the same input, the same bytes."""
    return json.dumps(dashboard, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def dashboards(config: Config, plan: PackPlan | None = None) -> dict[str, model.Dashboard]:
    """The three dashboards by uid.

    ``plan`` is the rules' plan (alert tiers, windows); pass the one the rules
    were rendered from so both agree, or leave it out to plan with the defaults.
    """
    plan = plan or plan_pack(config)
    return {
        OVERVIEW_UID: overview_dashboard(config, plan),
        DETAIL_UID: detail_dashboard(config, plan),
        WALLBOARD_UID: wallboard_dashboard(config, plan),
    }


def dashboard_files(config: Config, plan: PackPlan | None = None) -> dict[str, str]:
    """``{"dashboards/<uid>.json": JSON text}`` for the pack writer."""
    built = dashboards(config, plan)
    return {f"dashboards/{uid}.json": to_json(dashboard) for uid, dashboard in built.items()}


def _panels(dashboard_json: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for panel in dashboard_json.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def panel_queries(dashboard_json: Mapping[str, Any]) -> list[str]:
    """Every PromQL expression a dashboard runs (panel targets, then annotations), in order.

    Grafana variables are left as written (``$slo``, ``$__range``,
    ``$__rate_interval``); the caller substitutes them before evaluating.
    """
    queries: list[str] = []
    for panel in _panels(dashboard_json):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if isinstance(expr, str) and expr:
                queries.append(expr)
    annotations: Sequence[Mapping[str, Any]] = (
        dashboard_json.get("annotations", {}).get("list") or []
    )
    for annotation in annotations:
        expr = annotation.get("expr")
        if isinstance(expr, str) and expr:
            queries.append(expr)
    return queries
