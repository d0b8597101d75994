"""Remembered values: whatever a settings file holds, digitpad starts, with the default for each bad value."""

from __future__ import annotations

import math

import pytest
from ui_helpers import any_recognizer, temp_settings

from digitpad import settings as prefs
from digitpad.draw.drawing import DEFAULT_PEN_WIDTH, MAX_PEN_WIDTH, MIN_PEN_WIDTH

GARBAGE = ["inf", "-inf", "nan", "1e400", 10**30, -(10**30), "abc", "", "\0", [1, 2, 3], ["x"] * 100, True,
           "x" * 100_000, b"\xff" * 70_000]


class DictStore(dict):
    """A settings store without Qt: what QSettings offers digitpad."""

    def value(self, key: str) -> object:
        return self.get(key)

    def setValue(self, key: str, value: object) -> None:  # noqa: N802 (QSettings' name)
        self[key] = value


@pytest.mark.parametrize("raw", [math.inf, "inf", "nan", "1e400", "1e300", 10**30, "abc", [0.05], None, True, object()])
def test_a_bad_pen_width_falls_back_to_the_default(raw):
    assert prefs.read(DictStore({prefs.PEN_WIDTH.name: raw}), prefs.PEN_WIDTH) == DEFAULT_PEN_WIDTH


@pytest.mark.parametrize(("raw", "value"), [("0.06", 0.06), (0.06, 0.06), ("5", MAX_PEN_WIDTH), (-1, MIN_PEN_WIDTH),
                                            ("1e8", MAX_PEN_WIDTH)])
def test_a_pen_width_out_of_range_is_clamped(raw, value):
    assert prefs.read(DictStore({prefs.PEN_WIDTH.name: raw}), prefs.PEN_WIDTH) == pytest.approx(value)


def test_recent_models_keep_a_few_distinct_paths(tmp_path):
    store = DictStore()
    prefs.write(store, prefs.RECENT_MODELS, ("a.pt", "b.pt", "a.pt", 7, "c.pt", "d.pt", "e.pt", "f.pt", "g.pt"))
    assert prefs.read(store, prefs.RECENT_MODELS) == ("a.pt", "b.pt", "c.pt", "d.pt", "e.pt")
    store[prefs.RECENT_MODELS.name] = "only.pt"  # how an INI file gives back a list of one
    assert prefs.read(store, prefs.RECENT_MODELS) == ("only.pt",)


def test_a_remembered_folder_that_is_gone_is_forgotten(tmp_path):
    store = DictStore({prefs.LAST_IMAGE_DIR.name: str(tmp_path / "gone")})
    assert prefs.read(store, prefs.LAST_IMAGE_DIR) == ""
    store[prefs.LAST_IMAGE_DIR.name] = str(tmp_path)
    assert prefs.read(store, prefs.LAST_IMAGE_DIR) == str(tmp_path)


def test_writing_a_bad_value_is_refused():
    with pytest.raises(ValueError):
        prefs.write(DictStore(), prefs.PEN_WIDTH, math.nan)


@pytest.mark.parametrize("garbage", GARBAGE, ids=[f"garbage{i}" for i in range(len(GARBAGE))])
def test_every_key_read_back_from_garbage_is_its_default(garbage):
    store = DictStore({key.name: garbage for key in prefs.APP_KEYS})
    for key in prefs.APP_KEYS:
        value = prefs.read(store, key)
        assert value == key.default or key is prefs.RECENT_MODELS and isinstance(value, tuple), key.name


@pytest.mark.slow
@pytest.mark.parametrize("garbage", ["inf", "1e400", "abc", "1" + "0" * 30, ["x", "y"], "\0"])
def test_the_window_starts_with_garbage_in_every_key(qtbot, tmp_path, garbage):
    from digitpad.app import DEFAULT_SIZE, MainWindow

    store = temp_settings(tmp_path)
    for key in prefs.APP_KEYS:
        store.setValue(key.name, garbage)
    store.sync()
    store = temp_settings(tmp_path)  # read back from the file, as at the next launch
    window = MainWindow(any_recognizer(tmp_path), settings=store)
    qtbot.addWidget(window)
    assert window.draw_tab.pen_width() == pytest.approx(DEFAULT_PEN_WIDTH)
    assert window.size() == DEFAULT_SIZE or window.size().width() <= DEFAULT_SIZE.width()  # offscreen screen: 800
    window.close()
    assert prefs.read(temp_settings(tmp_path), prefs.PEN_WIDTH) == pytest.approx(DEFAULT_PEN_WIDTH)
