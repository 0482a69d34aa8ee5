"""The ``helpdesk-slo-wallboard`` dashboard: big tiles for the support room's TV."""

from __future__ import annotations

import warnings
from decimal import Decimal

with warnings.catch_warnings():
    # The classic dashboard model warns on import that a v2 model exists; the JSON schemas
    # the dashboards are validated against (schemaVersion 42) are the classic ones.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as builders
    from grafana_foundation_sdk.builders import stat, table
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as model

from exporter import metrics
from exporter.config import Config
from exporter.model import PRIORITIES
from exporter.pack.grafana.panels import (
    BREACH_SOON_SECONDS,
    GREEN,
    ORANGE,
    RED,
    _base,
    _bucket,
    _budget_steps,
    _finish,
    _matchers,
    _names,
    _quantile,
    _query,
    _stat,
    _steps,
    _thresholds_value,
)
from exporter.pack.names import PERIOD_BUDGET_REMAINING, WALLBOARD_UID
from exporter.pack.rules import (
    PackPlan,
    le_matcher,
    plan_pack,
    quote,
)


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
