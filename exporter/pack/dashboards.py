"""Grafana dashboards of the pack: an overview, a per-SLO detail view and a TV wallboard.

Each dashboard is built in its own module of :mod:`exporter.pack.grafana`, from the panel
helpers in :mod:`exporter.pack.grafana.panels`; this module puts them together and writes them.

:func:`dashboard_files` builds the three dashboards for a config with the
``grafana-foundation-sdk`` builders and returns them as pretty, key-sorted
JSON, ready to drop into ``dashboards/``:

* ``helpdesk-slo-overview``: one row per SLO (compliance over its window,
  error budget burn-down, burn rate against the alert thresholds, firing
  alerts), then ticket inflow and SLA outcomes;
* ``helpdesk-slo-detail``: one SLO at a time (variable ``slo``): SLI from 5m
  to the SLO window, burn rate per alert tier with its threshold, budget and
  exhaustion forecast, good/bad events, reply and resolution percentiles and
  the exporter's own health;
* ``helpdesk-slo-wallboard``: big tiles for the support room's TV.

Every query reads its data source from the ``datasource`` variable (no
data-source uid is written anywhere), metric names come from
:mod:`exporter.metrics` and thresholds from the config, so the same config
always yields byte-identical files.  :func:`panel_queries` lists every PromQL
expression of a dashboard, for tests that run them on a real Prometheus.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

with warnings.catch_warnings():
    # The classic dashboard model warns on import that a v2 model exists; the JSON schemas
    # the dashboards are validated against (schemaVersion 42) are the classic ones.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import dashboard as model

from exporter.config import Config
from exporter.pack.grafana.detail import detail_dashboard
from exporter.pack.grafana.overview import overview_dashboard
from exporter.pack.grafana.panels import SLO_VARIABLE
from exporter.pack.grafana.wallboard import wallboard_dashboard
from exporter.pack.names import DETAIL_UID, OVERVIEW_UID, UIDS, WALLBOARD_UID
from exporter.pack.rules import PackPlan, plan_pack

__all__ = [
    "DETAIL_UID",
    "OVERVIEW_UID",
    "SLO_VARIABLE",
    "UIDS",
    "WALLBOARD_UID",
    "dashboard_files",
    "dashboards",
    "panel_queries",
    "to_json",
]


def to_json(dashboard: model.Dashboard) -> str:
    """Pretty JSON with sorted keys and a trailing newline: the same input, the same bytes."""
    return json.dumps(dashboard, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def dashboards(config: Config, plan: PackPlan | None = None) -> dict[str, model.Dashboard]:
    """The three dashboards by uid.

    ``plan`` is the rules' plan (alert tiers, windows); pass the one the rules
    were rendered from so both agree, or leave it out to plan with the defaults.
    """
    plan = plan or plan_pack(config)
    return {
        OVERVIEW_UID: overview_dashboard(config, plan),
        DETAIL_UID: detail_dashboard(config, plan),
        WALLBOARD_UID: wallboard_dashboard(config, plan),
    }


def dashboard_files(config: Config, plan: PackPlan | None = None) -> dict[str, str]:
    """``{"dashboards/<uid>.json": JSON text}`` for the pack writer."""
    built = dashboards(config, plan)
    return {f"dashboards/{uid}.json": to_json(dashboard) for uid, dashboard in built.items()}


def _panels(dashboard_json: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for panel in dashboard_json.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def panel_queries(dashboard_json: Mapping[str, Any]) -> list[str]:
    """Every PromQL expression a dashboard runs (panel targets, then annotations), in order.

    Grafana variables are left as written (``$slo``, ``$__range``,
    ``$__rate_interval``); the caller substitutes them before evaluating.
    """
    queries: list[str] = []
    for panel in _panels(dashboard_json):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if isinstance(expr, str) and expr:
                queries.append(expr)
    annotations: Sequence[Mapping[str, Any]] = (
        dashboard_json.get("annotations", {}).get("list") or []
    )
    for annotation in annotations:
        expr = annotation.get("expr")
        if isinstance(expr, str) and expr:
            queries.append(expr)
    return queries
