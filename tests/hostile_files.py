"""Hostile input files, generated on demand (never committed): model files, images and IDX files
crafted to exhaust time or memory, or to give nonsense, as found by a probe of every entry point.

Each model case writes one file and names what a refusal must say (`expect`), or for a file that
loads with something dropped, what the note must say (`note`). Generating all of them takes
about a second and a few MB of disk (the big ones are sparse files or compress well).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainer.checkpoint import FORMAT_TAG, FORMAT_VERSION
from trainer.models import REGISTRY, create_model

BOMB_RECORD_BYTES = 64 * 2**20  # what the deflate-bomb record inflates to (ratio ~1000, like a 2 GB one)


@dataclass(frozen=True)
class ModelCase:
    write: Callable[[Path], None]
    expect: str = ""  # a refusal's message contains this
    note: str = ""  # or: the file loads, and one of its notes contains this


class Call:
    """Pickles as a call of `func(*args)`; nothing is called when it is pickled."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def nested(depth: int) -> list:
    """x = [x, x], `depth` levels: a few bytes per level in a pickle, 2**depth items when walked."""
    x: list = []
    for _ in range(depth):
        x = [x, x]
    return x


def unshared(depth: int) -> list:
    """[[[...]]], `depth` levels, one item each."""
    x: list = []
    for _ in range(depth):
        x = [x]
    return x


def cnn_state(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return dict(create_model("cnn").state_dict())


def penseq_state(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return dict(create_model("penseq").state_dict())


def checkpoint(**changes) -> dict:
    """A valid digitpad checkpoint of cnn with `changes` applied (a callable changes the old value)."""
    content = {
        "format": FORMAT_TAG, "version": FORMAT_VERSION, "arch": "cnn", "model_args": {},
        "state_dict": cnn_state(), "normalization": {"mean": 0.1307, "std": 0.3081},
        "hparams": {"seed": 0}, "metrics": {"test_accuracy": 0.99}, "created": "2024-01-01T00:00:00+00:00",
    }
    for key, value in changes.items():
        content[key] = value(content[key]) if callable(value) else value
    return content


def saving(make: Callable[[], object]) -> Callable[[Path], None]:
    return lambda path: torch.save(make(), path)


def no_weights(arch: str, **model_args) -> Callable[[Path], None]:
    """Only a tiny header and model_args: what made the old loader allocate gigabytes before refusing."""
    return saving(lambda: checkpoint(arch=arch, model_args=model_args, state_dict={}))


def with_weights(change: Callable[[torch.Tensor], torch.Tensor], key: str | None = None) -> Callable[[dict], dict]:
    """A state_dict change: `change` applied to tensor `key`, or to every floating-point tensor."""
    def apply(state: dict) -> dict:
        return {k: change(v) if (k == key or (key is None and v.is_floating_point())) else v for k, v in state.items()}
    return apply


def torch_zip(path: Path, content: object, records: dict[str, bytes] | None = None, deflate: bytes = b"") -> None:
    """torch.save(content) re-written with some records replaced (by suffix) and `deflate` ones compressed."""
    buffer = io.BytesIO()
    torch.save(content, buffer)
    with zipfile.ZipFile(buffer) as template, zipfile.ZipFile(path, "w") as out:
        for info in template.infolist():
            name = info.filename
            data = next((v for k, v in (records or {}).items() if name.endswith(k)), None)
            data = template.read(info) if data is None else data
            out.writestr(name, data, zipfile.ZIP_DEFLATED if deflate and name.endswith(deflate.decode()) else 0)


def bytearray_bomb(path: Path) -> None:
    """A 100-byte pickle that asks torch's weights-only unpickler for bytearray(3_000_000_000)."""
    torch_zip(path, {}, {"/data.pkl": pickle.dumps(Call(bytearray, 3_000_000_000), protocol=2)})


def deflate_bomb(path: Path) -> None:
    """A cnn state_dict whose first tensor record is a deflate stream inflating to BOMB_RECORD_BYTES."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
    chunk = bytes(2**20)
    stream = b"".join(compressor.compress(chunk) for _ in range(BOMB_RECORD_BYTES // len(chunk))) + compressor.flush()
    crc = 0
    for _ in range(BOMB_RECORD_BYTES // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    buffer = io.BytesIO()
    torch.save(cnn_state(), buffer)
    with zipfile.ZipFile(buffer) as template:
        entries = [(info.filename, template.read(info)) for info in template.infolist()]
    with open(path, "wb") as f:  # by hand: zipfile cannot store an already-deflated stream
        central = []
        for name, data in entries:
            offset, method, raw, size, entry_crc = f.tell(), 0, data, len(data), zlib.crc32(data)
            if name.endswith("/data/0"):
                method, raw, size, entry_crc = 8, stream, BOMB_RECORD_BYTES, crc
            fields = _le(method, 2) + _le(0, 4) + _le(entry_crc, 4) + _le(len(raw), 4) + _le(size, 4)
            encoded = name.encode()
            f.write(b"PK\x03\x04" + _le(20, 2) + _le(0, 2) + fields + _le(len(encoded), 2) + _le(0, 2) + encoded + raw)
            central.append(b"PK\x01\x02" + _le(20, 2) + _le(20, 2) + _le(0, 2) + fields + _le(len(encoded), 2)
                           + _le(0, 8) + _le(0, 4) + _le(offset, 4) + encoded)
        start, directory = f.tell(), b"".join(central)
        f.write(directory + b"PK\x05\x06" + _le(0, 4) + _le(len(central), 2) * 2 + _le(len(directory), 4)
                + _le(start, 4) + _le(0, 2))


def _le(value: int, size: int) -> bytes:
    return value.to_bytes(size, "little")


def many_entries(path: Path) -> None:
    """A zip whose directory lists 20,000 entries (each one costs the reader memory)."""
    torch_zip(path, {})
    with zipfile.ZipFile(path, "a") as archive:
        for i in range(20_000):
            archive.writestr(f"archive/junk/{i}", b"")


def sparse_huge(path: Path) -> None:
    """A 4 GB file that takes no disk space (a hole): refused before anything reads it."""
    with open(path, "wb") as f:
        f.truncate(4 * 2**30)


def fifo(path: Path) -> None:
    os.mkfifo(path)


MODEL_CASES: dict[str, ModelCase] = {
    # 1. nested shared references
    "format nested 40 deep": ModelCase(saving(lambda: checkpoint(format=nested(40))), "more than 1,000,000 values"),
    "format nested 40 deep, unshared": ModelCase(saving(lambda: checkpoint(format=unshared(40))),
                                                 "nested more than 32 levels"),
    "format nested 24 deep": ModelCase(saving(lambda: checkpoint(format=nested(24))), "more than 1,000,000 values"),
    "format nested 12 deep": ModelCase(saving(lambda: checkpoint(format=nested(12))), "unknown file format a list"),
    "model_args nested 24 deep": ModelCase(
        saving(lambda: checkpoint(model_args={"hidden": nested(24)})), "more than 1,000,000 values"),
    "model_args nested 12 deep": ModelCase(
        saving(lambda: checkpoint(arch="fnn", model_args={"hidden": nested(12)})), "model_args 'hidden' is a list"),
    "normalization nested 24 deep": ModelCase(
        saving(lambda: checkpoint(normalization={"mean": nested(24), "std": 0.3})), "more than 1,000,000 values"),
    "normalization nested 12 deep": ModelCase(
        saving(lambda: checkpoint(normalization={"mean": nested(12), "std": 0.3})), "invalid normalization"),
    "hparams nested 12 deep": ModelCase(saving(lambda: checkpoint(hparams={"x": nested(12)})),
                                        note="training settings were ignored"),
    "format of 1 MB": ModelCase(saving(lambda: checkpoint(format="x" * 2**20)), "unknown file format 'xxx"),
    # 2. memory taken from model_args
    "fnn hidden 2000000": ModelCase(no_weights("fnn", hidden=[2_000_000, 10]), "'hidden' is [2000000, 10]"),
    "fnn hidden 16384x16384": ModelCase(no_weights("fnn", hidden=[16384, 16384]), "parameters (limit 20,000,000)"),
    "digitnet deep_convs 1000000": ModelCase(no_weights("digitnet", deep_convs=1_000_000), "'deep_convs' is 1000000"),
    "digitnet width 3000": ModelCase(no_weights("digitnet", width=3000), "'width' is 3000"),
    "digitnet width 512, 32 convs": ModelCase(no_weights("digitnet", width=512, deep_convs=32), "(limit 20,000,000)"),
    "digitnet width -1": ModelCase(no_weights("digitnet", width=-1), "'width' is -1"),
    "penseq points 1000000": ModelCase(no_weights("penseq", points=1_000_000), "'points' is 1000000"),
    "penseq width 3000": ModelCase(no_weights("penseq", width=3000), "'width' is 3000"),
    # 3. allocations inside the unpickler, compressed bombs
    "bytearray(3e9) pickle": ModelCase(bytearray_bomb, "asks for builtins.bytearray"),
    "deflate bomb record": ModelCase(deflate_bomb, "compression bomb"),
    "20,000 zip entries": ModelCase(many_entries, "lists 20,00"),
    "4 GB file": ModelCase(sparse_huge, "limit 256 MB"),
    # 4. nonsense weights
    "int32 weights": ModelCase(saving(lambda: checkpoint(state_dict=with_weights(lambda t: t.int()))), "is int32"),
    "bool weights": ModelCase(saving(lambda: checkpoint(state_dict=with_weights(lambda t: t > 0))), "is bool"),
    "complex weights": ModelCase(saving(lambda: checkpoint(state_dict=with_weights(lambda t: t.to(torch.complex64)))),
                                 "is complex64"),
    "bare int64 state_dict": ModelCase(saving(lambda: with_weights(lambda t: t.long())(cnn_state())), "is int64"),
    "weights x1e37": ModelCase(saving(lambda: checkpoint(state_dict=with_weights(lambda t: t * 1e37))),
                               "outputs NaN or infinite"),
    "bare digitnet weights x1e37": ModelCase(
        saving(lambda: with_weights(lambda t: t * 1e37)(dict(create_model("digitnet").state_dict()))),
        "outputs NaN or infinite"),
    "penseq weights x1e37": ModelCase(
        saving(lambda: checkpoint(arch="penseq", state_dict=with_weights(lambda t: t * 1e37)(penseq_state()))),
        "outputs NaN or infinite"),
    # 5. odd values
    "sparse weight": ModelCase(saving(lambda: checkpoint(state_dict=with_weights(lambda t: t.to_sparse(), "fc1.weight"))),
                               "_rebuild_sparse_tensor"),
    "meta weight": ModelCase(saving(lambda: checkpoint(state_dict=with_weights(lambda t: t.to("meta"), "fc1.weight"))),
                             "_rebuild_meta_tensor_no_storage"),
    "normalization mean 10**400": ModelCase(saving(lambda: checkpoint(normalization={"mean": 10**400, "std": 0.3})),
                                            "invalid normalization (mean an integer of 1329 bits"),
    "seed 10**30": ModelCase(saving(lambda: checkpoint(hparams={"seed": 10**30})), note="training seed"),
    "test_accuracy not a number": ModelCase(saving(lambda: checkpoint(metrics={"test_accuracy": "high"})),
                                            note="stored test_accuracy 'high' was ignored"),
    # 6. misleading messages
    "directory named x.pt": ModelCase(lambda path: path.mkdir(), "is a directory"),
    "FIFO": ModelCase(fifo, "not a regular file (a FIFO"),
    "plain pickle calling exec": ModelCase(
        lambda path: path.write_bytes(pickle.dumps(checkpoint(state_dict={}, hparams=Call(exec, "print(1)")), protocol=2)),
        "would run code from it (it asks for builtins.exec)"),
}


def write_model_cases(directory: Path) -> dict[str, Path]:
    """Every MODEL_CASES file in `directory`, by case name."""
    paths = {}
    for i, (name, case) in enumerate(MODEL_CASES.items()):
        path = directory / f"case{i:02d}.pt"
        case.write(path)
        paths[name] = path
    return paths


# ---------------------------------------------------------------- images and IDX files


def big_png(path: Path, side: int, mode: str = "RGBA", bar: bool = False) -> None:
    """A side x side white PNG (with a black vertical bar, a "1", when `bar`), written row by row:
    a 13000 px RGBA one is ~700 KB and takes about a second, never holding the pixels in memory."""
    import struct

    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    color_type = {"L": 0, "RGB": 2, "RGBA": 6}[mode]
    white = b"\xff" * channels
    ink = b"\0" * (channels - 1) + (b"\xff" if mode == "RGBA" else b"\0")  # opaque black
    left, width = side * 9 // 20, side // 10
    plain = b"\0" + white * side  # filter byte 0
    inked = b"\0" + white * left + ink * width + white * (side - left - width)
    top, bottom = (side // 5, side * 4 // 5) if bar else (side, side)
    data = repeated_zlib([(plain, top), (inked, bottom - top), (plain, side - bottom)])

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def repeated_zlib(runs: list[tuple[bytes, int]]) -> bytes:
    """A zlib stream of each (row, count) run: one block of rows compressed once and repeated (each block
    ends with a full flush, so it depends on nothing before it): 676 MB of pixels in a fraction of a second."""
    out, adler = [b"\x78\x01"], 1
    for row, count in runs:
        per_block = max(1, 2**20 // len(row))
        for rows, times in ((per_block, count // per_block), (count % per_block, 1)):
            if rows == 0 or times == 0:
                continue
            block = row * rows
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            out.append((compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)) * times)
            for _ in range(times):
                adler = zlib.adler32(block, adler)
    out.append(zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH) + adler.to_bytes(4, "big"))
    return b"".join(out)


def big_jpeg(path: Path, width: int, height: int) -> None:
    """A width x height JPEG of a black bar on white (PIL encodes it: ~50 MB of memory for 12 MP)."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (width, height), 255)
    ImageDraw.Draw(image).rectangle((width * 9 // 20, height // 5, width * 11 // 20, height * 4 // 5), fill=0)
    image.save(path, format="JPEG", quality=80)


def animated_gif(path: Path) -> None:
    """Two frames: blank first, a bar second (the old reader said only "blank")."""
    from PIL import Image, ImageDraw

    blank = Image.new("L", (64, 64), 255)
    digit = blank.copy()
    ImageDraw.Draw(digit).rectangle((28, 10, 36, 54), fill=0)
    blank.save(path, format="GIF", save_all=True, append_images=[digit], duration=100, loop=0)


def idx_gzip_bomb(path: Path, declared_images: int, inflated_mb: int) -> None:
    """A gzip'd IDX images file declaring `declared_images` 28x28 images and inflating to `inflated_mb` MB more:
    a 4,096 MB one is a 4 MB file (1 MB of zeros deflates to 1 KB, compressed once and repeated), written in
    about 3 s (the CRC of 4 GB)."""
    header = (0x803).to_bytes(4, "big") + declared_images.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    zeros = bytes(2**20)
    segments, crc = [], zlib.crc32(header)
    for block, times in ((header, 1), (zeros, inflated_mb)):
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        segments.append((compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)) * times)
    for _ in range(inflated_mb):
        crc = zlib.crc32(zeros, crc)
    size = len(header) + inflated_mb * len(zeros)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    path.write_bytes(b"\x1f\x8b\x08\x00\0\0\0\0\x00\xff" + b"".join(segments) + end
                     + crc.to_bytes(4, "little") + (size % 2**32).to_bytes(4, "little"))


def small_mnist(directory: Path, n: int = 20) -> None:
    """Four valid gzip'd IDX files of `n` images and labels: a test replaces one with a hostile file."""
    directory.mkdir(parents=True, exist_ok=True)
    images = (0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(n * 784)
    labels = (0x801).to_bytes(4, "big") + n.to_bytes(4, "big") + bytes(i % 10 for i in range(n))
    for name, data in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels),
                       ("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        (directory / f"{name}.gz").write_bytes(gzip.compress(data))


def digit_png(path: Path) -> None:
    """A plain readable digit: a black bar on white."""
    from PIL import Image

    image = np.full((64, 64), 255, dtype=np.uint8)
    image[10:54, 28:36] = 0
    Image.fromarray(image).save(path)


def registered_bare_state_dicts(directory: Path) -> dict[str, Path]:
    """A bare state_dict file of every registered architecture: these must keep loading."""
    paths = {}
    for name in REGISTRY:
        path = directory / f"bare-{name}.pth"
        torch.save(create_model(name).state_dict(), path)
        paths[name] = path
    return paths


# ---------------------------------------------------------------- running entry points in a capped child

HOSTILE_CHILD = Path(__file__).with_name("hostile_child.py")
SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "mnist"
MAX_SECONDS = 10  # per entry point and file
MAX_PEAK_MB = 1536  # resident memory above what the entry point started with (the child's cap, too)
MAX_MESSAGE_CHARS = 1000


def run_in_child(jobs: list[dict], directory: Path, timeout_s: float = 240) -> dict[str, dict]:
    """Run `jobs` (see hostile_child.py) in a fresh Python process; their outcomes by job id."""
    import json
    import subprocess
    import sys

    spec, results = directory / "jobs.json", directory / "results.json"
    spec.write_text(json.dumps(jobs))
    done = subprocess.run([sys.executable, str(HOSTILE_CHILD), str(spec), str(results)],
                          capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, f"hostile_child.py failed: {done.stderr[-3000:]}"
    return json.loads(results.read_text())


def assert_bounded(outcome: dict) -> None:
    """The job ended by itself, within MAX_SECONDS and MAX_PEAK_MB, and printed no traceback."""
    assert outcome.get("signal") == 0, f"killed by signal {outcome.get('signal')} (hung or crashed)"
    assert outcome["seconds"] < MAX_SECONDS, f"took {outcome['seconds']:.1f} s"
    assert outcome["peak_mb"] < MAX_PEAK_MB, f"took {outcome['peak_mb']:.0f} MB"
    assert "Traceback" not in outcome["stderr"] + outcome["stdout"]
    assert outcome.get("error_type") not in ("MemoryError", "died"), outcome.get("traceback")


def assert_one_line_error(outcome: dict, expect: str) -> None:
    """A command's refusal: non-zero exit, nothing on stdout, one short line on stderr naming the problem."""
    lines = outcome["stderr"].strip().splitlines()
    assert outcome.get("rc") not in (0, None), outcome
    assert len(lines) == 1 and len(lines[0]) < MAX_MESSAGE_CHARS, outcome["stderr"][:2000]
    assert expect in lines[0]
