"""Results of a run: the confusion-matrix heat map and the galleries of digits."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint

from digitpad.train.results import ConfusionMatrixView, ResultsView


def test_the_heat_map_finds_the_cell_under_the_mouse(qtbot):
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    confusion = np.diag(np.full(10, 90))
    confusion[4, 9] = 7
    view.set_matrix(confusion)
    rect = view._cell_rect(4, 9)
    assert view.cell_at(rect.center()) == (4, 9)
    assert view.cell_at(QPoint(2, 2)) is None  # the axis labels, not a cell
    assert view.grab().width() == 400  # paints without error


def test_results_show_misclassified_digits_with_true_and_predicted_labels(qtbot):
    results = ResultsView()
    qtbot.addWidget(results)
    images = np.zeros((3, 28, 28), np.uint8)
    results.set_evaluation(
        "run 1: 97%", np.eye(10, dtype=np.int64) * 10, images,
        true_labels=np.array([4, 7, 9]), predicted=np.array([9, 1, 4]), indices=np.array([10, 20, 30]), total_wrong=5,
    )
    assert results.misclassified.captions() == ["4 → 9", "7 → 1", "9 → 4"]
    assert results.tabText(2) == "Misclassified (3 of 5)"
    results.clear_evaluation()
    assert results.misclassified.count() == 0 and results.confusion.matrix() is None


def test_data_viewer_reports_an_unreadable_dataset_instead_of_samples(qtbot):
    results = ResultsView()
    qtbot.addWidget(results)
    results.set_samples(np.zeros((2, 28, 28), np.uint8), np.array([3, 5]))
    assert results.samples.captions() == ["3", "5"]
    results.show_samples_error("MNIST was not found in /nowhere")
    assert results.samples.count() == 0
    with pytest.raises(ValueError):
        results.samples.set_items(np.zeros((2, 28, 28), np.uint8), ["1"])
