"""Links from a ticket id to its page in the helpdesk, per source type and ``source.ticket_url``."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.config import ConfigError, SourceConfig, parse_config
from exporter.report.links import ticket_linker

AUTH = {"token_env": "HELPDESK_TOKEN"}


@pytest.mark.parametrize(
    ("source", "ticket_id", "expected"),
    [
        ({"type": "zendesk", "url": "https://acme.zendesk.com", "email": "a@acme.test", **AUTH},
         "123", "https://acme.zendesk.com/agent/tickets/123"),
        ({"type": "freshdesk", "url": "https://acme.freshdesk.com", **AUTH},
         "77", "https://acme.freshdesk.com/a/tickets/77"),
        ({"type": "jira", "url": "https://acme.atlassian.net", "email": "a@acme.test", **AUTH},
         "HELP-12", "https://acme.atlassian.net/browse/HELP-12"),
        ({"type": "zammad", "url": "https://help.acme.test", **AUTH},
         "9", "https://help.acme.test/#ticket/zoom/9"),
        ({"type": "intercom", **AUTH}, "5", None),
        ({"type": "demo"}, "5", None),
        ({"type": "file", "path": "t.jsonl"}, "5", None),
        ({"type": "file", "path": "t.jsonl", "ticket_url": "https://help.acme.test/t/{id}"},
         "a/b c", "https://help.acme.test/t/a%2Fb%20c"),
        ({"type": "zendesk", "url": "https://acme.zendesk.com", "email": "a@acme.test",
          "ticket_url": "https://proxy.acme.test/zd/{id}", **AUTH},
         "123", "https://proxy.acme.test/zd/123"),
    ],
    ids=["zendesk", "freshdesk", "jira-key", "zammad", "intercom-no-workspace", "demo",
         "file", "template-escapes-the-id", "template-wins"],
)  # fmt: skip
def test_ticket_link(source: dict[str, Any], ticket_id: str, expected: str | None) -> None:
    assert ticket_linker(SourceConfig.model_validate(source))(ticket_id) == expected


@pytest.mark.parametrize(
    "value",
    ["https://help.acme.test/tickets", "help.acme.test/{id}", "ftp://help.acme.test/{id}"],
    ids=["no-id", "no-scheme", "not-http"],
)
def test_ticket_url_must_be_an_http_url_holding_the_id(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            f"service: s\nsource: {{type: file, path: t.jsonl, ticket_url: '{value}'}}\n"
            "slas: {first_response: {targets: {urgent: 1h}}}\n"
        )
    assert "ticket_url" in str(caught.value.problems)
