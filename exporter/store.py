"""SQLite state of the exporter: tickets, source cursor and watermark, decided facts, counters.

The store is what makes counters survive restarts.  Every ``*_total`` counter
is a deterministic function of it (:meth:`Store.recount`): the *counted* rows
of the insert-once fact tables plus the persisted ``counter_bases`` (what
pruned tickets contributed, and plain increments such as failed polls).  A
fact is counted when it happened at or after the store's ``epoch`` (its
creation time), so a new store starts every counter at 0 even though it loads
the source's history, and restarting on the same store gives the same values.
``counter_totals`` materialises that function: it is updated in the same
transaction as the rows it counts, so a restart reads one row per series
(:meth:`Store.totals`) instead of scanning a million facts.

Fact tables (one row per fact, never updated once written):

* ``slo_outcomes`` -- one good/bad event per SLO and clock cycle, with its
  decision time (also what the SLO windows count);
* ``sla_outcomes`` -- met/breached per SLA clock cycle;
* ``sla_stops`` -- business seconds elapsed when a clock first stopped (the
  elapsed histogram);
* ``solves``, ``csat`` -- a ticket's first solve and first rating;
* ``tickets`` -- also records the ticket's creation (priority and channel at
  first sight label the created counter).

``status_time`` holds, per ticket, what it has added to
``helpdesk_ticket_status_business_seconds_total`` (a
:class:`~exporter.status_time.StatusAccrual`); the additions themselves are
plain increments in ``counter_bases``, written in the same transaction.

Every poll is written by :meth:`Store.write_poll` in one transaction (tickets,
facts, cursor, watermark, pruning), so a ``kill -9`` at any point leaves either
the state before the poll or the state after it.

Retention: tickets settled (closed and fully decided) longer ago than the
longest SLO window plus a margin are pruned.  In the same transaction their
counted facts are added to ``counter_bases`` and a tombstone (``pruned``)
keeps their facts and digest, so a pruned ticket that shows up again is
neither counted twice nor re-processed when unchanged.

Schema changes go through :data:`MIGRATIONS`, indexed by ``PRAGMA user_version``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sqlite3
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from exporter import metrics

# the rows a poll writes are the engine's facts (re-exported for callers of the store)
from exporter.engine.facts import CsatRow as CsatRow
from exporter.engine.facts import SlaOutcomeRow as SlaOutcomeRow
from exporter.engine.facts import SlaStopRow as SlaStopRow
from exporter.engine.facts import SloOutcomeRow as SloOutcomeRow
from exporter.engine.facts import SolveRow as SolveRow
from exporter.status_time import StatusAccrual

#: (metric name, label values in the metric's label order)
CounterKey = tuple[str, tuple[str, ...]]

#: Internal counter names for the elapsed histogram: per-bucket (non-cumulative) counts
#: labelled (sla, priority, le) and the sum labelled (sla, priority).
ELAPSED_BUCKET = metrics.SLA_ELAPSED.name + "_bucket"
ELAPSED_SUM = metrics.SLA_ELAPSED.name + "_sum"
INF = "+Inf"

#: SQLite page cache (KiB): the indexes a poll touches stay in memory.
CACHE_KIB = 32 * 1024
#: WAL pages after which a commit copies the WAL into the database file by itself.
#: The poller checkpoints after each poll (:meth:`Store.checkpoint`), once the new
#: snapshot is out, so this is only a backstop that bounds the WAL (64 MiB at 4 KiB pages).
AUTOCHECKPOINT_PAGES = 16384
_IN_CHUNK = 500  # ids per "IN (...)" query, well under SQLite's variable limit


def bucket_label(elapsed: float) -> str:
    """The ``le`` of the first elapsed-histogram bucket that holds ``elapsed``."""
    for bound in metrics.ELAPSED_BUCKETS:
        if elapsed <= bound:
            return repr(bound)
    return INF


class StoreError(Exception):
    """The store file cannot be used (not a file, not a store, or written by a newer exporter)."""


class StoreInUse(StoreError):
    """Another process holds the store's lock (one writer per store)."""


class StoreLock:
    """An exclusive lock on ``<store>.lock``, next to the store, holding the owner's pid.

    ``flock`` locks belong to the open file, so the kernel releases them when
    the process ends in any way (``kill -9`` included): a lock file left behind
    by a dead exporter does not block the next one.  :meth:`release` removes
    the file; a process that locked a file removed meanwhile tries again, so
    two processes never both hold the lock.
    """

    def __init__(self, store: Path) -> None:
        self.path = store.with_name(store.name + ".lock")
        while True:
            fd = self._open(store)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise StoreInUse(
                    f"store {store} is in use by pid {owner} (lock {self.path}): one exporter "
                    "per store; stop that one, or give this one its own `store:`"
                ) from None
            except OSError as exc:
                os.close(fd)
                raise StoreError(
                    f"store {store}: cannot lock {self.path}: {exc.strerror or exc}"
                ) from None
            if self._still_there(fd):
                break
            os.close(fd)  # removed by the owner that just let go: lock the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd: int | None = fd

    def _open(self, store: Path) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"store {store}: cannot create its lock file {self.path}: {exc.strerror or exc}"
            ) from None

    def _still_there(self, fd: int) -> bool:
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return False
        opened = os.fstat(fd)
        return (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino)

    def release(self) -> None:
        """Give the lock up and remove the lock file."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._fd)
            self._fd = None


# --- rows ---------------------------------------------------------------------------------------


class TicketRow(NamedTuple):
    """A ticket as the poll last saw it.  ``priority``/``channel`` are used for the
    created counter only when the ticket is new (labels at first sight)."""

    id: str
    body: str
    digest: bytes
    created_at: float
    priority: str
    channel: str


class TicketState(NamedTuple):
    """Engine state of a ticket: ``live_state`` while open or undecided, else ``settled_at``."""

    ticket_id: str
    live_state: str | None
    settled_at: float | None


class SourceState(NamedTuple):
    cursor: str | None
    watermark: float | None
    last_success: float | None


@dataclass
class PollBatch:
    """Everything one successful poll writes, in one transaction."""

    source: str
    cursor: str | None
    watermark: float
    polled_at: float
    tickets: list[TicketRow] = field(default_factory=list)
    states: list[TicketState] = field(default_factory=list)
    slo_outcomes: list[SloOutcomeRow] = field(default_factory=list)
    sla_outcomes: list[SlaOutcomeRow] = field(default_factory=list)
    sla_stops: list[SlaStopRow] = field(default_factory=list)
    solves: list[SolveRow] = field(default_factory=list)
    csat: list[CsatRow] = field(default_factory=list)
    #: what tickets have now published into the status-time counters (their additions
    #: are in ``increments``)
    status: dict[str, StatusAccrual] = field(default_factory=dict)
    #: plain counter increments (e.g. API requests), added to ``counter_bases``
    increments: dict[CounterKey, float] = field(default_factory=dict)
    #: store metadata to set in the same transaction
    meta: dict[str, str] = field(default_factory=dict)
    #: prune tickets settled before this instant (None: no pruning this poll)
    prune_before: float | None = None
    prune_limit: int = 20000


@dataclass
class PollDeltas:
    """What a written poll changed: counter increments and SLO outcomes newly inserted."""

    counters: dict[CounterKey, float] = field(default_factory=dict)
    slo_outcomes: list[SloOutcomeRow] = field(default_factory=list)
    pruned: int = 0

    def add(self, key: CounterKey, value: float = 1.0) -> None:
        self.counters[key] = self.counters.get(key, 0.0) + value


# --- schema -------------------------------------------------------------------------------------

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE source_state (
    source TEXT PRIMARY KEY,
    cursor TEXT,
    watermark REAL,
    last_success REAL
) WITHOUT ROWID;
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    digest BLOB NOT NULL,
    created_at REAL NOT NULL,
    priority TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_counted INTEGER NOT NULL,
    settled_at REAL
);
CREATE INDEX tickets_settled ON tickets (settled_at) WHERE settled_at IS NOT NULL;
CREATE TABLE live_tickets (ticket_id TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE slo_outcomes (
    ticket_id TEXT NOT NULL,
    slo TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    result TEXT NOT NULL,
    decided_at REAL NOT NULL,
    counted INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, slo, cycle)
) WITHOUT ROWID;
CREATE INDEX slo_outcomes_window ON slo_outcomes (slo, result, decided_at, counted);
CREATE TABLE sla_outcomes (
    ticket_id TEXT NOT NULL,
    sla TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    priority TEXT NOT NULL,
    outcome TEXT NOT NULL,
    decided_at REAL NOT NULL,
    counted INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, sla, cycle)
) WITHOUT ROWID;
CREATE TABLE sla_stops (
    ticket_id TEXT NOT NULL,
    sla TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    priority TEXT NOT NULL,
    elapsed REAL NOT NULL,
    stopped_at REAL NOT NULL,
    counted INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, sla, cycle)
) WITHOUT ROWID;
CREATE TABLE solves (
    ticket_id TEXT PRIMARY KEY,
    priority TEXT NOT NULL,
    channel TEXT NOT NULL,
    solved_at REAL NOT NULL,
    counted INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE csat (
    ticket_id TEXT PRIMARY KEY,
    rating TEXT NOT NULL,
    rated_at REAL NOT NULL,
    counted INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE counter_bases (
    metric TEXT NOT NULL,
    labels TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (metric, labels)
) WITHOUT ROWID;
CREATE TABLE counter_totals (
    metric TEXT NOT NULL,
    labels TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (metric, labels)
) WITHOUT ROWID;
CREATE TABLE pruned (
    ticket_id TEXT PRIMARY KEY,
    digest BLOB NOT NULL,
    facts TEXT NOT NULL,
    pruned_at REAL NOT NULL
) WITHOUT ROWID;
"""


def _migrate_to_1(connection: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V1.split(";"):
        if statement.strip():
            connection.execute(statement)


#: one REAL column per status group, in the order of ``exporter.status_time.STATUS_GROUPS``
_SCHEMA_V2 = """
CREATE TABLE status_time (
    ticket_id TEXT PRIMARY KEY,
    priority TEXT NOT NULL,
    open REAL NOT NULL,
    pending REAL NOT NULL,
    on_hold REAL NOT NULL,
    reopened REAL NOT NULL,
    running TEXT,
    since REAL NOT NULL,
    recheck_at REAL
) WITHOUT ROWID;
CREATE INDEX status_time_live ON status_time (ticket_id)
    WHERE running IS NOT NULL OR recheck_at IS NOT NULL;
"""


def _migrate_to_2(connection: sqlite3.Connection) -> None:
    """Status time per ticket (``helpdesk_ticket_status_business_seconds_total``)."""
    for statement in _SCHEMA_V2.split(";"):
        if statement.strip():
            connection.execute(statement)


#: ``MIGRATIONS[n]`` takes a store from schema version ``n`` to ``n + 1``.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_to_1, _migrate_to_2)
SCHEMA_VERSION = len(MIGRATIONS)


def _labels_text(labels: Sequence[str]) -> str:
    return json.dumps(list(labels), separators=(",", ":"))


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


# --- the store ----------------------------------------------------------------------------------


def _check_store_path(path: Path) -> None:
    """Refuse, in words, a store path that cannot be a SQLite file; create missing directories."""
    if path.is_dir():
        raise StoreError(
            f"store {path} is a directory: `store:` names the SQLite file, "
            f"e.g. {path / 'helpdesk-slo-state.db'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            reason = "a file is in the way (a directory is needed there)"
        raise StoreError(
            f"store {path}: cannot create the directory {path.parent}: {reason}"
        ) from None
    if path.exists() and not path.is_file():
        raise StoreError(f"store {path} is not a regular file")


class Store:
    """One SQLite file (WAL mode) holding everything the exporter must not forget.

    ``clock`` gives the store's epoch when the file is created (counters count
    facts from then on) and the time of pruning.  The connection may be used
    from several threads; calls are serialised by a lock.
    """

    def __init__(
        self,
        path: str | Path,
        clock: Callable[[], float] = time.time,
        *,
        exclusive: bool = False,
    ) -> None:
        """Open (or create) the store at ``path``.

        ``exclusive``: take the store's lock first (:class:`StoreLock`), as the
        exporter that writes it must; a second one gets :class:`StoreInUse`.
        Raises :class:`StoreError` when the path cannot hold a store.
        """
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        self._file_lock: StoreLock | None = None
        in_memory = str(path) == ":memory:"
        if not in_memory:
            _check_store_path(self.path)
            if exclusive:
                self._file_lock = StoreLock(self.path)
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            self._release()
            raise StoreError(f"store {self.path}: cannot open it: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._db.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            self._migrate()
            self.epoch = float(self._meta("epoch") or 0.0)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            self._release()
            raise StoreError(
                f"store {self.path}: not a usable helpdesk-slo store ({exc}); "
                "point `store:` at a new file, or restore it from a backup"
            ) from None
        except BaseException:
            self._db.close()
            self._release()
            raise

    def _release(self) -> None:
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None

    # -- lifecycle --

    def _migrate(self) -> None:
        latest = len(MIGRATIONS)
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > latest:
            raise StoreError(
                f"{self.path}: schema version {version} was written by a newer exporter "
                f"(this one knows up to {latest}); upgrade the exporter or use a new store"
            )
        if version == latest:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for step in MIGRATIONS[version:]:
                step(self._db)
            if version == 0:
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('epoch', ?)", (repr(self._clock()),)
                )
            self._db.execute(f"PRAGMA user_version = {latest}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def checkpoint(self) -> None:
        """Copy committed WAL pages into the database file.

        ``PASSIVE``: it never waits for readers and never blocks writers; what it
        cannot copy now is copied by the next call.  Crash safety does not depend
        on it (a committed transaction is in the WAL either way).
        """
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def integrity_check(self) -> str:
        """SQLite's own consistency check: ``ok`` when the file is sound."""
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    # -- small reads --

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def meta(self, key: str) -> str | None:
        with self._lock:
            return self._meta(key)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def source_state(self, source: str) -> SourceState:
        with self._lock:
            row = self._db.execute(
                "SELECT cursor, watermark, last_success FROM source_state WHERE source = ?",
                (source,),
            ).fetchone()
        if row is None:
            return SourceState(None, None, None)
        return SourceState(row[0], row[1], row[2])

    def digests(self, ids: Sequence[str]) -> dict[str, bytes]:
        """Stored digests of these tickets, live or pruned (a missing id is new)."""
        found: dict[str, bytes] = {}
        with self._lock:
            for chunk in _chunks(ids):
                marks = _marks(len(chunk))
                for table, column in (("tickets", "id"), ("pruned", "ticket_id")):
                    query = f"SELECT {column}, digest FROM {table} WHERE {column} IN ({marks})"
                    for ticket_id, digest in self._db.execute(query, chunk):
                        found[ticket_id] = bytes(digest)
        return found

    def bodies(self, ids: Sequence[str]) -> dict[str, str]:
        """The stored JSON of these tickets (pruned ones have none)."""
        found: dict[str, str] = {}
        with self._lock:
            for chunk in _chunks(ids):
                query = f"SELECT id, body FROM tickets WHERE id IN ({_marks(len(chunk))})"
                found.update(self._db.execute(query, chunk).fetchall())
        return found

    def live_states(self) -> Iterator[tuple[str, str]]:
        """``(ticket id, engine state)`` of every live ticket, read in chunks."""
        with self._lock:
            rows = self._db.execute("SELECT ticket_id, state FROM live_tickets")
            while chunk := rows.fetchmany(5000):
                yield from chunk

    def ticket_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])

    def pruned_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM pruned").fetchone()[0])

    def decision_times(self, slo: str, result: str, since: float) -> array[float]:
        """Sorted decision times of one SLO's outcomes with this result, from ``since`` on."""
        with self._lock:
            rows = self._db.execute(
                "SELECT decided_at FROM slo_outcomes WHERE slo = ? AND result = ? "
                "AND decided_at >= ? ORDER BY decided_at",
                (slo, result, since),
            )
            return array("d", [row[0] for row in rows])

    def slo_outcomes(self, ticket_id: str) -> list[SloOutcomeRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT ticket_id, slo, cycle, result, decided_at FROM slo_outcomes "
                "WHERE ticket_id = ? ORDER BY slo, cycle",
                (ticket_id,),
            ).fetchall()
        return [SloOutcomeRow(*row) for row in rows]

    def status_accruals(self, ids: Sequence[str]) -> dict[str, StatusAccrual]:
        """What these tickets have published into the status-time counters, pruned ones
        included (a ticket without one has published nothing)."""
        found: dict[str, StatusAccrual] = {}
        wanted = sorted(set(ids))
        with self._lock:
            for row in self._existing(
                "SELECT * FROM status_time WHERE ticket_id IN ({marks})", wanted
            ):
                found[row[0]] = _status_accrual(row)
            if not found.keys() >= set(wanted):
                for ticket_id, facts in self._existing(
                    "SELECT ticket_id, facts FROM pruned WHERE ticket_id IN ({marks})",
                    [ticket_id for ticket_id in wanted if ticket_id not in found],
                ):
                    status = json.loads(facts).get("status")
                    if status:
                        found[ticket_id] = _status_accrual((ticket_id, *status))
        return found

    def running_status(self) -> Iterator[tuple[str, str, str | None, float | None]]:
        """``(ticket id, priority, running group, recheck_at)`` of every ticket still accruing
        status time or waiting for a known status change (read in chunks)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT ticket_id, priority, running, recheck_at FROM status_time "
                "WHERE running IS NOT NULL OR recheck_at IS NOT NULL"
            )
            while chunk := rows.fetchmany(5000):
                yield from chunk

    # -- counters --

    def totals(self) -> dict[CounterKey, float]:
        """Every counter, as kept in ``counter_totals``.

        ``counter_totals`` is written in the same transaction as the rows it
        counts, so it always equals :meth:`recount`; reading it costs one row
        per series instead of a scan of every fact.
        """
        with self._lock:
            rows = self._db.execute("SELECT metric, labels, value FROM counter_totals").fetchall()
        return {(metric, tuple(json.loads(labels))): float(value) for metric, labels, value in rows}

    def recount(self) -> dict[CounterKey, float]:
        """Every counter computed from scratch: counted fact rows plus ``counter_bases``."""
        totals: dict[CounterKey, float] = {}

        def add(metric: str, labels: tuple[str, ...], value: float) -> None:
            key = (metric, labels)
            totals[key] = totals.get(key, 0.0) + value

        elapsed_case = " ".join(
            f"WHEN elapsed <= {bound!r} THEN '{bound!r}'" for bound in metrics.ELAPSED_BUCKETS
        )
        queries: list[tuple[str, str]] = [
            (
                metrics.SLO_EVENTS.name,
                "SELECT slo, result, COUNT(*) FROM slo_outcomes WHERE counted = 1 "
                "GROUP BY slo, result",
            ),
            (
                metrics.SLA_OUTCOMES.name,
                "SELECT sla, priority, outcome, COUNT(*) FROM sla_outcomes WHERE counted = 1 "
                "GROUP BY sla, priority, outcome",
            ),
            (
                ELAPSED_BUCKET,
                f"SELECT sla, priority, CASE {elapsed_case} ELSE '{INF}' END AS le, COUNT(*) "
                "FROM sla_stops WHERE counted = 1 GROUP BY sla, priority, le",
            ),
            (
                ELAPSED_SUM,
                "SELECT sla, priority, SUM(elapsed) FROM sla_stops WHERE counted = 1 "
                "GROUP BY sla, priority",
            ),
            (
                metrics.TICKETS_CREATED.name,
                "SELECT priority, channel, COUNT(*) FROM tickets WHERE created_counted = 1 "
                "GROUP BY priority, channel",
            ),
            (
                metrics.TICKETS_SOLVED.name,
                "SELECT priority, channel, COUNT(*) FROM solves WHERE counted = 1 "
                "GROUP BY priority, channel",
            ),
            (
                metrics.CSAT_RATINGS.name,
                "SELECT rating, COUNT(*) FROM csat WHERE counted = 1 GROUP BY rating",
            ),
        ]
        with self._lock:
            for metric, query in queries:
                for *labels, value in self._db.execute(query):
                    add(metric, tuple(str(label) for label in labels), float(value))
            for metric, labels_text, value in self._db.execute(
                "SELECT metric, labels, value FROM counter_bases"
            ):
                add(metric, tuple(json.loads(labels_text)), float(value))
        return totals

    def add_counters(self, increments: Mapping[CounterKey, float]) -> None:
        """Add plain increments (e.g. a failed poll) in their own transaction."""
        if not increments:
            return
        with self._lock, self._transaction():
            self._add_to("counter_bases", increments)
            self._add_to("counter_totals", increments)

    def _add_to(self, table: str, increments: Mapping[CounterKey, float]) -> None:
        self._db.executemany(
            f"INSERT INTO {table} (metric, labels, value) VALUES (?, ?, ?) "
            "ON CONFLICT (metric, labels) DO UPDATE SET value = value + excluded.value",
            [
                (metric, _labels_text(labels), value)
                for (metric, labels), value in increments.items()
                if value
            ],
        )

    # -- the poll transaction --

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def write_poll(self, batch: PollBatch) -> PollDeltas:
        """Write one poll in one transaction; return what it added to the counters.

        Facts are insert-once: a fact already in the store (or in a pruned
        ticket's tombstone) is ignored and adds nothing.
        """
        deltas = PollDeltas()
        with self._lock, self._transaction():
            self._write_tickets(batch.tickets, deltas)
            self._write_states(batch.states)
            self._write_facts(batch, deltas)
            self._write_status(batch.status)
            self._add_to("counter_bases", batch.increments)
            for key, value in batch.increments.items():
                deltas.add(key, value)
            self._add_to("counter_totals", deltas.counters)
            self._db.execute(
                "INSERT INTO source_state (source, cursor, watermark, last_success) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
                "cursor = excluded.cursor, watermark = excluded.watermark, "
                "last_success = excluded.last_success",
                (batch.source, batch.cursor, batch.watermark, batch.polled_at),
            )
            self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(batch.meta.items()),
            )
            if batch.prune_before is not None:
                deltas.pruned = self._prune(batch.prune_before, batch.prune_limit)
        return deltas

    def _write_status(self, accruals: Mapping[str, StatusAccrual]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO status_time VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_status_row(ticket_id, accrual) for ticket_id, accrual in accruals.items()],
        )

    def _counted(self, at: float) -> int:
        return 1 if at >= self.epoch else 0

    def _existing(self, query: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """Rows of ``query`` (with one ``IN ({marks})``) for these ticket ids."""
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(ids):
            rows.extend(self._db.execute(query.format(marks=_marks(len(chunk))), chunk))
        return rows

    def _write_tickets(self, tickets: Iterable[TicketRow], deltas: PollDeltas) -> None:
        db = self._db
        rows = {row.id: row for row in tickets}
        if not rows:
            return
        ids = list(rows)
        known = {
            row[0] for row in self._existing("SELECT id FROM tickets WHERE id IN ({marks})", ids)
        }
        tombstones = dict(
            self._existing("SELECT ticket_id, facts FROM pruned WHERE ticket_id IN ({marks})", ids)
        )
        db.executemany(
            "UPDATE tickets SET body = ?, digest = ? WHERE id = ?",
            [(row.body, row.digest, row.id) for row in rows.values() if row.id in known],
        )
        inserts = []
        for row in rows.values():
            if row.id in known:
                continue
            if row.id in tombstones:
                self._restore(row, json.loads(tombstones[row.id]))
                continue
            counted = self._counted(row.created_at)
            inserts.append((*row, counted))
            if counted:
                deltas.add((metrics.TICKETS_CREATED.name, (row.priority, row.channel)))
        db.executemany(
            "INSERT INTO tickets (id, body, digest, created_at, priority, channel, "
            "created_counted) VALUES (?, ?, ?, ?, ?, ?, ?)",
            inserts,
        )

    def _restore(self, row: TicketRow, facts: dict[str, Any]) -> None:
        """A pruned ticket came back: its facts return as rows already counted in the bases."""
        db = self._db
        priority, channel, created_at = facts["created"]
        db.execute(
            "INSERT INTO tickets (id, body, digest, created_at, priority, channel, "
            "created_counted) VALUES (?, ?, ?, ?, ?, ?, 0)",
            (row.id, row.body, row.digest, created_at, priority, channel),
        )
        db.executemany(
            "INSERT OR IGNORE INTO slo_outcomes VALUES (?, ?, ?, ?, ?, 0)",
            [(row.id, *fact) for fact in facts["slo"]],
        )
        db.executemany(
            "INSERT OR IGNORE INTO sla_outcomes VALUES (?, ?, ?, ?, ?, ?, 0)",
            [(row.id, *fact) for fact in facts["sla"]],
        )
        db.executemany(
            "INSERT OR IGNORE INTO sla_stops VALUES (?, ?, ?, ?, ?, ?, 0)",
            [(row.id, *fact) for fact in facts["stops"]],
        )
        if facts["solve"]:
            db.execute(
                "INSERT OR IGNORE INTO solves VALUES (?, ?, ?, ?, 0)", (row.id, *facts["solve"])
            )
        if facts["csat"]:
            db.execute("INSERT OR IGNORE INTO csat VALUES (?, ?, ?, 0)", (row.id, *facts["csat"]))
        if facts.get("status"):  # tombstones of older versions have none
            db.execute(
                "INSERT OR REPLACE INTO status_time VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row.id, *facts["status"]),
            )
        db.execute("DELETE FROM pruned WHERE ticket_id = ?", (row.id,))

    def _write_states(self, states: Iterable[TicketState]) -> None:
        live: dict[str, str] = {}
        settled: dict[str, float | None] = {}
        for state in states:  # the last state of a ticket wins
            if state.live_state is not None:
                live[state.ticket_id] = state.live_state
                settled.pop(state.ticket_id, None)
            else:
                settled[state.ticket_id] = state.settled_at
                live.pop(state.ticket_id, None)
        db = self._db
        db.executemany(
            "INSERT INTO live_tickets (ticket_id, state) VALUES (?, ?) "
            "ON CONFLICT (ticket_id) DO UPDATE SET state = excluded.state",
            live.items(),
        )
        db.executemany(
            "UPDATE tickets SET settled_at = NULL WHERE id = ? AND settled_at IS NOT NULL",
            [(ticket_id,) for ticket_id in live],
        )
        db.executemany("DELETE FROM live_tickets WHERE ticket_id = ?", [(i,) for i in settled])
        db.executemany(
            "UPDATE tickets SET settled_at = ? WHERE id = ?",
            [(at, ticket_id) for ticket_id, at in settled.items()],
        )

    def _new_facts(
        self, table: str, key_columns: str, rows: Sequence[Any], width: int
    ) -> list[Any]:
        """The rows whose key (their first ``width`` fields) is not stored yet, once each."""
        if not rows:
            return []
        ids = sorted({row[0] for row in rows})
        seen = {
            tuple(key)
            for key in self._existing(
                f"SELECT {key_columns} FROM {table} WHERE ticket_id IN ({{marks}})", ids
            )
        }
        fresh = []
        for row in rows:
            key = tuple(row[:width])
            if key not in seen:
                seen.add(key)
                fresh.append(row)
        return fresh

    def _write_facts(self, batch: PollBatch, deltas: PollDeltas) -> None:
        db = self._db
        counted = self._counted
        key = "ticket_id, slo, cycle"
        slo_rows = self._new_facts("slo_outcomes", key, batch.slo_outcomes, 3)
        db.executemany(
            "INSERT INTO slo_outcomes VALUES (?, ?, ?, ?, ?, ?)",
            [(*row, counted(row.decided_at)) for row in slo_rows],
        )
        deltas.slo_outcomes.extend(slo_rows)
        for row in slo_rows:
            if counted(row.decided_at):
                deltas.add((metrics.SLO_EVENTS.name, (row.slo, row.result)))
        key = "ticket_id, sla, cycle"
        sla_rows = self._new_facts("sla_outcomes", key, batch.sla_outcomes, 3)
        db.executemany(
            "INSERT INTO sla_outcomes VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row, counted(row.decided_at)) for row in sla_rows],
        )
        for row in sla_rows:
            if counted(row.decided_at):
                deltas.add((metrics.SLA_OUTCOMES.name, (row.sla, row.priority, row.outcome)))
        stops = self._new_facts("sla_stops", key, batch.sla_stops, 3)
        db.executemany(
            "INSERT INTO sla_stops VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row, counted(row.stopped_at)) for row in stops],
        )
        for row in stops:
            if counted(row.stopped_at):
                labels = (row.sla, row.priority)
                deltas.add((ELAPSED_BUCKET, (*labels, bucket_label(row.elapsed))))
                deltas.add((ELAPSED_SUM, labels), row.elapsed)
        solves = self._new_facts("solves", "ticket_id", batch.solves, 1)
        db.executemany(
            "INSERT INTO solves VALUES (?, ?, ?, ?, ?)",
            [(*row, counted(row.solved_at)) for row in solves],
        )
        for row in solves:
            if counted(row.solved_at):
                deltas.add((metrics.TICKETS_SOLVED.name, (row.priority, row.channel)))
        ratings = self._new_facts("csat", "ticket_id", batch.csat, 1)
        db.executemany(
            "INSERT INTO csat VALUES (?, ?, ?, ?)",
            [(*row, counted(row.rated_at)) for row in ratings],
        )
        for row in ratings:
            if counted(row.rated_at):
                deltas.add((metrics.CSAT_RATINGS.name, (row.rating,)))

    # -- retention --

    def _prune(self, before: float, limit: int) -> int:
        """Move settled tickets older than ``before`` into bases and tombstones."""
        db = self._db
        ids = [
            row[0]
            for row in db.execute(
                "SELECT id FROM tickets WHERE settled_at IS NOT NULL AND settled_at < ? LIMIT ?",
                (before, limit),
            )
        ]
        if not ids:
            return 0
        bases: dict[CounterKey, float] = {}

        def base(metric: str, labels: tuple[str, ...], value: float = 1.0) -> None:
            bases[(metric, labels)] = bases.get((metric, labels), 0.0) + value

        now = self._clock()
        for chunk in _chunks(ids):
            marks = _marks(len(chunk))
            facts: dict[str, dict[str, Any]] = {}
            digests: dict[str, bytes] = {}
            for ticket_id, digest, created_at, priority, channel, counted in db.execute(
                "SELECT id, digest, created_at, priority, channel, created_counted FROM tickets "
                f"WHERE id IN ({marks})",
                chunk,
            ):
                digests[ticket_id] = bytes(digest)
                facts[ticket_id] = {
                    "created": [priority, channel, created_at],
                    "slo": [],
                    "sla": [],
                    "stops": [],
                    "solve": None,
                    "csat": None,
                    "status": None,
                }
                if counted:
                    base(metrics.TICKETS_CREATED.name, (priority, channel))
            for ticket_id, slo, cycle, result, decided_at, counted in db.execute(
                f"SELECT * FROM slo_outcomes WHERE ticket_id IN ({marks})", chunk
            ):
                facts[ticket_id]["slo"].append([slo, cycle, result, decided_at])
                if counted:
                    base(metrics.SLO_EVENTS.name, (slo, result))
            for ticket_id, sla, cycle, priority, outcome, decided_at, counted in db.execute(
                f"SELECT * FROM sla_outcomes WHERE ticket_id IN ({marks})", chunk
            ):
                facts[ticket_id]["sla"].append([sla, cycle, priority, outcome, decided_at])
                if counted:
                    base(metrics.SLA_OUTCOMES.name, (sla, priority, outcome))
            for ticket_id, sla, cycle, priority, elapsed, stopped_at, counted in db.execute(
                f"SELECT * FROM sla_stops WHERE ticket_id IN ({marks})", chunk
            ):
                facts[ticket_id]["stops"].append([sla, cycle, priority, elapsed, stopped_at])
                if counted:
                    base(ELAPSED_BUCKET, (sla, priority, bucket_label(elapsed)))
                    base(ELAPSED_SUM, (sla, priority), elapsed)
            for ticket_id, priority, channel, solved_at, counted in db.execute(
                f"SELECT * FROM solves WHERE ticket_id IN ({marks})", chunk
            ):
                facts[ticket_id]["solve"] = [priority, channel, solved_at]
                if counted:
                    base(metrics.TICKETS_SOLVED.name, (priority, channel))
            for ticket_id, rating, rated_at, counted in db.execute(
                f"SELECT * FROM csat WHERE ticket_id IN ({marks})", chunk
            ):
                facts[ticket_id]["csat"] = [rating, rated_at]
                if counted:
                    base(metrics.CSAT_RATINGS.name, (rating,))
            # a settled ticket's status time is done: it waits in the tombstone in case the
            # ticket comes back (one still accruing, which a settled one should not be, stays)
            for ticket_id, *status in db.execute(
                f"SELECT * FROM status_time WHERE ticket_id IN ({marks}) "
                "AND running IS NULL AND recheck_at IS NULL",
                chunk,
            ):
                facts[ticket_id]["status"] = status
            db.executemany(
                "INSERT OR REPLACE INTO pruned (ticket_id, digest, facts, pruned_at) "
                "VALUES (?, ?, ?, ?)",
                [
                    (ticket_id, digests[ticket_id], json.dumps(fact, separators=(",", ":")), now)
                    for ticket_id, fact in facts.items()
                ],
            )
            for table, column in (
                ("slo_outcomes", "ticket_id"),
                ("sla_outcomes", "ticket_id"),
                ("sla_stops", "ticket_id"),
                ("solves", "ticket_id"),
                ("csat", "ticket_id"),
                ("live_tickets", "ticket_id"),
                ("tickets", "id"),
            ):
                db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)
            db.execute(
                f"DELETE FROM status_time WHERE ticket_id IN ({marks}) "
                "AND running IS NULL AND recheck_at IS NULL",
                chunk,
            )
        self._add_to("counter_bases", bases)
        return len(ids)


def _status_row(ticket_id: str, accrual: StatusAccrual) -> tuple[Any, ...]:
    """The ``status_time`` row of an accrual (one column per group, in STATUS_GROUPS order)."""
    return (
        ticket_id,
        accrual.priority,
        *accrual.seconds,
        accrual.running,
        accrual.since,
        accrual.recheck_at,
    )


def _status_accrual(row: Sequence[Any]) -> StatusAccrual:
    _, priority, open_, pending, on_hold, reopened, running, since, recheck_at = row
    return StatusAccrual(priority, (open_, pending, on_hold, reopened), running, since, recheck_at)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
