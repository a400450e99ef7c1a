"""The optimizer base class: argument checks, per-weight state kept in flat slabs, state save/load.

Subclasses (`first_order`, `adaptive`) supply the update: their per-step constants and one kernel
call per weight array (or per slab).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.registry import ParamSpec, resolve_params

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# Below this a moment is stored as 0 (see the package docstring).
TINY = {np.dtype(np.float32): 1e-30, np.dtype(np.float64): 1e-300}
# Zero-length stand-ins for the slots a setting turns off; kernels never index them.
_EMPTY = {dtype: np.empty(0, dtype) for dtype in FLOATS}


def learning_rate_spec(default: float) -> ParamSpec:
    return ParamSpec("learning_rate", "float", default, "Step size of each update", minimum=1e-12)


def epsilon_spec(help_text: str) -> ParamSpec:
    return ParamSpec("epsilon", "float", 1e-7, help_text, minimum=1e-12, maximum=1.0)


class Optimizer(ABC):
    """Base class. Subclasses list their per-weight state in `slots` and fill in `_constants`
    (float64 scalars for one step) and `_update` (one kernel call for one weight array).

    Set `reference = True` on an instance to run the plain NumPy twins instead of the Numba
    kernels (tests, debugging).
    """

    name = ""
    group = "Optimizer"
    description = ""
    param_specs: tuple[ParamSpec, ...] = ()
    slots: tuple[str, ...] = ()  # every per-weight state array this type can keep
    required_slots: tuple[str, ...] = ()  # the ones it keeps whatever its settings
    reference = False
    # The body of the PyTorch training script's `make_optimizer(model, lr)`, where `o` holds this
    # optimizer's settings and `params` the trainable tensors (see engine/export/pytorch_export.py).
    torch_optimizer = ""
    _kernel: Any = None
    _kernel_ref: Any = None

    def __init__(self, **params: Any):
        self.params = resolve_params(self, params, f"optimizer '{self.name}'")
        self.iterations = 0
        self._layout: list[tuple[tuple[int, ...], np.dtype]] | None = None  # None until step 1
        self._state: dict[str, list[np.ndarray]] = {}
        self._slabs: dict[str, np.ndarray] = {}
        self._span: tuple[np.ndarray, np.ndarray] | None = (
            None  # flat views of the checked arrays, if consecutive
        )
        self._flat: dict[str, list[np.ndarray]] = {}
        self._checked: list[np.ndarray] = []  # the arrays the last step validated

    def active_slots(self) -> tuple[str, ...]:
        """The slots the current settings use (e.g. no momentum buffer when momentum is 0)."""
        return self.required_slots

    def initial_value(self, slot: str) -> float:
        return 0.0

    # ------------------------------------------------------------------ update
    def step(
        self,
        weights: list[np.ndarray],
        grads: list[np.ndarray],
        learning_rate: float,
        decay_mask: Sequence[bool] | None = None,
    ) -> None:
        """Update every array of `weights` in place from `grads` (same shapes and dtype).

        Arrays must be C-contiguous float32 or float64. `learning_rate` is this step's rate
        (schedules and the GUI may change it between steps). `decay_mask[i]` says whether weight
        decay applies to `weights[i]` (default: all); only optimizers with a `weight_decay`
        parameter (adamw) use it, the model passes True for kernels and False for biases.
        """
        try:
            lr = float(learning_rate)
        except (TypeError, ValueError):
            lr = math.nan
        if not (math.isfinite(lr) and lr >= 0.0):
            raise ConfigError(
                f"optimizer '{self.name}': learning rate must be a finite number >= 0, got {learning_rate!r}"
            )
        if not self._same_as_checked(weights, grads):
            _check_arrays(weights, f"optimizer '{self.name}' weights")
            _check_grads(weights, grads, self.name)
            if self._layout is None:
                self._build(weights, {})
            else:
                self._match(weights, self._layout)
            self._checked = [*weights, *grads]
            w, g = _consecutive(weights), _consecutive(grads)
            self._span = (w, g) if w is not None and g is not None else None
        if decay_mask is not None and len(decay_mask) != len(weights):
            raise ConfigError(
                f"optimizer '{self.name}': decay_mask has {len(decay_mask)} entries "
                f"for {len(weights)} weights"
            )
        self.iterations += 1
        constants = self._constants(lr, self.iterations)
        kernel = self._kernel_ref if self.reference else self._kernel
        typed: dict[np.dtype, tuple[Any, ...]] = {}
        whole = self._whole(weights, grads, decay_mask)
        if whole is not None:  # one pass over the model's flat buffers and the state slabs
            w, g = whole
            cast = w.dtype.type
            c = (*(cast(x) for x in constants), cast(TINY[w.dtype]))
            decay = True if decay_mask is None or not len(decay_mask) else bool(decay_mask[0])
            self._update(kernel, len(weights), w, g, c, decay)
            return
        for i, (w, g) in enumerate(zip(weights, grads, strict=True)):
            c = typed.get(w.dtype)
            if c is None:
                cast = w.dtype.type
                c = typed[w.dtype] = (*(cast(x) for x in constants), cast(TINY[w.dtype]))
            decay = True if decay_mask is None else bool(decay_mask[i])
            self._update(kernel, i, w.reshape(-1), g.reshape(-1), c, decay)

    def _same_as_checked(self, weights: list[np.ndarray], grads: list[np.ndarray]) -> bool:
        """True when these are the very arrays the last step checked (a training loop passes the
        same ones every batch): an array's dtype, shape and contiguity cannot change in place, so
        the checks need not run again (they cost ~10 us a step, ~1% of an MNIST step)."""
        checked = self._checked
        return len(checked) == len(weights) + len(grads) and all(
            a is b for a, b in zip(checked, [*weights, *grads], strict=True)
        )

    def _whole(self, weights, grads, decay_mask) -> tuple[np.ndarray, np.ndarray] | None:
        """Flat views covering every weight and every gradient when each list is consecutive views
        of one buffer, in order (the Model's flat buffers), the state has slabs and decay is the
        same for all; the kernels are elementwise, so one call then equals one per array."""
        if set(self._slabs) != set(self.active_slots()) or (
            decay_mask is not None and self.params.get("weight_decay", 0.0) and len(set(decay_mask)) > 1
        ):
            return None
        return self._span  # (found when the arrays were checked)

    @abstractmethod
    def _constants(self, lr: float, t: int) -> tuple[float, ...]:
        raise NotImplementedError

    @abstractmethod
    def _update(
        self, kernel: Any, i: int, w: np.ndarray, g: np.ndarray, c: tuple[Any, ...], decay: bool
    ) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------- state
    def state(self) -> dict[str, np.ndarray]:
        """Copies of the state as flat names: "iterations" (int64 scalar) and "<slot>.<i>"
        (same shape and dtype as weight i), numpy arrays only so `.npz` needs no pickle."""
        out = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for slot, arrays in self._state.items():
            for i, arr in enumerate(arrays):
                out[f"{slot}.{i}"] = arr.copy()
        return out

    def load_state(self, state: Mapping[str, np.ndarray], weights: list[np.ndarray]) -> None:
        """Continue from `state` (as returned by `state()`) for these `weights`.

        Every array must match its weight's shape and dtype. A slot the current settings do not
        use is ignored; one they add (e.g. momentum switched on) starts from its initial value.
        Raises ConfigError naming the entry on any mismatch; the optimizer is unchanged then.
        """
        where = f"optimizer '{self.name}' state"
        _check_arrays(weights, f"{where}: weights")
        if not isinstance(state, Mapping):
            raise ConfigError(f"{where}: expected a mapping of names to arrays, got {type(state).__name__}")
        iterations = _read_iterations(state, where)
        found: dict[str, dict[int, Any]] = {slot: {} for slot in self.slots}
        for key, value in state.items():
            if key == "iterations":
                continue
            slot, _, index = str(key).partition(".")
            if (
                slot not in found
                or not index.isdigit()
                or str(int(index)) != index
                or int(index) >= len(weights)
            ):
                raise ConfigError(
                    f"{where}: unexpected entry {key!r}; expected 'iterations' or '<slot>.<i>' with "
                    f"slot one of {', '.join(self.slots) or 'none'} and i below {len(weights)}"
                )
            found[slot][int(index)] = value
        arrays: dict[str, list[np.ndarray]] = {}
        for slot in self.active_slots():
            entries = found[slot]
            if not entries:
                if slot in self.required_slots and iterations > 0:
                    raise ConfigError(
                        f"{where}: after {iterations} steps it must hold '{slot}.0' to "
                        f"'{slot}.{len(weights) - 1}', found none"
                    )
                continue
            missing = [i for i in range(len(weights)) if i not in entries]
            if missing:
                raise ConfigError(
                    f"{where}: '{slot}.{missing[0]}' is missing ({len(entries)} of "
                    f"{len(weights)} '{slot}' arrays present)"
                )
            arrays[slot] = [
                _checked_copy(entries[i], w, f"{where} '{slot}.{i}'", i) for i, w in enumerate(weights)
            ]
        self.iterations = iterations
        self._checked = []
        if iterations == 0 and not arrays:
            self._layout, self._state, self._slabs, self._flat = None, {}, {}, {}
        else:
            self._build(weights, arrays)

    # ------------------------------------------------------------- internals
    def _build(self, weights: list[np.ndarray], arrays: dict[str, list[np.ndarray]]) -> None:
        """Allocate the state (or adopt copies of `arrays`) for `weights`; done once, then reused.

        When all weights share one dtype, each slot is one flat buffer (`self._slabs[slot]`, the
        weights' order) and its per-weight arrays are views of it, so a whole-model kernel can
        update it in one pass (the fused small-net path)."""
        self._layout = [(w.shape, w.dtype) for w in weights]
        self._state, self._slabs = {}, {}
        dtypes = {w.dtype for w in weights}
        for slot in self.active_slots():
            given = arrays.get(slot)
            if len(dtypes) != 1:
                self._state[slot] = given or [
                    np.full(w.shape, self.initial_value(slot), dtype=w.dtype) for w in weights
                ]
                continue
            slab = np.full(sum(w.size for w in weights), self.initial_value(slot), dtype=weights[0].dtype)
            views, offset = [], 0
            for i, w in enumerate(weights):
                view = slab[offset : offset + w.size].reshape(w.shape)
                if given:
                    view[...] = given[i]
                views.append(view)
                offset += w.size
            self._slabs[slot], self._state[slot] = slab, views
        self._refresh_flat()

    def slabs(self, weights: list[np.ndarray]) -> dict[str, np.ndarray] | None:
        """The state as one flat buffer per active slot for these `weights` (built on first use),
        or None when the weights mix dtypes. For kernels that update the whole model at once;
        they must also advance `iterations`."""
        if self._layout is None:
            self._build(weights, {})
        else:
            self._match(weights, self._layout)
        if set(self._slabs) != set(self.active_slots()):
            return None
        return self._slabs

    def constants_table(self, learning_rate: float | np.ndarray, steps: int) -> np.ndarray:
        """The constants of the next `steps` updates, one row each, from float64 rounded once to
        the weights' dtype and with the flush threshold `tiny` last (as `step` passes them).
        `learning_rate`: one for all steps, or one per step."""
        dtype = self._layout[0][1] if self._layout else np.dtype(np.float64)
        t = np.arange(self.iterations + 1, self.iterations + steps + 1, dtype=np.float64)
        constants = self._constants(
            np.asarray(learning_rate, np.float64) if np.ndim(learning_rate) else float(learning_rate), t
        )
        table = np.empty((steps, len(constants) + 1), np.float64)
        for column, value in enumerate(constants):
            table[:, column] = value
        table[:, -1] = TINY[dtype]
        return table.astype(dtype)

    def _refresh_flat(self) -> None:
        """Per slot, the flat state array of each weight, then (index len(weights)) the whole
        slab, for `_update`; zero-length stand-ins where a slot or slab is not kept."""
        layout = self._layout or []
        self._flat = {
            slot: (
                [a.reshape(-1) for a in self._state[slot]]
                if slot in self._state
                else [_EMPTY[dtype] for _, dtype in layout]
            )
            + [self._slabs.get(slot, _EMPTY[layout[0][1]] if layout else _EMPTY[np.dtype(np.float64)])]
            for slot in self.slots
        }

    def _match(self, weights: list[np.ndarray], layout: list[tuple[tuple[int, ...], np.dtype]]) -> None:
        """Check `weights` against the state's `layout`; follow a change of precision
        (float32 <-> float64) by converting the state once."""
        if len(weights) != len(layout):
            raise ConfigError(
                f"optimizer '{self.name}': its state was built for {len(layout)} "
                f"weights, got {len(weights)}; the network changed, start a new optimizer"
            )
        converted = False
        for i, (w, (shape, dtype)) in enumerate(zip(weights, layout, strict=True)):
            if w.shape != shape:
                raise ConfigError(
                    f"optimizer '{self.name}': weight {i} has shape {w.shape}, its state "
                    f"was built for {shape}; the network changed, start a new optimizer"
                )
            if w.dtype != dtype:
                for arrays in self._state.values():
                    arrays[i] = arrays[i].astype(w.dtype)
                layout[i] = (shape, w.dtype)
                converted = True
        if converted:
            self._build(weights, self._state)


def _consecutive(arrays: list[np.ndarray]) -> np.ndarray | None:
    """A 1-D view covering `arrays` when they are C-contiguous views, one after another, of a
    single 1-D buffer; else None."""
    base = arrays[0].base if arrays else None
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    origin, itemsize = base.__array_interface__["data"][0], base.itemsize
    start = offset = (arrays[0].__array_interface__["data"][0] - origin) // itemsize
    for a in arrays:
        if (
            a.base is not base
            or not a.flags.c_contiguous
            or a.__array_interface__["data"][0] != origin + offset * itemsize
        ):
            return None
        offset += a.size
    return base[start:offset]


def _check_arrays(arrays: Sequence[np.ndarray], where: str) -> None:
    if not isinstance(arrays, Sequence):
        raise ConfigError(f"{where}: expected a list of arrays, got {type(arrays).__name__}")
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray) or a.dtype not in FLOATS:
            kind = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
            raise ConfigError(f"{where}: array {i} must be a float32 or float64 array, got {kind}")
        if not a.flags.c_contiguous:
            raise ConfigError(f"{where}: array {i} must be C-contiguous (it is updated in place)")


def _check_grads(weights: list[np.ndarray], grads: list[np.ndarray], name: str) -> None:
    _check_arrays(grads, f"optimizer '{name}' gradients")
    if len(grads) != len(weights):
        raise ConfigError(f"optimizer '{name}': got {len(grads)} gradients for {len(weights)} weights")
    for i, (w, g) in enumerate(zip(weights, grads, strict=True)):
        if g.shape != w.shape or g.dtype != w.dtype:
            raise ConfigError(
                f"optimizer '{name}': gradient {i} is {g.dtype} {g.shape}, its weight is {w.dtype} {w.shape}"
            )
        if not w.flags.writeable:
            raise ConfigError(f"optimizer '{name}': weight {i} is read-only")


def _read_iterations(state: Mapping[str, Any], where: str) -> int:
    value = state.get("iterations")
    if value is None:
        raise ConfigError(f"{where}: entry 'iterations' is missing")
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind not in "iu" or int(arr) < 0:
        raise ConfigError(f"{where}: 'iterations' must be a whole number >= 0, got {value!r}")
    return int(arr)


def _checked_copy(value: Any, weight: np.ndarray, label: str, i: int) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ConfigError(f"{label} must be an array, got {type(value).__name__}")
    if value.shape != weight.shape:
        raise ConfigError(f"{label} has shape {value.shape}, but weight {i} has shape {weight.shape}")
    if value.dtype != weight.dtype:
        raise ConfigError(f"{label} has dtype {value.dtype}, but weight {i} is {weight.dtype}")
    return np.array(value, order="C", copy=True)
