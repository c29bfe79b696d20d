"""A weights publisher on 127.0.0.1 for the download tests: an HTTP server for a folder's files, a stopped one
(offline), an empty torch.hub cache, and files saved under torchvision's ``<stem>-<sha256 prefix>.pth`` names.
No test reaches beyond this machine."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import torch

from aitl_reid.models import PRETRAINED_DIR_ENV
from aitl_reid.models.weights_download import MIRROR_ENV


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(folder) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 for the files of ``folder``; yields its base address and stops on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def stopped_server_address(tmp_path) -> str:
    """The address of a server that has stopped: connecting to it is refused, as offline."""
    with serving(tmp_path) as address:
        pass
    return address


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty torch.hub cache under ``$TORCH_HOME``; no local weights folder, no mirror."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(PRETRAINED_DIR_ENV, raising=False)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def served(tmp_path) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    return folder


def cache_files(cache) -> List[str]:
    return sorted(os.listdir(cache)) if cache.exists() else []


def save_with_sha256_name(state, folder, stem) -> Tuple[Path, str]:
    """``state`` saved as ``<stem>-<first 8 hex digits of its sha256>.pth``, torchvision's naming."""
    tmp = folder / "tmp.pth"
    torch.save(state, tmp)
    prefix = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    path = folder / f"{stem}-{prefix}.pth"
    tmp.rename(path)
    return path, prefix
