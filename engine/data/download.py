"""MNIST and Fashion-MNIST in the user's data cache: where they live, and their download.

`pooch` fetches each file into a temporary file in the cache folder, checks its SHA-256 and only
then renames it into place, so a corrupted, interrupted or cancelled download leaves nothing
behind (`ensure` also sweeps up any temporary file a crash may have left).

- The cache folder: `$NETCANVAS_DATA_DIR`, else `platformdirs.user_cache_dir("netcanvas")`; each
  set in its own sub-folder (`<cache>/mnist/`, `<cache>/fashion_mnist/`).
- The source: the set's public mirrors in order, or one mirror given as `mirror=` or
  `$NETCANVAS_DATA_MIRROR`, laid out as `<mirror>/<set name>/<file>` (e.g. a local
  `python -m http.server` serving a folder that holds `mnist/`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DataError

MIRROR_ENV = "NETCANVAS_DATA_MIRROR"
CACHE_ENV = "NETCANVAS_DATA_DIR"
CHUNK_BYTES = 64 * 1024
TIMEOUT_SECONDS = 30

# progress(bytes done, bytes in all): called from the downloading thread
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RemoteSet:
    """A public data set of four files: their SHA-256 and sizes, and where to fetch them."""

    name: str
    title: str
    mirrors: tuple[str, ...]
    files: dict[str, tuple[str, int]]  # file name -> (SHA-256, size in bytes)

    @property
    def size(self) -> int:
        return sum(size for _sha, size in self.files.values())


REMOTE_SETS = {
    "mnist": RemoteSet(
        "mnist",
        "MNIST",
        (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        {
            "train-images-idx3-ubyte.gz": (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                9912422,
            ),
            "train-labels-idx1-ubyte.gz": (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                28881,
            ),
            "t10k-images-idx3-ubyte.gz": (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                1648877,
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                4542,
            ),
        },
    ),
    "fashion_mnist": RemoteSet(
        "fashion_mnist",
        "Fashion-MNIST",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte.gz": (
                "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
                26421880,
            ),
            "train-labels-idx1-ubyte.gz": (
                "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
                29515,
            ),
            "t10k-images-idx3-ubyte.gz": (
                "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
                4422102,
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
                5148,
            ),
        },
    ),
}


class DownloadCancelled(DataError):
    """The download was cancelled; nothing of the unfinished file is left in the cache."""


class NotDownloaded(DataError):
    """The set is not in the cache yet and the caller did not ask for a download."""


def remote_set(name: str) -> RemoteSet:
    if name not in REMOTE_SETS:
        raise DataError(f"no downloadable data set {name!r}; known: {', '.join(REMOTE_SETS)}")
    return REMOTE_SETS[name]


def cache_root() -> Path:
    """`$NETCANVAS_DATA_DIR`, else the user's cache folder for NetCanvas."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("netcanvas"))


def set_folder(name: str, root: str | Path | None = None) -> Path:
    """Where set `name` lives in the cache (`root` defaults to `cache_root()`)."""
    remote_set(name)
    return (Path(root) if root is not None else cache_root()) / name


def missing_files(name: str, root: str | Path | None = None) -> list[str]:
    """The set's files not yet in the cache (a quick look: sizes are checked, not hashes)."""
    folder = set_folder(name, root)
    return [
        file
        for file, (_sha, size) in remote_set(name).files.items()
        if not (folder / file).is_file() or (folder / file).stat().st_size != size
    ]


def is_downloaded(name: str, root: str | Path | None = None) -> bool:
    return not missing_files(name, root)


def mirror_urls(name: str, mirror: str | None = None) -> list[str]:
    """The base URLs to try in order: `mirror` or `$NETCANVAS_DATA_MIRROR` alone, else the
    set's public mirrors."""
    chosen = mirror or os.environ.get(MIRROR_ENV)
    if chosen:
        return [f"{chosen.rstrip('/')}/{name}/"]
    return list(remote_set(name).mirrors)


class _Meter:
    """The progress-bar object pooch's HTTPDownloader drives (tqdm's `total`, `update`,
    `reset`, `close`): adds the file's bytes to the whole set's count, and raises
    DownloadCancelled from inside the download when `cancel` is set."""

    def __init__(
        self, done_before: int, grand_total: int, progress: Progress | None, cancel: threading.Event | None
    ):
        self.total = 0
        self.count = 0
        self.done_before, self.grand_total = done_before, grand_total
        self.progress, self.cancel = progress, cancel

    def update(self, n: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadCancelled("download cancelled")
        self.count = min(self.count + n, self.total) if self.total else self.count + n
        if self.progress is not None:
            self.progress(min(self.done_before + self.count, self.grand_total), self.grand_total)

    def reset(self) -> None:
        self.count = 0

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """pooch logs every download at INFO level on its own handler: keep it to warnings."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _sweep_temporaries(folder: Path) -> None:
    """Remove temporary files an interrupted process left behind (pooch names them tmp*)."""
    if folder.is_dir():
        for path in folder.glob("tmp*"):
            with contextlib.suppress(OSError):
                path.unlink()


def _fetch(url: str, sha: str, folder: Path, file: str, meter: _Meter) -> None:
    import pooch
    import requests

    downloader = pooch.HTTPDownloader(progressbar=meter, chunk_size=CHUNK_BYTES, timeout=TIMEOUT_SECONDS)
    try:
        pooch.retrieve(url + file, known_hash=f"sha256:{sha}", fname=file, path=folder, downloader=downloader)
    except DownloadCancelled:
        raise
    except ValueError as exc:  # pooch: the SHA-256 of what arrived is not the known one
        raise DataError(
            f"{url}{file}: the downloaded file is damaged (its SHA-256 does not match "
            f"the published one); nothing was kept. Try again later. ({exc})"
        ) from None
    except requests.RequestException as exc:
        raise DataError(
            f"{url}{file}: download failed ({type(exc).__name__}: {exc}); nothing was kept"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot write {folder / file}: {exc}") from None


def download(
    name: str,
    root: str | Path | None = None,
    mirror: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Fetch the set's missing files into the cache and return its folder.

    Files already there with the right size are kept. `progress(done, total)` reports bytes
    over the whole set; setting `cancel` stops the download within one chunk (DownloadCancelled).
    A failed, damaged (SHA-256 mismatch) or cancelled file leaves nothing in the cache; each
    file is tried from every mirror in turn and the last mirror's error is raised (DataError).
    """
    remote = remote_set(name)
    folder = set_folder(name, root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data cache folder {folder}: {exc}") from None
    _sweep_temporaries(folder)
    missing = missing_files(name, root)
    grand_total = sum(remote.files[f][1] for f in missing)
    done = 0
    with _quiet_pooch():
        for file in missing:
            sha, size = remote.files[file]
            with contextlib.suppress(FileNotFoundError):
                (folder / file).unlink()  # a wrong-size leftover: fetch it again
            error: DataError | None = None
            for url in mirror_urls(name, mirror):
                try:
                    _fetch(url, sha, folder, file, _Meter(done, grand_total, progress, cancel))
                except DownloadCancelled:
                    _sweep_temporaries(folder)
                    raise
                except DataError as exc:
                    error = exc
                    continue
                error = None
                break
            _sweep_temporaries(folder)
            if error is not None:
                raise error
            done += size
            if progress is not None:
                progress(done, grand_total)
    return folder


def ensure(
    name: str,
    download_missing: bool = False,
    root: str | Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """The set's cache folder with all four files; downloads them when `download_missing`,
    else raises NotDownloaded saying how to get them."""
    if is_downloaded(name, root):
        return set_folder(name, root)
    if download_missing:
        return download(name, root=root, progress=progress)
    remote = remote_set(name)
    raise NotDownloaded(
        f"{remote.title} is not downloaded yet ({remote.size / 1e6:.0f} MB into {set_folder(name, root)}): "
        f"download it in the Data tab, or train once with `--data {name}` on the command line"
    )
