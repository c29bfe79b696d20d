"""Importing aitl_reid registers its components with torchreid, idempotently, through public attributes only."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torchreid

import aitl_reid
from aitl_reid import _torchreid, registry
from aitl_reid.models import ASTA

PLUGIN = Path(__file__).resolve().parents[1] / "plugin" / "aitl_reid"
SHARED_ATTRIBUTES = ("models", "data", "engine", "utils", "metrics", "losses", "optim")


FRESH_INTERPRETER = """
import importlib, torchreid, aitl_reid
print(sorted(aitl_reid.list_datasets()), flush=True)
from aitl_reid import _torchreid, registry
for module in ("aitl_reid.data.mars", "aitl_reid.data.duke", "aitl_reid.models.asta", "aitl_reid.models.temporal_pooling"):
    importlib.reload(importlib.import_module(module))
importlib.reload(aitl_reid)
assert _torchreid.video_dataset_registry()["mars_attr"] is importlib.import_module("aitl_reid.data.mars").MarsAttr
assert "asta_resnet50" in registry.list_models("asta_*")
assert registry.list_models("asta_*") == sorted(n for n in _torchreid.model_factory() if n.startswith("asta_"))
print("reloaded")
"""


@pytest.fixture(scope="module")
def fresh_interpreter():
    """One interpreter for both checks that need one: the first import, then the modules imported again (run apart
    from this process: reloading changes classes)."""
    return subprocess.run([sys.executable, "-c", FRESH_INTERPRETER], capture_output=True, text=True, timeout=120)


def test_import_torchreid_and_aitl_reid_in_a_fresh_interpreter(fresh_interpreter):
    first_line = fresh_interpreter.stdout.splitlines()[0] if fresh_interpreter.stdout else ""
    assert first_line == "['dukemtmcvidreid_attr', 'mars_attr']", fresh_interpreter.stderr


def test_plugin_reaches_torchreid_only_through_attributes_both_layouts_share():
    pattern = re.compile(r"^\s*(from\s+torchreid[\.\w]*\s+import|import\s+torchreid\.)", re.M)
    offenders = [str(p.relative_to(PLUGIN)) for p in PLUGIN.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
    used = set(re.findall(r"_torchreid\.(\w+)", "\n".join(p.read_text() for p in PLUGIN.rglob("*.py"))))
    assert used - {"video_dataset_registry", "model_factory"} <= set(SHARED_ATTRIBUTES)  # its own helpers
    for name in SHARED_ATTRIBUTES:
        assert getattr(_torchreid, name) is getattr(torchreid, name)


def test_models_and_datasets_are_in_torchreids_factories():
    factory = _torchreid.model_factory()
    for name in aitl_reid.list_models():
        assert factory[name] is registry._MODELS[name]
    assert {"asta_resnet50", "tp_resnet50", "asta_resnet18", "asta_osnet_x1_0", "asta_resnet50_ibn_a"} <= set(aitl_reid.list_models())
    for name in ("mars_attr", "dukemtmcvidreid_attr"):
        assert name in _torchreid.video_dataset_registry()
    model = torchreid.models.build_model("asta_resnet18", num_classes=3, loss="softmax", pretrained=False)
    assert isinstance(model, ASTA)


def test_importing_the_modules_again_is_harmless(fresh_interpreter):
    """Reloading re-registers the same names instead of raising."""
    assert fresh_interpreter.returncode == 0, fresh_interpreter.stderr
    assert fresh_interpreter.stdout.splitlines()[-1] == "reloaded"


def test_list_models_filters_with_wildcards():
    assert registry.list_models("*_resnet50") == ["asta_resnet50", "tp_resnet50"]
    baselines = registry.list_models("tp_*")
    assert {"tp_resnet18", "tp_resnet50", "tp_resnet50_ibn_a", "tp_osnet_x1_0"} <= set(baselines)
    assert [n for n in baselines if not n.startswith("tp_")] == []
    assert registry.is_model("asta_resnet50") and not registry.is_model("resnet50")
