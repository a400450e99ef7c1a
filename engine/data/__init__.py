"""Data for training: synthetic sets (registered in `engine.registry.DATASETS`), MNIST and
Fashion-MNIST (IDX files, downloaded into the user's data cache), CSV and NPZ files, folders of
PNG images (one sub-folder per class), the `Dataset` container with its split, and the
`Standardizer`.

Importing this package registers the synthetic sets. See docs/data.md.
"""

from engine.data import synthetic  # noqa: F401  (registers the synthetic sets in DATASETS)
from engine.data.csv_source import load_csv
from engine.data.dataset import Dataset, Standardizer
from engine.data.download import DownloadCancelled, NotDownloaded, download, is_downloaded
from engine.data.idx import load_fashion_mnist, load_mnist, read_idx
from engine.data.image_folder import load_image_folder
from engine.data.npz_source import load_npz
from engine.data.sources import load_data, parse_data_argument, source_names

__all__ = [
    "Dataset",
    "DownloadCancelled",
    "NotDownloaded",
    "Standardizer",
    "download",
    "is_downloaded",
    "load_csv",
    "load_data",
    "load_fashion_mnist",
    "load_image_folder",
    "load_mnist",
    "load_npz",
    "parse_data_argument",
    "read_idx",
    "source_names",
]
