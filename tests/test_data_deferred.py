"""Deferred finishing: loader workers send uint8 clips and the loader normalises and erases each
batch. The batches, and every augmentation's effect, must be exactly those of the plain path."""
import torch

from aitl_reid.config import get_default_config
from aitl_reid.data import build_datamanager
from aitl_reid.data.deferred import ERASE_KEY, FinishingLoader
from aitl_reid.data.transforms import ClipTransform, pad_crop, random_erase, random_flip

AUGMENTATIONS = ["random_flip", "pad_crop", "random_erase"]


def textured_frames(frames=4, height=32, width=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator) for _ in range(frames)]


def reference_clip(frames, mean, std):
    """The pipeline written out op by op: stack, flip, pad + crop, normalise, erase (same draw order)."""
    clip = pad_crop(random_flip(torch.stack(frames)))
    mean, std = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)
    normalised = (clip.to(torch.float32) / 255.0 - mean) / std
    return random_erase(normalised)


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


def test_every_frame_of_a_deferred_clip_gets_the_same_flip_crop_and_erasure():
    transform = ClipTransform(32, 16, AUGMENTATIONS)
    frame = textured_frames(frames=1)[0]
    torch.manual_seed(2)
    for _ in range(20):
        out = transform.finish(*transform.prepare([frame] * 4))
        assert all(torch.equal(out[0], out[t]) for t in range(1, 4))


def _manager(root, workers):
    cfg = get_default_config()
    cfg.data.root = str(root)
    cfg.data.sources = cfg.data.targets = ["mars_attr"]
    cfg.data.height, cfg.data.width = 32, 16
    cfg.data.workers = workers
    cfg.train.batch_size, cfg.sampler.num_instances, cfg.test.batch_size = 8, 2, 5
    return build_datamanager(cfg, use_gpu=False)


def _batches(loader_type, dataset, workers, seed=0):
    loader = loader_type(dataset, batch_size=4, sampler=list(range(len(dataset))), num_workers=workers,
                         generator=torch.Generator().manual_seed(seed))
    return list(loader)


def test_finishing_loader_with_workers_yields_the_plain_loaders_batches(tiny_mars_root):
    manager = _manager(tiny_mars_root, workers=1)
    assert isinstance(manager.train_loader, FinishingLoader)
    for dataset in (manager.train_loader.dataset, manager.test_loader["mars_attr"]["gallery"].dataset):
        deferred = _batches(FinishingLoader, dataset, workers=1)
        plain = _batches(torch.utils.data.DataLoader, dataset, workers=1)
        assert len(deferred) == len(plain) > 1
        for ours, reference in zip(deferred, plain):
            assert ERASE_KEY not in ours and set(ours) == set(reference)
            assert ours["img"].dtype == torch.float32
            assert all(torch.equal(ours[key], reference[key]) for key in reference)


def test_finishing_loader_workers_really_send_uint8_clips_with_erase_boxes(tiny_mars_root):
    dataset = _manager(tiny_mars_root, workers=1).train_loader.dataset
    loader = FinishingLoader(dataset, batch_size=4, sampler=list(range(8)), num_workers=1)
    raw = next(torch.utils.data.DataLoader.__iter__(loader))  # the batch as the worker sent it
    assert raw["img"].dtype == torch.uint8 and raw[ERASE_KEY].shape == (4, 4)


def test_items_read_in_this_process_stay_finished_after_a_deferring_loader_ran(tiny_mars_root):
    manager = _manager(tiny_mars_root, workers=1)
    dataset = manager.train_loader.dataset
    next(iter(manager.train_loader))
    assert not dataset.defer_finishing and dataset[0]["img"].dtype == torch.float32 and ERASE_KEY not in dataset[0]
