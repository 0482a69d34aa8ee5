"""The one YAML file that drives the exporter and the pack, as typed values.

:func:`load_config` reads ``helpdesk-slo.yml`` and returns a :class:`Config`,
or raises :class:`ConfigError` listing *every* problem at once, each with the
file, the line and the path of the offending value::

    helpdesk-slo.yml:23: slos[1].objective: must be below 100% (got 100%)

Unknown keys are errors (a typo must not silently disable an SLO), secrets are
read only from files or environment variables, and relative paths are
relative to the config file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from exporter.calendar import BusinessCalendar
from exporter.model import Author, Priority
from exporter.units import Duration, format_percent, parse_duration, parse_ratio

DEFAULT_LISTEN_PORT = 9707
SLA_METRICS = ("first_response", "next_response", "resolution")
ALWAYS = "24x7"
#: Label names the pack sets itself; an SLO's own labels may not use them.
RESERVED_LABELS = frozenset(
    {"slo", "service", "severity", "long_window", "short_window", "burn_rate", "alertname"}
)


class ConfigError(Exception):
    """The config is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# --- value types ------------------------------------------------------------------------------


def _duration(value: object) -> Duration:
    return parse_duration(value)


def _positive_duration(value: object) -> Duration:
    parsed = parse_duration(value)
    if parsed.seconds <= 0:
        raise ValueError(f"must be longer than zero (got {value!r})")
    return parsed


def _objective(value: object) -> Decimal:
    ratio = parse_ratio(value)
    if ratio >= 1:
        raise ValueError(f"must be below 100% (got {format_percent(ratio)})")
    if ratio <= 0:
        raise ValueError(f"must be above 0% (got {format_percent(ratio)})")
    return ratio


DurationValue = Annotated[Duration, BeforeValidator(_duration)]
PositiveDuration = Annotated[Duration, BeforeValidator(_positive_duration)]
Objective = Annotated[Decimal, BeforeValidator(_objective)]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# --- source -----------------------------------------------------------------------------------


class SourceType(StrEnum):
    ZENDESK = "zendesk"
    FRESHDESK = "freshdesk"
    JIRA = "jira"
    ZAMMAD = "zammad"
    DEMO = "demo"
    FILE = "file"


_NEEDS_URL = {SourceType.ZENDESK, SourceType.FRESHDESK, SourceType.JIRA, SourceType.ZAMMAD}


class SourceConfig(_Strict):
    type: SourceType
    url: str | None = None
    email: str | None = None
    token_file: Path | None = None
    token_env: str | None = None
    auth: Literal["token", "oauth", "basic"] = "token"
    path: Path | None = Field(default=None, description="JSON Lines file (type: file)")
    poll_interval: PositiveDuration = parse_duration("60s")
    lookback: PositiveDuration = parse_duration("35d")
    timeout: PositiveDuration = parse_duration("30s")
    page_size: int = Field(default=1000, ge=1, le=1000)
    priority_map: dict[str, Priority] = Field(default_factory=dict)
    status_map: dict[str, str] = Field(default_factory=dict)
    seed: int = 1
    speed: float = Field(default=1.0, gt=0, description="demo: simulated seconds per real second")
    history: PositiveDuration = parse_duration("7d")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"expected an http(s) URL such as https://acme.zendesk.com, got {value!r}")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _needs(self) -> SourceConfig:
        problems = []
        if self.type is SourceType.FILE and self.path is None:
            problems.append("a file source needs `path:` (a JSON Lines file of tickets)")
        if self.type in _NEEDS_URL:
            if self.url is None:
                problems.append(f"a {self.type.value} source needs `url:`")
            if self.token_file is None and self.token_env is None:
                problems.append(
                    f"a {self.type.value} source needs `token_file:` or `token_env:` "
                    "(secrets are never written in the config)"
                )
        if self.token_file is not None and self.token_env is not None:
            problems.append("give either token_file or token_env, not both")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --- calendars --------------------------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def _parse_days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in _DAYS or last not in _DAYS:
                raise ValueError(f"unknown day range {part!r} (days are {', '.join(_DAYS)})")
            start, end = _DAYS.index(first), _DAYS.index(last)
            if end < start:
                raise ValueError(f"day range {part!r} runs backwards")
            days.extend(range(start, end + 1))
        elif part in _DAYS:
            days.append(_DAYS.index(part))
        else:
            raise ValueError(f"unknown day {part!r} (days are {', '.join(_DAYS)})")
    return days


def _parse_interval(text: str) -> tuple[int, int]:
    match = _HOURS.match(text.strip())
    if not match:
        raise ValueError(f"expected hours like 09:00-17:30, got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 86400:
        raise ValueError(f"no such time of day in {text!r} (use 00:00 to 24:00)")
    if end <= start:
        raise ValueError(f"interval {text!r} ends before it starts")
    return start, end


def _weekly(value: Any) -> dict[int, tuple[tuple[int, int], ...]]:
    if isinstance(value, str) and value.strip().lower() == ALWAYS:
        return {day: ((0, 86400),) for day in range(7)}
    if not isinstance(value, Mapping):
        raise ValueError('expected a mapping like {mon-fri: ["09:00-17:00"]} or 24x7')
    weekly: dict[int, list[tuple[int, int]]] = {}
    for spec, intervals in value.items():
        if not isinstance(spec, str):
            raise ValueError(f"expected day names such as mon-fri, got {spec!r}")
        if isinstance(intervals, str):
            intervals = [intervals]
        if not isinstance(intervals, list):
            raise ValueError(f"{spec}: expected a list of intervals like 09:00-17:00")
        parsed = [_parse_interval(str(i)) for i in intervals]
        for day in _parse_days(spec):
            if day in weekly:
                raise ValueError(f"{_DAYS[day]} is given twice")
            weekly[day] = sorted(parsed)
    for day, spans in weekly.items():
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if start < end:
                raise ValueError(f"{_DAYS[day]}: intervals overlap")
    if not any(weekly.values()):
        raise ValueError("a calendar needs some business hours")
    return {day: tuple(spans) for day, spans in weekly.items()}


def _holiday(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"expected a date like 2026-12-25, got {value!r}") from None


Weekly = Annotated[dict[int, tuple[tuple[int, int], ...]], BeforeValidator(_weekly)]
Holiday = Annotated[date, BeforeValidator(_holiday)]


class CalendarConfig(_Strict):
    timezone: str = "UTC"
    hours: Weekly = Field(default_factory=lambda: _weekly(ALWAYS))
    holidays: list[Holiday] = Field(default_factory=list)
    country: str | None = None
    subdivision: str | None = None

    @property
    def is_always(self) -> bool:
        return (
            self.timezone == "UTC"
            and not self.holidays
            and self.country is None
            and self.hours == _weekly(ALWAYS)
        )


def _calendar(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() == ALWAYS:
        return {}
    return value


# --- SLAs -------------------------------------------------------------------------------------


class SlaMode(StrEnum):
    COMPUTED = "computed"
    NATIVE = "native"


class SlaConfig(_Strict):
    """One SLA metric of the contract: its calendar and a target per priority."""

    calendar: str | None = None
    targets: dict[Priority, PositiveDuration]
    mode: SlaMode = SlaMode.COMPUTED
    replies_count: tuple[Author, ...] = (Author.AGENT,)
    pause_statuses: frozenset[str] = frozenset({"pending", "on_hold"})

    @field_validator("replies_count")
    @classmethod
    def _replies(cls, value: tuple[Author, ...]) -> tuple[Author, ...]:
        if not value:
            raise ValueError("must name at least one author (agent, ai_agent)")
        return value


# --- SLOs -------------------------------------------------------------------------------------


class SloKind(StrEnum):
    TIME = "time"
    CSAT = "csat"
    PROMQL = "promql"


class MatchConfig(_Strict):
    """Which tickets an SLO counts; every given field must match (tags: all listed)."""

    priority: tuple[Priority, ...] = ()
    channel: tuple[str, ...] = ()
    group: tuple[str, ...] = ()
    brand: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @field_validator("priority", "channel", "group", "brand", "type", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


class BurnTier(_Strict):
    """One multi-window burn-rate alert: budget share spent over the long window."""

    severity: Severity
    long_window: PositiveDuration
    short_window: PositiveDuration
    budget_percent: float | None = Field(default=None, gt=0, le=100)
    burn_rate: float | None = Field(default=None, gt=0)
    min_bad_events: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_factor(self) -> BurnTier:
        if (self.budget_percent is None) == (self.burn_rate is None):
            raise ValueError("give exactly one of budget_percent and burn_rate")
        if self.short_window.seconds >= self.long_window.seconds:
            raise ValueError("short_window must be shorter than long_window")
        return self


class AlertingConfig(_Strict):
    page: bool = True
    ticket: bool = True
    runbook_url: str | None = None
    dashboard_url: str | None = None
    tiers: tuple[BurnTier, ...] | None = None
    min_bad_events: int = Field(default=3, ge=0)
    for_: DurationValue | None = Field(default=None, alias="for")
    backlog_tickets: int = Field(default=2, ge=1)
    breach_imminent: PositiveDuration = parse_duration("15m")


class PromqlSli(_Strict):
    good: str | None = None
    bad: str | None = None
    total: str

    @model_validator(mode="after")
    def _one(self) -> PromqlSli:
        if (self.good is None) == (self.bad is None):
            raise ValueError("give exactly one of good and bad, with total")
        return self


def _percentile(value: Any) -> Decimal:
    text = str(value).strip().lower().removeprefix("p")
    return _objective(f"{text}%")


class SloConfig(_Strict):
    name: str
    kind: SloKind = SloKind.TIME
    description: str | None = None
    sla: str | None = None
    match: MatchConfig = MatchConfig()
    threshold: str | None = None
    objective: Objective | None = None
    percentile: Annotated[Decimal, BeforeValidator(_percentile)] | None = None
    window: str = "28d"
    labels: dict[str, str] = Field(default_factory=dict)
    alerting: AlertingConfig = AlertingConfig()
    promql: PromqlSli | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"use lowercase letters, digits, - and _ (got {value!r}); "
                "the name becomes a label value and a file name"
            )
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if value in ("week", "month"):
            return value
        duration = parse_duration(value)
        if duration.seconds < 3600:
            raise ValueError(f"a rolling window must be at least 1h (got {value})")
        if duration.seconds % 3600:
            raise ValueError(f"a rolling window must be whole hours (got {value})")
        return value

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str):
            raise ValueError(
                f"write a duration (30m) or a percentage of the SLA target (50%), got {value!r}"
            )
        if value.strip().endswith("%"):
            ratio = parse_ratio(value)
            if ratio <= 0:
                raise ValueError(f"must be above 0% (got {value})")
        else:
            _positive_duration(value)
        return value.strip()

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _LABEL_NAME.match(key):
                raise ValueError(f"{key!r} is not a valid Prometheus label name")
            if key in RESERVED_LABELS:
                raise ValueError(f"label {key!r} is set by the pack itself; choose another name")
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> SloConfig:
        problems = []
        if self.objective is None and self.percentile is None:
            problems.append("needs `objective:` (e.g. 95%)")
        if (
            self.objective is not None
            and self.percentile is not None
            and self.objective != self.percentile
        ):
            problems.append("objective and percentile disagree; give one")
        if self.kind is SloKind.TIME:
            if self.sla is None:
                problems.append("a time SLO needs `sla:` (first_response, next_response, resolution)")
            if self.promql is not None:
                problems.append("`promql:` belongs to kind: promql")
        elif self.kind is SloKind.PROMQL:
            if self.promql is None:
                problems.append("a promql SLO needs `promql: {good|bad: ..., total: ...}`")
        if self.kind is not SloKind.TIME:
            for key in ("sla", "threshold"):
                if getattr(self, key) is not None:
                    problems.append(f"`{key}:` belongs to kind: time")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- derived values used by the engine and the pack --

    @property
    def objective_ratio(self) -> Decimal:
        value = self.objective if self.objective is not None else self.percentile
        assert value is not None  # guaranteed by _kind_fields
        return value

    @property
    def error_budget(self) -> Decimal:
        return 1 - self.objective_ratio

    @property
    def calendar_window(self) -> str | None:
        """``week`` or ``month`` for calendar windows, None for rolling ones."""
        return self.window if self.window in ("week", "month") else None

    @property
    def window_seconds(self) -> float:
        """Length of a rolling window; for calendar windows, the nominal 7d or 30d."""
        if self.window == "week":
            return 7 * 86400.0
        if self.window == "month":
            return 30 * 86400.0
        return parse_duration(self.window).seconds

    @property
    def threshold_fraction(self) -> Decimal | None:
        """The threshold as a share of each ticket's SLA target, when written as ``50%``."""
        if self.threshold is None:
            return Decimal(1)
        if self.threshold.endswith("%"):
            return parse_ratio(self.threshold)
        return None

    @property
    def threshold_duration(self) -> Duration | None:
        if self.threshold is None or self.threshold.endswith("%"):
            return None
        return parse_duration(self.threshold)


# --- the whole file ---------------------------------------------------------------------------


class ExporterConfig(_Strict):
    top_deadlines: int = Field(default=0, ge=0, le=50)
    breakdown: dict[Literal["channel", "group", "brand"], tuple[str, ...]] = Field(
        default_factory=dict
    )
    retention_margin: PositiveDuration = parse_duration("7d")


class Config(_Strict):
    service: str = "support"
    source: SourceConfig = SourceConfig(type=SourceType.DEMO)
    store: Path = Path("helpdesk-slo-state.db")
    calendars: dict[str, Annotated[CalendarConfig, BeforeValidator(_calendar)]] = Field(
        default_factory=dict
    )
    slas: dict[Literal["first_response", "next_response", "resolution"], SlaConfig] = Field(
        default_factory=dict
    )
    slos: list[SloConfig] = Field(default_factory=list)
    exporter: ExporterConfig = ExporterConfig()
    #: Where the config was read from (for messages); not a YAML key.
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def calendar_name(self, sla: SlaConfig) -> str:
        if sla.calendar is not None:
            return sla.calendar
        return next(iter(self.calendars), ALWAYS)

    def build_calendars(self) -> dict[str, BusinessCalendar]:
        """One :class:`BusinessCalendar` per configured name (plus ``24x7``)."""
        built: dict[str, BusinessCalendar] = {ALWAYS: BusinessCalendar.always(name=ALWAYS)}
        for name, cal in self.calendars.items():
            if cal.is_always:
                built[name] = BusinessCalendar.always(name=name)
            else:
                built[name] = BusinessCalendar(
                    timezone=cal.timezone,
                    weekly=cal.hours,
                    holidays=frozenset(cal.holidays),
                    country=cal.country,
                    subdivision=cal.subdivision,
                    name=name,
                )
        return built

    def slo(self, name: str) -> SloConfig:
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise KeyError(name)


# --- loading with line numbers ----------------------------------------------------------------

Path_ = tuple[str | int, ...]


@dataclass
class _Lines:
    """Line numbers of every node of a YAML document, by path."""

    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int | None:
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def _index_lines(node: yaml.Node | None, path: Path_, out: dict[Path_, int]) -> None:
    if node is None:
        return
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            key_path = (*path, str(key.value))
            out[key_path] = key.start_mark.line + 1
            _index_lines(value, key_path, out)
            out[key_path] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), out)


def _format_path(path: Path_) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _clean_message(error: Mapping[str, Any], model_fields: Sequence[str]) -> str:
    kind = error.get("type", "")
    message = str(error.get("msg", ""))
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        if key in ("token", "api_key", "password"):
            return "secrets are never written in the config: use token_file or token_env"
        close = difflib.get_close_matches(key, model_fields, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "required"
    if kind == "literal_error" or kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected} (got {error.get('input')!r})"
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _allowed_keys(root: type[BaseModel], loc: Path_) -> list[str]:
    """Field names of the model a location points into, for did-you-mean hints."""
    model: Any = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        model = _innermost_model(annotation)
        if model is None:
            return []
    fields = getattr(model, "model_fields", {})
    return [f.alias or name for name, f in fields.items() if name != "path"]


def _innermost_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _innermost_model(arg)
        if found is not None:
            return found
    for arg in getattr(annotation, "__metadata__", ()) or ():
        del arg
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and origin is not annotation:
        return _innermost_model(origin)
    return None


def _loc_path(loc: Sequence[Any]) -> Path_:
    # pydantic inserts validator names such as 'function-before[...]' into locations
    return tuple(p for p in loc if isinstance(p, int) or not str(p).startswith("function-"))


def _semantic_problems(config: Config) -> Iterator[tuple[Path_, str]]:
    """Problems that span several sections (references, units per calendar)."""
    for name, cal in config.calendars.items():
        try:
            BusinessCalendar(
                timezone=cal.timezone,
                weekly=cal.hours,
                holidays=frozenset(cal.holidays),
                country=cal.country,
                subdivision=cal.subdivision,
                name=name,
            )
        except ValueError as exc:
            yield ("calendars", name), str(exc)
    business: dict[str, bool] = {}
    for metric, sla in config.slas.items():
        cal_name = config.calendar_name(sla)
        if cal_name != ALWAYS and cal_name not in config.calendars:
            known = ", ".join([*config.calendars, ALWAYS])
            yield ("slas", metric, "calendar"), f"no calendar named {cal_name!r} (known: {known})"
            continue
        is_business = cal_name != ALWAYS and not config.calendars[cal_name].is_always
        business[metric] = is_business
        if is_business:
            for priority, target in sla.targets.items():
                if target.uses_days:
                    yield (
                        ("slas", metric, "targets", priority.value),
                        f"{target} on business calendar {cal_name!r} is ambiguous "
                        "(one business day is not 24h): write hours, e.g. 8h",
                    )
        if metric == "resolution" and sla.replies_count != (Author.AGENT,):
            yield ("slas", metric, "replies_count"), "only reply clocks count replies"
    seen: set[str] = set()
    for i, slo in enumerate(config.slos):
        if slo.name in seen:
            yield ("slos", i, "name"), f"duplicate SLO name {slo.name!r}"
        seen.add(slo.name)
        if slo.kind is not SloKind.TIME or slo.sla is None:
            continue
        if slo.sla not in config.slas:
            known = ", ".join(config.slas) or "none defined under slas:"
            yield ("slos", i, "sla"), f"no SLA named {slo.sla!r} (known: {known})"
            continue
        sla = config.slas[slo.sla]
        duration = slo.threshold_duration
        if duration is not None and duration.uses_days and business.get(slo.sla):
            yield (
                ("slos", i, "threshold"),
                f"{duration} on a business calendar is ambiguous (one business day is not 24h): "
                "write hours, e.g. 8h",
            )
        if duration is None:
            missing = [p.value for p in slo.match.priority if p not in sla.targets]
            if missing:
                yield (
                    ("slos", i, "threshold"),
                    f"a percentage threshold needs an SLA target for {', '.join(missing)} "
                    f"under slas.{slo.sla}.targets",
                )


def parse_config(text: str, path: Path | None = None, base_dir: Path | None = None) -> Config:
    """Validate a config document; raise :class:`ConfigError` with every problem."""
    name = str(path) if path is not None else "<config>"
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{name}{line}: not valid YAML: {problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{name}:1: expected a mapping of settings at the top level"])
    lines: dict[Path_, int] = {}
    _index_lines(node, (), lines)
    where = _Lines(lines)

    def located(loc: Path_, message: str) -> str:
        line = where.line_of(loc)
        prefix = f"{name}:{line}" if line is not None else name
        return f"{prefix}: {_format_path(loc)}: {message}"

    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = _loc_path(error["loc"])
            message = _clean_message(error, _allowed_keys(Config, loc))
            problems.append(located(loc, message))
        raise ConfigError(sorted(set(problems), key=_line_key)) from None

    problems = [located(loc, message) for loc, message in _semantic_problems(config)]
    if problems:
        raise ConfigError(sorted(set(problems), key=_line_key))

    base = base_dir if base_dir is not None else (path.parent if path is not None else Path.cwd())
    source = config.source
    updates: dict[str, Any] = {}
    for key in ("path", "token_file"):
        value = getattr(source, key)
        if value is not None and not value.is_absolute():
            updates[key] = base / value
    if updates:
        source = source.model_copy(update=updates)
    store = config.store if config.store.is_absolute() else base / config.store
    return config.model_copy(update={"source": source, "store": store, "path": path})


def _line_key(problem: str) -> tuple[int, str]:
    match = re.match(r"^[^:]*:(\d+):", problem)
    return (int(match.group(1)) if match else 0, problem)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file (see :func:`parse_config`)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read config: {exc.strerror or exc}"]) from None
    return parse_config(text, path=file, base_dir=file.parent)


def default_config(base_dir: Path | None = None) -> Config:
    """The built-in demo setup used by ``serve`` without ``--config``."""
    from exporter.demo_config import DEMO_CONFIG

    return parse_config(DEMO_CONFIG, path=Path("<built-in demo>"), base_dir=base_dir or Path.cwd())


def read_secret(source: SourceConfig) -> str | None:
    """The API token from ``token_file`` or ``token_env``; never logged."""
    import os

    if source.token_file is not None:
        try:
            return source.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                [f"source.token_file: cannot read {source.token_file}: {exc.strerror or exc}"]
            ) from None
    if source.token_env is not None:
        value = os.environ.get(source.token_env)
        if not value:
            raise ConfigError([f"source.token_env: environment variable {source.token_env} is not set"])
        return value.strip()
    return None
