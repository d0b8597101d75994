"""evaluate(): accuracy, loss, per-class accuracy and the confusion matrix of a model on a split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainer.data import MNIST_MEAN, MNIST_STD, Split
from trainer.errors import DataError
from trainer.evaluate import evaluate

MARGIN = 8.0  # logit of the predicted class above the others


class ReadsPixel(nn.Module):
    """A known model: predicts the digit written as brightness (digit * 20) in the top-left pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixel = x[:, 0, 0, 0] * MNIST_STD + MNIST_MEAN  # undo the normalization -> [0, 1]
        digit = torch.round(pixel * 255 / 20).long().clamp(0, 9)
        return F.one_hot(digit, 10).float() * MARGIN


class AlwaysThree(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.one_hot(torch.full((len(x),), 3), 10).float() * MARGIN


def split_with_pixels(written: list[int], labels: list[int]) -> Split:
    images = torch.zeros(len(written), 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = torch.tensor(written, dtype=torch.uint8) * 20
    return Split(images, torch.tensor(labels))


def test_a_perfect_model_scores_one_with_a_diagonal_confusion_matrix():
    labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 7, 7]
    result = evaluate(ReadsPixel(), split_with_pixels(labels, labels), "cpu", batch_size=5)

    assert result.accuracy == 1.0
    assert np.array_equal(result.confusion, np.diag(np.bincount(labels, minlength=10)))
    assert np.array_equal(result.per_class_accuracy, np.ones(10))
    assert np.array_equal(result.predictions, labels)
    expected_loss = F.cross_entropy(F.one_hot(torch.tensor(0), 10).float()[None] * MARGIN, torch.tensor([0])).item()
    assert result.loss == pytest.approx(expected_loss, rel=1e-5)


def test_mistakes_land_in_the_confusion_matrix_as_true_row_predicted_column():
    # true labels 1,1,2,2 but the pixel says 1,7,2,2: one 1 read as 7
    result = evaluate(ReadsPixel(), split_with_pixels([1, 7, 2, 2], [1, 1, 2, 2]), "cpu")

    assert result.accuracy == 0.75
    assert result.confusion[1, 7] == 1 and result.confusion[1, 1] == 1 and result.confusion[2, 2] == 2
    assert result.confusion.sum() == 4
    assert result.per_class_accuracy[1] == 0.5 and result.per_class_accuracy[2] == 1.0
    assert list(result.misclassified()) == [1]


def test_classes_absent_from_the_split_have_no_accuracy_rather_than_zero():
    result = evaluate(AlwaysThree(), split_with_pixels([0, 0, 0], [3, 3, 5]), "cpu")

    assert result.accuracy == pytest.approx(2 / 3)
    assert result.per_class_accuracy[3] == 1.0 and result.per_class_accuracy[5] == 0.0
    assert np.isnan(result.per_class_accuracy[[0, 1, 2, 4, 6, 7, 8, 9]]).all()
    assert list(result.confusion[:, 3]) == [0, 0, 0, 2, 0, 1, 0, 0, 0, 0]


def test_evaluation_restores_training_mode_and_needs_no_gradients():
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(784, 10)).train()
    result = evaluate(model, split_with_pixels([1, 2], [1, 2]), "cpu")

    assert model.training
    assert len(result) == 2
    assert all(p.grad is None for p in model.parameters())


def test_a_custom_normalization_is_applied_to_the_pixels():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(x[:, 0, 0, 0].clone())
            return torch.zeros(len(x), 10)

    evaluate(Spy(), split_with_pixels([5], [5]), "cpu", normalization={"mean": 0.5, "std": 0.5})
    assert seen[0].item() == pytest.approx((100 / 255 - 0.5) / 0.5)


def test_an_empty_split_is_a_clear_error():
    empty = Split(torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(DataError, match="empty"):
        evaluate(AlwaysThree(), empty, "cpu")
