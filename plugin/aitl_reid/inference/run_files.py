"""A trained run on disk -> the config, attribute schema and model needed to use it.

Training writes ``<data.save_dir>/config.yaml`` (:func:`save_run_config`) with the attribute schema
resolved (a run configured with ``attributes.schema auto`` learned the schema of its CSV, which
inference has no CSV to detect from), and stores the same YAML in every checkpoint, so a
checkpoint file alone is enough. :func:`load_trained` accepts either a run folder or a checkpoint.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, Sequence

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present
from yacs.config import CfgNode

from ..config import get_default_config, merge_from_file, merge_from_list
from ..data.datamanager import schema_from_config
from ..models import build_model_from_config
from ..schema import BUILTIN_SCHEMAS, AttributeSchema, get_schema
from ..engine.checkpoint import CheckpointError, best_epoch, list_checkpoints, load_checkpoint, run_dir_of
from ..engine.epoch_log import EpochLog
from ..serialization import atomic_write

CONFIG_FILE = "config.yaml"
CONFIG_KEY = "config"  # checkpoint entry holding the run's config YAML
CLASSIFIER_KEY = "neck.classifier.weight"  # identity classifier: [num_train_ids, D]


class RunError(ValueError):
    """A run folder or checkpoint cannot be loaded; the message says what is missing and what to do."""


def resolved_config(cfg: CfgNode, schema: AttributeSchema) -> CfgNode:
    """``cfg`` with ``attributes`` naming ``schema`` explicitly (built-in name, or the custom fields)."""
    out = cfg.clone()
    out.defrost()
    if BUILTIN_SCHEMAS.get(schema.name) == schema:
        out.attributes.schema = schema.name
    else:
        out.attributes.schema = "custom"
        out.attributes.custom_names = list(schema.names)
        out.attributes.custom_classes = [int(k) for k in schema.num_classes]
        out.attributes.custom_groups = list(schema.groups)
        out.attributes.custom_key_columns = list(schema.key_columns)
    return out


def run_config_text(cfg: CfgNode, schema: AttributeSchema) -> str:
    """The YAML a run stores (``config.yaml`` and the checkpoints' ``config`` entry)."""
    return resolved_config(cfg, schema).dump()


def save_run_config(cfg: CfgNode, schema: AttributeSchema) -> str:
    """Write ``<data.save_dir>/config.yaml`` (schema resolved); returns its path."""
    path = os.path.join(cfg.data.save_dir, CONFIG_FILE)
    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(run_config_text(cfg, schema))
    return path


def config_from_text(text: str, source: str, opts: Sequence[str] = ()) -> CfgNode:
    """Defaults, then a stored config YAML (checked key by key like a config file), then ``KEY VALUE`` overrides."""
    cfg = get_default_config()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as handle:
        handle.write(text)
    try:
        merge_from_file(cfg, handle.name)
    except ValueError as err:
        raise RunError(str(err).replace(handle.name, source)) from err
    finally:
        os.remove(handle.name)
    merge_from_list(cfg, list(opts))
    return cfg


# ---------------------------------------------------------------------------------- checkpoints
def find_checkpoint(run_dir: str, which: str = "latest") -> str:
    """``which`` = ``latest`` (highest epoch), ``best`` (highest mAP in metrics.csv) or a file path."""
    if which not in ("latest", "best"):
        if not os.path.isfile(which):
            raise RunError(f"checkpoint not found: {which}")
        return which
    available = list_checkpoints(run_dir)
    if not available:
        raise RunError(f"{run_dir}: no checkpoint model/model.pth.tar-<epoch>; is it a training run's data.save_dir?")
    if which == "latest":
        return available[max(available)]
    best = best_epoch(EpochLog(os.path.join(run_dir, "metrics.csv")).rows, available)
    if best is None:
        raise RunError(f"{run_dir}: no evaluated epoch with a checkpoint in metrics.csv, so no 'best'; "
                       "use --checkpoint latest or a checkpoint path")
    return available[best]


# ---------------------------------------------------------------------------------- the trained model
@dataclass
class TrainedModel:
    """A trained model in eval mode with what is needed to feed it and read its outputs."""

    cfg: CfgNode
    schema: AttributeSchema
    model: torch.nn.Module
    device: torch.device
    checkpoint: str

    @property
    def attribute_form(self) -> str:
        """How attribute probabilities are read from the logits (the form of the attribute loss)."""
        return str(self.cfg.loss.attribute.type)

    @property
    def input_size(self) -> tuple:
        return int(self.cfg.data.height), int(self.cfg.data.width)


def _read_checkpoint(path: str) -> Dict[str, Any]:
    try:
        return load_checkpoint(path)
    except CheckpointError as err:
        raise RunError(str(err)) from err


def load_trained(source: str, checkpoint: str = "latest", device: str = "cpu", config_file: str = "",
                 opts: Sequence[str] = ()) -> TrainedModel:
    """Load a trained model from a run folder (``data.save_dir``) or a checkpoint file.

    The config comes from ``config_file`` if given, else the checkpoint's stored config, else the
    run's ``config.yaml``; ``opts`` (``KEY VALUE``) override it. ``checkpoint`` picks the run's
    ``latest`` or ``best`` checkpoint, or is a path.
    """
    if os.path.isdir(source):
        run_dir, path = source, find_checkpoint(source, checkpoint)
    elif os.path.isfile(source):
        path = source
        run_dir = run_dir_of(source)
    else:
        raise RunError(f"{source}: no such run folder or checkpoint")
    state = _read_checkpoint(path)
    run_config = os.path.join(run_dir, CONFIG_FILE)
    if config_file:
        with open(config_file, encoding="utf-8") as handle:
            cfg = config_from_text(handle.read(), config_file, opts)
    elif state.get(CONFIG_KEY):
        cfg = config_from_text(str(state[CONFIG_KEY]), f"{path} (stored config)", opts)
    elif os.path.isfile(run_config):
        with open(run_config, encoding="utf-8") as handle:
            cfg = config_from_text(handle.read(), run_config, opts)
    else:
        raise RunError(f"{path} stores no config and {run_config} does not exist; give the training config "
                       "with --config-file (runs trained since config.yaml exists carry it)")
    if cfg.attributes.schema == "auto":
        raise RunError("the run's config leaves attributes.schema 'auto' (detected from the training CSV); add "
                       "'attributes.schema NAME' (mars_v2, duke_v2, mars_v1) for the schema it was trained with")
    cfg.model.pretrained = False  # every weight comes from the checkpoint
    cfg.use_gpu = torch.device(device).type == "cuda"
    cfg.freeze()
    weights = dict(state["state_dict"])
    consume_prefix_in_state_dict_if_present(weights, "module.")
    if CLASSIFIER_KEY not in weights:
        raise RunError(f"{path}: no '{CLASSIFIER_KEY}' in its state_dict; not a model of this plugin?")
    spec = schema_from_config(cfg.attributes)
    schema = spec if isinstance(spec, AttributeSchema) else get_schema(spec)
    model = build_model_from_config(cfg, int(weights[CLASSIFIER_KEY].shape[0]), schema)  # type: ignore[arg-type]
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise RunError(f"{path} does not fit {cfg.model.name} as configured: {err}") from err
    target = torch.device(device)
    return TrainedModel(cfg, schema, model.to(target).eval(), target, path)
