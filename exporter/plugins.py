"""Sources installed by other packages: the ``helpdesk_slo.sources`` entry point group.

A package adds a helpdesk without changing this one by declaring an entry
point whose name is the ``source.type`` it serves and whose object is a
``build(config) -> Source`` factory (see ``docs/sources/plugins.md``)::

    [project.entry-points."helpdesk_slo.sources"]
    acme = "acme_helpdesk_slo:build"

The config accepts such a name as ``source.type`` (a built-in name always
wins), and :func:`exporter.sources.build_source` loads the factory.  Entry
points are looked up when a config is validated, so ``check`` refuses a type
that no installed package provides.  A factory declares what its source can
do with attributes (:data:`REPORTS_ASSIGNMENTS`), read by :func:`plugin_declares`.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

#: The entry point group third-party sources register in.
ENTRY_POINT_GROUP = "helpdesk_slo.sources"


class PluginType(str):
    """A ``source.type`` served by an installed package rather than by this one.

    It reads like :class:`~exporter.config.SourceType` where only the name is
    needed (``.value``).
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        return str(self)


def installed_sources() -> dict[str, EntryPoint]:
    """Entry points of the group by name; the first one wins when two packages use a name."""
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry)
    return found


#: The attribute a source's factory sets to ``True`` when its tickets carry ``assigned``
#: events at the instants of the assignments (needed by ``start: assigned``).
REPORTS_ASSIGNMENTS = "reports_assignments"


def plugin_declares(name: str, capability: str) -> bool:
    """Whether the installed source ``name`` declares ``capability``.

    A capability is an attribute of the entry point's factory set to ``True``
    (``build.reports_assignments = True``).  The factory is loaded to read it;
    one that cannot be loaded declares nothing (building the source says why).
    """
    entry = installed_sources().get(name)
    if entry is None:
        return False
    try:
        factory = entry.load()
    except Exception:  # the other package's import failed: building the source reports it
        return False
    return getattr(factory, capability, False) is True
