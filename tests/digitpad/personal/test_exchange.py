"""Export files round-trip; import reports each bad line by number and refuses absurd files cheaply."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from trainer import personal_file as exchange
from trainer.personal_examples import MAX_POINTS, Example
from trainer.personal_file import ExchangeError, export_examples, import_examples

HEADER = json.dumps({"format": "digitpad-digits", "version": 1, "paper_size": 400.0})


def example(label: int) -> Example:
    return Example.of([[(10.0 * label, 20.0), (30.5, 300.25)], [(200.0, 100.0)]], label)


def line(label, strokes) -> str:
    return json.dumps({"label": label, "strokes": strokes})


def write(path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_export_then_import_gives_the_same_examples(tmp_path):
    path = tmp_path / "mine.jsonl"
    mine = [example(d) for d in range(10)]
    assert export_examples(path, mine) == 10
    header = json.loads(path.read_text().splitlines()[0])
    assert header == {"format": "digitpad-digits", "version": 1, "paper_size": 400.0}
    report = import_examples(path)
    assert report.examples == mine and report.problems == [] and report.bad_lines == 0


def test_bad_lines_are_reported_by_number_and_the_rest_imported(tmp_path):
    path = tmp_path / "class.jsonl"
    good = [[[1, 2], [3, 4]]]
    write(path, [
        HEADER,
        line(3, good),                                # 2 ok
        "{not json",                                  # 3
        line(12, good),                               # 4 label out of range
        line(True, good),                             # 5 a bool is not a label
        '{"label": 5, "strokes": [[[NaN, 1]]]}',      # 6
        line(5, [[[1, 2, 3]]]),                       # 7 not a point
        line(5, []),                                  # 8 no points
        "",                                           # blank: skipped
        '{"label": 6, "strokes": [[[1e999, 1]]]}',    # 10 infinite
        line(7, good),                                # 11 ok
        "[1, 2]",                                     # 12 not an object
    ])
    report = import_examples(path)
    assert [e.label for e in report.examples] == [3, 7]
    numbers = [p.split(":")[0] for p in report.problems]
    assert numbers == ["line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 10", "line 12"]
    assert "label 12 is not a digit" in report.problems[1]
    assert report.summary() == "2 examples read, 8 bad lines skipped"


@pytest.mark.parametrize("first, message", [
    ('{"format": "something-else", "version": 1}', "not a digitpad-digits export"),
    ('{"format": "digitpad-digits", "version": 2}', "newer digitpad"),
    ('{"format": "digitpad-digits", "version": "one"}', "invalid format version"),
    ("\x00\x01garbage", "not a digitpad-digits export"),
])
def test_a_file_that_is_not_ours_is_refused(tmp_path, first, message):
    path = tmp_path / "x.jsonl"
    write(path, [first, line(1, [[[1, 2]]])])
    with pytest.raises(ExchangeError, match=message):
        import_examples(path)


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(ExchangeError, match="empty file"):
        import_examples(tmp_path / "empty.jsonl")


def test_a_huge_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as f:  # 500 MB, sparse: costs no disk
        f.write((HEADER + "\n").encode())
        f.truncate(500 * 1024 * 1024)
    with pytest.raises(ExchangeError, match="too big"):
        import_examples(path)


def test_a_stream_longer_than_its_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(exchange, "MAX_FILE_BYTES", 4096)  # a pipe or a file growing while read
    path = tmp_path / "long.jsonl"
    write(path, [HEADER] + [line(1, [[[1, 2]]])] * 400)
    with open(path, "rb") as f, pytest.raises(ExchangeError, match="too big"):
        exchange.read_examples(f, "long.jsonl")


def test_a_stroke_of_a_million_points_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "points.jsonl"
    million = "[" + ",".join(["[1.5,2.5]"] * 1_000_000) + "]"  # about 10 MB on one line
    few = "[" + ",".join(["[1,2]"] * (MAX_POINTS + 1)) + "]"   # under the line cap, over the point cap
    write(path, [HEADER, '{"label": 1, "strokes": [' + million + "]}", '{"label": 2, "strokes": [' + few + "]}",
                 line(3, [[[1, 2]]])])
    del million
    tracemalloc.start()
    try:
        report = import_examples(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [e.label for e in report.examples] == [3]
    assert report.problems[0].startswith("line 2: longer than")
    assert report.problems[1].startswith("line 3: an example may hold at most")
    assert peak < 16 * 2**20  # never holds the 10 MB line, let alone a million parsed points (~150 MB)
