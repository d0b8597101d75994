"""Each chosen digit read as `predict_strokes` reads a single digit: its image and its pen path together.

The segmentation reads every candidate's image only (one batch, and the "one digit" model was trained on
the image model's probabilities). Once the digits are chosen, their pen paths go through the recognizer's
trajectory model in one batch and are mixed with what the image model said, with the weights
`Recognizer.predict_strokes` uses, so a digit of a number reads as it would read drawn alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digitpad.recognizer import SEQUENCE_WEIGHT, Recognizer
from trainer.trajectory import trajectory_features

LOG_FLOOR = 1e-38  # float32 softmax underflows to 0 below about this; log(0) would poison the mix


def drawing_probabilities(rec: Recognizer, drawings: Sequence[Sequence[np.ndarray]],
                          image_probs: np.ndarray) -> np.ndarray:
    """(len(drawings), 10) float64 probabilities of each drawing, rows summing to 1.

    `image_probs` are the image model's probabilities of the same drawings (predict_batch). Without a
    trajectory model (a recognizer loaded from another file) they are what predict_strokes gives too.
    """
    image = np.asarray(image_probs, dtype=np.float64)
    if rec.sequence is None or not len(drawings):
        return image / image.sum(axis=1, keepdims=True)
    view = rec.sequence
    path_logp = view.batch_log_probabilities(np.stack([trajectory_features(d, view.points) for d in drawings]))
    mixed = (1 - SEQUENCE_WEIGHT) * np.log(np.maximum(image, LOG_FLOOR)) + SEQUENCE_WEIGHT * path_logp
    probs = np.exp(mixed - mixed.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)
