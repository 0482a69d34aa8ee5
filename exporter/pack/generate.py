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
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError

from exporter.config import RESERVED_LABELS, Config, ConfigError, SloConfig
from exporter.pack import GENERATED_MARKER
from exporter.pack.alertmanager import alertmanager_files
from exporter.pack.dashboards import dashboard_files
from exporter.pack.rules import (
    EXPRESSION_LABELS,
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


#: Every writer of the pack, in order.
WRITERS: list[Writer] = [rules_writer, dashboards_writer, alertmanager_writer, runbooks_writer]


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


# --- importing Sloth and OpenSLO specs --------------------------------------------------------

_SLOTH_VERSION = "prometheus/v1"
_OPENSLO_VERSIONS = ("openslo/v1", "openslo/v1alpha")
_OPENSLO_UNITS = {"Minute": "m", "Hour": "h", "Day": "d", "Week": "w"}
#: Sloth's default SLO period when a spec does not name one.
SLOTH_DEFAULT_WINDOW = "30d"


def _slo_name(*parts: str) -> str:
    name = "-".join(p for p in parts if p)
    name = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return name or "imported"


def _labels(*sources: Any) -> dict[str, str]:
    labels: dict[str, str] = {}
    for source in sources:
        if isinstance(source, Mapping):
            for key, value in source.items():
                key = re.sub(r"[^a-zA-Z0-9_]", "_", str(key))
                if key and key not in RESERVED_LABELS and key not in EXPRESSION_LABELS:
                    labels[key] = str(value)
    return labels


def _sloth_slos(document: Mapping[str, Any], where: str) -> tuple[list[dict[str, Any]], list[str]]:
    slos, notes = [], []
    service = str(document.get("service", ""))
    for index, slo in enumerate(document.get("slos") or []):
        name = _slo_name(service, str(slo.get("name", f"slo{index}")))
        sli = (slo.get("sli") or {}).get("events")
        if not isinstance(sli, Mapping):
            notes.append(f"{where}: slos[{index}] {name}: only events SLIs are imported; skipped")
            continue
        alerting = slo.get("alerting") or {}
        spec: dict[str, Any] = {
            "name": name,
            "kind": "promql",
            "objective": f"{slo.get('objective')}%",
            "window": SLOTH_DEFAULT_WINDOW,
            "labels": _labels(document.get("labels"), slo.get("labels")),
            "promql": {"bad": sli.get("error_query"), "total": sli.get("total_query")},
            "alerting": {
                "page": not (alerting.get("page_alert") or {}).get("disable", False),
                "ticket": not (alerting.get("ticket_alert") or {}).get("disable", False),
            },
        }
        if slo.get("description"):
            spec["description"] = str(slo["description"])
        slos.append(spec)
    return slos, notes


def _openslo_window(spec: Mapping[str, Any]) -> str | None:
    windows = spec.get("timeWindow") or spec.get("timeWindows") or []
    if not windows:
        return None
    window = windows[0]
    rolling = window.get("isRolling", True)
    calendar = window.get("calendar") is not None or rolling is False
    if "duration" in window:
        match = re.fullmatch(r"(\d+)([mhdwMQY])", str(window["duration"]))
        if match is None:
            return None
        count, unit = int(match[1]), match[2]
    else:
        count = int(window.get("count", 0))
        unit = {"Month": "M", "Quarter": "Q", "Year": "Y"}.get(
            str(window.get("unit")), _OPENSLO_UNITS.get(str(window.get("unit")), "")
        )
    if unit == "w" and count == 1 and calendar:
        return "week"
    if unit == "M" and count == 1:
        return "month" if calendar else "30d"
    if unit in ("m", "h", "d", "w"):
        return f"{count}{unit}"
    return None


def _openslo_query(metric: Any) -> str | None:
    if not isinstance(metric, Mapping):
        return None
    if "query" in metric:  # v1alpha: {source, queryType, query}
        return str(metric["query"])
    source = metric.get("metricSource") or {}
    query = (source.get("spec") or {}).get("query")
    return str(query) if query is not None else None


def _openslo_slos(
    document: Mapping[str, Any], where: str
) -> tuple[list[dict[str, Any]], list[str]]:
    metadata = document.get("metadata") or {}
    spec = document.get("spec") or {}
    base = _slo_name(str(spec.get("service", "")), str(metadata.get("name", "openslo")))
    window = _openslo_window(spec)
    notes = []
    if window is None:
        notes.append(f"{where}: {base}: no usable time window; using {SLOTH_DEFAULT_WINDOW}")
        window = SLOTH_DEFAULT_WINDOW
    indicator = ((spec.get("indicator") or {}).get("spec") or {}).get("ratioMetric")
    objectives = spec.get("objectives") or []
    slos = []
    for index, objective in enumerate(objectives):
        ratio = objective.get("ratioMetrics") or objective.get("ratioMetric") or indicator
        name = base if len(objectives) == 1 else f"{base}-{index + 1}"
        if not isinstance(ratio, Mapping):
            notes.append(f"{where}: {name}: only ratio SLIs are imported; skipped")
            continue
        target = objective.get("target")
        if target is None and objective.get("targetPercent") is not None:
            target = f"{objective['targetPercent']}%"
        sli = {
            key: _openslo_query(ratio.get(key))
            for key in ("good", "bad", "total")
            if _openslo_query(ratio.get(key)) is not None
        }
        item: dict[str, Any] = {
            "name": name,
            "kind": "promql",
            "objective": target,
            "window": window,
            "labels": _labels(metadata.get("labels")),
            "promql": sli,
        }
        if spec.get("description"):
            item["description"] = str(spec["description"])
        slos.append(item)
    return slos, notes


def read_spec(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """SLO entries (config shape) and notes from a Sloth or OpenSLO file."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    slos: list[dict[str, Any]] = []
    notes: list[str] = []
    for number, document in enumerate(documents, start=1):
        where = f"{path}" if len(documents) == 1 else f"{path} (document {number})"
        if not isinstance(document, Mapping):
            raise ConfigError([f"{where}: expected a mapping"])
        if document.get("version") == _SLOTH_VERSION:
            found, said = _sloth_slos(document, where)
        elif document.get("apiVersion") in _OPENSLO_VERSIONS and document.get("kind") == "SLO":
            found, said = _openslo_slos(document, where)
        elif document.get("apiVersion") in _OPENSLO_VERSIONS:
            continue  # SLIs, services, alert policies: only SLO documents become SLOs
        else:
            raise ConfigError(
                [
                    f"{where}: not a Sloth {_SLOTH_VERSION} spec nor an OpenSLO SLO "
                    f"(version {document.get('version')!r}, apiVersion "
                    f"{document.get('apiVersion')!r})"
                ]
            )
        slos += found
        notes += said
    return slos, notes


def import_specs(config: Config, paths: Sequence[Path], notes: list[str] | None = None) -> Config:
    """``config`` with the SLOs of every spec added (kind promql), validated like the config."""
    entries: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        found, said = read_spec(path)
        entries += [(path, item) for item in found]
        if notes is not None:
            notes += said
    problems: list[str] = []
    imported: list[SloConfig] = []
    names = {slo.name for slo in config.slos}
    for path, item in entries:
        try:
            slo = SloConfig.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function"))
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(f"{path}: SLO {item.get('name')}: {loc}: {message}")
            continue
        if slo.name in names:
            problems.append(f"{path}: SLO {slo.name}: the config already has an SLO of that name")
            continue
        names.add(slo.name)
        imported.append(slo)
    if problems:
        raise ConfigError(problems)
    return config.model_copy(update={"slos": [*config.slos, *imported]})
