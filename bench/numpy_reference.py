"""Plain-NumPy MLPs: the references our engine must beat (no Numba).

`NumpyMLP` is the project's reference, written the obvious way (textbook Adam with m_hat / v_hat
temporaries); `tuned=True` makes it a careful NumPy user's version instead: in-place activations
and an in-place Adam that allocates almost nothing. Both: ReLU or tanh hidden layers; softmax +
cross-entropy (integer labels) or linear + mean squared error; Adam (Keras defaults, epsilon
1e-7) or plain SGD; float32 or float64.
"""

from __future__ import annotations

import numpy as np


class NumpyMLP:
    def __init__(
        self,
        sizes: list[int],
        dtype=np.float32,
        seed: int = 0,
        lr: float = 1e-3,
        hidden_activation: str = "relu",
        loss: str = "softmax_ce",
        optimizer: str = "adam",
        tuned: bool = False,
    ):
        rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        self.lr = lr
        self.hidden = hidden_activation
        self.loss = loss
        self.optimizer = optimizer
        self.tuned = tuned
        self.params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            self.params += [
                rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype),
                np.zeros(fan_out, dtype),
            ]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def _act(self, z):
        if self.tuned:
            return np.maximum(z, 0, out=z) if self.hidden == "relu" else np.tanh(z, out=z)
        return np.maximum(z, 0) if self.hidden == "relu" else np.tanh(z)

    def _act_grad(self, a):
        return (a > 0).astype(self.dtype) if self.hidden == "relu" else 1 - a * a

    def step(self, x: np.ndarray, targets: np.ndarray) -> float:
        """One training step on a batch; targets are class ids (softmax_ce) or (N, outputs) (mse)."""
        activations = [x]
        layers = len(self.params) // 2
        for i in range(layers):
            z = activations[-1] @ self.params[2 * i] + self.params[2 * i + 1]
            activations.append(self._act(z) if i < layers - 1 else z)
        out = activations[-1]
        n = len(targets)
        if self.loss == "softmax_ce":
            shifted = out - out.max(axis=1, keepdims=True)
            exp = np.exp(shifted)
            probs = exp / exp.sum(axis=1, keepdims=True)
            loss = -np.log(probs[np.arange(n), targets] + 1e-12).mean()
            grad = probs
            grad[np.arange(n), targets] -= 1
            grad /= n
        else:
            diff = out - targets
            loss = np.mean(diff * diff)
            grad = diff * self.dtype.type(2.0 / diff.size)
        grads = [None] * len(self.params)
        for i in reversed(range(layers)):
            grads[2 * i] = activations[i].T @ grad
            grads[2 * i + 1] = grad.sum(axis=0)
            if i > 0:
                grad = (grad @ self.params[2 * i].T) * self._act_grad(activations[i])
        self.t += 1
        if self.optimizer == "sgd":
            for p, g in zip(self.params, grads, strict=True):
                p -= self.lr * g
        elif self.tuned:
            self._adam_in_place(grads)
        else:
            b1, b2, eps = 0.9, 0.999, 1e-7
            for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                m_hat = m / (1 - b1**self.t)
                v_hat = v / (1 - b2**self.t)
                p -= self.lr * m_hat / (np.sqrt(v_hat) + eps)
        return float(loss)

    def _adam_in_place(self, grads: list[np.ndarray]) -> None:
        b1, b2, eps = 0.9, 0.999, 1e-7
        step_size = self.dtype.type(self.lr / (1 - b1**self.t))
        sqrt_bc2 = self.dtype.type(np.sqrt(1 - b2**self.t))
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            g *= g
            g *= 1 - b2
            v += g
            denom = np.sqrt(v)
            denom /= sqrt_bc2
            denom += eps
            np.divide(m, denom, out=denom)
            denom *= step_size
            p -= denom
