"""``generate --format openslo|pyrra``: the config's SLOs for other SLO tools.

Both exports read the same counters the pack's rules read:

- ``openslo``: ``DIR/openslo/<slo>.yaml``, one OpenSLO v1 ``SLO`` document per
  SLO with its ratio SLI inline (bad over total on ``helpdesk_slo_events_total``,
  ``counter: true``), its window (rolling, or a calendar week or month in the
  config's time zone), its objective, and one inline alert policy per page and
  ticket burn tier; plus ``DIR/openslo/datasource.yaml`` (the Prometheus
  ``DataSource`` every SLI refers to) and ``DIR/openslo/notification-targets.yaml``
  (the page and ticket targets the alert policies name).  ``kind: promql`` SLOs keep their own
  queries with their ``{{window}}`` template, as Sloth's OpenSLO reader takes
  them; ``generate --import`` reads all of it back.
- ``pyrra``: ``DIR/pyrra/<slo>.yaml``, one Pyrra ``ServiceLevelObjective``
  (``pyrra.dev/v1alpha1``) per time or CSAT SLO with a ratio indicator
  (errors over total).  Pyrra windows are rolling: calendar weeks and months
  become 7d and 30d, with a note.  ``kind: promql`` SLOs are left out, with a
  note: Pyrra wants plain counter selectors.

The Prometheus pack itself does not change: these files come on top of it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import yaml

from exporter import metrics
from exporter.config import Config, SloKind
from exporter.pack import GENERATED_MARKER
from exporter.pack.imports import config_timezone
from exporter.pack.rules import PackPlan, SloPlan, selector

ExportFormat = Literal["openslo", "pyrra"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("openslo", "pyrra")
DATASOURCE = "prometheus"
#: A Monday and the 1st of a month, at midnight: where the pack's calendar weeks and months start.
CALENDAR_START = "2024-01-01 00:00:00"


def _header(config: Config, what: str) -> str:
    name = config.path.name if config.path is not None else "helpdesk-slo.yml"
    return (
        f"# {GENERATED_MARKER} from {name}. DO NOT EDIT.\n"
        f"# {what}\n# Regenerate: helpdesk-slo generate --config <file> --out <dir> --format ...\n"
    )


def _dump(documents: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, width=100)


def _number(value: Decimal) -> float | int:
    """An exact decimal as a YAML number (0.95, not 0.9499999)."""
    return int(value) if value == value.to_integral_value() else float(str(value))


#: Why an availability SLO is left out of both exports.
_BUSINESS_MINUTES = (
    "it counts business minutes of a calendar (helpdesk_calendar_open) in which its up query "
    "is 1, which has no counter ratio to export; the pack's rules compute it"
)


def _counter(plan: SloPlan, result: str) -> str:
    if result == "bad":
        return metrics.SLO_EVENTS.name + selector({"slo": plan.name, "result": "bad"})
    return metrics.SLO_EVENTS.name + selector({"slo": plan.name}, {"result": "good|bad"})


def _metric(query: str) -> dict[str, Any]:
    return {
        "metricSource": {
            "metricSourceRef": DATASOURCE,
            "type": "Prometheus",
            "spec": {"query": query},
        }
    }


def _openslo_window(plan: SloPlan, timezone: str) -> dict[str, Any]:
    if plan.calendar is None:
        return {"duration": plan.slo.window, "isRolling": True}
    return {
        "duration": "1w" if plan.calendar == "week" else "1M",
        "calendar": {"startTime": CALENDAR_START, "timeZone": timezone},
        "isRolling": False,
    }


def _openslo_slo(plan: SloPlan, timezone: str) -> dict[str, Any]:
    slo = plan.slo
    if slo.kind is SloKind.PROMQL:
        assert slo.promql is not None
        part = "good" if slo.promql.good is not None else "bad"
        ratio: dict[str, Any] = {
            "counter": True,
            part: _metric(str(slo.promql.good or slo.promql.bad)),
            "total": _metric(slo.promql.total),
        }
    else:
        ratio = {
            "counter": True,
            "bad": _metric(_counter(plan, "bad")),
            "total": _metric(_counter(plan, "total")),
        }
    metadata: dict[str, Any] = {"name": plan.name}
    if slo.labels:
        metadata["labels"] = dict(sorted(slo.labels.items()))
    spec: dict[str, Any] = {}
    if slo.description:
        spec["description"] = slo.description
    spec |= {
        "service": plan.service,
        "indicator": {"metadata": {"name": f"{plan.name}-events"}, "spec": {"ratioMetric": ratio}},
        "timeWindow": [_openslo_window(plan, timezone)],
        "budgetingMethod": "Occurrences",
        "objectives": [{"displayName": plan.name, "target": _number(plan.objective)}],
    }
    policies = [
        {
            "kind": "AlertPolicy",
            "metadata": {
                "name": f"{plan.name}-{tier.severity.value}-{tier.long.text}-{tier.short.text}"
            },
            "spec": {
                "alertWhenBreaching": True,
                "alertWhenResolved": False,
                "alertWhenNoData": False,
                "conditions": [
                    {
                        "kind": "AlertCondition",
                        "metadata": {"name": f"{plan.name}-burn-{tier.long.text}"},
                        "spec": {
                            "severity": tier.severity.value,
                            "condition": {
                                "kind": "burnrate",
                                "op": "gte",
                                "threshold": _number(tier.factor),
                                "lookbackWindow": tier.long.text,
                                "alertAfter": f"{plan.for_seconds // 60}m",
                            },
                        },
                    }
                ],
                "notificationTargets": [{"targetRef": f"alertmanager-{tier.severity.value}"}],
            },
        }
        for tier in plan.tiers
    ]
    if policies:
        spec["alertPolicies"] = policies
    return {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": metadata, "spec": spec}


def openslo_files(config: Config, plan: PackPlan, notes: list[str]) -> dict[str, str]:
    """``openslo/<slo>.yaml`` per SLO and ``openslo/datasource.yaml``."""
    timezone = config_timezone(config)
    files = {
        "openslo/datasource.yaml": _header(config, "OpenSLO v1 DataSource the SLOs read from")
        + _dump(
            [
                {
                    "apiVersion": "openslo/v1",
                    "kind": "DataSource",
                    "metadata": {"name": DATASOURCE},
                    "spec": {
                        "description": "The Prometheus that scrapes helpdesk-slo-exporter",
                        "type": "Prometheus",
                        "connectionDetails": {},
                    },
                }
            ]
        )
    }
    targets = [
        {
            "apiVersion": "openslo/v1",
            "kind": "AlertNotificationTarget",
            "metadata": {"name": f"alertmanager-{severity}"},
            "spec": {
                "description": f"Alertmanager, routed on severity={severity} (alertmanager/)",
                "target": "alertmanager",
            },
        }
        for severity in ("page", "ticket")
    ]
    files["openslo/notification-targets.yaml"] = _header(
        config, "OpenSLO v1 AlertNotificationTargets the alert policies name"
    ) + _dump(targets)
    for slo in plan.slos:
        if slo.kind is SloKind.AVAILABILITY:
            notes.append(f"slo {slo.name}: not exported to OpenSLO: {_BUSINESS_MINUTES}")
            continue
        if slo.kind is SloKind.PROMQL:
            notes.append(
                f"slo {slo.name}: exported to OpenSLO with its {{{{window}}}} queries as written"
            )
        files[f"openslo/{slo.name}.yaml"] = _header(config, "OpenSLO v1 SLO") + _dump(
            [_openslo_slo(slo, timezone)]
        )
    return files


def _pyrra_slo(plan: SloPlan, notes: list[str]) -> dict[str, Any] | None:
    slo = plan.slo
    if slo.kind is SloKind.AVAILABILITY:
        notes.append(f"slo {slo.name}: not exported to Pyrra: {_BUSINESS_MINUTES}")
        return None
    if slo.kind is SloKind.PROMQL:
        notes.append(f"slo {slo.name}: not exported to Pyrra: its promql queries are not counters")
        return None
    window = slo.window
    if plan.calendar is not None:
        window = "7d" if plan.calendar == "week" else "30d"
        notes.append(
            f"slo {slo.name}: Pyrra windows are rolling; calendar {plan.calendar} exported "
            f"as {window}"
        )
    metadata: dict[str, Any] = {"name": plan.name}
    if slo.labels:
        metadata["labels"] = dict(sorted(slo.labels.items()))
    spec: dict[str, Any] = {
        "target": format(plan.objective * 100, "f").rstrip("0").rstrip("."),
        "window": window,
    }
    if slo.description:
        spec["description"] = slo.description
    spec["indicator"] = {
        "ratio": {
            "errors": {"metric": _counter(plan, "bad")},
            "total": {"metric": _counter(plan, "total")},
        }
    }
    if not slo.alerting.page and not slo.alerting.ticket:
        spec["alerting"] = {"burnrates": False}
    elif slo.alerting.page != slo.alerting.ticket:
        notes.append(
            f"slo {slo.name}: Pyrra has one switch for burn-rate alerts; exported as on "
            f"(page: {str(slo.alerting.page).lower()}, ticket: {str(slo.alerting.ticket).lower()})"
        )
    return {
        "apiVersion": "pyrra.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": metadata,
        "spec": spec,
    }


def pyrra_files(config: Config, plan: PackPlan, notes: list[str]) -> dict[str, str]:
    """``pyrra/<slo>.yaml`` per time or CSAT SLO."""
    files = {}
    for slo in plan.slos:
        document = _pyrra_slo(slo, notes)
        if document is not None:
            files[f"pyrra/{slo.name}.yaml"] = _header(
                config, "Pyrra ServiceLevelObjective (pyrra.dev/v1alpha1)"
            ) + _dump([document])
    return files


def export_files(
    config: Config, plan: PackPlan, format: ExportFormat, notes: list[str]
) -> dict[str, str]:
    """The files of one export format, by path under the output directory."""
    if format == "openslo":
        return openslo_files(config, plan, notes)
    return pyrra_files(config, plan, notes)
