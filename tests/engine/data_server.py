"""A local HTTP mirror of the downloadable data sets for tests (127.0.0.1 only, no internet).

It serves `<root>/<set>/<file>` like the real mirror layout; `damage` makes it send a corrupted
copy of a file (same size, other bytes), cut the connection half-way through one, or send it
slowly.
"""

from __future__ import annotations

import contextlib
import http.server
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MNIST_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"


def require_mnist() -> Path:
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the real MNIST files are not at {MNIST_DIR}")
    return MNIST_DIR


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server: MirrorServer = self.server  # type: ignore[assignment]
        server.requests.append(self.path)
        kind = server.damage.get(self.path.lstrip("/"))
        if kind is None:
            return super().do_GET()
        body = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "corrupt":
            self.wfile.write(bytes(b ^ 0xFF for b in body[:64]) + body[64:])
        elif kind == "slow":  # ~20 chunks a second: time to press Cancel
            for start in range(0, len(body), 64 * 1024):
                self.wfile.write(body[start : start + 64 * 1024])
                time.sleep(0.05)
        else:  # "cut": half the promised bytes, then the connection drops
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)


class MirrorServer(http.server.ThreadingHTTPServer):
    damage: dict[str, str]
    requests: list[str]

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a cancelled download hangs up
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


@contextlib.contextmanager
def serve(root: Path) -> Iterator[MirrorServer]:
    """Serve folder `root` on 127.0.0.1 (a free port) while the block runs."""
    handler = lambda *args, **kwargs: _Handler(*args, directory=str(root), **kwargs)  # noqa: E731
    server = MirrorServer(("127.0.0.1", 0), handler)
    server.damage, server.requests = {}, []
    thread = threading.Thread(target=server.serve_forever, name="test data mirror", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def mnist_mirror_root(tmp_path: Path) -> Path:
    """A mirror folder whose `mnist/` is the real MNIST folder (a link, nothing copied)."""
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "mnist").symlink_to(require_mnist(), target_is_directory=True)
    return root
