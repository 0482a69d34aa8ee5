"""Reading the YAML files people hand the exporter, within limits.

The config, the web config and imported SLO specs are read here.  A file is
refused with a message that says where, instead of a traceback, a minute of
work or gigabytes of memory, when it is:

* larger than :data:`MAX_FILE_BYTES` (checked before it is read),
* not UTF-8 text (the line of the first bad byte is named; a UTF-8 byte-order
  mark is fine, UTF-16 is recognised and named),
* nested deeper than :data:`MAX_DEPTH` collections (Python would run out of
  recursion long before the parser does),
* built with aliases that expand to more than :data:`MAX_ALIAS_NODES` values
  (a few lines of ``&a [*b, *b, ...]`` can stand for billions of values), or
  with an alias inside the collection it names (a cycle),
* holding a value its tag cannot stand for (``2026-13-45``, a 5000-digit
  number, ``!!float x``).

Syntax errors are raised as :class:`yaml.YAMLError` with their position, so
callers keep their own way of pointing at the line; :func:`yaml_error_text`
turns one into a single short line.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

#: The largest file read (1 MiB); the biggest real configs are a few kilobytes.
MAX_FILE_BYTES = 1024 * 1024
#: Collections inside collections; a config nests about six deep.
MAX_DEPTH = 50
#: Values reached through aliases, counted as if written out.
MAX_ALIAS_NODES = 10_000
#: The longest excerpt of a value or a message quoted back.
EXCERPT_CHARS = 60

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class TextFileError(Exception):
    """A file cannot be read as text; ``line`` is set when one line is to blame."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def shorten(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (an ellipsis marks the cut)."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


#: A quoted value in a message: a quote after a space or a bracket, up to the same quote.
_QUOTED = re.compile(
    r"""(?<![\w'"])(['"])([^'"\n]{""" + str(EXCERPT_CHARS + 1) + r""",}?)\1(?![\w'"])"""
)


def shorten_quotes(message: str) -> str:
    """``message`` with every quoted value longer than :data:`EXCERPT_CHARS` cut short."""
    return _QUOTED.sub(lambda m: m[1] + m[2][: EXCERPT_CHARS - 3] + "..." + m[1], message)


def read_text(path: Path, what: str = "the file") -> str:
    """The UTF-8 text of ``path``, at most :data:`MAX_FILE_BYTES` long.

    ``what`` names the file in messages (``config``, ``web config``).  Raises
    :class:`TextFileError`; the message does not repeat the path.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EISDIR:
            reason = "it is a directory, not a file"
        raise TextFileError(f"cannot read {what}: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise TextFileError(
            f"cannot read {what}: it is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB "
            f"({MAX_FILE_BYTES} bytes); is it the right file?"
        )
    if data.startswith(_UTF16_BOMS):
        raise TextFileError(f"cannot read {what}: it is UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TextFileError(
            f"cannot read {what}: not UTF-8 text (byte 0x{data[exc.start]:02x} on this line); "
            "save it as UTF-8",
            line,
        ) from None


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits on depth and on alias expansion."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._alias_nodes = 0
        self._open_anchors: set[str] = set()

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                raise ComposerError(
                    None,
                    None,
                    f"alias *{shorten(str(event.anchor))} is used inside the value it names "
                    "(a cycle); write the value out",
                    mark,
                )
            node = super().compose_node(parent, index)
            if node is not None:
                budget = MAX_ALIAS_NODES - self._alias_nodes
                self._alias_nodes += _expanded_size(node, budget, self._depth, mark)
            return node
        if self._depth >= MAX_DEPTH:
            raise ComposerError(
                None,
                None,
                f"nested more than {MAX_DEPTH} levels deep; check the brackets and the indentation",
                mark,
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            tag = str(node.tag).rsplit(":", 1)[-1]
            value = f" {shorten(str(node.value), 40)!r}" if isinstance(node.value, str) else ""
            article = "an" if tag[:1] in ("a", "e", "i", "o", "u") else "a"
            raise ConstructorError(
                None,
                None,
                f"cannot read{value} as {article} {tag}: {shorten(str(exc), 80)}",
                node.start_mark,
            ) from None


def _expanded_size(node: yaml.Node, budget: int, depth: int, mark: Any) -> int:
    """The number of values ``node`` stands for when written out; raise past the limits."""
    if depth >= MAX_DEPTH:
        raise ComposerError(
            None,
            None,
            f"through this alias, values are nested more than {MAX_DEPTH} levels deep",
            mark,
        )
    if budget < 1:
        raise ComposerError(
            None,
            None,
            f"the aliases in this file stand for more than {MAX_ALIAS_NODES} values "
            "(an alias bomb?); write the values out or share fewer",
            mark,
        )
    count = 1
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    for child in children:
        count += _expanded_size(child, budget - count, depth + 1, mark)
    return count


def load(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree and the value of a one-document YAML text, within the limits.

    Raises :class:`yaml.YAMLError` (with a position) for bad syntax, for text
    past the limits and for values that cannot be read.
    """
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


def load_all(text: str) -> list[Any]:
    """Every document of a YAML text, within the limits (see :func:`load`)."""
    loader = _BoundedLoader(text)
    documents = []
    try:
        while loader.check_node():
            node = loader.get_node()
            documents.append(loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()
    return documents


def yaml_error_text(exc: yaml.YAMLError, text: str) -> tuple[int | None, str]:
    """The line (1-based) and a one-line description of a YAML error in ``text``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or ""
    context = getattr(exc, "context", None)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        return line, f"character #x{exc.character:04x} is not allowed in YAML text"
    if context:
        problem = f"{context}, {problem}"
    if not problem:
        problem = "cannot parse"
    return (mark.line + 1 if mark is not None else None), shorten(problem, 200)
