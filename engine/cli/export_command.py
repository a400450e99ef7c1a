"""`python main.py export FILE --format {onnx,pytorch,python,netcanvas} [-o OUT]`.

FILE is a NetCanvas network (.json / .ncv) or an ONNX model (.onnx, imported first, so
`export model.onnx --format netcanvas -o model.ncv` turns it into a NetCanvas file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.failures import check_output
from engine.examples import output_base, resolve_network_file
from engine.export import EXPORT_FORMATS, default_output, export_network, import_onnx
from engine.export.untrained import untrained_warning


def add_export_parser(commands: argparse._SubParsersAction) -> None:
    """Register the `export` subcommand on the CLI's subparsers."""
    export = commands.add_parser("export", help="export a network to ONNX, PyTorch or a NumPy script")
    export.add_argument(
        "file", help="a .json or .ncv network file, an example's name, or an .onnx model to import"
    )
    export.add_argument(
        "--format",
        required=True,
        choices=list(EXPORT_FORMATS),
        help="; ".join(f"{f.name}: {f.description}" for f in EXPORT_FORMATS.values()),
    )
    export.add_argument(
        "-o",
        "--output",
        help="file (onnx, python, netcanvas) or folder (pytorch) to write; default: next to FILE",
    )


def run_export(args: argparse.Namespace) -> int:
    """Export and print the files written; errors propagate to run_cli (one line, exit 1)."""
    import engine

    source = resolve_network_file(args.file)
    output = Path(args.output) if args.output else default_output(output_base(source), args.format)
    if not EXPORT_FORMATS[args.format].is_folder:
        check_output(output, "-o")
    network = import_onnx(source) if source.suffix.lower() == ".onnx" else engine.load(source)
    warning = untrained_warning(network)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    written = export_network(network, args.format, output, source_path=source)
    print(f"exported {args.format}: " + ", ".join(str(p) for p in written))
    return 0
