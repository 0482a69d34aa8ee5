"""The one YAML file that drives the exporter and the pack, as typed values.

:func:`load_config` reads ``helpdesk-slo.yml`` and returns a :class:`Config`,
or raises :class:`ConfigError` listing *every* problem at once, each with the
file, the line and the path of the offending value::

    helpdesk-slo.yml:23: slos[1].objective: must be below 100% (got 100%)

Unknown keys are errors (a typo must not silently disable an SLO), so are keys
given twice; secrets are read only from files or environment variables, and
relative paths are relative to the config file.
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
import types
import typing
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from exporter.calendar import BusinessCalendar
from exporter.labels import CHANNELS
from exporter.model import Author, Priority
from exporter.plugins import (
    ENTRY_POINT_GROUP,
    REPORTS_ASSIGNMENTS,
    PluginType,
    installed_sources,
    plugin_declares,
)
from exporter.units import (
    Duration,
    DurationTooLong,
    format_percent,
    parse_duration,
    parse_ratio,
)
from exporter.yamlfile import TextFileError, read_text, shorten, shorten_quotes, yaml_error_text
from exporter.yamlfile import load as load_yaml

DEFAULT_LISTEN_PORT = 9707
SLA_METRICS = ("first_response", "next_response", "resolution")
ALWAYS = "24x7"
#: Label names the pack sets itself; an SLO's own labels may not use them.
RESERVED_LABELS = frozenset(
    {"slo", "service", "severity", "long_window", "short_window", "burn_rate", "alertname"}
    # and the labels the rules match or aggregate on
    | {"result", "sla", "priority", "le", "job", "instance", "alertstate"}
)
#: Keys that would put a secret in the file; refused without echoing the value.
_SECRET_KEYS = frozenset(
    {"token", "api_token", "api_key", "apikey", "password", "secret", "webhook_url", "api_url"}
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


def _percentile(value: object) -> Decimal:
    """``p95``, ``p99.9``, ``95`` or ``95%`` -> the objective it stands for."""
    problem = f"expected a percentile such as p95 or p99.9, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(problem)
    text = str(value).strip().lower().removeprefix("p").removesuffix("%").strip()
    try:
        number = parse_ratio(f"{text}%") * 100
    except ValueError:
        raise ValueError(problem) from None
    if number < 1:
        raise ValueError(f"write percentiles as p95, p99.9 (got {value!r})")
    return _objective(f"{text}%")


def _string_keys(value: Any) -> Any:
    """Mapping keys as text: YAML reads ``1: urgent`` with an integer key."""
    if isinstance(value, Mapping):
        return {
            str(key) if isinstance(key, int | float) and not isinstance(key, bool) else key: item
            for key, item in value.items()
        }
    return value


DurationValue = Annotated[Duration, BeforeValidator(_duration)]
PositiveDuration = Annotated[Duration, BeforeValidator(_positive_duration)]
Objective = Annotated[Decimal, BeforeValidator(_objective)]
Percentile = Annotated[Decimal, BeforeValidator(_percentile)]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# --- source -----------------------------------------------------------------------------------


class SourceType(StrEnum):
    ZENDESK = "zendesk"
    FRESHDESK = "freshdesk"
    JIRA = "jira"
    ZAMMAD = "zammad"
    INTERCOM = "intercom"
    DEMO = "demo"
    FILE = "file"


def _source_type(value: Any) -> Any:
    """A built-in :class:`SourceType`, or the name of a source another package installed."""
    if isinstance(value, SourceType | PluginType):
        return value
    if isinstance(value, str):
        try:
            return SourceType(value)
        except ValueError:
            pass
    installed = installed_sources()
    if isinstance(value, str) and value in installed:
        return PluginType(value)
    built_in = [kind.value for kind in SourceType]
    others = sorted(name for name in installed if name not in built_in)
    raise ValueError(
        f"{_one_of([*built_in, *others], value)}; sources installed from other packages "
        f"(entry point group {ENTRY_POINT_GROUP}): {', '.join(others) or 'none'}"
    )


#: The largest threshold written as a share of each ticket's SLA target (1000%).
MAX_THRESHOLD_RATIO = Decimal(10)
#: The longest ``source.poll_interval``: the stale-data alert waits five of them.
MAX_POLL_INTERVAL = parse_duration("1d")

_NEEDS_URL = {SourceType.ZENDESK, SourceType.FRESHDESK, SourceType.JIRA, SourceType.ZAMMAD}
#: The base URL of a hosted API when ``source.url`` is not given.
DEFAULT_URLS = {SourceType.INTERCOM: "https://api.intercom.io"}
#: The source types this build can poll; the others are named so that `check` can refuse them.
POLLED_TYPES = (
    SourceType.ZENDESK,
    SourceType.FRESHDESK,
    SourceType.JIRA,
    SourceType.ZAMMAD,
    SourceType.INTERCOM,
    SourceType.FILE,
    SourceType.DEMO,
)
#: The source types whose tickets carry ``assigned`` events (``start: assigned``).
ASSIGNMENT_TYPES = frozenset(
    {
        SourceType.ZENDESK,
        SourceType.JIRA,
        SourceType.ZAMMAD,
        SourceType.INTERCOM,
        SourceType.DEMO,
        SourceType.FILE,
    }
)
_HTTP = frozenset(
    {
        SourceType.ZENDESK,
        SourceType.FRESHDESK,
        SourceType.JIRA,
        SourceType.ZAMMAD,
        SourceType.INTERCOM,
    }
)
#: ``source`` keys that only some source types read; any other type refuses them.
SOURCE_KEY_READERS: Mapping[str, frozenset[SourceType]] = {
    "url": _HTTP,
    "token_file": _HTTP,
    "token_env": _HTTP,
    "timeout": _HTTP,
    "poll_timeout": _HTTP,
    "max_retry_after": _HTTP,
    "page_size": _HTTP,
    "lookback": _HTTP,
    "priority_map": _HTTP,
    "status_map": _HTTP,
    "ai_agent_ids": _HTTP,
    "email": frozenset({SourceType.ZENDESK, SourceType.JIRA}),
    "projects": frozenset({SourceType.JIRA}),
    "sla_names": frozenset({SourceType.JIRA}),
    "api_version": frozenset({SourceType.INTERCOM}),
    "auth": frozenset({SourceType.ZENDESK}),
    "ai_agent_channels": frozenset({SourceType.ZENDESK}),
    "resolution_metric": frozenset({SourceType.ZENDESK}),
    "path": frozenset({SourceType.FILE}),
    "seed": frozenset({SourceType.DEMO}),
    "history": frozenset({SourceType.DEMO}),
}


#: Longest ``source.poll_timeout`` and ``source.max_retry_after`` (seconds): the staleness
#: alerts allow 15 minutes.
_MAX_SOURCE_WAIT = 600.0


class SourceConfig(_Strict):
    type: Annotated[SourceType | PluginType, BeforeValidator(_source_type)]
    url: str | None = None
    email: str | None = None
    token_file: Path | None = None
    token_env: str | None = None
    auth: Literal["token", "oauth", "basic"] = "token"
    path: Path | None = Field(default=None, description="JSON Lines file (type: file)")
    poll_interval: PositiveDuration = parse_duration("60s")
    lookback: PositiveDuration = parse_duration("35d")
    timeout: PositiveDuration = parse_duration("30s")
    poll_timeout: PositiveDuration = Field(
        default=parse_duration("5m"),
        description="most one poll may take; what is left is read on the next poll",
    )
    max_retry_after: PositiveDuration = Field(
        default=parse_duration("5m"),
        description="longest Retry-After honoured, in a poll and before the next one",
    )
    page_size: int = Field(default=1000, ge=1, le=1000)
    priority_map: Annotated[dict[str, Priority], BeforeValidator(_string_keys)] = Field(
        default_factory=dict
    )
    status_map: Annotated[dict[str, str], BeforeValidator(_string_keys)] = Field(
        default_factory=dict
    )
    seed: int = Field(default=1, description="demo: same seed, same simulated tickets")
    history: PositiveDuration = Field(
        default=parse_duration("7d"), description="demo: tickets already there at the first poll"
    )
    ai_agent_ids: tuple[str, ...] = Field(
        default=(), description="helpdesk user ids whose replies are an AI agent's"
    )
    ai_agent_channels: tuple[str, ...] = Field(
        default=(), description="reply channels (Zendesk via.channel) that mean an AI agent"
    )
    resolution_metric: Literal["agent_work_time", "requester_wait_time", "resolution_time"] = Field(
        default="agent_work_time",
        description="Zendesk native mode: which metric is the resolution clock",
    )
    projects: tuple[str, ...] = Field(
        default=(),
        description="jira: service desk project keys to read (all the token can see if empty)",
    )
    sla_names: Annotated[dict[str, str], BeforeValidator(_string_keys)] = Field(
        default_factory=dict,
        description="jira native mode: our SLA metric -> the name of the Jira SLA",
    )
    api_version: str = Field(
        default="2.11", description="intercom: the Intercom-Version header sent"
    )
    options: Annotated[dict[str, Any], BeforeValidator(_string_keys)] | None = Field(
        default=None,
        description="a source installed from another package: its own settings, passed as given",
    )
    ticket_url: str | None = Field(
        default=None,
        description="report: a ticket's page in the helpdesk, {id} standing for its id "
        "(default: the agent page of the source type, from url)",
    )
    #: ``file:line`` of ``token_file``/``token_env`` in the config, for :func:`read_secret`.
    _secret_at: str | None = PrivateAttr(default=None)

    @field_validator("ai_agent_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @field_validator("poll_interval")
    @classmethod
    def _poll_interval(cls, value: Duration) -> Duration:
        if value.seconds > MAX_POLL_INTERVAL.seconds:
            raise ValueError(
                f"must be at most {MAX_POLL_INTERVAL} (got {value}): a helpdesk polled less "
                "often cannot page in time"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if re.match(r"^https?://[^\s/@]*@", value):
            # never echo the value: it holds a password or a token
            raise ValueError("credentials do not belong in the URL: use token_file or token_env")
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(
                f"expected an http(s) URL such as https://acme.zendesk.com, got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("ticket_url")
    @classmethod
    def _ticket_url(cls, value: str | None) -> str | None:
        if value is not None and (
            "{id}" not in value or not re.match(r"^https?://[^\s/@]+", value)
        ):
            raise ValueError(
                f"expected an http(s) URL holding {{id}}, such as "
                f"https://help.example/tickets/{{id}}, got {shorten(value, 80)!r}"
            )
        return value

    @field_validator("token_env")
    @classmethod
    def _token_env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            # never echo the value: people paste the token itself here
            raise ValueError(
                "must be the name of an environment variable (letters, digits and _, "
                "e.g. ZENDESK_TOKEN), not the token itself"
            )
        return value

    @model_validator(mode="after")
    def _needs(self) -> SourceConfig:
        problems = []
        if self.type is SourceType.FILE and self.path is None:
            problems.append("a file source needs `path:` (a JSON Lines file of tickets)")
        if self.type in _NEEDS_URL and self.url is None:
            problems.append(f"a {self.type.value} source needs `url:`")
        if self.type in _HTTP and self.token_file is None and self.token_env is None:
            problems.append(
                f"a {self.type.value} source needs `token_file:` or `token_env:` "
                "(secrets are never written in the config)"
            )
        if self.token_file is not None and self.token_env is not None:
            problems.append("give either token_file or token_env, not both")
        for key in ("poll_timeout", "max_retry_after"):
            if getattr(self, key).seconds > _MAX_SOURCE_WAIT:
                problems.append(
                    f"{key} must be at most {_MAX_SOURCE_WAIT // 60:.0f}m, so that a helpdesk "
                    "that hangs or asks to wait for hours shows in the alerts in time"
                )
        if self.poll_timeout.seconds < self.timeout.seconds:
            problems.append("poll_timeout must be at least timeout (one whole request)")
        unknown = sorted(set(self.sla_names) - set(SLA_METRICS))
        if unknown:
            problems.append(
                f"sla_names: {', '.join(unknown)} is not an SLA metric "
                f"(known: {', '.join(SLA_METRICS)})"
            )
        if self.type is SourceType.ZENDESK and self.auth != "oauth" and self.email is None:
            problems.append(
                "a zendesk source with API token auth needs `email:` (the token's owner)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --- calendars --------------------------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def _parse_days(spec: str) -> list[int]:
    """``mon-fri``, ``sat``, ``mon,wed,fri`` or ``mon-wed,fri`` -> weekdays (0 = Monday)."""
    days: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in _DAYS or last not in _DAYS:
                raise ValueError(f"unknown day range {part!r} (days are {', '.join(_DAYS)})")
            start, end = _DAYS.index(first), _DAYS.index(last)
            if end < start:
                raise ValueError(f"day range {part!r} runs backwards (write e.g. mon-fri)")
            days.extend(range(start, end + 1))
        elif part in _DAYS:
            days.append(_DAYS.index(part))
        else:
            raise ValueError(f"unknown day {part!r} (days are {', '.join(_DAYS)})")
    return days


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _parse_interval(text: str) -> tuple[int, int]:
    """``09:00-17:30`` -> seconds since local midnight; ``24:00`` ends at midnight."""
    match = _HOURS.match(text.strip())
    if not match:
        raise ValueError(f"expected hours like 09:00-17:30, got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 86400:
        raise ValueError(f"no such time of day in {text!r} (use 00:00 to 24:00)")
    if end <= start:
        raise ValueError(
            f"interval {text!r} ends before it starts (an interval cannot cross midnight: "
            "end it at 24:00 and continue at 00:00 on the next day)"
        )
    return start, end


def _weekly(value: Any) -> dict[int, tuple[tuple[int, int], ...]]:
    if isinstance(value, str) and value.strip().lower() == ALWAYS:
        return {day: ((0, 86400),) for day in range(7)}
    if not isinstance(value, Mapping):
        raise ValueError('expected a mapping like {mon-fri: ["09:00-17:00"]} or 24x7')
    weekly: dict[int, list[tuple[int, int]]] = {}
    given_in: dict[int, str] = {}
    for spec, intervals in value.items():
        if not isinstance(spec, str):
            raise ValueError(f"expected day names such as mon-fri, got {spec!r}")
        if isinstance(intervals, str):
            intervals = [intervals]
        if not isinstance(intervals, list):
            raise ValueError(
                f"{spec}: expected a list of intervals like 09:00-17:00 ([] if closed)"
            )
        try:
            parsed = [_parse_interval(str(interval)) for interval in intervals]
        except ValueError as exc:
            raise ValueError(f"{spec}: {exc}") from None
        for day in _parse_days(spec):
            if day in weekly:
                raise ValueError(f"{_DAYS[day]} is given twice (in {given_in[day]} and in {spec})")
            weekly[day] = sorted(parsed)
            given_in[day] = spec
    for day, spans in weekly.items():
        for (first_start, first_end), (start, end) in itertools.pairwise(spans):
            if start < first_end:
                raise ValueError(
                    f"{_DAYS[day]}: intervals {_clock(first_start)}-{_clock(first_end)} and "
                    f"{_clock(start)}-{_clock(end)} overlap"
                )
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


def _calendar(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip().lower() == ALWAYS:
            return {}
        raise ValueError(
            f"expected a calendar (timezone, hours, holidays) or {ALWAYS}, got {value!r}"
        )
    return value


Weekly = Annotated[dict[int, tuple[tuple[int, int], ...]], BeforeValidator(_weekly)]
Holiday = Annotated[date, BeforeValidator(_holiday)]


class CalendarConfig(_Strict):
    timezone: str = "UTC"
    hours: Weekly = Field(default_factory=lambda: _weekly(ALWAYS))
    holidays: list[Holiday] = Field(default_factory=list)
    country: str | None = None
    subdivision: str | None = None
    #: read the hours from the helpdesk (``import: zendesk`` + ``schedule: <id>``)
    import_: Literal["zendesk", "freshdesk", "zammad", "intercom"] | None = Field(
        default=None, alias="import"
    )
    schedule: str | None = Field(
        default=None, description="the helpdesk's schedule / business-hours id"
    )

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _imported(self) -> CalendarConfig:
        given = self.model_fields_set
        if self.import_ is None:
            if self.schedule is not None:
                raise ValueError("`schedule:` needs `import:` (zendesk, freshdesk or zammad)")
            return self
        if self.import_ in ("zendesk", "intercom") and self.schedule is None:
            raise ValueError(f"`import: {self.import_}` needs `schedule:` (the schedule id)")
        clash = sorted(given & {"timezone", "hours"})
        if clash:
            raise ValueError(
                f"an imported calendar takes its {' and '.join(clash)} from the helpdesk; "
                "remove them (holidays and country add to the imported ones)"
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as Europe/Paris "
                "or America/New_York"
            ) from None
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        try:
            holidays_package.country_holidays(code, years=2000)
        except NotImplementedError:
            raise ValueError(
                f"no public holidays known for country {value!r}: use an ISO 3166 code "
                "such as FR, DE or US"
            ) from None
        return code

    @field_validator("subdivision", mode="before")
    @classmethod
    def _subdivision(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        value = str(value).strip()  # YAML reads `subdivision: 75` as a number
        if "country" not in info.data:
            return value  # the country itself is wrong; reported there
        country = info.data["country"]
        if country is None:
            raise ValueError("a subdivision needs `country:` too (e.g. country: US)")
        try:
            holidays_package.country_holidays(country, subdiv=value, years=2000)
        except NotImplementedError:
            raise ValueError(
                f"{country} has no subdivision {value!r} in the holidays list"
            ) from None
        return value

    @property
    def is_always(self) -> bool:
        return (
            self.import_ is None
            and self.timezone == "UTC"
            and not self.holidays
            and self.country is None
            and self.hours == _weekly(ALWAYS)
        )


# --- SLAs -------------------------------------------------------------------------------------


class SlaMode(StrEnum):
    COMPUTED = "computed"
    NATIVE = "native"


class SlaStart(StrEnum):
    """When an SLA's clock starts: at the ticket's creation, or when it is first assigned."""

    CREATED = "created"
    ASSIGNED = "assigned"


class SlaConfig(_Strict):
    """One SLA metric of the contract: its calendar and a target per priority."""

    calendar: str | None = None
    targets: dict[Priority, PositiveDuration]
    mode: SlaMode = SlaMode.COMPUTED
    replies_count: tuple[Author, ...] = (Author.AGENT,)
    pause_statuses: frozenset[str] = frozenset({"pending", "on_hold"})
    start: SlaStart = Field(
        default=SlaStart.CREATED,
        description="created, or assigned: the first assignment to an agent or a group",
    )

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: dict[Priority, Duration]) -> dict[Priority, Duration]:
        if not value:
            raise ValueError("needs a target for at least one priority, e.g. {urgent: 1h}")
        return value

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
    AVAILABILITY = "availability"

    @property
    def counted_by_exporter(self) -> bool:
        """The exporter decides this kind's events (tickets, ratings); Prometheus computes the
        others from their queries, and the exporter has no counters or gauges for them."""
        return self in (SloKind.TIME, SloKind.CSAT)


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
    backlog_for: DurationValue = Field(
        default=parse_duration("10m"),
        description="how long SupportSLOBacklogBreached must hold before it fires",
    )
    imminent_tickets: int | None = Field(
        default=None,
        ge=1,
        description="SupportSLOBacklogImminent: tickets past the threshold within the lead "
        "time (default: backlog_tickets)",
    )
    imminent_lead: PositiveDuration | None = Field(
        default=None,
        description="SupportSLOBacklogImminent: how far ahead it looks (default: a third of "
        "the SLO's shortest threshold, at least 5m)",
    )
    imminent_pace: PositiveDuration | None = Field(
        default=None,
        description="SupportSLOBacklogImminent: the tickets coming due are compared with the "
        "tickets answered in time over this window (default: three times the lead)",
    )
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


class AvailabilitySli(_Strict):
    """Time as the event: each business minute of ``during`` is good while ``up`` is 1."""

    #: PromQL instant vector, 1 while the service is available and 0 while it is not
    #: (values in between count as a share of the minute); of several series the lowest counts.
    up: str
    #: The calendar whose business hours count (``helpdesk_calendar_open{calendar}``).
    during: str

    @field_validator("up", "during")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


def _kind_of(info: ValidationInfo) -> SloKind | None:
    """The SLO's kind when it is valid (fields are validated in declaration order)."""
    kind = info.data.get("kind")
    return kind if isinstance(kind, SloKind) else None


class SloConfig(_Strict):
    name: str
    kind: SloKind = SloKind.TIME
    description: str | None = None
    sla: str | None = None
    match: MatchConfig = MatchConfig()
    threshold: str | None = None
    objective: Objective | None = None
    percentile: Percentile | None = None
    window: str = "28d"
    labels: dict[str, str] = Field(default_factory=dict)
    alerting: AlertingConfig = AlertingConfig()
    promql: PromqlSli | None = None
    availability: AvailabilitySli | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"use lowercase letters, digits, - and _ (got {value!r}); "
                "the name becomes a label value and a file name"
            )
        return value

    @field_validator("sla", "threshold")
    @classmethod
    def _time_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = _kind_of(info)
        if value is not None and kind is not None and kind is not SloKind.TIME:
            raise ValueError(f"belongs to kind: time (this SLO is kind: {kind.value})")
        return value

    @field_validator("match")
    @classmethod
    def _tickets_only(cls, value: MatchConfig, info: ValidationInfo) -> MatchConfig:
        if _kind_of(info) is SloKind.AVAILABILITY:
            raise ValueError(
                "an availability SLO counts time, not tickets: remove `match:` "
                "(the `up` query selects what is measured)"
            )
        return value

    @field_validator("promql")
    @classmethod
    def _promql_only(cls, value: PromqlSli | None, info: ValidationInfo) -> PromqlSli | None:
        kind = _kind_of(info)
        if value is not None and kind is not None and kind is not SloKind.PROMQL:
            raise ValueError(f"belongs to kind: promql (this SLO is kind: {kind.value})")
        return value

    @field_validator("availability")
    @classmethod
    def _availability_only(
        cls, value: AvailabilitySli | None, info: ValidationInfo
    ) -> AvailabilitySli | None:
        kind = _kind_of(info)
        if value is not None and kind is not None and kind is not SloKind.AVAILABILITY:
            raise ValueError(f"belongs to kind: availability (this SLO is kind: {kind.value})")
        return value

    @field_validator("percentile")
    @classmethod
    def _same_objective(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        objective = info.data.get("objective")
        if value is not None and objective is not None and objective != value:
            raise ValueError(
                f"says {format_percent(value)} but objective says {format_percent(objective)}: "
                "give one of them"
            )
        return value

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        problem = f"expected a rolling duration such as 28d or 4w, or week / month, got {value!r}"
        if not isinstance(value, str):
            raise ValueError(problem)
        value = value.strip()
        if value in ("week", "month"):
            return value
        try:
            duration = parse_duration(value)
        except DurationTooLong:
            raise
        except ValueError:
            raise ValueError(problem) from None
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
            if ratio > MAX_THRESHOLD_RATIO:
                raise ValueError(
                    f"must be at most {format_percent(MAX_THRESHOLD_RATIO)} of the SLA target "
                    f"(got {value.strip()})"
                )
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
        if self.kind is SloKind.TIME and self.sla is None:
            problems.append("a time SLO needs `sla:` (first_response, next_response, resolution)")
        if self.kind is SloKind.PROMQL and self.promql is None:
            problems.append("a promql SLO needs `promql: {good|bad: ..., total: ...}`")
        if self.kind is SloKind.AVAILABILITY and self.availability is None:
            problems.append(
                "an availability SLO needs `availability: {up: <PromQL, 1 when available>, "
                "during: <calendar>}`"
            )
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
        """The threshold as a share of each ticket's SLA target, when written as ``50%``.

        No threshold means the SLA target itself (``100%``).
        """
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

    @field_validator("breakdown")
    @classmethod
    def _breakdown(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        unlabelled = [key for key in value if key != "channel"]
        if unlabelled:
            raise ValueError(
                f"{', '.join(unlabelled)}: only `channel` is a breakdown label in this build; "
                "remove the others (SLOs can still `match:` on group and brand)"
            )
        unknown = [name for name in value.get("channel", ()) if name not in CHANNELS]
        if unknown:
            raise ValueError(
                f"channel: {', '.join(map(repr, unknown))} not among the channel labels "
                f"({', '.join(CHANNELS)}); helpdesk spellings such as voice or whatsapp "
                "are mapped onto these"
            )
        return value


class NotifyConfig(_Strict):
    """Where alerts go and where links in them point (Alertmanager, runbooks, dashboards)."""

    pages_channel: str = "#support-pages"
    slo_channel: str = "#support-slo"
    #: as Alertmanager sees it (not resolved against this file): the Slack webhook URL
    webhook_url_file: str = "/etc/alertmanager/secrets/slack-webhook-url"
    grafana_url: str = "http://localhost:3000"
    runbook_base_url: str = "runbooks"
    username: str = "helpdesk-slo"

    @field_validator("grafana_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value.rstrip("/")


class SlaImportConfig(_Strict):
    """``slas: {import: zendesk}``: the contract read from the helpdesk's SLA policy."""

    import_: Literal["zendesk", "freshdesk", "zammad"] = Field(alias="import")
    #: the policy's title or id; default: Zendesk's first policy, Freshdesk's default one
    policy: str | None = None
    #: the calendar of targets that count business hours
    calendar: str | None = None
    mode: SlaMode = SlaMode.COMPUTED

    @field_validator("policy", mode="before")
    @classmethod
    def _policy(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


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
    notify: NotifyConfig = NotifyConfig()
    #: Where the config was read from (for messages); not a YAML key.
    path: Path | None = Field(default=None, exclude=True)
    #: ``slas: {import: ...}``, moved here when the file is read; filled in at start-up
    sla_import: SlaImportConfig | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _sla_import(cls, data: Any) -> Any:
        if isinstance(data, dict):
            slas = data.get("slas")
            if isinstance(slas, dict) and "import" in slas:
                data = dict(data)
                data["sla_import"] = {k: v for k, v in slas.items() if k not in SLA_METRICS}
                data["slas"] = {k: v for k, v in slas.items() if k in SLA_METRICS}
        return data

    @field_validator("store", mode="before")
    @classmethod
    def _store(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "must name the SQLite file that keeps counters across restarts, "
                "e.g. helpdesk-slo-state.db"
            )
        if isinstance(value, str) and value.rstrip().endswith(("/", "\\")):
            raise ValueError(
                f"names a directory ({value!r}): name the SQLite file in it, "
                f"e.g. {value.rstrip()}helpdesk-slo-state.db"
            )
        return value

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
                built[name] = _business_calendar(name, cal)
        return built

    def slo(self, name: str) -> SloConfig:
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise KeyError(name)


def _business_calendar(name: str, cal: CalendarConfig) -> BusinessCalendar:
    return BusinessCalendar(
        timezone=cal.timezone,
        weekly=cal.hours,
        holidays=frozenset(cal.holidays),
        country=cal.country,
        subdivision=cal.subdivision,
        name=name,
    )


# --- where things are in the file -------------------------------------------------------------

Path_ = tuple[str | int, ...]


@dataclass
class _Lines:
    """Line numbers of every node of a YAML document, by path."""

    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def _index_lines(
    node: yaml.Node | None,
    path: Path_,
    out: dict[Path_, int],
    duplicates: list[tuple[Path_, int, int]],
    seen: set[int] | None = None,
) -> None:
    """Record the line of every node; a mapping key's line stands for its value.

    A node reached again through a YAML alias is not walked twice (its problems
    point at the key that uses the alias).  Keys given twice in one mapping go
    to ``duplicates`` as ``(path, first line, repeated line)``.
    """
    if node is None:
        return
    seen = set() if seen is None else seen
    out.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            key_path = (*path, name)
            line = key.start_mark.line + 1
            if name in first_line and name != "<<":
                duplicates.append((key_path, first_line[name], line))
                continue
            first_line[name] = line
            out[key_path] = line
            _index_lines(value, key_path, out, duplicates, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), out, duplicates, seen)


@dataclass
class _Frame:
    """One open collection while following the YAML event stream."""

    is_mapping: bool
    key: str | int = -1
    inside: bool = False  # reading a value (mapping) or an item (sequence)


def _yaml_error_path(text: str, stop: int | None = None) -> Path_:
    """Best guess of where a YAML syntax error stopped the parser, as a path.

    With ``stop`` (a character index), the path of the value that starts there:
    for problems found after parsing (limits, values that cannot be read).
    """
    stack: list[_Frame] = []

    def here() -> Path_:
        return tuple(frame.key for frame in stack if frame.inside)

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if stop is not None and stack and getattr(event.start_mark, "index", 0) >= stop:
                if stack[-1].is_mapping and not stack[-1].inside:
                    return here()  # a mapping key: point at its mapping
                if not stack[-1].is_mapping:
                    return (*here(), int(stack[-1].key) + 1)
                return here()
            if isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
                if stack:
                    stack[-1].inside = False
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            starts = isinstance(event, yaml.CollectionStartEvent)
            if stack:
                frame = stack[-1]
                if frame.is_mapping and not frame.inside:
                    frame.key = str(event.value) if isinstance(event, yaml.ScalarEvent) else "?"
                    frame.inside = True
                    if not starts:
                        continue
                elif not frame.is_mapping:
                    frame.key = int(frame.key) + 1
                    frame.inside = True
                if not starts:
                    frame.inside = False
            if starts:
                stack.append(_Frame(is_mapping=isinstance(event, yaml.MappingStartEvent)))
    except yaml.YAMLError:
        return here()
    return ()


def _format_path(path: Path_) -> str:
    """``('slos', 1, 'objective')`` -> ``slos[1].objective``; the empty path is the top level."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


#: Location entries pydantic adds that are not keys of the file: validator
#: names (``function-before[...]``), union members (``str``, ``is-instance[...]``),
#: ``[key]`` for a bad mapping key.
_TAG = re.compile(r"^(?:\[key\]|[a-z][a-z0-9_-]*\[.*\]|[A-Z][A-Za-z0-9_]*)$")
_PLAIN_TYPE_TAGS = frozenset(
    {"str", "int", "float", "bool", "bytes", "decimal", "none", "date", "datetime", "path"}
)


_MISSING = object()


def _is_tag(part: str | int) -> bool:
    return isinstance(part, str) and (part in _PLAIN_TYPE_TAGS or bool(_TAG.match(part)))


def _loc_path(loc: Sequence[Any], data: Any) -> Path_:
    """The user's path for a pydantic location: follow the data, drop pydantic's tags.

    ``('slas', 'first_response', 'targets', 'urgnt', '[key]')`` becomes
    ``slas.first_response.targets.urgnt``; ``('slos', 1, 'function-before[...]',
    'objective')`` becomes ``slos[1].objective``.  Parts found in the data are
    always kept (so a key named like a tag is still the user's key); a part past
    the data is kept unless it is a tag (it names a missing or unknown key).
    """
    path: list[str | int] = []
    node: Any = data
    in_data = True
    for part in loc:
        if in_data and isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
            continue
        if in_data and isinstance(node, Mapping):
            match = next((key for key in node if key == part or str(key) == str(part)), _MISSING)
            if match is not _MISSING:
                path.append(str(match))
                node = node[match]
                continue
        if _is_tag(part):
            continue
        in_data = False
        path.append(part if isinstance(part, int) else str(part))
    return tuple(path)


# --- messages a support-ops person can act on -------------------------------------------------

_EXPECTED = {
    "dict_type": "a mapping (key: value lines)",
    "mapping_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "dataclass_type": "a mapping (key: value lines)",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "frozen_set_type": "a list",
    "iterable_type": "a list",
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "decimal_type": "a number",
    "decimal_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "path_type": "a file path",
    "date_type": "a date like 2026-12-25",
    "date_parsing": "a date like 2026-12-25",
    "date_from_datetime_parsing": "a date like 2026-12-25",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least"),
    "greater_than": ("gt", "must be above"),
    "less_than_equal": ("le", "must be at most"),
    "less_than": ("lt", "must be below"),
}


def _describe(value: Any) -> str:
    """A short, safe description of what the user wrote."""
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, int | float | date):
        return str(value)
    return type(value).__name__


def _one_of(options: Sequence[str], got: Any) -> str:
    listed = ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else options[0]
    close = difflib.get_close_matches(str(got), options, n=1) if isinstance(got, str) else []
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"must be one of {listed} (got {_describe(got)}{hint})"


def _clean_message(error: Mapping[str, Any], model_fields: Sequence[str]) -> str:
    """Rephrase one pydantic error for the person editing the file."""
    kind = str(error.get("type", ""))
    message = str(error.get("msg", ""))
    given = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        if key.lower() in _SECRET_KEYS:
            if key.lower() in ("webhook_url", "api_url"):
                return "secrets are never written in the config: use webhook_url_file"
            return "secrets are never written in the config: use token_file or token_env"
        close = difflib.get_close_matches(key, model_fields, n=1)
        if close:
            return f"unknown key; did you mean {close[0]!r}?"
        if model_fields:
            return f"unknown key (known keys: {', '.join(model_fields)})"
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in ("literal_error", "enum"):
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        if options:
            return _one_of(options, given)
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(given)}"
    if kind in _BOUNDS:
        name, text = _BOUNDS[kind]
        return f"{text} {ctx.get(name)} (got {_describe(given)})"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"allows at most {ctx.get('max_length')} item(s)"
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to the type that matters."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin is typing.Union or origin is types.UnionType:
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in members if _innermost_model(a) is not None]
            annotation = (models or members)[0]
        else:
            return annotation


def _innermost_model(annotation: Any) -> type[BaseModel] | None:
    """The model a (possibly annotated or optional) annotation stands for, if any."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _allowed_keys(root: type[BaseModel], path: Path_) -> list[str]:
    """Keys of the mapping that holds the last part of ``path``, for did-you-mean hints."""
    annotation: Any = root
    for part in path[:-1]:
        annotation = _unwrap(annotation)
        model = _innermost_model(annotation)
        if model is not None:
            fields = {f.alias or name: f for name, f in model.model_fields.items()}
            if str(part) not in fields:
                return []
            annotation = fields[str(part)].annotation
            continue
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is dict and len(args) == 2:
            annotation = args[1]
        elif origin in (list, tuple, set, frozenset) and args:
            annotation = args[0]
        else:
            return []
    model = _innermost_model(_unwrap(annotation))
    if model is None:
        return []
    keys = [f.alias or name for name, f in model.model_fields.items()]
    return [key for key in keys if not (model is Config and key == "path")]


# --- checks that span several sections --------------------------------------------------------


def _source_problems(source: SourceConfig) -> Iterator[tuple[Path_, str]]:
    """A source type this build cannot poll, and keys the configured source would ignore."""
    if isinstance(source.type, PluginType):
        yield from _plugin_source_problems(source)
        return
    if source.options is not None:
        yield (
            ("source", "options"),
            f"a {source.type.value} source takes no options (only sources installed from other "
            "packages read source.options); remove it",
        )
    if source.type not in POLLED_TYPES:
        polled = ", ".join(kind.value for kind in POLLED_TYPES)
        yield (
            ("source", "type"),
            f"{source.type.value} has no source in this build (polled: {polled}); "
            "export its tickets as JSON Lines and use `type: file`",
        )
        return
    for key in sorted(source.model_fields_set):
        readers = SOURCE_KEY_READERS.get(key)
        if readers is not None and source.type not in readers:
            readable = [kind.value for kind in POLLED_TYPES if kind in readers]
            names = " and ".join(
                [", ".join(readable[:-1]), readable[-1]] if len(readable) > 1 else readable
            )
            yield (
                ("source", key),
                f"a {source.type.value} source does not use this key (only {names} "
                "sources do); remove it",
            )


def _plugin_source_problems(source: SourceConfig) -> Iterator[tuple[Path_, str]]:
    """An installed source reads the shared keys of the API sources and its ``options``."""
    for key in sorted(source.model_fields_set):
        readers = SOURCE_KEY_READERS.get(key)
        if readers is not None and readers != _HTTP:
            yield (
                ("source", key),
                f"{source.type.value} is a source installed from another package: it does not "
                "use this key; put its own settings under source.options",
            )


def _start_problems(
    source: SourceConfig, metric: str, sla: SlaConfig
) -> Iterator[tuple[Path_, str]]:
    """``start: assigned`` needs our own clock and a source that reports assignment times."""
    where = ("slas", metric, "start")
    if sla.mode is SlaMode.NATIVE:
        yield (
            where,
            f"mode: native takes the helpdesk's own {metric} clock, which starts where the "
            "helpdesk starts it; remove `start: assigned` or use mode: computed",
        )
        return
    kind = source.type
    if isinstance(kind, PluginType):
        if not plugin_declares(str(kind), REPORTS_ASSIGNMENTS):
            yield (
                where,
                f"the {kind.value} source (installed from another package) does not declare "
                f"that its tickets carry assignment events (`{REPORTS_ASSIGNMENTS} = True` on "
                "its factory); "
                "remove `start: assigned` or ask its maintainers to report assignments",
            )
    elif kind not in ASSIGNMENT_TYPES:
        able = ", ".join(t.value for t in POLLED_TYPES if t in ASSIGNMENT_TYPES)
        yield (
            where,
            f"a {kind.value} source cannot tell when a ticket was first assigned (its API keeps "
            f"no assignment history), so the {metric} clock could never start; remove "
            f"`start: assigned` (the clock then starts at creation) or use a source that can: "
            f"{able}",
        )


def _semantic_problems(config: Config) -> Iterator[tuple[Path_, str]]:
    """Problems that span several sections (references, units per calendar)."""
    yield from _source_problems(config.source)
    for name, cal in config.calendars.items():
        if cal.import_ is not None and cal.import_ != config.source.type.value:
            yield (
                ("calendars", name, "import"),
                f"importing from {cal.import_} needs `source.type: {cal.import_}` "
                "(its url and token are used to read the schedule)",
            )
            continue
        if name == ALWAYS and not cal.is_always:
            yield ("calendars", name), f"{ALWAYS} is the built-in round-the-clock calendar"
            continue
        try:
            _business_calendar(name, cal)
        except ValueError as exc:
            yield ("calendars", name), str(exc).removeprefix(f"calendar {name!r}: ")
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
        if sla.start is SlaStart.ASSIGNED:
            yield from _start_problems(config.source, str(metric), sla)
    imported = config.sla_import
    if imported is not None:
        if imported.import_ != config.source.type.value:
            yield (
                ("slas", "import"),
                f"importing SLA policies from {imported.import_} needs "
                f"`source.type: {imported.import_}`",
            )
        if config.slas:
            yield (
                ("slas", next(iter(config.slas))),
                "with `import:`, the SLA targets come from the helpdesk: remove the SLA metrics "
                "(or remove `import:` and write them all)",
            )
        if imported.calendar is not None and imported.calendar not in {*config.calendars, ALWAYS}:
            known = ", ".join([*config.calendars, ALWAYS])
            yield (
                ("slas", "calendar"),
                f"no calendar named {imported.calendar!r} (known: {known})",
            )
    seen: set[str] = set()
    for i, slo in enumerate(config.slos):
        if slo.name in seen:
            yield ("slos", i, "name"), f"duplicate SLO name {slo.name!r}"
        seen.add(slo.name)
        if slo.availability is not None:
            yield from _availability_problems(config, i, slo.availability)
        if slo.kind is not SloKind.TIME or slo.sla is None:
            continue
        if config.sla_import is not None and slo.sla in SLA_METRICS:
            continue  # the targets are read from the helpdesk at start-up
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
            # tickets of a priority without a target are not counted; naming one is a mistake
            missing = [p.value for p in slo.match.priority if p not in sla.targets]
            if missing:
                yield (
                    ("slos", i, "threshold") if slo.threshold is not None else ("slos", i, "match"),
                    f"a threshold relative to the SLA target needs a target for "
                    f"{', '.join(missing)} under slas.{slo.sla}.targets",
                )


def _availability_problems(
    config: Config, index: int, sli: AvailabilitySli
) -> Iterator[tuple[Path_, str]]:
    known = [*config.calendars, *([] if ALWAYS in config.calendars else [ALWAYS])]
    if sli.during not in known:
        close = difflib.get_close_matches(sli.during, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        yield (
            ("slos", index, "availability", "during"),
            f"no calendar named {sli.during!r} (known: {', '.join(known)}){hint}",
        )


# --- loading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    line: int | None
    path: Path_
    message: str

    def render(self, name: str) -> str:
        prefix = f"{name}:{self.line}" if self.line is not None else name
        where = shorten(_format_path(self.path), 120)
        return f"{prefix}: {where}: {shorten(shorten_quotes(self.message), 400)}"


def _rendered(problems: Sequence[_Problem], name: str) -> list[str]:
    ordered = sorted(set(problems), key=lambda p: (p.line or 0, _format_path(p.path), p.message))
    return [problem.render(name) for problem in ordered]


def _raise(problems: Sequence[_Problem], name: str) -> typing.NoReturn:
    raise ConfigError(_rendered(problems, name))


def _validation_messages(
    error: ValidationError, data: Any, root: type[BaseModel]
) -> Iterator[tuple[Path_, str]]:
    """Each error of validating ``data`` against ``root``: the user's path and a message."""
    for detail in error.errors():
        loc = _loc_path(detail["loc"], data)
        yield loc, _clean_message(detail, _allowed_keys(root, loc))


def located_problems(
    error: ValidationError, data: Any, node: yaml.Node | None, name: str, root: type[BaseModel]
) -> list[str]:
    """``file:line: dotted.path: message`` for each error of validating a YAML document.

    ``data`` is the document as validated against ``root``, ``node`` the YAML
    node it was read from (for the lines) and ``name`` the file as the user
    wrote it.  The messages are those of this config file (``expected a list,
    got 5``, ``unknown key; did you mean ...``), sorted by line; values that
    are problems of their own raise ``ValueError`` in a validator, whose text
    is the message.
    """
    lines: dict[Path_, int] = {}
    _index_lines(node, (), lines, [])
    where = _Lines(lines)
    problems = [
        _Problem(where.line_of(loc), loc, message)
        for loc, message in _validation_messages(error, data, root)
    ]
    return _rendered(problems, name)


def _yaml_problem(text: str, exc: yaml.YAMLError) -> _Problem:
    line, problem = yaml_error_text(exc, text)
    if "'\\t'" in problem:
        problem = "found a tab character; indent with spaces, not tabs"
    elif isinstance(exc, yaml.scanner.ScannerError | yaml.parser.ParserError):
        problem += "; check the indentation and the quoting around this line"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    found_later = isinstance(exc, yaml.composer.ComposerError | yaml.constructor.ConstructorError)
    stop = getattr(mark, "index", None) if found_later else None
    path = _yaml_error_path(text, stop)
    if isinstance(exc, yaml.composer.ComposerError):
        # past a limit: name the value by its keys, not by fifty list indexes
        keys = [i for i, part in enumerate(path) if isinstance(part, str)]
        path = path[: keys[-1] + 2] if keys else path[:1]
    return _Problem(line, path, f"not valid YAML: {problem}")


#: What an empty config is told (the demo runs only when asked for).
EMPTY_CONFIG = (
    "the config is empty: write at least a `source:` (e.g. source: {type: file, path: "
    "tickets.jsonl}); say `source: {type: demo}` for the demo helpdesk"
)


def parse_config(text: str, path: Path | None = None, base_dir: Path | None = None) -> Config:
    """Validate a config document; raise :class:`ConfigError` with every problem.

    An empty document (nothing, comments only, ``{}``) is a problem: the demo
    runs only when asked for.
    """
    name = str(path) if path is not None else "<config>"
    try:
        node, data = load_yaml(text)
    except yaml.YAMLError as exc:
        _raise([_yaml_problem(text, exc)], name)
    if data is None or data == {}:
        _raise([_Problem(1, (), EMPTY_CONFIG)], name)
    if not isinstance(data, dict):
        line = node.start_mark.line + 1 if node is not None else 1
        got = _describe(data)
        _raise(
            [_Problem(line, (), f"expected a mapping of settings (key: value), got {got}")], name
        )

    lines: dict[Path_, int] = {}
    duplicates: list[tuple[Path_, int, int]] = []
    _index_lines(node, (), lines, duplicates)
    where = _Lines(lines)
    problems = [
        _Problem(line, key_path, f"given twice (first on line {first}); keep one")
        for key_path, first, line in duplicates
    ]
    if "path" in data:
        problems.append(
            _Problem(where.line_of(("path",)), ("path",), "unknown key; did you mean 'source'?")
        )
        data = {key: value for key, value in data.items() if key != "path"}

    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for loc, message in _validation_messages(exc, data, Config):
            if loc[:1] == ("sla_import",):  # written under `slas:` in the file
                loc = ("slas", *loc[1:])
            problems.append(_Problem(where.line_of(loc), loc, message))
        _raise(problems, name)

    problems += [
        _Problem(where.line_of(loc), loc, message) for loc, message in _semantic_problems(config)
    ]
    if problems:
        _raise(problems, name)

    base = base_dir if base_dir is not None else (path.parent if path is not None else Path.cwd())
    source = config.source
    updates: dict[str, Any] = {}
    for key in ("path", "token_file"):
        value = getattr(source, key)
        if value is not None:
            updates[key] = _resolve(base, value)
    if updates:
        source = source.model_copy(update=updates)
    _note_secret_place(source, name, where)
    store = _resolve(base, config.store)
    return config.model_copy(update={"source": source, "store": store, "path": path})


def _resolve(base: Path, value: Path) -> Path:
    """``~`` is the user's home; other relative paths are relative to the config file."""
    value = value.expanduser()
    return value if value.is_absolute() else base / value


def load_config(path: str | Path) -> Config:
    """Read and validate a config file (see :func:`parse_config`).

    Files larger than :data:`exporter.yamlfile.MAX_FILE_BYTES` are refused unread.
    """
    file = Path(path)
    try:
        text = read_text(file, "config")
    except TextFileError as exc:
        where = f"{file}:{exc.line}" if exc.line is not None else str(file)
        raise ConfigError([f"{where}: {exc.message}"]) from None
    return parse_config(text, path=file, base_dir=file.parent.absolute())


def default_config(base_dir: Path | None = None) -> Config:
    """The built-in demo setup used by ``serve`` without ``--config``."""
    from exporter.demo_config import DEMO_CONFIG

    return parse_config(DEMO_CONFIG, path=Path("<built-in demo>"), base_dir=base_dir or Path.cwd())


#: The longest token :func:`read_secret` accepts (API and OAuth tokens are far shorter).
MAX_TOKEN_LENGTH = 4096


def _note_secret_place(source: SourceConfig, name: str, where: _Lines) -> None:
    """Remember where the config names the token, so problems reading it can point there."""
    for key in ("token_file", "token_env"):
        if getattr(source, key) is not None:
            line = where.line_of(("source", key))
            source._secret_at = f"{name}:{line}" if line is not None else name


def _token_problem(value: str) -> str | None:
    """What makes ``value`` unusable as a token, in words that never quote any of it."""
    if len(value.splitlines()) > 1:
        return (
            "holds a line break inside the token; a token is one line "
            "(check that nothing else was pasted with it)"
        )
    if any(unicodedata.category(char) == "Cc" for char in value):
        return "holds a control character inside the token; write the token alone, as plain text"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "holds a character that an HTTP header cannot carry; API tokens are plain ASCII"
    if len(value) > MAX_TOKEN_LENGTH:
        return (
            f"is longer than {MAX_TOKEN_LENGTH} characters, too long for a token "
            "(does it name the token's file?)"
        )
    return None


def read_secret(source: SourceConfig) -> str | None:
    """The API token from ``token_file`` or ``token_env``, checked; never logged.

    Surrounding whitespace (the final newline of a file) is stripped.  A token
    that holds a line break, a control character or a character an HTTP header
    cannot carry, or that is longer than :data:`MAX_TOKEN_LENGTH`, is refused
    here, at start-up, rather than on every request.  Problems name the config
    line, the file or the variable, never the secret or any part of it.
    """
    at = f"{source._secret_at}: " if source._secret_at else ""
    if source.token_file is not None:
        where = f"{at}source.token_file: {source.token_file}"
        try:
            value = source.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                [f"{at}source.token_file: cannot read {source.token_file}: {exc.strerror or exc}"]
            ) from None
        except UnicodeDecodeError:
            raise ConfigError([f"{where} is not UTF-8 text"]) from None
        if not value:
            raise ConfigError([f"{where} is empty"])
    elif source.token_env is not None:
        where = f"{at}source.token_env: environment variable {source.token_env}"
        value = os.environ.get(source.token_env, "").strip()
        if not value:
            raise ConfigError([f"{where} is not set"])
    else:
        return None
    problem = _token_problem(value)
    if problem is not None:
        raise ConfigError([f"{where} {problem}"])
    return value
