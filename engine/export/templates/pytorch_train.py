"""Train the exported network with PyTorch, as NetCanvas would (written by NetCanvas's exporter).

    python train.py                              # one process: CPU, or one GPU when present
    torchrun --nproc_per_node=N train.py         # DistributedDataParallel: gloo on CPU, nccl on GPUs
    python train.py --epochs 5 --lr 0.001 --batch-size 64 --data-dir /elsewhere

The settings below are the NetCanvas file's: loss, optimizer, schedule, batch size, epochs, seed
and data. BATCH_SIZE is the global batch size: each of N processes takes every N-th sample of
each batch, and DistributedDataParallel averages their gradients, so one step uses the same
samples as NetCanvas's step. Samples are shuffled with NetCanvas's generator and seed.
Process 0 prints one line per epoch and writes trained.pt (a state dict for load_model()).
"""

from __future__ import annotations

import argparse
import json
import math  # noqa: F401  (the cosine schedule's form uses it)
import os
import sys
import time
from pathlib import Path

import data_sources
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F  # noqa: N812  (the usual PyTorch spelling)
from model import DECAYED, INPUT_SHAPES, MODEL_CLASS, OUTPUT_SHAPE, load_model  # noqa: F401  (AdamW's form uses DECAYED)

# BEGIN SETTINGS (written by the NetCanvas exporter; these are stand-ins)
LOSS: dict = {"type": "mse"}
INDEX_TARGETS = False  # the loss takes integer class ids as targets
FUSED_ACTIVATION: str | None = None  # the output activation the loss is computed through
OPTIMIZER: dict = {
    "type": "adam",
    "learning_rate": 0.001,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "epsilon": 1e-07,
    "amsgrad": False,
}
SCHEDULE: dict = {"type": "constant"}
BATCH_SIZE = 32
EPOCHS = 20
SEED = 0
SHUFFLE = True
CLIP_NORM: float | None = None
DTYPE = "float32"
METRICS: list[str] = ["mae"]
DATA: dict = {"source": "sine", "n": 500, "noise": 0.05, "seed": 0, "val_split": 0.2}
# END SETTINGS
EPSILON = 1e-7  # Keras' clipping of probabilities, as NetCanvas's losses


# ------------------------------------------------------------------------------- losses
def _clip(p):
    return p.clamp(EPSILON, 1.0 - EPSILON)


def _bce(p, t, logits):
    if logits:
        return F.binary_cross_entropy_with_logits(p, t, reduction="none")
    p = _clip(p)
    return -(t * torch.log(p) + (1 - t) * torch.log1p(-p))


def _hinge_targets(t):
    return 2 * t - 1 if bool(((t == 0) | (t == 1)).all()) else t


# BEGIN LOSS (written by the NetCanvas exporter from the loss's class; this one is mse)
def loss_value(output, target, logits: bool):
    """The mean loss of a batch, with Keras'/NetCanvas's definitions. `output` holds logits
    (before the final sigmoid/softmax) when `logits` is True."""
    return (output - target).square().mean()


# END LOSS


# ------------------------------------------------------------------------------ metrics
def metric_value(name: str, p, t) -> float:
    """One batch's metric (all are means over samples except rmse and r2, computed on the
    whole validation set here)."""
    if name in ("accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy"):
        if name == "accuracy":
            if p.shape[-1] == 1:
                name = "binary_accuracy"
            elif t.dtype == torch.int64 and t.numel() * p.shape[-1] == p.numel():
                name = "sparse_categorical_accuracy"
            else:
                name = "categorical_accuracy"
        if name == "binary_accuracy":
            right = (p > 0.5) == (t.reshape(p.shape) > 0.5)
        elif name == "sparse_categorical_accuracy":
            right = p.argmax(dim=-1) == t.reshape(p.shape[:-1])
        else:
            right = p.argmax(dim=-1) == t.argmax(dim=-1)
        return right.double().mean().item()
    if name == "hinge_accuracy":
        return ((p > 0) == (_hinge_targets(t.reshape(p.shape)) > 0)).double().mean().item()
    t = t.reshape(p.shape)
    if name == "mae":
        return (p - t).abs().double().mean().item()
    if name == "rmse":
        return (p - t).double().square().mean().sqrt().item()
    if name == "r2":
        p2, t2 = p.reshape(len(p), -1).double(), t.reshape(len(t), -1).double()
        ss_res = (t2 - p2).square().sum(0)
        ss_tot = (t2 - t2.mean(0)).square().sum(0)
        scores = torch.where(ss_tot == 0, (ss_res == 0).double(), 1 - ss_res / ss_tot.clamp_min(1e-300))
        return scores.mean().item()
    raise ValueError(f"unknown metric {name!r}")


# ----------------------------------------------------------------- optimizer, schedule
# BEGIN OPTIMIZER (written by the NetCanvas exporter from the optimizer's class; this one is sgd)
def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """NetCanvas's optimizer with its settings."""
    o = OPTIMIZER
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=lr, momentum=o["momentum"], nesterov=o["nesterov"])


# END OPTIMIZER


# BEGIN SCHEDULE (written by the NetCanvas exporter from the schedule's class; this one is constant)
def learning_rate(base: float, epoch: int, total: int) -> float:
    """The rate of 0-based `epoch` of a run of `total` epochs (NetCanvas's schedule)."""
    return base


# END SCHEDULE


# ---------------------------------------------------------------------------- training
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="global batch size")
    parser.add_argument("--lr", type=float, default=OPTIMIZER["learning_rate"])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--data-dir", help="folder holding the data file/folder named in DATA")
    parser.add_argument(
        "--fresh-init", action="store_true", help="PyTorch's initialization instead of the exported weights"
    )
    parser.add_argument("-o", "--output", default="trained.pt", help="state dict to write")
    parser.add_argument("--metrics-json", help="also write the final metrics here (JSON)")
    return parser.parse_args(argv)


def setup() -> tuple[int, int, torch.device]:
    """(rank, world size, device); starts the process group when run by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
        return dist.get_rank(), world, device
    return 0, 1, device


def as_inputs(x: np.ndarray) -> np.ndarray:
    """Samples reshaped to the Input shape when only the layout differs (784 <-> 1x28x28)."""
    shape = next(iter(INPUT_SHAPES.values()))
    return x.reshape(len(x), *shape) if x.shape[1:] != shape else x


def as_targets(y: np.ndarray, output_dim: int) -> np.ndarray:
    """Class ids stay int64 for the sparse loss; otherwise targets shaped like the output."""
    if INDEX_TARGETS:
        return y.reshape(len(y)).astype(np.int64)
    y = y.astype(DTYPE)
    return y.reshape(len(y), *([1] * output_dim)) if y.ndim == 1 else y


def final_activation(out):
    """Probabilities from the training output (logits when the loss is computed through them)."""
    if FUSED_ACTIVATION == "sigmoid":
        return torch.sigmoid(out)
    if FUSED_ACTIVATION == "softmax":
        return torch.softmax(out, dim=-1)
    return out


def evaluate(model, x, y, batch_size: int = 1024) -> dict[str, float]:
    """Loss and metrics over a whole set in eval() mode (as NetCanvas's validation)."""
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        logs = {"loss": loss_value(out, y, False).item() + regularization(model).item()}
        logs.update({m: metric_value(m, out, y) for m in METRICS})
    return logs


def regularization(model) -> torch.Tensor:
    return (model.module if hasattr(model, "module") else model).regularization_loss()


def main(argv=None) -> int:
    args = parse_args(argv)
    if len(INPUT_SHAPES) != 1:
        sys.exit("train.py feeds one data array; this network has several Inputs")
    rank, world, device = setup()
    torch.manual_seed(args.seed)
    data = data_sources.load(DATA, DTYPE, args.data_dir)
    if args.fresh_init:
        model = MODEL_CLASS().to(device=device, dtype=getattr(torch, DTYPE))
    else:
        model = load_model(device=device)
    if data.mean is not None:  # the standardization NetCanvas fits on the training rows
        model.input_mean.copy_(torch.as_tensor(data.mean.reshape(model.input_mean.shape)))
        model.input_std.copy_(torch.as_tensor(data.std.reshape(model.input_std.shape)))
    output_dim = len(OUTPUT_SHAPE)
    x = torch.as_tensor(as_inputs(data.x)).to(device)
    y = torch.as_tensor(as_targets(data.y, output_dim)).to(device)
    x_val = torch.as_tensor(as_inputs(data.x_val)).to(device)
    y_val = torch.as_tensor(as_targets(data.y_val, output_dim)).to(device)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    optimizer = make_optimizer(model, args.lr)
    shuffle_rng = np.random.default_rng([args.seed, 1, 0])  # NetCanvas's shuffling generator
    count, batch = len(x), args.batch_size
    logs: dict[str, float] = {}
    if rank == 0:
        print(
            f"training on {data_sources.describe(DATA)}: {count} samples, {len(x_val)} for validation, "
            f"{world} process(es) on {device.type}",
            flush=True,
        )
    for epoch in range(args.epochs):
        started = time.perf_counter()
        lr = learning_rate(args.lr, epoch, args.epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = shuffle_rng.permutation(count) if SHUFFLE else np.arange(count)
        totals = torch.zeros(2 + len(METRICS), dtype=torch.float64, device=device)
        net.train()
        for start in range(0, count, batch):
            idx = torch.as_tensor(order[start : start + batch][rank::world], device=device)
            xb, yb = x[idx], y[idx]
            optimizer.zero_grad(set_to_none=True)
            out = net(xb, logits=True) if FUSED_ACTIVATION else net(xb)
            loss = loss_value(out, yb, FUSED_ACTIVATION is not None) + regularization(net)
            loss.backward()
            if CLIP_NORM is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
            optimizer.step()
            with torch.no_grad():
                probs = final_activation(out)
                n = len(idx)
                totals[0] += n
                totals[1] += loss.item() * n
                for i, m in enumerate(METRICS):
                    totals[2 + i] += metric_value(m, probs, yb) * n
        if world > 1:
            dist.all_reduce(totals)
        logs = {"loss": (totals[1] / totals[0]).item()}
        logs.update({m: (totals[2 + i] / totals[0]).item() for i, m in enumerate(METRICS)})
        if len(x_val):
            logs.update({f"val_{k}": v for k, v in evaluate(model, x_val, y_val).items()})
        if rank == 0:
            text = "  ".join(f"{k} {v:.4f}" for k, v in logs.items())
            print(
                f"epoch {epoch + 1}/{args.epochs}  {text}  lr {lr:g}  {time.perf_counter() - started:.1f}s",
                flush=True,
            )
    if rank == 0:
        torch.save(model.state_dict(), args.output)
        print(f"saved {args.output}", flush=True)
        if args.metrics_json:
            Path(args.metrics_json).write_text(json.dumps({**logs, "processes": world}, indent=2) + "\n")
    if world > 1:
        # every process waits for process 0's files: a worker that tore its connections down while
        # another still used them aborted ("terminate called without an active exception")
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
