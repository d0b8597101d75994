"""Training speed: digitpad's loop vs the classic PyTorch MNIST example, and time to 99% test accuracy.

    .venv/bin/python benchmarks/train_speed.py            # full run (a few minutes on 2 CPU cores)
    .venv/bin/python benchmarks/train_speed.py --quick    # smoke run: small subsets, seconds

Prints figures; it is not a test. Sections:
1. One epoch of `cnn`, same optimizer and batch size: the classic loop (a per-sample Dataset that
   makes a PIL image and applies transforms.ToTensor()/Normalize, batched by a DataLoader, as in
   pytorch/examples mnist/main.py) vs trainer.train.train (uint8 tensors batched by indexing).
2. Whole processes for one epoch (full run only): `digitpad-train` vs the classic script.
3. Seconds for `cnn` to first reach 99.0% test accuracy on the CPU (and on CUDA when present),
   evaluating the test set every --eval-every steps; evaluation time is reported separately.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from trainer.config import TrainConfig  # noqa: E402
from trainer.control import TrainControl  # noqa: E402
from trainer.data import MNIST_MEAN, MNIST_STD, MnistData, Split, load_mnist  # noqa: E402
from trainer.devices import resolve_device  # noqa: E402
from trainer.errors import DataError  # noqa: E402
from trainer.evaluate import evaluate  # noqa: E402
from trainer.events import BatchEvent  # noqa: E402
from trainer.models import create_model  # noqa: E402
from trainer.train import train  # noqa: E402

ARCH = "cnn"
BATCH_SIZE = 128
OPTIMIZER, LR = "adam", 5e-4  # TrainConfig's defaults; the classic loop uses the same
CLASSIC_LOG_INTERVAL = 10  # pytorch/examples reads loss.item() every 10 batches
QUICK_SUBSET = 4096
# time-to-99% recipe for `cnn`: a one-cycle schedule over a few epochs
TARGET_ACCURACY = 0.99
T99_CONFIG = dict(optimizer="adam", lr=4e-3, batch_size=128, schedule="onecycle", epochs=6)
T99_EVAL_EVERY = 100  # steps between test evaluations
DEFAULT_DATA = REPO.parent / "shared" / "mnist"


# ---------------------------------------------------------------- the classic per-sample path


class ClassicMNIST(torch.utils.data.Dataset):
    """What torchvision.datasets.MNIST.__getitem__ does: uint8 array -> PIL image -> transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform) -> None:
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        from PIL import Image

        img = Image.fromarray(self.images[index].numpy(), mode="L")
        return self.transform(img), int(self.labels[index])


def classic_transform():
    """(transform, description): torchvision's ToTensor+Normalize, or an equivalent PIL->tensor path."""
    try:
        from torchvision import transforms

        return (
            transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))]),
            "torchvision.transforms.ToTensor()+Normalize()",
        )
    except Exception as exc:  # torchvision installs can be broken (e.g. a mismatched torch build)
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"

        def to_tensor_normalize(img):
            # what ToTensor does for an 'L' image (HWC uint8 -> CHW float / 255), then Normalize
            array = np.array(img, np.uint8, copy=True)
            tensor = torch.from_numpy(array).view(img.size[1], img.size[0], 1).permute(2, 0, 1).contiguous()
            return tensor.float().div(255).sub_(MNIST_MEAN).div_(MNIST_STD)

        return to_tensor_normalize, f"equivalent PIL->tensor->normalize fallback (torchvision unusable: {reason})"



def classic_epoch(data: MnistData, device: torch.device, seed: int, transform) -> dict:
    """One epoch of the pytorch/examples train() loop; returns samples/s and seconds."""
    torch.manual_seed(seed)
    model = create_model(ARCH).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loader = torch.utils.data.DataLoader(
        ClassicMNIST(data.train.images, data.train.labels, transform), batch_size=BATCH_SIZE, shuffle=True
    )
    model.train()
    start = time.perf_counter()
    seen = 0
    for batch_idx, (images, target) in enumerate(loader):
        images, target = images.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), target)
        loss.backward()
        optimizer.step()
        seen += len(target)
        if batch_idx % CLASSIC_LOG_INTERVAL == 0:
            loss.item()  # the example prints it
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"samples_per_sec": seen / seconds, "seconds": seconds, "samples": seen}


def classic_test(model, data: MnistData, device, transform) -> float:
    """The example's test(): the test set through the same per-sample path."""
    loader = torch.utils.data.DataLoader(ClassicMNIST(data.test.images, data.test.labels, transform), batch_size=1000)
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, target in loader:
            correct += int((model(images.to(device)).argmax(1) == target.to(device)).sum())
    return correct / len(data.test)


# ---------------------------------------------------------------- our loop


def our_epoch(data: MnistData, device: torch.device, seed: int) -> dict:
    """One epoch through trainer.train.train; training time only (up to the last batch)."""
    config = TrainConfig(arch=ARCH, optimizer=OPTIMIZER, lr=LR, batch_size=BATCH_SIZE, epochs=1, seed=seed, device=str(device))
    batches: list[BatchEvent] = []
    start = time.perf_counter()
    result = train(config, data=data, on_event=lambda e: batches.append(e) if isinstance(e, BatchEvent) else None)
    total = time.perf_counter() - start
    seconds = batches[-1].elapsed
    return {
        "samples_per_sec": len(data.train) / seconds,
        "seconds": seconds,
        "with_eval_seconds": total,
        "test_accuracy": result.metrics["test_accuracy"],
    }


# ---------------------------------------------------------------- whole processes


CLASSIC_SCRIPT = "classic-script"


def run_classic_script(data_dir: Path) -> None:
    """The classic example as a whole process: load the data, train one epoch, test (run in a subprocess)."""
    data = load_mnist(data_dir, download=False)
    transform, _ = classic_transform()
    device = torch.device("cpu")
    torch.manual_seed(1)
    model = create_model(ARCH)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loader = torch.utils.data.DataLoader(ClassicMNIST(data.train.images, data.train.labels, transform), batch_size=BATCH_SIZE, shuffle=True)
    model.train()
    for batch_idx, (images, target) in enumerate(loader):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), target)
        loss.backward()
        optimizer.step()
        if batch_idx % CLASSIC_LOG_INTERVAL == 0:
            loss.item()
    accuracy = classic_test(model, data, device, transform)
    torch.save(model.state_dict(), os.devnull)
    print(f"classic script test accuracy {100 * accuracy:.2f}%")


def process_seconds(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


# ---------------------------------------------------------------- time to 99%


def time_to_accuracy(data: MnistData, device: torch.device, target: float, eval_every: int, seed: int) -> dict:
    """Train the T99 recipe, evaluating every `eval_every` steps; stop at the first eval >= target."""
    config = TrainConfig(arch=ARCH, seed=seed, device=str(device), log_every=eval_every, **T99_CONFIG)
    torch.manual_seed(seed)
    model = create_model(ARCH)
    control = TrainControl()
    test = Split(data.test.images.to(device), data.test.labels.to(device))  # evaluated often: keep it there
    state = {"eval_seconds": 0.0, "reached": None, "best": 0.0, "evals": 0}
    wall_start = time.perf_counter()

    def on_event(event) -> None:
        if not isinstance(event, BatchEvent) or control.cancelled:
            return
        start = time.perf_counter()
        accuracy = evaluate(model, test, device).accuracy
        state["eval_seconds"] += time.perf_counter() - start
        state["evals"] += 1
        state["best"] = max(state["best"], accuracy)
        if accuracy >= target:
            # event.elapsed counts this run's clock, which includes earlier evaluations done here
            state["reached"] = {
                "wall": time.perf_counter() - wall_start,
                "train": time.perf_counter() - wall_start - state["eval_seconds"],
                "step": event.global_step,
                "epoch": event.epoch + event.step / event.steps_per_epoch - 1,
                "accuracy": accuracy,
            }
            control.cancel()

    if device.type == "cuda":  # warm-up: CUDA context, cuDNN kernels
        warm = TrainConfig(arch=ARCH, device=str(device), epochs=1, subset=2048, log_every=10**6)
        train(warm, data=data)
        torch.cuda.synchronize()
        wall_start = time.perf_counter()
    train(config, data=data, on_event=on_event, control=control, model=model)
    return {**state, "wall_total": time.perf_counter() - wall_start}


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_SUBSET} training images, no process timing, a short time-to-accuracy")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DIGITPAD_DATA", DEFAULT_DATA)), help="MNIST IDX directory")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--eval-every", type=int, default=T99_EVAL_EVERY, help="steps between test evaluations in the time-to-99%% run")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for sections 2 and 3 (default: PyTorch's)")
    parser.add_argument("--sections", default="123", help="which sections to run, e.g. 13")
    parser.add_argument(f"--{CLASSIC_SCRIPT}", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.classic_script:
        run_classic_script(args.data_dir)
        return 0

    print(f"torch {torch.__version__}, {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPU(s), torch threads {torch.get_num_threads()}, "
          f"CUDA {'yes: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no'}; {load_average()}")
    try:
        data = load_mnist(args.data_dir, download=False, subset=QUICK_SUBSET if args.quick else None,
                          test_subset=1000 if args.quick else None)
    except DataError as exc:
        sys.exit(f"train_speed: {exc}")
    if "1" in args.sections:
        loop_speed(data, args.seed)
    if "2" in args.sections and not args.quick:
        process_speed(args.data_dir)
    if "3" in args.sections:
        time_to_target(data, 0.95 if args.quick else TARGET_ACCURACY, args.eval_every, args.seed)
    print(f"\n{load_average()} at the end")
    return 0


def load_average() -> str:
    """Other work on the machine skews every figure: say how busy it was."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def thread_counts() -> list[int]:
    """PyTorch's default (the physical cores) and 1: on a shared, busy machine one thread can win."""
    default = torch.get_num_threads()
    return [default, 1] if default > 1 else [default]


def loop_speed(data: MnistData, seed: int) -> None:
    cpu = torch.device("cpu")
    transform, how = classic_transform()
    print(f"\n1) one epoch of {ARCH}, {OPTIMIZER} lr {LR:g}, batch {BATCH_SIZE}, {len(data.train):,} training images, CPU")
    print(f"   classic path: DataLoader(num_workers=0, shuffle=True) + per-sample PIL image + {how}")
    default = torch.get_num_threads()
    for threads in thread_counts():
        torch.set_num_threads(threads)
        classic = classic_epoch(data, cpu, seed, transform)
        ours = our_epoch(data, cpu, seed)
        print(f"   torch threads {threads}:")
        print(f"     classic loop : {classic['samples_per_sec']:9,.0f} samples/s  ({classic['seconds']:.2f} s)")
        print(f"     digitpad loop: {ours['samples_per_sec']:9,.0f} samples/s  ({ours['seconds']:.2f} s training; "
              f"{ours['with_eval_seconds']:.2f} s with data to device and the test evaluation; "
              f"test accuracy {100 * ours['test_accuracy']:.2f}%)")
        print(f"     ratio        : {ours['samples_per_sec'] / classic['samples_per_sec']:.2f}x  (target >= 2.5x)")
    torch.set_num_threads(default)


def process_speed(data_dir: Path) -> None:
    threads = torch.get_num_threads()
    print(f"\n2) whole processes, one epoch of cnn on the CPU, {threads} torch thread(s) (start-up, data loading, training, test, save)")
    py = sys.executable
    classic_s, classic_out = process_seconds(
        [py, str(Path(__file__).resolve()), "--data-dir", str(data_dir), "--threads", str(threads), f"--{CLASSIC_SCRIPT}"]
    )
    out_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"train_speed_{os.getpid()}.pt"
    command = [py, "-m", "trainer.cli", "--data-dir", str(data_dir), "--device", "cpu", "--epochs", "1", "--quiet", "--threads", str(threads), "--out", str(out_file)]
    ours_s, ours_out = process_seconds(command)
    out_file.unlink(missing_ok=True)
    print(f"   classic script: {classic_s:6.1f} s  ({classic_out})")
    print(f"   digitpad-train: {ours_s:6.1f} s  ({ours_out.strip()})")
    print(f"   digitpad-train / classic = {ours_s / classic_s:.2f}  (target: well under 0.5)")


def time_to_target(data: MnistData, target: float, eval_every: int, seed: int) -> None:
    devices = [torch.device("cpu")] + ([resolve_device("cuda")] if torch.cuda.is_available() else [])
    recipe = ", ".join(f"{k} {v}" for k, v in T99_CONFIG.items())
    for device in devices:
        print(f"\n3) time for {ARCH} to first reach {100 * target:.1f}% test accuracy on {device.type.upper()} "
              f"({recipe}; test set evaluated every {eval_every} steps)")
        r = time_to_accuracy(data, device, target, eval_every, seed)
        if r["reached"]:
            hit = r["reached"]
            print(f"   reached {100 * hit['accuracy']:.2f}% at step {hit['step']} (epoch {hit['epoch']:.2f}): "
                  f"{hit['train']:.1f} s training, {hit['wall']:.1f} s wall including {r['evals']} test evaluations "
                  f"({r['eval_seconds']:.1f} s)")
        else:
            print(f"   not reached: best {100 * r['best']:.2f}% after {r['wall_total']:.1f} s ({r['evals']} evaluations)")


if __name__ == "__main__":
    sys.exit(main())
