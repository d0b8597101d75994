"""Run digitpad's entry points on hostile files, each job in a forked process with a memory cap.

    python tests/hostile_child.py jobs.json results.json

jobs.json: a list of {"id", "entry", "args"}; `entry` is one of ENTRY_POINTS. This process imports
torch and digitpad once, then forks one child per job: the child caps its address space at what
it has mapped so far plus CAP_BYTES (so the imports do not count), arms an alarm, runs the entry
point with stdout and stderr sent to files, and writes what happened, its run time and its peak
resident memory above what it started with. Used by the hostile-file
tests, which run this script in a subprocess so that no attack can take the test process with it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path

CAP_BYTES = 1536 * 2**20  # 1.5 GB above what the imports mapped
HANG_S = 30  # a job still running then is killed (and the test reports it)


def _load_model(args: dict) -> dict:
    from trainer.checkpoint import load_model

    _, ckpt = load_model(args["model"])
    return {"loaded": True, "notes": ckpt.notes}


def _recognizer(args: dict) -> dict:
    from digitpad.recognizer import Recognizer

    rec = Recognizer.load(args["model"], device="cpu")
    return {"loaded": True, "notes": rec.checkpoint.notes, "test_accuracy": rec.test_accuracy}


def _predict(args: dict) -> dict:
    from digitpad.predict_cli import run_predict

    argv = ["--device", "cpu", "--json", *args["images"]]
    return {"rc": run_predict((["--model", args["model"]] if args.get("model") else []) + argv)}


def _evaluate(args: dict) -> dict:
    from trainer.cli import main

    return {"rc": main(["evaluate", args["model"], "--device", "cpu", "--data-dir", args["data_dir"],
                        "--test-subset", "100"])}


def _export(args: dict) -> dict:
    from trainer.cli import main

    return {"rc": main(["export", args["model"], args["output"]])}


def _image(args: dict) -> dict:
    from trainer.preprocess import image_to_mnist

    image = image_to_mnist(args["image"])
    return {"loaded": True, "shape": list(image.shape)}


def _idx(args: dict) -> dict:
    from trainer.data import load_mnist

    data = load_mnist(args["data_dir"], download=False)
    return {"loaded": True, "n_train": len(data.train)}


def _allocate(args: dict) -> dict:
    """A control: allocate and touch `mb` megabytes (checks the measurement and the cap)."""
    block = bytearray(args["mb"] * 2**20)
    block[:: 4096] = b"x" * len(block[:: 4096])
    return {"loaded": True}


ENTRY_POINTS = {
    "allocate": _allocate,
    "load_model": _load_model, "Recognizer.load": _recognizer, "predict": _predict, "evaluate": _evaluate,
    "export": _export, "image_to_mnist": _image, "load_mnist": _idx,
}


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _child(job: dict, out: Path) -> None:
    """In the forked child: cap memory, run the job, write its outcome. Never returns."""
    try:
        start_kb = _status_kb("VmRSS")  # the peak (VmHWM) of a fresh fork starts here
        limit = _vm_size() + CAP_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        signal.alarm(HANG_S)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(out / f"{job['id']}.{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        start = time.monotonic()
        try:
            outcome = ENTRY_POINTS[job["entry"]](job["args"])
        except Exception as exc:  # noqa: BLE001 - recorded: the test decides whether it was the right one
            outcome = {"error": str(exc), "error_type": type(exc).__name__,
                       "traceback": "".join(traceback.format_exception(exc))[-3000:]}
        outcome["seconds"] = time.monotonic() - start
        outcome["peak_mb"] = (_status_kb("VmHWM") - start_kb) / 1024
        sys.stdout.flush()
        sys.stderr.flush()
        (out / f"{job['id']}.json").write_text(json.dumps(outcome, default=str))
    finally:
        os._exit(0)


def run_jobs(jobs: list[dict], out: Path) -> dict:
    results = {}
    for job in jobs:
        pid = os.fork()
        if pid == 0:
            _child(job, out)
        _, status = os.waitpid(pid, 0)
        path = out / f"{job['id']}.json"
        result = json.loads(path.read_text()) if path.exists() else {"error": "the job died", "error_type": "died"}
        for name in ("stdout", "stderr"):
            stream = out / f"{job['id']}.{name}"
            result[name] = stream.read_text(errors="replace")[-5000:] if stream.exists() else ""
        result["signal"] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        results[job["id"]] = result
    return results


def main() -> None:
    jobs = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2]).parent / "job-output"
    out.mkdir(exist_ok=True)
    import torch

    torch.set_num_threads(1)
    # imported before forking, so that each child starts with them loaded (and their mappings uncapped)
    import digitpad.predict_cli  # noqa: F401
    import digitpad.recognizer  # noqa: F401
    import trainer.checkpoint  # noqa: F401
    import trainer.cli  # noqa: F401
    import trainer.data  # noqa: F401
    import trainer.evaluate  # noqa: F401
    import trainer.export  # noqa: F401

    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        pass

    Path(sys.argv[2]).write_text(json.dumps(run_jobs(jobs, out)))


if __name__ == "__main__":
    main()
