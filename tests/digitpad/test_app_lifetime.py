"""However the program ends, digitpad ends cleanly: no abort from a running thread, settings saved.

Each case runs in a child process, because what is tested is how that process exits.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ui_helpers import TEST_MODEL_ENV, load_app_recognizer

pytestmark = pytest.mark.slow

CHILD_TIMEOUT_S = 120
ABORT_MESSAGE = "QThread: Destroyed while thread"

# A script that makes a window, keeps it busy in one way, and ends without closing it.
EXIT_WITH_THE_WINDOW_OPEN = """
import sys
from PySide6.QtCore import QSettings
from digitpad.app import MainWindow, create_application
from digitpad.recognizer import Recognizer

case, ini, model = sys.argv[1:4]
app = create_application()
store = QSettings(ini, QSettings.Format.IniFormat)
if case == "loading":
    window = MainWindow(None, settings=store)
    window.show()
    window.load_model(model)
else:
    window = MainWindow(Recognizer.load(model, device="cpu"), settings=store)
    window.show()
    if case == "recognizing":
        for i in range(50):
            window.canvas.drawing.begin(100, 50 + i)
            window.canvas.drawing.extend(220, 330)
            window.canvas.drawing.end()
            window.draw_tab.recognize_now()
app.processEvents()
if case == "dropped":
    del window  # the window object is destroyed while the app goes on
    app.processEvents()
print("leaving", flush=True)
"""

# A training run going when the program ends: it is stopped and its model kept (in $XDG_DATA_HOME's runs folder).
EXIT_WHILE_TRAINING = """
import dataclasses, sys, time
from PySide6.QtCore import QSettings
from digitpad.app import MainWindow, create_application
from digitpad.recognizer import Recognizer

ini, model, mnist = sys.argv[1:4]
app = create_application()
store = QSettings(ini, QSettings.Format.IniFormat)
store.setValue("train/data_dir", mnist)
window = MainWindow(Recognizer.load(model, device="cpu"), settings=store)
window.show()
tab = window.train_tab
tab.form.set_config(dataclasses.replace(tab.form.config(), epochs=3, subset=5000))
tab.start()
deadline = time.monotonic() + 60
while not tab.is_running and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
print("leaving", tab.is_running, flush=True)
"""

# The `digitpad` command's own run_app, told to quit by a signal once the model is in.
QUIT_BY_SIGNAL = """
import sys
from PySide6.QtCore import QSettings, QTimer
from digitpad.app import MainWindow, create_application, run_app

ini, model = sys.argv[1:3]
app = create_application()

def report_when_ready():
    window = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
    window.recognizerChanged.connect(lambda _r: print("ready", flush=True))

QTimer.singleShot(0, report_when_ready)
sys.exit(run_app(model, "cpu", settings=QSettings(ini, QSettings.Format.IniFormat)))
"""


@pytest.fixture(scope="module")
def model_path() -> Path:
    return load_app_recognizer().checkpoint.path


def child_env() -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k != TEST_MODEL_ENV}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


@pytest.mark.parametrize("case", ["idle", "recognizing", "loading", "dropped"])
def test_a_program_that_exits_with_the_window_open_ends_cleanly(tmp_path, model_path, case):
    ini = tmp_path / "settings.ini"
    done = subprocess.run([sys.executable, "-c", EXIT_WITH_THE_WINDOW_OPEN, case, str(ini), str(model_path)],
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, env=child_env())
    assert "leaving" in done.stdout, done.stderr[-2000:]
    assert ABORT_MESSAGE not in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 0
    if case != "dropped":
        assert "pen_width" in ini.read_text()  # the settings were saved on the way out


def test_a_program_that_exits_during_a_training_run_keeps_its_model(tmp_path, model_path, mnist_dir):
    env = {**child_env(), "XDG_DATA_HOME": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", EXIT_WHILE_TRAINING, str(tmp_path / "s.ini"), str(model_path),
                           str(mnist_dir)], capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, env=env)
    assert "leaving True" in done.stdout, done.stderr[-2000:]
    assert ABORT_MESSAGE not in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 0
    assert list((tmp_path / "data" / "digitpad" / "runs").glob("*.pt")), done.stderr[-2000:]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_quit_like_closing_the_window(tmp_path, model_path, signum):
    ini = tmp_path / "settings.ini"
    child = subprocess.Popen([sys.executable, "-c", QUIT_BY_SIGNAL, str(ini), str(model_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signum)
        _out, err = child.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        child.kill()
    assert child.returncode == 128 + signum, err[-2000:]
    assert ABORT_MESSAGE not in err and "Traceback" not in err, err[-2000:]
    assert "pen_width" in ini.read_text() and "geometry" in ini.read_text()
