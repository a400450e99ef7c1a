"""What every activation is and declares: its maths, and what the rest of the app asks of it.

An activation class carries everything about itself, so the code that asks reads it from the
`ACTIVATIONS` registry instead of keeping its own table of names:
- the maths: `forward`, `backward`, `derivative` (and `curve` for the plots);
- the training monitor: `saturating` (values outside count as saturated), `bounded_range` (the
  histogram's fixed range) and `has_dead_units` (units silent for every probe sample are dead);
- the ONNX export: `to_onnx` emits its operators through a small graph builder (`OnnxGraph`),
  by default the one operator `onnx_op` with `onnx_attributes()`;
- the ONNX import: `onnx_ops` and `from_onnx` recognise its operator (and attributes) or a
  pattern of several operators, through a small reader of the graph (`OnnxReader`);
- the PyTorch export: `torch_expression`, its expression in `forward()` (by default a call of
  `torch_function`);
- the NumPy script export: `numpy_name` / `numpy_source`, the helper function the script
  defines, and `numpy_expression`, the call in `forward()`;
- its parameters: `param_specs`, whose defaults are the only ones (exporters read `self.params`).

The builder and the reader are passed in, so this package never imports an exporter.
`kernel_code` is the activation's code in the fused Numba kernels, or None for an activation
written in NumPy only: the Dense layer then calls `forward`/`backward`, and the fused training
runners decline the network (they train only kernel codes).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from engine.errors import ConfigError
from engine.registry import ParamSpec, resolve_params


class OnnxGraph(Protocol):
    """The ONNX exporter's graph builder, as an activation sees it."""

    def add(self, op: str, inputs: list[str], output: str | list[str], name: str, **attrs: Any) -> str:
        """Append operator `op` reading `inputs` and writing tensor `output` (a list of names for
        an operator with several outputs, e.g. TopK's values and indices); returns the first."""

    def scalar(self, value: float) -> str:
        """The name of a shared float32 scalar constant of `value`."""

    def tensor(self, name: str, array: np.ndarray) -> str:
        """Add `array` as an initializer named `name` (e.g. an int64 axis); returns `name`."""


class OnnxReader(Protocol):
    """The ONNX importer's view of the graph, as an activation's `from_onnx` sees it."""

    def attr(self, node: Any, name: str, default: Any) -> Any:
        """Attribute `name` of `node`, or `default` when absent."""

    def only_consumer(self, tensor: str) -> Any | None:
        """The one node reading `tensor` (None if several, none, or it is the graph output)."""

    def const_is(self, name: str, value: float) -> bool:
        """Whether tensor `name` is a constant scalar equal to `value`."""

    def rank(self, tensor: str) -> int:
        """The rank of `tensor`, batch axis included."""

    def constant(self, tensor: str) -> np.ndarray | None:
        """The value of an initializer or Constant output, None for a computed tensor."""

    def writer_of(self, tensor: str) -> Any | None:
        """The node writing `tensor` (None for a graph input or an initializer)."""

    def fail(self, node: Any, why: str) -> Exception:
        """The error to raise for `node` (naming the file and the node)."""


@dataclass(frozen=True)
class OnnxMatch:
    """What `from_onnx` recognised: the activation from tensor `x` to tensor `out`.

    params: the parameters that differ from the activation's defaults; consumed: the nodes after
    the first that the pattern used; users: how many of the pattern's operators read `x`.
    """

    x: str
    out: str
    params: dict[str, Any] = field(default_factory=dict)
    consumed: tuple[Any, ...] = ()
    users: int = 1


class Activation(ABC):
    """Base of every activation. Subclasses set the class attributes and the three maths methods;
    the export/import methods raise or decline until a subclass gives its form."""

    name = ""
    group = "Activation"
    description = ""
    formula = ""
    param_specs: tuple[ParamSpec, ...] = ()
    kernel_code: int | None = None
    saturating: tuple[float, float] | None = None
    bounded_range: tuple[float, float] | None = None
    has_dead_units = False
    onnx_op = ""
    onnx_ops: tuple[str, ...] = ()
    torch_function = ""
    numpy_name = ""
    numpy_source = ""

    def __init__(self, **params: Any):
        self.params = resolve_params(type(self), params, f"activation '{self.name}'")

    @abstractmethod
    def forward(self, z: np.ndarray) -> np.ndarray:
        """a = f(z), same shape and dtype as z `(N, ...)`."""
        raise NotImplementedError

    @abstractmethod
    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """d(loss)/dz `(N, ...)` from the pre-activation z, the output a = f(z) and d(loss)/da."""
        raise NotImplementedError

    @abstractmethod
    def derivative(self, z: np.ndarray) -> np.ndarray:
        """Elementwise da/dz, same shape as z (for softmax the Jacobian diagonal s·(1-s))."""
        raise NotImplementedError

    def curve(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f(x), f'(x)) for a 1-D array x of n points, each 1-D of length n, for plotting."""
        x = as_float(np.asarray(x)).reshape(1, -1)
        return self.forward(x).reshape(-1), self.derivative(x).reshape(-1)

    def to_onnx(self, graph: OnnxGraph, x: str, out: str, prefix: str) -> str:
        """Emit the operators computing this activation from tensor `x` into tensor `out`
        (helper tensors and node names start with `prefix`); returns `out`. By default the one
        operator `onnx_op` with `onnx_attributes()`."""
        if not self.onnx_op:
            raise ConfigError(f"activation '{self.name}' of '{prefix}' cannot be exported to ONNX")
        return graph.add(self.onnx_op, [x], out, prefix, **self.onnx_attributes())

    def onnx_attributes(self) -> dict[str, Any]:
        """The attributes of the `onnx_op` operator."""
        return {}

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        """This activation if ONNX `node` (its operator is one of `onnx_ops`), with the nodes after
        it, computes it; None otherwise; raises `reader.fail(...)` for a near miss NetCanvas
        cannot express. By default `onnx_op` without attributes matches."""
        return cls.simple_onnx_match(node) if node.op_type == cls.onnx_op else None

    def torch_expression(self, arg: str) -> str:
        """The PyTorch expression (torch, F = torch.nn.functional) applying it to `arg`; by
        default a call of `torch_function`."""
        if not self.torch_function:
            raise ConfigError(f"activation '{self.name}' has no PyTorch form")
        return f"{self.torch_function}({arg})"

    def numpy_expression(self, arg: str) -> str:
        """The NumPy script's expression applying it to `arg` (calls the `numpy_name` helper)."""
        if not self.numpy_name:
            raise ConfigError(f"activation '{self.name}' has no NumPy script form")
        return f"{self.numpy_name}({arg})"

    @classmethod
    def simple_onnx_match(cls, node: Any, **params: Any) -> OnnxMatch:
        """The match of a one-operator form: `node` reads x and writes the result."""
        return OnnxMatch(node.input[0], node.output[0], params)

    @classmethod
    def non_default(cls, name: str, value: float) -> dict[str, Any]:
        """{name: value} if `value` differs from the parameter's default, else {} (so an imported
        activation with its default parameters can fold into a Dense, which has none)."""
        default = next(spec.default for spec in cls.param_specs if spec.name == name)
        return {} if math.isclose(value, default, rel_tol=1e-6) else {name: value}


class NumpyActivation(Activation):
    """An elementwise activation written in NumPy only: subclasses give `function` and `gradient`.

    No Numba kernel is needed: the general training path calls `forward`/`backward`, and the
    fused runners decline a network using it (`kernel_code` is None).
    """

    @abstractmethod
    def function(self, z: np.ndarray) -> np.ndarray:
        """f(z) elementwise, for a float array z."""
        raise NotImplementedError

    @abstractmethod
    def gradient(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """f'(z) elementwise, given z and a = f(z)."""
        raise NotImplementedError

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = as_float(z)
        return np.asarray(self.function(z), dtype=z.dtype)

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        z = as_float(z)
        grad = self.gradient(z, np.asarray(a, dtype=z.dtype))
        return np.asarray(np.asarray(grad_a, dtype=z.dtype) * grad, dtype=z.dtype)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        z = as_float(z)
        return np.asarray(self.gradient(z, self.forward(z)), dtype=z.dtype)


def as_float(z: Any) -> np.ndarray:
    """z as an array of a float dtype (integers become float64)."""
    z = np.asarray(z)
    return z if np.issubdtype(z.dtype, np.floating) else z.astype(np.float64)
