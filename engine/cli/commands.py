"""Subcommands of `python main.py`. Errors print one clear line (no traceback), exit status 1."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from engine.cli.export_command import add_export_parser, run_export
from engine.cli.failures import MESSAGE_LIMIT, UsageError, check_output, error_line, one_line
from engine.cli.progress import DownloadPrinter, ProgressPrinter
from engine.examples import output_base, resolve_network_file

EXIT_INTERRUPTED = 130  # the shell's status for a command ended by Ctrl-C (128 + SIGINT)
FILE_HELP = "a .json or .ncv network file, or the name of an example (spiral, xor, mnist_mlp, ...)"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are UsageErrors (one line, exit 1 like any failure)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        "with the four IDX files), csv:PATH[:TARGET], npz:PATH or image_folder:DIR (PNG images in one "
        "sub-folder per class) (default: the file's data section)",
    )
    train.add_argument(
        "-o", "--output", help="trained network to write (.ncv or .json; default FILE_trained.ncv)"
    )
    train.add_argument("--metrics-json", help="write the final metrics (Keras keys) as JSON here")
    add_export_parser(commands)
    return parser


def run_cli(argv: list[str]) -> int:
    """Run one command; every failure is one `error: …` line on stderr and exit status 1
    (130 after Ctrl-C), never a traceback."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(argv)


def _run(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "summary":
            import engine

            print(engine.load(resolve_network_file(args.file)).summary())
            return 0
        if args.command == "train":
            return _train(args)
        return run_export(args)
    except KeyboardInterrupt:
        print("error: interrupted by Ctrl-C; nothing was saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001  (the one place every failure becomes one line)
        print(f"error: {error_line(exc)}", file=sys.stderr)
        return 1


def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """A warning (say NumPy's overflow in a diverging run) as one `warning: …` line."""
    print(f"warning: {one_line(str(message), MESSAGE_LIMIT)}", file=sys.stderr)


def _train(args: argparse.Namespace) -> int:
    import engine
    from engine.data import load_data, parse_data_argument
    from engine.errors import TrainingError
    from engine.training.control import TrainingControl

    source = resolve_network_file(args.file)
    base = output_base(source)
    output = Path(args.output) if args.output else base.with_name(f"{base.stem}_trained.ncv")
    check_output(output, "-o", suffixes=(".ncv", ".json"))
    if args.metrics_json:
        check_output(Path(args.metrics_json), "--metrics-json")
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
    previous = signal.signal(signal.SIGINT, _stop_handler(control))
    try:
        network.fit(
            train_set.x,
            train_set.y,
            validation_data=(val_set.x, val_set.y) if len(val_set) else None,
            callbacks=[ProgressPrinter(sys.stderr)],
            control=control,
        )
    except TrainingError as exc:
        # Not saved: the optimizer's state holds the NaN/inf values, so the file would not load.
        raise TrainingError(f"{exc} Nothing was saved to {output}.") from None
    finally:
        signal.signal(signal.SIGINT, previous)
    network.spec.data = data_config
    engine.save(network, output)
    final = {key: values[-1] for key, values in network.history.epochs.items() if values}
    final.pop("lr", None)
    if control.stop_requested:
        print(
            f"stopped by Ctrl-C after the current batch; saved what was learned to {output}", file=sys.stderr
        )
    print(f"saved {output}  " + "  ".join(f"{k} {v:.4f}" for k, v in final.items()))
    if args.metrics_json:
        Path(args.metrics_json).write_text(json.dumps(final, indent=2) + "\n")
    return EXIT_INTERRUPTED if control.stop_requested else 0


def _stop_handler(control: Any) -> Callable[..., None]:
    """SIGINT during training: the first asks the trainer to stop after its batch (the run is
    then saved); a second one interrupts at once (nothing saved)."""

    def handler(*_: object) -> None:
        if control.stop_requested:
            raise KeyboardInterrupt
        control.stop()

    return handler


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
