"""The Results tab's confusion matrix, misclassified-sample mosaic and first-layer weight mosaic."""

import numpy as np
import pytest

from gui.training.confusion_view import GRID_COLUMNS, SAMPLE_TILES, ConfusionView
from gui.training.image_grid import TILE_GAP


@pytest.fixture
def view(qtbot):
    widget = ConfusionView()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    return widget


def _digits(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n)


def test_counts_are_labelled_in_their_cells_with_readable_colours(view):
    x, y = _digits()
    view.set_validation(x, y)
    matrix = np.diag(np.full(3, 9))
    matrix[0, 2] = 1
    view.update_epoch(matrix, np.array([5]), None, np.array([2]))
    view.redraw()
    labels = {
        (round(lx - 0.5), round(ly - 0.5)): (text, colour.name())
        for lx, ly, text, colour in view.counts.labels
    }
    assert len(labels) == 9
    assert labels[(0, 0)] == ("9", "#0f172a")  # a bright cell gets dark text
    assert labels[(2, 0)] == ("1", "#f8fafc")  # column 2 (predicted), row 0 (true)
    assert "accuracy 96.4%" in view.plot.getPlotItem().titleLabel.text


def test_many_classes_keep_the_colours_but_drop_the_numbers(view):
    view.update_epoch(np.eye(20, dtype=np.int64), None, None)
    view.redraw()
    assert view.counts.labels == []
    assert view.image.image.shape == (20, 20)


def test_misclassified_samples_form_one_captioned_mosaic(view):
    x, y = _digits()
    view.set_validation(x, y)
    wrong = np.arange(1, 2 * SAMPLE_TILES, 2)  # more than fit: the first SAMPLE_TILES are shown
    predicted = (y[wrong] + 1) % 10
    kernel = np.random.default_rng(1).normal(size=(784, 5)).astype(np.float32)
    view.update_epoch(np.ones((10, 10), np.int64), wrong, kernel, predicted)
    view.redraw()
    rows = SAMPLE_TILES // GRID_COLUMNS
    mosaic = view.sample_image.image
    assert mosaic.shape == (rows * (28 + TILE_GAP) - TILE_GAP, GRID_COLUMNS * (28 + TILE_GAP) - TILE_GAP, 4)
    first = mosaic[:28, :28, 0].astype(float)  # tile 0 is sample wrong[0], stretched to 0..255
    expected = x[wrong[0]].reshape(28, 28)
    expected = 255 * (expected - expected.min()) / (expected.max() - expected.min())
    np.testing.assert_allclose(first, expected, atol=0.51)
    assert (mosaic[28 : 28 + TILE_GAP, :, 3] == 0).all()  # gaps are transparent
    captions = [text for *_, text, _ in view.captions.labels]
    assert captions == [f"{y[i]}→{p}" for i, p in zip(wrong[:SAMPLE_TILES], predicted, strict=False)]
    assert view.sample_label.text() == f"Misclassified samples (first {SAMPLE_TILES})"
    weights = view.weight_image.image
    assert weights.shape == (28, 5 * (28 + TILE_GAP) - TILE_GAP, 4)  # 5 units: one row


def test_no_misclassified_samples_says_so(view):
    x, y = _digits()
    view.set_validation(x, y)
    view.update_epoch(np.eye(10, dtype=np.int64), np.array([], np.int64), None, np.array([], np.int64))
    view.redraw()
    assert view.sample_label.text() == "Misclassified samples: none"
    assert view.sample_image.image is None
    assert view.captions.labels == []


def test_one_hot_validation_targets_caption_by_class_index(view):
    x, y = _digits()
    view.set_validation(x, np.eye(10)[y])
    view.update_epoch(np.ones((10, 10), np.int64), np.array([3]), None, np.array([(y[3] + 1) % 10]))
    view.redraw()
    assert [text for *_, text, _ in view.captions.labels] == [f"{y[3]}→{(y[3] + 1) % 10}"]
