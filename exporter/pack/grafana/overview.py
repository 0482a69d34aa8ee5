"""The ``helpdesk-slo-overview`` dashboard: one row per SLO, then ticket inflow and SLA outcomes."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # The classic dashboard model warns on import that a v2 model exists; the JSON schemas
    # the dashboards are validated against (schemaVersion 42) are the classic ones.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import bargauge
    from grafana_foundation_sdk.builders import dashboard as builders
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as model

from exporter import metrics
from exporter.config import Config, Severity, SloKind
from exporter.model import PRIORITIES
from exporter.pack.grafana.panels import (
    BLUE,
    GREEN,
    ORANGE,
    RED,
    LinkBuilders,
    _alerts_annotation,
    _base,
    _burn_down,
    _compliance,
    _detail_link,
    _finish,
    _fixed_colour,
    _matchers,
    _names,
    _number,
    _query,
    _range_of_window,
    _reduce_last,
    _stat,
    _steps,
    _threshold_lines,
    _timeseries,
    _window_text,
)
from exporter.pack.grafana.status import add_status_time_row
from exporter.pack.names import CURRENT_BURN_RATE, OVERVIEW_UID, PERIOD_BUDGET_REMAINING
from exporter.pack.rules import (
    PackPlan,
    SloPlan,
    number,
    plan_pack,
)
from exporter.units import format_percent


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
            f"Share of good events of {plan.name} over its window ({window})"
            + (
                ": business minutes in which it was available"
                if plan.kind is SloKind.AVAILABILITY
                else ""
            )
            + f". Green at or above the objective ({objective}), red below it.",
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
    if not plan.kind.counted_by_exporter:
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
    """Every SLO at a glance, one row each, then tickets and SLA outcomes, and where the time
    goes."""
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
    add_status_time_row(dashboard)
    return _finish(dashboard)
