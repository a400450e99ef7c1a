"""CSV tables: a header row, numeric feature columns and one target column.

Errors name the file, the line (1-based, as a text editor counts, the line where the record
starts), the column and the offending value (at most 80 characters of it: `files.excerpt`).
The file is opened by `files.open_data_file`: a regular file of at most 1 GiB.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from engine.data.dataset import Dataset, Standardizer, check_dtype, split_indices
from engine.data.files import MAX_CSV_BYTES, clip, excerpt, open_data_file
from engine.errors import ConfigError, DataError

CSV_TASKS = ("auto", "classification", "regression")
MAX_AUTO_CLASSES = 20  # whole-number targets with at most this many distinct values are classes
SNIFF_CHARS = 1 << 16  # the start of the header line that chooses the delimiter


def _delimiter(first_line: str) -> str:
    """',' unless the header clearly uses ';' or a tab instead (as some spreadsheets write)."""
    if "," not in first_line:
        for candidate in (";", "\t"):
            if candidate in first_line:
                return candidate
    return ","


def _read_records(path: Path) -> tuple[list[str], list[int], list[list[str]]]:
    """(header, line numbers, rows) with blank rows skipped; every row has the header's length."""
    name = path.name
    try:
        with io.TextIOWrapper(open_data_file(path, "CSV", MAX_CSV_BYTES), "utf-8-sig", newline="") as handle:
            first = handle.readline(SNIFF_CHARS)
            handle.seek(0)
            reader = csv.reader(handle, delimiter=_delimiter(first))
            header: list[str] | None = None
            lines: list[int] = []
            rows: list[list[str]] = []
            line = 1
            try:
                for row in reader:
                    start, line = line, reader.line_num + 1
                    if not any(cell.strip() for cell in row):
                        continue
                    if header is None:
                        header = [cell.strip() for cell in row]
                        continue
                    if len(row) != len(header):
                        raise DataError(
                            f"{name} line {start}: expected {len(header)} values as in the "
                            f"header, got {len(row)}"
                        )
                    lines.append(start)
                    rows.append(row)
            except csv.Error as exc:
                raise DataError(f"{name} line {reader.line_num}: unreadable CSV ({excerpt(exc)})") from None
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text; save the table as 'CSV UTF-8'") from None
    if header is None:
        raise DataError(f"{name} is empty: expected a header row and data rows")
    if not rows:
        raise DataError(f"{name} has a header row but no data rows")
    _check_header(header, name)
    return header, lines, rows


def _check_header(header: list[str], name: str) -> None:
    for index, column in enumerate(header):
        if not column:
            raise DataError(f"{name} line 1: column {index + 1} has no name in the header")
        if header.index(column) != index:
            raise DataError(f"{name} line 1: column name {excerpt(column)} appears twice in the header")


def _columns(
    header: list[str], target: str | None, features: list[str] | None, name: str
) -> tuple[int, list[int]]:
    """Indices of the target column and of the feature columns."""
    available = clip(", ".join(header))
    if target is None:
        target = header[-1]
    if not isinstance(target, str):
        raise ConfigError(f"{name}: target must be a column name, got {excerpt(target)}")
    if target not in header:
        raise DataError(f"{name}: no target column {excerpt(target)}; the columns are: {available}")
    if features is None:
        features = [column for column in header if column != target]
    if not isinstance(features, (list, tuple)) or not all(isinstance(f, str) for f in features):
        raise ConfigError(f"{name}: features must be a list of column names, got {excerpt(features)}")
    unknown = [f for f in features if f not in header]
    if unknown:
        raise DataError(
            f"{name}: no feature column(s) {clip(', '.join(unknown))}; the columns are: {available}"
        )
    if target in features:
        raise DataError(f"{name}: column {excerpt(target)} cannot be both the target and a feature")
    if len(set(features)) != len(features):
        raise DataError(f"{name}: a feature column is listed twice in {excerpt(list(features))}")
    if not features:
        raise DataError(f"{name}: no feature columns (only the target {excerpt(target)})")
    return header.index(target), [header.index(f) for f in features]


def _cell_error(name: str, line: int, column: str, value: str, expected: str = "a number") -> DataError:
    where = f"{name} line {line}, column {excerpt(column)}"
    if not value.strip():
        return DataError(f"{where}: empty cell (expected {expected})")
    return DataError(f"{where}: expected {expected}, got {excerpt(value)}")


def _features(
    rows: list[list[str]], lines: list[int], indices: list[int], header: list[str], name: str
) -> np.ndarray:
    """(N, F) float64 from the feature cells; the first bad cell in file order is reported."""
    x = np.empty((len(rows), len(indices)), dtype=np.float64)
    for r, row in enumerate(rows):
        try:
            x[r] = [float(row[j]) for j in indices]
        except ValueError:
            for j in indices:
                try:
                    float(row[j])
                except ValueError:
                    raise _cell_error(name, lines[r], header[j], row[j]) from None
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        r, c = bad[0]
        raise _cell_error(name, lines[r], header[indices[c]], rows[r][indices[c]], "a finite number")
    return x


def _as_number(text: str, kind: type) -> float | int | None:
    try:
        return kind(text)
    except ValueError:
        return None


def _target(
    values: list[str], lines: list[int], column: str, task: str, name: str
) -> tuple[str, np.ndarray, list[str] | None]:
    """(task, y, class_names): y (N,) int64 class ids or (N, 1) float64 values."""
    numbers = [_as_number(v, float) for v in values]
    for value, number, line in zip(values, numbers, lines, strict=True):
        if not value:
            raise _cell_error(name, line, column, value, "a target value")
        if task == "regression" and (number is None or not math.isfinite(number)):
            raise _cell_error(name, line, column, value, "a finite number (regression target)")
    numeric = all(number is not None for number in numbers)
    if task == "auto":
        integers = numeric and all(_as_number(v, int) is not None for v in values)
        few = integers and len(set(numbers)) <= MAX_AUTO_CLASSES
        task = "classification" if (few or not numeric) else "regression"
        if task == "regression" and not all(math.isfinite(n) for n in numbers):
            line, value = next(
                (ln, v) for ln, v, n in zip(lines, values, numbers, strict=True) if not math.isfinite(n)
            )
            raise _cell_error(name, line, column, value, "a finite number (regression target)")
    if task == "regression":
        return task, np.asarray(numbers, dtype=np.float64).reshape(-1, 1), None
    if numeric:  # numeric labels sort as numbers (2 before 10); names keep the written text
        keys = sorted(set(numbers))
        names = {}
        for value, number in zip(values, numbers, strict=True):
            names.setdefault(number, value)
        ids = {key: i for i, key in enumerate(keys)}
        return task, np.array([ids[n] for n in numbers], dtype=np.int64), [names[k] for k in keys]
    class_names = sorted(set(values))
    ids = {label: i for i, label in enumerate(class_names)}
    return task, np.array([ids[v] for v in values], dtype=np.int64), class_names


def load_csv(
    path: str | Path,
    target: str | None = None,
    features: list[str] | None = None,
    task: str = "auto",
    standardize: bool = True,
    *,
    val_split: float = 0.0,
    seed: int = 0,
    dtype: str = "float32",
) -> Dataset:
    """A table with a header row -> Dataset with x (N, F) and y.

    target: the target column's name (default: the last column). features: the feature columns
    (default: all others); their cells must be finite numbers. task "auto": text labels or whole
    numbers with at most 20 distinct values -> classification (class ids in sorted order,
    `class_names` the labels as written), anything else numeric -> regression with y (N, 1).
    standardize: attach a Standardizer fitted on the training rows of `split(val_split, seed)`
    (all rows when val_split is 0); `x` itself stays raw.
    """
    path = Path(path)
    if task not in CSV_TASKS:
        raise ConfigError(f"{path.name}: task must be one of {', '.join(CSV_TASKS)}; got {excerpt(task)}")
    if not isinstance(standardize, bool):
        raise ConfigError(f"{path.name}: standardize expects true or false, got {excerpt(standardize)}")
    resolved_dtype = check_dtype(dtype)
    header, lines, rows = _read_records(path)
    target_index, feature_indices = _columns(header, target, features, path.name)
    x = _features(rows, lines, feature_indices, header, path.name)
    values = [row[target_index].strip() for row in rows]
    task, y, class_names = _target(values, lines, header[target_index], task, path.name)
    scaler = None
    if standardize:
        train = split_indices(len(x), val_split, seed)[0] if val_split else slice(None)
        scaler = Standardizer.fit(x[train])
    dataset = Dataset(
        x=x,
        y=y,
        task=task,
        n_classes=len(class_names) if class_names is not None else None,
        name=path.stem,
        feature_names=[header[j] for j in feature_indices],
        class_names=class_names,
        scaler=scaler,
    )
    return dataset.astype(resolved_dtype)
