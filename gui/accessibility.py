"""Accessible names for screen readers, given to every widget that needs one, in one place.

`install(app)` adds an application event filter: once a widget is polished (first shown), a
button, input, list, table, tab page or plot without an accessible name gets one derived from
what a sighted user reads beside it: its text, its form label (or label buddy), its tooltip,
its placeholder, a plot's title or the tab / group / panel it sits in. The derived name of a
button or tab bar follows its text when the text changes (Train -> Resume). A name set with
`setAccessibleName` is never replaced.
"""

from __future__ import annotations

import re

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QFormLayout,
    QGraphicsView,
    QGroupBox,
    QLabel,
    QLayout,
    QLineEdit,
    QMenu,
    QMenuBar,
    QPlainTextEdit,
    QSlider,
    QStackedWidget,
    QTabBar,
    QTabWidget,
    QTextEdit,
    QToolButton,
    QWidget,
)

NAMED_KINDS = (
    QAbstractButton,
    QSlider,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QAbstractItemView,
    QTabBar,
    QGraphicsView,
    QPlainTextEdit,
    QTextEdit,
)
_DERIVED = "netcanvas_derived_name"  # dynamic property: the name this module gave, so it may follow the text
_FOLLOWING = (QAbstractButton, QTabBar)  # kinds whose text changes after they are first shown
# Qt's own helper buttons: their object name says what they do
_QT_BUTTONS = {
    "qt_toolbar_ext_button": "More toolbar buttons",
    "qt_dockwidget_closebutton": "Close panel",
    "qt_dockwidget_floatbutton": "Detach panel",
    "qt_left_btn": "Scroll left",
    "qt_right_btn": "Scroll right",
    "qt_menubar_ext_button": "More menus",
}
CLEAR_ACTION = "_q_qlineeditclearaction"  # the action behind a line edit's clear button


def plain(text: str) -> str:
    """Rich or mnemonic text as a screen reader should say it: no tags, no '&', no trailing ':'."""
    text = re.sub(r"<[^>]*>", " ", text or "").replace("&nbsp;", " ")
    text = re.sub(r"&(?=\w)", "", text).replace("&&", "&")
    return " ".join(text.split()).rstrip(":").strip()


def _form_label(widget: QWidget) -> str:
    """The text of the QFormLayout label (or a QLabel buddy) for `widget` or the field holding it."""
    parent = widget.parentWidget()
    if parent is not None:
        for label in parent.findChildren(QLabel, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if label.buddy() is widget and plain(label.text()):
                return plain(label.text())
    node: QWidget | None = widget
    for _ in range(3):  # the input, the field widget around it, its container
        parent = node.parentWidget() if node is not None else None
        if parent is None:
            return ""
        for form in _forms(parent.layout()):
            label = _label_in_form(form, node)
            if label:
                return label
        node = parent
    return ""


def _label_in_form(form: QFormLayout, widget: QWidget) -> str:
    """The label of the row whose field is `widget`, or a layout holding it.

    Only QObjects are asked for (labelForField, child layouts), never the layout's items:
    PySide keeps the wrapper of every item `itemAt` returns alive with its layout, and when Qt
    later deletes the item (a row removed, an Inspector page rebuilt) the stale wrapper stays
    registered at its address. A widget or undo command allocated there afterwards was then
    taken for that item: "'QWidgetItem' object has no attribute 'windowType'", and a segfault
    in QUndoStack.clear() after training."""
    label = form.labelForField(widget)
    if label is None:
        holder = next((inner for inner in _child_layouts(form) if _holds(inner, widget)), None)
        label = form.labelForField(holder) if holder is not None else None
    return plain(label.text()) if isinstance(label, QLabel) else ""


def _child_layouts(layout: QLayout) -> list[QLayout]:
    """The layouts nested directly in `layout` (a nested layout is its QObject child)."""
    return layout.findChildren(QLayout, options=Qt.FindChildOption.FindDirectChildrenOnly)


def _forms(layout: QLayout | None) -> list[QFormLayout]:
    """The form layouts in `layout`, nested ones included."""
    if layout is None:
        return []
    found = [layout] if isinstance(layout, QFormLayout) else []
    return found + layout.findChildren(QFormLayout)


def _holds(layout: QLayout, widget: QWidget) -> bool:
    return layout.indexOf(widget) >= 0 or any(_holds(inner, widget) for inner in _child_layouts(layout))


def _context(widget: QWidget) -> str:
    """The name of the tab page, group box or panel `widget` sits in."""
    child, parent = widget, widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QStackedWidget) and isinstance(parent.parentWidget(), QTabWidget):
            tabs = parent.parentWidget()
            index = tabs.indexOf(child)
            if index >= 0 and plain(tabs.tabText(index)):
                return plain(tabs.tabText(index))
        if isinstance(parent, QGroupBox) and plain(parent.title()):
            return plain(parent.title())
        if isinstance(parent, QDockWidget) and plain(parent.windowTitle()):
            return plain(parent.windowTitle())
        child, parent = parent, parent.parentWidget()
    return ""


def _plot_title(widget: QWidget) -> str:
    get_item = getattr(widget, "getPlotItem", None)  # pyqtgraph's PlotWidget
    title = getattr(getattr(get_item(), "titleLabel", None), "text", "") if callable(get_item) else ""
    return plain(title) if isinstance(title, str) else ""


def derive_name(widget: QWidget) -> str:
    """What a screen reader should call `widget` ('' when nothing can be derived)."""
    tooltip = plain(widget.toolTip())
    # (a tool button shows its action's text; QToolButton.defaultAction() is not called: from
    # here it left the action's Python wrapper deleted, on PySide 6.10)
    if isinstance(widget, QAbstractButton):
        return plain(widget.text()) or tooltip or _QT_BUTTONS.get(widget.objectName(), "")
    if isinstance(widget, QTabBar):
        tabs = [plain(widget.tabText(i)) for i in range(widget.count())]
        return "Tabs: " + ", ".join(t for t in tabs if t) if any(tabs) else ""
    if isinstance(widget, QGraphicsView):
        title = _plot_title(widget)
        if title or tooltip:
            return title or tooltip
        context = _context(widget)
        return f"{context} plot" if context and "pyqtgraph" in type(widget).__module__ else context
    if isinstance(widget, QLineEdit) and isinstance(widget.parentWidget(), (QAbstractSpinBox, QComboBox)):
        owner = widget.parentWidget()  # the text part of a spin box or editable combo box
        return owner.accessibleName() or derive_name(owner)
    label = _form_label(widget)
    if label or tooltip:
        return label or tooltip
    if isinstance(widget, QLineEdit) and plain(widget.placeholderText()):
        return plain(widget.placeholderText())
    return _context(widget)


def name_tab_pages(tabs: QTabWidget) -> None:
    """Each page of `tabs` is named after its tab, which is what a user sees for it."""
    for index in range(tabs.count()):
        page = tabs.widget(index)
        if page is not None and not page.accessibleName() and plain(tabs.tabText(index)):
            page.setAccessibleName(plain(tabs.tabText(index)))


def name_clear_action(edit: QLineEdit) -> None:
    """Qt makes the action of a line edit's clear button without a text."""
    for action in edit.findChildren(QAction, CLEAR_ACTION):
        if not action.text():
            action.setText("Clear")
            for button in edit.findChildren(QToolButton):  # (polished before this, maybe)
                give_name(button)


def give_name(widget: QWidget) -> None:
    """Name `widget` if it is of a kind that needs a name and has none (or only a derived one)."""
    if isinstance(widget, QTabWidget):
        name_tab_pages(widget)
    if isinstance(widget, QLineEdit):
        name_clear_action(widget)
    if not isinstance(widget, NAMED_KINDS):
        return
    current = widget.accessibleName()
    if current and widget.property(_DERIVED) != current:
        return  # set by the code that built it
    name = derive_name(widget)
    if name != current:
        widget.setAccessibleName(name)
    widget.setProperty(_DERIVED, name)


class _Namer(QObject):
    """Names polished widgets once control is back in the event loop: a widget may be polished
    inside its owner's constructor (a combo box's drop-down list is), where announcing a name
    to the accessibility layer is not safe, and where labels and tabs may not be set yet."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[QWidget] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind == QEvent.Type.Polish and isinstance(watched, QWidget):
            if not self._pending:
                QTimer.singleShot(0, self._name_pending)
            self._pending.append(watched)
        elif (
            kind == QEvent.Type.Paint
            and isinstance(watched, _FOLLOWING)
            and watched.property(_DERIVED) is not None
        ):
            give_name(watched)  # its text may have changed since (it repaints when it does)
        elif kind == QEvent.Type.ActionAdded and _is_overflow_menu(watched):
            watched.setTitle(_QT_BUTTONS["qt_menubar_ext_button"])
        return False

    def _name_pending(self) -> None:
        pending, self._pending = self._pending, []
        for widget in pending:
            if shiboken6.isValid(widget) and widget.window().windowType() != Qt.WindowType.Popup:
                give_name(widget)


def _is_overflow_menu(obj: QObject) -> bool:
    """The untitled menu a menu bar makes for the menus that do not fit (made when first needed)."""
    return isinstance(obj, QMenu) and not obj.title() and isinstance(obj.parent(), QMenuBar)


_namer: list[_Namer] = []  # the one filter, made with the first install


def install(app: QApplication | None = None) -> None:
    """Name every widget polished from now on (idempotent)."""
    app = app or QApplication.instance()
    if app is not None and not _namer:
        _namer.append(_Namer())
        app.installEventFilter(_namer[0])
