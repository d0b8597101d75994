"""Numbers in pictures: connected components grouped by recognition, and `digitpad predict --number`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitpad.numbers.compose import compose_number
from digitpad.numbers.images import label_components
from digitpad.predict_cli import run_predict
from digitpad.recognizer import Recognizer, bundled_model_path
from trainer.errors import NothingDrawnError

PEN = 12           # pixels: the pen the test draws its pictures with


@pytest.fixture(scope="module")
def rec():
    if not bundled_model_path().is_file():
        pytest.skip("the bundled model is missing")
    return Recognizer.load(device="cpu")


@pytest.fixture(scope="module")
def number_png(pendigits_path, tmp_path_factory):
    """A PNG of "2026" written by a held-out writer: dark ink on white, 1200 x 400 pixels."""
    from trainer.pendigits import load_pendigits, split_by_writer

    heldout = split_by_writer(load_pendigits(pendigits_path))[1]
    digits = [next(d for d in heldout if d.writer == 14 and d.label == k) for k in (2, 0, 2, 6)]
    number = compose_number(digits, np.random.default_rng(2))
    img = Image.new("L", (1200, 400), 255)
    draw = ImageDraw.Draw(img)
    for stroke in number.strokes:
        draw.line([tuple(p) for p in stroke.tolist()], fill=0, width=PEN, joint="curve")
    path = tmp_path_factory.mktemp("pictures") / "year.png"
    img.save(path)
    return path


def test_a_picture_of_a_number_reads_the_number(rec, number_png):
    reading = rec.predict_image_number(number_png)
    assert reading.text == "2026"
    assert reading.groups == [[0], [1], [2], [3]]          # one component per digit, left to right
    lefts = [box[0] for box in reading.boxes]
    assert lefts == sorted(lefts)


def test_light_ink_on_dark_reads_the_same(rec, number_png):
    inverted = 255 - np.asarray(Image.open(number_png).convert("L"))
    assert rec.predict_image_number(inverted).text == "2026"


def test_a_blank_picture_raises_nothing_drawn_error(rec):
    with pytest.raises(NothingDrawnError):
        rec.predict_image_number(np.full((100, 300), 255, dtype=np.uint8))


def test_components_join_diagonal_neighbours_and_keep_apart_the_rest():
    mask = np.zeros((6, 8), dtype=bool)
    mask[0, 0] = mask[1, 1] = mask[2, 2] = True      # a diagonal line: one component
    mask[0:3, 5:7] = True                            # a block
    mask[5, 0:8] = True                              # a bar along the bottom
    labels, count = label_components(mask)
    assert count == 3
    assert len({labels[0, 0], labels[1, 1], labels[2, 2]}) == 1
    assert labels[0, 5] != labels[0, 0] and labels[5, 3] not in (labels[0, 0], labels[0, 5])
    assert (labels > 0).sum() == mask.sum()


def test_predict_number_prints_the_number(number_png, capsys):
    assert run_predict([str(number_png), "--number", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{number_png}: 2026 (") and err == ""


def test_predict_number_json_is_valid_and_lists_the_digits(number_png, capsys):
    assert run_predict([str(number_png), "--number", "--json", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["number"] == "2026"
    assert [d["digit"] for d in result["digits"]] == [2, 0, 2, 6]
    assert all(len(d["probabilities"]) == 10 and len(d["box"]) == 4 for d in result["digits"])


def test_predict_number_reports_a_blank_file_and_goes_on(number_png, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 100), 255).save(blank)
    assert run_predict([str(blank), str(number_png), "--number", "--device", "cpu"]) == 1
    out, err = capsys.readouterr()
    assert out.strip().startswith(f"{number_png}: 2026") and "blank.png" in err and err.count("\n") == 1


TOUCHING_PICTURES = 12     # pictures of two held-out digits whose ink touches (one connected component)
TOUCHING_FLOOR = 0.25      # of those read exactly (training writers' pictures: 38% of 40; uncut: none)


def test_two_digits_whose_ink_touches_are_cut_apart(rec, pendigits_path):
    from digitpad.numbers.compose import by_writer
    from digitpad.numbers.images import ink_components
    from trainer.pendigits import load_pendigits, split_by_writer

    writers = by_writer(split_by_writer(load_pendigits(pendigits_path))[1])
    rng = np.random.default_rng(5)
    right = []
    while len(right) < TOUCHING_PICTURES:
        own = writers[sorted(writers)[rng.integers(len(writers))]]
        number = compose_number([own[i] for i in rng.integers(len(own), size=2)], rng, gaps=(-0.06, -0.01))
        img = Image.new("L", (1200, 400), 255)
        draw = ImageDraw.Draw(img)
        for stroke in number.strokes:
            draw.line([tuple(p) for p in stroke.tolist()], fill=0, width=PEN, joint="curve")
        picture = np.asarray(img)
        if len(ink_components(picture)[2]) != 1:
            continue                               # the ink does not touch: not what this test is about
        right.append(rec.predict_image_number(picture).text == number.text)
    assert np.mean(right) >= TOUCHING_FLOOR
