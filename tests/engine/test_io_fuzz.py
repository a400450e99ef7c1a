"""Fuzzing the network-file reader: any bytes loaded as `.json` or `.ncv` give a network or a
NetworkFileError naming the file, within the time limit; nothing else escapes.

Seeded and repeatable: byte flips, truncations, insertions, zip-structure mutations (headers,
compression methods, flags, sizes, names, members dropped, doubled or replaced) and JSON-structure
mutations over every example, a trained `.ncv` and one with a run; Hypothesis drives the JSON-structure part.
`NETCANVAS_FUZZ_CASES=10000` raises the count of the seeded run (it prints its tally with -s).
"""

from __future__ import annotations

import collections
import copy
import io
import json
import os
import random
import struct
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.errors import NetworkFileError
from engine.runs import record_run
from engine.training.callbacks import History

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
SEEDED_CASES = int(os.environ.get("NETCANVAS_FUZZ_CASES", "2000"))
CASE_SECONDS = 5.0  # the bound for one file
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # doubled members


# ----------------------------------------------------------------- seed files
@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[tuple[str, bytes]]:
    """(suffix, bytes) of every example as `.json` and as `.ncv`, and of a trained `.ncv`."""
    folder = tmp_path_factory.mktemp("seeds")
    found = []
    for path in sorted(EXAMPLES.glob("*.json")):
        found.append((".json", path.read_bytes()))
        engine.save(engine.load(path), folder / f"{path.stem}.ncv")
        found.append((".ncv", (folder / f"{path.stem}.ncv").read_bytes()))
    network = engine.load(EXAMPLES / "tiny_3_5_1.json")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    network.fit(x, (x[:, 0] > 0).astype(np.float32), epochs=3, batch_size=16)
    engine.save(network, folder / "trained.ncv")
    found.append((".ncv", (folder / "trained.ncv").read_bytes()))
    history = network.history  # and with a Run (its runs.json and runs.npz)
    network.runs = [
        record_run([], network.spec, history, History(), network.model.named_weights(), "finished")
    ]
    engine.save(network, folder / "runs.ncv")
    found.append((".ncv", (folder / "runs.ncv").read_bytes()))
    return found


# ------------------------------------------------------------------ mutations
def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        index = rng.randrange(len(out))
        out[index] = out[index] ^ (1 << rng.randrange(8)) if rng.random() < 0.7 else rng.randrange(256)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def splice(rng: random.Random, data: bytes) -> bytes:
    """Insert, delete or repeat a run of bytes."""
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randint(1, 64))
    choice = rng.randrange(3)
    if choice == 0:
        return data[:start] + bytes(rng.randrange(256) for _ in range(end - start)) + data[start:]
    if choice == 1:
        return data[:start] + data[end:]
    return data[:end] + data[start:end] * rng.randint(1, 8) + data[end:]


def mutate_json_value(rng: random.Random, doc: object) -> object:
    """A copy of `doc` with one value somewhere replaced, removed or nested deeper."""
    doc = copy.deepcopy(doc)
    containers = [doc]
    stack = [doc]
    while stack:
        value = stack.pop()
        children = list(value.values()) if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, (dict, list)):
                containers.append(child)
                stack.append(child)
    target = rng.choice(containers)
    keys = list(target) if isinstance(target, dict) else list(range(len(target)))
    if not keys:
        return doc
    key = rng.choice(keys)
    replacement = rng.choice(
        [
            None,
            True,
            0,
            -1,
            1.5,
            10**30,
            float("inf"),
            float("nan"),
            "",
            "x" * 30_000,
            [],
            {},
            [None, None],
            {"type": None},
            2**63,
            -(2**63),
            1e308,
            [[[[[0]]]]],
            "Dense",
            "../../etc",
            "\u0000\udcff"[:1],
            5,
            [1, 2, 3],
            {"shape": [10**9]},
            [10**9],
            json.loads("[" * 90 + "]" * 90),
        ]  # fmt: skip
    )
    if rng.random() < 0.15 and isinstance(target, dict):
        del target[key]
    else:
        target[key] = replacement
    return doc


def json_text(rng: random.Random, doc: object) -> bytes:
    text = json.dumps(doc)
    if rng.random() < 0.1:  # deep nesting, a long number, a NaN literal
        text = rng.choice(
            [
                text[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}",
                text[:-1] + ', "big": ' + "9" * 5000 + "}",
                text.replace('"seed": 0', '"seed": NaN', 1),
            ]
        )
    return text.encode()


def zip_members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def rebuild_zip(rng: random.Random, data: bytes) -> bytes:
    """Re-pack the archive with one member dropped, doubled, renamed or its content mutated."""
    entries = zip_members(data)
    index = rng.randrange(len(entries))
    info, payload = entries[index]
    action = rng.randrange(6)
    if action == 0:
        del entries[index]
    elif action == 1:
        entries.append((info, payload))
    elif action == 2:
        entries[index] = (zipfile.ZipInfo(rng.choice(["network.json", "weights.npz", "x.npy", "é"])), payload)
    elif action == 3 and info.filename.endswith(".json"):
        doc = json.loads(payload)
        entries[index] = (info, json_text(rng, mutate_json_value(rng, doc)))
    elif action == 4 and info.filename.endswith(".npz"):
        entries[index] = (info, rebuild_zip(rng, payload) if rng.random() < 0.5 else flip_bytes(rng, payload))
    else:
        entries[index] = (info, rng.choice([flip_bytes, truncate, splice])(rng, payload) if payload else b"")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])) as archive:
        for item, content in entries:
            archive.writestr(item.filename, content)
    return out.getvalue()


def patch_zip_headers(rng: random.Random, data: bytes) -> bytes:
    """Change a field of a local or central header: method, flags, sizes, name length."""
    out = bytearray(data)
    headers = [(i, 26) for i in _find_all(data, b"PK\x03\x04")] + [
        (i, 28) for i in _find_all(data, b"PK\x01\x02")
    ]
    if not headers:
        return flip_bytes(rng, data)
    offset, name_len_at = rng.choice(headers)
    central = data[offset + 2 : offset + 4] == b"\x01\x02"
    shift = 2 if central else 0  # central headers have "version made by" first
    field, fmt, value = rng.choice(
        [
            (6 + shift, "<H", rng.choice([1, 0x41, 0x800, 0xFFFF])),  # flags: encrypted, UTF-8 name
            (8 + shift, "<H", rng.choice([1, 6, 9, 12, 14, 99])),  # compression method
            (14 + shift, "<I", rng.randrange(2**32)),  # CRC
            (18 + shift, "<I", rng.choice([0, 1, 2**31, 2**32 - 1])),  # compressed size
            (22 + shift, "<I", rng.choice([0, 1, 3 * 2**30, 2**32 - 1])),  # uncompressed size
            (name_len_at, "<H", rng.choice([0, 1, 300, 0xFFFF])),  # name length
        ]
    )
    struct.pack_into(fmt, out, offset + field, value)
    if rng.random() < 0.3:  # and a name byte that is not UTF-8
        name_at = offset + (46 if central else 30)
        if name_at < len(out):
            out[name_at] = 0xFF
    return bytes(out)


def _find_all(data: bytes, needle: bytes) -> list[int]:
    found, start = [], data.find(needle)
    while start != -1:
        found.append(start)
        start = data.find(needle, start + 1)
    return found


def mutate(rng: random.Random, suffix: str, data: bytes) -> tuple[str, bytes]:
    if suffix == ".json":
        if rng.random() < 0.5:
            return suffix, json_text(rng, mutate_json_value(rng, json.loads(data)))
        return suffix, rng.choice([flip_bytes, truncate, splice])(rng, data)
    operation = rng.choice([flip_bytes, truncate, splice, rebuild_zip, rebuild_zip, patch_zip_headers])
    return (rng.choice([".ncv", ".json"]) if rng.random() < 0.05 else suffix), operation(rng, data)


# --------------------------------------------------------------------- checks
def load_outcome(path: Path) -> str:
    """'loaded' or 'refused'; anything else than NetworkFileError propagates and fails the test."""
    started = time.perf_counter()
    try:
        engine.load(path)
        outcome = "loaded"
    except NetworkFileError as exc:
        assert str(exc).startswith(path.name + ":") or str(exc).startswith(path.name + "/"), str(exc)
        assert len(str(exc)) <= 400, str(exc)[:500]
        outcome = "refused"
    seconds = time.perf_counter() - started
    assert seconds < CASE_SECONDS, f"{path.name} took {seconds:.1f} s"
    return outcome


def test_seeded_mutations_give_a_network_or_a_network_file_error(seeds, tmp_path):
    rng = random.Random(19)
    tally: collections.Counter[str] = collections.Counter()
    for case in range(SEEDED_CASES):
        suffix, data = mutate(rng, *rng.choice(seeds))
        path = tmp_path / f"case{case % 50}{suffix}"
        path.write_bytes(data)
        try:
            tally[load_outcome(path)] += 1
        except Exception as exc:
            (tmp_path / f"failing{suffix}").write_bytes(data)
            raise AssertionError(f"case {case}: {type(exc).__name__}: {str(exc)[:300]}") from exc
    print(f"\nfuzzed {SEEDED_CASES} files: {dict(tally)}")
    assert tally["refused"] > SEEDED_CASES // 4  # the mutations do reach the checks


# ------------------------------------------------------- Hypothesis: JSON part
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
KEYS = ["id", "type", "params", "pos", "shape", "units", "activation", "rate", "target_shape", "axis"]


@st.composite
def mutated_documents(draw) -> dict:
    doc = json.loads(
        (EXAMPLES / draw(st.sampled_from(sorted(p.name for p in EXAMPLES.glob("*.json"))))).read_text()
    )
    for _ in range(draw(st.integers(1, 3))):
        section = draw(
            st.sampled_from(["nodes", "edges", "training", "data", "metadata", "preprocessing", "top"])
        )
        value = draw(json_values)
        if section == "top":
            doc[draw(st.sampled_from(["format_version", "nodes", "edges", "training", "preprocessing"]))] = (
                value
            )
        elif section == "nodes" and isinstance(doc["nodes"], list) and doc["nodes"]:
            node = doc["nodes"][draw(st.integers(0, len(doc["nodes"]) - 1))]
            key = draw(st.sampled_from(KEYS))
            if not isinstance(node, dict):
                continue
            if key in KEYS[4:] and isinstance(node.get("params"), dict):
                node["params"][key] = value
            else:
                node[key] = value
        elif section == "edges" and isinstance(doc["edges"], list) and doc["edges"]:
            doc["edges"][draw(st.integers(0, len(doc["edges"]) - 1))] = value
        elif isinstance(doc.get(section), dict) and doc[section] and draw(st.booleans()):
            doc[section][draw(st.sampled_from(sorted(doc[section])))] = value
        else:
            doc[section] = value
    return doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=mutated_documents(), as_archive=st.booleans())
def test_json_structure_mutations_give_a_network_or_a_network_file_error(tmp_path, doc, as_archive):
    text = json.dumps(doc).encode()
    if as_archive:
        path = tmp_path / "net.ncv"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("network.json", text)
            archive.writestr(
                "history.json",
                json.dumps({"epochs": {"loss": doc.get("metadata")}, "steps": doc.get("format")}),
            )
    else:
        path = tmp_path / "net.json"
        path.write_bytes(text)
    load_outcome(path)
