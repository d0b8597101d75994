"""Evaluate a model on a split: accuracy, loss, per-class accuracy and the confusion matrix.

Used by the training loop after every epoch, by `digitpad-train evaluate` and by the Train tab.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.data import MNIST_MEAN, MNIST_STD, Split
from trainer.errors import DataError
from trainer.sizes import NUM_CLASSES

DEFAULT_EVAL_BATCH_SIZE = 1000  # large batches: inference needs no gradients, so memory is small


@dataclass
class EvalResult:
    """What a model got right and wrong on one split."""

    accuracy: float  # fraction in [0, 1]
    loss: float  # mean cross-entropy
    per_class_accuracy: np.ndarray  # (10,) float; NaN for a class absent from the split
    confusion: np.ndarray  # (10, 10) int64, rows = true label, columns = prediction
    predictions: np.ndarray  # (N,) int64
    labels: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def misclassified(self) -> np.ndarray:
        """Indices of the samples the model got wrong."""
        return np.flatnonzero(self.predictions != self.labels)


def _normalize(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    # (B,28,28) uint8 -> (B,1,28,28) float, the same recipe as trainer.data.normalize
    return ((images.float() / 255.0 - mean) / std).unsqueeze(1)


def evaluate(
    model: nn.Module,
    split: Split,
    device: torch.device | str,
    batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
    *,
    normalization: dict | None = None,
) -> EvalResult:
    """Run `model` (already on `device`) over `split` without gradients.

    `normalization` ({"mean", "std"}, e.g. from a checkpoint) defaults to the MNIST statistics.
    The model's train/eval mode is restored afterwards, so this is safe in the middle of training.
    """
    if len(split) == 0:
        raise DataError("cannot evaluate on an empty split")
    norm = normalization or {}
    mean = float(norm.get("mean", MNIST_MEAN))
    std = float(norm.get("std", MNIST_STD))
    device = torch.device(device)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    predictions = []
    try:
        with torch.inference_mode():
            for start in range(0, len(split), batch_size):
                images = split.images[start : start + batch_size].to(device, non_blocking=True)
                labels = split.labels[start : start + batch_size].to(device, non_blocking=True)
                logits = model(_normalize(images, mean, std))
                loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum").double()
                predictions.append(logits.argmax(dim=1))
    finally:
        model.train(was_training)
    # one device->host transfer for the whole split instead of one per batch
    preds = torch.cat(predictions).cpu().numpy().astype(np.int64)
    labels_np = split.labels.cpu().numpy().astype(np.int64)
    return summarize(preds, labels_np, float(loss_sum.item()) / len(labels_np))


def summarize(predictions: np.ndarray, labels: np.ndarray, loss: float) -> EvalResult:
    """Accuracy, confusion matrix and loss of predicted against true labels (image and pen-path evaluations alike)."""
    confusion = np.bincount(
        labels * NUM_CLASSES + predictions, minlength=NUM_CLASSES * NUM_CLASSES
    ).reshape(NUM_CLASSES, NUM_CLASSES)
    per_class_total = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(per_class_total > 0, np.diag(confusion) / per_class_total, np.nan)
    return EvalResult(
        accuracy=float(np.mean(predictions == labels)),
        loss=loss,
        per_class_accuracy=per_class.astype(np.float64),
        confusion=confusion.astype(np.int64),
        predictions=predictions,
        labels=labels,
    )
