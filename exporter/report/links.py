"""A ticket's page in the helpdesk, for the report's list of breached tickets.

``source.ticket_url`` (a URL holding ``{id}``) wins; otherwise the agent page
of the source type is built from ``source.url``:

=========  =============================================
zendesk    ``{url}/agent/tickets/{id}``
freshdesk  ``{url}/a/tickets/{id}``
jira       ``{url}/browse/{key}`` (the id is the issue key)
zammad     ``{url}/#ticket/zoom/{id}``
=========  =============================================

Intercom conversations live under a workspace the config does not name, and
the demo and file sources have no helpdesk: no link, unless
``source.ticket_url`` gives one.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from exporter.config import SourceConfig, SourceType

_AGENT_PAGES: dict[str, str] = {
    SourceType.ZENDESK.value: "{url}/agent/tickets/{id}",
    SourceType.FRESHDESK.value: "{url}/a/tickets/{id}",
    SourceType.JIRA.value: "{url}/browse/{id}",
    SourceType.ZAMMAD.value: "{url}/#ticket/zoom/{id}",
}


def ticket_linker(source: SourceConfig) -> Callable[[str], str | None]:
    """A function from a ticket id to its URL in the helpdesk (None: no known page)."""
    if source.ticket_url is not None:
        template = source.ticket_url
    else:
        page = _AGENT_PAGES.get(str(source.type))
        if page is None or source.url is None:
            return lambda ticket_id: None
        template = page.replace("{url}", source.url.rstrip("/"))

    def link(ticket_id: str) -> str | None:
        return template.replace("{id}", quote(ticket_id, safe=""))

    return link
