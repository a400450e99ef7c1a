"""NetworkSpec: editing, cycles, topological order, validation messages, round trip."""

from __future__ import annotations

import pytest

import engine  # noqa: F401
from engine.errors import ConfigError, GraphError, RegistryError
from engine.graph import NetworkSpec


def chain(*layers) -> NetworkSpec:
    spec = NetworkSpec()
    previous = None
    for index, (type_name, params) in enumerate(layers):
        node = spec.add_node(type_name, params, (index * 100, 0))
        if previous is not None:
            spec.connect(previous, node.id)
        previous = node.id
    return spec


def test_ids_are_stable_readable_and_unique():
    spec = chain(("Input", {"shape": [2]}), ("Dense", {"units": 3}), ("Dense", {"units": 1}))
    assert list(spec.nodes) == ["input_1", "dense_1", "dense_2"]
    with pytest.raises(ConfigError, match="already exists"):
        spec.add_node("Dense", node_id="dense_1")


def test_unknown_type_lists_the_choices():
    with pytest.raises(RegistryError, match="unknown layer 'Dens'; valid choices: .*Dense"):
        NetworkSpec().add_node("Dens")


def test_unknown_and_invalid_parameters_are_named():
    spec = NetworkSpec()
    with pytest.raises(ConfigError, match="unknown parameter.*unit.*known: units"):
        spec.add_node("Dense", {"unit": 3})
    with pytest.raises(ConfigError, match="'units' must be at least 1, got 0"):
        spec.add_node("Dense", {"units": 0})
    with pytest.raises(ConfigError, match="'activation' must be one of .*relu.*got 'rellu'"):
        spec.add_node("Dense", {"activation": "rellu"})


def test_can_connect_refuses_with_a_reason():
    spec = chain(("Input", {"shape": [2]}), ("Dense", {"units": 3}), ("Dense", {"units": 1}))
    assert spec.can_connect("dense_2", "input_1") == (
        False,
        "Input 'input_1' is an input: nothing can feed it",
    )
    ok, reason = spec.can_connect("dense_2", "dense_1")
    assert not ok and "cycle" in reason
    ok, reason = spec.can_connect("input_1", "dense_2")
    assert not ok and "takes 1 input(s) and already has 1" in reason
    assert spec.can_connect("dense_1", "dense_1")[0] is False


def test_topological_order_and_dag_shapes():
    spec = NetworkSpec()
    spec.add_node("Input", {"shape": [4]}, node_id="x")
    spec.add_node("Dense", {"units": 3}, node_id="a")
    spec.add_node("Dense", {"units": 3}, node_id="b")
    spec.add_node("Add", node_id="sum")
    spec.add_node("Concatenate", node_id="cat")
    for s, t in [("x", "a"), ("x", "b"), ("a", "sum"), ("b", "sum"), ("sum", "cat"), ("x", "cat")]:
        spec.connect(s, t)
    order = spec.topological_order()
    assert order.index("x") < order.index("a") < order.index("sum") < order.index("cat")
    report = spec.infer_shapes()
    assert report.ok, report.problems
    assert report.shapes["cat"] == (7,)


def test_every_problem_is_reported_with_its_node():
    spec = NetworkSpec()
    spec.add_node("Input", {"shape": [28, 28]}, node_id="in")
    spec.add_node("Dense", {"units": 10}, node_id="fc2")
    spec.add_node("Dense", {"units": 5}, node_id="lonely")
    spec.connect("in", "fc2")
    problems = spec.validate()
    by_node = {p.node_id: p.message for p in problems}
    assert by_node["fc2"] == "Dense 'fc2' expects a 1-D input, got (28, 28): add a Flatten before it"
    assert by_node["lonely"] == "Dense 'lonely' has no input: connect a layer to it"
    assert any(p.node_id is None and "2 outputs" in p.message for p in problems)


def test_downstream_of_a_broken_node_is_not_reported_twice():
    spec = chain(("Input", {"shape": [2, 2]}), ("Dense", {"units": 3}), ("Dense", {"units": 1}))
    problems = spec.validate()
    assert [p.node_id for p in problems] == ["dense_1"]
    assert spec.infer_shapes().shapes["dense_2"] is None


def test_empty_and_inputless_networks():
    assert "empty" in NetworkSpec().validate()[0].message
    spec = NetworkSpec()
    spec.add_node("Dense")
    assert any("no Input" in p.message for p in spec.validate())


def test_round_trip_through_dict():
    spec = chain(("Input", {"shape": [2]}), ("Dense", {"units": 3, "activation": "relu"}))
    again = NetworkSpec.from_dict(spec.to_dict())
    assert again.to_dict() == spec.to_dict()


def test_from_dict_names_bad_edges():
    doc = {"nodes": [{"id": "a", "type": "Input", "params": {"shape": [2]}}], "edges": [["a", "zz"]]}
    with pytest.raises(GraphError, match="edges\\[0\\] names node 'zz'"):
        NetworkSpec.from_dict(doc)


def test_remove_node_drops_its_edges():
    spec = chain(("Input", {"shape": [2]}), ("Dense", {"units": 3}), ("Dense", {"units": 1}))
    spec.remove_node("dense_1")
    assert spec.edges == []
