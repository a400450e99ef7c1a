"""Network.trace: one sample's forward pass, loss and backward pass, node by node.

Its weight gradients equal float64 central differences of its loss and the gradients of a
batch-of-one training step, for a small network around every layer type of the registry; the
chain rule is visible in its records; tracing changes nothing; bad samples raise clear errors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import engine
from engine.data import Standardizer
from engine.graph import NetworkSpec
from engine.registry import LAYERS
from engine.trace import step_weights

STEP = 1e-5
SAMPLES_PER_ARRAY = 8  # central differences of a few entries of each array keep the test fast

Chain = list[tuple[str, dict]]


def chain_spec(input_shape: list[int], layers: Chain, loss: str = "mse", **training) -> NetworkSpec:
    """Input -> layers in a row, float64, plain SGD at learning rate 1 (w_after = w - grad)."""
    spec = NetworkSpec(
        training={
            "loss": loss,
            "optimizer": {"type": "sgd", "learning_rate": 1.0},
            "dtype": "float64",
            "batch_size": 1,
            "shuffle": False,
            **training,
        }
    )
    spec.add_node("Input", {"shape": input_shape}, node_id="x")
    previous = "x"
    for index, (kind, params) in enumerate(layers):
        node = f"{kind.lower()}_{index}"
        spec.add_node(kind, params, node_id=node)
        spec.connect(previous, node)
        previous = node
    return spec


def branches_spec(merge: str, params: dict | None = None) -> NetworkSpec:
    """x -> two Dense branches -> merge -> Dense 2 (the merge's two gradients are summed at x)."""
    spec = chain_spec([3], [("Dense", {"units": 4, "activation": "tanh"})])
    spec.add_node("Dense", {"units": 4, "activation": "sigmoid"}, node_id="b")
    spec.add_node(merge, params or {}, node_id="merge")
    spec.add_node("Dense", {"units": 2}, node_id="out")
    for source, target in [("x", "b"), ("dense_0", "merge"), ("b", "merge"), ("merge", "out")]:
        spec.connect(source, target)
    return spec


TANH = {"activation": "tanh"}
CONV = ("Conv2D", {"filters": 2, "kernel_size": [2], **TANH})
HEAD: Chain = [("Flatten", {}), ("Dense", {"units": 2})]
# One small network per layer type (besides Input): a new type without a case fails
# test_every_layer_type_has_a_case.
CASES: dict[str, Callable[[], NetworkSpec]] = {
    "Dense": lambda: chain_spec([3], [("Dense", {"units": 4, **TANH}), ("Dense", {"units": 2})]),
    "Activation": lambda: chain_spec(
        [3],
        [("Dense", {"units": 4}), ("Activation", {"activation": "elu"}), ("Dense", {"units": 3})],
    ),
    "Dropout": lambda: chain_spec(
        [3],
        [("Dense", {"units": 4, **TANH}), ("Dropout", {"rate": 0.5}), ("Dense", {"units": 1})],
    ),
    "Flatten": lambda: chain_spec([2, 3], HEAD),
    "Reshape": lambda: chain_spec(
        [6], [("Dense", {"units": 6, **TANH}), ("Reshape", {"target_shape": [2, 3]}), *HEAD]
    ),
    "ZeroPadding2D": lambda: chain_spec([1, 3, 3], [("ZeroPadding2D", {"padding": "1"}), CONV, *HEAD]),
    "Add": lambda: branches_spec("Add"),
    "Concatenate": lambda: branches_spec("Concatenate"),
    "BatchNormalization": lambda: chain_spec(
        [2, 4, 4],
        [CONV, ("BatchNormalization", {}), ("GlobalAveragePooling2D", {}), ("Dense", {"units": 2})],
    ),
    "MaxPooling2D": lambda: chain_spec([1, 5, 5], [CONV, ("MaxPooling2D", {"pool_size": [2]}), *HEAD]),
    "AveragePooling2D": lambda: chain_spec(
        [1, 5, 5], [CONV, ("AveragePooling2D", {"pool_size": [2], "padding": "same"}), *HEAD]
    ),
    "GlobalAveragePooling2D": lambda: chain_spec(
        [1, 4, 4], [CONV, ("GlobalAveragePooling2D", {}), ("Dense", {"units": 2})]
    ),
    "GlobalMaxPooling2D": lambda: chain_spec(
        [1, 4, 4], [CONV, ("GlobalMaxPooling2D", {}), ("Dense", {"units": 2})]
    ),
    "MaxPooling1D": lambda: chain_spec(
        [2, 7],
        [("Conv1D", {"filters": 3, "kernel_size": [2], **TANH}), ("MaxPooling1D", {"pool_size": [2]}), *HEAD],
    ),
    "Conv2D": lambda: chain_spec(
        [2, 5, 5],
        [("Conv2D", {"filters": 2, "kernel_size": [3], "strides": [2], "padding": "same", **TANH}), *HEAD],
    ),
    "Conv1D": lambda: chain_spec(
        [2, 6], [("Conv1D", {"filters": 2, "kernel_size": [3], "dilation_rate": [2], **TANH}), *HEAD]
    ),
}


def network(spec: NetworkSpec, seed: int = 0) -> engine.Network:
    """The network of `spec` with its initial weights, biases and running statistics made
    random (zero biases and unit statistics would hide mistakes)."""
    net = engine.Network(spec)
    rng = np.random.default_rng(seed)
    weights = []
    for (_, key, _), w in zip(net.model.weight_entries(), net.get_weights(), strict=True):
        if key == "moving_variance":
            weights.append(rng.uniform(0.5, 2.0, w.shape))
        elif key in ("bias", "beta", "moving_mean"):
            weights.append(rng.normal(0.0, 0.5, w.shape))
        else:
            weights.append(w)
    net.set_weights(weights)
    return net


def sample(net: engine.Network, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = net.model
    return rng.normal(size=model.input_shape()), rng.normal(size=model.output_shape)


def numeric_check(f: Callable[[np.ndarray], float], array: np.ndarray, analytic: np.ndarray, label: str):
    """analytic == d f / d array by float64 central differences at a few entries."""
    rng = np.random.default_rng(2)
    picks = rng.choice(array.size, size=min(array.size, SAMPLES_PER_ARRAY), replace=False)
    numeric = np.empty(len(picks))
    for j, flat in enumerate(picks):
        values = []
        for step in (STEP, -STEP):
            moved = array.copy()
            moved.reshape(-1)[flat] += step
            values.append(f(moved))
        numeric[j] = (values[0] - values[1]) / (2 * STEP)
    np.testing.assert_allclose(analytic.reshape(-1)[picks], numeric, rtol=1e-6, atol=1e-8, err_msg=label)


def test_every_layer_type_has_a_case():
    assert sorted(set(LAYERS.names()) - {"Input"} - set(CASES)) == []


@pytest.mark.parametrize("kind", sorted(CASES))
def test_gradients_equal_central_differences(kind):
    net = network(CASES[kind]())
    assert kind in {node.type for node in net.spec.nodes.values()}
    x, y = sample(net)
    trace = net.trace(x, y)
    weights = net.get_weights()
    assert [g.shape for g in trace.weight_grads] == [w.shape for w in weights]
    for i, ((nid, key, _), w) in enumerate(zip(net.model.weight_entries(), weights, strict=True)):
        if key not in net.model.layers[nid].trainable:  # running statistics: no gradient moves them
            assert not trace.weight_grads[i].any()
            continue

        def loss_with(moved: np.ndarray, i: int = i) -> float:
            return net.trace(x, y, weights=[*weights[:i], moved, *weights[i + 1 :]]).loss

        numeric_check(loss_with, w, trace.weight_grads[i], f"{kind}: {nid}/{key}")
        assert np.array_equal(trace.node(nid).weight_grads[key], trace.weight_grads[i])
    # The Input node's gradient: d(loss)/d(sample)
    numeric_check(lambda moved: net.trace(moved, y).loss, x, trace.nodes[0].grad_output, f"{kind}: x")


@pytest.mark.parametrize(
    "loss, units, activation, target",
    [
        ("sparse_categorical_crossentropy", 3, "softmax", 2),  # fused with the softmax
        ("categorical_crossentropy", 3, "softmax", [0.2, 0.7, 0.1]),
        ("binary_crossentropy", 1, "sigmoid", [1.0]),  # fused with the sigmoid
        ("binary_focal", 2, "sigmoid", [0.0, 1.0]),
        ("kl_divergence", 3, "softmax", [0.3, 0.3, 0.4]),
        ("huber", 2, "linear", [0.2, -3.0]),
        ("log_cosh", 2, "tanh", [0.2, -0.3]),
        ("hinge", 2, "linear", [-1.0, 1.0]),
    ],
)
def test_losses_trace_their_gradients(loss, units, activation, target):
    spec = chain_spec(
        [3], [("Dense", {"units": 4, **TANH}), ("Dense", {"units": units, "activation": activation})], loss
    )
    net = network(spec)
    x = np.array([0.3, -1.2, 0.8])
    trace = net.trace(x, target)
    assert trace.loss_name == loss and trace.loss > 0
    weights = net.get_weights()
    for i, w in enumerate(weights):
        numeric_check(
            lambda moved, i=i: net.trace(x, target, weights=[*weights[:i], moved, *weights[i + 1 :]]).loss,
            w,
            trace.weight_grads[i],
            f"{loss}: array {i}",
        )
    out = trace.nodes[-1]
    # The output's z and grad_z: the activation's derivative links them to the loss's gradient
    act = net.model.output_layer.activation
    expected = act.backward(out.z[None], out.output[None], out.grad_output[None])[0]
    np.testing.assert_allclose(out.grad_z, expected, rtol=1e-6, atol=1e-12)


def fit_comparable(kind: str) -> NetworkSpec:
    """The case of `kind` with nothing that trains differently from inference: Dropout at rate 0;
    BatchNormalization right after the Input, whose moving statistics the test sets to the
    sample's own (training normalizes a batch of one with its own statistics, inference with the
    moving ones; with BatchNormalization first, no weight sits before it, so no gradient depends
    on the batch statistics' own derivative)."""
    if kind == "BatchNormalization":
        return chain_spec([2, 3, 3], [("BatchNormalization", {"momentum": 0.5}), CONV, *HEAD])
    spec = CASES[kind]()
    for node in spec.nodes.values():
        if node.type == "Dropout":
            node.params["rate"] = 0.0
    return spec


@pytest.mark.parametrize("kind", sorted(CASES))
def test_gradients_equal_a_batch_of_one_training_step(kind):
    net = network(fit_comparable(kind))
    x, y = sample(net)
    if kind == "BatchNormalization":
        entries = [key for _, key, _ in net.model.weight_entries()]
        weights = net.get_weights()
        weights[entries.index("moving_mean")] = x.mean(axis=(1, 2))
        weights[entries.index("moving_variance")] = x.var(axis=(1, 2))
        net.set_weights(weights)
    trace = net.trace(x, y)
    before = net.get_weights()
    history = net.fit(x[None], y[None], epochs=1)
    after = net.get_weights()
    assert history["loss"][0] == pytest.approx(trace.loss, rel=1e-9)
    for (nid, key, _), w0, w1, g in zip(
        net.model.weight_entries(), before, after, trace.weight_grads, strict=True
    ):
        np.testing.assert_allclose(w0 - w1, g, rtol=1e-9, atol=1e-12, err_msg=f"{kind}: {nid}/{key}")


def test_sigmoid_dense_shows_the_chain_rule():
    spec = chain_spec(
        [3],
        [("Dense", {"units": 4, "activation": "sigmoid"}), ("Dense", {"units": 2, "activation": "relu"})],
    )
    net = network(spec)
    trace = net.trace([0.5, -0.25, 1.0], [0.3, 0.9])
    x, hidden, out = trace.nodes
    assert (x.type, hidden.type, hidden.activation) == ("Input", "Dense", "sigmoid")
    kernel, bias = hidden.weights["kernel"], hidden.weights["bias"]
    np.testing.assert_allclose(hidden.z, hidden.inputs[0] @ kernel + bias)  # z = W a + b
    s = 1 / (1 + np.exp(-hidden.z))
    np.testing.assert_allclose(hidden.output, s)  # a = f(z)
    np.testing.assert_allclose(hidden.grad_z, hidden.grad_output * s * (1 - s))  # δ = ∂L/∂a ⊙ f'(z)
    np.testing.assert_allclose(hidden.grad_output, out.grad_z @ out.weights["kernel"].T)  # Wᵀδ'
    np.testing.assert_allclose(hidden.weight_grads["kernel"], np.outer(hidden.inputs[0], hidden.grad_z))
    np.testing.assert_allclose(hidden.weight_grads["bias"], hidden.grad_z)
    np.testing.assert_allclose(out.grad_output, (out.output - [0.3, 0.9]) * 2 / 2)  # mse over 2 outputs
    assert trace.prediction.shape == (2,) and np.array_equal(trace.prediction, out.output)
    assert trace.loss == pytest.approx(np.mean((out.output - [0.3, 0.9]) ** 2))


def changing_network() -> engine.Network:
    """Dropout, BatchNormalization (moving statistics), weight penalties and Adam moments:
    everything training changes besides the weights."""
    spec = chain_spec(
        [4],
        [
            ("Dense", {"units": 6, "activation": "relu", "kernel_l2": 0.01}),
            ("BatchNormalization", {}),
            ("Dropout", {"rate": 0.3}),
            ("Dense", {"units": 3, "activation": "softmax", "kernel_l1": 0.001}),
        ],
        "sparse_categorical_crossentropy",
        optimizer={"type": "adam", "learning_rate": 0.01},
        dtype="float32",
        batch_size=4,
        shuffle=True,
        seed=5,
    )
    return engine.Network(spec)


def test_trace_changes_nothing():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 4)), rng.integers(0, 3, 12)
    traced, untouched = changing_network(), changing_network()
    for net in (traced, untouched):
        net.fit(x, y, epochs=2)
    spec = traced.spec.to_dict()
    weights, state = traced.get_weights(), traced.optimizer.state()
    global_rng = np.random.get_state()[1].copy()
    trace = traced.trace(x[0], int(y[0]))
    assert np.array_equal(np.random.get_state()[1], global_rng)
    assert trace.nodes[1].output.dtype == np.float32  # the network's own dtype
    assert trace.penalty == pytest.approx(traced.model.regularization_loss())
    assert trace.penalty > 0 and trace.loss > 0
    assert traced.spec.to_dict() == spec  # the penalties stay in the network's settings
    for before, now in zip(weights, traced.get_weights(), strict=True):
        assert before.tobytes() == now.tobytes()
    assert state.keys() == traced.optimizer.state().keys()
    for key, value in traced.optimizer.state().items():
        assert value.tobytes() == state[key].tobytes(), key
    for net in (traced, untouched):
        net.fit(x, y, epochs=2)
    for a, b in zip(traced.get_weights(), untouched.get_weights(), strict=True):
        assert a.tobytes() == b.tobytes()
    assert traced.history.epochs == untouched.history.epochs


def test_penalties_are_left_out_of_the_loss_and_its_gradients():
    spec = chain_spec([3], [("Dense", {"units": 2, "kernel_l1": 0.1, "kernel_l2": 0.2})])
    net = network(spec)
    plain = network(chain_spec([3], [("Dense", {"units": 2})]))
    trace, reference = net.trace([1.0, 2.0, -1.0], [0.5, 0.5]), plain.trace([1.0, 2.0, -1.0], [0.5, 0.5])
    assert trace.loss == reference.loss
    for a, b in zip(trace.weight_grads, reference.weight_grads, strict=True):
        assert np.array_equal(a, b)
    kernel = net.get_weights()[0]
    assert trace.penalty == pytest.approx(0.1 * np.abs(kernel).sum() + 0.2 * np.square(kernel).sum())


def test_step_weights_lowers_the_sample_loss():
    spec = chain_spec(
        [2, 4, 4], [CONV, ("BatchNormalization", {}), ("GlobalAveragePooling2D", {}), ("Dense", {"units": 2})]
    )
    net = network(spec)
    x, y = sample(net)
    trace = net.trace(x, y)
    stepped = step_weights(net, trace, 0.01)
    trainable = [key not in ("moving_mean", "moving_variance") for _, key, _ in net.model.weight_entries()]
    for w, g, s, train in zip(net.get_weights(), trace.weight_grads, stepped, trainable, strict=True):
        np.testing.assert_array_equal(s, w - 0.01 * g if train else w)
    assert net.trace(x, y, weights=stepped).loss < trace.loss


@pytest.mark.parametrize("given", [lambda p: p, lambda p: p[None], lambda p: p.reshape(-1)])
def test_an_image_sample_may_come_flat_or_as_a_batch_of_one(given):
    net = network(chain_spec([1, 4, 4], [CONV, *HEAD]))
    picture = np.random.default_rng(4).random((1, 4, 4))
    trace = net.trace(given(picture), [0.0, 1.0])
    np.testing.assert_array_equal(trace.nodes[0].output, picture)
    assert trace.nodes[0].grad_output.shape == (1, 4, 4)


def test_a_sparse_target_is_a_class_id():
    spec = chain_spec(
        [2], [("Dense", {"units": 3, "activation": "softmax"})], "sparse_categorical_crossentropy"
    )
    net = network(spec)
    for y in (2, np.int64(2), np.array([2]), [2]):
        trace = net.trace([0.1, 0.2], y)
        assert trace.target == 2
        assert trace.loss == pytest.approx(-np.log(trace.prediction[2]))


@pytest.mark.parametrize(
    "x, y, message",
    [
        (
            np.zeros(3),
            1,
            r"trace: Input 'x' expects one sample of shape \(2,\) \(or \(1, 2\)\), got shape \(3,\)",
        ),
        (np.zeros((2, 2)), 1, r"expects one sample of shape \(2,\).*got shape \(2, 2\)"),
        (["a", "b"], 1, r"trace: Input 'x' must hold real numbers, got values of type <U1"),
        ([1 + 2j, 0], 1, r"must hold real numbers, got values of type complex128"),
        ([np.nan, 0.0], 1, r"trace: x holds nan at sample 0"),
        ([0.0, 0.0], 3, r"class ids in \[0, 3\), got 3"),
        (
            [0.0, 0.0],
            [0, 1],
            r"expects a class id; y expects one sample of shape \(\) \(or \(1,\)\), got shape \(2,\)",
        ),
        ([0.0, 0.0], 1.5, r"class ids in \[0, 3\), got 1.5"),
    ],
)
def test_bad_samples_raise_clear_errors(x, y, message):
    spec = chain_spec(
        [2], [("Dense", {"units": 3, "activation": "softmax"})], "sparse_categorical_crossentropy"
    )
    with pytest.raises(ValueError, match=message):
        engine.Network(spec).trace(x, y)


def test_a_dense_target_must_be_shaped_like_the_output():
    net = engine.Network(chain_spec([2], [("Dense", {"units": 3})]))
    with pytest.raises(
        ValueError, match=r"trace: mse expects a target; y expects one sample of shape \(3,\)"
    ):
        net.trace([0.0, 0.0], [1.0, 2.0])


def test_several_inputs_take_one_sample_each():
    spec = branches_spec("Add")
    spec.add_node("Input", {"shape": [2]}, node_id="x2")
    spec.add_node("Dense", {"units": 4}, node_id="c")
    spec.add_node("Add", node_id="sum3")
    for source, target in [("x2", "c"), ("merge", "sum3"), ("c", "sum3")]:
        spec.connect(source, target)
    spec.disconnect("merge", "out")
    spec.connect("sum3", "out")
    net = network(spec)
    trace = net.trace({"x": [1.0, 2.0, 3.0], "x2": [0.5, -0.5]}, [0.0, 1.0])
    assert [n.id for n in trace.nodes if n.type == "Input"] == net.model.input_ids
    with pytest.raises(ValueError, match=r"the network has 2 inputs \(x, x2\)"):
        net.trace([1.0, 2.0, 3.0], [0.0, 1.0])


def test_a_network_with_a_standardizer_traces_the_sample_it_would_predict_on():
    net = network(chain_spec([1, 2, 2], [("Flatten", {}), ("Dense", {"units": 2})]))
    data = np.random.default_rng(6).normal(3.0, 2.0, size=(20, 4))  # the data's own shape: (4,)
    net.scaler = Standardizer.fit(data)
    trace = net.trace(data[0], [0.0, 1.0])
    seen = net.scaler.transform(data[:1]).reshape(1, 2, 2)  # one sample shaped like the Input
    np.testing.assert_allclose(trace.nodes[0].output, seen)
    np.testing.assert_allclose(trace.prediction, net.predict(data[:1])[0])
