"""PromQL checks for the pack: a parser of our own, and ``promtool check rules`` when installed.

The pack must never hold an expression Prometheus would refuse to load.
:func:`check_rule_file` checks every ``expr`` of a rendered rule file before
anything is written: with ``promtool check rules`` on a temporary file when
promtool is on PATH, else with :func:`parse`, a recursive-descent parser of
the PromQL grammar that the pack emits and that users typically write
(selectors with matchers, ranges, subqueries, ``offset``/``@``, functions,
aggregations with ``by``/``without``, binary operators with ``bool`` and
vector matching).  It checks syntax and the vector/range-vector kind of
function arguments, not the full type system.

The parse tree (:class:`Selector`, :class:`Call`, :class:`Aggregation`, ...)
also lets the importer see what a query is made of before rewriting it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

import yaml


class PromqlError(ValueError):
    """A query that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


# --- parse tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selector:
    """``name{matchers}``, with ``[range]`` when it is a range-vector selector."""

    name: str | None
    matchers: tuple[tuple[str, str, str], ...]
    range: str | None = None
    offset: str | None = None


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Aggregation:
    operator: str
    expr: Node
    grouping: tuple[str, ...] = ()
    without: bool = False
    param: Node | None = None


@dataclass(frozen=True)
class Binary:
    operator: str
    left: Node
    right: Node
    modifiers: str = ""


@dataclass(frozen=True)
class Unary:
    operator: str
    expr: Node


@dataclass(frozen=True)
class Subquery:
    expr: Node
    range: str
    step: str | None = None


@dataclass(frozen=True)
class Number:
    value: str


@dataclass(frozen=True)
class String:
    value: str


Node = Selector | Call | Aggregation | Binary | Unary | Subquery | Number | String

Kind = Literal["scalar", "vector", "matrix", "string"]

# --- the language ---------------------------------------------------------------------------------

AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)
_PARAMETRIC = frozenset({"count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"})
#: Functions whose (first) argument is a range vector.
RANGE_FUNCTIONS = frozenset(
    {"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets"}
    | {"predict_linear", "holt_winters", "double_exponential_smoothing"}
    | {f"{agg}_over_time" for agg in ("avg", "min", "max", "sum", "count", "stddev", "stdvar")}
    | {"quantile_over_time", "last_over_time", "present_over_time", "absent_over_time"}
    | {"mad_over_time"}
)
_RANGE_ARGUMENT = {"quantile_over_time": 1}
INSTANT_FUNCTIONS = frozenset(
    {"abs", "absent", "ceil", "floor", "round", "exp", "ln", "log2", "log10", "sqrt", "sgn"}
    | {"clamp", "clamp_min", "clamp_max", "scalar", "vector", "time", "timestamp", "sort"}
    | {"sort_desc", "label_replace", "label_join", "histogram_quantile", "days_in_month"}
    | {"day_of_month", "day_of_week", "day_of_year", "hour", "minute", "month", "year"}
    | {"pi", "deg", "rad", "acos", "asin", "atan", "acosh", "asinh", "atanh", "cos", "cosh"}
    | {"sin", "sinh", "tan", "tanh", "histogram_count", "histogram_sum", "histogram_fraction"}
    | {"histogram_avg", "histogram_stddev", "histogram_stdvar", "sort_by_label"}
    | {"sort_by_label_desc"}
)
_SCALAR_FUNCTIONS = frozenset({"scalar", "time", "pi"})
_BINARY_PRECEDENCE = [
    ("or",),
    ("and", "unless"),
    ("==", "!=", "<=", "<", ">=", ">"),
    ("+", "-"),
    ("*", "/", "%", "atan2"),
]
_COMPARISONS = frozenset({"==", "!=", "<=", "<", ">=", ">"})
_SET_OPERATORS = frozenset({"and", "or", "unless"})
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool"})
_KEYWORDS |= frozenset({"offset", "and", "or", "unless", "atan2", "inf", "nan"})

_DURATION = r"(?:\d+(?:ms|y|w|d|h|m|s))+"
_TOKEN = re.compile(
    rf"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<duration>{_DURATION}(?![\w.]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<identifier>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<operator>=~|!~|==|!=|<=|>=|[-+*/%^<>=(){{}}\[\],:@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


def tokenize(query: str) -> list[Token]:
    """The tokens of ``query``; raise :class:`PromqlError` at the first character that fits none."""
    tokens = []
    position = 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None:
            raise PromqlError(f"unexpected character {query[position]!r}", position)
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(query)))
    return tokens


@dataclass
class _Parser:
    tokens: list[Token]
    index: int = 0
    _depth: int = field(default=0)

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def at(self, *texts: str) -> bool:
        token = self.token
        return token.kind in ("operator", "identifier") and token.text in texts

    def expect(self, text: str, what: str) -> Token:
        if not self.at(text):
            self.fail(f"expected {what}")
        return self.advance()

    def fail(self, message: str, found: bool = True) -> NoReturn:
        token = self.token
        if not found:
            raise PromqlError(message, token.position)
        seen = "the end of the query" if token.kind == "end" else repr(token.text)
        raise PromqlError(f"{message}, found {seen}", token.position)

    # expression := binary expression by precedence climbing
    def expression(self, level: int = 0) -> Node:
        if level == len(_BINARY_PRECEDENCE):
            return self.power()
        left = self.expression(level + 1)
        while self.at(*_BINARY_PRECEDENCE[level]):
            operator = self.advance().text
            modifiers = self.modifiers(operator)
            right = self.expression(level + 1)
            left = self.binary(operator, left, right, modifiers)
        return left

    def power(self) -> Node:
        base = self.unary()
        if self.at("^"):
            self.advance()
            modifiers = self.modifiers("^")
            return self.binary("^", base, self.power(), modifiers)  # right-associative
        return base

    def unary(self) -> Node:
        if self.at("-", "+"):
            operator = self.advance().text
            return Unary(operator, self.unary())
        return self.postfix(self.primary())

    def modifiers(self, operator: str) -> str:
        words = []
        if self.at("bool"):
            if operator not in _COMPARISONS:
                self.fail("bool is only allowed after a comparison operator")
            words.append(self.advance().text)
        if self.at("on", "ignoring"):
            words.append(self.advance().text)
            words.append("(" + ",".join(self.labels()) + ")")
            if self.at("group_left", "group_right"):
                words.append(self.advance().text)
                if self.at("("):
                    words.append("(" + ",".join(self.labels()) + ")")
        return " ".join(words)

    def binary(self, operator: str, left: Node, right: Node, modifiers: str) -> Node:
        left_kind, right_kind = kind_of(left), kind_of(right)
        for side in (left_kind, right_kind):
            if side in ("matrix", "string"):
                self.fail(
                    f"binary {operator} needs numbers or instant vectors, not a {side}", found=False
                )
        if operator in _SET_OPERATORS and "scalar" in (left_kind, right_kind):
            self.fail(f"{operator} needs instant vectors on both sides", found=False)
        if (
            operator in _COMPARISONS
            and left_kind == right_kind == "scalar"
            and "bool" not in modifiers
        ):
            self.fail("a comparison between two scalars needs the bool modifier", found=False)
        return Binary(operator, left, right, modifiers)

    def labels(self) -> list[str]:
        self.expect("(", "'(' and a list of label names")
        names = []
        while not self.at(")"):
            if self.token.kind not in ("identifier", "string"):
                self.fail("expected a label name")
            names.append(self.advance().text)
            if not self.at(")"):
                self.expect(",", "',' or ')'")
        self.advance()
        return names

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at("["):
                node = self.range(node)
            elif self.at("offset"):
                self.advance()
                if self.at("-"):
                    self.advance()
                if self.token.kind != "duration":
                    self.fail("expected a duration after offset")
                offset = self.advance().text
                if isinstance(node, Selector):
                    node = Selector(node.name, node.matchers, node.range, offset)
            elif self.at("@"):
                self.advance()
                if self.at("start", "end"):
                    self.advance()
                    self.expect("(", "'('")
                    self.expect(")", "')'")
                elif self.token.kind == "number":
                    self.advance()
                else:
                    self.fail("expected a timestamp, start() or end() after @")
            else:
                return node

    def range(self, node: Node) -> Node:
        self.advance()
        if self.token.kind != "duration":
            self.fail("expected a duration such as 5m in [...]")
        length = self.advance().text
        glued = re.fullmatch(rf":({_DURATION})?", self.token.text)
        if self.at(":") or (self.token.kind == "identifier" and glued is not None):
            step = glued[1] if glued is not None else None
            self.advance()
            if step is None and self.token.kind == "duration":
                step = self.advance().text
            self.expect("]", "']'")
            if kind_of(node) != "vector":
                self.fail("a subquery needs an instant vector", found=False)
            return Subquery(node, length, step)
        self.expect("]", "']'")
        if not isinstance(node, Selector) or node.range is not None:
            self.fail(
                "a range [...] may only follow a metric selector (use a subquery [d:step])",
                found=False,
            )
        return Selector(node.name, node.matchers, length, node.offset)

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number" or (
            token.kind == "identifier" and token.text.lower() in ("inf", "nan")
        ):
            return Number(self.advance().text)
        if token.kind == "duration":
            self.fail("a duration is only allowed in [...] or after offset")
        if token.kind == "string":
            return String(self.advance().text)
        if self.at("("):
            self.advance()
            self._depth += 1
            inner = self.expression()
            self.expect(")", "')' to close the '('")
            self._depth -= 1
            return inner
        if self.at("{"):
            return Selector(None, self.matchers())
        if token.kind == "identifier":
            name = token.text
            following = self.tokens[self.index + 1]
            if name in AGGREGATIONS and (following.text in ("(", "by", "without")):
                return self.aggregation()
            if following.text == "(" and following.kind == "operator":
                return self.call()
            if name in _KEYWORDS:
                self.fail(f"{name} is a keyword, not a metric name")
            self.advance()
            matchers = self.matchers() if self.at("{") else ()
            return Selector(name, matchers)
        return self.fail("expected an expression")

    def matchers(self) -> tuple[tuple[str, str, str], ...]:
        self.advance()
        found = []
        while not self.at("}"):
            if self.token.kind not in ("identifier", "string"):
                self.fail("expected a label name in {...}")
            label = self.advance().text
            if not self.at("=", "!=", "=~", "!~"):
                self.fail(f"expected =, !=, =~ or !~ after label {label}")
            operator = self.advance().text
            if self.token.kind != "string":
                self.fail(f"expected a quoted value for label {label}")
            found.append((label, operator, self.advance().text))
            if not self.at("}"):
                self.expect(",", "',' or '}'")
        self.advance()
        return tuple(found)

    def call(self) -> Node:
        name = self.advance().text
        if name not in RANGE_FUNCTIONS and name not in INSTANT_FUNCTIONS:
            self.fail(f"unknown function {name}")
        self.advance()
        args: list[Node] = []
        while not self.at(")"):
            args.append(self.expression())
            if not self.at(")"):
                self.expect(",", "',' or ')'")
        self.advance()
        wanted = _RANGE_ARGUMENT.get(name, 0)
        for position, arg in enumerate(args):
            kind = kind_of(arg)
            if name in RANGE_FUNCTIONS and position == wanted and kind != "matrix":
                self.fail(
                    f"{name}() needs a range vector such as x[5m] (got a {kind})", found=False
                )
            if kind == "matrix" and not (name in RANGE_FUNCTIONS and position == wanted):
                self.fail(f"{name}() does not take a range vector", found=False)
        if name in RANGE_FUNCTIONS and len(args) <= wanted:
            self.fail(f"{name}() needs a range vector argument", found=False)
        return Call(name, tuple(args))

    def aggregation(self) -> Node:
        operator = self.advance().text
        grouping: list[str] = []
        without = False
        if self.at("by", "without"):
            without = self.advance().text == "without"
            grouping = self.labels()
        self.expect("(", f"'(' after {operator}")
        param = None
        if operator in _PARAMETRIC:
            param = self.expression()
            self.expect(",", f"',' after the parameter of {operator}")
        expr = self.expression()
        self.expect(")", f"')' to close {operator}(")
        if self.at("by", "without"):
            if grouping:
                self.fail("by/without given twice")
            without = self.advance().text == "without"
            grouping = self.labels()
        if kind_of(expr) != "vector":
            self.fail(f"{operator}() needs an instant vector (got a {kind_of(expr)})", found=False)
        return Aggregation(operator, expr, tuple(grouping), without, param)


def kind_of(node: Node) -> Kind:
    """What a node evaluates to."""
    if isinstance(node, Number):
        return "scalar"
    if isinstance(node, String):
        return "string"
    if isinstance(node, Selector):
        return "matrix" if node.range is not None else "vector"
    if isinstance(node, Subquery):
        return "matrix"
    if isinstance(node, Unary):
        return kind_of(node.expr)
    if isinstance(node, Call):
        return "scalar" if node.function in _SCALAR_FUNCTIONS else "vector"
    if isinstance(node, Binary):
        kinds = {kind_of(node.left), kind_of(node.right)}
        return "vector" if "vector" in kinds else "scalar"
    return "vector"


def parse(query: str) -> Node:
    """The parse tree of ``query``; raise :class:`PromqlError` when Prometheus would refuse it."""
    parser = _Parser(tokenize(query))
    node = parser.expression()
    if parser.token.kind != "end":
        parser.fail("unexpected text after the expression")
    if kind_of(node) == "matrix":
        raise PromqlError("a rule expression must be an instant vector or a scalar", 0)
    if kind_of(node) == "string":
        raise PromqlError("a rule expression cannot be a string", 0)
    return node


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, parents first."""
    yield node
    children: Sequence[Node | None] = ()
    if isinstance(node, Call):
        children = node.args
    elif isinstance(node, Aggregation):
        children = (node.param, node.expr)
    elif isinstance(node, Binary):
        children = (node.left, node.right)
    elif isinstance(node, Unary | Subquery):
        children = (node.expr,)
    for child in children:
        if child is not None:
            yield from walk(child)


def excerpt(query: str, limit: int = 80) -> str:
    """``query`` on one line, cut to ``limit`` characters."""
    flat = " ".join(query.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- checking a rule file -------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleExpression:
    group: str
    index: int  # 1-based, as promtool counts
    name: str
    expr: str
    slo: str | None


def rule_expressions(text: str) -> list[RuleExpression]:
    """Every rule of a Prometheus rule file, with the ``slo`` label it carries."""
    document = yaml.safe_load(text) or {}
    found = []
    for group in document.get("groups") or []:
        for index, rule in enumerate(group.get("rules") or [], start=1):
            name = str(rule.get("record") or rule.get("alert") or "")
            slo = (rule.get("labels") or {}).get("slo")
            found.append(RuleExpression(str(group["name"]), index, name, str(rule["expr"]), slo))
    return found


_PROMTOOL_LINE = re.compile(r'group "(?P<group>[^"]*)", rule (?P<index>\d+), "[^"]*": (?P<why>.*)')


def _problem(rule: RuleExpression | None, why: str) -> str:
    if rule is None:
        return why
    owner = f"slo {rule.slo}" if rule.slo else f"group {rule.group}"
    return f"{owner}: {rule.name}: {why}: {excerpt(rule.expr)}"


def _run_promtool(binary: str, text: str) -> subprocess.CompletedProcess[str] | None:
    """``promtool check rules`` on ``text``; None when promtool cannot be run (use the parser)."""
    with tempfile.TemporaryDirectory(prefix="helpdesk-slo-check-") as directory:
        path = Path(directory) / "rules.yml"
        path.write_text(text, encoding="utf-8")
        try:
            return subprocess.run(
                [binary, "check", "rules", str(path)],
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None


def check_rule_file(text: str, promtool: str | None = None) -> list[str]:
    """One line per expression Prometheus would refuse (SLO, rule, reason, excerpt); [] if none.

    ``promtool``: its path (``shutil.which`` by default); ``""`` uses the parser of this module.
    """
    rules = rule_expressions(text)
    binary = shutil.which("promtool") if promtool is None else promtool
    result = _run_promtool(binary, text) if binary else None
    if result is None:
        problems = []
        for rule in rules:
            try:
                parse(rule.expr)
            except PromqlError as exc:
                problems.append(_problem(rule, f"{exc.message} at character {exc.position + 1}"))
        return problems
    by_place = {(rule.group, rule.index): rule for rule in rules}
    if result.returncode == 0:
        return []
    problems = []
    for line in (result.stdout + result.stderr).splitlines():
        match = _PROMTOOL_LINE.search(line)
        if match is not None:
            found = by_place.get((match["group"], int(match["index"])))
            problems.append(_problem(found, match["why"].strip()))
    return problems or [f"promtool check rules refused the rules: {excerpt(result.stdout, 300)}"]
