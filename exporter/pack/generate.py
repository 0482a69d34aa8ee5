"""``helpdesk-slo generate``: run every writer of the pack, then write or check its files.

A writer is a function from a :class:`PackContext` to ``{relative path: text}``;
:data:`WRITERS` lists them in order.  :func:`build_pack` runs them all (pure:
nothing touches the disk), :func:`write_pack` puts the files in place and
:func:`check_pack` lists what differs from what is on disk (``--check``).

Writing is all or nothing per top-level directory (``rules/``,
``dashboards/``...): the new directory is assembled next to the old one, then
swapped in by two renames, so a failure leaves the previous pack intact.
Files in those directories that the pack does not generate (a hand-written
``README.md``) are carried over; files that carry :data:`GENERATED_MARKER` but
are no longer produced are removed.

Before anything is written, :func:`validate_pack` checks every rule expression
(``promtool check rules`` when installed, else :mod:`exporter.pack.promql`), so a
pack Prometheus would refuse is never written.  ``--import`` reads Sloth and
OpenSLO specs through :mod:`exporter.pack.imports`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from exporter.config import Config
from exporter.pack import GENERATED_MARKER
from exporter.pack.alertmanager import alertmanager_files
from exporter.pack.dashboards import dashboard_files
from exporter.pack.export import ExportFormat, export_files
from exporter.pack.imports import ImportNote as ImportNote
from exporter.pack.imports import import_specs as import_specs
from exporter.pack.promql import check_rule_file
from exporter.pack.rules import (
    PackPlan,
    RuleFormat,
    RuleOptions,
    format_file_name,
    plan_pack,
    render_rules,
)
from exporter.pack.ruletests import render_tests
from exporter.pack.runbooks import runbook_files

RULES_FILE = "rules/helpdesk-slo.rules.yml"
RULE_TESTS_FILE = "rules/helpdesk-slo.rules.test.yml"
#: How much of a file is searched for :data:`GENERATED_MARKER`.
MARKER_SCAN = 1024


@dataclass(frozen=True)
class PackOptions:
    """Choices of the ``generate`` command line."""

    format: RuleFormat = "prometheus"
    #: Also write the SLOs for another tool (``DIR/openslo/``, ``DIR/pyrra/``).
    export: ExportFormat | None = None
    #: None: :meth:`RuleOptions.for_config` (the config's ``notify:`` links, then defaults).
    rules: RuleOptions | None = None


@dataclass
class PackContext:
    """What every writer gets: the config, the options, and a list to add notes to."""

    config: Config
    options: PackOptions = field(default_factory=PackOptions)
    notes: list[str] = field(default_factory=list)
    _plan: PackPlan | None = field(default=None, repr=False)

    @property
    def plan(self) -> PackPlan:
        """The rules plan, computed once; its notes join :attr:`notes` the first time."""
        if self._plan is None:
            self._plan = plan_pack(self.config, self.options.rules)
            self.notes.extend(self._plan.notes)
        return self._plan


Writer = Callable[[PackContext], Mapping[str, str]]


def rules_writer(context: PackContext) -> dict[str, str]:
    """The rule file, its promtool tests, and the rules in the chosen extra format."""
    plan = context.plan
    rule_file = PurePosixPath(RULES_FILE).name
    files = {
        RULES_FILE: render_rules(plan, "prometheus"),
        RULE_TESTS_FILE: render_tests(plan, rule_file),
    }
    extra = format_file_name(context.options.format)
    if extra is not None:
        files[f"rules/{extra}"] = render_rules(plan, context.options.format)
    return files


def dashboards_writer(context: PackContext) -> dict[str, str]:
    """The overview, SLO detail and wallboard dashboards."""
    return dashboard_files(context.config, context.plan)


def alertmanager_writer(context: PackContext) -> dict[str, str]:
    """alertmanager/alertmanager.yml and alertmanager/templates/slack.tmpl."""
    return alertmanager_files(context.config)


def runbooks_writer(context: PackContext) -> dict[str, str]:
    """runbooks/<slo>.md, runbooks/helpdesk-exporter.md and runbooks/README.md."""
    return runbook_files(context.config, context.plan)


def export_writer(context: PackContext) -> dict[str, str]:
    """openslo/*.yaml or pyrra/*.yaml with ``--format openslo|pyrra``; nothing otherwise."""
    if context.options.export is None:
        return {}
    return export_files(context.config, context.plan, context.options.export, context.notes)


#: Every writer of the pack, in order.
WRITERS: list[Writer] = [
    rules_writer,
    dashboards_writer,
    alertmanager_writer,
    runbooks_writer,
    export_writer,
]


@dataclass(frozen=True)
class Pack:
    files: dict[str, str]
    notes: tuple[str, ...]


def build_pack(
    config: Config, options: PackOptions | None = None, writers: Sequence[Writer] | None = None
) -> Pack:
    """Run the writers; raise ValueError when two of them claim the same path."""
    context = PackContext(config, options or PackOptions())
    files: dict[str, str] = {}
    for writer in writers if writers is not None else WRITERS:
        for path, text in writer(context).items():
            _check_relative(path)
            if path in files:
                raise ValueError(f"two writers produce {path}")
            files[path] = text
    return Pack(dict(sorted(files.items())), tuple(context.notes))


def _check_relative(path: str) -> None:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ValueError(f"a writer produced a path outside the output directory: {path!r}")


def _top(path: str) -> str:
    parts = PurePosixPath(path).parts
    return parts[0] if len(parts) > 1 else ""


def _is_generated(file: Path) -> bool:
    try:
        with file.open("rb") as handle:
            head = handle.read(MARKER_SCAN)
    except OSError:
        return False
    return GENERATED_MARKER.encode() in head


def _existing_files(directory: Path) -> Iterator[str]:
    if not directory.is_dir():
        return
    for file in sorted(directory.rglob("*")):
        if file.is_file():
            yield file.relative_to(directory).as_posix()


def _stale(pack: Pack, out_dir: Path) -> list[str]:
    """Generated files on disk that the pack no longer produces."""
    stale = []
    for top in sorted({_top(p) for p in pack.files} - {""}):
        for name in _existing_files(out_dir / top):
            path = f"{top}/{name}"
            if path not in pack.files and _is_generated(out_dir / path):
                stale.append(path)
    return stale


def check_pack(pack: Pack, out_dir: Path) -> list[str]:
    """``path: reason`` for every file that differs from what would be generated."""
    drift = []
    for path, text in pack.files.items():
        file = out_dir / path
        if not file.is_file():
            drift.append(f"{path}: missing")
        elif file.read_text(encoding="utf-8") != text:
            drift.append(f"{path}: differs")
    drift += [f"{path}: no longer generated" for path in _stale(pack, out_dir)]
    return drift


def write_pack(pack: Pack, out_dir: Path) -> None:
    """Write the pack under ``out_dir``, one top-level directory at a time, all or nothing."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_top: dict[str, dict[str, str]] = {}
    for path, text in pack.files.items():
        by_top.setdefault(_top(path), {})[path] = text
    stale = set(_stale(pack, out_dir))
    for top, files in by_top.items():
        if top == "":
            for path, text in files.items():
                _write_file_atomically(out_dir / path, text)
        else:
            _replace_directory(out_dir, top, files, stale)


def _write_file_atomically(target: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _replace_directory(out_dir: Path, top: str, files: Mapping[str, str], stale: set[str]) -> None:
    target = out_dir / top
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a directory")
    staging = Path(tempfile.mkdtemp(prefix=f".{top}.new-", dir=out_dir))
    try:
        os.chmod(staging, (target.stat().st_mode & 0o7777) if target.exists() else 0o755)
        for name in _existing_files(target):
            path = f"{top}/{name}"
            if path in files or path in stale:
                continue
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target / name, staging / name)
        for path, text in files.items():
            file = staging / PurePosixPath(path).relative_to(top)
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8", newline="")
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{top}.old-", dir=out_dir))
            retired.rmdir()
            os.rename(target, retired)
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(retired, target)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --- checking what Prometheus would load -------------------------------------------------------


def validate_pack(pack: Pack, promtool: str | None = None) -> list[str]:
    """One line per rule expression Prometheus would refuse; [] when the pack loads.

    ``promtool`` as in :func:`exporter.pack.promql.check_rule_file` (found on PATH by default).
    """
    text = pack.files.get(RULES_FILE)
    return [] if text is None else check_rule_file(text, promtool)
