from collections import Counter

import pytest
import torch

from aitl_reid.config import get_default_config
from aitl_reid.data import DatasetNotFoundError, build_datamanager
from aitl_reid.schema import DUKE_V2, MARS_V2
from aitl_reid.data.sampling import dense_clip_indices


def tiny_config(root, sources=("mars_attr",), targets=("mars_attr",)):
    cfg = get_default_config()
    cfg.data.root = str(root)
    cfg.data.sources = list(sources)
    cfg.data.targets = list(targets)
    cfg.data.height, cfg.data.width = 32, 16
    cfg.data.workers = 0
    cfg.train.batch_size = 8
    cfg.sampler.num_instances = 2
    cfg.test.batch_size = 5
    return cfg


def test_training_batches_hold_p_identities_times_k_clips_with_attributes(tiny_mars_root):
    manager = build_datamanager(tiny_config(tiny_mars_root), use_gpu=False)
    torch.manual_seed(0)
    batch = next(iter(manager.train_loader))
    assert batch["img"].shape == (8, 4, 3, 32, 16) and batch["img"].dtype == torch.uint8  # normalised by the engine
    assert batch["erase"].shape == (8, 4) and batch["erase"].dtype == torch.long
    assert sorted(Counter(batch["pid"].tolist()).values()) == [2, 2, 2, 2]
    assert batch["attrs"].shape == (8, 21) and batch["attrs"].dtype == torch.long
    assert (manager.num_train_pids, manager.num_train_cams) == (6, 6)
    assert manager.attribute_schema is MARS_V2 and manager.data_type == "video"


def test_test_loaders_batch_dense_clips_across_tracklets(tiny_mars_root):
    manager = build_datamanager(tiny_config(tiny_mars_root), use_gpu=False)
    loader = manager.test_loader["mars_attr"]["gallery"]
    view = loader.dataset
    assert view.num_tracklets == 7 and view.pids.tolist() == [0, 0, 2, 2, 4, 6, 6]
    assert view.camids.shape == (7,) and view.attrs.shape == (7, 21) and len(view.img_paths) == 7
    batches = list(loader)
    assert batches[0]["img"].shape == (5, 4, 3, 32, 16)
    clips_per_tracklet = Counter(torch.cat([b["tracklet"] for b in batches]).tolist())
    expected = {i: len(dense_clip_indices(len(paths), 4, 200)) for i, paths in enumerate(view.img_paths)}
    assert clips_per_tracklet == expected


def test_test_datasets_keep_torchreid_tracklet_tuples(tiny_mars_root):
    manager = build_datamanager(tiny_config(tiny_mars_root), use_gpu=False)
    query, gallery = manager.fetch_test_loaders("mars_attr")
    assert (len(query), len(gallery)) == (3, 7)
    assert query is manager.test_dataset["mars_attr"]["query"] and len(query[0]) == 5


def test_cross_dataset_target_reads_its_own_csv_and_schema(tiny_mars_root, tiny_duke_root):
    (tiny_mars_root / "dukemtmc-vidreid").symlink_to(tiny_duke_root / "dukemtmc-vidreid")
    cfg = tiny_config(tiny_mars_root, targets=("dukemtmcvidreid_attr",))
    cfg.attributes.schema = "mars_v2"
    manager = build_datamanager(cfg, use_gpu=False)
    assert manager.attribute_schema is MARS_V2
    assert manager.target_schemas["dukemtmcvidreid_attr"] is DUKE_V2
    assert manager.test_loader["dukemtmcvidreid_attr"]["query"].dataset.attrs.shape == (3, 19)


def test_one_csv_for_several_sources_is_rejected(tmp_path):
    cfg = tiny_config(tmp_path, sources=("mars_attr", "dukemtmcvidreid_attr"))
    cfg.attributes.csv = "some.csv"
    with pytest.raises(ValueError, match="attributes.csv names one file but data.sources has several datasets"):
        build_datamanager(cfg, use_gpu=False)


def test_too_few_identities_for_a_batch_names_the_config_keys(tiny_mars_root):
    cfg = tiny_config(tiny_mars_root)
    cfg.train.batch_size = 16  # 8 identities x 2 needed, 6 available
    with pytest.raises(ValueError, match=r"leaves 6 identities per rank, but train.batch_size 16 / sampler.num_instances 2 needs 8 identities"):
        build_datamanager(cfg, use_gpu=False)


def test_missing_dataset_raises_dataset_not_found(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="mars_attr: 9 required paths not found"):
        build_datamanager(tiny_config(tmp_path / "empty"), use_gpu=False)


def test_image_data_is_rejected(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg.data.type = "image"
    with pytest.raises(ValueError, match="data.type: this plugin handles video data only"):
        build_datamanager(cfg, use_gpu=False)


def test_loader_workers_follow_the_available_cores_unless_set_and_say_so_once(tiny_mars_root, monkeypatch, capsys):
    """data.workers -1 (the default): one worker per core this process may use, shared by torchrun's processes on
    the node, at most 8, and no PyTorch warning about too many workers; an explicit number wins."""
    import warnings

    from aitl_reid.data import datamanager

    assert get_default_config().data.workers == datamanager.AUTO_WORKERS
    monkeypatch.setattr(datamanager.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    cfg = tiny_config(tiny_mars_root)
    cfg.data.workers = -1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "This DataLoader will create 4 worker processes ... suggested max is 2"
        manager = build_datamanager(cfg, use_gpu=False)
        assert next(iter(manager.train_loader))["img"].shape[0] == 8
    assert manager.train_loader.num_workers == 2
    assert all(loader.num_workers == 2 for splits in manager.test_loader.values() for loader in splits.values())
    assert capsys.readouterr().out.count("Loader workers: 2 (2 cores available") == 1
    cfg.data.workers = 3
    with pytest.warns(UserWarning, match="suggested max number of worker"):  # the user's choice, PyTorch's warning
        manager = build_datamanager(cfg, use_gpu=False)
    assert manager.train_loader.num_workers == 3 and "Loader workers" not in capsys.readouterr().out
    monkeypatch.setattr(datamanager.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert datamanager.loader_workers() == datamanager.MAX_AUTO_WORKERS
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun, 4 processes on this node: 16 cores each, capped
    assert datamanager.loader_workers() == 8
    monkeypatch.setattr(datamanager.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert datamanager.loader_workers() == 1  # 2 cores for 4 processes: still one worker each
    with pytest.raises(ValueError, match="data.workers must be -1"):
        datamanager.loader_workers(-2)
