"""The encoder's features are the evaluation's (dense clips, pooled per tracklet) whatever the batch
size; the faster CPU paths agree with the exact one within their stated tolerance; training stores
the config that inference loads."""
from pathlib import Path

import numpy as np
import pytest
import torch

from aitl_reid.data.image_io import read_frames
from aitl_reid.data.sampling import dense_clip_indices
from aitl_reid.inference import TorchForward, TrackletEncoder, load_trained, read_tracklet_folders
from aitl_reid.inference.fast import build_forward
from aitl_reid.models.frozen import BF16_RELATIVE_TOLERANCE, FrozenForward
from aitl_reid.run_folder import CONFIG_FILE
from aitl_reid.serialization import safe_torch_load
from inference_data import one_torch_thread  # noqa: F401  (autouse fixture)
from inference_data import make_run, write_tracklets

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_and_tracklets(tmp_path_factory):
    root = tmp_path_factory.mktemp("fast")
    make_run(root / "run")
    write_tracklets(root / "in", [0, 1, 2], frames=7)  # 7 frames, T = 4: two clips, the second padded
    return load_trained(str(root / "run")), read_tracklet_folders(str(root / "in"))


def test_features_are_the_mean_of_the_dense_clip_features_whatever_the_batch_size(run_and_tracklets):
    trained, tracklets = run_and_tracklets
    encoder = TrackletEncoder(trained, batch_size=1, workers=0, progress=False)
    by_one = encoder.encode(tracklets)
    encoder.batch_size = 5  # batches mix clips of different tracklets
    by_five = encoder.encode(tracklets)
    assert torch.allclose(by_one.features, by_five.features, atol=1e-5)
    # by hand: frames of each dense clip [0 1 2 3], [4 5 6 4], normalised, through the model, averaged
    frames = dense_clip_indices(7, 4, 200)
    assert frames.tolist() == [[0, 1, 2, 3], [4, 5, 6, 4]]
    clips = torch.stack([encoder.transform(read_frames(tracklets[1].frames, f)) for f in frames])
    with torch.no_grad():
        out = trained.model(clips, full_output=True)
    assert torch.allclose(by_five.features[1], out.embedding.mean(0), atol=1e-5)
    assert torch.allclose(by_five.attr_logits["id_irrelevant"][1], out.attr_logits["id_irrelevant"].mean(0), atol=1e-5)


def test_frozen_graph_equals_the_exact_path_within_float_rounding_for_every_batch_shape(run_and_tracklets):
    trained, _ = run_and_tracklets
    exact, frozen = TorchForward(trained.model, trained.device), FrozenForward(trained.model)
    for batch in (3, 2, 3):  # a new shape traces a new graph; a known one reuses it
        clips = torch.randn(batch, 4, 3, 64, 32, generator=torch.Generator().manual_seed(batch))
        (want, want_attr), (got, got_attr) = exact(clips), frozen(clips)
        scale = float(want.abs().max())
        assert float((got - want).abs().max()) <= 1e-5 * max(scale, 1.0)
        assert set(got_attr) == set(want_attr) == {"id_relevant", "id_irrelevant"}
        for stream in want_attr:
            assert torch.allclose(got_attr[stream], want_attr[stream], atol=1e-4)
    assert len(frozen.graphs) == 2


def test_bf16_path_is_within_its_stated_tolerance_and_leaves_the_model_alone(run_and_tracklets):
    trained, _ = run_and_tracklets
    clips = torch.randn(4, 4, 3, 64, 32, generator=torch.Generator().manual_seed(0))
    want, want_attr = TorchForward(trained.model, trained.device)(clips)
    got, got_attr = build_forward(trained, backend="bf16")(clips)
    assert got.dtype == torch.float32
    assert float((got - want).abs().max()) <= BF16_RELATIVE_TOLERANCE * float(want.abs().max())
    for stream in want_attr:
        assert float((got_attr[stream] - want_attr[stream]).abs().max()) <= BF16_RELATIVE_TOLERANCE * float(want_attr[stream].abs().max())
    conv = next(m for m in trained.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous() and conv.weight.requires_grad  # the bf16 graph was made from a copy


def test_build_forward_picks_the_backend():
    class Trained:  # only what build_forward reads
        model, device = torch.nn.Identity(), torch.device("cpu")

    assert isinstance(build_forward(Trained(), backend="fast"), FrozenForward)
    assert build_forward(Trained(), backend="bf16").bf16
    assert isinstance(build_forward(Trained(), backend="exact"), TorchForward)
    with pytest.raises(ValueError, match="backend must be one of"):
        build_forward(Trained(), backend="int8")


@pytest.mark.filterwarnings("ignore:gallery has only")
def test_training_writes_the_resolved_config_and_stores_it_in_checkpoints(tiny_mars_root, tmp_path):
    from aitl_reid.train import main

    save_dir = tmp_path / "run"
    args = ["--config-file", str(REPO / "configs" / "asta_aitl_synthetic.yaml"), "data.root", str(tiny_mars_root),
            "data.save_dir", str(save_dir), "data.height", "64", "data.width", "32", "data.workers", "0",
            "train.batch_size", "8", "sampler.num_instances", "4", "train.warmup_epochs", "0", "train.max_epoch", "1",
            "train.max_iters_per_epoch", "1", "train.print_freq", "100", "test.batch_size", "32", "attributes.schema", "auto"]
    assert main(args) == 0
    text = (save_dir / CONFIG_FILE).read_text()
    assert "schema: mars_v2" in text  # 'auto' resolved from the CSV header
    checkpoint = safe_torch_load(str(save_dir / "model" / "model.pth.tar-1"))
    assert checkpoint["config"] == text
    trained = load_trained(str(save_dir / "model" / "model.pth.tar-1"))
    assert trained.cfg.data.height == 64 and trained.schema.name == "mars_v2"
    assert np.isclose(float(trained.model.neck.bn.running_mean.abs().sum()),
                      float(checkpoint["state_dict"]["neck.bn.running_mean"].abs().sum()))


def test_engine_evaluation_with_the_fast_backend_gives_the_exact_features(tiny_mars_root, tmp_path):
    from aitl_reid.data import build_datamanager
    from aitl_reid.engine import build_engine, build_optimizer
    from aitl_reid.launch import load_config
    from aitl_reid.models import build_model_from_config

    opts = ["data.root", str(tiny_mars_root), "data.save_dir", str(tmp_path), "data.height", "64", "data.width", "32",
            "data.workers", "0", "train.batch_size", "8", "sampler.num_instances", "4", "test.batch_size", "5",
            "model.name", "asta_resnet18", "model.pretrained", "False"]
    features = {}
    for backend in ("exact", "fast"):
        cfg = load_config(str(REPO / "configs" / "asta_aitl_synthetic.yaml"), opts + ["test.backend", backend])
        datamanager = build_datamanager(cfg)
        torch.manual_seed(0)
        model = build_model_from_config(cfg, datamanager.num_train_pids, datamanager.attribute_schema).eval()
        engine = build_engine(cfg, datamanager, model, build_optimizer(cfg, model))
        features[backend] = engine.extract_tracklet_features(datamanager.test_loader["mars_attr"]["gallery"])
    assert torch.allclose(features["fast"].features, features["exact"].features, atol=1e-5)
    for stream, logits in features["exact"].attr_logits.items():
        assert torch.allclose(features["fast"].attr_logits[stream], logits, atol=1e-4)
