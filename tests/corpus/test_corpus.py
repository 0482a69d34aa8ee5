"""Bad inputs, arguments, files and outputs: one line and an exit code, never a traceback.

Each ``tests/corpus/*.case`` file is one bad thing to hand the command line.
Its header says how to run it and what must come out::

    # run: check --config config.yml        arguments after `python -m exporter`
    # exit: 2                                2 usage or config, 1 runtime
    # stderr: ^error: config\\.yml:1: .*empty  a regex the error line must match
    # file: config.yml = body                a file the case brings (see MAKERS)
    # stdout: full                           optional: full, closed or broken-pipe
    # env: NAME=value                        optional, repeatable
    # creates: pattern                       optional: files the command may leave (fnmatch)
    <the body: the text after the header, used by `= body`>

The command runs as a real process in a fresh directory (its working
directory, so paths are relative and messages name them as written).  In
``run``, ``stderr`` and the body, ``{port}`` is a free port, ``{busy_port}``
a port this test holds open and ``{pid}`` this test's process id; in ``run``
and the body, ``{repeat:C:N}`` is the character C written N times.

Every case asserts the exit code, the message, no ``Traceback`` in either
stream, a short stderr (at most :data:`MAX_STDERR_LINES` lines of at most
:data:`MAX_LINE` characters) and no file left behind but those declared.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import fnmatch
import os
import random
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from exporter.store import Store

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLES = REPO / "examples"
CASES = sorted(HERE.glob("*.case"))
#: Every case must end well within this (seconds); `serve` cases exit before listening.
TIMEOUT = 30
MAX_STDERR_LINES = 4
MAX_LINE = 500
_HEADER = re.compile(r"^# (run|exit|stderr|file|stdout|env|creates): ?(.*)$")


@dataclass
class Case:
    """One corpus file, parsed."""

    path: Path
    run: str = ""
    exit: int = -1
    stderr: str = ""
    files: list[tuple[str, str]] = field(default_factory=list)
    stdout: str = ""
    env: dict[str, str] = field(default_factory=dict)
    creates: list[str] = field(default_factory=list)
    body: str = ""


def parse_case(path: Path) -> Case:
    case = Case(path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 - the index is used after the loop
        match = _HEADER.match(line.rstrip("\n"))
        if match is None:
            break
        key, value = match[1], match[2].strip()
        if key == "exit":
            case.exit = int(value)
        elif key == "file":
            name, _, maker = value.partition("=")
            case.files.append((name.strip(), maker.strip()))
        elif key == "env":
            name, _, text = value.partition("=")
            case.env[name.strip()] = text
        elif key == "creates":
            case.creates.append(value)
        else:
            setattr(case, key, value)
    else:
        index = len(lines)
    case.body = "".join(lines[index:])
    return case


# --- the files a case can bring -----------------------------------------------------------------


@dataclass
class Context:
    directory: Path
    case: Case
    values: dict[str, str]
    #: resources held while the command runs (held locks, bound sockets)
    held: contextlib.ExitStack


_REPEAT = re.compile(r"\{repeat:(.):(\d+)\}")


def _fill(text: str, values: dict[str, str]) -> str:
    """Placeholders filled in; ``{repeat:C:N}`` is the character C, N times."""
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return _REPEAT.sub(lambda m: m[1] * int(m[2]), text)


def make_body(target: Path, ctx: Context, arg: str) -> None:
    target.write_text(_fill(ctx.case.body, ctx.values), encoding="utf-8")


def make_body_escaped(target: Path, ctx: Context, arg: str) -> None:
    """The body with Python byte escapes (\\xff, \\x00) turned into those bytes."""
    raw = _fill(ctx.case.body, ctx.values).encode("ascii")
    target.write_bytes(codecs.escape_decode(raw)[0])


def make_copy(source: Path) -> Callable[[Path, Context, str], None]:
    def make(target: Path, ctx: Context, arg: str) -> None:
        target.write_bytes(source.read_bytes())

    return make


def make_small_config(target: Path, ctx: Context, arg: str) -> None:
    """A valid config whose pack has nothing to warn about."""
    target.write_text(
        "source: {type: file, path: tickets.jsonl}\n"
        "slos: [{name: csat, kind: csat, objective: 99%}]\n"
    )


def make_dir(target: Path, ctx: Context, arg: str) -> None:
    target.mkdir()


def make_empty(target: Path, ctx: Context, arg: str) -> None:
    target.write_bytes(b"")


def make_comments(target: Path, ctx: Context, arg: str) -> None:
    """``arg`` bytes of comment lines: a file that is too large, however innocent."""
    size = int(arg)
    line = b"# " + b"x" * 61 + b"\n"
    target.write_bytes(line * (size // len(line) + 1))


def make_deep_flow(target: Path, ctx: Context, arg: str) -> None:
    depth = int(arg)
    target.write_text("source: {type: demo}\nlabels: " + "[" * depth + "]" * depth + "\n")


def make_deep_block(target: Path, ctx: Context, arg: str) -> None:
    depth = int(arg)
    lines = ["source: {type: demo}", "exporter:"]
    lines += [" " * (level + 1) + f"k{level}:" for level in range(depth)]
    target.write_text("\n".join(lines) + " 1\n")


def make_alias_bomb(target: Path, ctx: Context, arg: str) -> None:
    """Nine levels of nine aliases: under 1 KB of text standing for 9**9 dates."""
    lines = ["source: {type: demo}", "calendars:", "  office:", "    holidays:"]
    lines.append("      - &a0 [" + ", ".join(['"2026-12-25"'] * 9) + "]")
    lines += [f"      - &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)]
    target.write_text("\n".join(lines) + "\n")


def make_random(target: Path, ctx: Context, arg: str) -> None:
    target.write_bytes(random.Random(int(arg)).randbytes(8192))


def make_socket(target: Path, ctx: Context, arg: str) -> None:
    """A Unix socket file: there, but nothing to read."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(target))
    ctx.held.callback(server.close)


def make_fifo(target: Path, ctx: Context, arg: str) -> None:
    os.mkfifo(target)


def make_symlink_loop(target: Path, ctx: Context, arg: str) -> None:
    target.symlink_to(target.name)


def make_store_newer(target: Path, ctx: Context, arg: str) -> None:
    connection = sqlite3.connect(target)
    connection.execute("PRAGMA user_version = 99")
    connection.close()


def make_store_corrupt(target: Path, ctx: Context, arg: str) -> None:
    """A real store whose schema pages were overwritten (a disk that lied)."""
    Store(target, clock=lambda: 0.0).close()
    data = bytearray(target.read_bytes())
    data[100:4096] = random.Random(7).randbytes(4096 - 100)
    target.write_bytes(bytes(data))


def make_held_lock(target: Path, ctx: Context, arg: str) -> None:
    """A store lock held by this test's process, as a running exporter holds it."""
    fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
    ctx.held.callback(os.close, fd)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, f"{os.getpid()}\n".encode())


#: ``# file: NAME = MAKER [ARG]``
MAKERS: dict[str, Callable[[Path, Context, str], None]] = {
    "body": make_body,
    "body-escaped": make_body_escaped,
    "tickets": make_copy(EXAMPLES / "tickets.jsonl"),
    "example": make_copy(EXAMPLES / "file.yml"),
    "small": make_small_config,
    "dir": make_dir,
    "empty": make_empty,
    "comments": make_comments,
    "deep-flow": make_deep_flow,
    "deep-block": make_deep_block,
    "alias-bomb": make_alias_bomb,
    "random": make_random,
    "socket": make_socket,
    "fifo": make_fifo,
    "symlink-loop": make_symlink_loop,
    "store-newer": make_store_newer,
    "store-corrupt": make_store_corrupt,
    "held-lock": make_held_lock,
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def prepared(case: Case, directory: Path) -> Iterator[dict[str, str]]:
    """The case's files in ``directory``, and its placeholder values, while it runs."""
    with contextlib.ExitStack() as held:
        busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.callback(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        values = {
            "port": str(_free_port()),
            "busy_port": str(busy.getsockname()[1]),
            "pid": str(os.getpid()),
        }
        ctx = Context(directory, case, values, held)
        for name, spec in case.files:
            maker, _, arg = spec.partition(" ")
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            MAKERS[maker](target, ctx, arg.strip())
        yield values


@contextlib.contextmanager
def standard_output(kind: str) -> Iterator[int | None]:
    """What the command's stdout is: a pipe read here (default), /dev/full, closed or broken."""
    if kind == "":
        yield subprocess.PIPE
    elif kind == "full":
        with open("/dev/full", "wb") as full:
            yield full.fileno()
    elif kind == "broken-pipe":
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first write
        try:
            yield write_end
        finally:
            os.close(write_end)
    elif kind == "closed":
        yield None  # closed in the child, see _close_stdout
    else:
        raise AssertionError(f"unknown stdout kind {kind!r}")


def _close_stdout() -> None:
    os.close(1)


def _tree(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    #: the placeholder values the case ran with
    values: dict[str, str]


def run_case(case: Case, directory: Path) -> Outcome:
    with prepared(case, directory) as values:
        before = _tree(directory)
        argv = shlex.split(_fill(case.run, values))
        env = {**os.environ, **case.env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        if "HELPDESK_SLO_DEBUG" not in case.env:
            env.pop("HELPDESK_SLO_DEBUG", None)
        with standard_output(case.stdout) as stdout:
            completed = subprocess.run(
                [sys.executable, "-m", "exporter", *argv],
                cwd=directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
                timeout=TIMEOUT,
                preexec_fn=_close_stdout if case.stdout == "closed" else None,
            )
        after = _tree(directory)
    left = sorted(
        path
        for path in after - before
        if not any(fnmatch.fnmatch(path, pattern) for pattern in case.creates)
    )
    assert not left, f"left behind: {left}"
    return Outcome(
        completed.returncode,
        completed.stdout.decode("utf-8", "replace") if completed.stdout else "",
        completed.stderr.decode("utf-8", "replace"),
        values,
    )


# --- the corpus itself --------------------------------------------------------------------------


def test_the_corpus_has_a_case_per_bad_input() -> None:
    assert len(CASES) >= 60
    for path in CASES:
        case = parse_case(path)
        assert case.run and case.exit in (1, 2) and case.stderr, path.name
        for _, spec in case.files:
            assert spec.partition(" ")[0] in MAKERS, (path.name, spec)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_a_bad_input_gives_one_line_and_an_exit_code(path: Path, tmp_path: Path) -> None:
    case = parse_case(path)
    outcome = run_case(case, tmp_path)
    out, err = outcome.stdout, outcome.stderr
    context = f"exit {outcome.code}\nstdout: {out[:2000]}\nstderr: {err[:4000]}"
    assert "Traceback" not in out + err, context
    assert outcome.code == case.exit, context
    pattern = _fill(case.stderr, outcome.values)
    assert re.search(pattern, err, re.MULTILINE), f"{pattern!r} not in stderr\n{context}"
    lines = err.splitlines()
    assert len(lines) <= MAX_STDERR_LINES, context
    assert all(len(line) < MAX_LINE for line in lines), context
