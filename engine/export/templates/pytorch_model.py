"""Templates of the exported PyTorch package: model.py, __init__.py, README.md."""

from string import Template

# Attribute names of torch.nn.Module (and names model.py defines): a node id that equals one
# gets a trailing "_" so it never shadows them.
_RESERVED_WORDS = """
T_destination _apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl
_forward_hooks _forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks
_forward_pre_hooks_with_kwargs _get_backward_hooks _get_backward_pre_hooks _get_name
_is_full_backward_hook _load_from_state_dict _load_state_dict_post_hooks _load_state_dict_pre_hooks
_maybe_warn_non_full_backward_hook _modules _named_members _non_persistent_buffers_set _parameters
_register_load_state_dict_pre_hook _register_state_dict_hook _replicate_for_data_parallel
_save_to_state_dict _slow_forward _state_dict_hooks _state_dict_pre_hooks _version
_wrapped_call_impl add_module apply bfloat16 buffers call_super_init children compile cpu cuda
double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules
named_parameters parameters register_backward_hook register_buffer register_forward_hook
register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu
zero_grad input_mean input_std regularization_loss logits load_model HERE INPUT_SHAPES
OUTPUT_SHAPE MODEL_CLASS DTYPE DECAYED Path
"""
MODULE_RESERVED = tuple(_RESERVED_WORDS.split())

MODEL = Template('''"""$title: a NetCanvas network as a PyTorch module (exported by NetCanvas).
$description
    from model import load_model  # from this folder (or import the folder as a package)
    model = load_model()          # the trained weights, in eval() mode
    y = model($call_args)  # $call_shapes

Inference matches NetCanvas's Network.predict$standardize_note. The attribute and variable
names are the canvas' node ids (made into Python names where needed):

$mapping
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812  (the usual PyTorch spelling)
from torch import nn

HERE = Path(__file__).resolve().parent
DTYPE = torch.$dtype
INPUT_SHAPES = {$input_shapes}  # one sample each, without the batch dimension
OUTPUT_SHAPE = $output_shape
# The parameters AdamW decays in train.py (NetCanvas decays the layers' kernels only).
DECAYED = $decayed


class $class_name(nn.Module):
    """$class_doc"""

    def __init__(self):
        super().__init__()
$init_body

    def forward(self, $forward_args) -> torch.Tensor:
        """$forward_doc"""
$forward_body

    def regularization_loss(self) -> torch.Tensor:
        """The L1/L2 penalties of the canvas' Dense kernels, added to the training loss."""
$regularization_body


MODEL_CLASS = $class_name


def load_model(weights: str | Path | None = None, device: str | torch.device = "cpu") -> $class_name:
    """The network with its weights loaded, moved to `device`, in eval() mode.

    weights: None for the weights exported by NetCanvas (weights.npz next to this file), another
    .npz with the same names, or a .pt state dict written by train.py.
    """
    path = HERE / "weights.npz" if weights is None else Path(weights)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            state = {name: torch.from_numpy(npz[name]) for name in npz.files}
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    model = $class_name().to(DTYPE)
    model.load_state_dict(state)
    return model.to(device).eval()
''')

INIT = Template('''"""$title, exported from NetCanvas: `load_model()` returns the trained torch.nn.Module."""

from .model import INPUT_SHAPES, MODEL_CLASS, OUTPUT_SHAPE, load_model

__all__ = ["INPUT_SHAPES", "MODEL_CLASS", "OUTPUT_SHAPE", "load_model"]
''')

README = Template("""# $title: PyTorch export

Exported by NetCanvas from `$source`. Needs Python 3.10+, NumPy and PyTorch 2.x
(`pip install -r requirements.txt`); NetCanvas itself is not needed.

| file | what it is |
|---|---|
| `model.py` | `$class_name(nn.Module)`: the network, attribute names = canvas node ids; `load_model()` |
| `weights.npz` | the weights exported from NetCanvas, in PyTorch's layout (state-dict names) |
| `train.py` | training with the file's loss, optimizer, schedule, batch size and seed |
| `data_sources.py` | reads the data the NetCanvas file names (no NetCanvas needed) |
| `netcanvas.json` | the network file's settings, for reference (re-open it in NetCanvas) |
$data_row
## Inference

```python
from model import load_model
model = load_model()              # or load_model("trained.pt") after training
y = model(x)                      # $call_shapes
```

## Training

```bash
python train.py                                 # one process (CPU, or one GPU if present)
torchrun --nproc_per_node=4 train.py            # DistributedDataParallel (gloo on CPU, nccl on GPUs)
python train.py --epochs 5 --lr 0.001 --batch-size 64
python train.py --data-dir /elsewhere           # look for the data file/folder in another folder
python train.py --data my.npz                   # other data: .npz (x, y), .csv, or an MNIST folder
```

`--batch-size` is the global batch size, as in NetCanvas: with N processes each takes
batch_size / N samples per step. Training starts from `weights.npz` (for a NetCanvas file that was
never trained these are its initial weights from the seed); `--fresh-init` uses PyTorch's own
initialization. Process 0 prints one line per epoch and writes `trained.pt`.
""")

REQUIREMENTS = "numpy>=1.23\ntorch>=2.0\n"
