"""Helpdesk sources: each maps one vendor's API into normalized tickets.

Every source implements :class:`~exporter.sources.base.Source`; :func:`build_source`
picks the one a config names.
"""

from __future__ import annotations

from exporter.config import Config, SourceType
from exporter.sources.base import PollResult, Source, SourceUnavailable

__all__ = ["PollResult", "Source", "SourceUnavailable", "build_source"]


def build_source(config: Config) -> Source:
    """The source a config names, ready to poll."""
    kind = config.source.type
    if kind is SourceType.FILE:
        from exporter.sources.file import FileSource

        return FileSource(config.source)
    if kind is SourceType.DEMO:
        from exporter.sources.demo import DemoSource

        return DemoSource(config.source)
    if kind is SourceType.ZENDESK:
        from exporter.config import SlaMode
        from exporter.sources.zendesk import ZendeskSource

        # the metric-events export costs a third of Zendesk's incremental-export budget
        native = (
            config.sla_import is not None and config.sla_import.mode is SlaMode.NATIVE
        ) or any(sla.mode is SlaMode.NATIVE for sla in config.slas.values())
        return ZendeskSource(config.source, native=native)
    if kind is SourceType.FRESHDESK:
        from exporter.sources.freshdesk import FreshdeskSource

        return FreshdeskSource(config.source)
    raise SourceUnavailable(
        f"source.type: {kind.value} is not supported by this build yet; "
        "use type: file with an export of normalized tickets, or type: demo"
    )
