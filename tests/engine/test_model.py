"""Model over a DAG: forward/backward against central differences and against torch autograd."""

from __future__ import annotations

import numpy as np
import pytest

import engine  # noqa: F401
from engine.graph import NetworkSpec
from engine.losses import get_loss
from engine.model import Model
from tests.engine.gradcheck import numeric_gradient, relative_error


def random_dag(bias: bool = True) -> NetworkSpec:
    """Two inputs, a residual Add, a Concatenate, BatchNorm and Dropout-free branches."""
    spec = NetworkSpec()
    spec.add_node("Input", {"shape": [3]}, node_id="x1")
    spec.add_node("Input", {"shape": [2, 2]}, node_id="x2")
    spec.add_node("Flatten", node_id="flat")
    spec.add_node("Dense", {"units": 4, "activation": "tanh", "use_bias": bias}, node_id="a")
    spec.add_node("Dense", {"units": 4, "activation": "sigmoid"}, node_id="b")
    spec.add_node("Add", node_id="res")
    spec.add_node("Concatenate", node_id="cat")
    spec.add_node("BatchNormalization", node_id="bn")
    spec.add_node("Activation", {"activation": "gelu"}, node_id="act")
    spec.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    for s, t in [
        ("x2", "flat"),
        ("x1", "a"),
        ("flat", "b"),
        ("a", "res"),
        ("b", "res"),
        ("res", "cat"),
        ("x1", "cat"),
        ("cat", "bn"),
        ("bn", "act"),
        ("act", "out"),
    ]:
        spec.connect(s, t)
    return spec


def _model(dtype="float64") -> tuple[Model, list[np.ndarray], np.ndarray]:
    model = Model(random_dag(), dtype)
    model.initialize(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(5, 3)), rng.normal(size=(5, 2, 2))]
    labels = rng.integers(0, 3, size=5)
    return model, inputs, labels


def test_dag_backward_matches_central_differences_fused_and_plain():
    model, inputs, labels = _model()
    loss = get_loss("sparse_categorical_crossentropy")
    assert model.uses_fused_loss(loss.fused_activation)

    def value() -> float:
        return loss.forward(model.forward(inputs, training=True), labels)

    for fused in (True, False):
        model.forward(inputs, training=True)
        if fused:
            z = model.output_layer.pre_activation
            model.backward(loss.backward_from_logits(z, labels), from_preactivation=True)
        else:
            model.backward(loss.backward(model.outputs[model.output_id], labels))
        for nid, key, arr in model.weight_entries():
            if key not in model.layers[nid].trainable:
                continue
            analytic = model.layers[nid].grads[key].copy()
            assert relative_error(analytic, numeric_gradient(value, arr)) < 1e-6, (fused, nid, key)


def test_inputs_are_reshaped_and_checked():
    model, inputs, _ = _model()
    flat = [inputs[0], inputs[1].reshape(5, 4)]
    assert model.prepare_inputs(flat)[1].shape == (5, 2, 2)
    with pytest.raises(engine.DataError, match="Input 'x1' expects samples of shape \\(3,\\), got \\(4,\\)"):
        model.prepare_inputs([np.zeros((5, 4)), inputs[1]])


def test_set_weights_checks_count_and_shapes():
    model, _, _ = _model()
    weights = model.get_weights()
    with pytest.raises(engine.ConfigError, match="expects"):
        model.set_weights(weights[:-1])
    weights[0] = np.zeros((9, 9))
    with pytest.raises(engine.ConfigError, match="must have shape"):
        model.set_weights(weights)


def test_one_sgd_step_matches_torch_autograd():
    torch = pytest.importorskip("torch", reason="torch not installed: comparison against autograd skipped")
    model, inputs, labels = _model()
    torch_params = {
        name: torch.tensor(arr.copy(), requires_grad=True)
        for name, arr in model.named_weights().items()
        if name.split("/")[1] in model.layers[name.split("/")[0]].trainable
    }
    P = torch_params
    x1 = torch.tensor(inputs[0])
    x2 = torch.tensor(inputs[1]).reshape(5, -1)
    a = torch.tanh(x1 @ P["a/kernel"] + P["a/bias"])
    b = torch.sigmoid(x2 @ P["b/kernel"] + P["b/bias"])
    cat = torch.cat([a + b, x1], dim=1)
    mean, var = cat.mean(0), cat.var(0, unbiased=False)
    bn = (cat - mean) / torch.sqrt(var + 1e-3) * P["bn/gamma"] + P["bn/beta"]
    act = torch.nn.functional.gelu(bn)
    logits = act @ P["out/kernel"] + P["out/bias"]
    loss_t = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    loss_t.backward()

    optimizer = engine.optimizers.get_optimizer("sgd", learning_rate=0.1)
    loss = get_loss("sparse_categorical_crossentropy")
    model.forward(inputs, training=True)
    z = model.output_layer.pre_activation
    assert abs(loss.forward_from_logits(z, labels) - loss_t.item()) < 1e-10
    model.backward(loss.backward_from_logits(z, labels), from_preactivation=True)
    weights, grads, decay = model.trainable()
    optimizer.step(weights, grads, 0.1, decay)
    named = model.named_weights()
    for name, tensor in P.items():
        expected = (tensor - 0.1 * tensor.grad).detach().numpy()
        np.testing.assert_allclose(named[name], expected, rtol=1e-9, atol=1e-12, err_msg=name)
