import pytest
import torch

from aitl_reid import _torchreid
from aitl_reid.data.transforms import (
    ERASE_FILL,
    NO_ERASE,
    ClipTransform,
    as_clip_transform,
    build_clip_transforms,
    draw_erase_box,
    erase_in_place,
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


def test_random_flip_mirrors_all_frames_in_half_the_clips():
    """2000 draws: the standard deviation of the rate is 0.011 at p = 0.5, so +-0.03 holds p to 0.47-0.53."""
    torch.manual_seed(0)
    clip = textured_clip()
    mirrored = clip[..., torch.arange(clip.shape[-1] - 1, -1, -1)]
    outcomes = [random_flip(clip) for _ in range(2000)]
    assert all(torch.equal(out, clip) or torch.equal(out, mirrored) for out in outcomes)
    rate = sum(torch.equal(out, mirrored) for out in outcomes) / len(outcomes)
    assert rate == pytest.approx(0.5, abs=0.03)


def coordinate_frame(height: int, width: int) -> torch.Tensor:
    """A frame whose pixels name their own position: channel 0 holds row + 1, channel 1 column + 1 (0 = padding)."""
    rows = torch.arange(1, height + 1).view(-1, 1).expand(height, width)
    cols = torch.arange(1, width + 1).view(1, -1).expand(height, width)
    return torch.stack([rows, cols, rows]).to(torch.uint8)


def shifted(frame: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``frame`` moved down ``dy`` and right ``dx`` pixels, zeros where nothing moved in."""
    height, width = frame.shape[-2:]
    out = torch.zeros_like(frame)
    out[..., max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        frame[..., max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
    return out


def test_pad_crop_moves_the_content_by_every_shift_up_to_ten_pixels_each_way():
    """The released code pads 10 pixels: the crop moves a clip by -10..10 rows and columns, zeros filling in."""
    frame = coordinate_frame(32, 16)
    clip = frame.expand(2, -1, -1, -1)
    torch.manual_seed(0)
    shifts = set()
    for _ in range(600):
        out = pad_crop(clip)
        i, j = (out[0, 0] > 0).nonzero()[0].tolist()  # a pixel with content: where it came from gives the shift
        dy, dx = i - (int(out[0, 0, i, j]) - 1), j - (int(out[0, 1, i, j]) - 1)
        assert torch.equal(out[0], shifted(frame, dy, dx)) and torch.equal(out[1], out[0])
        shifts.add((dy, dx))
    assert {dy for dy, _ in shifts} == set(range(-10, 11))
    assert {dx for _, dx in shifts} == set(range(-10, 11))


def test_random_erase_writes_torchreid_fill_values_in_one_rectangle():
    torch.manual_seed(3)
    clip = torch.full((2, 3, 32, 16), 9.0)
    erased = next(out for out in (random_erase(clip) for _ in range(20)) if not torch.equal(out, clip))
    mask = erased[0, 0] != 9.0
    rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
    assert mask.sum() == len(rows) * len(cols)  # a filled rectangle
    for channel, value in enumerate(ERASE_FILL):
        assert torch.allclose(erased[:, channel][:, mask], torch.tensor(value))


def test_erase_boxes_lie_within_the_frame_whatever_the_leading_dimensions():
    """Only the last two dimensions are the frame: one frame [C, H, W], a clip or a batch of clips alike."""
    torch.manual_seed(4)
    for shape in ((3, 40, 8), (2, 3, 40, 8), (2, 2, 3, 40, 8)):
        boxes = [box for box in (draw_erase_box(shape) for _ in range(60)) if box != NO_ERASE]
        assert boxes and all(top + h <= 40 and left + w <= 8 for top, left, h, w in boxes)
        assert max(top + h for top, _, h, _ in boxes) > 8  # the height is the frame's, not another dimension


def test_erase_boxes_are_strictly_smaller_than_the_frame_as_torchreids():
    """torchreid's RandomErasing keeps a box only if ``h < H and w < W``; on a frame 2 pixels wide (or high) a box as
    wide as the frame would otherwise be drawn in about half the tries."""
    torch.manual_seed(5)
    for shape, (height, width) in (((3, 40, 2), (40, 2)), ((3, 2, 40), (2, 40))):
        boxes = [box for box in (draw_erase_box(shape) for _ in range(200)) if box != NO_ERASE]
        assert len(boxes) > 50
        assert all(0 < h < height and 0 < w < width for _, _, h, w in boxes)


def test_a_box_one_pixel_high_or_wide_is_erased():
    for box in ((1, 2, 1, 3), (1, 2, 3, 1)):
        clip = torch.zeros(2, 3, 8, 6)
        erase_in_place(clip, box)
        top, left, h, w = box
        expected = torch.zeros(2, 3, 8, 6)
        for channel, value in enumerate(ERASE_FILL):
            expected[:, channel, top:top + h, left:left + w] = value
        assert torch.equal(clip, expected)


def test_erasing_a_float64_clip_writes_the_fill_values_exactly():
    """The fill is made in the clip's dtype: 0.4914 in float64, not float32's 0.49140000343..."""
    clip = torch.zeros(1, 3, 4, 4, dtype=torch.float64)
    erase_in_place(clip, (0, 0, 2, 2))
    assert [clip[0, c, 0, 0].item() for c in range(3)] == list(ERASE_FILL)


def test_train_transform_without_augmentations_normalises_as_the_test_one():
    mean, std = (0.5, 0.25, 0.0), (0.25, 0.5, 1.0)
    train, test = build_clip_transforms(8, 4, transforms=(), norm_mean=mean, norm_std=std)
    frames = [torch.full((3, 8, 4), 255, dtype=torch.uint8)]
    expected = torch.tensor([(1 - m) / s for m, s in zip(mean, std)]).view(1, 3, 1, 1).expand(1, 3, 8, 4)
    assert torch.allclose(train(frames), expected) and torch.allclose(test(frames), expected)


def test_erasing_a_one_channel_clip_writes_the_first_fill_value_in_the_box_only():
    clip = torch.zeros(2, 1, 8, 4)
    erase_in_place(clip, (1, 2, 3, 2))
    assert torch.equal(clip[:, :, 1:4, 2:4], torch.full((2, 1, 3, 2), ERASE_FILL[0]))
    assert clip.sum() == pytest.approx(2 * 3 * 2 * ERASE_FILL[0])


def test_downsizing_is_antialiased_for_clips_and_for_frames_of_different_sizes():
    """A one-pixel checkerboard shrunk 5x averages to grey; without antialiasing it would sample black or white."""
    def checkerboard(height, width):
        i, j = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        return (((i + j) % 2) * 255).to(torch.uint8).expand(3, -1, -1).contiguous()

    same_size = [checkerboard(40, 20)] * 2
    mixed_sizes = [checkerboard(40, 20), checkerboard(80, 40)]
    for frames in (same_size, mixed_sizes):
        out = ClipTransform(8, 4, **IDENTITY_NORM)(frames)
        assert out.min() > 0.3 and out.max() < 0.7


def test_test_transform_resizes_and_normalises_without_randomness():
    _, test = build_clip_transforms(8, 4, norm_mean=(0.5, 0.5, 0.5), norm_std=(0.25, 0.25, 0.25))
    frames = [torch.full((3, 16, 8), 255, dtype=torch.uint8), torch.zeros((3, 16, 8), dtype=torch.uint8)]
    out = test(frames)
    assert out.dtype == torch.float32 and out.shape == (2, 3, 8, 4)
    assert torch.allclose(out[0], torch.tensor(2.0)) and torch.allclose(out[1], torch.tensor(-2.0))


def test_frames_of_different_sizes_are_each_resized_to_the_target_keeping_their_layout():
    tall = torch.zeros((3, 40, 20), dtype=torch.uint8)
    tall[:, :20] = 255  # top half white
    narrow = torch.zeros((3, 30, 12), dtype=torch.uint8)
    narrow[:, :, :6] = 255  # left half white
    out = ClipTransform(32, 16, **IDENTITY_NORM)([tall, narrow])
    assert out.shape == (2, 3, 32, 16)
    # away from the one blurred edge, each frame keeps its own halves: 1.0 where it was 255, 0.0 where 0
    assert torch.all(out[0, :, :15] == 1.0) and torch.all(out[0, :, 17:] == 0.0)
    assert torch.all(out[1, :, :, :7] == 1.0) and torch.all(out[1, :, :, 9:] == 0.0)


def test_unknown_transform_name_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"data.transforms: unknown transform\(s\) \['random_crop'\]; available: "
                                         r"\['pad_crop', 'random_flip', 'random_erase'\] \(resizing and normalisation always apply\)$"):
        ClipTransform(16, 8, ["random_flip", "random_crop"])


def test_one_augmentation_may_be_named_by_a_plain_string():
    """``"random_flip"`` is that one augmentation, not the letters r, a, n, ..."""
    torch.manual_seed(0)
    clip = textured_clip()
    outs = [ClipTransform(16, 8, "Random_Flip", **IDENTITY_NORM)(clip) for _ in range(20)]
    mirrored = clip.flip(-1).float() / 255.0
    assert any(torch.equal(out, mirrored) for out in outs) and any(torch.equal(out, clip.float() / 255.0) for out in outs)


def test_repr_names_the_size_and_the_augmentations_in_lower_case():
    assert repr(ClipTransform(16, 8, ["Random_Flip", "pad_crop"])) == "ClipTransform(16x8, augmentations=['random_flip', 'pad_crop'])"


def uniform_clip(values, height: int = 32, width: int = 16) -> torch.Tensor:
    """One frame per value, every pixel of frame t equal to ``values[t]``."""
    return torch.stack([torch.full((3, height, width), v, dtype=torch.uint8) for v in values])


def test_torchreid_per_image_transform_is_applied_to_each_frame_in_order():
    _, torchreid_test = _torchreid.data.transforms.build_transforms(16, 8, transforms=None)
    values = (10, 128, 250)
    out = as_clip_transform(torchreid_test)(uniform_clip(values))
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # torchreid's ImageNet normalisation
    expected = torch.tensor([[(v / 255 - m) / s for m, s in zip(mean, std)] for v in values])
    assert out.shape == (3, 3, 16, 8)
    assert torch.allclose(out.mean(dim=(2, 3)), expected, atol=1e-5)
    assert torch.allclose(out.amax(dim=(2, 3)), out.amin(dim=(2, 3)))  # uniform frames stay uniform


def test_a_clip_transform_keeps_its_uint8_preparation_when_passed_as_a_clip_transform():
    """Not wrapped as a per-frame PIL transform: the dataset still gets uint8 clips and an erase box."""
    prepared = as_clip_transform(ClipTransform(16, 8, ["random_erase"], **IDENTITY_NORM)).prepare(uniform_clip((51, 204)))
    assert prepared.clip.dtype == torch.uint8 and prepared.clip.shape == (2, 3, 16, 8)
    assert prepared.clip[:, 0, 0, 0].tolist() == [51, 204]
    assert prepared.erase.shape == (4,)
    _, torchreid_test = _torchreid.data.transforms.build_transforms(16, 8, transforms=None)
    per_frame = as_clip_transform(torchreid_test).prepare(uniform_clip((51, 204)))
    assert per_frame.clip.dtype == torch.float32  # finished already: nothing left to erase
    assert per_frame.erase.dtype == torch.long and per_frame.erase.tolist() == list(NO_ERASE)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_finishing_on_cuda_gives_the_cpu_result():
    """The normalisation statistics follow the clips to the GPU (a CPU mean would be refused there)."""
    transform = ClipTransform(16, 8, norm_mean=(0.5, 0.25, 0.0), norm_std=(0.25, 0.5, 1.0))
    clips, boxes = textured_clip().expand(2, -1, -1, -1, -1), torch.tensor([[1, 2, 3, 4], list(NO_ERASE)])
    on_gpu = transform.finish(clips.cuda(), boxes.cuda())
    assert on_gpu.is_cuda and torch.equal(on_gpu.cpu(), transform.finish(clips, boxes))


def test_normalisation_stats_are_copied_to_a_device_once_and_not_sent_to_workers():
    import pickle

    transform = ClipTransform(8, 4)
    clips = torch.zeros(2, 3, 8, 4, dtype=torch.uint8)
    first = transform.finish(clips)
    mean, std = transform._stats(clips.device)
    assert transform._stats(clips.device)[0] is mean  # the same tensor: no copy per batch
    assert torch.equal(transform.finish(clips), first)
    assert pickle.loads(pickle.dumps(transform))._stats_on == {}
