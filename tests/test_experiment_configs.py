"""Every shipped config (configs/, recursively) builds its data manager, model and loss, and trains one batch.

Tiny synthetic MARS and Duke trees stand in for the real datasets; frames are 32x16 and ResNet-50
models are built on ResNet-18 (same family, same switches) so the whole sweep stays fast.
"""
from pathlib import Path

import pytest
import torch

import aitl_reid
from aitl_reid.config import get_default_config, merge_from_file, merge_from_list
from aitl_reid.data import build_datamanager
from aitl_reid.engine.training_step import TrainingStep
from aitl_reid.losses import build_unified_loss
from aitl_reid.models import build_model_from_config

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(CONFIG_DIR.rglob("*.yaml"))
CONFIG_IDS = [str(p.relative_to(CONFIG_DIR)) for p in CONFIGS]


def load(path, *opts):
    cfg = get_default_config()
    merge_from_file(cfg, str(path))
    merge_from_list(cfg, list(opts))
    return cfg


@pytest.fixture
def tiny_data_root(tmp_path, make_tiny_mars, make_tiny_duke):
    """One root holding both tiny datasets, as cross-dataset configs need."""
    root = tmp_path / "both"
    root.mkdir()
    (root / "mars").symlink_to(make_tiny_mars() / "mars")
    (root / "dukemtmc-vidreid").symlink_to(make_tiny_duke() / "dukemtmc-vidreid")
    return root


# beside the shipped configs: the ablation's control with the attribute losses off, whose streams' classifiers get no
# gradient (the one configuration where DDP must look for unused parameters)
CASES = [(p, ()) for p in CONFIGS] + [(CONFIG_DIR / "asta_aitl_mars.yaml", ("loss.attribute.enabled", "False",
                                                                         "loss.aitl.enabled", "False"))]
CASE_IDS = CONFIG_IDS + ["asta_aitl_mars.yaml-attribute_losses_off"]


@pytest.mark.parametrize("path, opts", CASES, ids=CASE_IDS)
def test_config_builds_and_trains_one_batch_on_tiny_data(path, opts, tiny_data_root, tmp_path):
    shipped = load(path)
    assert shipped.model.name in aitl_reid.list_models()
    cfg = load(path, "model.name", shipped.model.name.replace("resnet50", "resnet18"), "model.pretrained", "False",
               "data.root", str(tiny_data_root), "data.height", "32", "data.width", "16", "data.workers", "0",
               "data.save_dir", str(tmp_path / "log"), "train.batch_size", "8", "test.batch_size", "8", *opts)

    datamanager = build_datamanager(cfg, use_gpu=False)
    assert list(datamanager.test_loader) == list(cfg.data.targets)
    model = build_model_from_config(cfg, datamanager.num_train_pids, datamanager.attribute_schema)
    criterion = build_unified_loss(cfg, datamanager.attribute_schema)
    batch = next(iter(datamanager.train_loader))
    clips = datamanager.transform_tr.finish(batch["img"], batch["erase"])  # as the engine does on arrival
    total, terms = criterion(model.train()(clips), batch["pid"], batch["attrs"])

    assert torch.isfinite(total)
    intra_terms = {name for name in terms if name.startswith(("loss_aitl_", "loss_itl"))}
    assert bool(intra_terms) == cfg.loss.aitl.enabled
    assert ("loss_attr" in terms) == cfg.loss.attribute.enabled
    total.backward()  # DDP looks for parameters without gradient (an extra pass each step) only where there are some
    untrained = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert TrainingStep(model, criterion).leaves_parameters_unused == bool(untrained), untrained


def test_every_experiment_writes_to_its_own_save_dir():
    save_dirs = [load(path).data.save_dir for path in CONFIGS]
    assert len(set(save_dirs)) == len(save_dirs)


def test_configs_readme_lists_every_config():
    readme = (CONFIG_DIR / "README.md").read_text()
    missing = [name for name in CONFIG_IDS if f"`{name}`" not in readme]
    assert missing == []
