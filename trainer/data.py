"""MNIST in memory: read and validate the IDX files, split, and batch by indexing.

The whole dataset lives in uint8 tensors (47 MB for the training set) and is moved to the
training device once; batches are cut by indexing those tensors. That replaces the classic
per-sample ``DataLoader`` + PIL ``ToTensor``/``Normalize`` path, whose Python work per image
costs about as much as the model's compute on a small CPU.

Where the files are looked for, in order: the ``data_dir`` argument (the CLI's ``--data-dir``),
``$DIGITPAD_DATA``, a per-user cache directory. Inside that directory the four files may sit
directly or in torchvision's layout ``<dir>/MNIST/raw/``, gzip-compressed or not.
"""

from __future__ import annotations

import functools
import gzip
import math
import numbers
import os
import socket
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from trainer.augment import random_affine
from trainer.errors import DataError
from trainer.sizes import IMAGE_SIZE, NUM_CLASSES

# Statistics of the MNIST training set; models expect (x/255 - MNIST_MEAN) / MNIST_STD.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

DATA_DIR_ENV = "DIGITPAD_DATA"
TORCHVISION_SUBDIR = Path("MNIST") / "raw"  # where torchvision's datasets.MNIST keeps the files

# Each file under its canonical name first, then the dotted spelling some mirrors use.
FILE_NAMES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}

IDX_UBYTE = 0x08  # IDX type code for unsigned bytes, the only type MNIST uses
IDX_IMAGES_MAGIC = 0x00000803  # 2051: ubyte, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # 2049: ubyte, 1 dimension
GZIP_MAGIC = b"\x1f\x8b"
# Bounds on what an IDX header may announce: MNIST has 60,000 + 10,000 items (47 MB); EMNIST digits 240,000.
MAX_IDX_ITEMS = 1_000_000
MAX_IDX_BYTES = 1_000_000 * IMAGE_SIZE * IMAGE_SIZE  # 748 MB
IDX_READ_CHUNK = 2**20
IDX_EXTRA_COUNTED = 16 * 2**20  # trailing bytes counted for the message; beyond this, "more than"

# A quick "is the network there" probe before handing over to torchvision, so an offline
# machine gets our message in seconds instead of a long hang inside urllib.
DOWNLOAD_PROBE_HOST = ("ossci-datasets.s3.amazonaws.com", 443)
DOWNLOAD_PROBE_TIMEOUT_S = 3.0


@dataclass(eq=False)  # tensors have no single truth value, so no generated __eq__
class Split:
    """A set of images with their labels, all in memory."""

    images: Tensor  # (N, 28, 28) uint8
    labels: Tensor  # (N,) int64
    _on_device: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.images.dim() != 3 or self.images.dtype != torch.uint8:
            raise ValueError(f"Split.images must be (N,28,28) uint8, "
                             f"got {tuple(self.images.shape)} {self.images.dtype}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"Split.labels must be ({self.images.shape[0]},), got {tuple(self.labels.shape)}")
        self.labels = self.labels.long()

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def on(self, device: torch.device | str) -> tuple[Tensor, Tensor]:
        """(images, labels) on ``device``, copied there once and then reused."""
        device = torch.device(device)
        if self.images.device == device:
            return self.images, self.labels
        key = str(device)
        cached = self._on_device.get(key)
        # The identity check drops a stale copy if someone replaced the tensors meanwhile.
        if cached is None or cached[0] is not self.images or cached[1] is not self.labels:
            cached = (self.images, self.labels,
                      self.images.to(device, non_blocking=True), self.labels.to(device, non_blocking=True))
            self._on_device[key] = cached
        return cached[2], cached[3]


@dataclass(eq=False)
class MnistData:
    """The loaded dataset: training split, test split, optional validation split, source directory."""

    train: Split
    test: Split
    val: Split | None
    source: Path


# --------------------------------------------------------------------------- locating the files


def default_data_dir() -> Path:
    """``$DIGITPAD_DATA`` when set, else the per-user cache directory ``.../digitpad/mnist``."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return _user_cache_dir() / "digitpad" / "mnist"


def _user_cache_dir() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) if base else Path.home() / "AppData" / "Local"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return Path(base) if base else Path.home() / ".cache"


def _find_file(directory: Path, names: tuple[str, ...]) -> Path | None:
    # Uncompressed first: it reads faster, and torchvision's layout holds both.
    for name in names:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def find_mnist_files(data_dir: Path) -> dict[str, Path] | None:
    """The four files in ``data_dir`` or its ``MNIST/raw/`` subfolder, or None when incomplete."""
    for directory in (data_dir, data_dir / TORCHVISION_SUBDIR):
        found = {key: _find_file(directory, names) for key, names in FILE_NAMES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def _missing_message(data_dir: Path, reason: str) -> str:
    names = ", ".join(names[0] for names in FILE_NAMES.values())
    return (
        f"MNIST not found in {data_dir}: digitpad needs the four MNIST files {names} "
        f"(each may be gzip-compressed, ending in .gz), either directly in that directory or in its "
        f"{TORCHVISION_SUBDIR.as_posix()}/ subfolder. {reason} Put the files there, or point digitpad at "
        f"the directory that holds them with --data-dir DIR or the {DATA_DIR_ENV} environment variable."
    )


def _network_reachable() -> bool:
    try:
        with socket.create_connection(DOWNLOAD_PROBE_HOST, timeout=DOWNLOAD_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def download_mnist(root: Path) -> None:
    """Fetch MNIST into ``root/MNIST/raw`` through torchvision; DataError on any failure."""
    if not _network_reachable():
        raise DataError(_missing_message(root, "The files could not be downloaded: no network connection."))
    try:
        root.mkdir(parents=True, exist_ok=True)
        # torchvision only here: the rest of digitpad must work without it.
        from torchvision import datasets

        datasets.MNIST(str(root), train=True, download=True)
        datasets.MNIST(str(root), train=False, download=True)
    except Exception as exc:  # noqa: BLE001 - a broken torchvision, HTTP errors, a full disk: one clear message
        detail = f"{type(exc).__name__}: {exc}".strip().rstrip(".")
        raise DataError(_missing_message(root, f"Downloading them failed ({detail}).")) from None


# --------------------------------------------------------------------------- reading IDX files


def read_idx(path: str | os.PathLike, expected_magic: int | None = None, *, item_shape: tuple | None = None) -> np.ndarray:
    """Read an IDX file (gzip or raw) of unsigned bytes into an array of its declared shape.

    Checks the magic number (against ``expected_magic`` when given), the dimensions (each item's
    against ``item_shape`` when given, the count against MAX_IDX_ITEMS) and that the data is exactly
    as long as the header says; any problem raises DataError naming the file. The header is checked
    before the data is read, and a gzip stream is inflated only up to what the header declares (plus
    a little to see that nothing follows): a small .gz that inflates to gigabytes costs no more.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            if not compressed and path.suffix == ".gz":
                raise DataError(f"{path}: the name ends in .gz but the file is not gzip-compressed.")
            if not compressed:
                return _read_idx_stream(path, raw, expected_magic, item_shape, os.fstat(raw.fileno()).st_size)
            with gzip.GzipFile(fileobj=raw) as stream:
                try:
                    return _read_idx_stream(path, stream, expected_magic, item_shape, None)
                except (OSError, EOFError, zlib.error) as exc:
                    raise DataError(f"{path}: the gzip data is corrupt or truncated ({exc}).") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}).") from None


def _read_idx_stream(path: Path, stream, expected_magic: int | None, item_shape: tuple | None,
                     file_size: int | None) -> np.ndarray:
    head = stream.read(4)
    if len(head) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(head)} bytes).")
    magic = int.from_bytes(head, "big")
    zeros, type_code, ndim = head[0:2], head[2], head[3]
    if zeros != b"\0\0" or type_code != IDX_UBYTE or not 1 <= ndim <= 4:
        raise DataError(f"{path}: wrong magic number {magic:#010x}; this is not an IDX file of unsigned bytes.")
    if expected_magic is not None and magic != expected_magic:
        raise DataError(f"{path}: wrong magic number {magic} (expected {expected_magic}): is it the right file?")
    header_len = 4 + 4 * ndim
    dim_bytes = stream.read(4 * ndim)
    if len(dim_bytes) < 4 * ndim:
        raise DataError(f"{path}: truncated inside the header ({4 + len(dim_bytes)} bytes).")
    dims = tuple(int.from_bytes(dim_bytes[4 * i: 4 + 4 * i], "big") for i in range(ndim))
    if item_shape is not None and dims[1:] != tuple(item_shape):
        shown = "x".join(map(str, dims[1:])) or "single values"
        kind = "images" if ndim == 3 else "items"
        raise DataError(f"{path}: {kind} are {shown}, expected {'x'.join(map(str, item_shape))}.")
    expected = math.prod(dims)
    if dims[0] > MAX_IDX_ITEMS or expected > MAX_IDX_BYTES:
        raise DataError(f"{path}: the header announces {dims} = {expected:,} bytes of data; an MNIST-like file "
                        f"holds at most {MAX_IDX_ITEMS:,} items ({MAX_IDX_BYTES // 2**20} MB). Is it the right file?")
    found = None if file_size is None else file_size - header_len
    if found is None or found == expected:
        data = stream.read(expected + 1)  # bounded: a gzip bomb inflates no further than this
        found = len(data) if len(data) <= expected else expected + _count_rest(stream, len(data) - expected)
    if found < expected:
        raise DataError(f"{path}: truncated: the header announces {dims} = {expected} bytes of data, "
                        f"the file holds {found}.")
    if found > expected:
        more = "more than " if found - expected >= IDX_EXTRA_COUNTED else ""
        raise DataError(f"{path}: {more}{found - expected} unexpected bytes after the {expected} the header announces.")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _count_rest(stream, already: int) -> int:
    """How many bytes follow in `stream`, counted up to IDX_EXTRA_COUNTED (a bomb is not inflated to its end)."""
    count = already
    while count < IDX_EXTRA_COUNTED:
        chunk = stream.read(min(IDX_READ_CHUNK, IDX_EXTRA_COUNTED - count))
        if not chunk:
            break
        count += len(chunk)
    return count


def _read_images(path: Path) -> np.ndarray:
    return read_idx(path, IDX_IMAGES_MAGIC, item_shape=(IMAGE_SIZE, IMAGE_SIZE))


def _read_labels(path: Path) -> np.ndarray:
    labels = read_idx(path, IDX_LABELS_MAGIC)
    if labels.size and labels.max() >= NUM_CLASSES:
        raise DataError(f"{path}: holds label {int(labels.max())}; MNIST labels are 0-9.")
    return labels


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=4)
def _load_pair_cached(images_key: tuple[str, int, int], labels_key: tuple[str, int, int]) -> Split:
    # Keyed by path, mtime and size, so a replaced file is read again.
    images_path, labels_path = Path(images_key[0]), Path(labels_key[0])
    images, labels = _read_images(images_path), _read_labels(labels_path)
    if len(images) != len(labels):
        raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                        f"{len(labels)} labels; the counts must match.")
    # frombuffer views are read-only; copying gives tensors that own writable memory.
    return Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


def _copy(split: Split) -> Split:
    return Split(split.images.clone(), split.labels.clone())


# --------------------------------------------------------------------------- splitting


def stratified_indices(labels: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """``count`` random indices (sorted) whose class mix follows ``labels`` as closely as possible.

    Every class contributes in proportion to its share of ``labels`` (within one sample), so even a
    100-sample subset holds about ten of each digit. Deterministic for a seeded generator.
    """
    n = labels.shape[0]
    count = max(0, min(count, n))
    perm = torch.randperm(n, generator=generator)
    shuffled = labels[perm]
    order = torch.sort(shuffled, stable=True).indices  # grouped by class, random within class
    sorted_labels = shuffled[order]
    class_counts = torch.bincount(sorted_labels, minlength=NUM_CLASSES)
    class_start = torch.cumsum(class_counts, 0) - class_counts
    rank = torch.arange(n) - class_start[sorted_labels]  # position within its class
    # Taking the smallest rank/size first draws from every class at the same rate.
    key = (rank.double() + 0.5) / class_counts[sorted_labels].double()
    chosen = order[torch.sort(key, stable=True).indices[:count]]
    return torch.sort(perm[chosen]).values


def _take(split: Split, indices: Tensor) -> Split:
    return Split(split.images[indices], split.labels[indices])


def _complement(n: int, indices: Tensor) -> Tensor:
    keep = torch.ones(n, dtype=torch.bool)
    keep[indices] = False
    return keep.nonzero().squeeze(1)


def _check_count(name: str, value: int | None, minimum: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum):
        raise DataError(f"{name} must be a whole number >= {minimum}, got {value!r}.")


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    subset: int | None = None,
    test_subset: int | None = None,
    val_size: int = 0,
    seed: int = 0,
) -> MnistData:
    """Load MNIST into memory, downloading it first when it is absent and ``download`` is true.

    ``val_size`` training images are held out as the validation split (a class-balanced random
    draw fixed by ``seed``). ``subset`` then keeps at most that many of the remaining training
    images, ``test_subset`` at most that many test images, each a class-balanced random draw fixed
    by ``seed``; the same arguments always give the same images. Every problem raises DataError
    with a message meant for the user.
    """
    _check_count("subset", subset, 1)
    _check_count("test_subset", test_subset, 1)
    _check_count("val_size", val_size, 0)
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    files = _locate_mnist(root, download)
    # The in-process cache's tensors: every path below copies before handing them out.
    shared_train = _load_pair_cached(_file_key(files["train_images"]), _file_key(files["train_labels"]))
    shared_test = _load_pair_cached(_file_key(files["test_images"]), _file_key(files["test_labels"]))
    train, test, val = _draw_splits(shared_train, shared_test, subset, test_subset, val_size, seed)
    if train is shared_train:
        train = _copy(train)
    if test is shared_test:
        test = _copy(test)
    return MnistData(train=train, test=test, val=val, source=files["train_images"].parent.resolve())


def _locate_mnist(root: Path, download: bool) -> dict[str, Path]:
    """The four files under `root`, downloaded first when missing and `download` is true."""
    files = find_mnist_files(root)
    if files is None:
        if not download:
            raise DataError(_missing_message(root, "Downloading is switched off."))
        download_mnist(root)
        files = find_mnist_files(root)
        if files is None:
            raise DataError(_missing_message(root, "A download was attempted but the files did not appear."))
    return files


def _draw_splits(
    train: Split, test: Split, subset: int | None, test_subset: int | None, val_size: int, seed: int
) -> tuple[Split, Split, Split | None]:
    """Hold out the validation split, then draw the subsets (each class-balanced, fixed by `seed`)."""
    val = None
    if val_size:
        if val_size >= len(train):
            raise DataError(f"val_size {val_size} leaves no training images (the training set has {len(train)}).")
        val_idx = stratified_indices(train.labels, val_size, torch.Generator().manual_seed(seed))
        val = _take(train, val_idx)
        train = _take(train, _complement(len(train), val_idx))
    # Separate streams so the validation split does not depend on subset and vice versa.
    if subset is not None and subset < len(train):
        train = _take(train, stratified_indices(train.labels, subset, torch.Generator().manual_seed(seed + 1)))
    if test_subset is not None and test_subset < len(test):
        test = _take(test, stratified_indices(test.labels, test_subset, torch.Generator().manual_seed(seed + 2)))
    return train, test, val


def concat_splits(*splits: Split) -> Split:
    """One split holding the samples of all ``splits`` in order (e.g. MNIST plus rendered pen digits)."""
    if not splits:
        raise ValueError("concat_splits needs at least one split")
    return Split(torch.cat([s.images.cpu() for s in splits]), torch.cat([s.labels.cpu() for s in splits]))


# --------------------------------------------------------------------------- batching


def normalize(images_uint8: Tensor) -> Tensor:
    """(B,28,28) or (B,1,28,28) uint8 -> (B,1,28,28) float32, ``(x/255 - MNIST_MEAN) / MNIST_STD``."""
    x = images_uint8.float()
    if x.dim() == 3:
        x = x.unsqueeze(1)
    return _standardize(x.div_(255.0))


def _standardize(x01: Tensor) -> Tensor:
    return x01.sub_(MNIST_MEAN).div_(MNIST_STD)


def iterate_batches(
    split: Split,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    augment: bool = False,
    drop_last: bool = False,
) -> Iterator[tuple[Tensor, Tensor]]:
    """One epoch of (normalized float (B,1,28,28), int64 labels (B,)) batches on ``device``.

    The split is copied to ``device`` once (cached on the split) and batches are cut by indexing.
    ``generator`` drives the shuffle and the augmentation, so a seeded one repeats the epoch
    exactly. Without ``drop_last`` every sample appears exactly once, the last batch maybe smaller.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    images, labels = split.on(device)
    n = images.shape[0]
    order = None
    if shuffle:
        rng_device = generator.device if generator is not None else torch.device("cpu")
        order = torch.randperm(n, generator=generator, device=rng_device).to(images.device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            x, y = images[start:start + batch_size], labels[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            x, y = images[idx], labels[idx]
        x = x.unsqueeze(1).float().div_(255.0)
        if augment:
            # Before standardizing: the affine fills uncovered pixels with 0, the background of [0,1] images.
            x = random_affine(x, generator)
        yield _standardize(x), y
