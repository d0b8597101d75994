"""digitpad's model file: one format, written atomically, read without ever running its code.

A checkpoint file is ``torch.save`` of one plain dict::

    {"format": FORMAT_TAG, "version": FORMAT_VERSION,
     "arch": "digitnet", "model_args": {...},      # rebuilds the model: create_model(arch, **model_args)
     "state_dict": {name: tensor},
     "normalization": {"mean": 0.1307, "std": 0.3081},
     "hparams": {...}, "metrics": {...},          # the training config and final test figures
     "created": "2024-05-01T12:00:00+02:00"}

Everything in it is a dict, list, str, int, float, bool, None or tensor, so it loads with
``torch.load(weights_only=True)``, the only way this module ever reads a file: a file that
needs arbitrary unpickling is refused, never executed. A bare ``state_dict`` of a registered
architecture (what coursework scripts save) is accepted too; its architecture is inferred
from the parameter names and shapes. Every failure raises `CheckpointError` naming the file.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from trainer.data import MNIST_MEAN, MNIST_STD
from trainer.errors import CheckpointError
from trainer.models import REGISTRY, create_model

FORMAT_TAG = "digitpad-checkpoint"
FORMAT_VERSION = 1

# Prefixes that wrappers add to every key: nn.DataParallel / DDP, and torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Keys under which training scripts commonly nest the weights in a bigger dict.
NESTED_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
NEW_FILE_MODE = 0o644  # mkstemp creates 0600; a model file is meant to be shared
MAX_PROBLEMS_SHOWN = 4  # key/shape mismatches listed in one error message
# How torch's weights-only unpickler names what a hostile (or merely exotic) file asks it to import.
UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
WEIGHTS_ONLY_DETAIL = re.compile(r"WeightsUnpickler error:\s*(.+?)\n\s*\n", re.S)


@dataclass(eq=False)  # tensors have no single truth value, so no generated __eq__
class Checkpoint:
    """A model's weights plus everything needed to rebuild and judge it."""

    arch: str
    model_args: dict
    state_dict: dict[str, Tensor]
    normalization: dict  # {"mean": float, "std": float} applied to pixels in [0, 1]
    hparams: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # e.g. {"test_accuracy": 0.991, "test_loss": 0.03}
    created: str = ""  # ISO 8601
    path: Path | None = None  # where it was loaded from (not saved)

    @property
    def name(self) -> str:
        """A short label for the UI: the file stem, or the architecture for an unsaved checkpoint."""
        return self.path.stem if self.path is not None else self.arch


def default_normalization() -> dict:
    """The MNIST training-set statistics every digitpad model expects unless told otherwise."""
    return {"mean": MNIST_MEAN, "std": MNIST_STD}


def make_checkpoint(
    model: nn.Module,
    arch: str,
    model_args: dict,
    *,
    hparams: dict | None = None,
    metrics: dict | None = None,
    normalization: dict | None = None,
) -> Checkpoint:
    """A Checkpoint of a live model: its weights are copied to the CPU (contiguous), metadata made file-safe.

    `model_args` are stored merged over the architecture's defaults, so the file rebuilds the
    same model even if a later digitpad changes a default.
    """
    if arch not in REGISTRY:
        raise CheckpointError(f"cannot make a checkpoint of unknown architecture {arch!r}; known: {', '.join(REGISTRY)}")
    state = {_strip_wrappers(k): v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    return Checkpoint(
        arch=arch,
        model_args=_plain({**REGISTRY[arch].default_args, **model_args}, "model_args"),
        state_dict=state,
        normalization=_check_normalization(
            _plain(normalization or default_normalization(), "normalization"), f"checkpoint of {arch!r}"
        ),
        hparams=_plain(hparams or {}, "hparams"),
        metrics=_plain(metrics or {}, "metrics"),
        created=_now_iso(),
    )


def save_checkpoint(ckpt: Checkpoint, path: str | os.PathLike) -> Path:
    """Write `ckpt` to `path` atomically and return the path.

    The data goes to a temp file in the same directory, is fsynced, then renamed over `path`:
    a crash, a full disk or Ctrl-C at any moment leaves either the old file or the new one,
    never a mix, and no temp file behind.
    """
    path = Path(path)
    payload = _payload(ckpt, path)
    if path.is_dir():
        raise CheckpointError(f"cannot save the model to {path}: it is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CheckpointError(f"cannot save the model to {path}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as exc:  # including Ctrl-C: never leave the temp file behind
        tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception):
            raise CheckpointError(f"cannot save the model to {path}: {exc}") from exc
        raise
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a digitpad checkpoint or a bare state_dict of a registered architecture.

    The weights are checked against the architecture (names, shapes, finite values) here, so
    a file that loads also builds. Raises CheckpointError naming the file and the problem.
    """
    path = Path(path)
    content = _read(path, map_location)
    if isinstance(content, Mapping) and "format" in content:
        ckpt = _from_payload(content, path)
    else:
        ckpt = _from_bare(content, path)
    _check_weights(ckpt, _where(ckpt))
    return ckpt


def build_model(ckpt: Checkpoint, device: str | torch.device = "cpu") -> nn.Module:
    """The checkpoint's model with its weights, on `device`, in eval mode."""
    where = _where(ckpt)
    model = _instantiate(ckpt.arch, ckpt.model_args, where)
    _check_weights(ckpt, where, model)
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as exc:  # _check_weights should have caught it; keep the message ours anyway
        raise CheckpointError(f"{where}: the weights do not fit {ckpt.arch}: {exc}") from exc
    return model.to(device).eval()


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, Checkpoint]:
    """Load a checkpoint file and build its model on `device` (eval mode)."""
    ckpt = load_checkpoint(path, map_location="cpu")
    return build_model(ckpt, device), ckpt


# ---------------------------------------------------------------- reading


def _read(path: Path, map_location) -> object:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a model file")
    try:
        with open(path, "rb") as f:  # real I/O problems (permissions) reported as such, not as damage
            if not f.read(1):
                raise CheckpointError(f"{path}: the file is empty")
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch reports damage as UnpicklingError, RuntimeError, OSError, KeyError, ...
        needed = UNSAFE_GLOBAL.search(str(exc))
        if needed:
            raise CheckpointError(
                f"{path}: refused: loading this file would run code from it (it asks for {needed.group(1)}). "
                "digitpad loads only plain weights: a digitpad checkpoint or a state_dict (save model.state_dict(), not the whole model)"
            ) from None
        raise CheckpointError(f"{path}: not a PyTorch model file, or it is damaged ({_describe(exc)})") from None


def _from_payload(content: Mapping, path: Path) -> Checkpoint:
    if content.get("format") != FORMAT_TAG:
        raise CheckpointError(f"{path}: unknown file format {content.get('format')!r} (expected {FORMAT_TAG!r})")
    version = content.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer digitpad (format version {version}; this one reads up to "
            f"{FORMAT_VERSION}); update digitpad to load it"
        )
    fields = {
        "arch": str,
        "model_args": Mapping,
        "state_dict": Mapping,
        "normalization": Mapping,
        "hparams": Mapping,
        "metrics": Mapping,
        "created": str,
    }
    for key, kind in fields.items():
        if not isinstance(content.get(key), kind):
            got = "missing" if key not in content else f"a {type(content[key]).__name__}"
            raise CheckpointError(f"{path}: field {key!r} should be a {kind.__name__}, but it is {got}")
    arch = content["arch"]
    if arch not in REGISTRY:
        raise CheckpointError(f"{path}: unknown architecture {arch!r}; this digitpad knows {', '.join(REGISTRY)}")
    return Checkpoint(
        arch=arch,
        model_args={**REGISTRY[arch].older_args, **content["model_args"]},
        state_dict=_tensor_dict(content["state_dict"], path),
        normalization=_check_normalization(dict(content["normalization"]), path),
        hparams=dict(content["hparams"]),
        metrics=dict(content["metrics"]),
        created=content["created"],
        path=path,
    )


def _from_bare(content: object, path: Path) -> Checkpoint:
    """A bare state_dict (possibly nested under 'state_dict' & co.): infer its architecture."""
    if isinstance(content, Mapping) and not _is_tensor_dict(content):
        nested = [content[k] for k in NESTED_STATE_DICT_KEYS if isinstance(content.get(k), Mapping)]
        content = nested[0] if nested else content
    if not isinstance(content, Mapping):
        raise CheckpointError(f"{path}: holds a {type(content).__name__}, not a model checkpoint or state_dict")
    if not content:
        raise CheckpointError(f"{path}: holds an empty dict, not a model checkpoint or state_dict")
    if not _is_tensor_dict(content):
        raise CheckpointError(f"{path}: holds a dict that is neither a digitpad checkpoint nor a state_dict")
    state = _tensor_dict(content, path)
    arch, model_args = _infer_arch(state, path)
    return Checkpoint(
        arch=arch,
        model_args=model_args,
        state_dict=state,
        # coursework scripts normalize with the MNIST statistics (transforms.Normalize((0.1307,), (0.3081,)))
        normalization=default_normalization(),
        hparams={},
        metrics={},
        created=datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="seconds"),
        path=path,
    )


def _infer_arch(state: dict[str, Tensor], path: Path) -> tuple[str, dict]:
    """The registered architecture and model_args (its defaults, else its older defaults) whose
    keys and shapes match `state` exactly."""
    problems_by_arch, shared_keys = {}, {}
    for name, spec in REGISTRY.items():
        candidates = [spec.default_args] + ([{**spec.default_args, **spec.older_args}] if spec.older_args else [])
        for i, args in enumerate(candidates):
            expected = _expected_shapes(spec.factory(**args))
            problems = _mismatches(expected, state)
            if not problems:
                return name, dict(args)
            if i == 0:  # report against the current defaults: that is what a new file of this arch looks like
                problems_by_arch[name] = problems
                shared_keys[name] = len(expected.keys() & state.keys())
    known = f"no known architecture ({', '.join(REGISTRY)})"
    closest = max(shared_keys, key=lambda name: (shared_keys[name], -len(problems_by_arch[name])))
    if shared_keys[closest] == 0:
        keys = ", ".join(list(state)[:MAX_PROBLEMS_SHOWN]) + (", ..." if len(state) > MAX_PROBLEMS_SHOWN else "")
        raise CheckpointError(f"{path}: a state_dict (keys {keys}) that matches {known}")
    raise CheckpointError(
        f"{path}: a state_dict that matches {known}; closest is {closest!r}, "
        f"but {_summarize(problems_by_arch[closest])}"
    )


def _is_tensor_dict(content: Mapping) -> bool:
    return all(isinstance(k, str) and isinstance(v, Tensor) for k, v in content.items())


def _tensor_dict(content: Mapping, path: Path) -> dict[str, Tensor]:
    if not _is_tensor_dict(content):
        bad = next(k for k, v in content.items() if not (isinstance(k, str) and isinstance(v, Tensor)))
        raise CheckpointError(f"{path}: state_dict entry {bad!r} is not a tensor")
    return {_strip_wrappers(k): v for k, v in content.items()}


def _strip_wrappers(key: str) -> str:
    for prefix in WRAPPER_PREFIXES:
        while key.startswith(prefix):
            key = key[len(prefix):]
    return key


def _check_normalization(norm: dict, where) -> dict:
    mean, std = norm.get("mean"), norm.get("std")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (mean, std))
    if not numbers or not math.isfinite(mean) or not math.isfinite(std) or std <= 0:
        raise CheckpointError(f"{where}: invalid normalization {norm!r} (needs finite 'mean' and positive 'std')")
    return {**norm, "mean": float(mean), "std": float(std)}


# ---------------------------------------------------------------- checking weights against the architecture


def _instantiate(arch: str, model_args: dict, where: str) -> nn.Module:
    try:
        return create_model(arch, **model_args)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: cannot build {arch!r} with model_args {model_args!r}: {exc}") from exc


def _check_weights(ckpt: Checkpoint, where: str, model: nn.Module | None = None) -> None:
    """Names, shapes and values of the weights fit the architecture; else CheckpointError."""
    if not isinstance(ckpt.state_dict, Mapping) or not _is_tensor_dict(ckpt.state_dict):
        raise CheckpointError(f"{where}: the state_dict must map parameter names to tensors")
    if model is None:
        model = _instantiate(ckpt.arch, ckpt.model_args, where)
    problems = _mismatches(_expected_shapes(model), ckpt.state_dict)
    if problems:
        raise CheckpointError(f"{where}: the weights do not fit {ckpt.arch}: {_summarize(problems)}")
    for key, value in ckpt.state_dict.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{where}: weight {key!r} holds NaN or infinite values (a diverged training run?)")


def _expected_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _mismatches(expected: dict[str, tuple[int, ...]], state: Mapping[str, Tensor]) -> list[str]:
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k!r} has shape {tuple(state[k].shape)}, the model expects {expected[k]}"
        for k in expected
        if k in state and tuple(state[k].shape) != expected[k]
    ]
    return (
        [f"missing {k!r}" for k in missing] + [f"unknown key {k!r}" for k in unexpected] + shapes
    )


def _summarize(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
    more = len(problems) - MAX_PROBLEMS_SHOWN
    return shown + (f"; and {more} more" if more > 0 else "")


def _where(ckpt: Checkpoint) -> str:
    return str(ckpt.path) if ckpt.path is not None else f"checkpoint of {ckpt.arch!r}"


# ---------------------------------------------------------------- writing


def _payload(ckpt: Checkpoint, path: Path) -> dict:
    """The dict written to disk: only types `torch.load(weights_only=True)` accepts."""
    if not isinstance(ckpt.state_dict, Mapping) or not _is_tensor_dict(ckpt.state_dict):
        raise CheckpointError(f"cannot save the model to {path}: its state_dict must map names to tensors")
    try:
        return {
            "format": FORMAT_TAG,
            "version": FORMAT_VERSION,
            "arch": str(ckpt.arch),
            "model_args": _plain(dict(ckpt.model_args), "model_args"),
            "state_dict": {k: v.detach().cpu() for k, v in ckpt.state_dict.items()},
            "normalization": _plain(dict(ckpt.normalization), "normalization"),
            "hparams": _plain(dict(ckpt.hparams), "hparams"),
            "metrics": _plain(dict(ckpt.metrics), "metrics"),
            "created": str(ckpt.created or _now_iso()),
        }
    except CheckpointError as exc:
        raise CheckpointError(f"cannot save the model to {path}: {exc}") from None


def _plain(value, where: str):
    """`value` as dicts/lists/str/int/float/bool/None/tensors, which load with weights_only=True."""
    if value is None or type(value) in (str, bool, int, float):
        return value
    if isinstance(value, np.generic):  # numpy scalars (np.float64 even subclasses float): np.float32, np.bool_
        return value.item()
    if isinstance(value, enum.Enum):
        return _plain(value.value, where)
    for kind in (bool, int, float, str):  # other subclasses would pickle as their class: refused on load
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (os.PathLike, torch.device, torch.dtype)):
        return os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value), where)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(items)]
    raise CheckpointError(f"{where} holds a {type(value).__name__}, which a model file cannot store safely")


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777  # overwriting keeps the old file's permissions
    except OSError:
        return NEW_FILE_MODE


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; best effort (not every OS/filesystem allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _describe(exc: BaseException) -> str:
    """A short reason for a failed torch.load, without torch's advice to load unsafely."""
    text = str(exc)
    if "weights only load failed" in text.lower():  # the weights-only unpickler choked on garbage
        detail = WEIGHTS_ONLY_DETAIL.search(text)
        return f"unreadable data: {detail.group(1).strip()}" if detail else "unreadable data"
    lines = text.strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
