"""One editor widget per ParamSpec kind, validated as typed; `SpecForm` lays out a spec tuple.

A field shows its input, then the spec's help text as a visible hint (and tooltip). Typing
something the spec refuses turns the input red and replaces the hint with the reason; nothing is
committed. A valid edit emits `committed(name, value)` once, on Enter / focus out (text fields),
on a spin box step, a combo choice or a check box click. `set_value` never emits.

Spin boxes, combo boxes and sliders take the mouse wheel only once they have the focus
(`wheel_on_focus_only`, made app-wide by `install_wheel_guard`): over an unfocused one the wheel
scrolls the page they sit in.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NetCanvasError
from engine.registry import ParamSpec
from gui.theme import ERROR_COLOR, hint_color

OFF_TEXT = "(off)"
WINDOW_PARAMS = ("kernel_size", "strides", "dilation_rate", "pool_size")  # "shape" specs of window sizes
_INT32 = (-(2**31), 2**31 - 1)
_ERROR_STYLE = f"border: 2px solid {ERROR_COLOR}; border-radius: 3px;"


class _WheelGuard(QObject):
    """Gives spin boxes, combo boxes and sliders the focus-first wheel (see `wheel_on_focus_only`)
    when they are polished, and passes a wheel event over an unfocused one on to its parents."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind == QEvent.Type.Polish and isinstance(watched, WHEEL_KINDS):
            wheel_on_focus_only(watched)
        elif kind == QEvent.Type.Wheel and isinstance(watched, WHEEL_KINDS) and not watched.hasFocus():
            event.ignore()  # an ignored wheel event goes to the parent widget (the scroll area)
            return True
        return False


WHEEL_KINDS = (QAbstractSpinBox, QComboBox, QSlider)  # (not scroll bars: they take the wheel as they are)
_wheel_guard: list[_WheelGuard] = []  # the one filter, made when first needed


def _guard() -> _WheelGuard:
    if not _wheel_guard:
        _wheel_guard.append(_WheelGuard())
    return _wheel_guard[0]


def wheel_on_focus_only(widget: QWidget) -> None:
    """Qt's usual StrongFocus convention: a click or Tab focuses `widget`, the wheel does not,
    and the wheel changes its value only while it has the focus."""
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_guard())


def install_wheel_guard(app: QApplication | None = None) -> None:
    """`wheel_on_focus_only` for every spin box, combo box and slider of the application, as each
    is polished (first shown), wherever it was built (idempotent)."""
    app = app or QApplication.instance()
    if app is not None:
        app.installEventFilter(_guard())


def humanize(name: str) -> str:
    """'learning_rate' -> 'Learning rate'."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def format_value(value: Any) -> str:
    """How a value shows in a text field: 0.001, 1e-07, '28, 28', '' for None."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value)


class ParamField(QWidget):
    """Base: the input widget, a hint/error line, and the spec it validates against."""

    committed = Signal(str, object)  # parameter name, validated new value

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self.spec = spec
        self._value: Any = spec.default
        self.error: str | None = None
        self.input = self._make_input()
        self.input.setToolTip(self.tooltip())
        self.hint = QLabel(spec.help)
        self.hint.setWordWrap(True)
        self.hint.setToolTip(self.tooltip())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 2)
        layout.setSpacing(1)
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addWidget(self.input, 1)
        layout.addLayout(self.row)
        layout.addWidget(self.hint)
        self._show_hint()

    def tooltip(self) -> str:
        spec = self.spec
        limits = []
        if spec.minimum is not None:
            limits.append(f"min {format_value(spec.minimum)}")
        if spec.maximum is not None:
            limits.append(f"max {format_value(spec.maximum)}")
        extra = f" ({', '.join(limits)})" if limits else ""
        off = "; leave empty for off" if spec.optional and spec.kind != "choice" else ""
        return f"{spec.name}: {spec.help}{extra}{off}"

    # ----------------------------------------------------------------- public
    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        """Show `value` (from the document) without emitting; clears any error."""
        self._value = value
        with QSignalBlocker(self.input):
            self._show(value)
        self.clear_error()

    def show_error(self, message: str) -> None:
        self.error = message
        self.input.setStyleSheet(_ERROR_STYLE)
        self.hint.setText(message)
        self.hint.setStyleSheet(f"color: {ERROR_COLOR}; font-size: 8.5pt;")

    def clear_error(self) -> None:
        self.error = None
        self.input.setStyleSheet("")
        self._show_hint()

    # -------------------------------------------------------------- internals
    def _show_hint(self) -> None:
        self.hint.setText(self.spec.help)
        self.hint.setStyleSheet(f"color: {hint_color(self.palette())}; font-size: 8.5pt;")

    def _check(self, value: Any) -> Any:
        """`value` validated by the spec; ConfigError with a short message otherwise."""
        try:
            return self.spec.validate(value, "value")
        except NetCanvasError as exc:
            message = str(exc).replace(f"value: parameter '{self.spec.name}' ", "")
            raise _Invalid(message[:1].upper() + message[1:]) from None

    def _offer(self, value: Any) -> None:
        """A user edit: validate, then commit if it differs from the shown value."""
        try:
            value = self._check(value)
        except _Invalid as exc:
            self.show_error(str(exc))
            return
        self.clear_error()
        if value != self._value:
            self._value = value
            self.committed.emit(self.spec.name, value)

    def _make_input(self) -> QWidget:
        raise NotImplementedError

    def _show(self, value: Any) -> None:
        raise NotImplementedError


class _Invalid(Exception):
    pass


class TextField(ParamField):
    """float, shape, str, and ints too wide for a spin box or optional: a validated line edit."""

    def _make_input(self) -> QWidget:
        edit = QLineEdit()
        if self.spec.optional:
            edit.setPlaceholderText("off")
        elif self.spec.kind == "shape":  # a window (one number for every axis, or one per axis) or a shape
            edit.setPlaceholderText("e.g. 3 or 3, 5" if self.spec.name in WINDOW_PARAMS else "e.g. 28, 28")
        edit.setClearButtonEnabled(self.spec.optional)
        edit.textEdited.connect(self._typed)
        edit.editingFinished.connect(self._finished)
        return edit

    def _show(self, value: Any) -> None:
        self.input.setText(format_value(value))

    def parse(self, text: str) -> Any:
        """The typed text as a value for the spec (not range-checked); _Invalid if unreadable."""
        text = text.strip()
        kind = self.spec.kind
        if not text:
            if self.spec.optional:
                return None
            if kind != "str":
                raise _Invalid("Enter a value")
        if kind == "float":
            try:
                return float(text)
            except ValueError:
                raise _Invalid(f"Expects a number like 0.01 or 1e-4, got '{text}'") from None
        if kind == "int":
            try:
                return int(text)
            except ValueError:
                raise _Invalid(f"Expects a whole number, got '{text}'") from None
        if kind == "shape":
            parts = [p for p in re.split(r"[\s,x×()\[\]]+", text) if p]
            if not parts or not all(p.isdigit() for p in parts):
                raise _Invalid(f"Expects positive whole numbers separated by commas, got '{text}'")
            return tuple(int(p) for p in parts)
        return text

    def _typed(self, text: str) -> None:
        try:
            self._check(self.parse(text))
        except _Invalid as exc:
            self.show_error(str(exc))
            return
        self.clear_error()

    def _finished(self) -> None:
        try:
            value = self.parse(self.input.text())
        except _Invalid as exc:
            self.show_error(str(exc))
            return
        self._offer(value)


class IntField(ParamField):
    """A spin box limited to the spec's range; typing past it shows why it is refused."""

    def _make_input(self) -> QWidget:
        box = QSpinBox()
        low = self.spec.minimum if self.spec.minimum is not None else _INT32[0]
        high = self.spec.maximum if self.spec.maximum is not None else _INT32[1]
        box.setRange(int(max(low, _INT32[0])), int(min(high, _INT32[1])))
        box.setKeyboardTracking(False)  # valueChanged on Enter, arrows or focus out
        box.setAccelerated(True)
        box.valueChanged.connect(self._offer)
        box.lineEdit().textEdited.connect(self._typed)
        return box

    def _show(self, value: Any) -> None:
        self.input.setValue(int(value))

    def _typed(self, text: str) -> None:
        try:
            self._check(int(text.strip()))
        except ValueError:
            self.show_error(f"Expects a whole number, got '{text.strip()}'")
            return
        except _Invalid as exc:
            self.show_error(str(exc))
            return
        self.clear_error()


class ChoiceField(ParamField):
    def _make_input(self) -> QWidget:
        combo = QComboBox()
        if self.spec.optional:
            combo.addItem(OFF_TEXT, None)
        for name in self.spec.allowed_choices():
            combo.addItem(name, name)
        combo.currentIndexChanged.connect(lambda index: self._offer(combo.itemData(index)))
        return combo

    def _show(self, value: Any) -> None:
        index = self.input.findData(value)
        self.input.setCurrentIndex(max(index, 0))


class BoolField(ParamField):
    def _make_input(self) -> QWidget:
        box = QCheckBox(humanize(self.spec.name))
        box.toggled.connect(self._offer)
        return box

    def _show(self, value: Any) -> None:
        self.input.setChecked(bool(value))


def make_field(spec: ParamSpec) -> ParamField:
    """The right editor for `spec.kind` (see the module docstring)."""
    if spec.kind == "bool":
        return BoolField(spec)
    if spec.kind == "choice":
        return ChoiceField(spec)
    if spec.kind == "int" and not spec.optional:
        fits = all(limit is None or _INT32[0] <= limit <= _INT32[1] for limit in (spec.minimum, spec.maximum))
        if fits:
            return IntField(spec)
    return TextField(spec)


class SpecForm(QWidget):
    """A form of fields for a tuple of ParamSpecs; emits `committed(name, value)` per edit."""

    committed = Signal(str, object)  # parameter name, validated new value

    def __init__(self, specs: tuple[ParamSpec, ...], parent: QWidget | None = None):
        super().__init__(parent)
        self.fields: dict[str, ParamField] = {}
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for spec in specs:
            field = make_field(spec)
            field.committed.connect(self.committed)
            self.fields[spec.name] = field
            if spec.kind == "bool":
                self.form.addRow("", field)
            else:
                label = QLabel(humanize(spec.name))
                label.setToolTip(field.tooltip())
                self.form.addRow(label, field)

    def set_values(self, values: dict[str, Any]) -> None:
        for name, field in self.fields.items():
            field.set_value(values.get(name, field.spec.default))

    def add_below(self, name: str, widget: QWidget) -> None:
        """Insert `widget` as a full-width row right under field `name`."""
        row, _role = self.form.getWidgetPosition(self.fields[name])
        self.form.insertRow(row + 1, widget)
