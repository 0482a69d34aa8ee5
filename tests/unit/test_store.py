"""The SQLite store: schema and migrations, insert-once facts, epoch, one transaction, pruning.

Every counter is a function of the store (``Store.totals``): counted fact
rows (facts at or after the epoch) plus ``counter_bases``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from exporter import metrics as M
from exporter import store as store_module
from exporter.store import (
    ELAPSED_BUCKET,
    ELAPSED_SUM,
    CsatRow,
    PollBatch,
    SlaOutcomeRow,
    SlaStopRow,
    SloOutcomeRow,
    SolveRow,
    Store,
    StoreError,
    StoreInUse,
    TicketRow,
    TicketState,
    bucket_label,
)
from tests.e2e.process import ServeProcess, command, free_port

EPOCH = 1_000_000.0


def open_store(path: Path, now: float = EPOCH) -> Store:
    return Store(path / "state.db", clock=lambda: now)


def ticket(ticket_id: str, created_at: float, body: str = "{}") -> TicketRow:
    return TicketRow(ticket_id, body, body.encode()[:16] or b"-", created_at, "urgent", "email")


def batch(**facts: object) -> PollBatch:
    return PollBatch(
        source="file", cursor="c1", watermark=EPOCH + 500, polled_at=EPOCH + 500, **facts
    )  # type: ignore[arg-type]


# --- schema -------------------------------------------------------------------------------------


def test_new_store_has_schema_epoch_and_wal(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        assert store.schema_version == store_module.SCHEMA_VERSION == 2
        assert store.epoch == EPOCH
        assert store.integrity_check() == "ok"
    raw = sqlite3.connect(tmp_path / "state.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_reopening_keeps_the_epoch(tmp_path: Path) -> None:
    open_store(tmp_path, now=EPOCH).close()
    with open_store(tmp_path, now=EPOCH + 99_999) as store:
        assert store.epoch == EPOCH


def test_migrations_run_in_order_from_the_stored_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(tmp_path).close()

    def add_notes(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE notes (text TEXT)")

    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, add_notes))
    with open_store(tmp_path, now=EPOCH + 5) as store:
        assert store.schema_version == store_module.SCHEMA_VERSION + 1
        assert store.epoch == EPOCH  # a migration is not a new store
        assert store._db.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 0


def test_a_store_from_a_newer_exporter_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    raw = sqlite3.connect(tmp_path / "state.db")
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StoreError, match="schema version 99 was written by a newer exporter"):
        open_store(tmp_path)


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable helpdesk-slo store"):
        open_store(tmp_path)


# --- facts and counters -------------------------------------------------------------------------

FACTS = [
    # (fact, key it counts under, how much)
    (
        "slo outcome",
        {"slo_outcomes": [SloOutcomeRow("1", "urgent-reply", 0, "bad", EPOCH + 10)]},
        (M.SLO_EVENTS.name, ("urgent-reply", "bad")),
        1.0,
    ),
    (
        "sla outcome",
        {"sla_outcomes": [SlaOutcomeRow("1", "first_response", 0, "urgent", "met", EPOCH + 10)]},
        (M.SLA_OUTCOMES.name, ("first_response", "urgent", "met")),
        1.0,
    ),
    (
        "elapsed bucket of 1200s",
        {"sla_stops": [SlaStopRow("1", "resolution", 0, "high", 1200.0, EPOCH + 10)]},
        (ELAPSED_BUCKET, ("resolution", "high", "1800.0")),
        1.0,
    ),
    (
        "elapsed sum",
        {"sla_stops": [SlaStopRow("1", "resolution", 0, "high", 1200.0, EPOCH + 10)]},
        (ELAPSED_SUM, ("resolution", "high")),
        1200.0,
    ),
    (
        "first solve",
        {"solves": [SolveRow("1", "low", "web", EPOCH + 10)]},
        (M.TICKETS_SOLVED.name, ("low", "web")),
        1.0,
    ),
    (
        "first rating",
        {"csat": [CsatRow("1", "good", EPOCH + 10)]},
        (M.CSAT_RATINGS.name, ("good",)),
        1.0,
    ),
    (
        "ticket creation",
        {"tickets": [ticket("1", EPOCH + 10)]},
        (M.TICKETS_CREATED.name, ("urgent", "email")),
        1.0,
    ),
    (
        "plain increment",
        {"increments": {(M.API_REQUESTS.name, ("file", "200")): 3.0}},
        (M.API_REQUESTS.name, ("file", "200")),
        3.0,
    ),
]


@pytest.mark.parametrize(
    ("facts", "key", "amount"), [c[1:] for c in FACTS], ids=[c[0] for c in FACTS]
)
def test_a_fact_counts_once(
    tmp_path: Path, facts: dict[str, object], key: tuple[str, tuple[str, ...]], amount: float
) -> None:
    with open_store(tmp_path) as store:
        deltas = store.write_poll(batch(**facts))
        assert deltas.counters[key] == amount
        assert store.totals()[key] == store.recount()[key] == amount
        again = store.write_poll(batch(**facts))
        if "increments" not in facts:  # insert-once: the same fact adds nothing
            assert again.counters == {}
            assert store.totals()[key] == amount


EPOCH_EDGE = [
    ("before the epoch: history, not counted", EPOCH - 1, 0),
    ("at the epoch: counted", EPOCH, 1),
    ("after the epoch: counted", EPOCH + 1, 1),
]


@pytest.mark.parametrize(
    ("at", "counted"), [c[1:] for c in EPOCH_EDGE], ids=[c[0] for c in EPOCH_EDGE]
)
def test_facts_count_from_the_epoch(tmp_path: Path, at: float, counted: int) -> None:
    with open_store(tmp_path) as store:
        deltas = store.write_poll(
            batch(
                tickets=[ticket("1", at)],
                slo_outcomes=[SloOutcomeRow("1", "s", 0, "good", at)],
            )
        )
        assert store.totals().get((M.SLO_EVENTS.name, ("s", "good")), 0) == counted
        assert store.totals().get((M.TICKETS_CREATED.name, ("urgent", "email")), 0) == counted
        # an outcome decided before the epoch still counts in SLO windows
        assert list(store.decision_times("s", "good", 0.0)) == [at]
        assert [row.slo for row in deltas.slo_outcomes] == ["s"]


def test_a_decided_outcome_never_changes(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.write_poll(batch(slo_outcomes=[SloOutcomeRow("1", "s", 0, "bad", EPOCH + 5)]))
        store.write_poll(batch(slo_outcomes=[SloOutcomeRow("1", "s", 0, "good", EPOCH + 9)]))
        assert store.slo_outcomes("1") == [SloOutcomeRow("1", "s", 0, "bad", EPOCH + 5)]


BUCKETS = [
    ("300 is in le=300", 300.0, "300.0"),
    ("301 is in le=900", 301.0, "900.0"),
    ("beyond the last bound", 10**7, "+Inf"),
]


@pytest.mark.parametrize(("elapsed", "le"), [c[1:] for c in BUCKETS], ids=[c[0] for c in BUCKETS])
def test_bucket_label(elapsed: float, le: str) -> None:
    assert bucket_label(elapsed) == le


def test_bucket_counts_in_sql_match_python(tmp_path: Path) -> None:
    stops = [
        SlaStopRow(str(i), "resolution", 0, "low", elapsed, EPOCH + 1)
        for i, elapsed in enumerate([0.0, 300.0, 300.5, 3600.0, 345600.0, 345601.0])
    ]
    with open_store(tmp_path) as store:
        deltas = store.write_poll(batch(sla_stops=stops))
        totals = store.totals()
    buckets = {k: v for k, v in totals.items() if k[0] == ELAPSED_BUCKET}
    assert buckets == {k: v for k, v in deltas.counters.items() if k[0] == ELAPSED_BUCKET}
    assert buckets == {
        (ELAPSED_BUCKET, ("resolution", "low", "300.0")): 2,
        (ELAPSED_BUCKET, ("resolution", "low", "900.0")): 1,
        (ELAPSED_BUCKET, ("resolution", "low", "3600.0")): 1,
        (ELAPSED_BUCKET, ("resolution", "low", "345600.0")): 1,
        (ELAPSED_BUCKET, ("resolution", "low", "+Inf")): 1,
    }


# --- one transaction ----------------------------------------------------------------------------


def test_a_failing_poll_writes_nothing(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.write_poll(batch(tickets=[ticket("1", EPOCH + 1)]))
        before = store.totals()
        broken = PollBatch(
            source="file",
            cursor="c2",
            watermark=EPOCH + 900,
            polled_at=EPOCH + 900,
            slo_outcomes=[SloOutcomeRow("2", "s", 0, "good", EPOCH + 3)],
            # the second ticket has no body: the NOT NULL constraint fails mid-transaction
            tickets=[ticket("2", EPOCH + 2), TicketRow("3", None, b"-", EPOCH, "low", "")],  # type: ignore[arg-type]
        )
        with pytest.raises(sqlite3.IntegrityError):
            store.write_poll(broken)
        assert store.totals() == store.recount() == before
        assert store.ticket_count() == 1
        assert store.source_state("file").cursor == "c1"


def test_source_state_is_written_with_the_poll(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        assert store.source_state("file") == (None, None, None)
        store.write_poll(batch())
        assert store.source_state("file") == ("c1", EPOCH + 500, EPOCH + 500)
        assert store.source_state("zendesk") == (None, None, None)


def test_live_states_follow_the_tickets(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.write_poll(
            batch(tickets=[ticket("1", EPOCH)], states=[TicketState("1", '["live"]', None)])
        )
        assert list(store.live_states()) == [("1", '["live"]')]
        store.write_poll(batch(states=[TicketState("1", None, EPOCH + 7)]))
        assert list(store.live_states()) == []


# --- retention ----------------------------------------------------------------------------------


def _settled_ticket(store: Store, ticket_id: str, settled_at: float) -> None:
    store.write_poll(
        batch(
            tickets=[ticket(ticket_id, EPOCH + 1, body=f'{{"id": "{ticket_id}"}}')],
            states=[TicketState(ticket_id, None, settled_at)],
            slo_outcomes=[SloOutcomeRow(ticket_id, "s", 0, "good", EPOCH + 2)],
            sla_outcomes=[SlaOutcomeRow(ticket_id, "resolution", 0, "urgent", "met", EPOCH + 2)],
            sla_stops=[SlaStopRow(ticket_id, "resolution", 0, "urgent", 60.0, EPOCH + 2)],
            solves=[SolveRow(ticket_id, "urgent", "email", EPOCH + 2)],
            csat=[CsatRow(ticket_id, "bad", EPOCH + 3)],
        )
    )


def test_pruning_moves_counts_into_bases(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        _settled_ticket(store, "old", EPOCH + 3)
        _settled_ticket(store, "recent", EPOCH + 5000)
        store.write_poll(
            batch(tickets=[ticket("open", EPOCH + 4)], states=[TicketState("open", "[]", None)])
        )
        before = store.totals()
        deltas = store.write_poll(batch(prune_before=EPOCH + 100))
        assert deltas.pruned == 1 and deltas.counters == {}
        assert store.totals() == store.recount() == before
        assert store.ticket_count() == 2
        assert store.pruned_count() == 1
        assert store.digests(["old", "recent", "missing"]).keys() == {"old", "recent"}
        assert store.integrity_check() == "ok"


def test_a_pruned_ticket_coming_back_is_not_counted_again(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        _settled_ticket(store, "old", EPOCH + 3)
        store.write_poll(batch(prune_before=EPOCH + 100))
        before = store.totals()
        # it changed: same facts again, plus a new one
        store.write_poll(
            batch(
                tickets=[ticket("old", EPOCH + 1, body='{"id": "old", "tags": ["x"]}')],
                slo_outcomes=[
                    SloOutcomeRow("old", "s", 0, "good", EPOCH + 2),
                    SloOutcomeRow("old", "s", 1, "bad", EPOCH + 200),
                ],
                solves=[SolveRow("old", "urgent", "email", EPOCH + 2)],
            )
        )
        after = store.totals()
        assert after[(M.SLO_EVENTS.name, ("s", "bad"))] == 1
        assert {k: v for k, v in after.items() if k != (M.SLO_EVENTS.name, ("s", "bad"))} == before
        assert store.pruned_count() == 0
        # pruned a second time: still the same totals
        store.write_poll(batch(states=[TicketState("old", None, EPOCH + 300)]))
        store.write_poll(batch(prune_before=EPOCH + 1000))
        assert store.totals() == store.recount() == after


def test_counters_survive_reopening(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        _settled_ticket(store, "1", EPOCH + 3)
        store.add_counters({(M.POLL_ERRORS.name, ("file", "io")): 1.0})
        store.write_poll(batch(prune_before=EPOCH + 100))
        before = store.totals()
    with open_store(tmp_path, now=EPOCH + 10**6) as store:
        assert store.totals() == store.recount() == before
        assert before[(M.POLL_ERRORS.name, ("file", "io"))] == 1


# --- a path that cannot hold a store --------------------------------------------------------------


def _corrupt_store(path: Path) -> None:
    Store(path, clock=lambda: EPOCH).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = bytes(range(256)) * 15 + bytes(range(156))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("make", "store_name", "message"),
    [
        (lambda d: (d / "state.db").mkdir(), "state.db", "is a directory: `store:` names the "),
        (
            lambda d: (d / "parent").write_text("x"),
            "parent/state.db",
            "cannot create the directory {dir}/parent: a file is in the way",
        ),
        (
            lambda d: (d / "state.db").write_bytes(b"\x00garbage" * 512),
            "state.db",
            "not a usable helpdesk-slo store (file is not a database); point `store:` at a new",
        ),
        (
            lambda d: _corrupt_store(d / "state.db"),
            "state.db",
            "not a usable helpdesk-slo store (database disk image is",
        ),
        (
            lambda d: (d / "state.db").symlink_to("state.db"),
            "state.db",
            "cannot open it: unable to open database file",
        ),
    ],
    ids=["directory", "parent-is-a-file", "not-sqlite", "corrupt", "symlink-loop"],
)
def test_a_path_that_cannot_hold_a_store_is_one_clear_error(
    tmp_path: Path, make: Callable[[Path], object], store_name: str, message: str
) -> None:
    make(tmp_path)
    with pytest.raises(StoreError) as caught:
        Store(tmp_path / store_name, exclusive=True)
    text = str(caught.value)
    assert text.startswith(f"store {tmp_path / store_name}")
    assert message.format(dir=tmp_path) in text
    assert "\n" not in text
    assert not (tmp_path / (store_name + ".lock")).exists()  # no lock left behind


# --- one writer per store -----------------------------------------------------------------------


def test_a_second_writer_is_refused_with_the_owners_pid(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path, exclusive=True):
        assert (tmp_path / "state.db.lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(StoreInUse) as caught:
            Store(path, exclusive=True)
    assert str(caught.value).startswith(f"store {path} is in use by pid {os.getpid()} ")


def test_the_lock_is_released_and_removed_on_close(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path, exclusive=True).close()
    assert not (tmp_path / "state.db.lock").exists()
    Store(path, exclusive=True).close()


def test_a_lock_file_left_by_a_dead_exporter_does_not_block(tmp_path: Path) -> None:
    (tmp_path / "state.db.lock").write_text("999999\n")  # kill -9: the file stays, the lock not
    with Store(tmp_path / "state.db", exclusive=True):
        assert (tmp_path / "state.db.lock").read_text() == f"{os.getpid()}\n"


def test_a_reader_may_open_a_store_a_writer_holds(tmp_path: Path) -> None:
    # backfill reads the live exporter's epoch while it runs
    writer = Store(tmp_path / "state.db", clock=lambda: EPOCH, exclusive=True)
    with writer, Store(tmp_path / "state.db") as reader:
        assert reader.epoch == EPOCH


def test_two_serve_processes_on_one_store_the_second_exits_1(tmp_path: Path) -> None:
    tickets = Path(__file__).resolve().parents[2] / "examples" / "tickets.jsonl"
    config = tmp_path / "helpdesk-slo.yml"
    config.write_text(f"source: {{type: file, path: {tickets}}}\nstore: state.db\n")
    first = ServeProcess(tmp_path, config)
    try:
        first.wait_until("first serve up", lambda: first.get("/healthz")[0] == 200, timeout=30)
        port = free_port()
        second = subprocess.run(
            [
                *command(),
                "serve",
                "--config",
                str(config),
                "--web.listen-address",
                f"127.0.0.1:{port}",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert second.stderr == (
            f"error: store {tmp_path / 'state.db'} is in use by pid {first.process.pid} "
            f"(lock {tmp_path / 'state.db.lock'}): one exporter per store; stop that one, "
            "or give this one its own `store:`\n"
        )
        assert first.get("/healthz")[0] == 200  # the first one is untouched
    finally:
        first.stop()
    assert first.process.returncode == 0
    assert not (tmp_path / "state.db.lock").exists()
