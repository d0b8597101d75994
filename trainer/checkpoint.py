"""digitpad's model file: one format, written atomically, read without ever running its code.

A checkpoint file is ``torch.save`` of one plain dict::

    {"format": FORMAT_TAG, "version": FORMAT_VERSION,
     "arch": "digitnet", "model_args": {...},      # rebuilds the model: create_model(arch, **model_args)
     "state_dict": {name: tensor},
     "normalization": {"mean": 0.1307, "std": 0.3081},
     "hparams": {...}, "metrics": {...},          # the training config and final test figures
     "created": "2024-05-01T12:00:00+02:00",
     "sequence": {"arch": "penseq", "model_args": {...}, "state_dict": {...}, "normalization": {...}}}

"sequence" is optional: a pen-path model that reads drawings beside this image model (a personalized
model carries its adapted copy of the bundled one, digitpad.personal.adapt). It is checked like the
model itself (architecture, bounded arguments, dense finite weights, a probe) and must read pen paths.

Everything in it is a dict, list, str, int, float, bool, None or tensor, so it loads with
``torch.load(weights_only=True)``, the only way this module ever reads a file: a file that
needs arbitrary unpickling is refused, never executed. A bare ``state_dict`` of a registered
architecture (what coursework scripts save) is accepted too; its architecture is inferred
from the parameter names and shapes. Every failure raises `CheckpointError` naming the file.

A model file is untrusted input (people download and share them): `trainer.untrusted` inspects
the archive and its pickle before torch.load, and everything unpickled is checked for type, size
and range before anything else touches it. Arguments are checked against `MODEL_ARG_BOUNDS` and the
model they imply is sized on the ``meta`` device before any memory is allocated for it; weights must
be dense, finite and floating point; one forward pass on a blank image must give finite outputs.
Messages quote at most `MAX_NAME_SHOWN` characters of anything read from the file.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from trainer.data import MNIST_MEAN, MNIST_STD
from trainer.errors import CheckpointError
from trainer.models import ARCHITECTURES, REGISTRY, InputKind, create_model
from trainer.sizes import IMAGE_SIZE, NUM_CLASSES
from trainer.trajectory import MAX_POINTS as MAX_TRAJECTORY_POINTS
from trainer.trajectory import MIN_POINTS as MIN_TRAJECTORY_POINTS
from trainer.trajectory import trajectory_features
from trainer.untrusted import MAX_NAME_SHOWN, brief, check_model_path, inspect_model_file

FORMAT_TAG = "digitpad-checkpoint"
FORMAT_VERSION = 1

# Prefixes that wrappers add to every key: nn.DataParallel / DDP, and torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Keys under which training scripts commonly nest the weights in a bigger dict.
NESTED_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
SEQUENCE_FIELDS = ("arch", "model_args", "state_dict", "normalization")  # of the optional "sequence" field
NEW_FILE_MODE = 0o644  # mkstemp creates 0600; a model file is meant to be shared
MAX_PROBLEMS_SHOWN = 4  # key/shape mismatches listed in one error message
# How torch's weights-only unpickler names what a hostile (or merely exotic) file asks it to import.
UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
WEIGHTS_ONLY_DETAIL = re.compile(r"WeightsUnpickler error:\s*(.+?)\n\s*\n", re.S)

# What a file's model_args may ask for: the biggest model of each knob digitpad can train, with room to spare.
MODEL_ARG_BOUNDS = {  # whole numbers, inclusive
    "width": (1, 512),
    "deep_convs": (1, 32),
    "units": (1, 1024),  # pengru's GRU
    "points": (MIN_TRAJECTORY_POINTS, MAX_TRAJECTORY_POINTS),  # a trajectory model's path length
}
FNN_HIDDEN_BOUNDS = (1, 16384)  # each of fnn's two hidden layers
MAX_PARAMETERS = 20_000_000  # parameters and buffers of a loadable model: 80 MB float32 (digitnet: 0.3 M)
MAX_MODEL_ARGS = 16  # entries in model_args
MAX_SHORT_TEXT = 64  # characters of a name, an architecture, a format tag, a created date
MAX_STATE_ENTRIES = 10_000  # tensors in a state_dict (digitnet: 32)
MAX_METADATA_NODES = 10_000  # values in hparams or metrics, walked with a budget
MAX_METADATA_DEPTH = 8
MAX_METADATA_TEXT = 10_000  # characters of one string in hparams or metrics
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes a 64-bit seed
NORMALIZATION_MEAN = (-10.0, 10.0)  # pixels are in [0, 1]; any sane mean is near that
NORMALIZATION_STD = (1e-6, 1e3)
NUMERIC_METRICS = ("test_accuracy", "test_loss")  # read as numbers by the app and the CLI
# Temp files a save killed by kill -9 or a power cut leaves behind: removed on a later save to the same
# directory once this old (a live save in another process finishes in seconds).
STALE_TEMP_AGE_S = 300
TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")  # tempfile.mkstemp(prefix=".NAME.", suffix=".tmp")
MODEL_SUFFIXES = (".pt", ".pth", ".ckpt")
MAX_CACHED_LAYOUTS = 64  # (architecture, model_args) whose state_dict shapes are remembered
_LAYOUTS: dict[tuple[str, str], dict[str, tuple[tuple[int, ...], torch.dtype]]] = {}


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
    notes: list[str] = field(default_factory=list)  # what loading dropped or fixed, one line each (not saved)
    sequence: Checkpoint | None = None  # a pen-path model read beside this image model (saved as "sequence")

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
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"cannot make a checkpoint of unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    state = {_strip_wrappers(k): v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    return Checkpoint(
        arch=arch,
        model_args=_plain({**ARCHITECTURES[arch].default_args, **model_args}, "model_args"),
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
    never a mix, and no temp file behind. Temp files that a killed process left there
    (older than STALE_TEMP_AGE_S) are removed first.
    """
    path = Path(path)
    payload = _payload(ckpt, path)
    if path.is_dir():
        raise CheckpointError(f"cannot save the model to {path}: it is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(path.parent)
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


def remove_stale_temp_files(directory: Path, max_age_s: float = STALE_TEMP_AGE_S) -> list[Path]:
    """Delete our own leftover temp files (``.NAME.pt.xxxxxxxx.tmp``) older than `max_age_s`; the ones deleted.

    Best effort: a file that vanished meanwhile or cannot be removed is skipped.
    """
    removed, now = [], time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_NAME.fullmatch(entry.name)
        if not match or not match.group("target").endswith(MODEL_SUFFIXES):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > max_age_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


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
    if ckpt.sequence is not None:
        _check_weights(ckpt.sequence, f"{path}: field 'sequence'")
    return ckpt


def build_model(ckpt: Checkpoint, device: str | torch.device = "cpu") -> nn.Module:
    """The checkpoint's model with its weights, on `device`, in eval mode."""
    where = _where(ckpt)
    _check_weights(ckpt, where)  # before allocating: the arguments, the model's size, the weights
    model = _instantiate(ckpt.arch, ckpt.model_args, where)
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as exc:  # _check_weights should have caught it; keep the message ours anyway
        raise CheckpointError(f"{where}: the weights do not fit {ckpt.arch}: {brief(exc, 300)}") from exc
    _probe(model.eval(), ckpt, where)
    return model.to(device).eval()


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, Checkpoint]:
    """Load a checkpoint file and build its model on `device` (eval mode)."""
    ckpt = load_checkpoint(path, map_location="cpu")
    return build_model(ckpt, device), ckpt


# ---------------------------------------------------------------- reading


def _read(path: Path, map_location) -> object:
    check_model_path(path)  # before opening: a FIFO would block, a directory or a huge file is refused
    try:
        with open(path, "rb") as f:  # real I/O problems (permissions) reported as such, not as damage
            if not f.read(1):
                raise CheckpointError(f"{path}: the file is empty")
        inspect_model_file(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch reports damage as UnpicklingError, RuntimeError, OSError, KeyError, ...
        needed = UNSAFE_GLOBAL.search(str(exc))
        if needed:
            raise CheckpointError(
                f"{path}: refused: loading this file would run code from it (it asks for {brief(needed.group(1))}). "
                "digitpad loads only plain weights: a digitpad checkpoint or a state_dict (save model.state_dict(), not the whole model)"
            ) from None
        raise CheckpointError(f"{path}: not a PyTorch model file, or it is damaged ({_describe(exc)})") from None


def _from_payload(content: Mapping, path: Path) -> Checkpoint:
    tag = content.get("format")
    if tag != FORMAT_TAG:
        raise CheckpointError(f"{path}: unknown file format {_show(tag)} (expected {FORMAT_TAG!r})")
    version = content.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: invalid format version {_show(version)}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer digitpad (format version {_show(version)}; this one reads up to "
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
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"{path}: unknown architecture {_show(arch)}; this digitpad knows {', '.join(ARCHITECTURES)}")
    notes: list[str] = []
    return Checkpoint(
        arch=arch,
        model_args=_check_model_args({**ARCHITECTURES[arch].older_args, **_flat_args(content["model_args"], path)}, path),
        state_dict=_tensor_dict(content["state_dict"], path),
        normalization=_check_normalization(content["normalization"], path),
        hparams=_checked_hparams(content["hparams"], notes),
        metrics=_checked_metrics(content["metrics"], notes),
        created=_checked_created(content["created"], notes),
        path=path,
        notes=notes,
        sequence=_sequence_part(content["sequence"], path) if content.get("sequence") is not None else None,
    )


def _sequence_part(part: object, path: Path) -> Checkpoint:
    """The optional "sequence" field: a pen-path model's arch, model_args, state_dict and normalization."""
    where = f"{path}: field 'sequence'"
    if not isinstance(part, Mapping):
        raise CheckpointError(f"{where} should be a dict, but it is a {type(part).__name__}")
    for key in SEQUENCE_FIELDS:
        if not isinstance(part.get(key), Mapping if key != "arch" else str):
            raise CheckpointError(f"{where}: {key!r} is missing or of the wrong type")
    arch = part["arch"]
    if arch not in ARCHITECTURES or ARCHITECTURES[arch].input_kind is not InputKind.TRAJECTORY:
        raise CheckpointError(f"{where}: {_show(arch)} is not a pen-path architecture")
    return Checkpoint(
        arch=arch,
        model_args=_check_model_args({**ARCHITECTURES[arch].older_args, **_flat_args(part["model_args"], where)}, where),
        state_dict=_tensor_dict(part["state_dict"], where),
        normalization=_check_normalization(part["normalization"], where),
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
            expected = {k: shape for k, (shape, _) in _sized_model(name, args, str(path)).items()}
            problems = _mismatches(expected, state)
            if not problems:
                return name, dict(args)
            if i == 0:  # report against the current defaults: that is what a new file of this arch looks like
                problems_by_arch[name] = problems
                shared_keys[name] = len(expected.keys() & state.keys())
    known = f"no known architecture ({', '.join(REGISTRY)})"
    closest = max(shared_keys, key=lambda name: (shared_keys[name], -len(problems_by_arch[name])))
    if shared_keys[closest] == 0:
        keys = ", ".join(brief(k, MAX_NAME_SHOWN // 2) for k in list(state)[:MAX_PROBLEMS_SHOWN]) + (", ..." if len(state) > MAX_PROBLEMS_SHOWN else "")
        raise CheckpointError(f"{path}: a state_dict (keys {keys}) that matches {known}")
    raise CheckpointError(
        f"{path}: a state_dict that matches {known}; closest is {closest!r}, "
        f"but {_summarize(problems_by_arch[closest])}"
    )


def _is_tensor_dict(content: Mapping) -> bool:
    return all(isinstance(k, str) and isinstance(v, Tensor) for k, v in content.items())


def _tensor_dict(content: Mapping, path: Path) -> dict[str, Tensor]:
    if len(content) > MAX_STATE_ENTRIES:
        raise CheckpointError(f"{path}: the state_dict holds {len(content):,} entries (at most {MAX_STATE_ENTRIES:,})")
    if not _is_tensor_dict(content):
        bad = next(k for k, v in content.items() if not (isinstance(k, str) and isinstance(v, Tensor)))
        shown = _key(bad) if isinstance(bad, str) else _show(bad)
        raise CheckpointError(f"{path}: state_dict entry {shown} is not a tensor")
    return {_strip_wrappers(k): v for k, v in content.items()}


def _strip_wrappers(key: str) -> str:
    for prefix in WRAPPER_PREFIXES:
        while key.startswith(prefix):
            key = key[len(prefix):]
    return key


def _check_normalization(norm: Mapping, where) -> dict:
    mean, std = _real(norm.get("mean")), _real(norm.get("std"))
    sane = (
        mean is not None and std is not None
        and NORMALIZATION_MEAN[0] <= mean <= NORMALIZATION_MEAN[1]
        and NORMALIZATION_STD[0] <= std <= NORMALIZATION_STD[1]
    )
    if not sane:
        shown = f"mean {_show(norm.get('mean'))}, std {_show(norm.get('std'))}"
        raise CheckpointError(
            f"{where}: invalid normalization ({shown}; needs a finite 'mean' in {NORMALIZATION_MEAN[0]:g} to "
            f"{NORMALIZATION_MEAN[1]:g} and a positive 'std' in {NORMALIZATION_STD[0]:g} to {NORMALIZATION_STD[1]:g})"
        )
    return {"mean": mean, "std": std}


# ---------------------------------------------------------------- checking what a file holds, before using it


def _real(value) -> float | None:
    """`value` as a finite float, or None: bools, huge ints (10**400), NaN, inf and non-numbers are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and abs(value) > 2**63:
        return None
    return float(value) if math.isfinite(value) else None


def _show(value) -> str:
    """A value from a file, quoted for a message: short, whatever it is (no repr of nested structures)."""
    if isinstance(value, str):
        return repr(brief(value))
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, (list, tuple)) and len(value) <= 8 and all(_is_short_scalar(v) for v in value):
        return brief(repr(list(value)), MAX_NAME_SHOWN)
    if isinstance(value, (list, tuple, dict, Mapping)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _flat_args(args: Mapping, where) -> dict:
    """model_args as a small flat dict of short names to scalars or short lists of scalars."""
    if len(args) > MAX_MODEL_ARGS:
        raise CheckpointError(f"{where}: model_args holds {len(args)} entries (at most {MAX_MODEL_ARGS})")
    out = {}
    for key, value in args.items():
        if not isinstance(key, str) or len(key) > MAX_SHORT_TEXT:
            raise CheckpointError(f"{where}: model_args has a key that is not a short name ({_show(key)})")
        items = value if isinstance(value, (list, tuple)) else [value]
        if len(items) > 8 or not all(_is_short_scalar(v) for v in items):
            raise CheckpointError(f"{where}: model_args {key!r} is {_show(value)}, not a number or a short list")
        out[key] = list(value) if isinstance(value, (list, tuple)) else value
    return out


def _is_short_scalar(value) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return len(value) <= MAX_SHORT_TEXT
    return _real(value) is not None


def _check_model_args(args: dict, where) -> dict:
    """The arguments digitpad knows, within MODEL_ARG_BOUNDS; the architecture refuses unknown ones."""
    for key, (low, high) in MODEL_ARG_BOUNDS.items():
        if key in args and not _whole_in(args[key], low, high):
            raise CheckpointError(f"{where}: model_args {key!r} is {_show(args[key])}; it must be a whole number "
                                  f"from {low} to {high}")
    if "hidden" in args:
        hidden = args["hidden"]
        if not (isinstance(hidden, list) and len(hidden) == 2 and all(_whole_in(h, *FNN_HIDDEN_BOUNDS) for h in hidden)):
            raise CheckpointError(f"{where}: model_args 'hidden' is {_show(hidden)}; it must be two whole numbers "
                                  f"from {FNN_HIDDEN_BOUNDS[0]} to {FNN_HIDDEN_BOUNDS[1]}")
    if "dropout" in args:
        p = _real(args["dropout"])
        if p is None or not 0.0 <= p < 1.0:
            raise CheckpointError(f"{where}: model_args 'dropout' is {_show(args['dropout'])}; it must be from 0 to "
                                  "below 1")
    return args


def _whole_in(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _checked_hparams(hparams: Mapping, notes: list[str]) -> dict:
    """hparams as read, unless too big or too deep to show; a seed torch cannot take is dropped."""
    out = dict(hparams)
    if "seed" in out and not _whole_in(out["seed"], 0, MAX_SEED):
        notes.append(f"the training seed {_show(out.pop('seed'))} was ignored: not a whole number from 0 to 2**63-1")
    problem = _metadata_problem(out, [MAX_METADATA_NODES], 0)
    if problem:
        notes.append(f"the training settings were ignored: {problem}")
        return {}
    return out


def _checked_metrics(metrics: Mapping, notes: list[str]) -> dict:
    """metrics as read; test_accuracy and test_loss only as finite numbers (else dropped with a note)."""
    problem = _metadata_problem(metrics, [MAX_METADATA_NODES], 0)
    if problem:
        notes.append(f"the stored test results were ignored: {problem}")
        return {}
    out = dict(metrics)
    for key in NUMERIC_METRICS:
        if key in out and _real(out[key]) is None:
            notes.append(f"the stored {key} {_show(out.pop(key))} was ignored: not a finite number")
        elif key in out:
            out[key] = _real(out[key])
    return out


def _checked_created(created: str, notes: list[str]) -> str:
    if len(created) <= MAX_SHORT_TEXT:
        return created
    notes.append(f"the creation date was ignored: {len(created):,} characters long")
    return ""


def _metadata_problem(value, budget: list[int], depth: int) -> str | None:
    """Why `value` is not small plain metadata (dicts, lists, scalars), or None; `budget` counts values visited."""
    budget[0] -= 1
    if budget[0] < 0:
        return f"more than {MAX_METADATA_NODES:,} values"
    if depth > MAX_METADATA_DEPTH:
        return f"nested more than {MAX_METADATA_DEPTH} levels deep"
    if value is None or isinstance(value, (bool, float)):
        return None
    if isinstance(value, int):
        return None if abs(value) <= 2**64 else "an integer too big to use"
    if isinstance(value, str):
        return None if len(value) <= MAX_METADATA_TEXT else f"a text of {len(value):,} characters"
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) and len(k) <= MAX_SHORT_TEXT for k in list(value)[: budget[0] + 1]):
            return "a key that is not a short name"
        children = value.values()
    elif isinstance(value, (list, tuple)):
        children = value
    else:
        return f"a {type(value).__name__}"
    for child in children:
        problem = _metadata_problem(child, budget, depth + 1)
        if problem:
            return problem
    return None


# ---------------------------------------------------------------- checking weights against the architecture


def _instantiate(arch: str, model_args: dict, where: str, device: str | None = None) -> nn.Module:
    """The model; on the "meta" device it has shapes and dtypes but no memory, whatever its size."""
    try:
        if device is None:
            return create_model(arch, **model_args)
        with torch.device(device):
            return create_model(arch, **model_args)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{where}: cannot build {arch!r} with model_args {brief(repr(model_args), 200)}: {brief(exc, 200)}"
        ) from exc


def validate_model_args(arch: str, model_args: Mapping) -> dict:
    """`model_args` of `arch` if a checkpoint holding them would load (MODEL_ARG_BOUNDS, MAX_PARAMETERS);
    else CheckpointError. The trainer can call this before training, so that no run makes an unloadable file."""
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"unknown architecture {_show(arch)}; this digitpad knows {', '.join(ARCHITECTURES)}")
    where = f"{arch} with these model arguments"
    args = {**ARCHITECTURES[arch].default_args, **_flat_args(model_args, where)}
    _sized_model(arch, args, where)
    return args


def _sized_model(arch: str, model_args: dict, where: str) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Shape and dtype of every state_dict entry of the model `model_args` make, from a meta-device build
    (no memory), refused if bigger than MAX_PARAMETERS. Cached: a build takes ~30 ms, a load needs it twice."""
    args = _check_model_args(dict(model_args), where)
    key = (arch, repr(sorted(args.items())))  # flat scalars and short lists: repr is exact
    if key not in _LAYOUTS:
        model = _instantiate(arch, args, where, device="meta")
        layout = {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}
        count = sum(math.prod(shape) for shape, _ in layout.values())
        if count > MAX_PARAMETERS:
            raise CheckpointError(
                f"{where}: refused: model_args {brief(repr(model_args), 200)} make a {arch} of {count:,} parameters "
                f"(limit {MAX_PARAMETERS:,})"
            )
        if len(_LAYOUTS) >= MAX_CACHED_LAYOUTS:
            _LAYOUTS.clear()
        _LAYOUTS[key] = layout
    return _LAYOUTS[key]


def _check_weights(ckpt: Checkpoint, where: str) -> None:
    """Arguments, size, names, shapes, dtypes and values of the weights fit the architecture; else CheckpointError."""
    if not isinstance(ckpt.state_dict, Mapping) or not _is_tensor_dict(ckpt.state_dict):
        raise CheckpointError(f"{where}: the state_dict must map parameter names to tensors")
    layout = _sized_model(ckpt.arch, ckpt.model_args, where)
    problems = _mismatches({k: shape for k, (shape, _) in layout.items()}, ckpt.state_dict)
    if problems:
        raise CheckpointError(f"{where}: the weights do not fit {ckpt.arch}: {_summarize(problems)}")
    for key, value in ckpt.state_dict.items():
        problem = _tensor_problem(value, layout[key][1])
        if problem:
            raise CheckpointError(f"{where}: weight {_key(key)} {problem}")


def _tensor_problem(value: Tensor, expected: torch.dtype) -> str | None:
    """Why this tensor cannot be a weight the model expects as `expected`, or None."""
    if value.layout != torch.strided:
        return f"is a {str(value.layout).replace('torch.', '')} tensor; digitpad needs dense weights"
    if value.is_meta:
        return "is a meta tensor: it holds no values"
    if expected.is_floating_point:
        if not value.is_floating_point():
            return f"is {str(value.dtype).replace('torch.', '')}; digitpad needs floating-point weights"
        if not bool(torch.isfinite(value).all()):
            return "holds NaN or infinite values (a diverged training run?)"
    elif value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        return f"is {str(value.dtype).replace('torch.', '')}; the model keeps a whole-number count there"
    return None


def _image_probe(norm: dict, model_args: dict) -> Tensor:
    """A blank image and a bar, normalized as the model expects."""
    images = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)
    images[1, 0, 4:24, 12:16] = 1.0  # a "1"
    return (images - norm["mean"]) / norm["std"]


def _trajectory_probe(norm: dict, model_args: dict) -> Tensor:
    """A dot and a "7" in two strokes, as trainer.trajectory feeds them (trajectory features need no normalization)."""
    points = int(model_args["points"])
    seven = [np.array([[0.0, 0.0], [10.0, 0.0], [4.0, 20.0]]), np.array([[3.0, 10.0], [8.0, 10.0]])]
    return torch.from_numpy(np.stack([trajectory_features([[(1.0, 1.0)]], points), trajectory_features(seven, points)]))


# What one forward pass of a freshly loaded model is given, by the kind of input it reads.
PROBES = {InputKind.IMAGE: _image_probe, InputKind.TRAJECTORY: _trajectory_probe}


def _probe(model: nn.Module, ckpt: Checkpoint, where: str) -> None:
    """One forward pass on two test inputs of the model's kind: weights that overflow (x1e37) give NaN or inf."""
    spec = ARCHITECTURES[ckpt.arch]
    x = PROBES[spec.input_kind](ckpt.normalization, {**spec.default_args, **ckpt.model_args})
    try:
        with torch.inference_mode():
            out = model(x.to(next(model.parameters()).dtype))
    except (RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{where}: the model fails on a test input: {brief(exc, 200)}") from exc
    if tuple(out.shape) != (2, NUM_CLASSES) or not bool(torch.isfinite(out).all()):
        raise CheckpointError(
            f"{where}: refused: on a test input the model outputs NaN or infinite values (its weights are out of range)"
        )


def _key(key: str) -> str:
    return repr(brief(key, MAX_NAME_SHOWN // 2))


def _mismatches(expected: dict[str, tuple[int, ...]], state: Mapping[str, Tensor]) -> list[str]:
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k!r} has shape {_show_shape(state[k].shape)}, the model expects {expected[k]}"
        for k in expected
        if k in state and tuple(state[k].shape) != expected[k]
    ]
    return (
        [f"missing {k!r}" for k in missing] + [f"unknown key {_key(k)}" for k in unexpected]
        + shapes
    )


def _show_shape(shape) -> str:
    return brief(str(tuple(shape)), 80)


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
            **({"sequence": _sequence_payload(ckpt.sequence)} if ckpt.sequence is not None else {}),
        }
    except CheckpointError as exc:
        raise CheckpointError(f"cannot save the model to {path}: {exc}") from None


def _sequence_payload(seq: Checkpoint) -> dict:
    if ARCHITECTURES[seq.arch].input_kind is not InputKind.TRAJECTORY or seq.sequence is not None:
        raise CheckpointError(f"its 'sequence' must be one pen-path model, not a {seq.arch}")
    return {
        "arch": str(seq.arch),
        "model_args": _plain(dict(seq.model_args), "sequence model_args"),
        "state_dict": {k: v.detach().cpu() for k, v in seq.state_dict.items()},
        "normalization": _plain(dict(seq.normalization), "sequence normalization"),
    }


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
