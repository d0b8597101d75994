"""benchmarks/recognition.py: which writers it reads. Only synthetic pen digits here: the final writers' real
digits are read once, by the lead's final run, never by a test."""

from __future__ import annotations

from pathlib import Path

from hostile_files import small_mnist

from benchmarks import recognition
from trainer.pendigits import FINAL_WRITERS, HELDOUT_WRITERS


def synthetic_unipen(path: Path, writers: list[int]) -> Path:
    """A UNIPEN file of made-up digits (a slanted bar per digit), two per writer."""
    lines = []
    for i, writer in enumerate(w for w in writers for _ in range(2)):
        label = (i * 3) % 10
        lines += [f'.SEGMENT DIGIT {i} ? "{label}"', f".COMMENT {label} {writer} 3", ".PEN_DOWN",
                  f"{10 + i} 100", f"{20 + i} 50", f"{30 + i} 0", ".PEN_UP"]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def test_the_held_out_writers_are_read_unless_the_final_group_is_asked_for():
    assert recognition.parse_args([]).writers == HELDOUT_WRITERS
    assert recognition.parse_args(["--final-writers"]).writers == FINAL_WRITERS


def test_final_writers_reads_exactly_the_final_group(tmp_path):
    path = synthetic_unipen(tmp_path / "synthetic.tra", [1, FINAL_WRITERS[0], HELDOUT_WRITERS[0], FINAL_WRITERS[2], 3])
    final = recognition.heldout_drawings(path, 0, 0, FINAL_WRITERS)
    assert len(final) == 4  # two made-up digits of each of the two final writers in the file
    held = recognition.heldout_drawings(path, 0, 0, HELDOUT_WRITERS)
    assert len(held) == 2


def test_the_benchmark_runs_end_to_end_on_the_final_group_of_a_synthetic_file(tmp_path, capsys):
    path = synthetic_unipen(tmp_path / "synthetic.tra", [FINAL_WRITERS[1], 7])
    small_mnist(tmp_path / "mnist", n=20)
    argv = ["--final-writers", "--pendigits", str(path), "--data-dir", str(tmp_path / "mnist"), "--latency-runs", "3"]
    assert recognition.main(argv) == 0
    out = capsys.readouterr().out
    assert f"writers {', '.join(map(str, FINAL_WRITERS))}" in out and "held-out pen digits: 2 " in out
    assert "digitnet + penseq" in out  # the rows of the bundled combination are there too
