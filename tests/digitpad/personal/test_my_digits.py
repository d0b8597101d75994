"""The My digits dialog shows the stored examples and changes them only as the user asks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from digitpad.personal.my_digits import MyDigitsDialog
from digitpad.personal.store import Store
from trainer.personal_examples import Example, ExampleKind
from trainer.personal_file import export_examples


def example(label: int, shift: float = 0.0) -> Example:
    return Example.of([[(150.0 + shift, 60.0), (250.0, 60.0), (170.0 + shift, 340.0)]], label)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "mine.sqlite") as s:
        for i, label in enumerate([7, 7, 1, 4]):
            s.add(example(label, i), predicted=(label + 1) % 10, model="digitnet", kind=ExampleKind.CORRECTION)
        yield s


def open_dialog(qtbot, store, **kwargs) -> MyDigitsDialog:
    dialog = MyDigitsDialog(store, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def labels_shown(dialog) -> list[str]:
    return [dialog.grid.item(i).text() for i in range(dialog.grid.count())]


def select(dialog, rows) -> None:
    dialog.grid.clearSelection()
    for row in rows:
        dialog.grid.item(row).setSelected(True)


def test_shows_every_stored_digit_as_a_28x28_rendering_with_its_label(qtbot, store):
    dialog = open_dialog(qtbot, store)
    assert labels_shown(dialog) == ["7", "7", "1", "4"]
    assert not dialog.grid.item(0).icon().isNull()
    assert "the model said 8" in dialog.grid.item(0).toolTip()
    assert dialog.count_label.text() == "4 digits"
    assert not dialog.delete_button.isEnabled()  # nothing selected yet


def test_filter_by_digit(qtbot, store):
    dialog = open_dialog(qtbot, store)
    dialog.filter_box.setCurrentIndex(1 + 7)
    assert labels_shown(dialog) == ["7", "7"] and dialog.count_label.text() == "2 shown of 4"


def test_relabel_and_delete_the_selection(qtbot, store):
    dialog = open_dialog(qtbot, store)
    changes = []
    dialog.changed.connect(lambda: changes.append(1))
    select(dialog, [2])
    qtbot.mouseClick(dialog.relabel_buttons[9], Qt.MouseButton.LeftButton)
    assert [s.label for s in store.list()] == [7, 7, 9, 4] and labels_shown(dialog) == ["7", "7", "9", "4"]
    select(dialog, [0, 3])
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert [s.label for s in store.list()] == [7, 9] and len(changes) == 2


def test_clear_all_asks_first(qtbot, store):
    answers = [False, True]
    asked = []
    dialog = open_dialog(qtbot, store, confirm=lambda q: asked.append(q) or answers.pop(0))
    qtbot.mouseClick(dialog.clear_button, Qt.MouseButton.LeftButton)
    assert store.count() == 4 and "all 4" in asked[0]  # said no: nothing lost
    qtbot.mouseClick(dialog.clear_button, Qt.MouseButton.LeftButton)
    assert store.count() == 0 and dialog.grid.count() == 0 and not dialog.clear_button.isEnabled()


def test_export_then_import_into_another_collection(qtbot, store, tmp_path):
    target = tmp_path / "out.jsonl"
    dialog = open_dialog(qtbot, store, choose_export=lambda: str(target))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert "4 digits exported" in dialog.message.text()
    with Store(tmp_path / "other.sqlite") as other:
        other_dialog = open_dialog(qtbot, other, choose_import=lambda: str(target))
        qtbot.mouseClick(other_dialog.import_button, Qt.MouseButton.LeftButton)
        assert other.examples() == store.examples() and labels_shown(other_dialog) == ["7", "7", "1", "4"]


def test_import_of_a_bad_file_says_which_lines_were_bad(qtbot, store, tmp_path):
    path = tmp_path / "class.jsonl"
    export_examples(path, [example(2)])
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"label": 11, "strokes": [[[1, 2]]]}\n')
    dialog = open_dialog(qtbot, store, choose_import=lambda: str(path))
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert "1 example read, 1 bad line skipped" in dialog.message.text() and "line 3" in dialog.message.text()
    assert store.count() == 5
