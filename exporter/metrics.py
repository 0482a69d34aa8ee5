"""Every metric the exporter publishes: name, type, labels and help, declared once.

The collector yields these, the rules pack queries them and the dashboards
plot them; all three read the names from here so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["counter", "gauge", "histogram", "gaugehistogram"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str


def _m(name: str, type: MetricType, labels: tuple[str, ...], help: str) -> MetricSpec:
    return MetricSpec(name, type, labels, help)


SLO_EVENTS = _m(
    "helpdesk_slo_events_total",
    "counter",
    ("slo", "result"),
    "SLO events decided since the store's epoch, by result (good or bad).",
)
SLO_OBJECTIVE = _m(
    "helpdesk_slo_objective_ratio", "gauge", ("slo",), "The SLO's objective as a ratio (0.95)."
)
SLO_PERIOD_EVENTS = _m(
    "helpdesk_slo_period_events",
    "gauge",
    ("slo", "result"),
    "SLO events decided inside the SLO's current window (rolling or calendar), by result.",
)
SLO_BUDGET_REMAINING = _m(
    "helpdesk_slo_error_budget_remaining_ratio",
    "gauge",
    ("slo",),
    "Error budget left in the SLO's current window: 1 untouched, 0 spent, below 0 overspent.",
)
SLO_WAITING_PAST_THRESHOLD = _m(
    "helpdesk_slo_waiting_past_threshold_tickets",
    "gauge",
    ("slo",),
    "Open tickets whose clock is still running past the SLO threshold (already bad, unanswered).",
)
SLO_TIME_TO_THRESHOLD = _m(
    "helpdesk_slo_time_to_threshold_seconds",
    "gaugehistogram",
    ("slo",),
    "Open tickets whose SLO clock runs, by wall-clock seconds until it passes the SLO threshold "
    "on its business calendar (le=0: already past; they count 0 in _gsum).",
)
CALENDAR_OPEN = _m(
    "helpdesk_calendar_open",
    "gauge",
    ("calendar",),
    "1 while the calendar is in business hours (its clocks run), 0 outside them.",
)
SLA_OUTCOMES = _m(
    "helpdesk_sla_outcomes_total",
    "counter",
    ("sla", "priority", "outcome"),
    "SLA clocks decided since the store's epoch: met (stopped in time) or breached.",
)
SLA_OPEN_TIMERS = _m(
    "helpdesk_sla_open_timers",
    "gauge",
    ("sla", "priority", "state"),
    "SLA clocks of open tickets by state (running, paused, breached).",
)
SLA_TIME_TO_BREACH = _m(
    "helpdesk_sla_time_to_breach_seconds",
    "gaugehistogram",
    ("sla", "priority"),
    "Running SLA clocks by seconds left until their deadline.",
)
SLA_NEXT_BREACH = _m(
    "helpdesk_sla_next_breach_timestamp_seconds",
    "gauge",
    ("sla", "priority"),
    "Deadline of the running SLA clock closest to breaching (Unix time).",
)
SLA_ELAPSED = _m(
    "helpdesk_sla_elapsed_business_seconds",
    "histogram",
    ("sla", "priority"),
    "Business seconds elapsed on stopped SLA clocks.",
)
SLA_TICKET_DEADLINE = _m(
    "helpdesk_sla_ticket_deadline_timestamp_seconds",
    "gauge",
    ("sla", "priority", "ticket_id"),
    "Deadlines of the N running clocks closest to breaching (opt-in, N <= 50).",
)
TICKETS_OPEN = _m(
    "helpdesk_tickets_open", "gauge", ("priority", "status"), "Open tickets by priority and status."
)
TICKETS_CREATED = _m(
    "helpdesk_tickets_created_total",
    "counter",
    ("priority", "channel"),
    "Tickets created since the store's epoch.",
)
TICKETS_SOLVED = _m(
    "helpdesk_tickets_solved_total",
    "counter",
    ("priority", "channel"),
    "Tickets solved since the store's epoch.",
)
TICKET_STATUS_SECONDS = _m(
    "helpdesk_ticket_status_business_seconds_total",
    "counter",
    ("status", "priority"),
    "Business seconds tickets spent in each status group (open, pending, on_hold, reopened) "
    "since the store's epoch, on the resolution SLA's calendar, up to the source's watermark.",
)
OLDEST_UNANSWERED = _m(
    "helpdesk_oldest_unanswered_ticket_timestamp_seconds",
    "gauge",
    ("priority",),
    "Creation time of the oldest open ticket still without a first reply (Unix time).",
)
TICKETS_UNASSIGNED = _m(
    "helpdesk_tickets_unassigned", "gauge", ("priority",), "Open tickets with no assignee."
)
CSAT_RATINGS = _m(
    "helpdesk_csat_ratings_total",
    "counter",
    ("rating",),
    "Satisfaction ratings since the store's epoch, by rating (good or bad).",
)
UP = _m(
    "helpdesk_up",
    "gauge",
    ("source",),
    "1 when the last poll of the helpdesk succeeded; 0 from the start until a poll succeeds.",
)
LAST_SUCCESSFUL_POLL = _m(
    "helpdesk_last_successful_poll_timestamp_seconds",
    "gauge",
    ("source",),
    "Time of the last successful poll (Unix time); until a poll succeeds after a start, the "
    "start or the stored last success, whichever is later.",
)
WATERMARK = _m(
    "helpdesk_source_watermark_timestamp_seconds",
    "gauge",
    ("source",),
    "Instant up to which the source's data is known complete (Unix time); until a poll "
    "succeeds, the stored watermark, or the start on a new store.",
)
POLL_ERRORS = _m(
    "helpdesk_poll_errors_total", "counter", ("source", "reason"), "Failed polls by reason."
)
RECORDS_SKIPPED = _m(
    "helpdesk_source_records_skipped_total",
    "counter",
    ("source", "reason"),
    "Records left out because they could not be read or evaluated, by reason "
    "(undecodable, invalid, out_of_range, evaluation); the rest of the poll went on.",
)
API_REQUESTS = _m(
    "helpdesk_api_requests_total",
    "counter",
    ("source", "code"),
    "HTTP requests to the helpdesk API by status code.",
)
API_RATE_LIMIT_REMAINING = _m(
    "helpdesk_api_rate_limit_remaining",
    "gauge",
    ("source",),
    "Requests left in the helpdesk's current rate-limit window, from its response headers.",
)
SOURCE_BACKOFF = _m(
    "helpdesk_source_backoff_seconds",
    "gauge",
    ("source",),
    "Seconds the exporter waits after the last failed poll before the next (doubling back-off, "
    "or the helpdesk's Retry-After); 0 after a successful poll.",
)
POLL_LAST_ERROR = _m(
    "helpdesk_poll_last_error_timestamp_seconds",
    "gauge",
    ("source", "reason"),
    "When a poll last failed for this reason (Unix time), for each reason seen since the start.",
)
BUILD_INFO = _m(
    "helpdesk_exporter_build_info", "gauge", ("version",), "Always 1; the exporter's version."
)

ALL: tuple[MetricSpec, ...] = (
    SLO_EVENTS,
    SLO_OBJECTIVE,
    SLO_PERIOD_EVENTS,
    SLO_BUDGET_REMAINING,
    SLO_WAITING_PAST_THRESHOLD,
    SLO_TIME_TO_THRESHOLD,
    CALENDAR_OPEN,
    SLA_OUTCOMES,
    SLA_OPEN_TIMERS,
    SLA_TIME_TO_BREACH,
    SLA_NEXT_BREACH,
    SLA_ELAPSED,
    SLA_TICKET_DEADLINE,
    TICKETS_OPEN,
    TICKETS_CREATED,
    TICKETS_SOLVED,
    TICKET_STATUS_SECONDS,
    OLDEST_UNANSWERED,
    TICKETS_UNASSIGNED,
    CSAT_RATINGS,
    UP,
    LAST_SUCCESSFUL_POLL,
    WATERMARK,
    POLL_ERRORS,
    RECORDS_SKIPPED,
    API_REQUESTS,
    API_RATE_LIMIT_REMAINING,
    SOURCE_BACKOFF,
    POLL_LAST_ERROR,
    BUILD_INFO,
)

#: Bucket bounds (seconds) of the time-to-breach gauge histogram and the elapsed histogram.
TIME_TO_BREACH_BUCKETS = (0.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0)
#: ``le`` bounds of :data:`SLO_TIME_TO_THRESHOLD`: the lead times an imminent-backlog alert
#: can choose from (``alerting.imminent_lead``).
TIME_TO_THRESHOLD_BUCKETS = (
    0.0,
    300.0,
    600.0,
    900.0,
    1200.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    86400.0,
)
ELAPSED_BUCKETS = (
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    57600.0,
    86400.0,
    172800.0,
    345600.0,
)
