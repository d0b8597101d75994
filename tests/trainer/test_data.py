"""MNIST loading: broken files get clear errors, splits are reproducible, batches cover the data."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer import data
from trainer.data import (
    MNIST_MEAN,
    MNIST_STD,
    Split,
    concat_splits,
    iterate_batches,
    load_mnist,
    normalize,
    read_idx,
)
from trainer.errors import DataError

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file of unsigned bytes holding ``array`` (magic derived from its rank unless given)."""
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(directory: Path, n_train: int = 50, n_test: int = 20, gz: bool = True, seed: int = 0) -> Path:
    """A tiny fake MNIST (random pixels, labels cycling 0-9) in ``directory``."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = (
        rng.integers(0, 256, (n_train, 28, 28)),
        np.arange(n_train) % 10,
        rng.integers(0, 256, (n_test, 28, 28)),
        np.arange(n_test) % 10,
    )
    for name, array in zip(NAMES, arrays, strict=True):
        payload = idx_bytes(array)
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (directory / name).write_bytes(payload)
    return directory


def error_for(path: Path) -> str:
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value), "the message must name the file"
    return str(info.value)


# --------------------------------------------------------------------------- reading and validation


def test_reads_plain_and_gzipped_idx_files(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    (tmp_path / "a-idx3-ubyte").write_bytes(idx_bytes(array))
    (tmp_path / "b-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("a-idx3-ubyte", "b-idx3-ubyte.gz"):
        read = read_idx(tmp_path / name)
        assert read.shape == (2, 28, 28) and read.dtype == np.uint8
        np.testing.assert_array_equal(read, array)


def test_wrong_magic_number_is_reported(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(100))
    assert "magic" in error_for(path)


def test_labels_file_in_place_of_images_is_reported(tmp_path):
    write_mnist(tmp_path)
    labels = (tmp_path / "train-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(labels)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: wrong magic number 2049 \(expected 2051\)"):
        load_mnist(tmp_path, download=False)


def test_truncated_file_is_reported(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((10, 28, 28)))[:-100])
    assert "truncated" in error_for(path)


def test_truncated_gzip_is_reported(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((10, 28, 28))))[:-30])
    assert "corrupt or truncated" in error_for(path)


def test_random_bytes_named_gz_are_reported(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8).tobytes())
    assert "not gzip" in error_for(path)


def test_random_bytes_are_reported(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"\xff\xfe" + np.random.default_rng(2).integers(0, 256, 500, dtype=np.uint8).tobytes())
    assert "not an IDX file" in error_for(path)


def test_empty_file_is_reported(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"")
    assert "too short" in error_for(path)


def test_wrong_image_size_is_reported(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((50, 32, 32)))))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: images are 32x32, expected 28x28"):
        load_mnist(tmp_path, download=False)


def test_image_label_count_mismatch_is_reported(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.arange(19) % 10)))
    with pytest.raises(DataError, match="20 images but .*t10k-labels-idx1-ubyte.gz holds 19 labels"):
        load_mnist(tmp_path, download=False)


def test_label_outside_0_to_9_is_reported(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.full(50, 12))))
    with pytest.raises(DataError, match="label 12"):
        load_mnist(tmp_path, download=False)


# --------------------------------------------------------------------------- finding the files


def test_missing_files_give_one_paragraph_saying_where_to_put_them(tmp_path):
    empty = tmp_path / "nothing-here"
    with pytest.raises(DataError) as info:
        load_mnist(empty, download=False)
    message = str(info.value)
    assert "\n" not in message
    assert str(empty) in message
    for name in NAMES:
        assert name in message
    assert "--data-dir" in message and "DIGITPAD_DATA" in message


def test_partial_download_names_the_directory(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="MNIST not found in"):
        load_mnist(tmp_path, download=False)


def test_loads_uncompressed_files(tmp_path):
    loaded = load_mnist(write_mnist(tmp_path, gz=False), download=False)
    assert len(loaded.train) == 50 and len(loaded.test) == 20


def test_loads_torchvision_layout(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw")
    loaded = load_mnist(tmp_path, download=False)
    assert loaded.source == (tmp_path / "MNIST" / "raw").resolve()
    assert len(loaded.train) == 50


def test_data_dir_comes_from_environment(tmp_path, monkeypatch):
    write_mnist(tmp_path / "env-dir")
    monkeypatch.setenv("DIGITPAD_DATA", str(tmp_path / "env-dir"))
    assert data.default_data_dir() == tmp_path / "env-dir"
    assert len(load_mnist(download=False).train) == 50


def test_default_dir_is_a_per_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("DIGITPAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = data.default_data_dir()
    assert path.parts[-2:] == ("digitpad", "mnist")


def test_offline_download_gives_the_same_clear_message(tmp_path, monkeypatch):
    # No network in tests: pretend the probe failed, and make sure torchvision is never reached.
    monkeypatch.setattr(data, "_network_reachable", lambda: False)
    with pytest.raises(DataError, match="no network connection.*--data-dir"):
        load_mnist(tmp_path / "empty", download=True)


def test_a_failing_download_becomes_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_network_reachable", lambda: True)
    import builtins

    real_import = builtins.__import__

    def broken_import(name, *args, **kwargs):
        if name.startswith("torchvision"):
            raise RuntimeError("operator torchvision::nms does not exist")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken_import)
    with pytest.raises(DataError, match="Downloading them failed .*torchvision::nms"):
        load_mnist(tmp_path / "empty", download=True)


def test_bad_counts_are_refused(tmp_path):
    write_mnist(tmp_path)
    for kwargs in ({"subset": 0}, {"test_subset": -5}, {"val_size": -1}, {"val_size": 50}, {"subset": 2.5}):
        with pytest.raises(DataError):
            load_mnist(tmp_path, download=False, **kwargs)


# --------------------------------------------------------------------------- splits


def test_real_mnist_loads_with_the_expected_shapes(mnist_dir):
    loaded = load_mnist(mnist_dir, download=False)
    assert loaded.train.images.shape == (60000, 28, 28) and loaded.train.images.dtype == torch.uint8
    assert loaded.test.images.shape == (10000, 28, 28)
    assert loaded.train.labels.dtype == torch.int64 and loaded.train.labels.shape == (60000,)
    assert loaded.val is None
    assert torch.bincount(loaded.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert loaded.train.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the famous first training digits
    # The pixel statistics the models are normalized with.
    pixels = loaded.train.images.float() / 255
    assert pixels.mean().item() == pytest.approx(MNIST_MEAN, abs=1e-3)
    assert pixels.std().item() == pytest.approx(MNIST_STD, abs=1e-3)


def test_loaded_data_is_private_to_the_caller(mnist_dir):
    first = load_mnist(mnist_dir, download=False, test_subset=None)
    first.test.images.zero_()
    assert load_mnist(mnist_dir, download=False).test.images.sum() > 0


def test_subset_and_validation_sizes_balance_and_determinism(mnist_dir):
    loaded = load_mnist(mnist_dir, download=False, subset=1000, test_subset=300, val_size=2000, seed=3)
    assert (len(loaded.train), len(loaded.test), len(loaded.val)) == (1000, 300, 2000)
    for split, size in ((loaded.train, 1000), (loaded.test, 300), (loaded.val, 2000)):
        counts = torch.bincount(split.labels, minlength=10)
        assert counts.min() >= 0.08 * size and counts.max() <= 0.12 * size
    again = load_mnist(mnist_dir, download=False, subset=1000, test_subset=300, val_size=2000, seed=3)
    assert torch.equal(again.train.images, loaded.train.images)
    assert torch.equal(again.val.labels, loaded.val.labels)
    other = load_mnist(mnist_dir, download=False, subset=1000, val_size=2000, seed=4)
    assert not torch.equal(other.train.images, loaded.train.images)


def test_validation_is_held_out_of_training(tmp_path):
    write_mnist(tmp_path, n_train=200)
    loaded = load_mnist(tmp_path, download=False, val_size=40, seed=1)
    assert (len(loaded.train), len(loaded.val)) == (160, 40)
    key = lambda split: {bytes(img.numpy()) for img in split.images}  # noqa: E731
    assert not key(loaded.train) & key(loaded.val)
    assert len(key(loaded.train) | key(loaded.val)) == 200
    # The validation set does not move when the training subset changes.
    with_subset = load_mnist(tmp_path, download=False, val_size=40, seed=1, subset=30)
    assert torch.equal(with_subset.val.images, loaded.val.images)
    assert len(with_subset.train) == 30


def test_subset_larger_than_the_data_keeps_everything(tmp_path):
    loaded = load_mnist(write_mnist(tmp_path), download=False, subset=10_000, test_subset=10_000)
    assert (len(loaded.train), len(loaded.test)) == (50, 20)


def test_replaced_files_are_read_again(tmp_path):
    write_mnist(tmp_path, n_test=20)
    assert len(load_mnist(tmp_path, download=False).test) == 20
    shutil.rmtree(tmp_path)
    write_mnist(tmp_path, n_test=30, seed=5)
    assert len(load_mnist(tmp_path, download=False).test) == 30


# --------------------------------------------------------------------------- batches


def small_split(n: int = 70) -> Split:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1).expand(n, 28, 28).contiguous()
    return Split(images, torch.arange(n) % 10)


def test_normalize_matches_the_classic_transform():
    images = torch.zeros((2, 28, 28), dtype=torch.uint8)
    images[1] = 255
    out = normalize(images)
    assert out.shape == (2, 1, 28, 28) and out.dtype == torch.float32
    assert torch.allclose(out[0], torch.tensor((0 - MNIST_MEAN) / MNIST_STD))
    assert torch.allclose(out[1], torch.tensor((1 - MNIST_MEAN) / MNIST_STD))
    assert torch.equal(normalize(images.unsqueeze(1)), out)


def test_one_epoch_covers_every_sample_once():
    split = small_split(70)
    batches = list(iterate_batches(split, 16, shuffle=True, generator=torch.Generator().manual_seed(0), device="cpu"))
    assert [len(y) for _, y in batches] == [16, 16, 16, 16, 6]
    x, y = batches[0]
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    # Each image is filled with its own index, so the pixel values tell which samples came out.
    seen = torch.cat([(xb[:, 0, 0, 0] * MNIST_STD + MNIST_MEAN) * 255 for xb, _ in batches]).round().long()
    assert sorted(seen.tolist()) == list(range(70))
    assert torch.equal(torch.cat([yb for _, yb in batches]), seen % 10)  # labels travel with their images
    assert seen.tolist() != list(range(70))  # shuffled


def test_shuffle_is_reproducible_with_a_seeded_generator():
    split = small_split(50)

    def order(seed: int) -> list[int]:
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([y for _, y in iterate_batches(split, 8, shuffle=True, generator=gen, device="cpu")]).tolist()

    assert order(1) == order(1)
    assert order(1) != order(2)


def test_unshuffled_batches_keep_order_and_drop_last_drops_the_remainder():
    split = small_split(70)
    labels = torch.cat([y for _, y in iterate_batches(split, 32, shuffle=False, device="cpu")])
    assert torch.equal(labels, split.labels)
    sizes = [len(y) for _, y in iterate_batches(split, 32, shuffle=False, device="cpu", drop_last=True)]
    assert sizes == [32, 32]


def test_augmented_batches_keep_shape_and_are_reproducible(mnist_dir):
    split = load_mnist(mnist_dir, download=False, subset=256).train

    def first_batch(seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return next(iterate_batches(split, 64, shuffle=True, generator=gen, device="cpu", augment=True))[0]

    a, b = first_batch(7), first_batch(7)
    assert a.shape == (64, 1, 28, 28)
    assert torch.equal(a, b)
    # The background stays at the normalized value of 0 ink.
    assert a[:, :, 0, :].median().item() == pytest.approx(-MNIST_MEAN / MNIST_STD, abs=1e-5)


def test_split_is_moved_to_a_device_once():
    split = small_split(10)
    meta = torch.device("meta")
    first = split.on(meta)
    assert first[0].device.type == "meta"
    assert split.on(meta)[0] is first[0]
    assert split.on("cpu")[0] is split.images


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batches_on_cuda_with_augmentation():
    split = small_split(40)
    gen = torch.Generator().manual_seed(0)
    x, y = next(iterate_batches(split, 16, shuffle=True, generator=gen, device="cuda", augment=True))
    assert x.is_cuda and y.is_cuda and x.shape == (16, 1, 28, 28)


def test_concat_splits_joins_in_order():
    joined = concat_splits(small_split(5), small_split(3))
    assert len(joined) == 8
    assert joined.labels.tolist() == [0, 1, 2, 3, 4, 0, 1, 2]


def test_split_rejects_mismatched_labels():
    with pytest.raises(ValueError):
        Split(torch.zeros((3, 28, 28), dtype=torch.uint8), torch.zeros(2, dtype=torch.int64))
