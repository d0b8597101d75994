"""The training loop: it learns, reports progress in order, can be paused and cancelled, stops on NaN,
and repeats itself exactly for the same seed."""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading

import numpy as np
import pytest
import torch

from trainer.checkpoint import load_model
from trainer.config import TrainConfig
from trainer.control import TrainControl
from trainer.data import load_mnist, normalize
from trainer.devices import resolve_device
from trainer.errors import ConfigError, TrainingError
from trainer.events import BatchEvent, EpochEvent, StartEvent, event_to_dict
from trainer.train import make_optimizer, make_scheduler, train, training_data

PAUSE_CHECK_SECONDS = 0.3  # how long a paused run must stay still in the pause test


@pytest.fixture(scope="module")
def small(mnist_dir):
    """1024 training and 500 test images (class-balanced draws)."""
    return load_mnist(mnist_dir, download=False, subset=1024, test_subset=500)


def quick_config(**overrides) -> TrainConfig:
    values = dict(arch="cnn", optimizer="adam", lr=2e-3, batch_size=64, epochs=1, device="cpu", log_every=2)
    return TrainConfig(**{**values, **overrides})


def run(config, data, control=None):
    events = []
    result = train(config, data=data, on_event=events.append, control=control)
    return result, events


def batch_losses(events) -> list[float]:
    return [e.loss for e in events if isinstance(e, BatchEvent)]


def test_a_short_run_lowers_the_loss_and_learns_something(small):
    result, events = run(quick_config(epochs=2), small)

    losses = batch_losses(events)
    assert losses[-1] < 0.5 * losses[0]
    assert result.history[-1].test_accuracy > 0.7  # chance is 0.1
    assert result.metrics["test_accuracy"] == result.history[-1].test_accuracy
    assert result.metrics["epochs_completed"] == 2 and not result.cancelled


def test_events_arrive_in_order_with_sane_fields(small):
    config = quick_config(epochs=2, log_every=5)
    result, events = run(config, small)

    start = events[0]
    assert isinstance(start, StartEvent) and start.n_train == 1024 and start.n_test == 500
    assert start.steps_per_epoch == 16 and start.n_params > 0 and start.device == "cpu"
    assert sum(isinstance(e, StartEvent) for e in events) == 1
    # per epoch: batches every 5 steps and on the last step, then the epoch's evaluation
    kinds = [(type(e).__name__, getattr(e, "epoch", 0), getattr(e, "step", None)) for e in events[1:]]
    per_epoch = lambda n: [("BatchEvent", n, 5), ("BatchEvent", n, 10), ("BatchEvent", n, 15), ("BatchEvent", n, 16), ("EpochEvent", n, None)]
    assert kinds == per_epoch(1) + per_epoch(2)
    batches = [e for e in events if isinstance(e, BatchEvent)]
    assert [b.global_step for b in batches] == [5, 10, 15, 16, 21, 26, 31, 32]
    assert all(b.samples_per_sec > 0 and b.eta >= 0 and math.isfinite(b.loss) for b in batches)
    assert all(a.elapsed <= b.elapsed for a, b in itertools.pairwise(batches))
    assert batches[-1].eta == pytest.approx(0, abs=1e-6) or batches[-1].eta < batches[0].eta
    for epoch in (e for e in events if isinstance(e, EpochEvent)):
        assert 0 <= epoch.train_accuracy <= 1 and 0 <= epoch.test_accuracy <= 1 and epoch.seconds > 0
        assert epoch.val_loss is None
    assert result.history == [e for e in events if isinstance(e, EpochEvent)]
    assert event_to_dict(batches[0])["event"] == "batch" and event_to_dict(start)["config"]["arch"] == "cnn"


def test_cancel_mid_epoch_returns_the_model_trained_so_far(small, tmp_path):
    control = TrainControl()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, BatchEvent) and event.global_step == 3:
            control.cancel()

    result = train(quick_config(epochs=3, log_every=1), data=small, on_event=on_event, control=control)

    assert result.cancelled and result.metrics["cancelled"]
    assert result.metrics["steps"] == 3 and result.history == []
    assert 0 < result.metrics["test_accuracy"] <= 1  # evaluated on the test set
    logits = result.model(normalize(small.test.images[:4]))
    assert logits.shape == (4, 10) and torch.isfinite(logits).all()
    # and nothing is lost on the way to disk
    model, ckpt = load_model(result.save(tmp_path / "partial.pt"))
    assert torch.equal(model(normalize(small.test.images[:4])).argmax(1), logits.argmax(1))
    assert ckpt.metrics["steps"] == 3


def test_pause_blocks_between_batches_until_resume_from_another_thread(small):
    control = TrainControl()
    events = []
    paused = threading.Event()

    def on_event(event):
        events.append(event)
        if isinstance(event, BatchEvent) and event.global_step == 2:
            control.pause()
            paused.set()

    outcome = {}
    worker = threading.Thread(
        target=lambda: outcome.setdefault("result", train(quick_config(log_every=1), data=small, on_event=on_event, control=control))
    )
    worker.start()
    assert paused.wait(timeout=60)
    count = len(events)
    worker.join(timeout=PAUSE_CHECK_SECONDS)
    assert worker.is_alive() and control.paused and len(events) == count  # no batch while paused
    control.resume()
    worker.join(timeout=60)
    assert not worker.is_alive()
    result = outcome["result"]
    assert not result.cancelled and result.metrics["steps"] == 16


def test_cancel_while_paused_unblocks_and_returns(small):
    control = TrainControl()

    def on_event(event):
        if isinstance(event, BatchEvent):
            control.pause()
            threading.Timer(0.05, control.cancel).start()

    result = train(quick_config(log_every=1), data=small, on_event=on_event, control=control)
    assert result.cancelled and result.metrics["steps"] == 1 and not control.paused


def test_a_diverging_loss_stops_with_a_clear_message(small):
    config = quick_config(optimizer="sgd", lr=1e6, log_every=4)
    events = []
    with pytest.raises(TrainingError, match=r"(NaN|infinite) at epoch 1 step \d+ .*learning rate too high\?$"):
        train(config, data=small, on_event=events.append)
    assert not any(isinstance(e, EpochEvent) for e in events)  # no evaluation of a broken model


def test_the_same_seed_gives_the_same_curve_and_another_seed_does_not(small):
    config = quick_config(augment=True, seed=7)
    first, first_events = run(config, small)
    again, again_events = run(config, small)
    other, other_events = run(quick_config(augment=True, seed=8), small)

    assert batch_losses(first_events) == batch_losses(again_events)
    assert first.metrics["test_loss"] == again.metrics["test_loss"]
    assert batch_losses(first_events) != batch_losses(other_events)


def test_every_optimizer_and_schedule_trains(small):
    for optimizer, schedule, lr in (("sgd", "none", 0.05), ("momentum", "cosine", 0.05), ("adamw", "onecycle", 2e-3)):
        config = quick_config(arch="fnn", optimizer=optimizer, schedule=schedule, lr=lr, log_every=4)
        result, events = run(config, small)
        losses = batch_losses(events)
        assert losses[-1] < losses[0], (optimizer, schedule, losses)


def test_optimizers_and_schedules_are_built_as_named():
    params = [torch.nn.Parameter(torch.zeros(2))]
    momentum = make_optimizer(TrainConfig(optimizer="momentum", lr=0.1, momentum=0.8), params)
    assert isinstance(momentum, torch.optim.SGD) and momentum.defaults["momentum"] == 0.8
    assert make_optimizer(TrainConfig(optimizer="sgd"), params).defaults["momentum"] == 0
    adamw = make_optimizer(TrainConfig(optimizer="adamw", weight_decay=0.01), params)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["weight_decay"] == 0.01

    config = TrainConfig(optimizer="sgd", lr=1.0, schedule="cosine")
    opt = make_optimizer(config, params)
    cosine = make_scheduler(config, opt, total_steps=10)
    for _ in range(10):
        opt.step()
        cosine.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0, abs=1e-9)
    onecycle = make_scheduler(TrainConfig(optimizer="sgd", lr=1.0, schedule="onecycle"), make_optimizer(config, params), 10)
    assert onecycle.optimizer.param_groups[0]["momentum"] == 0  # plain SGD stays plain
    assert make_scheduler(TrainConfig(), opt, 10) is None


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="rmsprop").validate()
    with pytest.raises(ConfigError, match="architecture"):
        TrainConfig(arch="resnet").validate()
    with pytest.raises(ConfigError, match="learning rate"):
        TrainConfig(lr=0).validate()
    with pytest.raises(ConfigError, match="cannot build cnn"):
        train(TrainConfig(model_args={"no_such_arg": 1}, device="cpu"), data=object())  # fails before data is touched


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_a_clear_error():
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type in ("cpu", "mps")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu")


def test_the_checkpoint_holds_the_config_and_metrics(small, tmp_path):
    result, _ = run(quick_config(arch="fnn"), small)
    model, ckpt = load_model(result.save(tmp_path / "m.pt"))

    assert ckpt.arch == "fnn" and ckpt.hparams == result.config.to_dict()
    assert TrainConfig.from_dict(ckpt.hparams) == result.config
    assert ckpt.metrics["test_accuracy"] == result.metrics["test_accuracy"]
    assert ckpt.normalization == {"mean": pytest.approx(0.1307), "std": pytest.approx(0.3081)}
    images = normalize(small.test.images[:8])
    assert torch.allclose(model(images), result.model(images), atol=1e-6)


def test_a_validation_split_is_evaluated_every_epoch(mnist_dir):
    data = load_mnist(mnist_dir, download=False, subset=512, test_subset=200, val_size=200)
    result, _ = run(quick_config(arch="fnn"), data)
    assert 0 <= result.history[0].val_accuracy <= 1 and np.isfinite(result.history[0].val_loss)


def test_pen_digits_of_training_writers_join_the_training_set(small, pendigits_path, monkeypatch):
    from trainer import pendigits

    monkeypatch.setenv("DIGITPAD_PENDIGITS", str(pendigits_path))
    digits = pendigits.load_pendigits(pendigits_path)[:200]  # a few, to stay fast
    monkeypatch.setattr(pendigits, "load_pendigits", lambda path: digits)
    train_writers, _ = pendigits.split_by_writer(digits)

    result, events = run(quick_config(arch="fnn", pen_digits=True), small)
    assert events[0].n_train == 1024 + 3 * len(train_writers)
    assert result.config.pen_digits and not result.cancelled

    _, events = run(quick_config(arch="fnn", pen_digits=True, pen_copies=5), small)
    assert events[0].n_train == 1024 + 5 * len(train_writers)


def test_running_out_of_memory_is_a_training_error_with_advice(small):
    class Greedy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(784, 10)

        def forward(self, x):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(TrainingError, match=r"ran out of memory .* batch size 64; try a smaller batch size"):
        train(quick_config(arch="fnn"), data=small, model=Greedy())


def test_the_result_says_once_where_and_how_long_it_trained(small):
    from trainer.devices import describe_device

    result, events = run(quick_config(arch="fnn"), small)
    assert result.device == torch.device("cpu") and events[0].device == str(result.device)
    assert result.metrics["device"] == result.device_name == describe_device(result.device) == "CPU"
    assert result.metrics["train_seconds"] == result.seconds > 0
    assert result.metrics["cancelled"] is result.cancelled is False
    assert result.metrics["steps"] == result.steps == 16 and result.metrics["n_test"] == len(small.test)


def test_a_persons_exported_digits_join_the_training_set(tmp_path, mnist_dir):
    from trainer.personal_examples import Example
    from trainer.personal_file import export_examples

    seven = [[(100.0, 100.0), (300.0, 100.0), (180.0, 340.0)]]
    path = tmp_path / "mine.jsonl"
    export_examples(path, [Example.of(seven, 7), Example.of(seven, 1)])
    plain = TrainConfig(arch="fnn", data_dir=str(mnist_dir), subset=100, test_subset=10)
    train_split, _, _ = training_data(plain)
    mine = dataclasses.replace(plain, personal=str(path), personal_copies=3)
    with_mine, _, _ = training_data(mine)
    assert len(with_mine) == len(train_split) + 2 * 3
    assert sorted(with_mine.labels[len(train_split):].tolist()) == [1, 1, 1, 7, 7, 7]


def test_model_arguments_no_loader_would_accept_are_refused_before_training():
    with pytest.raises(ConfigError, match="cannot build fnn with these model arguments.*hidden"):
        TrainConfig(arch="fnn", model_args={"hidden": [2_000_000, 10]}).validate()
