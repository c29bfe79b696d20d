"""Detection by a torchvision detection model trained on COCO (``--detector fasterrcnn_mobilenet_v3_large_fpn`` ...).

For moving cameras or crowded scenes, where background subtraction fails. Any model of
``torchvision.models.detection`` whose COCO label 1 is ``person`` can be named; its ``DEFAULT`` weights file is
fetched through the plugin's weights helper (:func:`~aitl_reid.models.weights_download.fetch`: torchvision's
file name in ``$TORCH_HOME/hub/checkpoints/``, its sha256 prefix checked, ``$AITL_REID_WEIGHTS_MIRROR``
honoured), and the model is built with ``weights=None, weights_backbone=None`` before that file is loaded, so
torchvision itself never reaches the network. Only person boxes at or above ``score_threshold`` are kept,
clipped to the frame.

Frames go through the model one at a time: on vtest.avi frames (768x576, one thread, 2 shared cores) batches of
4 or 8 frames were no faster with any consistency (``fasterrcnn_mobilenet_v3_large_320_fpn``: 1.75 / 1.73
frames/s one by one, 1.83 / 1.85 by 4, 1.79 / 2.12 by 8, two rounds), and one frame at a time keeps the tracker
fed as the video is read.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
import torchvision

from ..inference.inputs import InputError
from ..models.pretrained import read_state_dict
from ..models.weights_download import detection_weights_source, fetch
from .detect import Box

PERSON_LABEL = 1
"""COCO's person class in torchvision's detection models (``weights.meta['categories'][1] == 'person'``)."""

# torchvision runs these models' COCO files with the frozen batch norms' eps at 0 (``overwrite_eps`` in their
# builders); built without weights, their batch norms keep 1e-5, so it is set here as torchvision would.
ZERO_EPS_MODELS = frozenset({"fasterrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn",
                             "retinanet_resnet50_fpn"})

DOWNLOAD_INSTEAD = "or use --detector motion (no weights) or --detections FILE (boxes from another detector)."


@dataclass
class TorchvisionSettings:
    """torchvision detector settings (``--torchvision KEY=VALUE``).

    ``score_threshold``: not measured here (no COCO weights can be downloaded on the machine this was built on);
    0.8 is Deep SORT's own default (``--min_confidence`` of nwojke/deep_sort's ``deep_sort_app.py``), the tracker
    deep-sort-realtime ports.
    """

    score_threshold: float = 0.8  # person boxes scoring below are dropped

    @classmethod
    def keys(cls) -> List[str]:
        return [f.name for f in fields(cls)]


def torchvision_detectors() -> List[str]:
    """torchvision's detection models with downloadable weights whose label 1 is a person."""
    names = torchvision.models.list_models(module=torchvision.models.detection)
    return [n for n in names if torchvision.models.get_model_weights(n).DEFAULT.meta["categories"][PERSON_LABEL] == "person"]


def person_boxes(output: Dict[str, torch.Tensor], score_threshold: float, width: int, height: int) -> List[Box]:
    """A detection model's output for one frame as person boxes ``(x, y, w, h, score)``, clipped to the frame;
    boxes left without area are dropped."""
    keep = (output["labels"] == PERSON_LABEL) & (output["scores"] >= score_threshold)
    corners = output["boxes"][keep].detach().cpu().numpy().astype(np.float64)
    corners[:, 0::2] = corners[:, 0::2].clip(0, width)
    corners[:, 1::2] = corners[:, 1::2].clip(0, height)
    scores = output["scores"][keep].detach().cpu().numpy()
    return [(x0, y0, x1 - x0, y1 - y0, float(s)) for (x0, y0, x1, y1), s in zip(corners.tolist(), scores) if x1 > x0 and y1 > y0]


class TorchvisionDetector:
    """A torchvision detection model with its COCO weights, giving person boxes per BGR frame."""

    def __init__(self, name: str, settings: TorchvisionSettings, weights_path: Optional[str] = None,
                 device: str = "cpu") -> None:
        valid = torchvision_detectors()
        if name not in valid:
            raise InputError(f"unknown detector {name!r}: use 'motion' or one of torchvision's {', '.join(valid)}")
        if not 0.0 <= settings.score_threshold <= 1.0:
            raise InputError(f"--torchvision score_threshold={settings.score_threshold}: give a score between 0 and 1")
        path = weights_path or fetch(detection_weights_source(name), instead=DOWNLOAD_INSTEAD)
        self.name, self.settings, self.device = name, settings, torch.device(device)
        self.model = load_detection_model(name, path).to(self.device)

    @torch.no_grad()
    def __call__(self, frame: np.ndarray) -> List[Box]:
        height, width = frame.shape[:2]
        image = torch.from_numpy(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).permute(2, 0, 1)
        output = self.model([image.to(self.device, torch.float32).div_(255.0)])[0]
        return person_boxes(output, self.settings.score_threshold, width, height)


def load_detection_model(name: str, path: str) -> torch.nn.Module:
    """torchvision's ``name`` built without weights, with the tensors of ``path`` (a file that does not fit the
    model is an error naming it)."""
    model = torchvision.models.get_model(name, weights=None, weights_backbone=None).eval()
    try:
        model.load_state_dict(read_state_dict(path))
    except RuntimeError as err:  # missing, unexpected or misshapen tensors
        first = str(err).splitlines()[1:2] or [str(err)]
        raise InputError(f"{path}: not the weights of torchvision's {name} ({first[0].strip()}); "
                         "remove it so that the right file is downloaded") from None
    if name in ZERO_EPS_MODELS:
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eps = 0.0
    return model
