"""Network: the public, Keras-flavoured object — a spec plus its weights, optimizer state,
training settings, preprocessing and history. `engine.load` / `engine.save` read and write it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.array_checks import checked_inputs, checked_targets
from engine.data import Standardizer
from engine.errors import ConfigError, DataError
from engine.graph import NetworkSpec
from engine.losses import get_loss
from engine.metrics import METRICS, default_metrics
from engine.model import Model
from engine.optimizers import Optimizer, get_optimizer
from engine.runs import Run
from engine.summary import summary_table
from engine.trace import Trace, sample_batch, target_batch, trace_model
from engine.training.callbacks import Callback, History
from engine.training.config import TrainingConfig
from engine.training.control import TrainingControl
from engine.training.monitor import TrainingMonitor
from engine.training.schedules import get_schedule
from engine.training.trainer import Trainer, evaluate, predict


class Network:
    def __init__(self, spec: NetworkSpec):
        self.spec = spec
        self.training = TrainingConfig.from_dict(spec.training)
        self.history = History()
        self.scaler: Standardizer | None = None
        self.optimizer: Optimizer | None = None
        self._model: Model | None = None
        self.runs: list[Run] = []  # the training runs kept for comparison (engine/runs.py)

    # -------------------------------------------------------------- structure
    @property
    def model(self) -> Model:
        """The runnable model, built and initialized from the seed on first use."""
        if self._model is None:
            model = Model(self.spec, self.training.dtype)
            model.initialize(np.random.default_rng([self.training.seed, 0]))
            self._model = model
        return self._model

    def reset_weights(self) -> None:
        """Fresh initial weights from the seed; forgets optimizer state and history."""
        self._model = None
        self.optimizer = None
        self.history = History()

    def summary(self) -> str:
        return summary_table(self.spec)

    def count_params(self) -> int:
        return self.model.count_params()

    def get_weights(self) -> list[np.ndarray]:
        """For each parameterised node in topological order, its arrays in the layer's order
        (Dense: kernel (in, out), bias (out,); BatchNormalization: gamma, beta, moving_mean,
        moving_variance)."""
        return self.model.get_weights()

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.model.set_weights(weights)

    def warmup(self) -> float:
        """Compile, or load from Numba's on-disk cache, every kernel that training this network
        uses, so the first real step starts at once; returns the seconds it took.

        Trains a throw-away copy (same spec and training settings) on two random samples, for two
        epochs and then one (the small-net path runs the first in one multi-epoch kernel call, the
        second batch by batch), then evaluates it and takes a health snapshot of it (what the live
        views run: the layer-by-layer forward pass, which a small net training on the fused path
        never calls, and each layer's numbers); this network, its weights and optimizer are
        untouched. Safe to run in a background thread when a network is opened (compiled code is
        shared process-wide).
        """
        started = time.perf_counter()
        copy = Network(self.spec.copy())
        model = copy.model
        rng = np.random.default_rng(0)
        x = [rng.random((2, *model.input_shape(i)), dtype=np.float64) for i in range(len(model.input_ids))]
        loss = get_loss(copy.training.loss.type, **copy.training.loss.params)
        y = (
            np.zeros(2, np.int64)
            if loss.target == "index"
            else np.zeros((2, *model.output_shape), np.float64)
        )
        copy.fit(x, y, epochs=2, batch_size=2, validation_data=(x, y))
        copy.fit(x, y, epochs=1, batch_size=2, validation_data=(x, y))
        inputs = model.prepare_inputs(x)
        if len(inputs) == 1:  # the live views probe single-input networks
            TrainingMonitor(model, inputs[0], surface=False).snapshot()
        else:
            model.forward(inputs, training=False)
        return time.perf_counter() - started

    # ------------------------------------------------------------- inference
    def _inputs(self, x: Any, where: str, name: str = "x") -> list[np.ndarray]:
        """`x` checked (engine.array_checks), standardized if the network carries a scaler, and
        prepared for the model; DataError naming the call (`where`) and the argument."""
        x = checked_inputs(x, where, name)
        try:
            if self.scaler is not None:
                if isinstance(x, dict):  # {input id: array}; a standardizer belongs to a single input
                    if len(x) != 1:
                        raise DataError(f"the standardizer applies to one input, got {len(x)} inputs")
                    ((key, value),) = x.items()
                    x = {key: self.scaler.transform(value)}
                else:
                    x = self.scaler.transform(x)
            return self.model.prepare_inputs(x)
        except DataError as exc:
            raise DataError(f"{where}: {name}: {exc}") from None

    def _targets(self, y: Any, count: int, where: str, name: str = "y") -> np.ndarray:
        """`y` checked against the `count` samples of x and the loss (engine.array_checks), as
        the trainer takes it: int64 class ids, or floats shaped like the output."""
        loss = get_loss(self.training.loss.type, **self.training.loss.params)
        y = checked_targets(y, loss, self.model.output_shape, count, where, name)
        if loss.target == "index":
            return np.ascontiguousarray(y.reshape(len(y)), dtype=np.int64)
        y = np.ascontiguousarray(y, dtype=self.model.dtype)
        if y.ndim == 1:
            y = y.reshape(len(y), *([1] * len(self.model.output_shape)))
        return y

    def predict(self, x: Any, batch_size: int = 1024) -> np.ndarray:
        """Outputs `(N, *output_shape)` for inputs `(N, *input_shape)` (standardized if the
        network carries a scaler)."""
        return predict(self.model, self._inputs(x, "predict"), batch_size)

    def evaluate(self, x: Any, y: Any, batch_size: int = 1024) -> dict[str, float]:
        loss = get_loss(self.training.loss.type, **self.training.loss.params)
        inputs = self._inputs(x, "evaluate")
        targets = self._targets(y, len(inputs[0]), "evaluate")
        return evaluate(self.model, loss, self._metrics(), inputs, targets, batch_size)

    def trace(self, x: Any, y: Any, weights: list[np.ndarray] | None = None) -> Trace:
        """One sample's forward pass, loss and backward pass, node by node (`engine.trace`), in
        inference mode on a copy: this network is unchanged. `x`: one sample shaped like the
        Input (or `(1, *shape)`; standardized if the network carries a scaler); `y`: its target,
        a class id for sparse losses, else shaped like the output; `weights` (get_weights order):
        trace those instead of the network's own."""
        model = self.model
        loss = get_loss(self.training.loss.type, **self.training.loss.params)
        inputs = self._inputs(sample_batch(x, model.input_ids, model.shapes, "trace"), "trace")
        targets = self._targets(target_batch(y, loss, model.output_shape, "trace"), 1, "trace")
        arrays = model.get_weights() if weights is None else weights
        return trace_model(self.spec, model.dtype, arrays, loss, inputs, targets)

    def _metrics(self) -> list[Any]:
        names = self.training.metrics
        if names is None:
            names = default_metrics(self.training.loss.type)
        return [METRICS.get(name)() for name in names]

    # -------------------------------------------------------------- training
    def fit(
        self,
        x: Any,
        y: Any,
        epochs: int | None = None,
        batch_size: int | None = None,
        shuffle: bool | None = None,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float | None = None,
        callbacks: list[Callback] | None = None,
        control: TrainingControl | None = None,
        **overrides: Any,
    ) -> dict[str, list[float]]:
        """Train and return the history dict (Keras keys, one value per epoch over the whole life,
        thinned to at most 2,048 values a key past that: see `History`).

        `overrides` replace training settings for this call only (the network's own settings,
        saved with it, stay as they are): loss, optimizer, learning_rate, seed, clip_norm, dtype,
        until_stopped (True: train until `control.stop()`; `epochs` then only sets the schedule's
        length) and pace (optimizer steps a second; `control.set_pace` changes it while it runs).
        The file's pace is the app's (the lesson examples open at one): a call runs as fast as it
        goes unless it asks for a pace.
        Training continues from the current weights and optimizer state.
        """
        saved = self.training
        config = saved.with_overrides(epochs=epochs, batch_size=batch_size, shuffle=shuffle, **overrides)
        if "pace" not in overrides:  # the saved pace is the app's, to watch it learn: asked for here
            config.settings["pace"] = None
        self._use_training(config)
        try:
            self._fit(config, x, y, validation_data, validation_split, callbacks, control)
        finally:
            self._use_training(saved)
        return self.history.epochs

    def _use_training(self, config: TrainingConfig) -> None:
        """Switch the training settings, converting the model when the dtype changes."""
        previous, self.training = self.training, config
        if config.dtype != previous.dtype and self._model is not None:
            weights = self._model.get_weights()
            self._model = None
            self.model.set_weights(weights)

    def _fit(self, config, x, y, validation_data, validation_split, callbacks, control) -> None:
        inputs = self._inputs(x, "fit")
        targets = self._targets(y, len(inputs[0]), "fit")
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise DataError("validation_data: expected a pair (x, y)")
            x_val = self._inputs(validation_data[0], "validation_data")
            validation = (x_val, self._targets(validation_data[1], len(x_val[0]), "validation_data"))
        elif validation_split:
            inputs, targets, validation = _split(inputs, targets, validation_split, config.seed)
        optimizer = self._optimizer(config)
        trainer = Trainer(
            self.model,
            get_loss(config.loss.type, **config.loss.params),
            optimizer,
            get_schedule(config.schedule.type, **config.schedule.params),
            self._metrics(),
            batch_size=config.batch_size,
            epochs=config.epochs,
            seed=config.seed,
            shuffle=config.shuffle,
            clip_norm=config.clip_norm,
            early_stopping=config.early_stopping,
            history=self.history,
            control=control,
            until_stopped=config.until_stopped,
            pace=config.pace,
        )
        trainer.fit(inputs, targets, validation, callbacks)
        self.last_stop_reason = trainer.stop_reason
        self.last_path = trainer.path

    def _optimizer(self, config: TrainingConfig) -> Optimizer:
        """Reuse the optimizer (and its moments) unless its type or settings changed."""
        wanted = config.optimizer
        current = self.optimizer
        if current is None or current.name != wanted.type or current.params != wanted.params:
            state = current.state() if current is not None and current.name == wanted.type else None
            self.optimizer = get_optimizer(wanted.type, **wanted.params)
            if state:
                self.optimizer.load_state(state, self.model.trainable()[0])
        return self.optimizer


def _split(inputs: list[np.ndarray], targets: np.ndarray, fraction: float, seed: int):
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation_split must be between 0 and 1, got {fraction}")
    count = len(targets)
    order = np.random.default_rng([seed, 3]).permutation(count)
    n_val = max(1, int(round(count * fraction)))
    val, train = order[:n_val], order[n_val:]
    return [a[train] for a in inputs], targets[train], ([a[val] for a in inputs], targets[val])
