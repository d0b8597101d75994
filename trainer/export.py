"""Export a model or checkpoint to ONNX, verified against PyTorch with onnxruntime when installed.

The exported graph takes what `transforms.ToTensor()` gives: (batch, 1, 28, 28) float pixels in
[0, 1] with white ink on black. The MNIST normalization is baked into the graph, so a consumer
needs nothing but the file; the batch dimension is dynamic.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainer.data import MNIST_MEAN, MNIST_STD
from trainer.errors import DigitpadError
from trainer.sizes import IMAGE_SIZE

ONNX_OPSET = 17  # supported by every onnxruntime release since 1.14
INPUT_NAME, OUTPUT_NAME = "image", "logits"
VERIFY_BATCH = 16  # random images compared between PyTorch and onnxruntime
VERIFY_ATOL = 1e-4  # max |logit difference| accepted (float32 kernels differ slightly)
INSTALL_HINT = "pip install onnx onnxruntime (from a checkout: pip install -e \".[onnx]\")"


class ExportError(DigitpadError, RuntimeError):
    """The model could not be exported (missing package, failed export, outputs that disagree)."""


@dataclass
class ExportResult:
    path: Path
    verified: bool  # False when onnxruntime is not installed
    max_abs_diff: float | None  # between PyTorch and onnxruntime logits, when verified


class _Normalized(nn.Module):
    """The model with the input normalization in front: pixels in [0, 1] -> logits."""

    def __init__(self, model: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.model = model
        self.mean = mean
        self.std = std

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model((image - self.mean) / self.std)


def export_onnx(
    model_or_checkpoint,
    path: str | os.PathLike,
    *,
    verify: bool = True,
    opset: int = ONNX_OPSET,
    normalization: dict | None = None,
) -> ExportResult:
    """Write `model_or_checkpoint` (an nn.Module, a Checkpoint or a checkpoint file) as ONNX to `path`.

    The file appears only once it is written and (when onnxruntime is installed and `verify`)
    its outputs match PyTorch's; otherwise ExportError and any existing file is left alone.
    """
    onnx = _import_onnx()
    model, norm, meta = _as_model(model_or_checkpoint, normalization)
    wrapped = _Normalized(model, float(norm["mean"]), float(norm["std"])).eval()
    path = Path(path)
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: the directory {path.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _torch_export(wrapped, tmp, opset)
        _add_metadata(onnx, tmp, {**meta, "mean": str(norm["mean"]), "std": str(norm["std"])})
        max_diff = _verify(wrapped, tmp) if verify else None
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(path=path, verified=max_diff is not None, max_abs_diff=max_diff)


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ExportError(f"ONNX export needs the onnx package: {INSTALL_HINT}") from None
    return onnx


def _as_model(source, normalization: dict | None) -> tuple[nn.Module, dict, dict]:
    """(a CPU copy of the model in eval mode, its normalization, metadata for the file)."""
    from trainer.checkpoint import Checkpoint, build_model, load_checkpoint

    default_norm = {"mean": MNIST_MEAN, "std": MNIST_STD}
    if isinstance(source, (str, os.PathLike)):
        source = load_checkpoint(source)
    if isinstance(source, Checkpoint):
        model = build_model(source, "cpu")  # the file's own checks first (sizes, weights, a probe pass)
        _check_image_model(source)
        norm = normalization or source.normalization or default_norm
        return model, norm, {"arch": source.arch, "source": "digitpad"}
    if isinstance(source, nn.Module):
        model = copy.deepcopy(source).cpu().eval()  # never move or switch the caller's model
        return model, normalization or default_norm, {"source": "digitpad"}
    raise TypeError(f"export_onnx needs an nn.Module, a Checkpoint or a path, not {type(source).__name__}")


def _check_image_model(ckpt) -> None:
    """ExportError up front for a model that does not read 28x28 images (the graph's one input)."""
    from trainer.models import ARCHITECTURES, InputKind

    spec = ARCHITECTURES.get(ckpt.arch)
    if spec is not None and spec.input_kind is not InputKind.IMAGE:
        raise ExportError(
            f"{ckpt.arch} reads pen paths, not images: ONNX export is for image models, whose input is a "
            f"(batch, 1, {IMAGE_SIZE}, {IMAGE_SIZE}) image"
        )


def _torch_export(model: nn.Module, path: Path, opset: int) -> None:
    example = torch.rand(2, 1, IMAGE_SIZE, IMAGE_SIZE)
    with warnings.catch_warnings():
        # the TorchScript-based exporter needs no extra package (the dynamo one needs onnxscript);
        # its deprecation notice is not something a user of this command can act on
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=False,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=opset,
            )
        except Exception as exc:  # the exporter raises many types; all mean "could not export"
            raise ExportError(f"ONNX export failed: {exc}") from exc


def _add_metadata(onnx, path: Path, meta: dict) -> None:
    proto = onnx.load(str(path))
    proto.doc_string = "digitpad digit classifier: input (batch,1,28,28) float in [0,1], white ink on black; output logits (batch,10)"
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _verify(model: nn.Module, path: Path) -> float | None:
    """Max |difference| between PyTorch and onnxruntime logits; None if onnxruntime is missing."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    images = torch.rand(VERIFY_BATCH, 1, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = model(images).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})[0]
    diff = float(np.max(np.abs(got - expected)))
    if not diff <= VERIFY_ATOL:  # also catches NaN
        raise ExportError(f"the exported ONNX model disagrees with PyTorch (max |logit difference| {diff:.3g} > {VERIFY_ATOL})")
    return diff
