"""Learning-rate schedules: the registry contract and values at known epochs."""

from __future__ import annotations

import math

import pytest

from engine.errors import ConfigError
from engine.registry import SCHEDULES
from engine.training.schedules import Schedule, get_schedule

# (name, params, total_epochs, {epoch: expected rate for base 0.1})
KNOWN = [
    ("constant", {}, 10, {0: 0.1, 5: 0.1, 9: 0.1}),
    ("step", {}, 30, {0: 0.1, 9: 0.1, 10: 0.05, 19: 0.05, 20: 0.025}),
    ("step", {"step_size": 3, "gamma": 0.1}, 10, {2: 0.1, 3: 0.01, 6: 0.001}),
    ("exponential", {}, 10, {0: 0.1, 1: 0.095, 2: 0.1 * 0.95**2, 10: 0.1 * 0.95**10}),
    ("cosine", {}, 10, {0: 0.1, 5: 0.05, 10: 0.0, 2: 0.05 * (1 + math.cos(math.pi * 0.2))}),
    ("cosine", {"min_lr_fraction": 0.1}, 4, {0: 0.1, 2: 0.055, 4: 0.01, 7: 0.01}),
    ("cosine", {"warmup_epochs": 4}, 14, {0: 0.025, 1: 0.05, 3: 0.1, 4: 0.1, 9: 0.05, 14: 0.0}),
]


def test_registry_entries_have_the_contract():
    assert set(SCHEDULES.names()) == {"constant", "step", "exponential", "cosine"}
    for name, cls in SCHEDULES.items():
        assert issubclass(cls, Schedule) and cls.name == name and cls.group == "Schedule"
        assert cls.description


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_schedule_starts_at_the_base_rate_and_never_grows(name):
    schedule = get_schedule(name)
    rates = [schedule.learning_rate(0.1, epoch, 20) for epoch in range(20)]
    assert rates[0] == pytest.approx(0.1)
    assert all(b <= a + 1e-15 for a, b in zip(rates, rates[1:], strict=False))
    assert all(r >= 0.0 for r in rates)


@pytest.mark.parametrize(
    ("name", "params", "total", "expected"), KNOWN, ids=[f"{n}-{p}" for n, p, _, _ in KNOWN]
)
def test_values_at_known_epochs(name, params, total, expected):
    schedule = get_schedule(name, **params)
    for epoch, rate in expected.items():
        assert schedule.learning_rate(0.1, epoch, total) == pytest.approx(rate, rel=1e-12, abs=1e-15), epoch


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_bad_arguments_are_reported(name):
    schedule = get_schedule(name)
    with pytest.raises(ConfigError, match="epoch"):
        schedule.learning_rate(0.1, -1, 10)
    with pytest.raises(ConfigError, match="base learning rate"):
        schedule.learning_rate(float("nan"), 0, 10)


def test_parameters_are_validated():
    with pytest.raises(ConfigError, match="step_size"):
        get_schedule("step", step_size=0)
    with pytest.raises(ConfigError, match="unknown parameter"):
        get_schedule("cosine", warmup=3)


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_the_exported_training_script_gives_the_same_rates(name):
    """train.py's `learning_rate`, written from the schedule class's own PyTorch form, gives the
    engine's rate at every epoch of a run, warm-up and epochs past the end included."""
    from engine.export.pytorch_export import type_block

    settings = {
        "step": {"step_size": 3, "gamma": 0.5},
        "cosine": {"warmup_epochs": 2, "min_lr_fraction": 0.1},
    }
    schedule = get_schedule(name, **settings.get(name, {}))
    namespace = {"math": math, "SCHEDULE": {"type": name, **schedule.params}}
    exec(type_block("SCHEDULE", SCHEDULES.get(name)), namespace)
    total = 9
    for epoch in range(total + 3):
        assert namespace["learning_rate"](0.2, epoch, total) == pytest.approx(
            schedule.learning_rate(0.2, epoch, total), rel=1e-15
        )
