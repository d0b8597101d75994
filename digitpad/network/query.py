"""What the Network tab asks the recognition worker for, and what it gets back (Qt-free).

One query holds the 28x28 image the Draw tab's model saw, the digit whose saliency is wanted
(None: the predicted one) and the session's other models, which read the same image for the
comparison strip. It runs on the recognition worker thread (`Kind.EXPLAIN`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from digitpad.inspect.explanation import Explanation
    from digitpad.recognizer import Prediction, Recognizer


@dataclass(frozen=True)
class Query:
    image: np.ndarray                                    # (28, 28) float32 in [0, 1], ink = 1
    digit: int | None = None                             # saliency for this digit (None: the predicted one)
    compare: tuple[tuple[str, Recognizer], ...] = ()     # (label, model) of the session, the one in use included
    explain: bool = True                                 # False: only the comparison (the Network tab is hidden)

    def run(self, recognizer: Recognizer) -> NetworkReading:
        """Explain the image with `recognizer` and read it with every model to compare (worker thread)."""
        explanation = None
        saliency = None
        if self.explain:
            explanation = recognizer.explain_mnist_image(self.image)
            saliency = explanation.saliency(self.digit)  # computed here, not on the GUI thread
        readings = tuple((label, rec.predict_mnist_image(self.image)) for label, rec in self.compare)
        return NetworkReading(recognizer, explanation, self.digit, saliency, readings)


@dataclass(frozen=True)
class NetworkReading:
    recognizer: Recognizer                               # the model explained
    explanation: Explanation | None
    digit: int | None                                    # the digit asked for (None: the predicted one)
    saliency: np.ndarray | None                          # (28, 28) map of that digit
    readings: tuple[tuple[str, Prediction], ...] = field(default=())

    @property
    def shown_digit(self) -> int | None:
        """The digit the saliency map is about."""
        if self.explanation is None:
            return None
        return self.explanation.prediction.digit if self.digit is None else self.digit
