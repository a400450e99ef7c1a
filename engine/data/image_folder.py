"""A folder of PNG images, one sub-folder per class (`cats/1.png`, `dogs/7.png`), read with Pillow.

Class ids follow the sub-folders' names in sorted order. Every image is opened through
`files.open_data_file` (a regular file of at most `MAX_PNG_BYTES`), and read in two passes:
the first reads only each file's header (its size and colour mode), so a folder with too many
files, an image of another size, or a picture of 30,000 x 30,000 pixels (a decompression bomb:
a few kilobytes that unpack to gigabytes) is refused before any pixel is decoded or the array
allocated; the second decodes the pixels into one array.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.dataset import Dataset, check_dtype
from engine.data.files import clip, open_data_file, size_text
from engine.errors import DataError

MAX_IMAGE_FILES = 70_000  # MNIST's 70,000 digits as PNG files fit
MAX_PNG_BYTES = 64 << 20  # 64 MiB a file
MAX_IMAGE_PIXELS = 1 << 24  # 16.7 million pixels an image (4096 x 4096)
MAX_IMAGE_SET_BYTES = 2 << 30  # 2 GiB for the decoded float array of the whole set
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L")  # one channel (alpha dropped)


@dataclass(frozen=True)
class _Header:
    path: Path
    size: tuple[int, int]  # (width, height), as Pillow gives it
    gray: bool


def _class_folders(folder: Path) -> list[Path]:
    """The class sub-folders, sorted by name (names starting with '.' left out)."""
    try:
        entries = sorted(
            (entry for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith(".")),
            key=lambda entry: entry.name,
        )
    except FileNotFoundError:
        raise DataError(f"image folder not found: {folder}") from None
    except NotADirectoryError:
        raise DataError(
            f"{folder}: not a folder; expected a folder with one sub-folder of PNG images per class"
        ) from None
    except OSError as exc:
        raise DataError(f"{folder}: cannot read the image folder ({exc.strerror or exc})") from None
    return [Path(entry.path) for entry in entries]


def _png_files(folder: Path) -> list[tuple[Path, int]]:
    """(file, class id) for every .png file of every class folder; DataError past
    MAX_IMAGE_FILES files (counted while listing, so a huge folder is not listed to its end)."""
    classes = _class_folders(folder)
    files: list[tuple[Path, int]] = []
    for class_id, class_folder in enumerate(classes):
        try:
            names = os.scandir(class_folder)
        except OSError as exc:
            raise DataError(f"{class_folder}: cannot read the class folder ({exc.strerror or exc})") from None
        with names:
            for entry in names:
                if entry.name.lower().endswith(".png") and not entry.name.startswith("."):
                    files.append((Path(entry.path), class_id))
                    if len(files) > MAX_IMAGE_FILES:
                        raise DataError(
                            f"{folder}: more than {MAX_IMAGE_FILES:,} PNG files; an image folder may "
                            f"hold at most {MAX_IMAGE_FILES:,} (use an NPZ archive for more)"
                        )
    counts = np.bincount([c for _, c in files], minlength=len(classes)) if classes else []
    with_images = [c.name for c, count in zip(classes, counts, strict=True) if count]
    if len(with_images) < 2:
        found = ", ".join(with_images) or "none"
        raise DataError(
            f"{folder}: expected one sub-folder of PNG images per class, at least two classes; "
            f"found sub-folders with PNG images: {clip(found)}"
        )
    empty = [c.name for c, count in zip(classes, counts, strict=True) if not count]
    if empty:
        raise DataError(f"{folder}: class folder(s) without PNG images: {clip(', '.join(empty))}")
    return sorted(files, key=lambda item: (item[1], item[0].name))


def _open(path: Path) -> tuple[Image.Image, io.BufferedReader]:
    """The image (header read, pixels not yet decoded) and its open file."""
    handle = open_data_file(path, "PNG", MAX_PNG_BYTES)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(handle, formats=["PNG"])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        handle.close()
        raise DataError(
            f"{path}: too many pixels ({clip(str(exc))}); an image may have at most {MAX_IMAGE_PIXELS:,}"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        handle.close()
        raise DataError(f"{path}: not a readable PNG image ({clip(str(exc))})") from None
    except BaseException:
        handle.close()
        raise
    return image, handle


def _header(path: Path, first: _Header | None) -> _Header:
    image, handle = _open(path)
    with handle, image:
        width, height = image.size
        header = _Header(path, (width, height), image.mode in GRAY_MODES)
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(
            f"{path}: {width} x {height} pixels; an image may have at most {MAX_IMAGE_PIXELS:,} pixels"
        )
    if first is not None and header.size != first.size:
        raise DataError(
            f"{path}: {width} x {height} pixels, but {first.path} is {first.size[0]} x {first.size[1]}: "
            "all images must be one size"
        )
    return header


def _pixels(header: _Header, channels: int) -> np.ndarray:
    """One image decoded as float64 (channels, height, width) in [0, 1]."""
    image, handle = _open(header.path)
    with handle, image:
        try:
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grayscale
                values = np.asarray(image, dtype=np.float64) / 65535.0
            else:
                values = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float64) / 255.0
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"{header.path}: damaged PNG image ({clip(str(exc))})") from None
    values = values[None] if values.ndim == 2 else values.transpose(2, 0, 1)
    if len(values) != channels:  # a grayscale image in a colour set
        values = np.repeat(values, channels, axis=0)
    return values


def load_image_folder(folder: str | Path, dtype: str = "float32") -> Dataset:
    """x (N, C, H, W) in [0, 1] and y (N,) class ids from a folder of PNG files in one sub-folder
    per class (class names: the sub-folders' names, sorted). C is 1 when every image is grayscale,
    else 3 (RGB; an alpha channel is dropped, grayscale images are repeated into the three).
    Every image must have the same width and height. Files not ending in .png and names starting
    with '.' are ignored. DataError naming the file or folder when any of this does not hold, or
    a limit is passed (see the module's constants)."""
    folder = Path(folder)
    resolved_dtype = check_dtype(dtype)
    files = _png_files(folder)
    headers: list[_Header] = []
    for path, _class_id in files:
        headers.append(_header(path, headers[0] if headers else None))
    channels = 1 if all(h.gray for h in headers) else 3
    width, height = headers[0].size
    needed = len(files) * channels * height * width * resolved_dtype.itemsize
    if needed > MAX_IMAGE_SET_BYTES:
        raise DataError(
            f"{folder}: {len(files):,} images of {channels} x {height} x {width} need "
            f"{size_text(needed)} as {resolved_dtype}; an image folder may need at most "
            f"{size_text(MAX_IMAGE_SET_BYTES)}"
        )
    x = np.empty((len(files), channels, height, width), dtype=resolved_dtype)
    for row, header in enumerate(headers):
        x[row] = _pixels(header, channels)
    classes = sorted({path.parent.name for path, _ in files})
    return Dataset(
        x=x,
        y=np.array([class_id for _, class_id in files], dtype=np.int64),
        task="classification",
        n_classes=len(classes),
        name=folder.name,
        class_names=classes,
    )
