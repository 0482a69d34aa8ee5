"""What the pack's dashboards share: names, data source, panel builders, links and the frame."""

from __future__ import annotations

import warnings
from decimal import Decimal

with warnings.catch_warnings():
    # The classic dashboard model warns on import that a v2 model exists; the JSON schemas
    # the dashboards are validated against (schemaVersion 42) are the classic ones.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as builders
    from grafana_foundation_sdk.builders import prometheus as promql
    from grafana_foundation_sdk.builders import stat, timeseries
    from grafana_foundation_sdk.cog.builder import Builder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as model
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from exporter import metrics
from exporter.config import Config
from exporter.pack import GENERATED_MARKER
from exporter.pack.names import (
    DETAIL_UID,
    ERROR_BUDGET,
    OVERVIEW_UID,
    PERIOD_BURN_RATE,
    UIDS,
    WALLBOARD_UID,
)
from exporter.pack.rules import (
    STANDARD_WINDOWS,
    PackPlan,
    SloPlan,
    Window,
    number,
    quote,
)

TAG = "helpdesk-slo"

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

    A promql or availability SLO has no exporter gauges for its calendar period: the
    rules give it a rolling window of the same nominal length instead.
    """
    return plan.calendar if plan.kind.counted_by_exporter else None


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


def _budget_steps() -> builders.ThresholdsConfig:
    return _steps((None, RED), (0, ORANGE), (0.25, YELLOW), (0.5, GREEN))


def _quantile(q: str, sla: str, window: str, by: str = "le") -> str:
    elapsed = _bucket(metrics.SLA_ELAPSED)
    increase = f'increase({elapsed}{{sla="{sla}"}}[{window}])'
    # no stopped clock in the window gives NaN: leave it out, the panel says "no data"
    return f"histogram_quantile({q}, sum by ({by}) ({increase})) >= 0"
