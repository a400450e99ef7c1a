"""NetCanvas engine: build, train, save and load neural networks with NumPy + Numba.

Usable on its own from a script or notebook; never imports Qt.

    import engine
    net = engine.load("resources/examples/xor.json")
    data = engine.data.load_data(net.spec.data)
    net.fit(data.x, data.y, epochs=50)
    engine.save(net, "xor_trained.ncv")
"""

from engine import activations, data, initializers, layers, losses, metrics, optimizers
from engine.errors import (
    ConfigError,
    DataError,
    DivergenceError,
    GraphError,
    NetCanvasError,
    NetworkFileError,
    RegistryError,
    TrainingError,
)
from engine.graph import NetworkSpec, Node, Problem
from engine.io import load, save
from engine.network import Network
from engine.registry import REGISTRIES
from engine.trace import NodeTrace, Trace
from engine.training import schedules
from engine.training.callbacks import BatchEnd, BatchesEnd, Callback, EpochEnd, History

__all__ = [
    "BatchEnd",
    "BatchesEnd",
    "Callback",
    "ConfigError",
    "DataError",
    "DivergenceError",
    "EpochEnd",
    "GraphError",
    "History",
    "Network",
    "NetworkFileError",
    "NetworkSpec",
    "NetCanvasError",
    "Node",
    "NodeTrace",
    "Problem",
    "REGISTRIES",
    "RegistryError",
    "Trace",
    "TrainingError",
    "activations",
    "data",
    "initializers",
    "layers",
    "load",
    "losses",
    "metrics",
    "optimizers",
    "save",
    "schedules",
]
