"""Clip-consistent transforms on uint8 frame tensors ``[T, C, H, W]``.

torchreid's transforms act on one PIL image at a time, so a random flip or crop differs between the
frames of a clip and the temporal attention sees jitter that is not in the video. Here each random
parameter is drawn once per clip and the whole clip is transformed as one tensor, which is also far
faster than per-frame PIL. Random numbers come from torch's generator, which torch seeds per worker.

The work is split where the data crosses from the loader to the model. A dataset item holds the
clip as :meth:`ClipTransform.prepare` leaves it: resized and augmented uint8 pixels, with every
random parameter drawn (the erase box as a small tensor, key :data:`ERASE_KEY`). Loader workers
thus move a quarter of the bytes of float clips, and the engine converts, normalises and erases
each batch where it lands, on the training device (:meth:`ClipTransform.finish`).
"""
from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

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


NO_ERASE = (0, 0, 0, 0)  # an erase box (top, left, height, width) that erases nothing


def draw_erase_box(shape: Sequence[int]) -> Tuple[int, int, int, int]:
    """The random-erasing rectangle ``(top, left, h, w)`` for a clip of this shape, drawn with
    probability 0.5 (else :data:`NO_ERASE`). Only the shape is needed, so it can be drawn before the
    clip is converted to float (in a loader worker) and applied later."""
    if _uniform(0.0, 1.0) >= ERASE_P:
        return NO_ERASE
    height, width = int(shape[-2]), int(shape[-1])
    for _ in range(ERASE_ATTEMPTS):
        area = _uniform(*ERASE_AREA) * height * width
        aspect = _uniform(ERASE_MIN_ASPECT, 1.0 / ERASE_MIN_ASPECT)
        h = int(round((area * aspect) ** 0.5))
        w = int(round((area / aspect) ** 0.5))
        if h < height and w < width:
            return _randint(height - h), _randint(width - w), h, w
    return NO_ERASE


def erase_in_place(clip: torch.Tensor, box: Sequence[int]) -> torch.Tensor:
    """Write torchreid's erasing values into ``box`` of every frame of a normalised clip ``[..., C, H, W]``."""
    top, left, h, w = (int(v) for v in box)
    if h > 0 and w > 0:
        channels = clip.shape[-3]
        fill = torch.tensor(ERASE_FILL if channels == 3 else ERASE_FILL[:1] * channels, dtype=clip.dtype,
                            device=clip.device)
        clip[..., top:top + h, left:left + w] = fill.view(-1, 1, 1)
    return clip


def random_erase(clip: torch.Tensor) -> torch.Tensor:
    """Random erasing (Zhong et al.) with one rectangle for the whole clip, with probability 0.5."""
    box = draw_erase_box(clip.shape)
    return clip if box == NO_ERASE else erase_in_place(clip.clone(), box)


UINT8_AUGMENTATIONS: Dict[str, ClipOp] = {"random_flip": random_flip, "pad_crop": pad_crop}
ERASE = "random_erase"  # drawn with the uint8 augmentations, applied after normalisation
ERASE_KEY = "erase"  # dataset item / batch entry holding the clip's erase box (``[4]``, a batch ``[B, 4]``)


class PreparedClip(NamedTuple):
    """A clip before float conversion: uint8 ``[T, C, H, W]`` and its erase box (``[4]`` long)."""

    clip: torch.Tensor
    erase: torch.Tensor


class ClipTransform:
    """Resize, clip-consistent augmentations, then float conversion and normalisation.

    :meth:`prepare` resizes, augments and draws every random parameter (the erase box too) on uint8
    pixels, in the dataset; :meth:`finish` converts, normalises and erases, for one clip or a batch,
    on whatever device the clips are. Calling the transform does both and gives the same result.
    """

    def __init__(
        self,
        height: int,
        width: int,
        augmentations: Sequence[str] = (),
        norm_mean: Sequence[float] = (0.485, 0.456, 0.406),
        norm_std: Sequence[float] = (0.229, 0.224, 0.225),
    ) -> None:
        names = [a.lower() for a in ([augmentations] if isinstance(augmentations, str) else augmentations)]
        available = sorted(UINT8_AUGMENTATIONS) + [ERASE]
        unknown = [a for a in names if a not in available]
        if unknown:
            raise ValueError(
                f"data.transforms: unknown transform(s) {unknown}; available: {available} "
                "(resizing and normalisation always apply)"
            )
        self.height, self.width = int(height), int(width)
        self.augmentations = tuple(names)
        self.uint8_ops: List[ClipOp] = [UINT8_AUGMENTATIONS[a] for a in names if a in UINT8_AUGMENTATIONS]
        self.erase = ERASE in names
        self.mean = torch.tensor(norm_mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(norm_std, dtype=torch.float32).view(-1, 1, 1)
        self._stats_on: Dict[torch.device, Tuple[torch.Tensor, torch.Tensor]] = {}

    def prepare(self, frames: Frames) -> PreparedClip:
        """uint8 frames ``[C, h, w]`` (or a ``[T, C, h, w]`` tensor) -> resized, augmented uint8 clip and erase box."""
        clip = resize_clip(frames, self.height, self.width)
        for op in self.uint8_ops:
            clip = op(clip)
        box = draw_erase_box(clip.shape) if self.erase else NO_ERASE
        return PreparedClip(clip, torch.tensor(box, dtype=torch.long))

    def finish(self, clips: torch.Tensor, erase: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Float, normalised, erased clips from prepared uint8 ones, on their device: ``[T, C, H, W]``
        with box ``[4]``, or a batch ``[B, T, C, H, W]`` (any leading dims) with boxes ``[B, 4]``."""
        if clips.dtype != torch.uint8:
            raise TypeError(f"ClipTransform.finish takes uint8 clips (as prepare leaves them), got {clips.dtype}")
        mean, std = self._stats(clips.device)
        out = clips.to(torch.float32).div_(255.0).sub_(mean).div_(std)
        if erase is None:
            return out
        if erase.dim() == 1:
            return erase_in_place(out, erase.tolist())
        for index, box in enumerate(erase.tolist()):
            erase_in_place(out[index], box)
        return out

    def _stats(self, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mean and std on ``device``, copied there once: a copy from host memory per batch makes the host wait."""
        if device not in self._stats_on:
            self._stats_on[device] = (self.mean.to(device), self.std.to(device))
        return self._stats_on[device]

    def __getstate__(self) -> Dict[str, object]:
        """Loader workers get the transform without the device copies (a CUDA tensor must not be pickled to them)."""
        return {**self.__dict__, "_stats_on": {}}

    def __call__(self, frames: Frames) -> torch.Tensor:
        """uint8 frames ``[C, h, w]`` (or a ``[T, C, h, w]`` tensor) -> float clip ``[T, C, H, W]``."""
        return self.finish(*self.prepare(frames))

    def __repr__(self) -> str:
        return f"ClipTransform({self.height}x{self.width}, augmentations={list(self.augmentations)})"


class PerFrameTransform:
    """Adapter for a torchreid-style transform (one PIL image in, one tensor out), as torchreid's
    ``VideoDataManager`` passes; it transforms frames independently, like torchreid does. Its
    :meth:`prepare` gives finished float clips (no erase box left to apply), which is what
    torchreid's engines, the users of such transforms, expect."""

    def __init__(self, transform: Callable) -> None:
        self.transform = transform

    def __call__(self, frames: Frames) -> torch.Tensor:
        return torch.stack([self.transform(TF.to_pil_image(frame)) for frame in frames])

    def prepare(self, frames: Frames) -> PreparedClip:
        return PreparedClip(self(frames), torch.tensor(NO_ERASE, dtype=torch.long))


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
