"""Data paths named by a network file: resolved relative to the file, only regular files within a
size limit are read, and messages quote at most 80 characters of what a file holds."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.data import idx as idx_module
from engine.data import load_data, load_npz, read_idx
from engine.data.files import MAX_CSV_BYTES, MAX_IDX_BYTES, MAX_NPZ_BYTES, QUOTE_CHARS
from engine.data.sources import reads_outside
from engine.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
TABLE = "a,b,label\n0.1,0.2,x\n0.3,0.4,y\n0.5,0.6,x\n"


def csv_config(path: str) -> dict:
    return {"source": "csv", "path": path}


# ------------------------------------------------------------ where a path points
def test_a_relative_path_is_relative_to_the_network_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "nets"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "t.csv").write_text(TABLE)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "data" / "t.csv").write_text("a,label\n9,z\n")  # a different table
    monkeypatch.chdir(elsewhere)
    data = load_data(csv_config("data/t.csv"), base_dir=folder)
    assert len(data) == 3 and data.feature_names == ["a", "b"]


def test_reads_outside_names_only_data_beyond_the_folder_and_the_cache(tmp_path, monkeypatch):
    folder, cache, other = tmp_path / "nets", tmp_path / "cache", tmp_path / "other"
    for place in (folder / "sub", cache / "mnist", other):
        place.mkdir(parents=True)
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(cache))
    assert reads_outside(csv_config("t.csv"), folder) is None
    assert reads_outside(csv_config("sub/../t.csv"), folder) is None
    assert reads_outside({"source": "mnist", "path": str(cache / "mnist")}, folder) is None
    assert reads_outside({"source": "mnist"}, folder) is None  # the data cache itself
    assert reads_outside({"source": "xor", "n": 100}, folder) is None
    assert reads_outside(csv_config("../other/t.csv"), folder) == (other / "t.csv").resolve()
    assert reads_outside(csv_config("/dev/zero"), folder) == Path("/dev/zero").resolve()
    assert reads_outside({"source": "npz", "path": "~/x.npz"}, folder) == (Path.home() / "x.npz").resolve()
    if hasattr(os, "symlink"):  # a link in the folder that leads out of it points outside
        (folder / "link.csv").symlink_to(other / "t.csv")
        assert reads_outside(csv_config("link.csv"), folder) == (other / "t.csv").resolve()


def test_unusable_path_values_are_config_errors(tmp_path):
    for value in ("", 5, None, "a\0b", "x" * 5000, "~nobody-such-user-here/x.csv"):
        with pytest.raises(ConfigError) as caught:
            load_data(csv_config(value), base_dir=tmp_path)
        assert len(str(caught.value)) < 200


# ------------------------------------------------------------ what is not read
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_refused_by_every_loader(tmp_path):
    for load in (
        lambda: load_data(csv_config("/dev/zero"), base_dir=tmp_path),
        lambda: load_npz("/dev/zero"),
        lambda: read_idx("/dev/zero"),
    ):
        with pytest.raises(DataError, match="/dev/zero: not a regular file"):
            load()
    if hasattr(os, "symlink"):  # also behind a harmless-looking name in the folder
        (tmp_path / "data.csv").symlink_to("/dev/zero")
        with pytest.raises(DataError, match="not a regular file"):
            load_data(csv_config("data.csv"), base_dir=tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            load_data(csv_config("data.csv"), base_dir=tmp_path)
        except BaseException as exc:  # noqa: BLE001 (the outcome is asserted below)
            outcome.append(exc)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(30)  # (a safety net, not a timing: a refused FIFO returns at once)
    if reader.is_alive():  # still blocked in open(): release it, then fail
        with open(fifo, "w"):
            pass
        reader.join()
        pytest.fail("opening the FIFO waited for a writer")
    assert isinstance(outcome[0], DataError) and "not a regular file" in str(outcome[0])


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_cli_train_on_dev_zero_fails_at_once_with_one_line():
    example = REPO / "resources" / "examples" / "xor.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "train", str(example), "--data", "csv:/dev/zero"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: /dev/zero: not a regular file (a device, pipe or socket), expected a CSV file"
    ]


@pytest.mark.parametrize(
    "name, limit, load",
    [
        ("big.csv", MAX_CSV_BYTES, lambda path: load_data(csv_config(str(path)))),
        ("big.npz", MAX_NPZ_BYTES, load_npz),
        ("big-idx3-ubyte", MAX_IDX_BYTES, read_idx),
    ],
)
def test_a_file_beyond_the_size_limit_is_refused_with_its_size(tmp_path, name, limit, load):
    path = tmp_path / name
    with open(path, "wb") as handle:
        handle.truncate(limit + 1)  # sparse: nothing is written
    with pytest.raises(DataError, match=f"{name}: too large: {limit + 1:,} bytes"):
        load(path)


def test_gzip_idx_data_is_unpacked_no_further_than_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(idx_module, "MAX_IDX_BYTES", 4096)
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 1, 0, 0]) + bytes(65536)))
    with pytest.raises(DataError, match="unpacks to more than the 4 KiB limit"):
        read_idx(path)


def test_an_npz_array_header_claiming_more_than_its_data_is_refused_before_allocation(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (1 << 42,)}
    )
    path = tmp_path / "claims.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(80))
        archive.writestr("y.npy", header.getvalue())
    with pytest.raises(DataError, match=r"array 'x' is damaged: its header says shape \(4398046511104,\)"):
        load_npz(path)


# ------------------------------------------------------------ what messages quote
def quoted_run(message: str, text: str) -> int:
    """The longest piece of `text` that `message` repeats."""
    best = 0
    for start in range(len(text)):
        low, high = best, len(text) - start
        while low < high:  # the longest text[start:start+n] in message, by bisection on n
            mid = (low + high + 1) // 2
            if text[start : start + mid] in message:
                low = mid
            else:
                high = mid - 1
        best = max(best, low)
    return best


def test_a_shell_profile_read_as_csv_is_quoted_at_most_80_characters(tmp_path):
    first = "# ~/.bashrc: executed by bash(1) for non-login shells. " + "See /usr/share/doc/bash " * 8
    profile = tmp_path / ".bashrc"
    profile.write_text(f"{first}\n\nexport PATH=$HOME/bin:$PATH\nalias ll='ls -l'\n")
    with pytest.raises(DataError) as caught:
        load_data(csv_config(".bashrc"), base_dir=tmp_path)
    message = str(caught.value)
    assert message.startswith(".bashrc") and "…" in message
    assert quoted_run(message, first) <= QUOTE_CHARS


@pytest.mark.parametrize(
    "table, config",
    [
        ("a,label\n" + "1" * 3000 + "x,y\n", {}),  # a long bad cell
        (
            ",".join(f"column_{i}_" + "w" * 40 for i in range(50)) + "\n" + ",".join("1" * 50) + "\n",
            {"target": "t"},
        ),
        ("a,label\n1,x\n", {"target": "missing-" + "q" * 500}),
        ("a,label\n1,x\n", {"features": ["f" * 500, "g" * 500]}),
    ],
    ids=["long cell", "long column names", "long target name", "long feature names"],
)
def test_csv_messages_quote_at_most_80_characters_of_a_value(tmp_path, table, config):
    (tmp_path / "t.csv").write_text(table)
    with pytest.raises(DataError) as caught:
        load_data({**csv_config("t.csv"), **config}, base_dir=tmp_path)
    message = str(caught.value)
    longest = max((table, *map(str, config.values())), key=len)
    assert quoted_run(message, longest) <= QUOTE_CHARS
    assert len(message) < 300
