"""fit, evaluate, predict and validation_data check their arrays before any kernel runs: each
bad array gives a DataError that names the call and the argument (the kernels do not check
bounds, so a wrong row count used to read and write past the end of an array)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from engine.errors import DataError
from engine.graph import NetworkSpec
from engine.network import Network
from engine.training.trainer import Trainer


def classifier(loss: str = "sparse_categorical_crossentropy", hidden: int = 8) -> Network:
    """4 features -> Dense -> 3-class softmax (the fused small-net path trains it)."""
    spec = NetworkSpec(
        training={"loss": loss, "optimizer": {"type": "adam", "learning_rate": 0.01}, "batch_size": 8}
    )
    spec.add_node("Input", {"shape": [4]}, node_id="in")
    spec.add_node("Dense", {"units": hidden, "activation": "relu"}, node_id="h")
    spec.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    spec.connect("in", "h")
    spec.connect("h", "out")
    return Network(spec)


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, n)


def raises(match: str):
    return pytest.raises(DataError, match=match)


# ------------------------------------------------------------------ lengths
def test_fit_with_more_targets_than_samples_names_both():
    x, y = data(20)
    with raises(r"^fit: x has 20 rows but y has 40$"):
        classifier().fit(x, np.concatenate([y, y]), epochs=1)


def test_fit_with_fewer_targets_than_samples_names_both():
    x, y = data(20)
    with raises(r"^fit: x has 20 rows but y has 5$"):
        classifier().fit(x, y[:5], epochs=1)


def test_one_row_against_five_million_targets_raises_before_copying_them():
    x, _ = data(1)
    y = np.zeros(5_000_000, np.int64)
    net = classifier()
    net.count_params()  # builds the model before tracing: only the checks' allocations count
    tracemalloc.start()
    try:
        with raises(r"^fit: x has 1 row but y has 5,000,000$"):
            net.fit(x, y, epochs=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # y is 40 MB: no copy, cast or mask of it was made


@pytest.mark.parametrize("n_x, n_y", [(200, 10), (10, 200)])
def test_validation_data_lengths_must_match(n_x, n_y):
    x, y = data(30)
    x_val, y_val = data(max(n_x, n_y), seed=1)
    with raises(rf"^validation_data: x has {n_x} rows but y has {n_y}$"):
        classifier().fit(x, y, epochs=1, validation_data=(x_val[:n_x], y_val[:n_y]))


def test_validation_data_must_be_a_pair():
    x, y = data(30)
    with raises(r"^validation_data: expected a pair"):
        classifier().fit(x, y, epochs=1, validation_data=(x,))


def test_evaluate_lengths_must_match():
    x, y = data(30)
    with raises(r"^evaluate: x has 30 rows but y has 29$"):
        classifier().evaluate(x, y[:29])


def test_inputs_of_a_two_input_network_must_have_equal_lengths():
    spec = NetworkSpec(training={"loss": "mse"})
    spec.add_node("Input", {"shape": [2]}, node_id="a")
    spec.add_node("Input", {"shape": [2]}, node_id="b")
    spec.add_node("Concatenate", {}, node_id="cat")
    spec.add_node("Dense", {"units": 1}, node_id="out")
    for s, t in [("a", "cat"), ("b", "cat"), ("cat", "out")]:
        spec.connect(s, t)
    net = Network(spec)
    with raises(r"^fit: x\[0\] has 10 rows but x\[1\] has 7$"):
        net.fit([np.zeros((10, 2)), np.zeros((7, 2))], np.zeros(10), epochs=1)
    with raises(r"^predict: x\['a'\] has 10 rows but x\['b'\] has 7$"):
        net.predict({"a": np.zeros((10, 2)), "b": np.zeros((7, 2))})


# ------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("call", ["fit", "evaluate", "predict"])
def test_complex_inputs_are_refused_not_cast_to_their_real_part(call):
    x, y = data(10)
    x = x + 1j
    net = classifier()
    with raises(rf"^{call}: x holds complex numbers"):
        if call == "predict":
            net.predict(x)
        else:
            getattr(net, call)(x, y)


def test_complex_targets_are_refused():
    x, y = data(10)
    with raises(r"^fit: y holds complex numbers"):
        classifier("categorical_crossentropy").fit(x, np.eye(3)[y] + 0j, epochs=1)


def test_text_inputs_are_refused():
    with raises(r"^predict: x must hold numbers"):
        classifier().predict(np.array([["a", "b", "c", "d"]]))


def test_nan_in_x_is_named_with_its_sample():
    x, y = data(10)
    x[6, 2] = np.nan
    with raises(r"^fit: x holds nan at sample 6"):
        classifier().fit(x, y, epochs=1)
    x[6, 2] = np.inf
    with raises(r"^predict: x holds inf at sample 6"):
        classifier().predict(x)


# ---------------------------------------------------------------- class ids
def test_a_fractional_class_id_is_refused_not_truncated():
    x, y = data(10)
    y = y.astype(np.float64)
    y[3] = 2.7
    with raises(r"^training targets: .* expects integer class ids in \[0, 3\), got 2\.7 at sample 3$"):
        classifier().fit(x, y, epochs=1)


def test_a_fractional_class_id_in_validation_data_is_named():
    x, y = data(10)
    y_val = y.astype(np.float64)
    y_val[0] = 2.7
    with raises(r"^validation_data: y: .* got 2\.7 at sample 0$"):
        classifier().fit(x, y, epochs=1, validation_data=(x, y_val))


@pytest.mark.parametrize("bad", [3, -1])
def test_an_out_of_range_class_id_is_refused(bad):
    x, y = data(10)
    y[4] = bad
    with raises(rf"^evaluate: y: .* got {bad} at sample 4$"):
        classifier().evaluate(x, y)
    with raises(rf"^training targets: .* got {bad} at sample 4$"):
        classifier().fit(x, y, epochs=1)


# -------------------------------------------------------------------- empty
def test_empty_data_is_refused_everywhere():
    net = classifier()
    empty_x, empty_y = np.zeros((0, 4)), np.zeros(0, np.int64)
    with raises(r"^evaluate: x is empty"):
        net.evaluate(empty_x, empty_y)
    with raises(r"^predict: x is empty"):
        net.predict(empty_x)
    with raises(r"^fit: x is empty"):
        net.fit(empty_x, empty_y, epochs=1)
    x, y = data(10)
    with raises(r"^validation_data: x is empty"):
        net.fit(x, y, epochs=1, validation_data=(empty_x, empty_y))
    with raises(r"^fit: x is an empty list"):
        net.fit([], y, epochs=1)


# ------------------------------------------------------------- rank, features
def test_a_single_value_is_not_data():
    with raises(r"^predict: x must have one row per sample"):
        classifier().predict(np.float64(1.0))
    x, _ = data(10)
    with raises(r"^fit: y must have one row per sample"):
        classifier().fit(x, 1, epochs=1)


def test_wrong_rank_is_named():
    with raises(r"^predict: x: Input 'in' expects samples of shape \(4,\), got \(\)"):
        classifier().predict(np.zeros(4))  # one sample without its batch axis
    x, y = data(10)
    with raises(r"^training targets: .* expects one integer class id per sample"):
        classifier().fit(x, np.zeros((10, 2, 2)), epochs=1)


def test_wrong_feature_count_is_named():
    x, y = data(10)
    with raises(r"^fit: x: Input 'in' expects samples of shape \(4,\), got \(5,\)"):
        classifier().fit(np.zeros((10, 5)), y, epochs=1)
    with raises(r"^validation_data: x: Input 'in' expects samples of shape \(4,\), got \(3,\)"):
        classifier().fit(x, y, epochs=1, validation_data=(np.zeros((10, 3)), y))


def test_dense_targets_must_fit_the_output():
    x, y = data(10)
    with raises(r"^training targets: categorical_crossentropy expects targets shaped like the output"):
        classifier("categorical_crossentropy").fit(x, np.eye(4)[y], epochs=1)


# ------------------------------------------------------------ trainer level
def test_the_trainer_checks_prepared_arrays_itself():
    """Trainer.fit is reachable without Network (callbacks, the GUI): it checks too."""
    net = classifier()
    x, y = data(20)
    seen = []

    class Spy(Trainer):
        def fit(self, x, y, validation=None, callbacks=None):
            seen.append(self)
            return super().fit(x, y, validation, callbacks)

    import engine.network as network_module

    original = network_module.Trainer
    network_module.Trainer = Spy
    try:
        net.fit(x, y, epochs=1)
    finally:
        network_module.Trainer = original
    trainer = seen[0]
    prepared = net.model.prepare_inputs(x)
    with raises(r"^fit: x has 20 rows but y has 19$"):
        trainer.fit(prepared, y[:19])
    with raises(r"^validation_data: x has 20 rows but y has 3$"):
        trainer.fit(prepared, y, validation=(prepared, y[:3]))
    with raises(r"^fit: x must be shaped \(N, 4\)"):
        trainer.fit([np.zeros((20, 5))], y)
    with raises(r"^evaluate: x must be C-contiguous float32"):
        trainer.evaluate([np.asfortranarray(prepared[0].astype(np.float64))], y)


def test_good_data_still_trains_on_each_path():
    x, y = data(64)
    net = classifier()
    history = net.fit(x, y, epochs=2, validation_data=(x[:16], y[:16]))
    assert len(history["val_loss"]) == 2 and np.isfinite(history["val_loss"]).all()
    assert net.last_path == "fused small net"
    wide = classifier(hidden=64)
    wide.fit(x, y.astype(np.float32), epochs=1, validation_split=0.25)  # whole floats are class ids
    assert wide.last_path == "fused BLAS chain"
    assert net.evaluate(x, y)["loss"] > 0
