"""The public recognition API: a trained checkpoint plus the one preprocessing path.

    rec = Recognizer.load()                          # the bundled model, device "auto"
    p = rec.predict_strokes([[(x, y), ...], ...])    # canvas pixels, y down
    p.digit, p.probabilities, p.image

Preprocessing lives in `trainer.preprocess`; the model's input normalization comes from its
checkpoint. No Qt here: the GUI, the CLI and scripts all use this module.

Drawings get a second view: the bundled recognizer also loads the bundled trajectory model
(assets/penseq.pt, trainer.models.PenSeq), which reads the pen's path, and `predict_strokes`
combines both models' log-probabilities (SEQUENCE_WEIGHT). Pictures, batches and explanations use
the image model alone, and so does a model loaded from any other file. A missing or unusable
penseq.pt leaves the image model alone, and `description` says why.

Pictures (files, MNIST, `predict_batch`) are read as five views, the image and its four one-pixel
shifts, averaging the log-probabilities (test-time augmentation); drawings are read as one view
(`Views`): on the held-out pen writers the shifted views did not help drawings.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.checkpoint import Checkpoint, build_model, load_model
from trainer.data import MNIST_MEAN, MNIST_STD
from trainer.devices import describe_device, resolve_device
from trainer.errors import CheckpointError, DataError
from trainer.fusion import fused_for_inference
from trainer.models import ARCHITECTURES, InputKind
from trainer.preprocess import Strokes, image_to_mnist, strokes_to_mnist
from trainer.sizes import IMAGE_SIZE, NUM_CLASSES
from trainer.trajectory import trajectory_features

if TYPE_CHECKING:
    from digitpad.inspect.explanation import Explanation
    from digitpad.numbers.reading import NumberReading

BUNDLED_MODEL_NAME = "digitnet.pt"
BUNDLED_SEQUENCE_NAME = "penseq.pt"  # the trajectory model that reads drawings beside the bundled image model
# Weight of the trajectory model's log-probabilities in predict_strokes (the image model's is 1 minus it).
# Chosen on the held-out pen writers (HELDOUT_WRITERS) with benchmarks/recognition.py --weights: 0.65-0.8 read
# 99.50-99.55% with digitnet.pt of 2026-11-25 (0.5: 99.30%, 0.9: 99.00%); the middle of that plateau.
SEQUENCE_WEIGHT = 0.7
# A checkout or editable install reads <repo>/assets; a wheel installs assets/ under <prefix>/share/digitpad.
ASSET_DIRS = (Path(__file__).resolve().parent.parent / "assets", Path(sys.prefix) / "share" / "digitpad")
BATCH_CHUNK = 1024                            # predict_batch feeds the model this many images at a time


class Views(Enum):
    """How many views of a 28x28 image the image model reads: drawings get one, pictures five."""

    ONE = "one"          # the image as it is: drawings (predict_strokes), and what explanations show
    SHIFTED = "shifted"  # the image and its four one-pixel shifts: pictures (files, MNIST, batches)


# (dx, dy) pixel shifts of each view, ink moving right/down for positive values. The five were fixed before
# measuring (the usual four neighbours): digitnet.pt reads MNIST test 99.54% with one view and 99.60% with
# five (measured once, benchmarks/recognition.py); on the validation pen writers drawings read 98.95% ->
# 98.90% alone and 99.40% -> 99.40% with penseq, so drawings keep one view (and a fifth of the work).
SHIFTS = {
    Views.ONE: ((0, 0),),
    Views.SHIFTED: ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)),
}


def bundled_model_path() -> Path:
    """Where the model shipped with digitpad lives: <repo>/assets/digitnet.pt (or its installed copy)."""
    for folder in ASSET_DIRS:
        if (folder / BUNDLED_MODEL_NAME).is_file():
            return folder / BUNDLED_MODEL_NAME
    return ASSET_DIRS[0] / BUNDLED_MODEL_NAME


def bundled_sequence_path() -> Path:
    """Where the bundled trajectory model lives: beside the bundled image model."""
    return bundled_model_path().with_name(BUNDLED_SEQUENCE_NAME)


def _kind(ckpt: Checkpoint) -> InputKind:
    return ARCHITECTURES[ckpt.arch].input_kind


class SequenceView:
    """A trajectory model (trainer.models.PenSeq and kin) reading a drawing's pen path."""

    def __init__(self, model: nn.Module, checkpoint: Checkpoint, device: torch.device) -> None:
        if _kind(checkpoint) is not InputKind.TRAJECTORY:
            raise CheckpointError(f"{checkpoint.name}: {checkpoint.arch} reads images, not pen paths")
        self.model = model.to(device).eval()
        self._fast = fused_for_inference(self.model)  # what reads: the same function, batch norms folded in
        self.checkpoint = checkpoint
        self.device = device
        self.points = int({**ARCHITECTURES[checkpoint.arch].default_args, **checkpoint.model_args}["points"])

    @classmethod
    def load(cls, path: Path, device: torch.device) -> SequenceView:
        """The trajectory model in `path`; CheckpointError if it cannot be used (any failure)."""
        return cls(*_load_checked(path, device), device)

    @classmethod
    def from_checkpoint(cls, ckpt: Checkpoint, device: torch.device) -> SequenceView:
        """The trajectory model of an in-memory checkpoint (e.g. a file's "sequence" part), checked as it is built."""
        return cls(build_model(ckpt, device=device), ckpt, device)

    def log_probabilities(self, strokes: Strokes) -> np.ndarray:
        """(10,) float64 log-probabilities of the drawing's digit."""
        return self.batch_log_probabilities(trajectory_features(strokes, self.points)[None])[0]

    def batch_log_probabilities(self, paths: np.ndarray) -> np.ndarray:
        """(B, features, points) pen paths (trainer.trajectory) -> (B, 10) float64 log-probabilities."""
        x = torch.from_numpy(np.ascontiguousarray(paths, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            return torch.log_softmax(self._fast(x).double(), dim=1).cpu().numpy()


@dataclass
class Prediction:
    """What the model read: the digit, all ten probabilities, and the 28x28 image it saw."""

    digit: int
    probabilities: np.ndarray   # (10,) float64, sums to 1
    image: np.ndarray           # (28, 28) float32 in [0, 1], ink = 1, before normalization

    @property
    def confidence(self) -> float:
        """Probability of the predicted digit."""
        return float(self.probabilities[self.digit])

    def top2(self) -> list[tuple[int, float]]:
        """The two most likely digits with their probabilities, best first."""
        order = np.argsort(self.probabilities)[::-1][:2]
        return [(int(d), float(self.probabilities[d])) for d in order]


class Recognizer:
    """A model ready for inference (eval mode) on a device, with its checkpoint's normalization."""

    def __init__(
        self,
        model: nn.Module,
        checkpoint: Checkpoint,
        device: torch.device,
        sequence: SequenceView | None = None,
        sequence_note: str | None = None,
    ) -> None:
        if _kind(checkpoint) is not InputKind.IMAGE:
            raise CheckpointError(
                f"{checkpoint.name}: a {checkpoint.arch} model reads pen paths, not images; it is used beside "
                f"the bundled image model ({BUNDLED_MODEL_NAME}), not alone: load an image model"
            )
        self.model = model.to(device).eval()
        self._fast = fused_for_inference(self.model)  # what reads: the same function, batch norms folded in
        self.checkpoint = checkpoint
        self.device = device
        self.sequence = sequence  # reads drawings beside the image model; None: the image model alone
        self.sequence_note = sequence_note  # why there is no sequence view, when there should be one
        norm = checkpoint.normalization or {}
        self._mean = float(norm.get("mean", MNIST_MEAN))  # checkpoints always carry it; be lenient anyway
        self._std = float(norm.get("std", MNIST_STD))

    # ------------------------------------------------------------------ construction

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | torch.device = "auto") -> Recognizer:
        """Load a checkpoint (None = the bundled model). Any failure raises CheckpointError; no code runs."""
        path = Path(path) if path is not None else bundled_model_path()
        if not path.exists():  # a directory, a FIFO, a huge file: the loader says what is wrong with it
            hint = " (the bundled model is missing: reinstall digitpad, or train one as the README shows)" \
                if path == bundled_model_path() else ""
            raise CheckpointError(f"{path}: no such model file{hint}")
        dev = resolve_device(device)
        model, ckpt = _load_checked(path, dev)
        if _same_file(path, bundled_model_path()) and _kind(ckpt) is InputKind.IMAGE:
            sequence, note = _bundled_sequence(dev)
            return cls(model, ckpt, dev, sequence, note)
        if ckpt.sequence is not None:  # e.g. a saved personalized model: its own adapted pen-path model
            return cls(model, ckpt, dev, SequenceView.from_checkpoint(ckpt.sequence, dev))
        return cls(model, ckpt, dev)

    @classmethod
    def from_checkpoint(
        cls, ckpt: Checkpoint, device: str | torch.device = "auto", sequence: SequenceView | None = None
    ) -> Recognizer:
        """A recognizer for an in-memory checkpoint (e.g. one just trained), optionally with a sequence view."""
        dev = resolve_device(device)
        if sequence is not None and sequence.device != dev:  # a copy: .to() would move the caller's model too
            sequence = SequenceView(copy.deepcopy(sequence.model), sequence.checkpoint, dev)
        return cls(build_model(ckpt, device=dev), ckpt, dev, sequence)

    def personalized(self, examples: Iterable[Any]) -> Recognizer:
        """A new recognizer adapted to one person's digits: (strokes, label) pairs or personal Examples.

        Only the last layer of the image model, and of the sequence view when there is one, is refitted (see
        digitpad.personal.adapt), so the result saves as a normal checkpoint (``.checkpoint``, its adapted
        sequence view in its "sequence" field). Deterministic; this recognizer is left unchanged; no examples
        give a recognizer that predicts exactly like this one.
        """
        from digitpad.personal.adapt import personalize  # torch-heavy work only when asked for

        ckpt = personalize(self, examples)
        sequence = self.sequence
        if ckpt.sequence is not None and ckpt is not self.checkpoint:
            sequence = SequenceView.from_checkpoint(ckpt.sequence, self.device)
        mine = Recognizer.from_checkpoint(ckpt, device=self.device, sequence=sequence)
        mine.sequence_note = self.sequence_note
        return mine

    # ------------------------------------------------------------------ description

    @property
    def name(self) -> str:
        return self.checkpoint.name

    @property
    def arch(self) -> str:
        return self.checkpoint.arch

    @property
    def drawing_models(self) -> str:
        """The models that read a drawing: "digitnet + penseq", or the image model's name alone."""
        return f"{self.name} + {self.sequence.checkpoint.name}" if self.sequence is not None else self.name

    @property
    def description(self) -> str:
        """drawing_models, with the reason when the bundled sequence view could not be used."""
        return self.drawing_models + (f" ({self.sequence_note})" if self.sequence_note else "")

    @property
    def test_accuracy(self) -> float | None:
        value = (self.checkpoint.metrics or {}).get("test_accuracy")
        return None if value is None else float(value)

    @property
    def device_name(self) -> str:
        """"CPU", "Apple MPS", or the CUDA device's name (e.g. "NVIDIA H100 80GB HBM3")."""
        return describe_device(self.device)

    def __repr__(self) -> str:
        return f"Recognizer(name={self.name!r}, arch={self.arch!r}, device={self.device_name!r})"

    # ------------------------------------------------------------------ prediction

    def predict_strokes(self, strokes: Strokes) -> Prediction:
        """Read a drawing: strokes of (x, y) canvas pixels, y down. NothingDrawnError when empty.

        With a sequence view, the probabilities are the normalized weighted geometric mean of both
        models' (weight SEQUENCE_WEIGHT on the pen path); `.image` is still what the image model saw.
        """
        image, x = self._image_input(strokes_to_mnist(strokes))
        seen = self._log_probabilities(x, Views.ONE)[0]
        if self.sequence is not None:
            seen = (1 - SEQUENCE_WEIGHT) * seen + SEQUENCE_WEIGHT * self.sequence.log_probabilities(strokes)
        return _prediction(seen, image)

    def predict_image(self, source: Any) -> Prediction:
        """Read a picture of a digit: a path, PIL image or numpy array (see trainer.preprocess.image_to_mnist)."""
        return self.predict_mnist_image(image_to_mnist(source))

    def predict_number(self, strokes: Strokes) -> NumberReading:
        """Read several digits in one drawing (strokes as for predict_strokes): see digitpad.numbers."""
        from digitpad.numbers.strokes import read_strokes  # digitpad.numbers imports this module

        return read_strokes(self, strokes)

    def predict_image_number(self, source: Any) -> NumberReading:
        """Read a picture of a written number (a path, PIL image or array): its ink's components, grouped."""
        from digitpad.numbers.images import read_image

        return read_image(self, source)

    def explain_strokes(self, strokes: Strokes) -> Explanation:
        """Look inside the model reading a drawing: layers, saliency, filters (see digitpad.inspect)."""
        return self.explain_mnist_image(strokes_to_mnist(strokes))

    def explain_image(self, source: Any) -> Explanation:
        """Look inside the model reading a picture (a path, PIL image or array)."""
        return self.explain_mnist_image(image_to_mnist(source))

    def explain_mnist_image(self, image: np.ndarray) -> Explanation:
        """Look inside the model reading an already-preprocessed (28, 28) float image in [0, 1], ink = 1."""
        from digitpad.inspect.explanation import explain  # digitpad.inspect imports this module

        return explain(self.model, image, mean=self._mean, std=self._std)

    def predict_mnist_image(self, image: np.ndarray, views: Views = Views.SHIFTED) -> Prediction:
        """Read an already-preprocessed (28, 28) float image in [0, 1], ink = 1, by the image model alone.

        Pictures get five views; Views.ONE reads it as predict_strokes reads a drawing's image (SHIFTS).
        """
        image, x = self._image_input(image)
        return _prediction(self._log_probabilities(x, views)[0], image)

    def predict_batch(self, images: np.ndarray | torch.Tensor, views: Views = Views.SHIFTED) -> np.ndarray:
        """(N, 28, 28) MNIST-format images -> (N, 10) float32 probabilities; no re-centering.

        uint8 images are read in [0, 255], float images in [0, 1] (like `Prediction.image`); ink is
        bright in both. The caller's array is never modified. Other dtypes, shapes, values out of
        range or NaN raise DataError. `views` as for predict_mnist_image.
        """
        batch, scale = _checked_batch(images)
        out = np.empty((batch.shape[0], NUM_CLASSES), dtype=np.float32)
        chunk_size = max(1, BATCH_CHUNK // len(SHIFTS[views]))
        for start in range(0, batch.shape[0], chunk_size):
            chunk = batch[start : start + chunk_size].to(self.device, torch.float32) / scale  # a new tensor
            out[start : start + len(chunk)] = np.exp(self._log_probabilities(chunk.unsqueeze(1), views))
        return out

    def _image_input(self, image: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
        """A (28, 28) image as float32 in [0, 1] and as the model's (1, 1, 28, 28) input on its device."""
        image = np.ascontiguousarray(image, dtype=np.float32)
        if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"expected a (28, 28) image, got {image.shape}")
        return image, torch.from_numpy(image).to(self.device).view(1, 1, IMAGE_SIZE, IMAGE_SIZE)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) float in [0, 1] -> (B, 10) logits, with the checkpoint's normalization."""
        return self._fast((x - self._mean) / self._std)

    def _log_probabilities(self, x: torch.Tensor, views: Views) -> np.ndarray:
        """(B, 1, 28, 28) float in [0, 1] -> (B, 10) float64 log-probabilities, averaged over the views.

        In float64 from the logits on, so that no probability underflows to 0 before views or models are mixed.
        """
        shifts = SHIFTS[views]
        with torch.inference_mode():
            if len(shifts) > 1:
                x = torch.cat([shifted(x, dx, dy) for dx, dy in shifts])
            logp = torch.log_softmax(self._logits(x).double(), dim=1).view(len(shifts), -1, NUM_CLASSES)
            return torch.log_softmax(logp.mean(dim=0), dim=1).cpu().numpy()  # a normalized geometric mean


def shifted(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """(B, C, H, W) images with their content moved dx pixels right and dy down, the border filled with 0."""
    padded = F.pad(x, (1, 1, 1, 1))
    h, w = x.shape[-2:]
    return padded[..., 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]


def _prediction(log_probabilities: np.ndarray, image: np.ndarray) -> Prediction:
    """A Prediction from (10,) log-probabilities (exactly normalized in float64) and the image read."""
    probs = np.exp(log_probabilities - log_probabilities.max())
    probs /= probs.sum()
    return Prediction(digit=int(probs.argmax()), probabilities=probs, image=image)


def _load_checked(path: Path, device: torch.device) -> tuple[nn.Module, Checkpoint]:
    """load_model, with every failure as CheckpointError: the contract is one error type, whatever the file did."""
    try:
        return load_model(path, device=device)
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot load model: {exc}") from exc


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _bundled_sequence(device: torch.device) -> tuple[SequenceView | None, str | None]:
    """The bundled trajectory model, or None and why drawings are read by the image model alone."""
    path = bundled_sequence_path()
    if not path.exists():
        return None, f"no {BUNDLED_SEQUENCE_NAME}: drawings are read by the image model alone"
    try:
        return SequenceView.load(path, device), None
    except CheckpointError as exc:
        return None, f"{BUNDLED_SEQUENCE_NAME} not used: {str(exc)[:200]}; drawings are read by the image model alone"


def _checked_batch(images: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, float]:
    """The images as a tensor (sharing the caller's memory: never written) and the value of full ink."""
    if isinstance(images, np.ndarray) and not images.flags.writeable:
        images = images.copy()  # torch refuses to wrap read-only memory (e.g. a memory-mapped dataset)
    batch = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if batch.dim() != 3 or tuple(batch.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"expected (N, {IMAGE_SIZE}, {IMAGE_SIZE}) images, got shape {tuple(batch.shape)}")
    if batch.dtype == torch.uint8:
        return batch, 255.0
    if not batch.is_floating_point():
        raise DataError(f"expected uint8 images in [0, 255] or float images in [0, 1], got dtype {batch.dtype}")
    if batch.numel():
        if torch.isnan(batch).any():
            raise DataError("the images hold NaN values")
        low, high = float(batch.min()), float(batch.max())
        if low < 0 or high > 1:
            raise DataError(f"float images must be in [0, 1] (uint8 ones in [0, 255]); these range from {low:g} to {high:g}")
    return batch, 1.0
