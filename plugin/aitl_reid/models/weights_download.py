"""Weights on demand (ImageNet backbones, COCO detectors), downloaded and cached the way torchvision and torchreid do it.

Where a backbone's weights come from (:func:`weights_source`):

- torchreid backbones built on a torchvision architecture (ResNet, ResNeXt, ShuffleNetV2, and the
  ResNet-50 variants that torchreid's builders start from ResNet-50's file): torchvision's
  ``IMAGENET1K_V1`` file, the weights torchreid's builders download, under torchvision's current
  name (``resnet50-0676ba61.pth``) and checked against the sha256 prefix in that name, as
  torchvision checks it;
- backbones only torchreid has: the address in torchreid's own table (OSNet's ``pretrained_urls``,
  Google Drive files fetched with gdown and cached as ``<name>_imagenet.pth``, as torchreid does;
  SENet's, Xception's and Inception-ResNet-v2's ``pretrained_settings``), checked by loading the file.

:func:`detection_weights_source` does the same for torchvision's detection models (``aitl-reid-track
--detector``): their ``DEFAULT`` (COCO) file, torchvision's name, its sha256 prefix.

Files live in torch.hub's cache, ``$TORCH_HOME/hub/checkpoints/`` (``~/.cache/torch/hub/checkpoints``
by default): a file there is used without any network, and a file put there by hand is used the
same way. A download goes to a temporary file in that folder, renamed only once checked, so a
failed, cut-off or corrupt download leaves nothing behind.

``$AITL_REID_WEIGHTS_MIRROR``: a base address serving these file names (for instance the
``hub/checkpoints`` folder of a machine with internet behind any HTTP server); when set, every file
is fetched from ``<mirror>/<file name>``, hash-checked the same way.
"""
from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from typing import Dict, Optional
from urllib.parse import urlparse

import torch
import torchvision

from .. import _torchreid
from ..progress import progress_enabled
from .pretrained import PRETRAINED_DIR_ENV, PretrainedWeightsNotFound, read_state_dict

MIRROR_ENV = "AITL_REID_WEIGHTS_MIRROR"
"""Environment variable: base address serving the cache's file names, used instead of the publishers'."""

# torchreid backbone -> the torchvision architecture whose ImageNet file its builder loads. torchreid
# starts resnet50_fc512, the IBN ResNets and PCB from ResNet-50's file (tensors of their own layers
# stay random); it gives ShuffleNetV2 x1.5 and x2.0 no weights, torchvision has them.
TORCHVISION_ARCHITECTURES: Dict[str, str] = {
    "resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50", "resnet101": "resnet101",
    "resnet152": "resnet152", "resnext50_32x4d": "resnext50_32x4d", "resnext101_32x8d": "resnext101_32x8d",
    "resnet50_fc512": "resnet50", "resnet50_ibn_a": "resnet50", "resnet50_ibn_b": "resnet50",
    "pcb_p4": "resnet50", "pcb_p6": "resnet50",
    "shufflenet_v2_x0_5": "shufflenet_v2_x0_5", "shufflenet_v2_x1_0": "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5": "shufflenet_v2_x1_5", "shufflenet_v2_x2_0": "shufflenet_v2_x2_0",
}

# Backbones only torchreid has -> the key of their address in the table of their builder's module
# (OSNet's pretrained_urls; the pretrained_settings of SENet, Xception and Inception-ResNet-v2).
TORCHREID_WEIGHTS_KEYS: Dict[str, str] = {
    **{name: name for name in (
        "osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ibn_x1_0",
        "osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25",
        "se_resnet50", "se_resnet101", "se_resnext50_32x4d", "se_resnext101_32x4d", "inceptionresnetv2", "xception",
    )},
    "se_resnet50_fc512": "se_resnet50",
}


class WeightsDownloadError(PretrainedWeightsNotFound):
    """Weights that are not in the cache could not be downloaded (offline, refused, corrupt)."""


@dataclass(frozen=True)
class WeightsSource:
    """Where a weights file is published and what it is called in the cache.

    ``hash_prefix``: the start of the file's sha256 (torchvision's names carry it), None where the
    publisher gives none. ``via_gdown``: a Google Drive address, which needs gdown's handling of
    Drive's confirmation page.
    """

    url: str
    file_name: str
    hash_prefix: Optional[str] = None
    via_gdown: bool = False

    @property
    def cache_path(self) -> str:
        """The file in torch.hub's cache (``$TORCH_HOME/hub/checkpoints/<file_name>``)."""
        return os.path.join(torch.hub.get_dir(), "checkpoints", self.file_name)

    @property
    def address(self) -> str:
        """The address it is fetched from: ``$AITL_REID_WEIGHTS_MIRROR/<file_name>`` when set, else ``url``."""
        mirror = os.environ.get(MIRROR_ENV, "").strip()
        return f"{mirror.rstrip('/')}/{self.file_name}" if mirror else self.url


PRETRAINED_INSTEAD = ("or point model.pretrained_path to a weights file, or set model.pretrained False to train "
                      "from scratch.")
"""The end of the trainer's download error: what it can do without the file."""


def _torchvision_source(url: str) -> WeightsSource:
    """A torchvision file: its name in the cache is the address's, its sha256 prefix is in that name."""
    file_name = os.path.basename(urlparse(url).path)
    return WeightsSource(url, file_name, hash_prefix=torch.hub.HASH_REGEX.search(file_name).group(1))


def weights_source(backbone: str) -> Optional[WeightsSource]:
    """Where the ImageNet weights of torchreid's ``backbone`` come from; None when nobody publishes a downloadable file."""
    if backbone in TORCHVISION_ARCHITECTURES:
        return _torchvision_source(torchvision.models.get_model_weights(TORCHVISION_ARCHITECTURES[backbone]).IMAGENET1K_V1.url)
    if backbone in TORCHREID_WEIGHTS_KEYS:
        key = TORCHREID_WEIGHTS_KEYS[backbone]
        module = sys.modules[_torchreid.model_factory()[backbone].__module__]
        urls = getattr(module, "pretrained_urls", None)
        if urls is not None:  # Google Drive addresses carry no file name: torchreid caches <key>_imagenet.pth
            return WeightsSource(urls[key], f"{key}_imagenet.pth", via_gdown=True)
        url = module.pretrained_settings[key]["imagenet"]["url"]
        return WeightsSource(url, os.path.basename(urlparse(url).path))
    return None


def fetch_imagenet_weights(backbone: str) -> str:
    """The cached ImageNet weights file of ``backbone``, downloaded first when it is not in the cache.

    Raises :class:`PretrainedWeightsNotFound` when no file is published for ``backbone`` and
    :class:`WeightsDownloadError` when the download fails.
    """
    source = weights_source(backbone)
    if source is None:
        raise PretrainedWeightsNotFound(
            f"pretrained=True for backbone '{backbone}', but neither torchvision nor torchreid publishes "
            "downloadable ImageNet weights for it, so this plugin never downloads them. Provide one of:\n"
            "  - config key model.pretrained_path (or the builder argument pretrained_path=...) pointing to a "
            "weights file (a torchvision .pth or a torchreid checkpoint);\n"
            f"  - environment variable {PRETRAINED_DIR_ENV}=<folder> with the file '<folder>/{backbone}.pth';\n"
            "or build with pretrained=False (model.pretrained False) for random initialisation."
        )
    return fetch(source)


def detection_weights_source(model: str) -> WeightsSource:
    """Where the weights of torchvision's detection ``model`` (e.g. ``fasterrcnn_mobilenet_v3_large_fpn``) come from:
    its ``DEFAULT`` weights (COCO), torchvision's file. Raises ``ValueError`` for a name torchvision does not know."""
    return _torchvision_source(torchvision.models.get_model_weights(model).DEFAULT.url)


def fetch(source: WeightsSource, instead: str = PRETRAINED_INSTEAD) -> str:
    """``source``'s file in the cache, downloaded, checked and moved into place first if absent.

    ``instead``: the last line of the error when the download fails, what the caller can do without the file.
    """
    path = source.cache_path
    if os.path.isfile(path):
        return path
    address = source.address
    partial = f"{path}.{uuid.uuid4().hex}.part"
    print(f'Downloading: "{address}" to {path}', file=sys.stderr)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _download(source, address, partial)
        read_state_dict(partial)  # an HTML error page or a cut-off file is not a state dict
        os.replace(partial, path)
    except ValueError:
        raise _download_error(source, address, "what it sent is not a torch weights file", instead) from None
    except RuntimeError as err:  # torch.hub's hash check
        raise _download_error(source, address, f"the file's sha256 does not match its name ({err})", instead) from None
    except OSError as err:  # offline, refused, HTTP errors (urllib's and requests' are OSErrors), cache not writable
        raise _download_error(source, address, str(err), instead) from None
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


def _download(source: WeightsSource, address: str, destination: str) -> None:
    """Write the file at ``address`` to ``destination``: gdown for Google Drive, else torch.hub."""
    if source.via_gdown and address == source.url:  # a mirror serves plain files
        import gdown  # only for Drive files; it pulls in requests and bs4
        from gdown.exceptions import DownloadError

        with open(destination, "xb") as out:
            try:
                gdown.download(address, out, quiet=True)
            except DownloadError as err:  # Drive's quota or permission pages
                raise OSError(str(err)) from err
        return
    torch.hub.download_url_to_file(address, destination, hash_prefix=source.hash_prefix, progress=progress_enabled())


def _download_error(source: WeightsSource, address: str, reason: str, instead: str) -> WeightsDownloadError:
    return WeightsDownloadError(
        f"cannot download the weights file {source.file_name} from {address}: {reason}.\n"
        f"Put the file there by hand (it is then used without any network):\n  {source.cache_path}\n{instead}"
    )
