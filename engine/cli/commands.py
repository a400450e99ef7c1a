"""Subcommands of `python main.py`. Errors print one clear line (no traceback), exit status 1."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from engine.cli.export_command import add_export_parser, run_export
from engine.cli.progress import DownloadPrinter, ProgressPrinter
from engine.examples import output_base, resolve_network_file

FILE_HELP = "a .json or .ncv network file, or the name of an example (spiral, xor, mnist_mlp, ...)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="NetCanvas: design, train and export neural networks. Without a command, opens the app.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    summary = commands.add_parser("summary", help="print the layer table of a network file")
    summary.add_argument("file", help=FILE_HELP)

    train = commands.add_parser("train", help="train a network file without the GUI")
    train.add_argument("file", help=FILE_HELP)
    train.add_argument("--epochs", type=int, help="number of epochs (default: the file's)")
    train.add_argument("--batch-size", type=int, help="samples per step (default: the file's)")
    train.add_argument("--lr", type=float, help="learning rate (default: the file's)")
    train.add_argument("--seed", type=int, help="random seed (default: the file's)")
    train.add_argument(
        "--data",
        help="data source: a synthetic set name (xor, spiral, ...), mnist or fashion_mnist "
        "(downloaded once into the user's data cache), mnist:DIR or fashion_mnist:DIR (a folder "
        "with the four IDX files), csv:PATH[:TARGET] or npz:PATH (default: the file's data section)",
    )
    train.add_argument("-o", "--output", help="trained network to write (.ncv; default FILE_trained.ncv)")
    train.add_argument("--metrics-json", help="write the final metrics (Keras keys) as JSON here")
    add_export_parser(commands)
    return parser


def run_cli(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    import engine

    try:
        if args.command == "summary":
            print(engine.load(resolve_network_file(args.file)).summary())
            return 0
        if args.command == "train":
            return _train(args)
        if args.command == "export":
            return run_export(args)
    except engine.NetCanvasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 2


def _train(args: argparse.Namespace) -> int:
    import engine
    from engine.control import TrainingControl
    from engine.data import load_data, parse_data_argument

    source = resolve_network_file(args.file)
    network = engine.load(source)
    data_config = dict(network.spec.data)
    if args.data:
        split = {k: data_config[k] for k in ("val_split",) if k in data_config}
        data_config = {**parse_data_argument(args.data), **split}
        base_dir = Path.cwd()
    else:
        base_dir = source.parent
    # The options change the network's own settings, so the saved file says how it was trained.
    network.training = network.training.with_overrides(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed
    )
    dataset = load_data(
        data_config,
        base_dir=base_dir,
        dtype=network.training.dtype,
        download=True,
        progress=DownloadPrinter(sys.stderr, f"Downloading {data_config.get('source')}"),
    )
    _check_fit(network, dataset)
    train_set, val_set = dataset.split(
        float(data_config.get("val_split", 0.2)), int(data_config.get("seed", 0))
    )
    if dataset.scaler is not None:
        network.scaler = dataset.scaler
    control = TrainingControl()
    previous = signal.signal(signal.SIGINT, lambda *_: control.stop())
    printer = ProgressPrinter(sys.stderr)
    try:
        network.fit(
            train_set.x,
            train_set.y,
            validation_data=(val_set.x, val_set.y) if len(val_set) else None,
            callbacks=[printer],
            control=control,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    if control.stop_requested:
        print("stopped by Ctrl-C after the current batch; saving what was learned", file=sys.stderr)
    network.spec.data = data_config
    base = output_base(source)
    output = Path(args.output) if args.output else base.with_name(f"{base.stem}_trained.ncv")
    engine.save(network, output)
    final = {key: values[-1] for key, values in network.history.epochs.items() if values}
    final.pop("lr", None)
    print(f"saved {output}  " + "  ".join(f"{k} {v:.4f}" for k, v in final.items()))
    if args.metrics_json:
        Path(args.metrics_json).write_text(json.dumps(final, indent=2) + "\n")
    return 0


def _check_fit(network, dataset) -> None:
    """DataError before training when the data does not fit the network, with the fixes the app
    would offer (the same check as its Train button)."""
    from engine.data_fit import fit_problems
    from engine.errors import DataError

    problems = fit_problems(network.spec, network.spec.infer_shapes(), network.training, dataset)
    if problems:
        raise DataError(
            "the data does not fit the network: "
            + "; ".join(
                p.message + (f" (fix: {p.fix.label[0].lower()}{p.fix.label[1:]})" if p.fix else "")
                for p in problems
            )
        )
