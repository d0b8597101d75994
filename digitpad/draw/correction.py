"""The Draw tab's correction controls: "Not a 5? Tell me:", ten digit buttons, a ✓ and the learning toggle.

It renders what it is told (the digit read, a feedback line, whether learning is on) and forwards
intent by signal; storing and relearning are the window's business.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from trainer.sizes import NUM_CLASSES

BUTTON_WIDTH = 24   # the ten digit buttons fit the 320 px results column in one row
BUTTON_SPACING = 3


class CorrectionBar(QFrame):
    """Say what the drawing really is, or confirm the reading."""

    # The user says the drawing is this digit.
    corrected = Signal(int)
    # The user says the reading is right.
    confirmed = Signal()
    # "Learn from my corrections" was switched.
    learningToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._digit: int | None = None
        self.question = QLabel(self)
        self.question.setTextFormat(Qt.TextFormat.PlainText)
        self.confirm_button = QToolButton(self)
        self.confirm_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.confirm_button.clicked.connect(self.confirmed)
        self.digit_buttons: list[QToolButton] = []
        digits = QGridLayout()
        digits.setHorizontalSpacing(BUTTON_SPACING)
        digits.setContentsMargins(0, 0, 0, 0)
        for digit in range(NUM_CLASSES):
            button = QToolButton(self)
            button.setText(str(digit))
            button.setMinimumWidth(BUTTON_WIDTH)
            button.setToolTip(f"It is a {digit}: remember this drawing as a {digit} (or type {digit} on the paper)")
            button.clicked.connect(lambda _checked=False, d=digit: self.corrected.emit(d))
            digits.addWidget(button, 0, digit)
            self.digit_buttons.append(button)
        self.learn_box = QCheckBox("Learn from my corrections", self)
        self.learn_box.setToolTip("Keep the digits you correct or confirm, and adapt the model to your handwriting")
        self.learn_box.setChecked(True)
        self.learn_box.toggled.connect(self.learningToggled)
        self.learn_box.toggled.connect(lambda _on: self._update())

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.question, 1)
        top.addWidget(self.confirm_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addLayout(digits)
        layout.addWidget(self.learn_box)
        self.setAccessibleName("Correct the reading")
        self._feedback = ""
        self._update()

    def show_reading(self, digit: int | None) -> None:
        """The digit now read (None: nothing is read); a feedback line stays until the drawing changes."""
        self._digit = digit
        self._update()

    def show_feedback(self, text: str) -> None:
        """A line such as "Learned: that was a 4", shown instead of the question ("" to go back to it)."""
        self._feedback = text
        self._update()

    def feedback(self) -> str:
        return self._feedback

    def set_learning(self, on: bool) -> None:
        self.learn_box.setChecked(on)

    def learning(self) -> bool:
        return self.learn_box.isChecked()

    def _update(self) -> None:
        on, digit = self.learning(), self._digit
        if self._feedback:
            text = self._feedback
        elif not on:
            text = "Learning from corrections is off"
        elif digit is None:
            text = "Draw a digit, then say what it is"
        else:
            text = f"Not a {digit}? Tell me:"
        self.question.setText(text)
        self.confirm_button.setText("✓" if digit is None else f"✓ {digit}")
        self.confirm_button.setToolTip("The reading is right: remember this drawing (Enter on the paper)"
                                       if digit is not None else "Nothing read yet")
        self.confirm_button.setEnabled(on and digit is not None)
        for button in self.digit_buttons:
            button.setEnabled(on and digit is not None)
