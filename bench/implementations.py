"""One trainer per implementation, each exposing `epoch()` (one shuffled pass over the data,
reading every batch's loss as a float) and `steps_per_epoch`. Only the chosen implementation's
library is imported, so each runs in a process of its own (see bench/worker.py)."""

from __future__ import annotations

import math
import os

import numpy as np

from bench.cases import PREDICT_BATCH, Case, gemms


def threads() -> int:
    """Threads our engine's BLAS uses (OpenBLAS: OPENBLAS_NUM_THREADS or every core)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return os.cpu_count() or 1


class NetCanvas:
    """The engine as a user calls it: Network.fit over the data (path chosen automatically)."""

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray):
        from engine.graph import NetworkSpec
        from engine.network import Network

        loss = "sparse_categorical_crossentropy" if case.loss == "softmax_ce" else "mse"
        output = "softmax" if case.loss == "softmax_ce" else "linear"
        spec = NetworkSpec(
            training={
                "loss": loss,
                "optimizer": {"type": case.optimizer, "learning_rate": case.lr},
                "batch_size": case.batch,
                "epochs": 1,
                "seed": 0,
                "dtype": case.dtype,
            }
        )
        spec.add_node("Input", {"shape": list(case.input_shape)}, node_id="in")
        previous = "in"
        layers = [
            ("Conv2D", {"filters": filters, "kernel_size": kernel, "activation": case.hidden}, f"c{i}")
            for i, (filters, kernel, _) in enumerate(case.convs)
        ]
        for i, (_, _, pool) in enumerate(case.convs):
            layers.insert(2 * i + 1, ("MaxPooling2D", {"pool_size": pool}, f"p{i}"))
        if case.image:
            layers.append(("Flatten", {}, "flat"))
        for layer_type, params, node_id in layers:
            spec.add_node(layer_type, params, node_id=node_id)
            spec.connect(previous, node_id)
            previous = node_id
        for i, units in enumerate(case.sizes[1:]):
            last = i == len(case.sizes) - 2
            spec.add_node(
                "Dense", {"units": units, "activation": output if last else case.hidden}, node_id=f"d{i}"
            )
            spec.connect(previous, f"d{i}")
            previous = f"d{i}"
        self.network = Network(spec)
        self.x, self.y = x, y
        self.steps_per_epoch = math.ceil(len(x) / case.batch)

    def epoch(self, epochs: int = 1) -> None:
        self.network.fit(self.x, self.y, epochs=epochs)

    @property
    def path(self) -> str:
        """The engine path the last epoch trained on (Trainer.path)."""
        return self.network.last_path


class PlainNumpy:
    """bench/numpy_reference.py: the project's reference, or its in-place `tuned` variant."""

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray, tuned: bool = False):
        from bench.numpy_reference import NumpyMLP

        self.model = NumpyMLP(
            list(case.sizes),
            dtype=case.dtype,
            lr=case.lr,
            hidden_activation=case.hidden,
            loss=case.loss,
            optimizer=case.optimizer,
            tuned=tuned,
        )
        self.x, self.y, self.batch = x, y, case.batch
        self.rng = np.random.default_rng(1)
        self.steps_per_epoch = math.ceil(len(x) / case.batch)

    def epoch(self, epochs: int = 1) -> None:
        for _ in range(epochs):
            order = self.rng.permutation(len(self.x))
            for start in range(0, len(order), self.batch):
                idx = order[start : start + self.batch]
                self.model.step(self.x[idx], self.y[idx])


def torch_model(case: Case):
    """The case's network as a `torch.nn.Sequential` in the case's dtype. A Dense chain keeps
    PyTorch's default initialization; a convolutional case starts as NetCanvas does (Keras
    defaults: glorot_uniform kernels with PyTorch's fans for convolutions, zero biases)."""
    import torch

    from bench.cases import stages

    act = torch.nn.ReLU if case.hidden == "relu" else torch.nn.Tanh
    layers: list = []
    for stage, (_, _, pool) in zip(stages(case), case.convs, strict=True):
        layers += [
            torch.nn.Conv2d(stage.channels, stage.filters, stage.kernel),
            act(),
            torch.nn.MaxPool2d(pool),
        ]
    if case.image:
        layers.append(torch.nn.Flatten())
    for i, (a, b) in enumerate(zip(case.sizes[:-1], case.sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(case.sizes) - 2:
            layers.append(act())
    model = torch.nn.Sequential(*layers).to(torch.float32 if case.dtype == "float32" else torch.float64)
    if case.image:
        for layer in model:
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.xavier_uniform_(layer.weight)
                torch.nn.init.zeros_(layer.bias)
    return model


class Torch:
    """PyTorch eager, torch.set_num_threads equal to ours; `fused` uses Adam(fused=True)."""

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray, fused: bool = False):
        import torch

        torch.set_num_threads(threads())
        self.torch = torch
        self.model = torch_model(case)
        if case.optimizer == "adam":
            self.opt = torch.optim.Adam(self.model.parameters(), lr=case.lr, eps=1e-7, fused=fused or None)
        else:
            self.opt = torch.optim.SGD(self.model.parameters(), lr=case.lr)
        self.loss = torch.nn.CrossEntropyLoss() if case.loss == "softmax_ce" else torch.nn.MSELoss()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.batch = case.batch
        self.rng = np.random.default_rng(1)
        self.steps_per_epoch = math.ceil(len(x) / case.batch)

    def epoch(self, epochs: int = 1) -> None:
        model, opt, loss_fn = self.model, self.opt, self.loss
        for _ in range(epochs):
            order = self.torch.from_numpy(self.rng.permutation(len(self.x)))
            for start in range(0, len(order), self.batch):
                idx = order[start : start + self.batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(self.x[idx]), self.y[idx])
                loss.backward()
                opt.step()
                loss.item()


class MatmulOnly:
    """Only the matrix products of one training step, into preallocated arrays (np.matmul out=):
    forward x@W per layer, weight gradients a.T@g, input gradients g@W.T (none for layer 1)."""

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray):
        rng = np.random.default_rng(0)
        dt, b = np.dtype(case.dtype), case.batch
        self.ws = [
            rng.standard_normal((i, o)).astype(dt)
            for i, o in zip(case.sizes[:-1], case.sizes[1:], strict=True)
        ]
        self.acts = [np.ascontiguousarray(x[:b])] + [np.empty((b, o), dt) for o in case.sizes[1:]]
        self.grads = [np.empty((b, o), dt) for o in case.sizes[1:]]
        for g in self.grads:
            g[...] = rng.standard_normal(g.shape)
        self.gws = [np.empty_like(w) for w in self.ws]
        self.gxs = [np.empty((b, i), dt) for i in case.sizes[:-1]]
        self.steps_per_epoch = math.ceil(len(x) / case.batch)

    def epoch(self, epochs: int = 1) -> None:
        ws, acts, grads, gws, gxs = self.ws, self.acts, self.grads, self.gws, self.gxs
        for _ in range(epochs * self.steps_per_epoch):
            for i, w in enumerate(ws):
                np.matmul(acts[i], w, out=acts[i + 1])
            for i in range(len(ws) - 1, -1, -1):
                np.matmul(acts[i].T, grads[i], out=gws[i])
                if i > 0:
                    np.matmul(grads[i], ws[i].T, out=gxs[i])


class GemmOnly:
    """Only the matrix products of one training step of any case (bench/cases.py `gemms`), into
    preallocated arrays (np.matmul out=): each layer's forward a (m, k) @ b (k, n), then backward
    from the last layer the gradients g (m, n) @ b.T and a.T @ g (the weights' and the input's;
    no input gradient for the first layer). No im2col, pooling or elementwise work."""

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray):
        rng = np.random.default_rng(0)
        dt = np.dtype(case.dtype)
        self.layers = []
        for i, (m, k, n, weights_left) in enumerate(gemms(case)):
            a, b, grad = (rng.standard_normal(s).astype(dt) for s in ((m, k), (k, n), (m, n)))
            grad_a = np.empty((m, k), dt) if i or weights_left else None
            grad_b = np.empty((k, n), dt) if i or not weights_left else None
            self.layers.append((a, b, np.empty((m, n), dt), grad, grad_a, grad_b))
        self.steps_per_epoch = math.ceil(len(x) / case.batch)

    def epoch(self, epochs: int = 1) -> None:
        for _ in range(epochs * self.steps_per_epoch):
            for a, b, out, _, _, _ in self.layers:
                np.matmul(a, b, out=out)
            for a, b, _, grad, grad_a, grad_b in reversed(self.layers):
                if grad_a is not None:
                    np.matmul(grad, b.T, out=grad_a)
                if grad_b is not None:
                    np.matmul(a.T, grad, out=grad_b)


class NetCanvasPredict(NetCanvas):
    """Inference: `Network.predict` over the data in batches of PREDICT_BATCH."""

    def epoch(self, epochs: int = 1) -> None:
        for _ in range(epochs):
            self.network.predict(self.x, batch_size=PREDICT_BATCH)

    @property
    def path(self) -> str:
        return "predict"


class TorchPredict:
    """Inference in PyTorch eager: the model in eval mode under `torch.inference_mode()`, batches
    of PREDICT_BATCH, each output read back as a NumPy array (as `predict` returns one)."""

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray):
        import torch

        torch.set_num_threads(threads())
        self.torch = torch
        self.model = torch_model(case).eval()
        self.x = torch.from_numpy(x)
        self.steps_per_epoch = math.ceil(len(x) / PREDICT_BATCH)

    def epoch(self, epochs: int = 1) -> None:
        with self.torch.inference_mode():
            for _ in range(epochs):
                for start in range(0, len(self.x), PREDICT_BATCH):
                    self.model(self.x[start : start + PREDICT_BATCH]).numpy()


def build(name: str, case: Case, x: np.ndarray, y: np.ndarray):
    if name == "netcanvas":
        return NetCanvas(case, x, y)
    if name == "numpy":
        return PlainNumpy(case, x, y)
    if name == "numpy-tuned":
        return PlainNumpy(case, x, y, tuned=True)
    if name == "torch":
        return Torch(case, x, y)
    if name == "torch-fused-adam":
        return Torch(case, x, y, fused=True)
    if name == "matmul":
        return GemmOnly(case, x, y) if case.image else MatmulOnly(case, x, y)
    if name == "netcanvas-predict":
        return NetCanvasPredict(case, x, y)
    if name == "torch-predict":
        return TorchPredict(case, x, y)
    raise ValueError(f"unknown implementation {name!r}")
