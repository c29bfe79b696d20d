import pytest
import torch

from aitl_reid import _torchreid
from aitl_reid.data.transforms import (
    ERASE_FILL,
    ClipTransform,
    PerFrameTransform,
    as_clip_transform,
    build_clip_transforms,
    pad_crop,
    random_erase,
    random_flip,
)

IDENTITY_NORM = dict(norm_mean=(0.0, 0.0, 0.0), norm_std=(1.0, 1.0, 1.0))


def textured_clip(frames: int = 4, height: int = 16, width: int = 8) -> torch.Tensor:
    """A clip whose frames are identical and asymmetric, so any flip or shift shows."""
    frame = torch.arange(3 * height * width, dtype=torch.int64).reshape(3, height, width) % 251
    return frame.to(torch.uint8).expand(frames, -1, -1, -1).contiguous()


def test_every_augmentation_applies_identically_to_all_frames_of_a_clip():
    transform = ClipTransform(16, 8, ["random_flip", "pad_crop", "random_erase"])
    torch.manual_seed(0)
    for _ in range(20):
        out = transform(textured_clip())
        assert all(torch.equal(out[0], out[t]) for t in range(1, 4))


def test_random_flip_mirrors_all_frames_in_about_half_the_clips():
    torch.manual_seed(0)
    clip = textured_clip()
    flipped = [torch.equal(random_flip(clip), clip.flip(-1)) for _ in range(200)]
    assert 60 < sum(flipped) < 140


def test_pad_crop_shifts_every_frame_by_one_offset_within_ten_pixels():
    torch.manual_seed(0)
    clip = torch.full((2, 3, 16, 8), 200, dtype=torch.uint8)
    shapes, zero_rows = set(), set()
    for _ in range(50):
        out = pad_crop(clip)
        shapes.add(tuple(out.shape))
        zero_rows.add(int((out[0, 0, :, 0] == 0).sum()))
        assert torch.equal(out[0], out[1])
    assert shapes == {(2, 3, 16, 8)}
    assert len(zero_rows) > 3  # the crop offset varies between clips


def test_random_erase_writes_torchreid_fill_values_in_one_rectangle():
    torch.manual_seed(3)
    clip = torch.full((2, 3, 32, 16), 9.0)
    erased = next(out for out in (random_erase(clip) for _ in range(20)) if not torch.equal(out, clip))
    mask = erased[0, 0] != 9.0
    rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
    assert mask.sum() == len(rows) * len(cols)  # a filled rectangle
    for channel, value in enumerate(ERASE_FILL):
        assert torch.allclose(erased[:, channel][:, mask], torch.tensor(value))


def test_test_transform_resizes_and_normalises_without_randomness():
    _, test = build_clip_transforms(8, 4, norm_mean=(0.5, 0.5, 0.5), norm_std=(0.25, 0.25, 0.25))
    frames = [torch.full((3, 16, 8), 255, dtype=torch.uint8), torch.zeros((3, 16, 8), dtype=torch.uint8)]
    out = test(frames)
    assert out.dtype == torch.float32 and out.shape == (2, 3, 8, 4)
    assert torch.allclose(out[0], torch.tensor(2.0)) and torch.allclose(out[1], torch.tensor(-2.0))


def test_frames_of_different_sizes_are_resized_to_the_target():
    transform = ClipTransform(32, 16, **IDENTITY_NORM)
    out = transform([torch.zeros((3, 40, 20), dtype=torch.uint8), torch.zeros((3, 30, 12), dtype=torch.uint8)])
    assert out.shape == (2, 3, 32, 16)


def test_unknown_transform_name_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"data.transforms: unknown transform\(s\) \['random_crop'\]; available"):
        ClipTransform(16, 8, ["random_flip", "random_crop"])


def test_torchreid_per_image_transform_is_adapted_frame_by_frame():
    _, torchreid_test = _torchreid.data.transforms.build_transforms(16, 8, transforms=None)
    adapted = as_clip_transform(torchreid_test)
    assert isinstance(adapted, PerFrameTransform)
    out = adapted(textured_clip(3, 32, 16))
    assert out.shape == (3, 3, 16, 8)
    clip_transform = ClipTransform(16, 8)
    assert as_clip_transform(clip_transform) is clip_transform
