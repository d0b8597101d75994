"""The teaching panel asks for the next digit, takes the drawing, and hands over all 30 when done."""

from __future__ import annotations

from PySide6.QtCore import Qt

from digitpad.personal.teach import TeachSession
from digitpad.personal.teach_panel import TeachPanel


def test_thirty_drawings_then_finished(qtbot):
    drawings = [[[(10.0, 10.0), (20.0, 60.0)]]]
    panel = TeachPanel(TeachSession(seed=0), take_strokes=lambda: drawings[0])
    qtbot.addWidget(panel)
    panel.show()
    got = []
    panel.finished.connect(got.append)
    first = panel.session.current
    assert panel.prompt.text().startswith(f"Write a {first}") and not panel.undo_button.isEnabled()
    for i in range(30):
        assert panel.progress.value() == i
        qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    assert len(got) == 1 and [e.label for e in got[0]] == panel.session.prompts
    assert panel.prompt.text() == "Thank you!" and not panel.next_button.isEnabled()


def test_an_empty_paper_is_not_an_answer_and_undo_asks_again(qtbot):
    drawing: list = []
    panel = TeachPanel(TeachSession(seed=1), take_strokes=lambda: drawing)
    qtbot.addWidget(panel)
    first = panel.session.current
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    assert panel.session.progress == (0, 30) and f"Draw a {first}" in panel.note.text()
    drawing.append([(1.0, 2.0), (3.0, 40.0)])
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    assert panel.session.progress == (1, 30)
    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert panel.session.progress == (0, 30) and panel.session.current == first
