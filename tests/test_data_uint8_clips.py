"""uint8 clips: datasets give resized, augmented uint8 clips with their erase box, and the engine
normalises and erases each batch where it lands. Every augmentation's effect must be exactly that
of the transform applied in one go, bit for bit."""
from types import SimpleNamespace

import pytest
import torch

from aitl_reid.config import get_default_config
from aitl_reid.data import build_datamanager
from aitl_reid.data.transforms import ERASE_KEY, ClipTransform
from aitl_reid.engine import AITLEngine
from aitl_reid.losses import UnifiedLoss
from aitl_reid.schema import MARS_V2

AUGMENTATIONS = ["random_flip", "pad_crop", "random_erase"]


def textured_frames(frames=4, height=32, width=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator) for _ in range(frames)]


def reference_clip(frames, mean, std):
    """The pipeline written out with torch primitives from its specification (not the functions under test), drawing
    its random numbers in the transform's order: flip with p 0.5, zero-pad 10 pixels and crop at a random offset,
    normalise, then with p 0.5 erase one rectangle of 2-40 % of the area, aspect 0.3-3.3, with torchreid's values."""
    clip = torch.stack(frames)
    height, width = clip.shape[-2:]
    if float(torch.empty(()).uniform_(0.0, 1.0)) < 0.5:
        clip = clip[..., torch.arange(width - 1, -1, -1)]
    canvas = torch.zeros(*clip.shape[:-2], height + 20, width + 20, dtype=clip.dtype)
    canvas[..., 10:10 + height, 10:10 + width] = clip
    top, left = int(torch.randint(0, 21, ())), int(torch.randint(0, 21, ()))
    clip = canvas[..., top:top + height, left:left + width]
    mean, std = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)
    normalised = (clip.to(torch.float32) / 255.0 - mean) / std
    if float(torch.empty(()).uniform_(0.0, 1.0)) >= 0.5:
        return normalised
    for _ in range(100):
        area = float(torch.empty(()).uniform_(0.02, 0.4)) * height * width
        aspect = float(torch.empty(()).uniform_(0.3, 1 / 0.3))
        h, w = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
        if h < height and w < width:
            top, left = int(torch.randint(0, height - h + 1, ())), int(torch.randint(0, width - w + 1, ()))
            for channel, value in enumerate((0.4914, 0.4822, 0.4465)):
                normalised[:, channel, top:top + h, left:left + w] = value
            break
    return normalised


def test_transform_equals_the_reference_computation_bit_for_bit_for_fixed_seeds():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    transform = ClipTransform(32, 16, AUGMENTATIONS, mean, std)
    for seed in range(40):  # enough seeds for flips, erasures and misses of both
        frames = textured_frames(seed=seed)
        torch.manual_seed(seed)
        expected = reference_clip(frames, mean, std)
        torch.manual_seed(seed)
        assert torch.equal(transform(frames), expected)


def test_prepared_clips_finished_as_a_batch_equal_clips_finished_one_by_one():
    transform = ClipTransform(32, 16, AUGMENTATIONS)
    torch.manual_seed(1)
    prepared = [transform.prepare(textured_frames(seed=s)) for s in range(8)]
    assert all(p.clip.dtype == torch.uint8 for p in prepared)
    assert any(p.erase[2] > 0 for p in prepared) and any(p.erase[2] == 0 for p in prepared)
    one_by_one = torch.stack([transform.finish(p.clip, p.erase) for p in prepared])
    batch = transform.finish(torch.stack([p.clip for p in prepared]), torch.stack([p.erase for p in prepared]))
    assert torch.equal(batch, one_by_one)


def test_every_frame_of_a_clip_gets_the_same_flip_crop_and_erasure():
    transform = ClipTransform(32, 16, AUGMENTATIONS)
    frame = textured_frames(frames=1)[0]
    torch.manual_seed(2)
    for _ in range(20):
        out = transform.finish(*transform.prepare([frame] * 4))
        assert all(torch.equal(out[0], out[t]) for t in range(1, 4))


def test_finish_refuses_float_clips_it_would_normalise_twice():
    with pytest.raises(TypeError, match="uint8"):
        ClipTransform(32, 16).finish(torch.zeros(4, 3, 32, 16))


def _manager(root, workers):
    cfg = get_default_config()
    cfg.data.root = str(root)
    cfg.data.sources = cfg.data.targets = ["mars_attr"]
    cfg.data.height, cfg.data.width = 32, 16
    cfg.data.workers = workers
    cfg.train.batch_size, cfg.sampler.num_instances, cfg.test.batch_size = 8, 2, 5
    return build_datamanager(cfg, use_gpu=False)


def _engine(manager):
    model = torch.nn.Linear(1, 1)
    return AITLEngine(manager, model, torch.optim.SGD(model.parameters(), lr=0.1),
                      UnifiedLoss(MARS_V2, aitl_enabled=False, attribute_enabled=False), use_gpu=False)


def test_loader_workers_send_uint8_clips_with_erase_boxes(tiny_mars_root):
    dataset = _manager(tiny_mars_root, workers=1).train_loader.dataset
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, sampler=list(range(8)), num_workers=1)
    batch = next(iter(loader))
    assert batch["img"].dtype == torch.uint8 and batch[ERASE_KEY].shape == (4, 4)


def test_engine_finishes_a_training_batch_exactly_as_the_transform_does_each_clip(tiny_mars_root):
    manager = _manager(tiny_mars_root, workers=0)
    dataset, transform = manager.train_loader.dataset, manager.transform_tr
    torch.manual_seed(3)
    items = [dataset[i % len(dataset)] for i in range(12)]
    assert any(item[ERASE_KEY][2] > 0 for item in items) and any(item[ERASE_KEY][2] == 0 for item in items)
    batch = torch.utils.data.default_collate(items)
    clips, pids, attrs = _engine(manager).parse_data_for_train(batch)
    expected = torch.stack([transform.finish(item["img"], item[ERASE_KEY]) for item in items])
    assert clips.dtype == torch.float32 and torch.equal(clips, expected)
    assert torch.equal(pids, batch["pid"]) and torch.equal(attrs, batch["attrs"])


def test_engine_normalises_test_clips_without_erasing(tiny_mars_root):
    manager = _manager(tiny_mars_root, workers=0)
    batch = next(iter(manager.test_loader["mars_attr"]["gallery"]))
    clips, owner = _engine(manager).parse_data_for_eval(batch)
    mean, std = manager.transform_te.mean, manager.transform_te.std
    assert torch.equal(clips, (batch["img"].float() / 255.0 - mean) / std)
    assert torch.equal(owner, batch["tracklet"])


def test_engine_passes_float_clips_through_untouched():
    engine = SimpleNamespace(_to_device=lambda t: t, datamanager=None)
    clips = torch.randn(2, 4, 3, 8, 4)
    out = AITLEngine._clips_on_device(engine, {"img": clips}, "transform_tr")
    assert out is clips
