"""NetworkSpec: the network as the user drew it — nodes, edges, training and data settings.

Nodes have stable string ids (never `id()`), a registry type, parameters and a canvas position.
Edges are directed `(source, target)` pairs; the order of a node's incoming edges is the order of
its inputs (it matters for Concatenate). The spec is plain data: it knows nothing about arrays.
Shapes exclude the batch dimension; images are channels-first `(C, H, W)` as in PyTorch/ONNX.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError, GraphError, NetCanvasError
from engine.registry import LAYERS, resolve_params

Shape = tuple[int, ...]
# What one network may hold, so that building it never tries to allocate gigabytes: numbers in
# one sample at any node (an Input's shape, say), and weights in all (40 MB as float32).
MAX_SAMPLE_VALUES = 10_000_000
MAX_PARAMETERS = 10_000_000
_ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Node:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    pos: tuple[float, float] = (0.0, 0.0)

    def label(self) -> str:
        """How messages name this node: "Dense 'fc2'"."""
        return f"{self.type} '{self.id}'"


@dataclass(frozen=True)
class Problem:
    """Something that stops the network from being built, and the node it concerns (or None)."""

    node_id: str | None
    message: str
    too_large: bool = False  # past MAX_SAMPLE_VALUES or MAX_PARAMETERS: a file is refused for it


@dataclass
class ShapeReport:
    shapes: dict[str, Shape | None]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class NetworkSpec:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- editing
    def new_id(self, base: str) -> str:
        """A fresh id like 'dense_3' that no node uses yet."""
        stem = re.sub(r"[^a-z0-9]+", "_", base.lower()).strip("_") or "node"
        number = 1
        while f"{stem}_{number}" in self.nodes:
            number += 1
        return f"{stem}_{number}"

    def add_node(
        self,
        type_name: str,
        params: dict[str, Any] | None = None,
        pos: tuple[float, float] = (0.0, 0.0),
        node_id: str | None = None,
    ) -> Node:
        """Add a node of registry type `type_name`; parameters not given take their defaults."""
        layer = LAYERS.get(type_name)
        node_id = node_id or self.new_id(type_name)
        if not _ID_PATTERN.match(node_id):
            raise ConfigError(
                f"node id {node_id!r} is not valid: use letters, digits, '_', '-' or '.', "
                "starting with a letter or '_' (at most 64 characters)"
            )
        if node_id in self.nodes:
            raise ConfigError(f"a node with id '{node_id}' already exists")
        where = f"{type_name} '{node_id}'"
        node = Node(node_id, type_name, resolve_params(layer, params, where), _pos(pos))
        self.nodes[node_id] = node
        return node

    def remove_node(self, node_id: str) -> None:
        self._require(node_id)
        del self.nodes[node_id]
        self.edges = [e for e in self.edges if node_id not in e]

    def set_params(self, node_id: str, params: dict[str, Any]) -> None:
        """Replace some parameters of a node, validating the result."""
        node = self._require(node_id)
        merged = {**node.params, **params}
        node.params = resolve_params(LAYERS.get(node.type), merged, node.label())

    def can_connect(self, source: str, target: str) -> tuple[bool, str]:
        """Whether the edge source -> target may be added, and if not, why (for hover feedback)."""
        if source not in self.nodes or target not in self.nodes:
            return False, "both ends must be existing nodes"
        if source == target:
            return False, "a layer cannot feed itself"
        if (source, target) in self.edges:
            return False, "these layers are already connected"
        tgt = self.nodes[target]
        layer = LAYERS.get(tgt.type)
        if layer.max_inputs == 0:
            return False, f"{tgt.label()} is an input: nothing can feed it"
        if source in self.descendants(target):
            return False, "that connection would make a cycle"
        count = len(self.inputs_of(target))
        if layer.max_inputs is not None and count >= layer.max_inputs:
            return False, f"{tgt.label()} takes {layer.max_inputs} input(s) and already has {count}"
        return True, ""

    def connect(self, source: str, target: str) -> None:
        ok, reason = self.can_connect(source, target)
        if not ok:
            raise GraphError(f"cannot connect '{source}' to '{target}': {reason}")
        self.edges.append((source, target))

    def disconnect(self, source: str, target: str) -> None:
        if (source, target) not in self.edges:
            raise GraphError(f"'{source}' is not connected to '{target}'")
        self.edges.remove((source, target))

    # --------------------------------------------------------------- structure
    def inputs_of(self, node_id: str) -> list[str]:
        return [s for s, t in self.edges if t == node_id]

    def outputs_of(self, node_id: str) -> list[str]:
        return [t for s, t in self.edges if s == node_id]

    def descendants(self, node_id: str) -> set[str]:
        seen: set[str] = set()
        stack = [node_id]
        while stack:
            for nxt in self.outputs_of(stack.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def input_ids(self) -> list[str]:
        return [n.id for n in self.nodes.values() if n.type == "Input"]

    def sink_ids(self) -> list[str]:
        """Nodes whose output feeds nothing (a buildable network has exactly one)."""
        sources = {s for s, _ in self.edges}
        return [nid for nid in self.nodes if nid not in sources]

    def output_id(self) -> str:
        sinks = self.sink_ids()
        if len(sinks) != 1:
            raise GraphError(_sink_message(sinks))
        return sinks[0]

    def topological_order(self) -> list[str]:
        """Node ids so that every node comes after its inputs (Kahn; stable in node order)."""
        indegree = {nid: 0 for nid in self.nodes}
        for _, target in self.edges:
            indegree[target] += 1
        ready = [nid for nid, d in indegree.items() if d == 0]
        order: list[str] = []
        while ready:
            nid = ready.pop(0)
            order.append(nid)
            for nxt in self.outputs_of(nid):
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
        if len(order) != len(self.nodes):
            cyclic = [nid for nid in self.nodes if nid not in order]
            raise GraphError(f"the network has a cycle through {', '.join(cyclic)}")
        return order

    # -------------------------------------------------------------- validation
    def infer_shapes(self) -> ShapeReport:
        """Every node's output shape, and every problem found (a node with a problem is None).

        Problems downstream of a broken node are not reported again: its dependants get None.
        """
        problems: list[Problem] = []
        shapes: dict[str, Shape | None] = {}
        if not self.nodes:
            return ShapeReport({}, [Problem(None, "the network is empty: add an Input layer")])
        if not self.input_ids():
            problems.append(Problem(None, "the network has no Input layer: add one"))
        try:
            order = self.topological_order()
        except GraphError as exc:
            return ShapeReport({nid: None for nid in self.nodes}, [*problems, Problem(None, str(exc))])
        for nid in order:
            node = self.nodes[nid]
            layer = LAYERS.get(node.type)
            sources = self.inputs_of(nid)
            shapes[nid] = None
            if len(sources) < layer.min_inputs:
                problems.append(Problem(nid, _missing_input_message(node, layer.min_inputs)))
                continue
            in_shapes = [shapes[s] for s in sources]
            if any(s is None for s in in_shapes):
                continue
            try:
                shapes[nid] = layer.output_shape(node.params, in_shapes, node.label())
            except NetCanvasError as exc:
                problems.append(Problem(nid, str(exc)))
                continue
            if math.prod(shapes[nid]) > MAX_SAMPLE_VALUES:
                problems.append(Problem(nid, _too_large_message(node, shapes[nid]), too_large=True))
                shapes[nid] = None  # nothing downstream is sized from it
                continue
            if node.params.get("activation") == "softmax" and shapes[nid] and shapes[nid][-1] == 1:
                # The shape stays known (later layers still get theirs); the node gets the badge.
                problems.append(Problem(nid, f"{node.label()}: softmax over 1 unit is always 1: use sigmoid"))
        sinks = self.sink_ids()
        if len(sinks) > 1:
            problems.append(Problem(None, _sink_message(sinks)))
        if not problems:
            problems.extend(self._parameter_problems(order, shapes))
        return ShapeReport(shapes, problems)

    def _parameter_problems(self, order: list[str], shapes: dict[str, Shape | None]) -> list[Problem]:
        """The network's weights past MAX_PARAMETERS, counted from shapes (nothing allocated)."""
        total = 0
        for nid in order:
            node = self.nodes[nid]
            in_shapes = [shapes[s] for s in self.inputs_of(nid)]
            owned = LAYERS.get(node.type).weight_shapes(node.params, in_shapes)
            count = sum(math.prod(s) for s in owned.values())
            total += count
            if total > MAX_PARAMETERS:
                return [
                    Problem(
                        nid,
                        f"the network has more than {MAX_PARAMETERS:,} parameters ({node.label()} alone "
                        f"has {count:,}): make the layers or the inputs smaller",
                        too_large=True,
                    )
                ]
        return []

    def validate(self) -> list[Problem]:
        return self.infer_shapes().problems

    def require_valid(self) -> ShapeReport:
        """The shape report, or GraphError listing every problem."""
        report = self.infer_shapes()
        if report.problems:
            raise GraphError("; ".join(p.message for p in report.problems))
        return report

    # ----------------------------------------------------------- serialization
    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [
                {"id": n.id, "type": n.type, "params": _jsonable(n.params), "pos": list(n.pos)}
                for n in self.nodes.values()
            ],
            "edges": [list(e) for e in self.edges],
            "training": copy.deepcopy(self.training),
            "data": copy.deepcopy(self.data),
            "metadata": copy.deepcopy(self.metadata),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> NetworkSpec:
        """Build a spec from the JSON structure; raises ConfigError/GraphError/RegistryError."""
        spec = cls(
            training=dict(doc.get("training") or {}),
            data=dict(doc.get("data") or {}),
            metadata=dict(doc.get("metadata") or {}),
        )
        for index, raw in enumerate(doc.get("nodes") or []):
            if not isinstance(raw, dict) or "id" not in raw or "type" not in raw:
                raise ConfigError(f"nodes[{index}] needs an 'id' and a 'type', got {raw!r}")
            if not isinstance(raw.get("params", {}), dict):
                raise ConfigError(f"nodes[{index}] ('{raw['id']}'): 'params' must be an object")
            spec.add_node(raw["type"], raw.get("params"), raw.get("pos", (0, 0)), str(raw["id"]))
        for index, edge in enumerate(doc.get("edges") or []):
            if not isinstance(edge, (list, tuple)) or len(edge) != 2:
                raise ConfigError(f"edges[{index}] must be a pair [source, target], got {edge!r}")
            source, target = (str(e) for e in edge)
            for end in (source, target):
                if end not in spec.nodes:
                    raise GraphError(f"edges[{index}] names node '{end}', which does not exist")
            spec.connect(source, target)
        return spec

    def copy(self) -> NetworkSpec:
        return NetworkSpec.from_dict(self.to_dict())

    def _require(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"no node with id '{node_id}'") from None


def _pos(pos: Iterable[Any]) -> tuple[float, float]:
    values = list(pos)
    if len(values) != 2 or not all(isinstance(v, (int, float)) for v in values):
        raise ConfigError(f"a node position must be [x, y], got {values!r}")
    return float(values[0]), float(values[1])


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _too_large_message(node: Node, shape: Shape) -> str:
    text = str(list(shape)) if len(shape) <= 8 else f"[{shape[0]}, … {len(shape)} dimensions]"
    return (
        f"{node.label()} has {math.prod(shape):,} values per sample (shape {text}); "
        f"at most {MAX_SAMPLE_VALUES:,} are supported"
    )


def _missing_input_message(node: Node, needed: int) -> str:
    if needed == 1:
        return f"{node.label()} has no input: connect a layer to it"
    return f"{node.label()} needs at least {needed} inputs: connect more layers to it"


def _sink_message(sinks: list[str]) -> str:
    if not sinks:
        return "the network has no output"
    return (
        f"the network has {len(sinks)} outputs ({', '.join(sinks)}); "
        "it must end in exactly one layer: connect or remove the others"
    )
