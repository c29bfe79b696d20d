"""Clip-consistent transforms on uint8 frame tensors ``[T, C, H, W]``.

torchreid's transforms act on one PIL image at a time, so a random flip or crop differs between the
frames of a clip and the temporal attention sees jitter that is not in the video. Here each random
parameter is drawn once per clip and the whole clip is transformed as one tensor, which is also far
faster than per-frame PIL. Random numbers come from torch's generator, which torch seeds per worker.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence, Tuple, Union

import torch
from torchvision.transforms.v2 import functional as TF

Frames = Union[torch.Tensor, Sequence[torch.Tensor]]
ClipOp = Callable[[torch.Tensor], torch.Tensor]

PAD = 10  # pixels of zero padding before the random crop (released code)
FLIP_P = 0.5
ERASE_P = 0.5
ERASE_AREA = (0.02, 0.4)  # erased fraction of the frame area
ERASE_MIN_ASPECT = 0.3
ERASE_FILL = (0.4914, 0.4822, 0.4465)  # torchreid's RandomErasing values, written on the normalised clip
ERASE_ATTEMPTS = 100


def _uniform(low: float, high: float) -> float:
    return float(torch.empty(()).uniform_(low, high))


def _randint(high_inclusive: int) -> int:
    return int(torch.randint(0, high_inclusive + 1, ()))


def resize_clip(frames: Frames, height: int, width: int) -> torch.Tensor:
    """Stack frames (which may differ in size, as in DukeMTMC-VideoReID) into ``[T, C, height, width]``."""
    if isinstance(frames, torch.Tensor):
        clip = frames
    elif len({tuple(f.shape) for f in frames}) == 1:
        clip = torch.stack(list(frames))
    else:
        clip = torch.stack([TF.resize(f, [height, width], antialias=True) for f in frames])
    if clip.shape[-2:] != (height, width):
        clip = TF.resize(clip, [height, width], antialias=True)
    return clip


def random_flip(clip: torch.Tensor) -> torch.Tensor:
    """Mirror every frame of the clip horizontally, with probability 0.5."""
    return clip.flip(-1) if _uniform(0.0, 1.0) < FLIP_P else clip


def pad_crop(clip: torch.Tensor) -> torch.Tensor:
    """Zero-pad every frame by 10 pixels and crop all frames at one random offset to the original size."""
    height, width = clip.shape[-2:]
    padded = torch.nn.functional.pad(clip, (PAD, PAD, PAD, PAD))
    top, left = _randint(2 * PAD), _randint(2 * PAD)
    return padded[..., top:top + height, left:left + width]


def random_erase(clip: torch.Tensor) -> torch.Tensor:
    """Random erasing (Zhong et al.) with one rectangle for the whole clip, with probability 0.5."""
    if _uniform(0.0, 1.0) >= ERASE_P:
        return clip
    channels, height, width = clip.shape[-3:]
    for _ in range(ERASE_ATTEMPTS):
        area = _uniform(*ERASE_AREA) * height * width
        aspect = _uniform(ERASE_MIN_ASPECT, 1.0 / ERASE_MIN_ASPECT)
        h = int(round((area * aspect) ** 0.5))
        w = int(round((area / aspect) ** 0.5))
        if h < height and w < width:
            top, left = _randint(height - h), _randint(width - w)
            fill = torch.tensor(ERASE_FILL if channels == 3 else ERASE_FILL[:1] * channels, dtype=clip.dtype)
            clip = clip.clone()
            clip[..., top:top + h, left:left + w] = fill.view(-1, 1, 1)
            return clip
    return clip


UINT8_AUGMENTATIONS: Dict[str, ClipOp] = {"random_flip": random_flip, "pad_crop": pad_crop}
FLOAT_AUGMENTATIONS: Dict[str, ClipOp] = {"random_erase": random_erase}  # run after normalisation


class ClipTransform:
    """Resize, clip-consistent augmentations, then float conversion and normalisation."""

    def __init__(
        self,
        height: int,
        width: int,
        augmentations: Sequence[str] = (),
        norm_mean: Sequence[float] = (0.485, 0.456, 0.406),
        norm_std: Sequence[float] = (0.229, 0.224, 0.225),
    ) -> None:
        names = [a.lower() for a in ([augmentations] if isinstance(augmentations, str) else augmentations)]
        available = sorted(UINT8_AUGMENTATIONS) + sorted(FLOAT_AUGMENTATIONS)
        unknown = [a for a in names if a not in available]
        if unknown:
            raise ValueError(
                f"data.transforms: unknown transform(s) {unknown}; available: {available} "
                "(resizing and normalisation always apply)"
            )
        self.height, self.width = int(height), int(width)
        self.augmentations = tuple(names)
        self.uint8_ops: List[ClipOp] = [UINT8_AUGMENTATIONS[a] for a in names if a in UINT8_AUGMENTATIONS]
        self.float_ops: List[ClipOp] = [FLOAT_AUGMENTATIONS[a] for a in names if a in FLOAT_AUGMENTATIONS]
        self.mean = torch.tensor(norm_mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(norm_std, dtype=torch.float32).view(1, -1, 1, 1)

    def __call__(self, frames: Frames) -> torch.Tensor:
        """uint8 frames ``[C, h, w]`` (or a ``[T, C, h, w]`` tensor) -> float clip ``[T, C, H, W]``."""
        clip = resize_clip(frames, self.height, self.width)
        for op in self.uint8_ops:
            clip = op(clip)
        clip = (clip.to(torch.float32) / 255.0 - self.mean) / self.std
        for op in self.float_ops:
            clip = op(clip)
        return clip

    def __repr__(self) -> str:
        return f"ClipTransform({self.height}x{self.width}, augmentations={list(self.augmentations)})"


class PerFrameTransform:
    """Adapter for a torchreid-style transform (one PIL image in, one tensor out), as torchreid's
    ``VideoDataManager`` passes; it transforms frames independently, like torchreid does."""

    def __init__(self, transform: Callable) -> None:
        self.transform = transform

    def __call__(self, frames: Frames) -> torch.Tensor:
        return torch.stack([self.transform(TF.to_pil_image(frame)) for frame in frames])


def as_clip_transform(transform: Callable) -> Callable[[Frames], torch.Tensor]:
    """A clip transform as-is; anything else is treated as a per-frame PIL transform."""
    if isinstance(transform, (ClipTransform, PerFrameTransform)):
        return transform
    return PerFrameTransform(transform)


def build_clip_transforms(
    height: int,
    width: int,
    transforms: Sequence[str] = ("random_flip", "pad_crop", "random_erase"),
    norm_mean: Sequence[float] = (0.485, 0.456, 0.406),
    norm_std: Sequence[float] = (0.229, 0.224, 0.225),
) -> Tuple[ClipTransform, ClipTransform]:
    """Training transform (with the named augmentations) and test transform (resize + normalise)."""
    train = ClipTransform(height, width, transforms, norm_mean, norm_std)
    test = ClipTransform(height, width, (), norm_mean, norm_std)
    return train, test
