"""Helpdesk sources: each maps one vendor's API into normalized tickets.

Every source implements :class:`~exporter.sources.base.Source`; :func:`build_source`
picks the one a config names: a built-in type from :data:`BUILT_IN`, or a source
another package registers in the ``helpdesk_slo.sources`` entry point group.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from exporter.config import Config, SourceType
from exporter.sources.base import PollResult, Source, SourceUnavailable

__all__ = ["BUILT_IN", "PollResult", "Source", "SourceUnavailable", "build_source"]

#: ``source.type`` -> ``module:factory``; a factory takes the whole :class:`Config`.
BUILT_IN: dict[SourceType, str] = {
    SourceType.FILE: "exporter.sources.file:build",
    SourceType.DEMO: "exporter.sources.demo:build",
    SourceType.ZENDESK: "exporter.sources.zendesk:build",
    SourceType.FRESHDESK: "exporter.sources.freshdesk:build",
    SourceType.INTERCOM: "exporter.sources.intercom:build",
}


def build_source(config: Config) -> Source:
    """The source a config names, ready to poll."""
    kind = config.source.type
    target = BUILT_IN.get(kind)
    if target is None:
        raise SourceUnavailable(
            f"source.type: {kind.value} is not supported by this build yet; "
            "use type: file with an export of normalized tickets, or type: demo"
        )
    module, _, attr = target.partition(":")
    factory = cast(Callable[[Config], Source], getattr(importlib.import_module(module), attr))
    return factory(config)
