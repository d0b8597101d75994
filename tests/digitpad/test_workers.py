"""The one way digitpad runs work off the GUI thread: results come back, and every thread can be ended."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication

from digitpad.workers import TaskWorker, running_threads, start_job, start_service, stop, stop_all


class Echo(QObject):
    """A service: answers each request on its own thread."""

    answered = Signal(str)
    asked = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.asked.connect(self._answer)

    @Slot(str)
    def _answer(self, text: str) -> None:
        self.answered.emit(f"{text} from {threading.current_thread().name != 'MainThread'}")


def test_a_task_runs_off_the_gui_thread_and_reports_its_value(qtbot):
    seen, where = [], []
    worker = TaskWorker(lambda: where.append(threading.current_thread()) or 42)
    worker.finished.connect(seen.append)
    thread = start_job(worker, "test-task")
    qtbot.waitUntil(lambda: seen == [42] and thread.isFinished(), timeout=5000)
    assert where and where[0] is not threading.main_thread()
    assert worker.thread() is QApplication.instance().thread()  # it ended on the GUI thread


def test_a_failing_task_reports_a_message(qtbot):
    failures = []
    worker = TaskWorker(lambda: 1 / 0)
    worker.failed.connect(failures.append)
    start_job(worker, "test-failing")
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert "ZeroDivisionError" in failures[0] or "division" in failures[0]


def test_stop_all_ends_services_and_cancels_jobs(qtbot):
    echo = Echo()
    answers = []
    echo.answered.connect(answers.append)
    service = start_service(echo, "test-echo")
    echo.asked.emit("hello")
    qtbot.waitUntil(lambda: answers == ["hello from True"], timeout=5000)

    release = threading.Event()
    job = TaskWorker(lambda: release.wait(30))
    job_thread = start_job(job, "test-blocked", cancel=release.set)
    qtbot.waitUntil(job_thread.isRunning, timeout=5000)
    assert stop_all(timeout_ms=5000)
    assert service.isFinished() and job_thread.isFinished()
    assert running_threads() == []
    assert echo.thread() is QApplication.instance().thread()  # moved back as its loop ended


def test_stopping_a_thread_twice_is_harmless(qtbot):
    thread = start_service(Echo(), "test-twice")
    assert stop(thread) and stop(thread)
