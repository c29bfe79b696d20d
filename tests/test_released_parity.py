"""configs/released_code.yaml against a reference of the authors' released code (tests/released_reference.py).

The reference's weights are copied by name (:mod:`aitl_reid.models.released`) into the model that
released_code.yaml builds; the same clips, identities and attributes go through both, in train and
eval mode. Every output both compute, each loss term, the whole objective and the gradient of every
parameter must agree within 1e-4 (norm-wise relative error, float32). The project's defaults, and
released_code.yaml with any one of its switches turned back, must disagree: the switches are live.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Dict, List, Tuple

import pytest
import torch

from aitl_reid.config import get_default_config, merge_from_file, merge_from_list
from aitl_reid.losses import build_unified_loss
from aitl_reid.models import ReIDOutput, build_model_from_config
from aitl_reid.models.released import plugin_key, to_plugin_state_dict
from aitl_reid.schema import ID_IRRELEVANT, ID_RELEVANT, MARS_V2

from inference_data import one_torch_thread  # noqa: F401  (autouse fixture)
from released_reference import ReleasedVideoModel, released_objective

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASED_CONFIG = os.path.join(REPO, "configs", "released_code.yaml")
TOLERANCE = 1e-4
P, K, T, HEIGHT, WIDTH, IDENTITIES = 4, 4, 4, 64, 32, 10
STREAMS = (ID_IRRELEVANT, ID_RELEVANT)


GRADIENT_FLOOR = 1e-4  # gradients are compared relative to at least this fraction of the largest one's norm


def relative_error(ours: torch.Tensor, theirs: torch.Tensor, floor: float = 0.0) -> float:
    """``||ours - theirs|| / max(||theirs||, floor)`` (a tensor of exact zeros on both sides is 0).

    A gradient that is zero in exact arithmetic (a conv bias followed by BatchNorm in train mode) is float32
    rounding on both sides, and a small bias gradient is a sum with heavy cancellation: gradients are compared
    relative to at least ``GRADIENT_FLOOR`` of the largest gradient's norm.
    """
    ours, theirs = ours.detach().double(), theirs.detach().double()
    scale = max(theirs.norm().item(), floor)
    return (ours - theirs).norm().item() / scale if scale > 0 else (ours - theirs).norm().item()


def released_cfg(depth: int = 18, opts: Tuple[str, ...] = (), config: str = RELEASED_CONFIG):
    cfg = get_default_config()
    if config:
        merge_from_file(cfg, config)
    merge_from_list(cfg, ["model.name", f"asta_resnet{depth}", "model.pretrained", "False", "data.height",
                          str(HEIGHT), "data.width", str(WIDTH), "attributes.schema", "mars_v2", *opts])
    return cfg


@functools.lru_cache(maxsize=None)
def reference_state(depth: int) -> Dict[str, torch.Tensor]:
    """Weights of the reference, every weight and BatchNorm statistic drawn at random so eval mode is not trivial."""
    torch.manual_seed(depth)
    model = ReleasedVideoModel(depth, IDENTITIES, [MARS_V2.total_classes(s) for s in STREAMS], (HEIGHT // 16, WIDTH // 16))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 2.0)
        for stream in (model.multi_attr_recoger1, model.multi_attr_recoger2):
            stream.classifier.weight.normal_(0, 0.05)  # wide enough that attribute distances are far from ties
    return {k: v.clone() for k, v in model.state_dict().items()}


def reference_model(depth: int) -> ReleasedVideoModel:
    model = ReleasedVideoModel(depth, IDENTITIES, [MARS_V2.total_classes(s) for s in STREAMS], (HEIGHT // 16, WIDTH // 16))
    model.load_state_dict(reference_state(depth))
    return model


@functools.lru_cache(maxsize=None)
def reference_forward(depth: int, training: bool) -> Dict[str, torch.Tensor]:
    """The reference's outputs on :func:`batch` (eval mode: its first 6 clips), computed once."""
    model = reference_model(depth).train(training)
    clips = batch()[0] if training else batch()[0][:6]
    with torch.no_grad():
        return model(clips)


def plugin_model(cfg, depth: int, strict: bool = True) -> torch.nn.Module:
    """The model ``cfg`` builds with the reference's weights copied in by name (all of them when ``strict``;
    for another configuration, what fits by name and shape)."""
    model = build_model_from_config(cfg, IDENTITIES, MARS_V2)
    weights = to_plugin_state_dict(reference_state(depth))
    if not strict:
        own = model.state_dict()
        weights = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(weights, strict=strict)
    return model


@functools.lru_cache(maxsize=None)
def batch() -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(7)
    clips = torch.randn(P * K, T, 3, HEIGHT, WIDTH, generator=generator)
    pids = torch.arange(P).repeat_interleave(K)
    attrs = torch.stack([torch.randint(0, k, (P * K,), generator=generator) for k in MARS_V2.num_classes], 1)
    one_hot = {s: MARS_V2.one_hot(attrs, s)[0] for s in STREAMS}
    return clips, pids, attrs, one_hot


def plugin_outputs(model: torch.nn.Module, clips: torch.Tensor) -> Dict[str, Any]:
    """The plugin model's outputs under the reference's names (backbone maps through a forward hook)."""
    seen: List[torch.Tensor] = []
    hook = model.backbone.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        out = model(clips, full_output=True)
    finally:
        hook.remove()
    named = {"maps": seen[0], "reid_attention": out.reid_attention, "features": out.features,
             "embedding": out.embedding, "logits": out.logits, "output": out}
    for stream in STREAMS:
        named[f"attention_{stream}"] = out.attention.get(stream)
        named[f"attr_{stream}"] = out.attr_logits.get(stream)
    return named


def compare_forward(ours: Dict[str, Any], theirs: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """Relative error per output of the reference; one the plugin does not compute, or of another shape, is inf."""
    return {name: relative_error(ours[name], value)
            if ours.get(name) is not None and ours[name].shape == value.shape else float("inf")
            for name, value in theirs.items()}


def train_step(cfg) -> Dict[str, float]:
    """Relative errors of every train-mode output, loss term, the objective and every parameter's gradient (ResNet-18)."""
    reference, model = reference_model(18).train(), plugin_model(cfg, 18).train()
    clips, pids, attrs, one_hot = batch()
    theirs, ours = reference(clips), plugin_outputs(model, clips)
    errors = compare_forward(ours, theirs)
    their_terms = released_objective(theirs, pids, one_hot)
    total, our_terms = build_unified_loss(cfg, MARS_V2)(ours["output"], pids, attrs)
    our_terms["total"] = total
    errors.update({name: relative_error(our_terms[name], value) for name, value in their_terms.items()})
    their_terms["total"].backward()
    total.backward()
    own = dict(model.named_parameters())
    gradients = {name: p.grad for name, p in reference.named_parameters() if p.grad is not None}  # not the frozen bias
    floor = GRADIENT_FLOOR * max(g.norm().item() for g in gradients.values())
    for released_name, theirs_grad in gradients.items():
        mine = own[plugin_key(released_name)]
        errors[f"grad {released_name}"] = relative_error(
            mine.grad if mine.grad is not None else torch.zeros_like(mine), theirs_grad, floor)
    return errors


def forward_errors(cfg, depth: int = 18, training: bool = False, strict: bool = True) -> Dict[str, float]:
    """Relative errors of every output of one forward pass (train mode: every output both compute, the
    attribute logits included; eval mode: also the test feature the model returns)."""
    model = plugin_model(cfg, depth, strict).train(training)
    clips = batch()[0] if training else batch()[0][:6]
    theirs = reference_forward(depth, training)
    with torch.no_grad():
        errors = compare_forward(plugin_outputs(model, clips), theirs)
        if not training:
            errors["eval-mode output"] = relative_error(model(clips), theirs["embedding"])
    return errors


def worst(errors: Dict[str, float]) -> Tuple[str, float]:
    name = max(errors, key=errors.get)
    return name, errors[name]


def test_released_config_reproduces_the_released_training_step() -> None:
    """ResNet-18 (the training step's code is the same for every depth; ResNet-50's forward is checked below)."""
    errors = train_step(released_cfg(18))
    assert len(errors) > 100  # outputs, 7 loss quantities and a gradient per parameter
    failing = {name: e for name, e in errors.items() if not e <= TOLERANCE}
    assert not failing, f"{len(failing)} of {len(errors)} differ by more than {TOLERANCE}: {sorted(failing.items())[:8]}"


@pytest.mark.parametrize("depth", [18, 50])
def test_released_config_reproduces_the_released_test_features(depth: int) -> None:
    errors = forward_errors(released_cfg(depth), depth)
    assert {"maps", "reid_attention", "attention_id_relevant", "embedding", "eval-mode output"} <= set(errors)
    name, error = worst(errors)
    assert error <= TOLERANCE, f"{name} differs by {error:.3g}"


def test_project_defaults_differ_from_the_released_code() -> None:
    errors = forward_errors(released_cfg(config=""), training=True, strict=False)
    assert errors["maps"] > 1e-2 and errors["features"] > 1e-2, errors


# Each switch of released_code.yaml turned back to the project's default (or the paper's choice, for the
# loss): the parity must then fail. A switch that changed nothing would not be reproducing anything.
MODEL_SWITCHES = [
    ("model.asta.stem_relu", "True"),
    ("model.asta.fused_copy_input", "features"),
    ("model.asta.fused_order", "relevant_first"),
    ("model.asta.attribute_bn", "True"),
    ("model.asta.attention_norm", "True"),
    ("model.asta.attention_pooling", "normalised"),
]
LOSS_SWITCHES = [
    ("loss.aitl.attribute_distance", "cosine"),
    ("loss.aitl.distance", "euclidean"),
    ("loss.aitl.include_anchor", "False"),
    ("loss.aitl.attribute_input", "prob"),
    ("loss.aitl.average_triplets", "False"),
    ("loss.attribute.type", "softmax"),
]


@pytest.mark.parametrize("key,value", MODEL_SWITCHES)
def test_each_model_switch_is_needed_for_the_released_forward(key: str, value: str) -> None:
    errors = forward_errors(released_cfg(opts=(key, value)), training=True, strict=False)
    assert worst(errors)[1] > 1e-3, f"{key} {value} still reproduces the released forward: the switch is dead"


def test_stream_conv_bias_is_needed_for_the_released_test_features() -> None:
    """In train mode the stream conv's bias is cancelled by the BatchNorm after it; eval mode shows it."""
    errors = forward_errors(released_cfg(opts=("model.asta.stream_conv_bias", "False")), strict=False)
    assert errors["attention_id_relevant"] > 1e-3 and errors["attention_id_irrelevant"] > 1e-3


@pytest.fixture(scope="module")
def released_outputs():
    """The reference's train-mode outputs as the plugin's ReIDOutput, with the batch and the released loss terms."""
    theirs = reference_forward(18, True)
    _, pids, attrs, one_hot = batch()
    output = ReIDOutput(logits=theirs["logits"], features=theirs["features"], embedding=theirs["embedding"],
                        attr_logits={s: theirs[f"attr_{s}"] for s in STREAMS})
    return output, pids, attrs, released_objective(theirs, pids, one_hot)


def objective_errors(cfg, released_outputs) -> Dict[str, float]:
    output, pids, attrs, theirs = released_outputs
    total, ours = build_unified_loss(cfg, MARS_V2)(output, pids, attrs)
    ours["total"] = total
    return {name: relative_error(ours[name], value) for name, value in theirs.items()}


def test_released_objective_on_the_same_outputs(released_outputs) -> None:
    name, error = worst(objective_errors(released_cfg(), released_outputs))
    assert error <= TOLERANCE, f"{name} differs by {error:.3g}"


@pytest.mark.parametrize("key,value", LOSS_SWITCHES)
def test_each_loss_switch_is_needed_for_the_released_objective(key: str, value: str, released_outputs) -> None:
    errors = objective_errors(released_cfg(opts=(key, value)), released_outputs)
    assert worst(errors)[1] > 1e-3, f"{key} {value} still reproduces the released objective: the switch is dead"


def test_detached_streams_are_needed_for_the_released_gradients() -> None:
    errors = train_step(released_cfg(opts=("model.asta.detach_streams", "False")))
    name, error = worst(errors)
    assert name.startswith("grad base.") and error > 1e-3, "detach_streams False still gives the released gradients"


def test_released_initialisation_follows_the_released_schemes() -> None:
    """He normal (fan-in) with zero bias on the attention and stream convs, N(0, 0.001) stream classifiers."""
    torch.manual_seed(0)
    model = build_model_from_config(released_cfg(50), IDENTITIES, MARS_V2)
    stream = model.streams[ID_RELEVANT]
    for conv in (stream.conv[0], stream.attention.spatial.conv, stream.attention.temporal, model.reid_attention.conv):
        fan_in = conv.weight[0].numel()
        assert conv.weight.std().item() == pytest.approx((2.0 / fan_in) ** 0.5, rel=0.1)
        assert torch.count_nonzero(conv.bias) == 0
    assert stream.classifier.weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert torch.count_nonzero(stream.classifier.bias) == 0
    default = build_model_from_config(released_cfg(50, ("model.asta.init", "torch")), IDENTITIES, MARS_V2)
    assert default.streams[ID_RELEVANT].classifier.weight.std().item() > 0.005  # PyTorch's uniform(+-1/sqrt(fan_in))
