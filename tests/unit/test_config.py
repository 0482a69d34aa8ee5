"""The config file: located error messages, units, paths, secrets and parse results.

Each file in ``tests/configs/invalid/`` is one mistake.  Its first lines say
what must be reported::

    # expect: <line>: <path>: <message fragment>

and the loader must report exactly those problems (one ``# expect:`` line per
problem), each as ``<file>:<line>: <path>: <message>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter import cli, yamlfile
from exporter.config import (
    ALWAYS,
    ConfigError,
    SlaMode,
    SloKind,
    SourceType,
    _format_path,
    _loc_path,
    load_config,
    parse_config,
    read_secret,
)
from exporter.model import Author, Priority
from exporter.sources import build_source
from exporter.units import (
    Duration,
    DurationTooLong,
    format_duration,
    format_percent,
    format_ratio,
    parse_duration,
    parse_ratio,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "configs"
INVALID = sorted((CONFIGS / "invalid").glob("*.yml"))
EXAMPLE = ROOT / "examples" / "file.yml"
_EXPECT = re.compile(r"^# expect: (\d+): (.+?): (.+)$")
#: Wording of the validation library that must never reach the person editing the file.
_JARGON = ("Input should", "instance of", "Value error", "[key]", "function-", "pydantic")


@dataclass(frozen=True)
class Expected:
    line: int
    path: str
    fragment: str

    def found_in(self, problems: list[str], file: Path) -> bool:
        prefix = f"{file}:{self.line}: {self.path}: "
        return any(p.startswith(prefix) and self.fragment in p for p in problems)


def expectations(fixture: Path) -> list[Expected]:
    found = []
    for line in fixture.read_text(encoding="utf-8").splitlines():
        match = _EXPECT.match(line)
        if match is None:
            break
        found.append(Expected(int(match[1]), match[2], match[3]))
    return found


def problems_of(fixture: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(fixture)
    return caught.value.problems


def text_problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


# --- invalid configs: one file per mistake ----------------------------------------------------


def test_there_is_an_invalid_fixture_per_error_case() -> None:
    assert len(INVALID) >= 20
    for fixture in INVALID:
        assert fixture.read_text(encoding="utf-8").startswith("# expect: "), fixture.name


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_invalid_config_reports_each_problem_with_file_line_and_path(fixture: Path) -> None:
    expected = expectations(fixture)
    problems = problems_of(fixture)
    assert len(problems) == len(expected), problems
    for item in expected:
        assert item.found_in(problems, fixture), (item, problems)


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_invalid_config_messages_carry_no_validation_library_jargon(fixture: Path) -> None:
    for problem in problems_of(fixture):
        for word in _JARGON:
            assert word not in problem


def test_all_problems_are_reported_at_once_in_line_order() -> None:
    fixture = CONFIGS / "invalid" / "three-problems.yml"
    problems = problems_of(fixture)
    assert len(problems) == 3
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines) == [6, 10, 11]


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_check_exits_2_with_one_error_line_per_problem(
    fixture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["check", "--config", str(fixture)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.splitlines()
    assert len(lines) == len(expectations(fixture))
    assert all(line.startswith(f"error: {fixture}:") for line in lines), lines
    assert "Traceback" not in captured.out + captured.err
    assert captured.out == ""


def test_check_accepts_the_example_and_says_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["check", "--config", str(EXAMPLE)])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.startswith(f"{EXAMPLE}: ok")
    assert captured.err == ""


@pytest.mark.parametrize(
    "content",
    [None, b"service: \xff\xfe support\n", b"service: [\n", b"x: !!python/object:os.system {}\n"],
    ids=["missing-file", "not-utf8", "unclosed-bracket", "python-tag"],
)
def test_check_never_shows_a_traceback_for_unreadable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    file = tmp_path / "helpdesk-slo.yml"
    if content is not None:
        file.write_bytes(content)
    code = cli.main(["check", "--config", str(file)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith(f"error: {file}")
    assert "Traceback" not in captured.err


# --- where a problem points -------------------------------------------------------------------

_SOURCE = "source: {type: file, path: t.jsonl}\n"


@pytest.mark.parametrize(
    ("text", "line", "path"),
    [
        (
            _SOURCE + "slas:\n  first_response:\n    calendar: 24x7\n",
            3,
            "slas.first_response.targets",
        ),
        (_SOURCE + "slos:\n  - kind: csat\n    objective: 90%\n", 3, "slos[0].name"),
        (_SOURCE + "slos:\n  - name: a\n    kind: csat\n", 3, "slos[0]"),
        ("source:\n  path: t.jsonl\n", 1, "source.type"),
        (
            _SOURCE + "slos:\n  - name: a\n    kind: promql\n    objective: 99%\n"
            "    promql: {good: x}\n",
            6,
            "slos[0].promql.total",
        ),
    ],
    ids=["sla-targets", "slo-name", "slo-objective", "source-type", "promql-total"],
)
def test_a_missing_key_points_at_its_enclosing_mapping(text: str, line: int, path: str) -> None:
    problems = text_problems(text)
    assert any(p.startswith(f"<config>:{line}: {path}: ") for p in problems), problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _SOURCE + "slas:\n  first_response:\n    targets:\n      high: 4h\n      urgent: 1x\n",
            "<config>:6: slas.first_response.targets.urgent: expected a duration",
        ),
        (
            _SOURCE + "calendars:\n  office:\n    timezone: UTC\n    hours: [mon]\n",
            "<config>:5: calendars.office.hours: expected a mapping like",
        ),
        (
            _SOURCE + "slos:\n  - {name: a, kind: csat, objective: 90%}\n"
            "  - name: b\n    kind: csat\n    objective: 1\n",
            "<config>:6: slos[1].objective: must be below 100% (got 100%)",
        ),
        (
            "source:\n  type: freshdesk\n  url: https://acme.freshdesk.com\n"
            "  token_env: FRESHDESK_TOKEN\n  priority_map: {1: low, 2: medum}\n",
            "<config>:5: source.priority_map.2: must be one of urgent, high, normal or low",
        ),
        (
            _SOURCE + "slos:\n  - name: a\n    kind: csat\n    objective: 90%\n"
            "    alerting:\n      tiers:\n        - severity: page\n          long_window: 1h\n"
            "          short_window: 5m\n          burn_rate: fast\n",
            "<config>:11: slos[0].alerting.tiers[0].burn_rate: expected a number, got 'fast'",
        ),
    ],
    ids=["sla-target", "calendar-hours", "second-slo-objective", "priority-map-value", "tier"],
)
def test_a_bad_value_points_at_its_key_line(text: str, expected: str) -> None:
    problems = text_problems(text)
    assert any(p.startswith(expected) for p in problems), problems


_TAGGED = {"slas": {"first_response": {"targets": {"urgnt": "1h"}}}, "slos": [{}, {"x": 1}]}


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (
            ("slas", "first_response", "targets", "urgnt", "[key]"),
            "slas.first_response.targets.urgnt",
        ),
        (("slos", 1, "function-before[_objective(), decimal]", "objective"), "slos[1].objective"),
        (("slos", 1, "function-after[_one(), PromqlSli]", "total"), "slos[1].total"),
        (("slos", 1, "objective", "lax-or-strict[...]", "str"), "slos[1].objective"),
        (("slos", 0, "window", "is-instance[Duration]"), "slos[0].window"),
        (
            ("calendars", "office", "function-before[_calendar(), CalendarConfig]", "hours"),
            "calendars.office.hours",
        ),
        (("slos", 1, "enum[Severity]", "x"), "slos[1].x"),
        (("slos", 1, "SloConfig", "x"), "slos[1].x"),
    ],
    ids=[
        "enum-key",
        "function-before",
        "function-after",
        "union-member",
        "is-instance",
        "calendar-before-validator",
        "enum-tag",
        "model-tag",
    ],
)
def test_validation_locations_map_to_the_users_path(loc: tuple[str | int, ...], path: str) -> None:
    assert _format_path(_loc_path(loc, _TAGGED)) == path


def test_a_key_named_like_a_validation_tag_is_still_the_users_key() -> None:
    data = {"slos": [{"labels": {"str": 1}}]}
    assert _loc_path(("slos", 0, "labels", "str"), data) == ("slos", 0, "labels", "str")


def test_a_yaml_alias_reports_at_the_key_that_uses_it() -> None:
    text = (
        _SOURCE + "slas:\n  first_response:\n    targets: &contract {urgent: 1h, high: 9x}\n"
        "  resolution:\n    targets: *contract\n"
    )
    problems = text_problems(text)
    assert problems == [
        "<config>:4: slas.first_response.targets.high: expected a duration such as 30m, 4h or "
        "1h30m (units s m h d w), got '9x'",
        "<config>:6: slas.resolution.targets.high: expected a duration such as 30m, 4h or "
        "1h30m (units s m h d w), got '9x'",
    ]


def test_the_config_path_is_not_a_key_of_the_file() -> None:
    problems = text_problems(_SOURCE + "path: /etc/passwd\n")
    assert problems == ["<config>:2: path: unknown key; did you mean 'source'?"]


# --- durations and ratios ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("90m", 5400),
        ("1h30m", 5400),
        ("1.5h", 5400),
        (" 1h 30m ", 5400),
        ("2d", 172800),
        ("1w", 604800),
        ("1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        (45, 45),
        (2.5, 2.5),
        (0, 0),
    ],
    ids=lambda v: str(v).strip().replace(" ", "_"),
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text).seconds == seconds


_NOT_A_DURATION = "expected a duration such as 30m"
_UNIT_ORDER = "write units from the largest to the smallest"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", _NOT_A_DURATION),
        ("5 minutes", _NOT_A_DURATION),
        ("30", _NOT_A_DURATION),
        ("1h-5m", _NOT_A_DURATION),
        ("-5m", _NOT_A_DURATION),
        ("1y", _NOT_A_DURATION),
        ("h", _NOT_A_DURATION),
        ("30m1h", _UNIT_ORDER),
        ("1h1h", _UNIT_ORDER),
        (True, _NOT_A_DURATION),
        (None, _NOT_A_DURATION),
        ([], _NOT_A_DURATION),
        (float("nan"), _NOT_A_DURATION),
        (float("inf"), _NOT_A_DURATION),
        (-1, "must not be negative"),
    ],
    ids=[
        "empty",
        "words",
        "bare-number-text",
        "minus-inside",
        "negative-text",
        "years",
        "unit-only",
        "units-out-of-order",
        "unit-twice",
        "bool",
        "none",
        "list",
        "nan",
        "infinite",
        "negative-number",
    ],
)
def test_parse_duration_refuses(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_duration(value)


@pytest.mark.parametrize(
    ("text", "uses_days"),
    [("8h", False), ("90m", False), ("2d", True), ("1w", True), ("1d12h", True), (3600, False)],
    ids=["hours", "minutes", "days", "weeks", "days-and-hours", "seconds-number"],
)
def test_duration_knows_whether_it_uses_days(text: object, uses_days: bool) -> None:
    assert parse_duration(text).uses_days is uses_days


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.4, "0s"),
        (-5, "0s"),
        (59, "59s"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "24h"),
        (97200, "27h"),
        (90061, "25h1m1s"),
        (604800, "168h"),
        (691200, "192h"),
        (1209600, "336h"),
    ],
    ids=lambda v: str(v),
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [1, 59, 60, 3599, 5400, 86399, 86400, 691200, 1209600])
def test_format_duration_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)).seconds == seconds


def test_duration_keeps_what_was_written() -> None:
    assert parse_duration("90m") == Duration(5400.0, "90m")
    assert str(parse_duration("1h30m")) == "1h30m"


@pytest.mark.parametrize(
    ("value", "ratio"),
    [
        ("95%", Decimal("0.95")),
        ("99.5%", Decimal("0.995")),
        ("99.95%", Decimal("0.9995")),
        (" 90 % ", Decimal("0.9")),
        ("0.95", Decimal("0.95")),
        (0.95, Decimal("0.95")),
        (0.995, Decimal("0.995")),
        (1, Decimal("1")),
        ("100%", Decimal("1")),
        ("0%", Decimal("0")),
    ],
    ids=[
        "95%",
        "99.5%",
        "99.95%",
        "spaces",
        "text-fraction",
        "float",
        "float-995",
        "one",
        "100%",
        "0%",
    ],
)
def test_parse_ratio_is_exact(value: object, ratio: Decimal) -> None:
    parsed = parse_ratio(value)
    assert isinstance(parsed, Decimal)
    assert parsed == ratio


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("95", "did you mean 95%"),
        (95, "did you mean 95%"),
        ("abc", "expected a percentage"),
        ("%", "expected a percentage"),
        ("nan%", "expected a percentage"),
        ("inf", "expected a percentage"),
        (float("nan"), "expected a percentage"),
        (True, "expected a percentage"),
        (None, "expected a percentage"),
    ],
    ids=[
        "text-95",
        "number-95",
        "word",
        "sign-only",
        "nan-percent",
        "infinite",
        "float-nan",
        "bool",
        "none",
    ],
)
def test_parse_ratio_refuses(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_ratio(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.995"), "0.995"),
        (Decimal("0.9"), "0.9"),
        (Decimal("0.90"), "0.9"),
        (Decimal("1"), "1"),
        (Decimal("1.000"), "1"),
        (Decimal("100"), "100"),
        (Decimal("0"), "0"),
        (Decimal("0.0001"), "0.0001"),
        (1 - Decimal("0.995"), "0.005"),
        (parse_ratio("99.5%"), "0.995"),
        (parse_ratio(0.9), "0.9"),
    ],
    ids=[
        "0.995",
        "0.9",
        "0.90",
        "1",
        "1.000",
        "100",
        "0",
        "tiny",
        "budget",
        "from-percent",
        "from-float",
    ],
)
def test_format_ratio_prints_exact_decimals(value: Decimal, text: str) -> None:
    assert format_ratio(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.995"), "99.5%"),
        (Decimal("0.9"), "90%"),
        (Decimal("0.999"), "99.9%"),
        (Decimal("1"), "100%"),
    ],
    ids=["99.5", "90", "99.9", "100"],
)
def test_format_percent(value: Decimal, text: str) -> None:
    assert format_percent(value) == text


# --- days and weeks on business calendars -----------------------------------------------------

_OFFICE = (
    "calendars:\n  office:\n    timezone: Europe/Paris\n    hours: {mon-fri: ['09:00-17:00']}\n"
    "  always: 24x7\n"
)


def _units_config(calendar: str, target: str, threshold: str) -> str:
    return (
        _SOURCE
        + _OFFICE
        + f"slas:\n  resolution:\n    calendar: {calendar}\n    targets: {{urgent: {target}}}\n"
        + "slos:\n  - name: r\n    sla: resolution\n    objective: 90%\n"
        + f"    threshold: {threshold}\n"
    )


@pytest.mark.parametrize(
    ("calendar", "target", "threshold", "refused"),
    [
        ("office", "2d", "4h", "slas.resolution.targets.urgent"),
        ("office", "1w", "4h", "slas.resolution.targets.urgent"),
        ("office", "16h", "1d", "slos[0].threshold"),
        ("office", "16h", "1w", "slos[0].threshold"),
        ("office", "16h", "50%", None),
        ("office", "1h30m", "45m", None),
        ("always", "2d", "1d", None),
        ("24x7", "1w", "2d", None),
    ],
    ids=[
        "business-target-days",
        "business-target-weeks",
        "business-threshold-days",
        "business-threshold-weeks",
        "business-hours-ok",
        "business-minutes-ok",
        "defined-24x7-accepts-days",
        "builtin-24x7-accepts-weeks",
    ],
)
def test_days_and_weeks_are_refused_only_on_business_calendars(
    calendar: str, target: str, threshold: str, refused: str | None
) -> None:
    text = _units_config(calendar, target, threshold)
    if refused is None:
        config = parse_config(text)
        assert config.slas["resolution"].targets[Priority.URGENT] == parse_duration(target)
        return
    problems = text_problems(text)
    assert len(problems) == 1
    assert f": {refused}: " in problems[0]
    assert "business calendar" in problems[0] and "write hours" in problems[0]


def test_a_calendar_with_every_hour_but_another_time_zone_is_still_business() -> None:
    text = _SOURCE + (
        "calendars:\n  paris:\n    timezone: Europe/Paris\n    hours: 24x7\n"
        "slas:\n  resolution:\n    targets: {urgent: 1d}\n"
    )
    assert "1d on business calendar 'paris'" in text_problems(text)[0]


# --- percentile spelling ----------------------------------------------------------------------


def _slo_with(line: str) -> str:
    return (
        _SOURCE
        + "slas:\n  first_response:\n    targets: {urgent: 2h}\n"
        + f"slos:\n  - name: a\n    sla: first_response\n    threshold: 2h\n    {line}\n"
    )


@pytest.mark.parametrize(
    ("percentile", "objective"),
    [
        ("p95", "95%"),
        ("P95", "95%"),
        ("p99.9", "99.9%"),
        ("95", "95%"),
        ("'95%'", "0.95"),
        ("p50", "0.5"),
    ],
    ids=["p95", "upper-case", "p99.9", "number", "percent", "median"],
)
def test_percentile_equals_objective(percentile: str, objective: str) -> None:
    by_percentile = parse_config(_slo_with(f"percentile: {percentile}")).slos[0]
    by_objective = parse_config(_slo_with(f"objective: {objective}")).slos[0]
    assert by_percentile.objective_ratio == by_objective.objective_ratio
    assert by_percentile.error_budget == by_objective.error_budget


@pytest.mark.parametrize(
    ("percentile", "message"),
    [
        ("p100", "must be below 100%"),
        ("0.95", "write percentiles as p95"),
        ("px", "expected a percentile such as p95"),
        ("true", "expected a percentile such as p95"),
    ],
    ids=["p100", "quantile", "letters", "bool"],
)
def test_percentile_refuses(percentile: str, message: str) -> None:
    problems = text_problems(_slo_with(f"percentile: {percentile}"))
    assert len(problems) == 1
    assert ": slos[0].percentile: " in problems[0] and message in problems[0]


# --- calendar hours ---------------------------------------------------------------------------

_NINE_TO_FIVE = ((9 * 3600, 17 * 3600),)


def _hours(spec: object) -> dict[int, tuple[tuple[int, int], ...]]:
    text = _SOURCE + yaml.safe_dump({"calendars": {"office": {"hours": spec}}})
    return dict(parse_config(text).calendars["office"].hours)


@pytest.mark.parametrize(
    ("spec", "weekly"),
    [
        ({"mon-fri": ["09:00-17:00"]}, dict.fromkeys(range(5), _NINE_TO_FIVE)),
        ({"sat": "10:00-14:00"}, {5: ((36000, 50400),)}),
        ({"mon,wed,fri": ["09:00-17:00"]}, dict.fromkeys((0, 2, 4), _NINE_TO_FIVE)),
        ({"mon-wed,fri": ["09:00-17:00"]}, dict.fromkeys((0, 1, 2, 4), _NINE_TO_FIVE)),
        ({"Mon-Fri": ["09:00-17:00"]}, dict.fromkeys(range(5), _NINE_TO_FIVE)),
        ({"sun": ["00:00-24:00"]}, {6: ((0, 86400),)}),
        ({"fri": ["20:00-24:00"], "sat": ["00:00-02:00"]}, {4: ((72000, 86400),), 5: ((0, 7200),)}),
        ({"mon": ["13:30-18:00", "9:00-12:30"]}, {0: ((32400, 45000), (48600, 64800))}),
        ({"mon": ["09:00 - 17:00"], "sun": []}, {0: _NINE_TO_FIVE, 6: ()}),
        ("24x7", dict.fromkeys(range(7), ((0, 86400),))),
    ],
    ids=[
        "mon-fri",
        "single-day-single-interval",
        "day-list",
        "range-and-day",
        "capitalised",
        "until-24:00",
        "across-midnight-as-two-days",
        "lunch-break-sorted",
        "closed-day",
        "24x7",
    ],
)
def test_calendar_hours(spec: object, weekly: dict[int, tuple[tuple[int, int], ...]]) -> None:
    assert _hours(spec) == weekly


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"mon-fri": ["9-17"]}, "expected hours like 09:00-17:30"),
        ({"mon": ["25:00-26:00"]}, "no such time of day"),
        ({"mon": ["09:00-24:30"]}, "no such time of day"),
        ({"mon": ["09:60-10:00"]}, "no such time of day"),
        ({"mon": ["17:00-09:00"]}, "ends before it starts"),
        ({"mon": ["09:00-09:00"]}, "ends before it starts"),
        ({"mon-fri": ["09:00-17:00"], "fri": ["09:00-12:00"]}, "fri is given twice"),
        ({"fri-mon": ["09:00-17:00"]}, "runs backwards"),
        ({"someday": ["09:00-17:00"]}, "unknown day 'someday'"),
        ({"mon-xyz": ["09:00-17:00"]}, "unknown day range"),
        ({"mon": ["09:00-12:00", "11:00-13:00"]}, "overlap"),
        ({"mon": {"from": "09:00"}}, "expected a list of intervals"),
        ({"sun": []}, "needs some business hours"),
        (["mon-fri"], "expected a mapping like"),
        ("9 to 5", "expected a mapping like"),
    ],
    ids=[
        "no-minutes",
        "hour-25",
        "after-24:00",
        "minute-60",
        "backwards",
        "empty-interval",
        "day-twice",
        "days-backwards",
        "unknown-day",
        "unknown-day-range",
        "overlap",
        "mapping-not-list",
        "no-hours-at-all",
        "list-not-mapping",
        "words",
    ],
)
def test_calendar_hours_refused(spec: object, message: str) -> None:
    text = _SOURCE + yaml.safe_dump({"calendars": {"office": {"hours": spec}}})
    problems = text_problems(text)
    assert len(problems) == 1
    assert ": calendars.office.hours: " in problems[0] and message in problems[0]


# --- paths relative to the config file --------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "etc" / "helpdesk"
    _write(
        config_dir / "zendesk.yml",
        "source:\n  type: zendesk\n  url: https://acme.zendesk.com\n  email: ops@acme.example\n"
        "  token_file: secrets/zendesk\nstore: state/slo.db\n",
    )
    _write(config_dir / "file.yml", "source: {type: file, path: ../exports/tickets.jsonl}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    zendesk = load_config(Path("..") / "etc" / "helpdesk" / "zendesk.yml")
    assert zendesk.source.token_file is not None
    assert zendesk.source.token_file.resolve() == config_dir / "secrets" / "zendesk"
    assert zendesk.store.resolve() == config_dir / "state" / "slo.db"
    assert zendesk.source.token_file.is_absolute() and zendesk.store.is_absolute()

    file = load_config(config_dir / "file.yml")
    assert file.source.path is not None
    assert file.source.path.resolve() == tmp_path / "etc" / "exports" / "tickets.jsonl"
    assert file.store == config_dir / "helpdesk-slo-state.db"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path / "c.yml",
            "source: {type: file, path: /srv/t.jsonl}\nstore: /var/lib/helpdesk-slo/state.db\n",
        )
    )
    assert config.source.path == Path("/srv/t.jsonl")
    assert config.store == Path("/var/lib/helpdesk-slo/state.db")


def test_parse_config_without_a_file_resolves_against_the_given_directory(tmp_path: Path) -> None:
    config = parse_config("source: {type: file, path: t.jsonl}\n", base_dir=tmp_path)
    assert config.source.path == tmp_path / "t.jsonl"
    assert config.path is None


# --- secrets ----------------------------------------------------------------------------------

_SECRET = "zd-Sup3r-s3cret-t0ken"


def _zendesk(tmp_path: Path, auth: str) -> Path:
    return _write(
        tmp_path / "helpdesk-slo.yml",
        "source:\n  type: zendesk\n  url: https://acme.zendesk.com\n"
        f"  email: ops@acme.example\n  {auth}\n",
    )


def test_read_secret_from_a_file(tmp_path: Path) -> None:
    _write(tmp_path / "secrets" / "zendesk", f"{_SECRET}\n")
    config = load_config(_zendesk(tmp_path, "token_file: secrets/zendesk"))
    assert read_secret(config.source) == _SECRET


def test_read_secret_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENDESK_TOKEN", f"  {_SECRET}  ")
    config = load_config(_zendesk(tmp_path, "token_env: ZENDESK_TOKEN"))
    assert read_secret(config.source) == _SECRET


def test_sources_without_credentials_have_no_secret() -> None:
    assert read_secret(parse_config("source: {type: demo}\n").source) is None


@pytest.mark.parametrize(
    ("auth", "secret_file", "message"),
    [
        ("token_file: missing", None, "source.token_file: cannot read"),
        ("token_file: empty", "", "source.token_file: "),
        ("token_file: binary", "\udcff", "is not UTF-8 text"),
        ("token_env: HELPDESK_SLO_TEST_UNSET", None, "HELPDESK_SLO_TEST_UNSET is not set"),
    ],
    ids=["missing-file", "empty-file", "binary-file", "unset-variable"],
)
def test_read_secret_problems_name_the_place_not_the_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    auth: str,
    secret_file: str | None,
    message: str,
) -> None:
    monkeypatch.delenv("HELPDESK_SLO_TEST_UNSET", raising=False)
    if secret_file is not None:
        name = auth.split(": ")[1]
        (tmp_path / name).write_bytes(secret_file.encode("utf-8", "surrogateescape"))
    config = load_config(_zendesk(tmp_path, auth))
    with pytest.raises(ConfigError) as caught:
        read_secret(config.source)
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize(
    "auth",
    [
        f"token: {_SECRET}\n  token_env: ZENDESK_TOKEN",
        f"api_key: {_SECRET}\n  token_env: ZENDESK_TOKEN",
        f"password: {_SECRET}\n  token_env: ZENDESK_TOKEN",
        f'token_env: "{_SECRET}"',
        f"token_file: {{path: {_SECRET}}}",
    ],
    ids=[
        "inline-token",
        "inline-api-key",
        "inline-password",
        "token-in-env-name",
        "token-file-mapping",
    ],
)
def test_a_secret_written_in_the_config_is_never_echoed(tmp_path: Path, auth: str) -> None:
    problems = problems_of(_zendesk(tmp_path, auth))
    assert problems
    assert not any(_SECRET in p for p in problems), problems


def test_credentials_in_the_url_are_never_echoed() -> None:
    text = (
        f"source:\n  type: jira\n  url: https://ops:{_SECRET}@acme.atlassian.net\n"
        "  token_env: JIRA_TOKEN\n"
    )
    problems = text_problems(text)
    assert len(problems) == 1 and "credentials do not belong in the URL" in problems[0]
    assert _SECRET not in problems[0]


# --- valid configs and what they parse to -----------------------------------------------------


def test_minimal_config_takes_the_defaults() -> None:
    file = CONFIGS / "valid" / "minimal.yml"
    config = load_config(file)
    assert config.path == file
    assert config.service == "support"
    assert config.source.type is SourceType.FILE
    assert config.source.path == file.parent / "tickets.jsonl"
    assert config.source.poll_interval == parse_duration("60s")
    assert config.source.lookback.seconds == 35 * 86400
    assert config.store == file.parent / "helpdesk-slo-state.db"
    assert config.calendars == {} and config.slas == {}
    assert list(config.build_calendars()) == [ALWAYS]
    [slo] = config.slos
    assert slo.name == "csat" and slo.kind is SloKind.CSAT
    assert slo.objective_ratio == Decimal("0.9")
    assert slo.error_budget == Decimal("0.1")
    assert slo.window == "28d" and slo.window_seconds == 28 * 86400
    assert slo.calendar_window is None
    assert slo.alerting.page and slo.alerting.ticket
    assert slo.alerting.min_bad_events == 3 and slo.alerting.backlog_tickets == 2
    assert config.slo("csat") is slo


def test_round_the_clock_config() -> None:
    file = CONFIGS / "valid" / "always-24x7.yml"
    config = load_config(file)
    assert config.service == "night-desk"
    assert config.source.path == file.parent / "data" / "tickets.jsonl"
    assert config.store == file.parent / "state" / "helpdesk.db"
    assert config.calendars["always"].is_always
    first, resolution = config.slas["first_response"], config.slas["resolution"]
    assert config.calendar_name(first) == "always"
    assert config.calendar_name(resolution) == ALWAYS
    assert first.targets == {
        Priority.URGENT: parse_duration("30m"),
        Priority.HIGH: parse_duration("2h"),
        Priority.NORMAL: parse_duration("1d"),
        Priority.LOW: parse_duration("1w"),
    }
    assert first.mode is SlaMode.COMPUTED and first.replies_count == (Author.AGENT,)
    assert first.pause_statuses == {"pending", "on_hold"}
    assert resolution.pause_statuses == {"pending"}
    calendars = config.build_calendars()
    assert calendars["always"].is_always and calendars[ALWAYS].is_always
    urgent, resolved = config.slos
    assert urgent.match.priority == (Priority.URGENT,)
    assert urgent.threshold_duration == parse_duration("15m")
    assert urgent.threshold_fraction is None
    assert urgent.objective_ratio == Decimal("0.995")
    assert format_ratio(urgent.objective_ratio) == "0.995"
    assert format_ratio(urgent.error_budget) == "0.005"
    assert resolved.objective_ratio == Decimal("0.9")
    assert resolved.threshold_duration is not None
    assert resolved.threshold_duration.seconds == 3 * 86400
    assert resolved.window_seconds == 4 * 604800


def test_business_calendars_and_calendar_windows() -> None:
    config = load_config(CONFIGS / "valid" / "calendar-windows.yml")
    assert config.source.path == Path("/srv/exports/tickets.jsonl")
    office = config.calendars["office"]
    assert office.timezone == "Europe/Paris" and office.country == "FR"
    assert office.holidays == [date(2026, 12, 25), date(2027, 1, 1)]
    assert office.hours[0] == ((9 * 3600, 12 * 3600 + 1800), (13 * 3600 + 1800, 18 * 3600))
    assert office.hours[5] == ((10 * 3600, 14 * 3600),)
    assert office.hours[6] == ()
    assert not office.is_always
    line = config.calendars["support-line"]
    assert sorted(line.hours) == [0, 1, 2, 3, 4, 5]
    assert line.hours[2] == ((8 * 3600, 86400),) and line.hours[3] == ((0, 6 * 3600),)

    calendars = config.build_calendars()
    assert set(calendars) == {ALWAYS, "office", "support-line"}
    # Christmas 2026 is a Friday and a holiday: no business time that day
    christmas = datetime(2026, 12, 25, 8, tzinfo=UTC)
    assert calendars["office"].elapsed(christmas, datetime(2026, 12, 25, 20, tzinfo=UTC)) == 0
    # a Monday in Paris (UTC+1 in winter): 09:00-12:30 and 13:30-18:00 = 8h
    monday = datetime(2026, 11, 30, 0, tzinfo=UTC)
    assert calendars["office"].elapsed(monday, datetime(2026, 12, 1, 0, tzinfo=UTC)) == 8 * 3600

    week, month = config.slos
    assert week.calendar_window == "week" and week.window_seconds == 7 * 86400
    assert week.match.channel == ("email",) and week.match.tags == ("vip", "emea")
    assert week.threshold_fraction == Decimal("0.5") and week.threshold_duration is None
    assert month.calendar_window == "month" and month.window_seconds == 30 * 86400
    assert month.labels == {"team": "tier2"}
    assert not month.alerting.page and month.alerting.ticket
    assert month.alerting.for_ == parse_duration("5m")
    assert month.alerting.runbook_url == "https://wiki.example/slo"
    assert config.slas["next_response"].targets[Priority.HIGH].seconds == 5400


def test_percentile_spelling_config() -> None:
    config = load_config(CONFIGS / "valid" / "percentile.yml")
    assert config.source.type is SourceType.DEMO
    by_percentile = config.slo("p95-spelling")
    by_objective = config.slo("objective-spelling")
    assert by_percentile.objective_ratio == by_objective.objective_ratio == Decimal("0.95")
    assert by_percentile.threshold_duration == by_objective.threshold_duration
    assert config.slo("both-spellings-agree").objective_ratio == Decimal("0.999")
    promql = config.slo("chat-availability")
    assert promql.kind is SloKind.PROMQL and promql.promql is not None
    assert promql.promql.good is None
    assert promql.promql.total == "sum(rate(chat_widget_requests_total[{{window}}]))"
    with pytest.raises(KeyError):
        config.slo("missing")


def test_the_example_config_parses_to_what_its_comments_say() -> None:
    config = load_config(EXAMPLE)
    assert config.source.type is SourceType.FILE
    assert config.source.path == EXAMPLE.parent / "tickets.jsonl"
    assert config.calendars["office"].country == "FR"
    assert config.calendars["always"].is_always
    assert [s.name for s in config.slos] == [
        "urgent-first-response",
        "first-response",
        "resolution",
        "next-response-vip",
        "csat",
        "chat-availability",
    ]
    assert config.exporter.top_deadlines == 10
    assert config.exporter.breakdown == {"channel": ("email", "web", "chat")}


def test_numeric_source_priorities_are_mapped_as_text() -> None:
    config = parse_config(
        "source:\n  type: freshdesk\n  url: https://acme.freshdesk.com\n  token_env: FD_TOKEN\n"
        "  priority_map: {1: low, 2: normal, 3: high, 4: urgent}\n"
    )
    assert config.source.priority_map == {
        "1": Priority.LOW,
        "2": Priority.NORMAL,
        "3": Priority.HIGH,
        "4": Priority.URGENT,
    }


# --- limits: empty, large, deep, aliases, long values, long durations -------------------------


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "# comments only\n# source: {type: demo}\n", "{}\n", "---\n...\n"],
    ids=["empty", "blank-lines", "comments-only", "empty-mapping", "empty-document"],
)
def test_an_empty_config_is_an_error_that_names_the_demo(text: str) -> None:
    (problem,) = text_problems(text)
    assert re.match(r"<config>:1: \(top level\): the config is empty: ", problem), problem
    assert "source: {type: demo}" in problem


def test_the_demo_is_a_config_that_asks_for_it() -> None:
    assert parse_config("source: {type: demo}\n").source.type is SourceType.DEMO


@pytest.mark.parametrize(
    "config",
    sorted((ROOT / "examples").glob("*.yml")) + sorted((CONFIGS / "valid").glob("*.yml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_the_examples_and_valid_configs_are_within_every_limit(config: Path) -> None:
    load_config(config)


def test_a_config_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    config = tmp_path / "helpdesk-slo.yml"
    config.write_bytes(b"source: {type: demo}\n" + b"#" * yamlfile.MAX_FILE_BYTES)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.problems == [
        f"{config}: cannot read config: it is larger than 1 MiB (1048576 bytes); "
        "is it the right file?"
    ]


def test_a_config_at_the_size_limit_is_read(tmp_path: Path) -> None:
    config = tmp_path / "helpdesk-slo.yml"
    head = b"source: {type: demo}\n"
    config.write_bytes(head + b"#" * (yamlfile.MAX_FILE_BYTES - len(head)))
    assert load_config(config).source.type is SourceType.DEMO


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b"source: {type: demo}\n\nservice: caf\xe9\n",
            ":3: cannot read config: not UTF-8 text (byte 0xe9",
        ),
        (b"\xff\xfes\x00o\x00", ": cannot read config: it is UTF-16 text; save it as UTF-8"),
        (b"\xef\xbb\xbfsource: {type: demo}\nslos: 5\n", ":2: slos: expected a list, got 5"),
        (
            b"source: {type: demo}\nservice: a\x00b\n",
            ":2: (top level): not valid YAML: character #x0000",
        ),
    ],
    ids=["latin-1", "utf-16", "utf-8-bom-keeps-line-numbers", "nul-byte"],
)
def test_text_that_is_not_utf8_yaml_is_located(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    config = tmp_path / "helpdesk-slo.yml"
    config.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    (found,) = caught.value.problems
    assert found.startswith(f"{config}{problem}"), found


def _nested(depth: int) -> str:
    return "source: {type: demo}\nlabels: " + "[" * depth + "]" * depth + "\n"


@pytest.mark.parametrize(
    ("depth", "refused"),
    [(yamlfile.MAX_DEPTH - 1, False), (yamlfile.MAX_DEPTH, True), (100_000, True)],
    ids=["below-the-limit", "at-the-limit", "far-past-the-recursion-limit"],
)
def test_nesting_is_limited(depth: int, refused: bool) -> None:
    # the top-level mapping is one level: `labels:` holds depth more
    problems = text_problems(_nested(depth))
    nested = [p for p in problems if "nested more than 50 levels deep" in p]
    if refused:
        assert nested == [
            "<config>:2: labels[0]: not valid YAML: nested more than 50 levels deep; "
            "check the brackets and the indentation"
        ]
    else:
        assert nested == []
        assert problems == ["<config>:2: labels: unknown key; did you mean 'slas'?"]


def _aliases(uses: int) -> str:
    """An anchored list of 99 values (100 with the list) used ``uses`` times."""
    values = ", ".join(["x"] * 99)
    return f"a: &shared [{values}]\nb: [" + ", ".join(["*shared"] * uses) + "]\n"


@pytest.mark.parametrize(
    ("uses", "refused"),
    [(yamlfile.MAX_ALIAS_NODES // 100, False), (yamlfile.MAX_ALIAS_NODES // 100 + 1, True)],
    ids=["at-the-limit", "one-alias-past-it"],
)
def test_alias_expansion_is_limited(uses: int, refused: bool) -> None:
    if refused:
        with pytest.raises(yaml.YAMLError, match="stand for more than 10000 values"):
            yamlfile.load(_aliases(uses))
    else:
        assert len(yamlfile.load(_aliases(uses))[1]["b"]) == uses


def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit() -> None:
    lines = ["source: {type: demo}", "calendars:", "  office:", "    holidays:"]
    lines.append("      - &a0 [" + ", ".join(['"2026-12-25"'] * 9) + "]")
    lines += [f"      - &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)]
    text = "\n".join(lines) + "\n"
    assert len(text) < 1024
    (problem,) = text_problems(text)
    # the aliases in a1..a3 stand for 90 + 819 + 7380 values; the first *a3 in a4 (7381 more)
    # crosses 10000
    assert problem.startswith("<config>:9: calendars.office.holidays[4]: not valid YAML: ")
    assert "stand for more than 10000 values (an alias bomb?)" in problem


def test_an_alias_inside_the_value_it_names_is_refused() -> None:
    (problem,) = text_problems("source: {type: demo}\nslos: &loop [*loop]\n")
    assert problem.startswith("<config>:2: slos")
    assert "alias *loop is used inside the value it names (a cycle)" in problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-13-45", "cannot read '2026-13-45' as a timestamp: month must be in 1..12"),
        ("1" * 5000, "as an int: Exceeds the limit"),
        ("!!float many", "cannot read 'many' as a float"),
    ],
    ids=["impossible-date", "five-thousand-digits", "float-tag-on-a-word"],
)
def test_a_value_its_tag_cannot_stand_for_is_located(value: str, problem: str) -> None:
    (found,) = text_problems(f"source: {{type: demo}}\nservice: {value}\n")
    assert found.startswith("<config>:2: service: not valid YAML: "), found
    assert problem in found
    assert len(found) < 300


@pytest.mark.parametrize(
    "text",
    [
        "source: {type: demo}\ncalendars: {office: {timezone: Europe/" + "x" * 100_000 + "}}\n",
        "source: {type: demo}\nslos: [{name: " + "N" * 100_000 + ", kind: csat, objective: 1%}]\n",
        "source: {type: demo, poll_interval: " + "9" * 100_000 + "h}\n",
        "source:\n  type: demo\n  " + "k" * 1000 + ": 1\n",
    ],
    ids=["time-zone", "slo-name", "duration", "unknown-key"],
)
def test_problems_quote_a_short_excerpt_of_a_long_value(text: str) -> None:
    problems = text_problems(text)
    assert problems
    for problem in problems:
        assert len(problem) < 500, problem[:600]
        assert "..." in problem


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("3650d", True),
        ("521w", True),
        ("3651d", False),
        ("99999999999h", False),
        (315_360_001, False),
        (1e300, False),
        ("9" * 400 + "d", False),
    ],
    ids=["ten-years", "just-under-ten-years", "a-day-more", "overflow", "seconds", "float", "inf"],
)
def test_durations_are_at_most_ten_years(value: object, accepted: bool) -> None:
    if accepted:
        assert parse_duration(value).seconds <= 3650 * 86400
    else:
        with pytest.raises(DurationTooLong, match="must be at most 3650d"):
            parse_duration(value)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("source: {type: demo, poll_interval: 1d}", None),
        ("source: {type: demo, poll_interval: 25h}", "source.poll_interval: must be at most 1d"),
        ("store: helpdesk-slo-state.db", None),
        ('store: ""', "store: must name the SQLite file"),
        ("store: '  '", "store: must name the SQLite file"),
        ("store: state/", "store: names a directory ('state/')"),
    ],
    ids=["poll-daily", "poll-past-a-day", "store", "store-empty", "store-blank", "store-dir"],
)
def test_source_and_store_bounds(setting: str, problem: str | None) -> None:
    text = "source: {type: demo}\n" + setting + "\n" if setting.startswith("store") else setting
    if problem is None:
        parse_config(text + "\n")
    else:
        (found,) = text_problems(text + "\n")
        assert problem in found


@pytest.mark.parametrize(
    ("threshold", "problem"),
    [("1000%", None), ("1000.1%", "must be at most 1000% of the SLA target (got 1000.1%)")],
    ids=["ten-times-the-target", "past-ten-times"],
)
def test_a_percentage_threshold_is_at_most_ten_times_the_target(
    threshold: str, problem: str | None
) -> None:
    text = (
        "source: {type: demo}\nslas: {first_response: {targets: {urgent: 1h}}}\n"
        "slos:\n  - {name: u, sla: first_response, match: {priority: urgent}, objective: 95%, "
        f"threshold: '{threshold}'}}\n"
    )
    if problem is None:
        assert parse_config(text).slos[0].threshold == threshold
    else:
        (found,) = text_problems(text)
        assert problem in found


# --- every key of the example does something ------------------------------------------------

KeyPath = tuple[str | int, ...]


def _example_keys(node: Any, path: KeyPath = ()) -> list[KeyPath]:
    """Every key of the example whose value is not itself a section, in file order."""
    found: list[KeyPath] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        nested = isinstance(value, dict) or (
            isinstance(value, list) and value and isinstance(value[0], dict)
        )
        found += _example_keys(value, (*path, key)) if nested else [(*path, key)]
    return found


def _parent(data: Any, path: KeyPath) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _set(path: KeyPath, value: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        _parent(data, path)[path[-1]] = value

    return change


def _rename(path: KeyPath, new: str) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        parent = _parent(data, path)
        parent[new] = parent.pop(path[-1])

    return change


def _slo(index: int, **fields: Any) -> Callable[[Any], None]:
    """Turn SLO ``index`` into another kind (several keys change together)."""

    def change(data: Any) -> None:
        slo = data["slos"][index]
        for key in ("kind", "promql", "sla", "threshold"):
            slo.pop(key, None)
        slo.update(fields)

    return change


#: Changes that the generic rule (:func:`_changed`) cannot make valid.
_CHANGES: dict[KeyPath, Callable[[Any], None]] = {
    ("source", "type"): lambda data: data.__setitem__("source", {"type": "demo"}),
    ("calendars", "office", "timezone"): _set(("calendars", "office", "timezone"), "Europe/Berlin"),
    ("calendars", "office", "country"): _set(("calendars", "office", "country"), "DE"),
    ("calendars", "office", "hours", "sat"): _set(
        ("calendars", "office", "hours", "sat"), ["10:00-13:00"]
    ),
    ("calendars", "always"): _rename(("calendars", "always"), "round-the-clock"),
    ("slas", "first_response", "replies_count"): _set(
        ("slas", "first_response", "replies_count"), ["agent", "ai_agent"]
    ),
    ("slos", 0, "match", "priority"): _set(("slos", 0, "match", "priority"), ["high"]),
    ("slos", 3, "match", "tags"): _set(("slos", 3, "match", "tags"), ["gold"]),
    ("slos", 4, "kind"): _slo(4, sla="resolution", threshold="100%"),
    ("slos", 5, "kind"): _slo(5, sla="resolution", threshold="100%"),
}
_OTHER = {"office": "always", "first_response": "next_response", "next_response": "first_response"}
_OTHER |= {"resolution": "first_response", "computed": "native", "month": "week", "week": "month"}


def _changed(value: Any) -> Any:
    """Another valid value of the same kind: a longer duration, one percent less, one more."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, list):
        return value[:-1]
    if value in _OTHER:
        return _OTHER[value]
    if match := re.fullmatch(r"(\d+)([smhdw])", value):
        return f"{int(match[1]) + 1}{match[2]}"
    if match := re.fullmatch(r"(\d+)%", value):
        return f"{int(match[1]) - 1}%"
    return f"{value}-x"


EXAMPLE_KEYS = _example_keys(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))


@pytest.mark.parametrize("key", EXAMPLE_KEYS, ids=[".".join(map(str, k)) for k in EXAMPLE_KEYS])
def test_every_key_of_the_example_changes_the_loaded_config(key: KeyPath) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if key in _CHANGES:
        _CHANGES[key](data)
    else:
        _set(key, _changed(_parent(data, key)[key[-1]]))(data)

    base = load_config(EXAMPLE)
    changed = parse_config(yaml.safe_dump(data, sort_keys=False), base_dir=EXAMPLE.parent)

    assert changed.model_dump(exclude={"path"}) != base.model_dump(exclude={"path"})
    if key[0] == "source" and key[1] not in ("type", "poll_interval"):  # the poller reads these
        # a key only the source reads must reach the object the source is built as
        assert vars(build_source(changed)) != vars(build_source(base))
