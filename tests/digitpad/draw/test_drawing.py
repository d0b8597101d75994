"""The drawing without a screen: strokes, pictures and a history that stays bounded in a long session."""

from __future__ import annotations

import numpy as np

from digitpad.draw.drawing import MAX_HISTORY_PICTURES, MAX_UNDO, Drawing
from trainer.sizes import PAPER_SIZE


def stroke(drawing: Drawing, points) -> None:
    drawing.begin(*points[0])
    for p in points[1:]:
        drawing.extend(*p)
    drawing.end()


def test_a_stroke_is_kept_in_paper_units_and_clamped_to_the_paper():
    drawing = Drawing()
    stroke(drawing, [(-20, 50), (100, 120), (PAPER_SIZE + 30, 500)])
    [line] = drawing.strokes()
    np.testing.assert_array_equal(line, [[0, 50], [100, 120], [PAPER_SIZE, PAPER_SIZE]])
    assert drawing.can_undo() and not drawing.is_drawing()


def test_points_closer_than_the_step_add_nothing():
    drawing = Drawing()
    drawing.begin(10, 10)
    assert not drawing.extend(10.2, 10.2, min_step=1.0)
    assert drawing.extend(12, 10, min_step=1.0)
    assert len(drawing.current.points) == 2


def test_undo_redo_clear_and_a_picture():
    drawing = Drawing()
    stroke(drawing, [(10, 10), (50, 50)])
    stroke(drawing, [(60, 60), (90, 90)])
    assert drawing.clear() and drawing.is_empty()
    assert drawing.undo() and len(drawing.strokes()) == 2
    drawing.set_image("picture", "seven.png")
    assert drawing.strokes() == [] and drawing.image.source == "seven.png"
    stroke(drawing, [(5, 5), (8, 9)])  # drawing over the picture replaces it
    assert drawing.image is None
    assert drawing.undo() and drawing.undo() and drawing.image.source == "seven.png"
    assert drawing.undo() and len(drawing.strokes()) == 2 and drawing.image is None
    assert drawing.redo() and drawing.image.source == "seven.png"


def test_clear_with_only_a_stroke_in_progress_leaves_nothing_to_undo():
    drawing = Drawing()
    drawing.begin(10, 10)
    assert drawing.clear() and drawing.is_empty() and not drawing.can_undo()
    assert not drawing.clear()  # nothing there any more


def test_thousands_of_digits_with_clear_between_keep_a_bounded_history():
    drawing = Drawing()
    for i in range(3 * MAX_UNDO):
        stroke(drawing, [(10, 10), (20 + i % 50, 300)])
        drawing.clear()
    assert drawing.history_size() == (MAX_UNDO, 0)
    for _ in range(MAX_UNDO):
        assert drawing.undo()
    assert not drawing.undo()  # the oldest steps are gone


def test_the_history_keeps_only_a_few_pictures():
    drawing = Drawing()
    for i in range(20):
        drawing.set_image(f"picture {i}", f"{i}.png")
    assert drawing.image.source == "19.png"
    kept = []
    while drawing.undo():
        if drawing.image is not None:
            kept.append(drawing.image.source)
    assert kept == [f"{i}.png" for i in range(18, 18 - MAX_HISTORY_PICTURES, -1)]
