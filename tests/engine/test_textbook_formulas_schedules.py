"""Every learning-rate schedule against its textbook formula, written out here from PyTorch's
`torch.optim.lr_scheduler` documentation (epoch counted from 0), sharing nothing with the engine.

The engine's claims (engine/training/schedules.py): "step" is StepLR, "exponential" is
ExponentialLR, "cosine" is a linear warm-up over W epochs (epoch e < W gets base*(e+1)/W), then
CosineAnnealingLR with T_max = total_epochs - W and eta_min = base * min_lr_fraction, holding
the minimum past the end.
"""

from __future__ import annotations

import math

import pytest

from engine.registry import SCHEDULES
from engine.training.schedules import get_schedule

BASE = 0.3
TOL = 1e-12


def constant(base, epoch, total):
    return base


def step(base, epoch, total, step_size=10, gamma=0.5):
    """StepLR: base * gamma ** floor(epoch / step_size)."""
    return base * gamma ** math.floor(epoch / step_size)


def exponential(base, epoch, total, gamma=0.95):
    """ExponentialLR: base * gamma ** epoch."""
    return base * gamma**epoch


def cosine(base, epoch, total, min_lr_fraction=0.0, warmup_epochs=0):
    """Warm-up, then CosineAnnealingLR: eta_min + (base - eta_min)(1 + cos(pi T_cur / T_max)) / 2."""
    if epoch < warmup_epochs:
        return base * (epoch + 1) / warmup_epochs
    eta_min = base * min_lr_fraction
    t_cur = min(epoch - warmup_epochs, total - warmup_epochs)
    t_max = total - warmup_epochs
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t_cur / t_max)) / 2


TEXTBOOK = {"constant": constant, "step": step, "exponential": exponential, "cosine": cosine}
CASES = [
    ("constant", {}, 12),
    ("step", {}, 40),
    ("step", {"step_size": 3, "gamma": 0.1}, 20),
    ("step", {"step_size": 1, "gamma": 0.7}, 9),
    ("exponential", {}, 30),
    ("exponential", {"gamma": 0.5}, 12),
    ("cosine", {}, 10),
    ("cosine", {}, 1),
    ("cosine", {"min_lr_fraction": 0.2}, 17),
    ("cosine", {"warmup_epochs": 4}, 14),
    ("cosine", {"warmup_epochs": 3, "min_lr_fraction": 0.1}, 8),
]
IDS = [f"{name}-{total}" + "".join(f"-{k}={v}" for k, v in params.items()) for name, params, total in CASES]


@pytest.mark.parametrize(("name", "params", "total"), CASES, ids=IDS)
def test_schedule_follows_the_textbook_formula(name, params, total):
    schedule = get_schedule(name, **params)
    for epoch in range(total + 5):  # and a few epochs past the run's end
        expected = TEXTBOOK[name](BASE, epoch, total, **params)
        assert math.isclose(schedule.learning_rate(BASE, epoch, total), expected, rel_tol=TOL, abs_tol=TOL), (
            f"epoch {epoch} of {total}"
        )


def test_every_registered_schedule_has_a_textbook_formula():
    assert sorted(SCHEDULES.names()) == sorted(TEXTBOOK)
    assert {name for name, _, _ in CASES} == set(TEXTBOOK)
