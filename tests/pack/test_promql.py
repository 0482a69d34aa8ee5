"""PromQL checks: the parser agrees with promtool; generate never writes what Prometheus refuses."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import yaml

from exporter.cli import main
from exporter.config import load_config
from exporter.pack.generate import RULES_FILE, build_pack, validate_pack
from exporter.pack.promql import PromqlError, check_rule_file, parse
from tests.tools import require_binary, require_shared

ROOT = Path(__file__).parents[2]

VALID = [
    pytest.param("up", id="bare-metric"),
    pytest.param('sum(rate(http_requests_total{job="api",code=~"5.."}[5m]))', id="sum-rate"),
    pytest.param("sum by (le) (rate(x_bucket[1h]))", id="sum-by-before"),
    pytest.param("sum(rate(x[1h])) by (job)", id="sum-by-after"),
    pytest.param("histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))", id="quantile"),
    pytest.param("a / on (job) group_left (team) b", id="group-left"),
    pytest.param("(sum(a) > 0) or on () vector(0)", id="or-vector"),
    pytest.param("clamp_min(sum(a) - (sum(b) or vector(0)), 0) * 300", id="clamp"),
    pytest.param("max_over_time(x[1h:5m])", id="subquery"),
    pytest.param("rate(x[5m] offset 1h)", id="offset"),
    pytest.param("x @ 1700000000", id="at-modifier"),
    pytest.param("1 > bool 2", id="scalar-comparison-bool"),
    pytest.param("topk(3, sum by (job) (up))", id="topk"),
    pytest.param("-x ^ 2", id="unary-power"),
    pytest.param('{__name__=~"job:.*"}', id="name-matcher"),
    pytest.param('absent(up{job="a"}) and on () (up{job="b"} == 1)', id="absent-and"),
    pytest.param("# comment\nup", id="comment"),
    pytest.param('label_replace(up, "a", "$1", "b", "(.*)")', id="label-replace"),
    pytest.param("up > Inf or up < -inf", id="infinities"),
]

INVALID = [
    pytest.param("sum(rate(x[5m])", "expected ')'", id="unclosed-paren"),
    pytest.param(
        "sum:trace.http.request.hits.by_http_status{http.status_code:200}.as_count()",
        "unexpected character '.'",
        id="datadog-query",
    ),
    pytest.param("sum(x[5m])", "sum() needs an instant vector", id="aggregate-range"),
    pytest.param("rate(x)", "rate() needs a range vector", id="rate-instant"),
    pytest.param("rat(x[5m])", "unknown function rat", id="unknown-function"),
    pytest.param('x{a="b"', "expected ',' or '}'", id="unclosed-brace"),
    pytest.param("x{a=b}", "expected a quoted value", id="unquoted-value"),
    pytest.param("1 > 2", "needs the bool modifier", id="scalar-comparison"),
    pytest.param("a + + ", "expected an expression", id="dangling-operator"),
    pytest.param("sum(rate(x[5m])) x", "unexpected text", id="trailing"),
    pytest.param("a and 1", "and needs instant vectors", id="set-with-scalar"),
    pytest.param("rate(x[5m:1m] offset)", "expected a duration after offset", id="offset-empty"),
    pytest.param("SELECT value FROM metrics", "unexpected text", id="sql"),
]


#: promtool check rules only parses these; the rule then fails at every evaluation.
FAILS_AT_EVALUATION = [
    pytest.param("x[5m]", "must be an instant vector", id="range-result"),
]


@pytest.mark.parametrize("query", VALID)
def test_parser_accepts_what_prometheus_accepts(query: str) -> None:
    parse(query)


@pytest.mark.parametrize(("query", "reason"), INVALID + FAILS_AT_EVALUATION)
def test_parser_refuses_what_prometheus_refuses_and_says_why(query: str, reason: str) -> None:
    with pytest.raises(PromqlError) as raised:
        parse(query)
    assert reason in raised.value.message


def _rule_file(*exprs: str, slo: str | None = None) -> str:
    rules: list[dict[str, object]] = [
        {"record": f"test:rule{i}", "expr": e} for i, e in enumerate(exprs)
    ]
    if slo is not None:
        for rule in rules:
            rule["labels"] = {"slo": slo}
    return yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]})


@pytest.mark.parametrize(
    ("query", "valid"),
    [pytest.param(p.values[0], True, id=p.id) for p in VALID]
    + [pytest.param(p.values[0], False, id=p.id) for p in INVALID],
)
def test_parser_and_promtool_agree(query: str, valid: bool) -> None:
    promtool = require_binary("promtool")
    assert (check_rule_file(_rule_file(query), promtool) == []) is valid


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param(ROOT / RULES_FILE, id="committed-pack"),
        pytest.param(("sloth", "generated-getting-started.yml"), id="sloth-generated"),
        pytest.param(("sloth", "generated-openslo-getting-started.yml"), id="sloth-openslo"),
    ],
)
def test_parser_accepts_every_expression_of_real_rule_files(rules: object) -> None:
    path = rules if isinstance(rules, Path) else require_shared("peers", *rules)  # type: ignore[misc]
    assert check_rule_file(path.read_text(), promtool="") == []


# --- generate refuses to write what Prometheus would refuse ---------------------------------------

BROKEN = [
    pytest.param(
        "sum:trace.http.request.hits.by_http_status{http.status_code:5xx}.as_count()",
        "sum:trace.http.request.hits",
        id="datadog-query",
    ),
    pytest.param('sum(rate(chat_sessions_total{ok="false"}[{{window}}])', "sum(sum(rate(chat",
                 id="unclosed"),
]  # fmt: skip


def _config(tmp_path: Path, bad: str) -> Path:
    config = {
        "service": "support",
        "slos": [
            {
                "name": "chat-availability",
                "kind": "promql",
                "objective": "99%",
                "window": "28d",
                "promql": {"bad": bad, "total": "sum(rate(chat_sessions_total[{{window}}]))"},
            }
        ],
    }
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("checker", ["parser", "promtool"])
@pytest.mark.parametrize(("bad", "shown"), BROKEN)
def test_generate_exits_1_and_writes_nothing_for_a_query_prometheus_refuses(
    bad: str, shown: str, checker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if checker == "promtool":
        require_binary("promtool")
    else:
        monkeypatch.setenv("PATH", str(tmp_path / "no-binaries"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(
            ["generate", "--config", str(_config(tmp_path, bad)), "--out", str(tmp_path / "o")],
            out=out,
        )
    assert code == 1
    errors = [line for line in err.getvalue().splitlines() if line.startswith("error:")]
    assert errors[0].startswith("error: slo chat-availability: slo:sli_events:increase")
    assert shown in errors[0]
    assert errors[-1].startswith("error: Prometheus would refuse these rules; nothing written")
    assert not (tmp_path / "o").exists()
    assert "Traceback" not in err.getvalue()


def test_a_promtool_that_cannot_run_falls_back_to_the_parser(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-promtool")
    assert check_rule_file(_rule_file("up"), missing) == []
    (problem,) = check_rule_file(_rule_file("sum(up"), missing)
    assert "expected ')'" in problem


def test_validate_pack_passes_the_committed_example() -> None:
    pack = build_pack(load_config(ROOT / "examples" / "helpdesk-slo.yml"))
    assert validate_pack(pack, promtool="") == []


def test_promtool_output_is_mapped_to_the_slo(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    problems = check_rule_file(_rule_file("up", "sum(rate(x[5m])", slo="broken"), promtool)
    assert len(problems) == 1
    assert problems[0].startswith("slo broken: test:rule1: ") and "sum(rate(x[5m])" in problems[0]
