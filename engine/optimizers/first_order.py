"""Plain gradient descent: SGD, with optional momentum or Nesterov momentum."""

from __future__ import annotations

from engine._kernels import optimizers as K
from engine.optimizers.base import Optimizer, learning_rate_spec
from engine.registry import OPTIMIZERS, ParamSpec


def momentum_spec() -> ParamSpec:
    """The momentum parameter, shared with RMSprop's optional momentum."""
    return ParamSpec(
        "momentum", "float", 0.0, "Fraction of the previous step kept (0 = none)", minimum=0.0, maximum=0.9999
    )


@OPTIMIZERS.register
class SGD(Optimizer):
    name = "sgd"
    torch_optimizer = 'return torch.optim.SGD(params, lr=lr, momentum=o["momentum"], nesterov=o["nesterov"])'
    description = "Gradient descent, optionally with momentum or Nesterov momentum"
    param_specs = (
        learning_rate_spec(0.01),
        momentum_spec(),
        ParamSpec("nesterov", "bool", False, "Use Nesterov momentum (needs momentum > 0)"),
    )
    slots = ("momentum",)
    _kernel = staticmethod(K.sgd_update)
    _kernel_ref = staticmethod(K.sgd_update_ref)

    def active_slots(self) -> tuple[str, ...]:
        return ("momentum",) if self.params["momentum"] > 0 else ()

    def _constants(self, lr, t):
        return lr, self.params["momentum"]

    def _update(self, kernel, i, w, g, c, decay):
        lr, mu, tiny = c
        kernel(
            w,
            g,
            self._flat["momentum"][i],
            lr,
            mu,
            self.params["momentum"] > 0,
            self.params["nesterov"],
            tiny,
        )
