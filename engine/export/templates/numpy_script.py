"""Template of the NumPy inference script (see engine/export/numpy_export.py)."""

from string import Template

# Names the generated script defines itself; node variables never take them (nor the names of
# the activations' and layers' helper functions, see engine/export/numpy_export.py).
RESERVED = (
    "W",
    "DTYPE",
    "INPUT_SHAPES",
    "OUTPUT_SHAPE",
    "STANDARDIZE",
    "forward",
    "predict",
    "main",
    "load_weights",
    "argparse",
    "base64",
    "io",
    "math",
    "sys",
    "Path",
    "len",
)

EMBEDDED_WEIGHTS = Template('''# The trained weights: a compressed .npz archive, base64-encoded, one array per
# "<node id>/<name>" as in NetCanvas's .ncv files (Dense kernels are (inputs, units)).
WEIGHTS_NPZ_BASE64 = (
$chunks
)


def load_weights():
    """The weight arrays by name (read without pickle)."""
    raw = base64.b64decode("".join(WEIGHTS_NPZ_BASE64))
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}''')

FILE_WEIGHTS = Template('''# The trained weights live in the file WEIGHTS_FILE names, next to this script (too large
# to embed), one array per "<node id>/<name>" as in NetCanvas's .ncv files (Dense kernels are
# (inputs, units)).
WEIGHTS_FILE = Path(__file__).resolve().with_name($file)


def load_weights():
    """The weight arrays by name (read without pickle)."""
    with np.load(WEIGHTS_FILE, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}''')

SCRIPT = Template('''#!/usr/bin/env python3
"""$title: a NetCanvas network as a NumPy inference script (exported by NetCanvas).
$description
Needs only NumPy. It computes exactly what NetCanvas's Network.predict computes: inference mode
(Dropout does nothing, BatchNormalization uses its moving statistics), in $dtype.

    python $module.py inputs.npy             # prints the predictions
    python $module.py inputs.csv -o out.npy  # CSV: one sample per row, no header

    from $module import predict  # the file can be copied anywhere
    y = predict(x)  # x: (N, *input shape) -> (N, *output shape)

Canvas node id          -> variable in forward()  type
$mapping
"""

from __future__ import annotations

$imports
from pathlib import Path

import numpy as np

DTYPE = np.$dtype
INPUT_SHAPES = {$input_shapes}  # one sample, without the batch dimension
OUTPUT_SHAPE = $output_shape
STANDARDIZE = $standardize  # inputs are standardized with the training data's mean and std


# ---------------------------------------------------------------- activations and layers
$helpers


# ---------------------------------------------------------------------------- the network
def forward($inputs):
    """One batch through the network (inputs already standardized, in DTYPE)."""
$forward_body


def predict(x, batch_size=1024):
    """Outputs (N, *OUTPUT_SHAPE) for raw inputs.

    x: one array (N, *input shape) for a single input, else a list in INPUT_SHAPES order or a
    dict keyed by input name. A flat sample of the right size is reshaped (784 -> 1x28x28).
    """
    if isinstance(x, dict):
        arrays = [x[name] for name in INPUT_SHAPES]
    elif isinstance(x, (list, tuple)):
        arrays = list(x)
    else:
        arrays = [x]
    if len(arrays) != len(INPUT_SHAPES):
        raise ValueError(f"the network has {len(INPUT_SHAPES)} inputs, got {len(arrays)} arrays")
    prepared = []
    for (name, shape), array in zip(INPUT_SHAPES.items(), arrays):
        array = np.asarray(array)
        if array.shape[1:] != shape:
            if array.ndim < 1 or array[0].size != math.prod(shape):
                raise ValueError(f"input {name!r} expects samples of shape {shape}, got {array.shape[1:]}")
            array = array.reshape((len(array), *shape))
        prepared.append(array)
    if STANDARDIZE:
        raw = prepared[0]
        dtype = raw.dtype if raw.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        mean, std = W["preprocessing/mean"].astype(dtype), W["preprocessing/std"].astype(dtype)
        prepared[0] = ((raw - mean) / std).astype(dtype)
    prepared = [np.ascontiguousarray(a, dtype=DTYPE) for a in prepared]
    count = len(prepared[0])
    out = np.empty((count, *OUTPUT_SHAPE), dtype=DTYPE)
    for start in range(0, count, batch_size):
        out[start:start + batch_size] = forward(*(a[start:start + batch_size] for a in prepared))
    return out


$weights_code


W = load_weights()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", help=".npy (one array, or .npz with one array per input name) "
                        "or .csv (one sample per row, no header)")
    parser.add_argument("-o", "--output", help="write the predictions to this .npy or .csv file")
    args = parser.parse_args(argv)
    path = Path(args.inputs)
    if path.suffix.lower() == ".csv":
        x = np.loadtxt(path, delimiter=",", ndmin=2)
    elif path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            x = {name: npz[name] for name in npz.files}
    else:
        x = np.load(path, allow_pickle=False)
    y = predict(x)
    if args.output and args.output.lower().endswith(".csv"):
        np.savetxt(args.output, y.reshape(len(y), -1), delimiter=",")
    elif args.output:
        np.save(args.output, y)
    else:
        np.savetxt(sys.stdout, y.reshape(len(y), -1), fmt="%.7g", delimiter=",")
    return 0


if __name__ == "__main__":
    sys.exit(main())
''')
