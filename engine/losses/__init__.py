"""Loss functions; importing this package registers them all in `engine.registry.LOSSES`.

`base` holds the contract (`Loss`) and the helpers its types share, `regression`,
`classification` and `sparsemax` the registered types.
"""

# The import order is the registration order, which lists choose from: regression first.
# isort: off
from engine.losses import regression
from engine.losses import classification
from engine.losses import sparsemax

# isort: on
from engine.losses.base import EPSILON, Loss, get_loss

__all__ = ["EPSILON", "Loss", "classification", "get_loss", "regression", "sparsemax"]
