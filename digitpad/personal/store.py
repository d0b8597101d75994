"""The user's personal examples in an SQLite database (Python's sqlite3): strokes, labels and metadata.

The caller gives the path (the app passes a file in its per-user data location); this module
knows nothing of Qt. The database runs in write-ahead-log mode and every write is one
transaction, so killing the process at any moment loses at most the example being written.
A second process may use the same file: writers wait for each other (busy timeout) instead of
failing or corrupting it. A file that is not a readable database is moved aside, kept under a
name with a timestamp, and a fresh database is used; `Store.notice` then says so.

Schema (``PRAGMA user_version`` is its version; `MIGRATIONS` brings older files up to date)::

    examples(id INTEGER PRIMARY KEY, strokes TEXT, label INTEGER 0-9, predicted INTEGER NULL,
             model TEXT, created TEXT, kind TEXT)

``strokes`` is JSON ``[[[x, y], ...], ...]`` in paper units; ``created`` ISO 8601 UTC;
``kind`` an `ExampleKind` value.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from trainer.personal_examples import Example, ExampleKind

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 5.0  # how long a write waits for another process's write before giving up
# Each entry upgrades the schema from version i to i + 1, run in one transaction with the version bump.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE examples (
        id INTEGER PRIMARY KEY,
        strokes TEXT NOT NULL,
        label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
        predicted INTEGER CHECK (predicted IS NULL OR predicted BETWEEN 0 AND 9),
        model TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL,
        kind TEXT NOT NULL
    );
    CREATE INDEX examples_by_label ON examples (label);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
SIDE_FILES = ("-wal", "-shm")  # SQLite's companions of a WAL database, moved aside with it


class StoreError(Exception):
    """The database cannot be used (locked for too long, written by a newer digitpad, unwritable)."""


@dataclass(frozen=True)
class StoredExample:
    """One row: the example and how it came to be."""

    id: int
    example: Example
    predicted: int | None  # what the model said, when it said something
    model: str             # the name of the model that said it
    created: str           # ISO 8601, UTC
    kind: ExampleKind

    @property
    def label(self) -> int:
        return self.example.label


class Store:
    """Personal examples in one SQLite file. Thread-safe; close() it (or use it as a context manager)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.notice: str | None = None  # set when a damaged file was moved aside
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for {self.path}: {exc.strerror or exc}") from None
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            if _is_locked(exc):
                raise StoreError(f"{self.path} is locked by another program: {exc}") from None
            moved = self._move_aside()
            self.notice = (f"Your saved digits could not be read ({exc}); the file was kept as {moved.name} "
                           "and a new, empty collection was started.")
            log.warning(self.notice)
            self._conn = self._open()

    # ------------------------------------------------------------------ opening

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.DatabaseError("cannot switch to write-ahead logging")
            conn.execute("PRAGMA synchronous = NORMAL")  # in WAL mode: durable across a killed process
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("the database is damaged (quick_check failed)")
            self._migrate(conn)
            conn.execute("SELECT count(*) FROM examples").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(f"{self.path} was written by a newer digitpad (schema {version}; this one knows "
                             f"up to {SCHEMA_VERSION}); update digitpad to use it")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] < target:  # another process may have done it
                    for statement in MIGRATIONS[target - 1].split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {target}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _move_aside(self) -> Path:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        moved = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        try:
            os.replace(self.path, moved)
            for suffix in SIDE_FILES:
                side = Path(f"{self.path}{suffix}")
                if side.exists():
                    os.replace(side, Path(f"{moved}{suffix}"))
        except OSError as exc:
            raise StoreError(f"{self.path} is damaged and cannot be moved aside: {exc.strerror or exc}") from None
        return moved

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.path}: cannot write ({exc})") from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def add(self, example: Example, *, predicted: int | None = None, model: str = "",
            kind: ExampleKind = ExampleKind.CORRECTION, created: str | None = None) -> int:
        """Store one example; its id."""
        with self._transaction() as conn:
            return self._insert(conn, example, predicted, model, kind, created)

    def add_many(self, examples: Iterable[Example], *, kind: ExampleKind = ExampleKind.IMPORTED,
                 model: str = "") -> list[int]:
        """Store several examples in one transaction (all or none); their ids."""
        with self._transaction() as conn:
            return [self._insert(conn, ex, None, model, kind, None) for ex in examples]

    @staticmethod
    def _insert(conn, example: Example, predicted, model, kind: ExampleKind, created) -> int:
        cursor = conn.execute(
            "INSERT INTO examples (strokes, label, predicted, model, created, kind) VALUES (?, ?, ?, ?, ?, ?)",
            (json.dumps(example.strokes, separators=(",", ":")), example.label, predicted, model,
             created or datetime.now(timezone.utc).isoformat(timespec="seconds"), kind.value),
        )
        return int(cursor.lastrowid)

    def relabel(self, example_id: int, label: int) -> None:
        """Give a stored example another label; KeyError when there is no such example."""
        if not 0 <= int(label) <= 9:
            raise ValueError(f"label must be a digit 0-9, got {label!r}")
        with self._transaction() as conn:
            if conn.execute("UPDATE examples SET label = ? WHERE id = ?", (int(label), example_id)).rowcount == 0:
                raise KeyError(example_id)

    def delete(self, example_id: int) -> None:
        """Remove one example; KeyError when there is no such example."""
        with self._transaction() as conn:
            if conn.execute("DELETE FROM examples WHERE id = ?", (example_id,)).rowcount == 0:
                raise KeyError(example_id)

    def clear(self) -> int:
        """Remove every example; how many there were."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM examples").rowcount

    # ------------------------------------------------------------------ reading

    def count(self, label: int | None = None) -> int:
        with self._lock:
            if label is None:
                return self._conn.execute("SELECT count(*) FROM examples").fetchone()[0]
            return self._conn.execute("SELECT count(*) FROM examples WHERE label = ?", (label,)).fetchone()[0]

    def list(self, label: int | None = None) -> list[StoredExample]:
        """Stored examples, oldest first; only those of one digit when `label` is given."""
        query = "SELECT id, strokes, label, predicted, model, created, kind FROM examples"
        with self._lock:
            if label is None:
                rows = self._conn.execute(query + " ORDER BY id").fetchall()
            else:
                rows = self._conn.execute(query + " WHERE label = ? ORDER BY id", (label,)).fetchall()
        return [_row(row) for row in rows]

    def get(self, example_id: int) -> StoredExample:
        query = "SELECT id, strokes, label, predicted, model, created, kind FROM examples WHERE id = ?"
        with self._lock:
            row = self._conn.execute(query, (example_id,)).fetchone()
        if row is None:
            raise KeyError(example_id)
        return _row(row)

    def examples(self) -> list[Example]:
        """Every stored example, oldest first: what personalization learns from."""
        return [stored.example for stored in self.list()]


def _row(row: tuple) -> StoredExample:
    example_id, strokes, label, predicted, model, created, kind = row
    return StoredExample(example_id, Example.of(json.loads(strokes), label), predicted, model, created,
                         ExampleKind(kind))


def _is_locked(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
