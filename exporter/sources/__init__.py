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
from exporter.plugins import ENTRY_POINT_GROUP, installed_sources
from exporter.records import describe
from exporter.sources.base import PollResult, Source, SourceUnavailable

__all__ = ["BUILT_IN", "PollResult", "Source", "SourceUnavailable", "build_source"]

#: ``source.type`` -> ``module:factory``; a factory takes the whole :class:`Config`.
BUILT_IN: dict[SourceType, str] = {
    SourceType.FILE: "exporter.sources.file:build",
    SourceType.DEMO: "exporter.sources.demo:build",
    SourceType.ZENDESK: "exporter.sources.zendesk:build",
    SourceType.FRESHDESK: "exporter.sources.freshdesk:build",
    SourceType.ZAMMAD: "exporter.sources.zammad:build",
    SourceType.JIRA: "exporter.sources.jira:build",
    SourceType.INTERCOM: "exporter.sources.intercom:build",
}


def build_source(config: Config) -> Source:
    """The source a config names, ready to poll."""
    kind = config.source.type
    if not isinstance(kind, SourceType):
        return _installed_source(config, str(kind))
    target = BUILT_IN.get(kind)
    if target is None:
        raise SourceUnavailable(
            f"source.type: {kind.value} is not supported by this build yet; "
            "use type: file with an export of normalized tickets, or type: demo"
        )
    module, _, attr = target.partition(":")
    factory = cast(Callable[[Config], Source], getattr(importlib.import_module(module), attr))
    return factory(config)


def _installed_source(config: Config, name: str) -> Source:
    """The source another package registered as ``name`` in :data:`ENTRY_POINT_GROUP`."""
    entry = installed_sources().get(name)
    if entry is None:
        raise SourceUnavailable(
            f"source.type: {name} is no longer installed (no entry point {name!r} in the group "
            f"{ENTRY_POINT_GROUP}); install its package again or change source.type"
        )
    try:
        factory = entry.load()
    except Exception as exc:  # the other package's import failed: say so in one line
        raise SourceUnavailable(
            f"source.type: {name}: cannot load {entry.value} ({type(exc).__name__}: "
            f"{describe(exc)}); check that its package is installed whole"
        ) from None
    if not callable(factory):
        raise SourceUnavailable(
            f"source.type: {name}: {entry.value} is not a build(config) factory"
        )
    source = cast(Callable[[Config], object], factory)(config)
    if not callable(getattr(source, "poll", None)) or not isinstance(
        getattr(source, "name", None), str
    ):
        raise SourceUnavailable(
            f"source.type: {name}: {entry.value} returned {type(source).__name__}, which is not "
            "a source (it needs a `name` and a `poll(cursor, now)` method)"
        )
    return cast(Source, source)
