"""``helpdesk-slo suggest``: SLOs proposed from history, tighter than the SLA they protect.

For every SLA metric and priority with a target, three candidate thresholds
(:data:`SHARES`: 50%, 60% and 70% of the target, i.e. 50%, 40% and 30%
tighter) are replayed over the history by the decision core
(:func:`exporter.engine.decide`, as ``evaluate`` and ``backfill`` do): each
clock cycle of a ticket of that priority is one good or bad event, counted in
the ISO week (in the config's time zone, as ``window: week`` is) of its
decision instant, and overall.

The recommendation per metric and priority is the tightest candidate for
which one of the round objectives of :data:`OBJECTIVES` is *met in most
weeks* (at least three weeks in four, among the weeks with events) and over
the whole history, taking the highest such objective, so that it is not met
trivially; it needs :data:`MIN_EVENTS` decided events over at least
:data:`MIN_WEEKS` weeks.  Headroom is the overall compliance minus the
objective (``96.1%`` against ``95%``: 1.1% budget headroom).

:func:`slos_yaml` writes the recommendations as a ``slos:`` block and
:func:`apply_to_config` adds them to a copy of a config's text, replacing
SLOs of the same name and keeping every other line (comments included).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

import yaml

from exporter.config import Config, SloConfig
from exporter.engine import Plan, decide
from exporter.model import PRIORITIES, Ticket
from exporter.records import SkippedRecord, evaluate_ticket
from exporter.selection import percent_floor
from exporter.slo import Result
from exporter.units import format_duration, format_percent

#: candidate thresholds as shares of the SLA target, tightest first
SHARES: tuple[Decimal, ...] = (Decimal("0.5"), Decimal("0.6"), Decimal("0.7"))
#: round objectives a recommendation may take, highest first
OBJECTIVES: tuple[Decimal, ...] = (
    Decimal("0.995"),
    Decimal("0.99"),
    Decimal("0.975"),
    Decimal("0.95"),
    Decimal("0.9"),
)
#: "most weeks": at least this share of the weeks with events meet the objective
MOST_WEEKS = Decimal("0.75")
#: a recommendation needs at least this many decided events ...
MIN_EVENTS = 20
#: ... spread over at least this many weeks
MIN_WEEKS = 4
#: the window the suggested SLOs are written with
WINDOW = "28d"


@dataclass
class Week:
    """Decided events of one candidate in one ISO week."""

    label: str
    good: int = 0
    bad: int = 0
    #: wholly inside the history; only whole weeks count in "met in N of M weeks"
    whole: bool = True

    @property
    def total(self) -> int:
        return self.good + self.bad

    def meets(self, objective: Decimal) -> bool:
        return self.total > 0 and Decimal(self.good) >= objective * self.total


@dataclass
class Candidate:
    """One threshold replayed over the history."""

    share: Decimal
    threshold_seconds: float
    weeks: list[Week]
    pending: int = 0

    @property
    def good(self) -> int:
        return sum(week.good for week in self.weeks)

    @property
    def bad(self) -> int:
        return sum(week.bad for week in self.weeks)

    @property
    def compliance(self) -> float | None:
        total = self.good + self.bad
        return self.good / total if total else None

    @property
    def weeks_with_events(self) -> int:
        """Whole weeks with decided events."""
        return sum(1 for week in self.weeks if week.whole and week.total)

    def weeks_meeting(self, objective: Decimal) -> int:
        """Whole weeks whose compliance meets ``objective``."""
        return sum(1 for week in self.weeks if week.whole and week.meets(objective))

    def meets(self, objective: Decimal) -> bool:
        total = self.good + self.bad
        return total > 0 and Decimal(self.good) >= objective * total

    def headroom(self, objective: Decimal) -> Decimal:
        """Overall compliance minus ``objective``, in percentage points, rounded down to 0.1."""
        total = self.good + self.bad
        points = (Decimal(self.good) / total - objective) * 100
        return points.quantize(Decimal("0.1"), rounding=ROUND_FLOOR)

    @property
    def label(self) -> str:
        return f"{format_percent(self.share)} ({format_duration(self.threshold_seconds)})"


@dataclass(frozen=True)
class Recommendation:
    candidate: Candidate
    objective: Decimal
    weeks_met: int
    weeks: int

    def said(self) -> str:
        """``met in 10 of 13 weeks, 2.1% budget headroom (97.1% overall)``."""
        c = self.candidate
        return (
            f"met in {self.weeks_met} of {self.weeks} weeks, {c.headroom(self.objective)}% "
            f"budget headroom ({percent_floor(c.good, c.good + c.bad)} overall)"
        )


@dataclass
class Suggestion:
    """The candidates of one SLA metric and priority, and what is recommended of them."""

    metric: str
    priority: str
    target_seconds: float
    candidates: list[Candidate]
    recommendation: Recommendation | None = None
    #: why there is no recommendation
    reason: str = ""

    @property
    def name(self) -> str:
        """The suggested SLO's name: ``urgent-first-response``."""
        return f"{self.priority}-{self.metric.replace('_', '-')}"

    @property
    def title(self) -> str:
        return (
            f"{self.metric}, {self.priority} tickets "
            f"(SLA target {format_duration(self.target_seconds)})"
        )


@dataclass
class Review:
    """Every suggestion over one history."""

    at: float
    start: float
    timezone: str
    tickets: int
    weeks: list[str]
    #: the weeks wholly inside the history
    whole: set[str]
    suggestions: list[Suggestion] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return sum(c.good + c.bad for s in self.suggestions for c in s.candidates)


def _weeks(count: int) -> str:
    return f"{count} week" if count == 1 else f"{count} weeks"


def _candidate_name(metric: str, priority: str, share: Decimal) -> str:
    return f"{priority}-{metric.replace('_', '-')}-{int(share * 100)}"


def _week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def iso_weeks(start: float, end: float, timezone: str) -> list[str]:
    """The ISO weeks (``2026-W36``) from the one holding ``start`` to the one holding ``end``."""
    zone = ZoneInfo(timezone)
    day = datetime.fromtimestamp(start, UTC).astimezone(zone).date()
    # a history ending on Monday 00:00 holds nothing of that week
    last = datetime.fromtimestamp(max(start, end - 0.001), UTC).astimezone(zone).date()
    day -= timedelta(days=day.weekday())
    weeks = []
    while day <= last:
        weeks.append(_week_label(day))
        day += timedelta(days=7)
    return weeks


def whole_weeks(start: float, end: float, timezone: str) -> list[str]:
    """The ISO weeks from Monday 00:00 to Monday 00:00 wholly inside ``[start, end]``."""
    zone = ZoneInfo(timezone)
    weeks = []
    for label in iso_weeks(start, end, timezone):
        monday = date.fromisocalendar(int(label[:4]), int(label[6:]), 1)
        first = datetime(monday.year, monday.month, monday.day, tzinfo=zone).timestamp()
        after = monday + timedelta(days=7)
        last = datetime(after.year, after.month, after.day, tzinfo=zone).timestamp()
        if start <= first and last <= end:
            weeks.append(label)
    return weeks


def review(config: Config, tickets: Iterable[Ticket], at: float, start: float) -> Review:
    """Replay every candidate over the tickets created in ``[start, at]``, decided as of ``at``."""
    candidates: list[SloConfig] = []
    keys: dict[str, tuple[str, str, Decimal]] = {}
    targets: dict[tuple[str, str], float] = {}
    for metric, sla in config.slas.items():
        for priority in PRIORITIES:
            target = sla.targets.get(priority)
            if target is None:
                continue
            targets[(str(metric), priority.value)] = target.seconds
            for share in SHARES:
                name = _candidate_name(str(metric), priority.value, share)
                keys[name] = (str(metric), priority.value, share)
                candidates.append(
                    SloConfig.model_validate(
                        {
                            "name": name,
                            "sla": str(metric),
                            "match": {"priority": [priority.value]},
                            "threshold": format_percent(share),
                            "objective": "90%",
                        }
                    )
                )
    plan = Plan(config.model_copy(update={"slos": candidates}))
    timezone = plan.evaluator.timezone
    zone = ZoneInfo(timezone)
    weeks = iso_weeks(start, at, timezone)
    whole = set(whole_weeks(start, at, timezone))
    counts: dict[str, dict[str, Week]] = {name: {} for name in keys}
    pending: dict[str, int] = dict.fromkeys(keys, 0)
    result = Review(at, start, timezone, 0, weeks, whole)
    for ticket in tickets:
        created = ticket.created_at.timestamp()
        if not start <= created <= at:
            continue
        result.tickets += 1
        decision = evaluate_ticket(ticket, lambda t: decide(plan, t, at, at))
        if isinstance(decision, SkippedRecord):
            result.skipped.append(decision)
            continue
        for row in decision.slo_outcomes:
            day = datetime.fromtimestamp(row.decided_at, UTC).astimezone(zone).date()
            label = _week_label(day)
            week = counts[row.slo].setdefault(label, Week(label))
            if row.result == Result.GOOD.value:
                week.good += 1
            else:
                week.bad += 1
        for name, outcomes in decision.slos.items():
            pending[name] += sum(1 for o in outcomes if o.result is Result.PENDING)
    for (metric_name, priority_name), target_seconds in targets.items():
        suggestion = Suggestion(metric_name, priority_name, target_seconds, [])
        for share in SHARES:
            name = _candidate_name(metric_name, priority_name, share)
            by_week = counts[name]
            for label, week in by_week.items():
                week.whole = label in whole
            suggestion.candidates.append(
                Candidate(
                    share,
                    float(share) * target_seconds,
                    [by_week.get(label, Week(label, whole=label in whole)) for label in weeks],
                    pending[name],
                )
            )
        recommend(suggestion)
        result.suggestions.append(suggestion)
    return result


def recommend(suggestion: Suggestion) -> None:
    """The tightest candidate whose history meets a round objective in most weeks."""
    loosest = suggestion.candidates[-1]
    if loosest.good + loosest.bad < MIN_EVENTS or loosest.weeks_with_events < MIN_WEEKS:
        suggestion.reason = (
            f"too little history: {loosest.good + loosest.bad} decided events in "
            f"{_weeks(loosest.weeks_with_events)} (a suggestion needs {MIN_EVENTS} events "
            f"over {MIN_WEEKS} weeks)"
        )
        return
    for candidate in suggestion.candidates:
        weeks = candidate.weeks_with_events
        if candidate.good + candidate.bad < MIN_EVENTS or weeks < MIN_WEEKS:
            continue
        for objective in OBJECTIVES:
            met = candidate.weeks_meeting(objective)
            if Decimal(met) >= MOST_WEEKS * weeks and candidate.meets(objective):
                suggestion.recommendation = Recommendation(candidate, objective, met, weeks)
                return
    floor = OBJECTIVES[-1]
    suggestion.reason = (
        f"even at {loosest.label} history met {format_percent(floor)} in only "
        f"{loosest.weeks_meeting(floor)} of {loosest.weeks_with_events} weeks "
        f"({percent_floor(loosest.good, loosest.good + loosest.bad)} overall): "
        "the team first needs to keep the SLA itself"
    )


# --- output ------------------------------------------------------------------------------------


def _cell(week: Week) -> str:
    return f"{percent_floor(week.good, week.total)} of {week.total}" if week.total else "-"


def table_lines(result: Review, where: str) -> list[str]:
    """The human table: per SLA metric and priority, weekly and overall compliance of each
    candidate, and the recommendation."""
    lines = [
        f"SLO review of {where}: {result.tickets} tickets created from "
        f"{_iso(result.start)} to {_iso(result.at)}; ISO weeks in {result.timezone}",
        '(* a week only partly inside the history: shown, not counted in "met in N of M weeks")',
    ]
    for suggestion in result.suggestions:
        lines += ["", suggestion.title]
        rows = [["WEEK", *(c.label for c in suggestion.candidates)]]
        for index, label in enumerate(result.weeks):
            shown = label if label in result.whole else f"{label}*"
            rows.append([shown, *(_cell(c.weeks[index]) for c in suggestion.candidates)])
        rows.append(
            [
                "overall",
                *(_cell(Week("", c.good, c.bad)) for c in suggestion.candidates),
            ]
        )
        rows.append(["pending", *(str(c.pending) for c in suggestion.candidates)])
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        recommendation = suggestion.recommendation
        if recommendation is None:
            lines.append(f"no suggestion: {suggestion.reason}")
        else:
            lines.append(
                f"suggested: {suggestion.name}: threshold {recommendation.candidate.label}, "
                f"objective {format_percent(recommendation.objective)} — {recommendation.said()}"
            )
    return lines


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_PHRASES = {
    "first_response": "a first response",
    "next_response": "each next response",
    "resolution": "a resolution",
}


def slo_entry(suggestion: Suggestion) -> list[str]:
    """One suggested SLO as YAML lines of a block sequence item (``- name: ...``), with
    comments saying what history shows."""
    recommendation = suggestion.recommendation
    if recommendation is None:
        return [
            f"# {suggestion.metric}, {suggestion.priority}: no suggestion ({suggestion.reason})"
        ]
    candidate = recommendation.candidate
    threshold = format_percent(candidate.share)
    phrase = _PHRASES.get(suggestion.metric, suggestion.metric)
    target = format_duration(suggestion.target_seconds)
    return [
        f"# {suggestion.metric}, {suggestion.priority}: "
        f"{format_duration(candidate.threshold_seconds)} ({threshold} of the {target} SLA "
        f"target) at {format_percent(recommendation.objective)}:",
        f"# {recommendation.said()}",
        f"- name: {suggestion.name}",
        f"  description: {suggestion.priority.capitalize()} tickets get {phrase} within "
        f"{threshold} of the SLA target.",
        f"  sla: {suggestion.metric}",
        f"  match: {{priority: [{suggestion.priority}]}}",
        f"  threshold: {threshold}",
        f"  objective: {format_percent(recommendation.objective)}",
        f"  window: {WINDOW}",
    ]


def slos_yaml(result: Review, where: str) -> str:
    """The ready-to-paste ``slos:`` block."""
    lines = [
        f"# SLOs suggested by helpdesk-slo suggest from the history of {where},",
        f"# tickets created {_iso(result.start)} to {_iso(result.at)}.",
        "slos:",
    ]
    for suggestion in result.suggestions:
        lines += [f"  {line}" for line in slo_entry(suggestion)]
    return "\n".join(lines) + "\n"


def result_json(result: Review) -> dict[str, object]:
    """The ``--format json`` document."""

    def number(value: float | None) -> float | int | None:
        if value is None:
            return None
        rounded = round(value, 9)
        return int(rounded) if rounded.is_integer() else rounded

    suggestions = []
    for s in result.suggestions:
        r = s.recommendation
        suggestions.append(
            {
                "sla": s.metric,
                "priority": s.priority,
                "target_seconds": number(s.target_seconds),
                "candidates": [
                    {
                        "threshold": format_percent(c.share),
                        "threshold_seconds": number(c.threshold_seconds),
                        "good": c.good,
                        "bad": c.bad,
                        "pending": c.pending,
                        "compliance_ratio": number(c.compliance),
                        "weeks": [
                            {
                                "week": w.label,
                                "whole": w.whole,
                                "good": w.good,
                                "bad": w.bad,
                                "compliance_ratio": number(w.good / w.total if w.total else None),
                            }
                            for w in c.weeks
                        ],
                    }
                    for c in s.candidates
                ],
                "suggested": None
                if r is None
                else {
                    "name": s.name,
                    "threshold": format_percent(r.candidate.share),
                    "threshold_seconds": number(r.candidate.threshold_seconds),
                    "objective_ratio": number(float(r.objective)),
                    "compliance_ratio": number(r.candidate.compliance),
                    "weeks_met": r.weeks_met,
                    "weeks": r.weeks,
                    "headroom_percent": number(float(r.candidate.headroom(r.objective))),
                },
                "reason": s.reason or None,
            }
        )
    return {
        "from": _iso(result.start),
        "to": _iso(result.at),
        "timezone": result.timezone,
        "tickets": result.tickets,
        "weeks": result.weeks,
        "suggestions": suggestions,
    }


# --- --apply -----------------------------------------------------------------------------------


def _last_line(node: yaml.Node) -> int:
    """The last line (0-based) holding text of ``node`` (block collections end at the next
    token, which may be lines further down)."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _last_line(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _last_line(node.value[-1])
    end = node.end_mark
    return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line


def _item_name(item: yaml.Node) -> str | None:
    if isinstance(item, yaml.MappingNode):
        for key, value in item.value:
            if key.value == "name" and isinstance(value, yaml.ScalarNode):
                return str(value.value)
    return None


def apply_to_config(
    text: str, suggestions: Iterable[Suggestion]
) -> tuple[str, list[str], list[str]]:
    """``text`` with the recommended SLOs added to ``slos:`` (an SLO of the same name is
    replaced where it stands); returns (new text, names added, names replaced)."""
    entries = {s.name: slo_entry(s) for s in suggestions if s.recommendation is not None}
    lines = text.splitlines()
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    slos_node: yaml.Node | None = None
    key_node: yaml.Node | None = None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "slos":
                key_node, slos_node = key, value
    replaced: list[str] = []

    def indented(entry: list[str], pad: str) -> list[str]:
        return [pad + line for line in entry]

    if isinstance(slos_node, yaml.SequenceNode) and not slos_node.flow_style and slos_node.value:
        pad = " " * slos_node.start_mark.column
        spans = []
        for item in slos_node.value:
            name = _item_name(item)
            if name in entries and name not in replaced:
                spans.append((item.start_mark.line, _last_line(item), name))
                replaced.append(name)
        end = _last_line(slos_node.value[-1])
        added = [name for name in entries if name not in replaced]
        new_tail = [line for name in added for line in indented(entries[name], pad)]
        lines[end + 1 : end + 1] = new_tail
        for first, last, name in sorted(spans, reverse=True):
            lines[first : last + 1] = indented(entries[name], pad)
    else:
        added = list(entries)
        block = [line for name in added for line in indented(entries[name], "  ")]
        if slos_node is None or key_node is None:
            lines += ["", "slos:", *block]
        else:
            # `slos:` empty, or a flow sequence: written out again as a block sequence
            existing: list[str] = []
            if isinstance(slos_node, yaml.SequenceNode):
                for item in slos_node.value:
                    name = _item_name(item)
                    if name in entries:
                        replaced.append(name)
                        continue
                    existing.append("  - " + text[item.start_mark.index : item.end_mark.index])
            head = lines[key_node.start_mark.line][: key_node.end_mark.column] + ":"
            first = key_node.start_mark.line
            last = max(_last_line(slos_node), first)
            lines[first : last + 1] = [head, *existing, *block]
            added = [name for name in added if name not in replaced]
    return "\n".join(lines) + "\n", added, replaced
