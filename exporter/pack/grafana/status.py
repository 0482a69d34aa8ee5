"""The "Where the time goes" panels: business time per status group, one stacked panel per priority.

They read ``helpdesk_ticket_status_business_seconds_total{status, priority}``
(see docs/design.md): at each time step, the share of the business time that
tickets of one priority spent open (working), reopened (working again after a
solve), pending (waiting on the customer) and on hold or escalated.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # The classic dashboard model warns on import that a v2 model exists (see panels.py).
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as builders
    from grafana_foundation_sdk.builders import timeseries
    from grafana_foundation_sdk.models import common

from exporter import metrics
from exporter.model import PRIORITIES
from exporter.pack.grafana.panels import BLUE, ORANGE, YELLOW, _fixed_colour, _names, _query
from exporter.pack.grafana.panels import _timeseries as _new_timeseries
from exporter.status_time import ON_HOLD, OPEN, PENDING, REOPENED

#: colour of each status group's series: the team's work in blues, waiting in warm colours
STATUS_COLOURS: dict[str, str] = {
    OPEN: BLUE,
    REOPENED: "purple",
    PENDING: YELLOW,
    ON_HOLD: ORANGE,
}


def status_share_query(priority: str, window: str = "$__rate_interval") -> str:
    """Share of the business time of ``priority`` tickets per status group over ``window``;
    nothing where no time accrued (outside business hours, or no ticket)."""
    name = metrics.TICKET_STATUS_SECONDS.name
    selector = f'{name}{{priority="{priority}"}}'
    return (
        f"sum by (status) (increase({selector}[{window}]))\n"
        f"/ ignoring (status) group_left ()\n"
        f"(sum(increase({selector}[{window}])) > 0)"
    )


def _status_panel(priority: str) -> timeseries.Panel:
    panel = (
        _new_timeseries(
            f"Where the time goes: {priority}",
            f"Share of the business time {priority} tickets spent in each status group, at "
            "each time step (from "
            f"{metrics.TICKET_STATUS_SECONDS.name}, on the resolution SLA's calendar): "
            "open and reopened (open again after a solve) are the team's work, pending is "
            "waiting on the customer, on_hold is on hold or escalated. Solved tickets count in "
            "none; outside business hours nothing accrues and the panel is empty.",
            "percentunit",
            6,
            8,
        )
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .line_width(1)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        .min(0)
        .max(1)
        .decimals(0)
        .with_target(_query(status_share_query(priority), "{{status}}"))
    )
    for group, colour in STATUS_COLOURS.items():
        panel.with_override(_names(group), [_fixed_colour(colour)])
    return panel


def add_status_time_row(dashboard: builders.Dashboard) -> None:
    """A row "Where the time goes" with one panel per priority."""
    dashboard.with_row(builders.Row("Where the time goes (business hours)"))
    for priority in PRIORITIES:
        dashboard.with_panel(_status_panel(priority.value))
