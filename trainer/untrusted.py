"""Inspect a model file before ``torch.load`` reads it: a shared file is untrusted input.

``torch.load(weights_only=True)`` runs no arbitrary code, but it still lets a file call the
functions on its allow-list with arguments of the file's choosing (``bytearray(3_000_000_000)``),
inflate deflate-compressed records of any declared size, and unpickle shared references that
expand to 2**40 items when anything walks them. So before torch sees the file, this module
checks, without allocating more than the file's own size:

- the path is a regular file (a FIFO would block the reader forever) of bounded size;
- the zip archive: entry count, declared sizes, compression ratio;
- the pickle, instruction by instruction (`pickletools`), on a small stack machine that runs
  nothing: only the instructions and globals a state_dict or a digitpad checkpoint needs, a
  bounded nesting depth and a bounded size when shared references are expanded, and tensor
  storages that match the records that hold their bytes.

Every refusal raises `CheckpointError` naming the file and the problem in under 1,000 characters.
``weights_only=True`` stays on as the second line of defence.
"""

from __future__ import annotations

import io
import os
import pickletools
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import CheckpointError
from trainer.files import regular_file

MAX_MODEL_FILE_BYTES = 256 * 2**20  # 8x the biggest model digitpad's limits allow (20 M float64 parameters = 160 MB)
MAX_ZIP_ENTRIES = 10_000  # a state_dict holds one record per tensor; digitnet has 38 entries
MAX_PICKLE_BYTES = 4 * 2**20  # digitnet's data.pkl is 3 KB
MAX_COMPRESSION_RATIO = 20  # torch.save stores records uncompressed (ratio 1); a deflate bomb reaches 1000
MAX_PICKLE_DEPTH = 32  # a checkpoint nests 5 levels; x = [x, x] 40 levels deep is an attack
MAX_EXPANDED_ITEMS = 1_000_000  # values when every shared reference is expanded; digitnet's file: ~3,000
MAX_MEMO = 200_000  # memoized objects; digitnet's file: 300
MAX_NAME_SHOWN = 100  # characters of a name from the file put into a message

ZIP_MAGIC = b"PK\x03\x04"
EOCD_SIGNATURE = b"PK\x05\x06"
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
EOCD_SIZE = 22
MAX_ZIP_COMMENT = 65535

# Tensor storage classes and their element size: what a tensor record of each dtype needs. Integer,
# bool and complex storages are let through here and refused after loading with a message about the dtype.
STORAGE_TYPES = {
    "torch.DoubleStorage": 8, "torch.FloatStorage": 4, "torch.HalfStorage": 2, "torch.BFloat16Storage": 2,
    "torch.LongStorage": 8, "torch.IntStorage": 4, "torch.ShortStorage": 2, "torch.CharStorage": 1,
    "torch.ByteStorage": 1, "torch.BoolStorage": 1, "torch.ComplexFloatStorage": 8, "torch.ComplexDoubleStorage": 16,
}
# The callables a state_dict or a digitpad checkpoint is rebuilt with; torch.save emits nothing else for them.
ALLOWED_CALLS = frozenset({"torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "collections.OrderedDict"})
STORAGE_LOCATIONS = ("cpu", "cuda", "mps")  # where a tensor was saved from; map_location brings it to the CPU

# Instructions that push one plain value (numbers, strings, bytes, None, booleans).
SCALAR_OPS = frozenset({
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "NONE", "NEWTRUE", "NEWFALSE",
})
CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
EMPTY_CONTAINER_OPS = frozenset({"EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET", "EMPTY_TUPLE"})
PYTHON2_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg"}  # protocol-2 pickles spell these the old way


@dataclass
class _Node:
    """What the stack machine knows of one unpickled value (never the value itself, except small constants)."""

    size: int = 1  # values inside it, counting a shared reference each time it appears
    depth: int = 0  # nesting levels below it
    value: object = None  # a scalar, a tuple of constants, or a _Global
    constant: bool = False  # `value` is meaningful


@dataclass(frozen=True)
class _Global:
    name: str


@dataclass(frozen=True)
class Storage:
    """A tensor storage the pickle refers to: the record that holds its bytes, and how many it needs."""

    key: str
    type_name: str
    location: str
    nbytes: int


MARK = object()


def check_model_path(path: Path) -> int:
    """The size of the regular file at `path`, or CheckpointError. Never opens it (a FIFO would block)."""
    info = regular_file(path, CheckpointError, "a model file")
    if info.st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    if info.st_size > MAX_MODEL_FILE_BYTES:
        raise CheckpointError(
            f"{path}: refused: {info.st_size / 2**20:.0f} MB is more than any model digitpad can use "
            f"(limit {MAX_MODEL_FILE_BYTES // 2**20} MB)"
        )
    return info.st_size


def inspect_model_file(path: Path) -> list[Storage]:
    """Check the archive and its pickle before torch.load; returns the tensor storages it declares."""
    with open(path, "rb") as f:
        head = f.read(len(ZIP_MAGIC))
        if head != ZIP_MAGIC:
            f.seek(0)
            _refuse_plain_pickle(path, f.read(MAX_PICKLE_BYTES))
        size = f.seek(0, os.SEEK_END)
        _check_central_directory(path, f, size)
    try:
        with zipfile.ZipFile(path) as archive:
            return _check_archive(path, archive)
    except CheckpointError:  # a ValueError too: ours, already worded
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error) as exc:
        raise CheckpointError(f"{path}: not a PyTorch model file, or it is damaged (zip archive: {brief(exc)})") from None


def _refuse_plain_pickle(path: Path, data: bytes) -> None:
    """A file that is no zip: name a hostile global if it is a pickle that asks for one, else call it damaged."""
    try:
        _scan_pickle(path, data)
    except CheckpointError:
        raise
    except Exception:  # noqa: BLE001 - whatever the garbage makes the scanner trip on, it is not a model
        pass
    raise CheckpointError(
        f"{path}: not a PyTorch model file, or it is damaged (not a zip archive; a file saved by PyTorch "
        "before 1.6 must be loaded and saved again with a current PyTorch)"
    )


def _check_central_directory(path: Path, f, size: int) -> None:
    """Bound the entry count and directory size from the end record, before zipfile reads the directory."""
    tail_len = min(size, EOCD_SIZE + MAX_ZIP_COMMENT)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(EOCD_SIGNATURE)
    if at < 0 or len(tail) - at < EOCD_SIZE:
        raise CheckpointError(f"{path}: not a PyTorch model file, or it is damaged (a truncated zip archive)")
    entries, directory_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    locator = tail[at - 20 : at] if at >= 20 else b""
    if locator[:4] == ZIP64_LOCATOR_SIGNATURE:
        (offset,) = struct.unpack("<Q", locator[8:16])
        f.seek(min(offset, size))
        record = f.read(56)
        if record[:4] == ZIP64_EOCD_SIGNATURE:
            entries, directory_size = struct.unpack("<QQ", record[32:48])
    if entries > MAX_ZIP_ENTRIES:
        raise CheckpointError(f"{path}: refused: the archive lists {entries:,} entries (a model file has a few hundred)")
    if directory_size > size:
        raise CheckpointError(f"{path}: not a PyTorch model file, or it is damaged (its zip directory is cut off)")


def _check_archive(path: Path, archive: zipfile.ZipFile) -> list[Storage]:
    entries = archive.infolist()
    pickles = [e for e in entries if e.filename == "data.pkl" or e.filename.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise CheckpointError(f"{path}: not a PyTorch model file, or it is damaged (no single data.pkl in the archive)")
    total = 0
    for entry in entries:
        total += entry.file_size
        if entry.compress_type != zipfile.ZIP_STORED and entry.file_size > MAX_COMPRESSION_RATIO * max(
            entry.compress_size, 1
        ):
            raise CheckpointError(
                f"{path}: refused: record {brief(entry.filename)} would inflate from {entry.compress_size:,} to "
                f"{entry.file_size:,} bytes (a compression bomb)"
            )
    if total > MAX_MODEL_FILE_BYTES:
        raise CheckpointError(
            f"{path}: refused: its records declare {total / 2**20:,.0f} MB in all "
            f"(limit {MAX_MODEL_FILE_BYTES // 2**20} MB)"
        )
    pkl = pickles[0]
    if pkl.file_size > MAX_PICKLE_BYTES:
        raise CheckpointError(
            f"{path}: refused: its pickle declares {pkl.file_size:,} bytes (limit {MAX_PICKLE_BYTES:,})"
        )
    try:
        storages = _scan_pickle(path, archive.read(pkl))
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - a stack underflow, an unknown memo key: the pickle is garbage
        raise CheckpointError(f"{path}: not a PyTorch model file, or it is damaged (its pickle: "
                              f"{type(exc).__name__})") from None
    _check_storages(path, storages, {e.filename: e.file_size for e in entries}, pkl.filename[: -len("data.pkl")])
    return storages


def _check_storages(path: Path, storages: list[Storage], sizes: dict[str, int], prefix: str) -> None:
    for storage in storages:
        record = f"{prefix}data/{storage.key}"
        if record not in sizes:
            raise CheckpointError(f"{path}: not a PyTorch model file, or it is damaged (no record for tensor storage "
                                  f"{brief(storage.key)})")
        if sizes[record] < storage.nbytes:
            raise CheckpointError(
                f"{path}: not a PyTorch model file, or it is damaged (tensor storage {brief(storage.key)} needs "
                f"{storage.nbytes:,} bytes, its record holds {sizes[record]:,})"
            )


# ---------------------------------------------------------------- the pickle, instruction by instruction


def _scan_pickle(path: Path, data: bytes) -> list[Storage]:
    """Walk the pickle's instructions without building anything; the storages it refers to."""
    scan = _Scan(path)
    for opcode, arg, _pos in pickletools.genops(io.BytesIO(data)):
        if opcode.name == "STOP":
            return scan.storages
        scan.step(opcode.name, arg)
    raise CheckpointError(f"{path}: not a PyTorch model file, or it is damaged (the pickle has no end)")


class _Scan:
    """A stack machine that tracks sizes, depths, globals and storages of the values a pickle would build."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stack: list = []
        self.memo: dict = {}
        self.storages: list[Storage] = []

    def step(self, name: str, arg) -> None:
        if name in SCALAR_OPS:
            self.stack.append(_Node(value=CONSTANTS.get(name, arg), constant=True))
        elif name in EMPTY_CONTAINER_OPS:
            self.stack.append(_Node(value=(), constant=name == "EMPTY_TUPLE"))
        elif name == "MARK":
            self.stack.append(MARK)
        elif name in ("APPEND", "SETITEM", "BUILD"):
            items = [self._pop() for _ in range(1 if name != "SETITEM" else 2)]
            self._grow(self._top(), items)
        elif name in ("APPENDS", "SETITEMS", "ADDITEMS"):
            items = self._pop_mark()
            self._grow(self._top(), items)
        elif name in ("TUPLE", "LIST", "DICT", "FROZENSET"):
            self._push_container(self._pop_mark(), tuple_=name == "TUPLE")
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            items = [self._pop() for _ in range(int(name[-1]))][::-1]
            self._push_container(items, tuple_=True)
        else:
            self._step_other(name, arg)

    def _step_other(self, name: str, arg) -> None:
        if name in ("PROTO", "FRAME"):
            return
        if name == "POP":
            self._pop()
        elif name == "POP_MARK":
            self._pop_mark()
        elif name == "DUP":
            self.stack.append(self._top())
        elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            if len(self.memo) >= MAX_MEMO:
                raise CheckpointError(f"{self.path}: refused: its pickle memoizes more than {MAX_MEMO:,} objects")
            self.memo[len(self.memo) if name == "MEMOIZE" else arg] = self._top()
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            self.stack.append(self.memo[arg])  # KeyError: damaged
        elif name == "GLOBAL":
            self.stack.append(self._global(*arg.split(" ", 1)))
        elif name == "STACK_GLOBAL":
            attr, module = self._pop(), self._pop()
            if not (isinstance(module.value, str) and isinstance(attr.value, str)):
                raise ValueError("STACK_GLOBAL without two names")
            self.stack.append(self._global(module.value, attr.value))
        elif name == "REDUCE":
            args, func = self._pop(), self._pop()
            if not isinstance(func.value, _Global) or func.value.name not in ALLOWED_CALLS:
                raise ValueError("REDUCE of something that is not an allowed function")
            self.stack.append(_Node(size=args.size, depth=args.depth))
        elif name == "BINPERSID":
            self.storages.append(self._storage(self._pop()))
            self.stack.append(_Node())
        else:
            raise CheckpointError(
                f"{self.path}: refused: its pickle uses the {name} instruction, which plain weights never need "
                "(loading it could run code from the file)"
            )

    def _global(self, module: str, attr: str) -> _Node:
        full = f"{PYTHON2_NAMES.get(module, module)}.{attr}"
        if full not in ALLOWED_CALLS and full not in STORAGE_TYPES:
            raise CheckpointError(
                f"{self.path}: refused: loading this file would run code from it (it asks for {brief(full)}). "
                "digitpad loads only plain weights: a digitpad checkpoint or a state_dict "
                "(save model.state_dict(), not the whole model)"
            )
        return _Node(value=_Global(full), constant=True)

    def _storage(self, pid: _Node) -> Storage:
        value = pid.value if pid.constant else None
        ok = isinstance(value, tuple) and len(value) == 5 and value[0] == "storage"
        if ok:
            _, kind, key, location, numel = value
            ok = isinstance(kind, _Global) and isinstance(key, str) and isinstance(location, str)
            ok = ok and isinstance(numel, int) and not isinstance(numel, bool) and numel >= 0
        if not ok:
            raise CheckpointError(f"{self.path}: not a PyTorch model file, or it is damaged (a tensor storage it "
                                  "refers to is not described the way torch.save describes one)")
        if not location.startswith(STORAGE_LOCATIONS):
            raise CheckpointError(f"{self.path}: refused: a tensor was saved on device {brief(location)}; "
                                  "digitpad loads weights saved from the CPU or a GPU")
        return Storage(key, kind.name, location, numel * STORAGE_TYPES[kind.name])

    # -- stack helpers

    def _pop(self) -> _Node:
        item = self.stack.pop()
        if item is MARK:
            raise ValueError("a mark where a value should be")
        return item

    def _top(self) -> _Node:
        item = self.stack[-1]
        if item is MARK:
            raise ValueError("a mark where a value should be")
        return item

    def _pop_mark(self) -> list[_Node]:
        items = []
        while (item := self.stack.pop()) is not MARK:
            items.append(item)
        return items[::-1]

    def _push_container(self, items: list[_Node], tuple_: bool) -> None:
        node = _Node(value=(), constant=tuple_)
        self._grow(node, items)
        self.stack.append(node)

    def _grow(self, container: _Node, items: list[_Node]) -> None:
        if not items:
            return
        container.size += sum(item.size for item in items)
        container.depth = max(container.depth, 1 + max(item.depth for item in items))
        if container.constant and all(item.constant for item in items):
            container.value = tuple(container.value) + tuple(item.value for item in items)
        else:
            container.constant, container.value = False, None
        if container.depth > MAX_PICKLE_DEPTH:
            raise CheckpointError(f"{self.path}: refused: its data is nested more than {MAX_PICKLE_DEPTH} levels deep")
        if container.size > MAX_EXPANDED_ITEMS:
            raise CheckpointError(
                f"{self.path}: refused: its data holds more than {MAX_EXPANDED_ITEMS:,} values once shared "
                "references are expanded (a file crafted to exhaust memory)"
            )


def brief(value: object, limit: int = MAX_NAME_SHOWN) -> str:
    """`value` as text of at most `limit` characters: file content never floods a message."""
    text = value if isinstance(value, str) else str(value)
    text = " ".join(text[: limit * 2].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
