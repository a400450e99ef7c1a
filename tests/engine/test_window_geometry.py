"""Window geometry shared by convolution and pooling: Keras/TensorFlow padding rules."""

from __future__ import annotations

import math

import pytest

from engine.errors import GraphError
from engine.layers.window_geometry import axis_window, window_sizes, windows


@pytest.mark.parametrize("size", range(1, 12))
@pytest.mark.parametrize("kernel", [1, 2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
def test_same_padding_gives_ceil_size_over_stride_with_the_extra_pad_after(size, kernel, stride, dilation):
    axis = axis_window(size, kernel, stride, dilation, "same")
    assert axis.out == math.ceil(size / stride)
    total = axis.pad_before + axis.pad_after
    # TensorFlow: the padded input is just long enough for the last window, the odd one after
    assert total == max((axis.out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    assert axis.pad_after - axis.pad_before in (0, 1)
    # the last window starts inside the padded input and ends at its end or before
    assert (axis.out - 1) * stride + axis.span <= size + total


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "out"),
    [
        (28, 3, 1, 1, 26),
        (28, 2, 2, 1, 14),
        (13, 3, 1, 1, 11),
        (11, 2, 2, 1, 5),
        (7, 3, 2, 2, 2),
        (5, 5, 1, 1, 1),
    ],
)
def test_valid_padding_counts_whole_windows(size, kernel, stride, dilation, out):
    axis = axis_window(size, kernel, stride, dilation, "valid")
    assert (axis.out, axis.pad_before, axis.pad_after) == (out, 0, 0)


def test_a_window_larger_than_the_input_names_both_and_the_way_out():
    with pytest.raises(
        GraphError, match=r"'c1': the window \(5, 5\) is larger than the input \(3, 3\).*'same'"
    ):
        windows((3, 3), (5, 5), (1, 1), (1, 1), "valid", "'c1'")
    with pytest.raises(GraphError, match=r"dilated to \(5, 5\)"):
        windows((4, 4), (3, 3), (1, 1), (2, 2), "valid", "'c1'")
    with pytest.raises(GraphError, match="padding must be 'valid' or 'same'"):
        windows((4, 4), (3, 3), (1, 1), (1, 1), "full", "'c1'")


def test_sizes_take_one_number_or_one_per_axis():
    assert window_sizes(3, 2, "kernel_size", "'c'") == (3, 3)
    assert window_sizes((3,), 2, "kernel_size", "'c'") == (3, 3)
    assert window_sizes((3, 5), 2, "kernel_size", "'c'") == (3, 5)
    with pytest.raises(GraphError, match="kernel_size expects one positive number or 2"):
        window_sizes((3, 5, 7), 2, "kernel_size", "'c'")
