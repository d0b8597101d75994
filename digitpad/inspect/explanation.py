"""One look inside a model for one input: the prediction, every layer's output, saliency and filters.

    x = explain(model, image, mean=0.1307, std=0.3081)   # usually rec.explain_strokes(strokes)
    x.prediction, x.layers, x.saliency(), x.saliency(9), x.filters()

The layers and the saliency of the predicted digit come from one forward and one backward pass
(the integrated-gradients path batch, whose last item is the image itself, is the pass the hooks
record). Another digit's saliency costs one more pass, computed when first asked for and kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from digitpad.inspect.layers import LayerRecorder
from digitpad.inspect.saliency import IG_STEPS, Method, attribute, integrated_gradients, path_batch
from digitpad.recognizer import Prediction
from trainer.sizes import IMAGE_PIXELS, IMAGE_SIZE, NUM_CLASSES

# Chosen by benchmarks/explain.py: on 500 MNIST test digits its deletion curve fell as fast as integrated
# gradients (8 steps) or faster for fnn, cnn and digitnet at a third of the cost; occlusion fell faster for
# digitnet only, at 121 ms p50 per update there (one thread), four times the 30 ms budget.
DEFAULT_METHOD = Method.GRADIENT_X_INPUT


@dataclass
class Explanation:
    """What the model computed for one (28, 28) input. Saliency maps are (28, 28) float32."""

    prediction: Prediction
    layers: list[tuple[str, str, np.ndarray]]   # (module-tree name, kind, output) in forward order
    logits: np.ndarray                           # (10,) float32: the output layer before softmax
    method: Method
    _model: nn.Module = field(repr=False)
    _mean: float = field(repr=False)
    _std: float = field(repr=False)
    _first: nn.Module | None = field(repr=False)
    _maps: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def saliency(self, digit: int | None = None) -> np.ndarray:
        """How much each input pixel's ink speaks for `digit` (None: the predicted one); > 0 for, < 0 against."""
        digit = self.prediction.digit if digit is None else int(digit)
        if not 0 <= digit < NUM_CLASSES:
            raise ValueError(f"digit must be 0-9, got {digit}")
        with self._lock:
            if digit not in self._maps:
                image = _ink_tensor(self.prediction.image, _device_of(self._model))
                self._maps[digit] = _numpy(attribute(self.method, self._forward, image, digit))
            return self._maps[digit]

    def filters(self) -> np.ndarray:
        """The first layer's weights: (out, in, k, k) for a convolution, (units, 28, 28) for a dense layer on pixels."""
        if self._first is None:
            raise ValueError("this model has no convolution or dense layer to show the weights of")
        weight = self._first.weight.detach().float().cpu().numpy().copy()
        if weight.ndim == 2 and weight.shape[1] == IMAGE_PIXELS:
            return weight.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
        return weight

    def _forward(self, x: Tensor) -> Tensor:
        return self._model((x - self._mean) / self._std)


def explain(model: nn.Module, image: np.ndarray, *, mean: float, std: float,
            method: Method = DEFAULT_METHOD) -> Explanation:
    """Explain a (28, 28) float image in [0, 1] (ink = 1) for a model in eval mode."""
    image_t = _ink_tensor(image, _device_of(model))
    recorder = LayerRecorder(model, index=-1)
    steps = IG_STEPS if method is Method.INTEGRATED_GRADIENTS else 1
    batch = path_batch(image_t, steps).requires_grad_(method is not Method.OCCLUSION)
    with recorder.recording(), torch.set_grad_enabled(batch.requires_grad):
        logits = model((batch - mean) / std)
    last = logits[-1].detach().float()
    probs = torch.softmax(last, dim=0).cpu().numpy().astype(np.float64)
    probs /= probs.sum()
    prediction = Prediction(digit=int(probs.argmax()), probabilities=probs, image=np.asarray(image, np.float32))
    x = Explanation(prediction, [layer.as_tuple() for layer in recorder.layers()], last.cpu().numpy(), method,
                    model, mean, std, recorder.first_weighted())
    if method is not Method.OCCLUSION:  # the predicted digit's map from the pass just made
        x._maps[prediction.digit] = _numpy(integrated_gradients(logits, batch, image_t, prediction.digit))
    return x


def _ink_tensor(image: np.ndarray, device: torch.device) -> Tensor:
    array = np.ascontiguousarray(image, dtype=np.float32)
    if array.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected a (28, 28) image, got {array.shape}")
    return torch.from_numpy(array).to(device)


def _device_of(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy().astype(np.float32)
