"""The exception types the engine raises for problems a user can act on.

Every message says what was expected and what was received, and names the file, line,
field or node it concerns, so the CLI can print it as one line and the GUI can show it as is.
"""


class NetCanvasError(Exception):
    """Base of every error the engine raises on purpose."""


class RegistryError(NetCanvasError, KeyError):
    """An unknown or duplicate type name (lists the valid choices)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ConfigError(NetCanvasError, ValueError):
    """A parameter value outside its allowed kind or range."""


class GraphError(NetCanvasError, ValueError):
    """A network that cannot be built: a cycle, a missing input, a shape that does not fit."""


class DataError(NetCanvasError, ValueError):
    """Bad input data: names the file, line/column or field and what was wrong."""


class NetworkFileError(NetCanvasError, ValueError):
    """A network file that cannot be loaded (corrupt, truncated, invalid, too new)."""


class TrainingError(NetCanvasError, RuntimeError):
    """Training cannot go on."""


class DivergenceError(TrainingError):
    """The loss became NaN or infinite; the weights were restored from the start of that epoch."""
