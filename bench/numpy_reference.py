"""A plain-NumPy MLP with Adam: the reference our engine must beat, written the obvious way.

ReLU hidden layers, softmax + cross-entropy output, Adam (Keras defaults), no Numba.
"""

from __future__ import annotations

import numpy as np


class NumpyMLP:
    def __init__(self, sizes: list[int], dtype=np.float32, seed: int = 0, lr: float = 1e-3,
                 hidden_activation: str = "relu"):
        rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.lr = lr
        self.hidden = hidden_activation
        self.params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            self.params += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype),
                            np.zeros(fan_out, dtype)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def _act(self, z):
        return np.maximum(z, 0) if self.hidden == "relu" else np.tanh(z)

    def _act_grad(self, a):
        return (a > 0).astype(self.dtype) if self.hidden == "relu" else 1 - a * a

    def step(self, x: np.ndarray, labels: np.ndarray) -> float:
        activations = [x]
        layers = len(self.params) // 2
        for i in range(layers):
            z = activations[-1] @ self.params[2 * i] + self.params[2 * i + 1]
            activations.append(self._act(z) if i < layers - 1 else z)
        logits = activations[-1]
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probs = exp / exp.sum(axis=1, keepdims=True)
        n = len(labels)
        loss = -np.log(probs[np.arange(n), labels] + 1e-12).mean()
        grad = probs
        grad[np.arange(n), labels] -= 1
        grad /= n
        grads = [None] * len(self.params)
        for i in reversed(range(layers)):
            grads[2 * i] = activations[i].T @ grad
            grads[2 * i + 1] = grad.sum(axis=0)
            if i > 0:
                grad = (grad @ self.params[2 * i].T) * self._act_grad(activations[i])
        self.t += 1
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
