"""The personal-examples database keeps what the user said, survives kills and damage, and shares with a second process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from digitpad.personal.store import SCHEMA_VERSION, Store, StoreError
from trainer.personal_examples import Example, ExampleKind

REPO_ROOT = Path(__file__).resolve().parents[3]


def stroke_example(label: int, wobble: float = 0.0) -> Example:
    return Example.of([[(100.0 + wobble, 80.0), (120.0, 300.0)], [(150.0, 150.0 + wobble)]], label)


def test_added_examples_come_back_with_their_metadata(tmp_path):
    with Store(tmp_path / "mine.sqlite") as store:
        first = store.add(stroke_example(4), predicted=5, model="digitnet", kind=ExampleKind.CORRECTION)
        store.add(stroke_example(7), predicted=7, model="digitnet", kind=ExampleKind.CONFIRMATION)
        rows = store.list()
        assert [r.label for r in rows] == [4, 7]
        assert rows[0].id == first and rows[0].predicted == 5 and rows[0].model == "digitnet"
        assert rows[0].kind is ExampleKind.CORRECTION and rows[1].kind is ExampleKind.CONFIRMATION
        assert rows[0].example == stroke_example(4)  # strokes kept as vectors, exactly
        assert rows[0].created.endswith("+00:00")
    with Store(tmp_path / "mine.sqlite") as again:  # and after reopening
        assert again.examples() == [stroke_example(4), stroke_example(7)]


def test_filter_relabel_delete_clear_count(tmp_path):
    with Store(tmp_path / "mine.sqlite") as store:
        ids = [store.add(stroke_example(label, wobble=i)) for i, label in enumerate([1, 1, 2, 3])]
        assert store.count() == 4 and store.count(1) == 2
        assert [r.id for r in store.list(label=1)] == ids[:2]
        store.relabel(ids[0], 9)
        assert store.get(ids[0]).label == 9 and store.count(1) == 1
        store.delete(ids[1])
        assert [r.id for r in store.list()] == [ids[0], ids[2], ids[3]]
        with pytest.raises(KeyError):
            store.delete(ids[1])
        with pytest.raises(ValueError):
            store.relabel(ids[0], 10)
        assert store.clear() == 3 and store.count() == 0


def test_schema_version_and_wal(tmp_path):
    path = tmp_path / "mine.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "mine.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer digitpad"):
        Store(path)
    assert path.exists() and not list(tmp_path.glob("*.damaged-*"))


def test_a_corrupt_file_is_moved_aside_and_a_fresh_one_used(tmp_path):
    path = tmp_path / "mine.sqlite"
    garbage = b"this is not a database " * 200
    path.write_bytes(garbage)
    with Store(path) as store:
        assert store.notice and "could not be read" in store.notice
        assert store.count() == 0
        store.add(stroke_example(3))
        assert store.count() == 1
    kept = list(tmp_path.glob("mine.sqlite.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == garbage  # the user's file is kept, untouched
    with Store(path) as again:
        assert again.notice is None and again.count() == 1


def test_a_damaged_page_is_moved_aside(tmp_path):
    path = tmp_path / "mine.sqlite"
    with Store(path) as store:
        store.add_many(stroke_example(i % 10, wobble=i) for i in range(300))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    data[4096 : 2 * 4096] = os.urandom(4096)  # scribble over the second page, header included
    path.write_bytes(bytes(data))
    with Store(path) as store:
        assert store.notice is not None and store.count() == 0
    assert len(list(tmp_path.glob("mine.sqlite.damaged-*"))) == 1


WRITER = textwrap.dedent(
    """
    import sys
    from trainer.personal_examples import Example
    from digitpad.personal.store import Store
    store = Store(sys.argv[1])
    tag = int(sys.argv[2])
    for i in range(int(sys.argv[3])):
        # big examples, so that a write takes long enough to be interrupted
        points = [(float(j % 400), float((j * 7 + i) % 400)) for j in range(5000)]
        store.add(Example.of([points], (i + tag) % 10), model=f"writer{tag}")
        print(i, flush=True)
    """
)


def start_writer(path: Path, tag: int, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(tag), str(count)], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_writer_killed_mid_write_loses_at_most_that_example(tmp_path):
    path = tmp_path / "mine.sqlite"
    proc = start_writer(path, 0, 100_000)
    committed = 0
    for _ in range(40):
        assert proc.stdout.readline(), "the writer process died"
        committed += 1
    time.sleep(0.013)  # land somewhere inside a later write
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read().split()
    proc.wait()
    proc.stdout.close()
    confirmed = committed + len(rest)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Store(path) as store:
        assert store.notice is None
        stored = store.list()
        assert confirmed <= len(stored) <= confirmed + 1  # every confirmed write is there; at most one more
        assert [s.label for s in stored] == [i % 10 for i in range(len(stored))]
        assert all(s.example.point_count == 5000 for s in stored)


@pytest.mark.slow
def test_two_processes_writing_at_once_keep_every_example(tmp_path):
    path = tmp_path / "mine.sqlite"
    Store(path).close()
    writers = [start_writer(path, tag, 30) for tag in (1, 2)]
    for proc in writers:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and len(out.split()) == 30
    with Store(path) as store:
        assert store.count() == 60
        assert sorted(s.model for s in store.list()) == ["writer1"] * 30 + ["writer2"] * 30
