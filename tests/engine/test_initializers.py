"""Initializers: shape, dtype, determinism and Keras' scales, for every registry entry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.initializers import TRUNCATED_STDDEV, Initializer, get_initializer
from engine.registry import INITIALIZERS

NAMES = INITIALIZERS.names()
DTYPES = [np.float32, np.float64]
FAN_IN, FAN_OUT = 300, 200
# Keras: (target standard deviation of the values, or None for constants)
EXPECTED_STD = {
    "glorot_uniform": math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "glorot_normal": math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "he_uniform": math.sqrt(2.0 / FAN_IN),
    "he_normal": math.sqrt(2.0 / FAN_IN),
    "lecun_uniform": math.sqrt(1.0 / FAN_IN),
    "lecun_normal": math.sqrt(1.0 / FAN_IN),
}
CONSTANTS = {"zeros": 0.0, "ones": 1.0, "constant": 0.0}


def _draw(name, shape=(FAN_IN, FAN_OUT), seed=0, dtype=np.float32, **params):
    return get_initializer(name, **params)(shape, FAN_IN, FAN_OUT, np.random.default_rng(seed), dtype)


def test_registry_entries_have_the_contract():
    assert set(NAMES) == set(EXPECTED_STD) | set(CONSTANTS)
    for name, cls in INITIALIZERS.items():
        assert issubclass(cls, Initializer) and cls.name == name and cls.group == "Initializer"
        assert cls.description


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_and_layout(name, dtype):
    for shape in [(7, 5), (3,), (2, 3, 4), (0, 4)]:
        values = _draw(name, shape, dtype=dtype)
        assert values.shape == shape and values.dtype == dtype and values.flags.c_contiguous
        assert np.all(np.isfinite(values))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_values(name):
    assert np.array_equal(_draw(name, seed=4), _draw(name, seed=4))
    if name in EXPECTED_STD:
        assert not np.array_equal(_draw(name, seed=4), _draw(name, seed=5))
        # float32 values are the float64 draws rounded once
        assert np.array_equal(_draw(name, seed=4), _draw(name, seed=4, dtype=np.float64).astype(np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_scale_follows_keras(name):
    values = _draw(name, dtype=np.float64)  # 60 000 values
    if name in CONSTANTS:
        assert np.all(values == CONSTANTS[name])
        return
    std = EXPECTED_STD[name]
    assert abs(values.mean()) < 0.02 * std
    assert values.std() == pytest.approx(std, rel=0.02)
    if name.endswith("_uniform"):
        limit = math.sqrt(3.0) * std
        assert np.abs(values).max() <= limit
        assert np.abs(values).max() > 0.99 * limit
    else:
        limit = 2.0 * std / TRUNCATED_STDDEV  # truncated at two (uncorrected) standard deviations
        assert np.abs(values).max() <= limit
        assert np.abs(values).max() > 0.98 * limit


def test_constant_uses_its_value():
    values = _draw("constant", (3, 2), value=-0.25)
    assert values.dtype == np.float32 and np.all(values == np.float32(-0.25))


def test_zero_fans_do_not_divide_by_zero():
    values = get_initializer("he_normal")((4,), 0, 0, np.random.default_rng(0), np.float32)
    assert np.all(np.abs(values) <= 2.0 * math.sqrt(2.0) / TRUNCATED_STDDEV)


def test_bad_arguments_are_reported():
    init = get_initializer("glorot_uniform")
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="dtype must be float32 or float64, got int32"):
        init((2, 2), 2, 2, rng, np.int32)
    with pytest.raises(ConfigError, match="shape"):
        init([2, 2], 2, 2, rng, np.float32)
    with pytest.raises(ConfigError, match="fan_in"):
        init((2, 2), -1, 2, rng, np.float32)
    with pytest.raises(ConfigError, match="rng"):
        init((2, 2), 2, 2, 0, np.float32)
    with pytest.raises(ConfigError, match="value"):
        get_initializer("constant", value="one")
