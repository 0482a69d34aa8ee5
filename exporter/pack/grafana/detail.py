"""The ``helpdesk-slo-detail`` dashboard: one SLO at a time, from SLI to exporter health."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from decimal import Decimal

with warnings.catch_warnings():
    # The classic dashboard model warns on import that a v2 model exists; the JSON schemas
    # the dashboards are validated against (schemaVersion 42) are the classic ones.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import bargauge
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as builders
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as model

from exporter import metrics
from exporter.config import Config, Severity
from exporter.pack.grafana.panels import (
    BLUE,
    DATASOURCE,
    GREEN,
    ORANGE,
    RED,
    SLI_WINDOWS,
    SLO_VARIABLE,
    YELLOW,
    _alerts_annotation,
    _base,
    _budget_steps,
    _burn_down,
    _compliance,
    _dashed,
    _finish,
    _fixed_colour,
    _matchers,
    _names,
    _quantile,
    _query,
    _range_of_window,
    _reduce_last,
    _stat,
    _steps,
    _threshold_lines,
    _timeseries,
)
from exporter.pack.names import (
    CURRENT_BURN_RATE,
    DETAIL_UID,
    ERROR_BUDGET,
    OBJECTIVE,
    PERIOD_BUDGET_REMAINING,
    TIME_PERIOD_DAYS,
)
from exporter.pack.rules import (
    FORECAST_WINDOW,
    PackPlan,
    Window,
    events_name,
    format_window,
    le_matcher,
    number,
    plan_pack,
    quote,
    ratio_name,
    selector,
)


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
            "line is the objective. For an availability SLO an event is a business minute.",
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
            "is decided the moment the threshold passes, not when the reply finally comes. "
            "For an availability SLO: business minutes, up (good) or down (bad).",
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


#: ``le`` bounds drawn in the "about to pass the threshold" panel (seconds; 0: already past).
QUEUE_BUCKETS = (0.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


def _bucket_of_selected(bucket: str, bound: float) -> str:
    """One ``le`` bucket of ``bucket`` for the selected SLO (the rules' own ``le`` matcher)."""
    return f"max({bucket}{selector({'slo': f'${SLO_VARIABLE}'}, le_matcher(bound))})"


def _detail_queue(plan: PackPlan, dashboard: builders.Dashboard) -> None:
    """Tickets about to pass the SLO threshold, and the lead the imminent-backlog page uses."""
    leads = {slo.name: slo.backlog_lead for slo in plan.slos if slo.backlog_lead is not None}
    if not leads:
        return
    dashboard.with_row(builders.Row("Tickets about to pass the threshold"))
    bucket = f"{metrics.SLO_TIME_TO_THRESHOLD.name}_bucket"
    queue = _timeseries(
        "Open tickets by time left to the SLO threshold",
        "Open tickets whose clock runs, counted when they will be past the SLO threshold "
        "within each lead time (business calendar: a ticket waiting overnight counts from "
        "the morning). 'past' is already late. SupportSLOBacklogImminent pages when the "
        "count within the SLO's lead reaches its number and exceeds the tickets answered in "
        "time over the same lead (time SLOs only).",
        "short",
        16,
        8,
    ).axis_soft_min(0)
    for index, bound in enumerate(QUEUE_BUCKETS):
        legend = "past" if bound == 0 else f"within {format_window(round(bound))}"
        queue.with_target(
            _query(
                _bucket_of_selected(bucket, bound),
                legend,
                ref=chr(ord("A") + index),
            )
        )
    dashboard.with_panel(queue)
    groups: dict[float, list[str]] = {}
    for name, lead in leads.items():
        groups.setdefault(lead, []).append(name)
    within = " or ".join(
        f"({_bucket_of_selected(bucket, lead)} and on() "
        f"{OBJECTIVE}{{slo=~{quote('|'.join(names))}, {_slo_selector(plan.service)}}})"
        for lead, names in sorted(groups.items())
    )
    tickets = {
        slo.name: Decimal(slo.backlog_imminent_tickets)
        for slo in plan.slos
        if slo.backlog_imminent_tickets is not None
    }
    imminent = (
        _stat(
            "About to pass within the lead",
            "Open tickets that will be past the threshold within the selected SLO's lead "
            f"time ({', '.join(sorted({format_window(round(v)) for v in leads.values()}))}); "
            "red from the number that can raise SupportSLOBacklogImminent.",
            "short",
            8,
            8,
        )
        .decimals(0)
        .no_value("none")
        .thresholds(_steps((None, GREEN), (1, ORANGE)))
        .with_target(_query(within, "about to pass"))
    )
    threshold = _per_slo(plan, tickets)
    if threshold is not None:
        imminent.with_target(_query(threshold, "page", ref="B")).with_transformation(
            _red_from_query("B", "page")
        )
    dashboard.with_panel(imminent)


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
    _detail_queue(plan, dashboard)
    _detail_times(dashboard)
    _detail_health(plan, dashboard)
    return _finish(dashboard)
