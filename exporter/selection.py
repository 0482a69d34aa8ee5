"""What ``evaluate`` shows of a history: filters for people, and the tally of what is shown.

``evaluate --slo NAME --state breached --priority urgent --since 7d`` narrows
the tickets it lists.  :class:`Selection` holds those filters;
:func:`select` applies them to one ticket's evaluation and keeps the SLA
clocks and SLO outcomes that are shown; :func:`tally` counts the shown SLO
outcomes per SLO (every cycle of every listed ticket), which is the summary
line ``evaluate --format table`` prints and ``selection.slos`` of its JSON.

Filters, all optional and combined with *and*:

* ``slos``: tickets an SLO counts (with at least one outcome of one of them);
  only those SLOs' outcomes, and only the clocks of the SLA metrics they ask
  (every clock when one of them is a ``csat`` SLO) are shown;
* ``states``: SLA clocks in one of these states (``running paused met
  breached``); a ticket without such a shown clock is left out;
* ``priorities``: the ticket's priority;
* ``since``: tickets created at or after this instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from exporter.config import Config, SloKind
from exporter.model import PRIORITIES, Ticket
from exporter.sla import ClockState, ClockStatus
from exporter.slo import Outcome, Result, TicketEvaluation
from exporter.units import format_percent

#: the values of ``evaluate --state``
STATES: tuple[str, ...] = tuple(state.value for state in ClockState)


class SelectionError(ValueError):
    """A filter names something the config or the model does not know (bad usage)."""


@dataclass(frozen=True)
class Selection:
    """The filters of ``evaluate``; an empty set means "no filter"."""

    slos: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()
    priorities: frozenset[str] = frozenset()
    since: float | None = None

    def check(self, config: Config, where: str) -> None:
        """Raise :class:`SelectionError` for an SLO or priority nobody knows (``where``: the
        config file, for the message)."""
        known = [slo.name for slo in config.slos if slo.kind.counted_by_exporter]
        computed = {slo.name: slo.kind for slo in config.slos if not slo.kind.counted_by_exporter}
        for name in sorted(self.slos):
            if name in computed:
                raise SelectionError(
                    f"--slo {name}: a {computed[name].value} SLO is computed by Prometheus, "
                    "not by evaluate; "
                    f"SLOs evaluate knows in {where}: {', '.join(known) or 'none'}"
                )
            if name not in known:
                raise SelectionError(
                    f"--slo {name!r}: no such SLO in {where}; "
                    f"known: {', '.join(known) or 'none (the config has no slos:)'}"
                )
        names = [p.value for p in PRIORITIES]
        for priority in sorted(self.priorities):
            if priority not in names:
                raise SelectionError(
                    f"--priority {priority!r}: not a priority; known: {', '.join(names)} "
                    "(helpdesk priorities are mapped onto these by source.priority_map)"
                )

    def admits(self, ticket: Ticket) -> bool:
        """Whether the ticket passes the filters that need no evaluation."""
        if self.priorities and ticket.priority.value not in self.priorities:
            return False
        return self.since is None or ticket.created_at.timestamp() >= self.since


@dataclass
class ShownTicket:
    """One listed ticket: the clocks (latest cycle per SLA metric) and SLO outcomes shown."""

    ticket: Ticket
    slas: dict[str, ClockStatus] = field(default_factory=dict)
    #: SLO -> the outcome of every cycle, oldest first
    slos: dict[str, list[Outcome]] = field(default_factory=dict)


def select(
    config: Config, selection: Selection, evaluation: TicketEvaluation
) -> ShownTicket | None:
    """What of ``evaluation`` is shown under ``selection``; None when the ticket is left out."""
    ticket = evaluation.ticket
    if not selection.admits(ticket):
        return None
    slos = {
        name: sorted(outcomes, key=lambda o: o.cycle)
        for name, outcomes in evaluation.slos.items()
        if outcomes and (not selection.slos or name in selection.slos)
    }
    if selection.slos and not slos:
        return None
    metrics: set[str] | None = None
    if selection.slos:
        named = [slo for slo in config.slos if slo.name in selection.slos]
        if all(slo.kind is SloKind.TIME for slo in named):
            metrics = {slo.sla for slo in named if slo.sla is not None}
    slas = {}
    for metric, statuses in evaluation.slas.items():
        if not statuses or (metrics is not None and metric not in metrics):
            continue
        status = max(statuses, key=lambda s: s.cycle)
        if selection.states and status.state.value not in selection.states:
            continue
        slas[metric] = status
    if selection.states and not slas:
        return None
    return ShownTicket(ticket, slas, slos)


@dataclass(frozen=True)
class Tally:
    """The shown outcomes of one SLO: every cycle of every listed ticket."""

    good: int
    bad: int
    pending: int
    objective: Decimal

    @property
    def compliance(self) -> float | None:
        """good / (good + bad); None when nothing is decided."""
        decided = self.good + self.bad
        return self.good / decided if decided else None

    def line(self, name: str) -> str:
        """``NAME: 41 good, 2 bad, 3 pending — 95.3% (objective 95%)``."""
        share = (
            "no decided events"
            if self.good + self.bad == 0
            else percent_floor(self.good, self.good + self.bad)
        )
        return (
            f"{name}: {self.good} good, {self.bad} bad, {self.pending} pending — {share} "
            f"(objective {format_percent(self.objective)})"
        )


def tally(config: Config, selection: Selection, shown: Iterable[ShownTicket]) -> dict[str, Tally]:
    """Per SLO (the named ones, else every SLO evaluate decides), its shown outcomes counted."""
    slos = [
        slo
        for slo in config.slos
        if slo.kind.counted_by_exporter and (not selection.slos or slo.name in selection.slos)
    ]
    counts = {slo.name: {Result.GOOD: 0, Result.BAD: 0, Result.PENDING: 0} for slo in slos}
    for item in shown:
        for name, outcomes in item.slos.items():
            if name in counts:
                for outcome in outcomes:
                    counts[name][outcome.result] += 1
    return {
        slo.name: Tally(
            counts[slo.name][Result.GOOD],
            counts[slo.name][Result.BAD],
            counts[slo.name][Result.PENDING],
            slo.objective_ratio,
        )
        for slo in slos
    }


def percent_floor(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with one decimal, rounded down, so that a share
    shown as meeting an objective (95%, 97.5%) does meet it: 949/1000 is ``94.9%``."""
    tenths = part * 1000 // whole
    return f"{tenths // 10}.{tenths % 10}%"


def cycles_text(outcomes: Sequence[Outcome]) -> str:
    """The results of an SLO's cycles on one ticket, oldest first: ``good`` or ``bad+good``."""
    return "+".join(outcome.result.value for outcome in outcomes)
