"""The Curves tab's view alone: the smoothed batch loss, the epoch curves and their axes."""

from __future__ import annotations

import numpy as np

from gui.training.curves import MARKED_EPOCHS, SMOOTHING, CurvesView


def test_batch_loss_smoothing_matches_the_moving_average(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    values = np.random.default_rng(0).random(1000)
    view.add_batches(0, values[:300])
    view.add_batches(300, values[300:])
    expected, acc = [], None
    for value in values:
        acc = value if acc is None else SMOOTHING * acc + (1 - SMOOTHING) * value
        expected.append(acc)
    np.testing.assert_allclose(view.smoothed, expected, rtol=1e-9)


def test_epoch_curves_show_a_dot_per_epoch_while_there_are_few(qtbot):
    """After the first epoch each epoch curve is one point, which a line alone does not draw."""
    view = CurvesView()
    qtbot.addWidget(view)
    view.add_epoch({"loss": 0.5, "accuracy": 0.9, "val_loss": float("nan"), "val_accuracy": 0.8}, 100)
    view.redraw()
    dots = {curve: view.epoch_dots[curve].getData() for curve in view.epoch_dots}
    assert [list(dots[view.train_curve][1]), list(dots[view.metric_train][1])] == [[0.5], [0.9]]
    assert list(dots[view.metric_val][0]) == [1.0] and list(dots[view.train_curve][0]) == [100.0]
    assert len(dots[view.val_curve][0]) == 0  # (a NaN gets no dot)
    for epoch in range(1, MARKED_EPOCHS + 1):
        view.add_epoch(
            {"loss": 0.4, "accuracy": 0.95, "val_loss": 0.3, "val_accuracy": 0.9}, 100 * (epoch + 1)
        )
    view.redraw()  # many epochs: the line alone
    assert all(len(dots.getData()[0]) == 0 for dots in view.epoch_dots.values())
    assert len(view.metric_train.xData) == MARKED_EPOCHS + 1


def test_the_last_epoch_of_a_planned_run_is_drawn_inside_the_plot(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    view.metric_range.plan_x(3)  # a run of 3 epochs
    for epoch in range(3):
        view.add_epoch({"accuracy": 0.9 + epoch / 100}, 100 * (epoch + 1))
    view.redraw()
    x_end = view.metric_plot.getPlotItem().viewRange()[0][1]
    assert 3.05 < x_end < 3.2  # room for the dot at epoch 3, and no more
