"""Adaptive optimizers: per-weight step sizes from running gradient statistics (RMSprop,
Adagrad, Adam, AdamW)."""

from __future__ import annotations

import numpy as np

from engine._kernels import optimizers as K
from engine.optimizers.base import Optimizer, epsilon_spec, learning_rate_spec
from engine.optimizers.first_order import momentum_spec
from engine.registry import OPTIMIZERS, ParamSpec


@OPTIMIZERS.register
class RMSprop(Optimizer):
    name = "rmsprop"
    # NetCanvas follows Keras, which adds epsilon inside the square root (torch adds it outside).
    torch_optimizer = """
    return torch.optim.RMSprop(
        params, lr=lr, alpha=o["rho"], eps=o["epsilon"], momentum=o["momentum"], centered=o["centered"]
    )
    """
    description = "Divides each step by a running average of recent gradient magnitudes (Keras form)"
    param_specs = (
        learning_rate_spec(0.001),
        ParamSpec(
            "rho",
            "float",
            0.9,
            "How slowly the average of squared gradients forgets",
            minimum=0.0,
            maximum=0.9999,
        ),
        epsilon_spec("Added under the square root to avoid dividing by zero"),
        momentum_spec(),
        ParamSpec("centered", "bool", False, "Divide by the gradient's variance instead of its mean square"),
    )
    slots = ("velocity", "average_gradient", "momentum")
    required_slots = ("velocity",)
    _kernel = staticmethod(K.rmsprop_update)
    _kernel_ref = staticmethod(K.rmsprop_update_ref)

    def active_slots(self) -> tuple[str, ...]:
        return (
            ("velocity",)
            + (("average_gradient",) if self.params["centered"] else ())
            + (("momentum",) if self.params["momentum"] > 0 else ())
        )

    def _constants(self, lr, t):
        rho = self.params["rho"]
        return lr, rho, 1.0 - rho, self.params["epsilon"], self.params["momentum"]

    def _update(self, kernel, i, w, g, c, decay):
        lr, rho, one_minus_rho, eps, mu, tiny = c
        f = self._flat
        kernel(
            w,
            g,
            f["velocity"][i],
            f["average_gradient"][i],
            f["momentum"][i],
            lr,
            rho,
            one_minus_rho,
            eps,
            mu,
            self.params["centered"],
            self.params["momentum"] > 0,
            tiny,
        )


@OPTIMIZERS.register
class Adagrad(Optimizer):
    name = "adagrad"
    torch_optimizer = """
    return torch.optim.Adagrad(
        params, lr=lr, eps=o["epsilon"], initial_accumulator_value=o["initial_accumulator_value"]
    )
    """
    description = "Per-weight step sizes that shrink with the sum of past squared gradients"
    param_specs = (
        learning_rate_spec(0.01),
        ParamSpec(
            "initial_accumulator_value", "float", 0.1, "Starting sum of squared gradients", minimum=0.0
        ),
        epsilon_spec("Added to the square root to avoid dividing by zero"),
    )
    slots = ("accumulator",)
    required_slots = ("accumulator",)
    _kernel = staticmethod(K.adagrad_update)
    _kernel_ref = staticmethod(K.adagrad_update_ref)

    def initial_value(self, slot: str) -> float:
        return self.params["initial_accumulator_value"]

    def _constants(self, lr, t):
        return lr, self.params["epsilon"]

    def _update(self, kernel, i, w, g, c, decay):
        lr, eps, tiny = c
        kernel(w, g, self._flat["accumulator"][i], lr, eps, tiny)


@OPTIMIZERS.register
class Adam(Optimizer):
    name = "adam"
    torch_optimizer = """
    betas = (o["beta_1"], o["beta_2"])
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=o["epsilon"], amsgrad=o["amsgrad"])
    """
    description = "Adaptive moments: momentum plus per-weight step sizes; a good default"
    param_specs = (
        learning_rate_spec(0.001),
        ParamSpec(
            "beta_1", "float", 0.9, "How slowly the average gradient forgets", minimum=0.0, maximum=0.9999
        ),
        ParamSpec(
            "beta_2",
            "float",
            0.999,
            "How slowly the average squared gradient forgets",
            minimum=0.0,
            maximum=0.99999,
        ),
        epsilon_spec("Added to the square root to avoid dividing by zero"),
        ParamSpec("amsgrad", "bool", False, "Use the largest squared-gradient average seen so far"),
    )
    slots = ("m", "v", "vmax")
    required_slots = ("m", "v")
    _kernel = staticmethod(K.adam_update)
    _kernel_ref = staticmethod(K.adam_update_ref)

    def active_slots(self) -> tuple[str, ...]:
        return ("m", "v", "vmax") if self.params["amsgrad"] else ("m", "v")

    def _constants(self, lr, t):
        b1, b2 = self.params["beta_1"], self.params["beta_2"]
        lr_wd = lr * self.params.get("weight_decay", 0.0)
        return (
            b1,
            1.0 - b1,
            b2,
            1.0 - b2,
            lr / (1.0 - b1**t),
            np.sqrt(1.0 - b2**t),
            self.params["epsilon"],
            lr_wd,
            0.0,
        )

    def _update(self, kernel, i, w, g, c, decay):
        b1, one_minus_b1, b2, one_minus_b2, step_size, sqrt_bc2, eps, lr_wd, zero, tiny = c
        f = self._flat
        kernel(
            w,
            g,
            f["m"][i],
            f["v"][i],
            f["vmax"][i],
            b1,
            one_minus_b1,
            b2,
            one_minus_b2,
            step_size,
            sqrt_bc2,
            eps,
            lr_wd if decay else zero,
            self.params["amsgrad"],
            tiny,
        )


@OPTIMIZERS.register
class AdamW(Adam):
    name = "adamw"
    # NetCanvas decays kernels only (not biases or BatchNormalization scales): the model's DECAYED.
    torch_optimizer = """
    named = dict(model.named_parameters())
    kernels = [named[name] for name in DECAYED if named[name].requires_grad]
    ids = {id(k) for k in kernels}
    groups = [
        {"params": kernels, "weight_decay": o["weight_decay"]},
        {"params": [p for p in params if id(p) not in ids], "weight_decay": 0.0},
    ]
    betas = (o["beta_1"], o["beta_2"])
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=o["epsilon"], amsgrad=o["amsgrad"])
    """
    description = "Adam with decoupled weight decay (w -= lr * weight_decay * w each step)"
    param_specs = (
        *Adam.param_specs,
        ParamSpec(
            "weight_decay",
            "float",
            0.01,
            "Fraction of each weight removed per step, times the learning rate",
            minimum=0.0,
            maximum=1.0,
        ),
    )
