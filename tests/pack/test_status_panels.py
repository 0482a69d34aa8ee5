"""The overview's "Where the time goes" panels: one per priority, each status group's share of
business time, and the query computes those shares on a real promtool."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter import metrics
from exporter.model import PRIORITIES
from exporter.pack.grafana.status import status_share_query
from exporter.status_time import STATUS_GROUPS
from tests.tools import REPO, require_binary

ROW = "Where the time goes (business hours)"


def _overview() -> dict[str, Any]:
    return json.loads((REPO / "dashboards" / "helpdesk-slo-overview.json").read_text())


def _row_panels(dashboard: dict[str, Any], title: str) -> list[dict[str, Any]]:
    panels = dashboard["panels"]
    start = next(i for i, p in enumerate(panels) if p["type"] == "row" and p["title"] == title)
    following = []
    for panel in panels[start + 1 :]:
        if panel["type"] == "row":
            break
        following.append(panel)
    return following


def test_the_overview_has_a_stacked_share_panel_per_priority() -> None:
    panels = _row_panels(_overview(), ROW)
    assert [panel["title"] for panel in panels] == [
        f"Where the time goes: {priority.value}" for priority in PRIORITIES
    ]
    for panel, priority in zip(panels, PRIORITIES, strict=True):
        defaults = panel["fieldConfig"]["defaults"]
        assert (defaults["unit"], defaults["custom"]["stacking"]["mode"]) == (
            "percentunit",
            "normal",
        )
        assert [target["expr"] for target in panel["targets"]] == [
            status_share_query(priority.value)
        ]
        coloured = {
            name
            for o in panel["fieldConfig"]["overrides"]
            for name in o["matcher"]["options"]["names"]
        }
        assert coloured == set(STATUS_GROUPS)


# business seconds per minute while the calendar is open: 6 tickets in all
SERIES = {"open": 180, "reopened": 0, "pending": 120, "on_hold": 60}


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        pytest.param(
            "urgent",
            {status: per_minute / 360 for status, per_minute in SERIES.items()},
            id="shares-of-the-business-time",
        ),
        pytest.param("low", {}, id="nothing-accrued-no-share"),
    ],
)
def test_the_share_query_splits_business_time_by_status(
    tmp_path: Path, priority: str, expected: dict[str, float]
) -> None:
    promtool = require_binary("promtool")
    name = metrics.TICKET_STATUS_SECONDS.name
    series = [
        {"series": f'{name}{{status="{status}",priority="urgent"}}', "values": f"0+{step}x20"}
        for status, step in SERIES.items()
    ] + [
        {"series": f'{name}{{status="{status}",priority="low"}}', "values": "50x20"}
        for status in STATUS_GROUPS
    ]
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": status_share_query(priority, "10m"),
                        "eval_time": "15m",
                        "exp_samples": [
                            {"labels": f'{{status="{status}"}}', "value": share}
                            for status, share in expected.items()
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "share.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
