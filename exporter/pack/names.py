"""The pack's names, declared once: recording rules, alerts and dashboard uids.

Rules record and alert under these names, rule tests and dashboards query them, runbooks and
Alertmanager link to them; each module imports the name from here instead of spelling it.
"""

from __future__ import annotations

# --- recording rules --------------------------------------------------------------------------

OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
TIME_PERIOD_DAYS = "slo:time_period:days"
CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
PERIOD_BURN_RATE = "slo:period_burn_rate:ratio"
PERIOD_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
#: Prefixes of the per-window rules ``slo:sli_events:increase<W>`` and
#: ``slo:sli_error:ratio_rate<W>``.
SLI_EVENTS_PREFIX = "slo:sli_events:increase"
SLI_ERROR_RATIO_PREFIX = "slo:sli_error:ratio_rate"
#: An availability SLO's sample of each minute: ``result="total"`` 1 in business hours,
#: ``result="bad"`` the share of that minute the service was down.
SLI_MINUTE = "slo:sli_minute:business"
#: business time per status group over the last day, by priority and status (exporter group)
STATUS_TIME_INCREASE = "priority_status:helpdesk_ticket_status_business_seconds:increase1d"
#: each status group's share of its priority's business time over the last day
STATUS_TIME_SHARE = "priority_status:helpdesk_ticket_status_business_seconds:share1d"

# --- alerts -----------------------------------------------------------------------------------

BURN = "SupportSLOErrorBudgetBurn"
EXHAUSTED = "SupportSLOErrorBudgetExhausted"
FORECAST = "SupportSLOBudgetExhaustionForecast"
BACKLOG = "SupportSLOBacklogBreached"
BACKLOG_IMMINENT = "SupportSLOBacklogImminent"
IMMINENT = "SupportSLABreachImminent"
ABSENT = "SupportSLOMetricsAbsent"
EXPORTER_DOWN = "HelpdeskExporterDown"
SOURCE_DOWN = "HelpdeskSourceDown"
SOURCE_STALE = "HelpdeskSourceStale"
SOURCE_LAGGING = "HelpdeskSourceLagging"
SOURCE_ALERTS = (SOURCE_DOWN, SOURCE_STALE, SOURCE_LAGGING)

# --- dashboards -------------------------------------------------------------------------------

OVERVIEW_UID = "helpdesk-slo-overview"
DETAIL_UID = "helpdesk-slo-detail"
WALLBOARD_UID = "helpdesk-slo-wallboard"
UIDS = (OVERVIEW_UID, DETAIL_UID, WALLBOARD_UID)
