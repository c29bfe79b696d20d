"""AITLEngine hooks without a dataset: NaN guard, atomic checkpoints, per-epoch CSV, clip pooling, lr schedule,
no checkpoint for an epoch not trained, the checkpoints a run may prune, one fast graph per evaluation."""
import contextlib
import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from aitl_reid import distributed
from aitl_reid.config import get_default_config
from aitl_reid.schema import MARS_V2, STREAM_GROUPS
from aitl_reid.engine import (AITLEngine, CheckpointError, EpochLog, IterationCap, NonFiniteLossError,
                              atomic_torch_save, build_scheduler, load_checkpoint, resume)
from aitl_reid.engine.diagnostics import EpochMeans
from aitl_reid.engine import aitl_engine
from aitl_reid.losses import UnifiedLoss
from aitl_reid.models import ReIDOutput
from bench.host_syncs import count_host_syncs


class MeanModel(nn.Module):
    """Embedding = per-clip mean intensity of each channel, so pooled values are checkable by hand."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.classifier = nn.Linear(3, 4, bias=False)

    def forward(self, clips, full_output=False):
        feature = clips.mean(dim=(1, 3, 4)) * self.scale
        return ReIDOutput(logits=self.classifier(feature), features=feature, embedding=feature)


def make_engine(tmp_path, criterion=None, loader=(), pooling="avg", test_loader=None, model=None, momentum=0.0,
                **options):
    datamanager = SimpleNamespace(train_loader=list(loader), test_loader=test_loader or {}, targets=["toy"],
                                  sources=["toy"], attribute_schema=MARS_V2, target_schemas={"toy": MARS_V2},
                                  train_attrs=torch.zeros(4, 21, dtype=torch.long))
    model = model or MeanModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
    criterion = criterion or UnifiedLoss(MARS_V2, aitl_enabled=False, attribute_enabled=False)
    return AITLEngine(datamanager, model, optimizer, criterion, use_gpu=False, save_dir=str(tmp_path),
                      pooling_method=pooling, **options)


def batch(n=4):
    torch.manual_seed(0)
    return {"img": torch.randn(n, 2, 3, 4, 2), "pid": torch.tensor([0, 0, 1, 1][:n]), "attrs": torch.zeros(n, 21, dtype=torch.long)}


class NaNLoss(UnifiedLoss):
    def __init__(self):
        super().__init__(MARS_V2, aitl_enabled=False, attribute_enabled=False)

    def forward(self, output, pids, attrs):
        bad = output.features.sum() * float("nan")
        return bad, {"loss_x": bad.detach()}


def test_nan_loss_stops_training_naming_term_and_iteration_and_leaves_weights_and_checkpoint(tmp_path):
    engine = make_engine(tmp_path, criterion=NaNLoss())
    engine.save_model(0, 0.5, str(tmp_path))
    checkpoint = tmp_path / "model" / "model.pth.tar-1"
    before = checkpoint.read_bytes()
    weights = engine.model.scale.detach().clone()
    engine.batch_idx = 6
    with pytest.raises(NonFiniteLossError, match=r"'loss_x' is nan at epoch 1, iteration 7"):
        engine.forward_backward(batch())
    assert torch.equal(engine.model.scale.detach(), weights)
    assert checkpoint.read_bytes() == before


class AttributeModel(nn.Module):
    """MeanModel with what ASTA adds for the engine: attribute logits and attention per stream (diagnostics)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(3, 8)
        self.classifier = nn.Linear(8, 4)
        self.attribute = nn.ModuleDict({s: nn.Linear(8, MARS_V2.total_classes(s)) for s in STREAM_GROUPS})
        self.attend = nn.Linear(3, 1)

    def forward(self, clips, full_output=False):
        frames = clips.mean(dim=(3, 4))  # [B, T, 3]
        feature = self.embed(frames.mean(1))
        attention = torch.sigmoid(self.attend(frames))[..., None]  # [B, T, 1, 1]
        return ReIDOutput(logits=self.classifier(feature), features=feature, embedding=feature,
                          attr_logits={s: head(feature) for s, head in self.attribute.items()},
                          attention={s: attention for s in self.attribute})


def test_a_training_step_waits_for_the_device_once_with_the_values_read_only_where_printed(tmp_path):
    """The full unified loss (CE, triplet, AITL per stream, attributes) and every diagnostic, over a 5-iteration
    epoch printing every 2: one read per step (the engine's), none more at the end of the epoch; metrics.csv and the
    progress lines still get every value."""
    clips = {"img": torch.randn(6, 2, 3, 4, 2), "pid": torch.tensor([0, 0, 0, 1, 1, 1]),
             "attrs": torch.tensor([[(row * (col + 1)) % k for col, k in enumerate(MARS_V2.num_classes)]
                                    for row in range(6)])}  # 3 tracklets per identity, attributes varying within
    engine = make_engine(tmp_path, criterion=UnifiedLoss(MARS_V2), loader=[clips] * 5, model=AttributeModel(),
                         momentum=0.9)
    engine.epoch, engine.max_epoch = 0, 1
    with count_host_syncs() as syncs, contextlib.redirect_stdout(io.StringIO()) as printed:
        engine.train(print_freq=2)
    assert syncs.count == 5, syncs.events
    assert {(operation, caller.rsplit(":", 1)[0]) for operation, caller in syncs.events} == {
        ("Tensor.tolist", distributed.__file__)}  # distributed.summed_to_host, called by forward_backward
    progress = [line for line in printed.getvalue().splitlines() if line.startswith("epoch: [1/1]")]
    assert [line.split("\t")[0] for line in progress] == ["epoch: [1/1][2/5]", "epoch: [1/1][4/5]"]
    assert "\tloss_aitl_id_relevant " in progress[0] and "\tacc " in progress[0]
    row = EpochLog(str(tmp_path / "metrics.csv")).get(1)
    assert {"loss", "loss_aitl_id_relevant", "attr_train_acc_id_irrelevant", "attn_alive_id_relevant",
            "aitl_agreement_id_relevant", "acc"} <= set(row)


class NaNAtCall(UnifiedLoss):
    """A loss that trains (squared logits) and turns NaN at call ``nan_at`` (1-based)."""

    def __init__(self, nan_at):
        super().__init__(MARS_V2, aitl_enabled=False, attribute_enabled=False)
        self.nan_at, self.calls = nan_at, 0

    def forward(self, output, pids, attrs):
        self.calls += 1
        total = output.logits.square().mean() * (float("nan") if self.calls == self.nan_at else 1.0)
        return total, {"loss_x": total.detach()}


def test_a_nan_loss_at_iteration_k_stops_the_epoch_with_the_weights_after_iteration_k_minus_1(tmp_path):
    criterion = NaNAtCall(nan_at=3)
    engine = make_engine(tmp_path, criterion=criterion, loader=[batch()] * 5, momentum=0.9)
    engine.epoch, engine.max_epoch = 0, 1
    weights = []
    engine.optimizer.register_step_post_hook(lambda *_: weights.append(engine.model.classifier.weight.detach().clone()))
    with pytest.raises(NonFiniteLossError, match=r"'loss_x' is nan at epoch 1, iteration 3"), \
            contextlib.redirect_stdout(io.StringIO()):
        engine.train(print_freq=100)
    assert len(weights) == 2 and not torch.equal(weights[0], weights[1])  # iterations 1 and 2 stepped, and moved
    assert torch.equal(engine.model.classifier.weight, weights[1])
    assert not (tmp_path / "metrics.csv").exists()


def test_forward_backward_returns_each_term_and_updates_weights(tmp_path):
    engine = make_engine(tmp_path)
    before = engine.model.classifier.weight.detach().clone()
    summary = engine.forward_backward(batch())
    assert {"loss_x", "loss_t", "dvdp", "loss", "acc"} <= set(summary)
    assert all(isinstance(v, float) for v in summary.values())
    assert not torch.equal(engine.model.classifier.weight, before)


class ScriptedLoss(UnifiedLoss):
    """Batch i's loss terms are ``loss_x = SCRIPT[i]`` and ``dvdp = 10 * SCRIPT[i]`` (total = loss_x)."""

    SCRIPT = (1.0, 2.0, 6.0)

    def __init__(self):
        super().__init__(MARS_V2, aitl_enabled=False, attribute_enabled=False)
        self.calls = 0

    def forward(self, output, pids, attrs):
        value = self.SCRIPT[self.calls]
        self.calls += 1
        total = output.features.sum() * 0.0 + value
        return total, {"loss_x": total.detach(), "dvdp": torch.tensor(10.0 * value)}


def test_train_epoch_writes_mean_terms_to_metrics_csv(tmp_path):
    engine = make_engine(tmp_path, criterion=ScriptedLoss(), loader=[batch(), batch(), batch()])
    engine.epoch, engine.max_epoch = 0, 1
    engine.train(print_freq=100)
    row = EpochLog(str(tmp_path / "metrics.csv")).get(1)
    assert (row["loss"], row["loss_x"], row["dvdp"], row["lr"]) == pytest.approx((3.0, 3.0, 30.0, 0.1))


def test_checkpoint_stores_plain_numbers_and_resumes(tmp_path):
    engine = make_engine(tmp_path)
    engine.save_model(4, np.float64(0.75), str(tmp_path))
    state = load_checkpoint(str(tmp_path / "model" / "model.pth.tar-5"))
    assert type(state["rank1"]) is float and state["epoch"] == 5
    other = make_engine(tmp_path)
    assert resume(str(tmp_path / "model" / "model.pth.tar-5"), other.model, other.optimizer) == 5


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pth"
    atomic_torch_save({"state_dict": {"w": torch.ones(2)}}, str(path))

    def crash(obj, handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"state_dict": {"w": torch.zeros(2)}}, str(path))
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(str(path))["state_dict"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"]


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.pth"
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.pth"):
        load_checkpoint(str(path))


class ClipSplit(torch.utils.data.Dataset):
    """Three tracklets with 3, 1 and 2 clips; clip value = tracklet * 10 + clip index."""

    owners = [0, 0, 0, 1, 2, 2]
    clip_ids = [0, 1, 2, 0, 0, 1]
    num_tracklets = 3
    pids = np.array([5, 6, 7])
    camids = np.array([0, 1, 0])
    attrs = torch.full((3, 21), -1)

    def __len__(self):
        return len(self.owners)

    def __getitem__(self, i):
        value = self.owners[i] * 10 + self.clip_ids[i]
        return {"img": torch.full((2, 3, 4, 2), float(value)), "tracklet": self.owners[i]}


@pytest.mark.parametrize("pooling, expected", [("avg", [1.0, 10.0, 20.5]), ("max", [2.0, 10.0, 21.0])])
def test_clip_features_pool_per_tracklet_across_batches(tmp_path, pooling, expected):
    engine = make_engine(tmp_path, pooling=pooling)
    engine.model.eval()
    loader = torch.utils.data.DataLoader(ClipSplit(), batch_size=4)  # tracklet 2 spans two batches
    with torch.no_grad():
        pooled = engine.extract_tracklet_features(loader)
    assert torch.allclose(pooled.features[:, 0], torch.tensor(expected))
    assert list(pooled.pids) == [5, 6, 7]


class GallerySplit(ClipSplit):
    """The same three identities seen by another camera."""

    camids = np.array([1, 1, 1])


@pytest.mark.filterwarnings("ignore:gallery has only")
def test_evaluation_builds_the_fast_graph_once_for_both_splits(tmp_path, monkeypatch):
    built = []

    class CountedForward:
        """Stands in for the traced graph: counts how often one is built, computes as the model does."""

        def __init__(self, model, bf16=False):
            built.append(bf16)
            self.model = model

        def __call__(self, clips):
            output = self.model(clips, full_output=True)
            return output.embedding, output.attr_logits

    monkeypatch.setattr(aitl_engine, "FrozenForward", CountedForward)
    splits = {"query": torch.utils.data.DataLoader(ClipSplit(), batch_size=4),
              "gallery": torch.utils.data.DataLoader(GallerySplit(), batch_size=4)}
    engine = make_engine(tmp_path, test_loader={"toy": splits}, eval_backend="fast", evaluate_attributes=False)
    engine.test()
    assert built == [False]
    engine.test()  # the next evaluation (new weights during training) builds its own
    assert built == [False, False]


def test_a_run_with_no_epoch_left_is_refused_before_writing_a_checkpoint(tmp_path):
    engine = make_engine(tmp_path)
    with pytest.raises(ValueError, match="nothing to train: the run starts at epoch 3 and train.max_epoch is 2"):
        engine.run(save_dir=str(tmp_path), max_epoch=2, start_epoch=2)
    assert not (tmp_path / "model").exists() and not (tmp_path / "metrics.csv").exists()


def test_the_checkpoints_a_run_may_prune_are_those_it_wrote_or_continues(tmp_path):
    first = make_engine(tmp_path / "run")
    for epoch in range(3):
        first.save_model(epoch, 0.0, str(tmp_path / "run"))
    assert first.checkpoints.owned == {1, 2, 3}
    continued = make_engine(tmp_path / "run")
    continued.resume(str(tmp_path / "run" / "model" / "model.pth.tar-2"))
    assert continued.checkpoints.owned == {1, 2}  # epoch 3 is not part of the continued run
    elsewhere = make_engine(tmp_path / "other")
    elsewhere.resume(str(tmp_path / "run" / "model" / "model.pth.tar-3"))
    assert elsewhere.checkpoints.owned == set()


def test_iteration_cap_limits_batches_and_length():
    capped = IterationCap(list(range(10)), 3)
    assert len(capped) == 3 and list(capped) == [0, 1, 2]


def lr_per_epoch(cfg, epochs):
    """The lr of each epoch (0-based) when the scheduler steps once per epoch, as torchreid's engine does."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = build_scheduler(cfg, optimizer)
    lrs = []
    for _ in range(epochs):
        lrs.append(round(optimizer.param_groups[0]["lr"], 6))
        optimizer.step()
        scheduler.step()
    return lrs


def test_lr_schedule_warms_up_linearly_then_decays_at_absolute_epochs():
    cfg = get_default_config()
    cfg.train.warmup_epochs, cfg.train.warmup_factor = 4, 0.1
    cfg.train.lr_scheduler, cfg.train.stepsize, cfg.train.gamma = "multi_step", [6, 8], 0.5
    assert lr_per_epoch(cfg, 10) == [0.1, 0.325, 0.55, 0.775, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_lr_warm_up_multiplies_a_decay_that_starts_inside_it():
    cfg = get_default_config()
    cfg.train.warmup_epochs, cfg.train.warmup_factor = 4, 0.2
    cfg.train.lr_scheduler, cfg.train.stepsize, cfg.train.gamma = "single_step", [2, 9], 0.5
    # warm-up 0.2, 0.4, 0.6, 0.8, 1 times a halving every stepsize[0] = 2 epochs
    assert lr_per_epoch(cfg, 7) == [0.2, 0.4, 0.3, 0.4, 0.25, 0.25, 0.125]


def test_resumed_schedule_continues_where_it_stopped(tmp_path):
    cfg = get_default_config()
    cfg.train.warmup_epochs, cfg.train.warmup_factor = 4, 0.1
    cfg.train.lr_scheduler, cfg.train.stepsize, cfg.train.gamma = "multi_step", [6, 8], 0.5

    def build():
        model = nn.Linear(1, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        return model, optimizer, build_scheduler(cfg, optimizer)

    model, optimizer, scheduler = build()
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    state = {"state_dict": model.state_dict(), "epoch": 3, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
    atomic_torch_save(state, str(tmp_path / "ckpt.pth"))
    model, optimizer, scheduler = build()
    assert resume(str(tmp_path / "ckpt.pth"), model, optimizer, scheduler) == 3
    lrs = []
    for _ in range(4):
        lrs.append(round(optimizer.param_groups[0]["lr"], 6))
        optimizer.step()
        scheduler.step()
    assert lrs == [0.775, 1.0, 1.0, 0.5]  # epochs 3-6 of the schedule above


def test_cosine_lr_without_warm_up_follows_half_a_cosine_over_max_epoch():
    cfg = get_default_config()
    cfg.train.warmup_epochs, cfg.train.lr_scheduler, cfg.train.max_epoch = 0, "cosine", 4
    assert lr_per_epoch(cfg, 5) == [1.0, 0.853553, 0.5, 0.146447, 0.0]


def test_unknown_scheduler_is_rejected():
    cfg = get_default_config()
    cfg.train.lr_scheduler = "poly"
    with pytest.raises(ValueError, match="train.lr_scheduler 'poly'"):
        build_scheduler(cfg, torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0))


def epoch_means(prior, steps):
    """EpochMeans after adding each step's values (as the engine does, tensors) and reading them back once."""
    stats = EpochMeans(prior)
    for values in steps:
        stats.add({name: torch.tensor(value) for name, value in values.items()})
    stats.take(stats.pending().tolist())
    return stats


def test_epoch_means_give_prior_losses_and_aitl_agreement_as_ratios_of_sums():
    stats = epoch_means({"id_irrelevant": 0.57, "id_relevant": 0.89}, [
        {"loss_attr_id_irrelevant": 0.4, "aitl_agree_id_irrelevant": 3.0, "aitl_chance_id_irrelevant": 2.0,
         "aitl_anchors_id_irrelevant": 4.0, "attr_train_acc_id_relevant": float("nan")},
        {"loss_attr_id_irrelevant": 0.2, "aitl_agree_id_irrelevant": 5.0, "aitl_chance_id_irrelevant": 2.0,
         "aitl_anchors_id_irrelevant": 6.0, "attr_train_acc_id_relevant": 0.5},
    ])
    means = stats.means()
    assert means["loss_attr_id_irrelevant"] == pytest.approx(0.3)
    assert means["prior_attr_id_irrelevant"] == 0.57 and "prior_attr_id_relevant" not in means  # no such loss logged
    assert means["aitl_agreement_id_irrelevant"] == pytest.approx(8 / 10)
    assert means["aitl_chance_id_irrelevant"] == pytest.approx(4 / 10)
    assert means["aitl_anchors_id_irrelevant"] == 10.0  # the epoch's count of informative anchors
    assert "aitl_agree_id_irrelevant" not in means
    assert means["attr_train_acc_id_relevant"] == 0.5  # a NaN batch (no label) is left out of the mean
    assert stats.latest()["loss_attr_id_irrelevant"] == pytest.approx(0.2)
    stats.reset()
    assert stats.means() == {} and stats.up_to_date


def test_epoch_means_take_a_name_first_seen_later_and_a_name_missing_from_a_step():
    stats = epoch_means({}, [{"a": 1.0}, {"a": 3.0, "b": 10.0}, {"b": 20.0}])
    assert stats.running() == {"a": 2.0, "b": 15.0}
    assert stats.latest()["b"] == 20.0 and math.isnan(stats.latest()["a"])


def test_epoch_without_informative_anchors_reports_no_agreement_rate():
    stats = epoch_means({}, [{"aitl_agree_id_relevant": 0.0, "aitl_chance_id_relevant": 0.0,
                              "aitl_anchors_id_relevant": 0.0}])
    assert stats.means() == {}
