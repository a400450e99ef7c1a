"""The limits a network file must stay within, and the checks that enforce them before anything
large is allocated. Any byte sequence loaded as a network file gives a network or one
`NetworkFileError`, in bounded time and memory; the numbers below are documented in
docs/file-format.md.

The JSON limits bound the memory of the parsed document: json.loads of N bytes of `[{},{},...]`
makes N/3 dicts (~70 bytes each), so 8 MB of JSON costs at most ~200 MB of Python objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import NetworkFileError
from engine.graph import NetworkSpec

MAX_JSON_BYTES = 8 * 1024 * 1024  # a network's JSON document (the .json file or network.json)
MAX_HISTORY_BYTES = (
    8 * 1024 * 1024
)  # history.json in a .ncv (4,096 batch losses and 2,048 values a key take well under 1 MB)
MAX_JSON_DEPTH = 100  # nesting of arrays and objects
MAX_INT_DIGITS = 20  # a whole number in a file (a 64-bit seed has 20 digits)
MAX_NODES = 1_000  # building the graph checks each edge against the others: quadratic
MAX_EDGES = 2_000
NPY_HEADER_BYTES = 64 * 1024  # room for one array's .npy header and its zip entry
QUOTE_CHARS = 80  # at most this much of an offending value appears in a message
MAX_MESSAGE_CHARS = 400


def quote(value: Any) -> str:
    """`repr(value)` cut to QUOTE_CHARS characters (a value from a file can be megabytes)."""
    text = repr(value)
    if len(text) <= QUOTE_CHARS:
        return text
    return f"{text[: QUOTE_CHARS - 1]}… ({len(text):,} characters)"


def clip_message(message: str) -> str:
    """A message from deeper code, with every long quoted value cut to QUOTE_CHARS characters
    (they quote values with repr) and the whole cut to MAX_MESSAGE_CHARS as a last resort."""
    message = message[: 50 * MAX_MESSAGE_CHARS]  # bounds the work of the patterns below
    message = _LONG_QUOTED.sub(lambda m: f"{m.group(0)[: QUOTE_CHARS - 1]}…{m.group(1)}", message)
    message = _LONG_LIST.sub(lambda m: f"{m.group(0)[: QUOTE_CHARS - 1]}…{m.group(0)[-1]}", message)
    message = _LONG_WORD.sub(lambda m: f"{m.group(0)[: QUOTE_CHARS - 1]}…", message)
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return f"{message[: MAX_MESSAGE_CHARS - 40]}… (message cut; {len(message):,} characters)"


_LONG_QUOTED = re.compile(rf"""(['"])(?:(?!\1)[^\\]|\\.){{{QUOTE_CHARS},}}?\1""", re.DOTALL)
_LONG_LIST = re.compile(rf"[\[(][^\[\]()'\"]{{{QUOTE_CHARS},}}[\])]")
_LONG_WORD = re.compile(rf"\S{{{QUOTE_CHARS + 40},}}")


# ---------------------------------------------------------------------- JSON
def parse_json(payload: bytes, where: str) -> dict[str, Any]:
    """The JSON object in `payload`, or NetworkFileError naming `where` and what is wrong."""
    if not payload.strip():
        raise NetworkFileError(f"{where}: the file is empty")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise NetworkFileError(f"{where}: not a text (UTF-8) JSON file") from None
    try:
        doc = json.loads(text, parse_int=_parse_int(where))
    except json.JSONDecodeError as exc:
        raise NetworkFileError(
            f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise NetworkFileError(f"{where}: nested more than {MAX_JSON_DEPTH} levels deep") from None
    if not isinstance(doc, dict):
        raise NetworkFileError(f"{where}: expected a JSON object at the top, got {type(doc).__name__}")
    _check_depth(text, where)
    return doc


def _parse_int(where: str) -> Callable[[str], int]:
    """json.loads' hook for whole numbers: long digit strings are refused before int() runs."""

    def parse(text: str) -> int:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            raise NetworkFileError(
                f"{where}: a whole number of {len(text):,} digits (at most {MAX_INT_DIGITS}): {quote(text)}"
            )
        return int(text)

    return parse


def _check_depth(text: str, where: str) -> None:
    """The deepest nesting of a valid JSON text, counted over its brackets outside strings in
    NumPy (walking millions of parsed containers in Python took seconds)."""
    brackets = _JSON_STRING.sub('""', text).encode("utf-8")
    depth = np.cumsum(_BRACKET_STEP[np.frombuffer(brackets, np.uint8)], dtype=np.int32)
    if depth.size and int(depth.max()) > MAX_JSON_DEPTH:
        raise NetworkFileError(f"{where}: nested more than {MAX_JSON_DEPTH} levels deep")


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET_STEP = np.zeros(256, np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


# ------------------------------------------------------------ network sizes
def check_document_sizes(doc: dict[str, Any], where: str) -> None:
    nodes, edges = doc.get("nodes"), doc.get("edges")
    if isinstance(nodes, list) and len(nodes) > MAX_NODES:
        raise NetworkFileError(f"{where}: {len(nodes):,} nodes; a network has at most {MAX_NODES:,}")
    if isinstance(edges, list) and len(edges) > MAX_EDGES:
        raise NetworkFileError(f"{where}: {len(edges):,} edges; a network has at most {MAX_EDGES:,}")


def check_network_size(spec: NetworkSpec, where: str) -> None:
    """NetworkFileError if a node's samples or the network's parameters pass the graph's limits
    (MAX_SAMPLE_VALUES, MAX_PARAMETERS), found from the shapes alone: a file is refused outright,
    before anything is allocated for it."""
    for problem in spec.infer_shapes().problems:
        if problem.too_large:
            raise NetworkFileError(f"{where}: {problem.message}")
