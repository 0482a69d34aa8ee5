"""Every source is built from its config file alone: each config-only option reaches the source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exporter.config import load_config
from exporter.sources import build_source

SECRET = "t0ken-for-tests"


@pytest.mark.parametrize(
    ("source_block", "read", "expected"),
    [
        pytest.param(
            "type: file\n  path: exported.jsonl",
            lambda s: s.path.name,
            "exported.jsonl",
            id="file-path",
        ),
        pytest.param("type: demo\n  seed: 7", lambda s: s.seed, 7, id="demo-seed"),
        pytest.param(
            "type: demo\n  history: 2d", lambda s: s.history, 2 * 86400.0, id="demo-history"
        ),
        pytest.param(
            "type: zendesk\n  url: https://acme.zendesk.com\n  email: ops@acme.example\n"
            "  token_file: key\n  ai_agent_channels: [ai_agent]",
            lambda s: s.ai_agent_channels,
            frozenset({"ai_agent"}),
            id="zendesk-ai-agent-channels",
        ),
        pytest.param(
            "type: zendesk\n  url: https://acme.zendesk.com\n  email: ops@acme.example\n"
            "  token_file: key\n  ai_agent_ids: [7001]",
            lambda s: s.ai_agent_ids,
            frozenset({"7001"}),
            id="zendesk-ai-agent-ids",
        ),
        pytest.param(
            "type: zendesk\n  url: https://acme.zendesk.com\n  email: ops@acme.example\n"
            "  token_file: key\n  resolution_metric: requester_wait_time",
            lambda s: s.resolution_metric,
            "requester_wait_time",
            id="zendesk-resolution-metric",
        ),
        pytest.param(
            "type: freshdesk\n  url: https://acme.freshdesk.com\n  token_file: key\n"
            "  ai_agent_ids: [43007075231]",
            lambda s: s.ai_agent_ids,
            frozenset({"43007075231"}),
            id="freshdesk-ai-agent-ids",
        ),
        pytest.param(
            "type: freshdesk\n  url: https://acme.freshdesk.com\n  token_file: key\n"
            "  status_map: {6: on_hold}",
            lambda s: s.map_status(6),
            "on_hold",
            id="freshdesk-status-map",
        ),
    ],
)
def test_a_config_only_option_reaches_the_built_source(
    source_block: str, read: Callable[[Any], Any], expected: Any, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text(SECRET)
    (tmp_path / "helpdesk-slo.yml").write_text(f"source:\n  {source_block}\n")

    source = build_source(load_config(tmp_path / "helpdesk-slo.yml"))

    assert read(source) == expected
