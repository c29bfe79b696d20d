"""A training run's folder (``data.save_dir``): the one place that knows what lies in it and reads it back.

    config.yaml                    the run's config, attribute schema resolved (:func:`save_run_config`)
    metrics.csv                    one row per epoch (written by ``engine.EpochLog``, read by :func:`read_metrics`)
    model/model.pth.tar-<epoch>    checkpoints (torchreid's naming), each also holding config.yaml's text
    log.txt, events.out.tfevents.*, attributes_<dataset>.txt    the training log, tensorboard, attribute report
    test.log, evaluation_<checkpoint>.json                      what ``test.evaluate True`` runs write
    previous-run-<date>/           an earlier run moved aside by ``train.existing_run move_aside``
    .aitl-reid.lock                held by the command writing the folder (:mod:`aitl_reid.folder_lock`)

The trainer, the figure tools and inference all list, choose and load checkpoints here, so the
rules (latest, best by mAP, which ones pruning may delete) exist once. A folder holds one run: a
new run refuses to start in a folder holding another run's checkpoints or epoch rows
(:func:`prepare_run_dir`), since pruning, ``model.resume auto`` and ``--checkpoint latest``
would otherwise mix the two. This module imports neither ``engine`` nor ``inference``; both import it.
"""
from __future__ import annotations

import csv
import glob
import os
import re
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present
from yacs.config import CfgNode

from .config import ConfigError, get_default_config, merge_from_file, merge_from_list
from .data.datamanager import schema_from_config
from .folder_lock import LOCK_FILE
from .models import build_model_from_config
from .schema import BUILTIN_SCHEMAS, AttributeSchema, get_schema
from .serialization import UntrustedFileError, atomic_write, safe_torch_load

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
CHECKPOINT_DIR = "model"
CONFIG_KEY = "config"  # checkpoint entry holding the run's config YAML
CLASSIFIER_KEY = "neck.classifier.weight"  # identity classifier: [num_train_ids, D]
PREVIOUS_RUN_PREFIX = "previous-run-"
EXISTING_RUN_CHOICES = ("refuse", "move_aside")
_EPOCH = re.compile(r"^model\.pth\.tar-(\d+)$")

Rows = Mapping[int, Mapping[str, float]]


class RunError(ValueError):
    """A run folder or checkpoint cannot be used; the message says what is missing and what to do."""


class CheckpointError(RunError):
    """A checkpoint file is missing, unreadable or does not fit the model."""


# ---------------------------------------------------------------------------------- paths
def checkpoint_path(run_dir: str, epoch: int) -> str:
    """Where the checkpoint of ``epoch`` (1-based, completed epochs) of a run goes."""
    return os.path.join(run_dir, CHECKPOINT_DIR, f"model.pth.tar-{epoch}")


def metrics_path(run_dir: str) -> str:
    return os.path.join(run_dir, METRICS_FILE)


def attribute_report_path(run_dir: str, dataset: str) -> str:
    """The per-attribute table an evaluation on ``dataset`` writes (accuracy and F1 against the majority class)."""
    return os.path.join(run_dir, f"attributes_{dataset}.txt")


def run_dir_of(path: str) -> str:
    """The run folder (``data.save_dir``) a checkpoint file lies in: ``<run>/model/<file>``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(path)))


def same_path(a: str, b: str) -> bool:
    """Whether two spellings (relative, absolute, through links) name the same file or folder."""
    return os.path.realpath(a) == os.path.realpath(b)


def evaluation_path(run_dir: str, weights: str) -> str:
    """Where ``test.evaluate True`` writes the results of the checkpoint ``weights`` (named after it)."""
    return os.path.join(run_dir, f"evaluation_{os.path.basename(weights) or 'initial-weights'}.json")


# ---------------------------------------------------------------------------------- checkpoints
def list_checkpoints(run_dir: str) -> Dict[int, str]:
    """``{epoch: path}`` of the checkpoints of a run; temporary files of an interrupted write are not listed."""
    found = {}
    for path in glob.glob(os.path.join(run_dir, CHECKPOINT_DIR, "model.pth.tar-*")):
        match = _EPOCH.match(os.path.basename(path))
        if match:
            found[int(match.group(1))] = path
    return found


def load_checkpoint(path: str) -> Dict[str, Any]:
    """A training checkpoint (``state_dict``, ``epoch``, ``optimizer``, ``scheduler``, ...) read safely."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = safe_torch_load(path)
    except ValueError as err:
        raise CheckpointError(str(err)) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} holds no 'state_dict'; expected a checkpoint written by aitl-reid or torchreid")
    return checkpoint


def latest_complete_checkpoint(run_dir: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    """The newest checkpoint of ``run_dir`` that reads back completely, with its content; None if there is none.

    Writes are atomic, so a newer unreadable file means damage after the write (a full disk, a copy
    cut short): it is reported and the next older one is tried. A file holding objects that could run
    code is not damage but something to look at: that stops the search.
    """
    for epoch, path in sorted(list_checkpoints(run_dir).items(), reverse=True):
        try:
            return path, load_checkpoint(path)
        except CheckpointError as err:
            if isinstance(err.__cause__, UntrustedFileError):
                raise
            print(f"warning: skipping checkpoint of epoch {epoch}: {err}")
    return None


def best_epoch(rows: Rows, available: Iterable[int]) -> Optional[int]:
    """Among ``available`` epochs, the one with the highest ``mAP`` in the epoch rows (the later on a tie)."""
    scored = [(rows[epoch]["mAP"], epoch) for epoch in available if "mAP" in rows.get(epoch, {})]
    return max(scored)[1] if scored else None


def find_checkpoint(run_dir: str, which: str = "latest") -> str:
    """``which`` = ``latest`` (highest epoch), ``best`` (highest mAP in metrics.csv) or a file path."""
    if which not in ("latest", "best"):
        if not os.path.isfile(which):
            raise RunError(f"checkpoint not found: {which}")
        return which
    available = list_checkpoints(run_dir)
    if not available:
        raise RunError(f"{run_dir}: no checkpoint {CHECKPOINT_DIR}/model.pth.tar-<epoch>; is it a training run's "
                       "data.save_dir?")
    if which == "latest":
        return available[max(available)]
    best = best_epoch(read_metrics(metrics_path(run_dir)), available)
    if best is None:
        raise RunError(f"{run_dir}: no evaluated epoch with a checkpoint in {METRICS_FILE}, so no 'best'; "
                       "use --checkpoint latest or a checkpoint path")
    return available[best]


def prune_checkpoints(run_dir: str, keep: int, rows: Rows, owned: Iterable[int]) -> List[int]:
    """Delete the checkpoints of ``owned`` epochs (the current run's) beyond the ``keep`` newest of them, never
    its best (by mAP) or its last; returns the epochs deleted. Other files in ``model/`` are never touched,
    whatever their epoch. ``keep`` 0 keeps every checkpoint."""
    available = list_checkpoints(run_dir)
    mine = sorted((epoch for epoch in set(owned) if epoch in available), reverse=True)
    if keep <= 0 or len(mine) <= keep:
        return []
    protected = set(mine[:keep]) | {mine[0], best_epoch(rows, mine)}
    deleted = [epoch for epoch in mine if epoch not in protected]
    for epoch in deleted:
        os.remove(available[epoch])
    return deleted


def model_weights(checkpoint: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """A checkpoint's ``state_dict`` without the ``module.`` prefix of ``nn.DataParallel``."""
    weights = dict(checkpoint["state_dict"])
    consume_prefix_in_state_dict_if_present(weights, "module.")
    return weights


def load_weights_into(model: torch.nn.Module, weights: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``weights`` into ``model``, every tensor name and shape matching; a mismatch names ``source``."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(f"{source} does not fit the model: {err}") from err


# ---------------------------------------------------------------------------------- metrics rows
def read_metrics(path: str) -> Dict[int, Dict[str, float]]:
    """``{epoch: {column: value}}`` of a ``metrics.csv`` (empty cells left out); empty if there is no file."""
    rows: Dict[int, Dict[str, float]] = {}
    if not os.path.isfile(path):
        return rows
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            epoch = int(row.pop("epoch"))
            rows[epoch] = {k: float(v) for k, v in row.items() if v not in ("", None)}
    return rows


# ---------------------------------------------------------------------------------- one run per folder
def held_run(run_dir: str) -> str:
    """What ``run_dir`` holds of a training run (its checkpoints and epoch rows), in words; empty if nothing."""
    held = []
    epochs = sorted(list_checkpoints(run_dir))
    if epochs:
        shown = ", ".join(map(str, epochs)) if len(epochs) <= 4 else f"{epochs[0]} to {epochs[-1]}, {len(epochs)} files"
        held.append(f"checkpoints of epochs {shown}")
    rows = len(read_metrics(metrics_path(run_dir)))
    if rows:
        held.append(f"{rows} epoch row(s) in {METRICS_FILE}")
    return " and ".join(held)


def another_run(run_dir: str, existing_run: str, continuing: bool) -> str:
    """What ``run_dir`` holds of another run that a new run there must move aside (empty: nothing to do); raises a
    :class:`RunError` naming the choices when ``existing_run`` is ``refuse``. Changes nothing.

    A run ``continuing`` this folder's run (``model.resume auto``, or a checkpoint of this folder) finds it as it
    is. Any other run starts from scratch, and a folder holding another run is refused (``existing_run``
    ``refuse``) or that run is to be moved aside into a dated sub-folder (``move_aside``): nothing of it is
    deleted, mixed with the new run or taken for it.
    """
    if existing_run not in EXISTING_RUN_CHOICES:
        raise ConfigError(f"train.existing_run must be one of {EXISTING_RUN_CHOICES}, got '{existing_run}'")
    held = "" if continuing else held_run(run_dir)
    if held and existing_run == "refuse":
        raise RunError(
            f"data.save_dir '{run_dir}' holds another run ({held}); a new run there would mix with it, so nothing "
            "was started. Choose one:\n"
            "  model.resume auto               continue that run from its newest checkpoint\n"
            "  data.save_dir NEW_FOLDER        start this run in another folder\n"
            f"  train.existing_run move_aside   move that run into {os.path.join(run_dir, PREVIOUS_RUN_PREFIX)}<date>/ "
            "and start here"
        )
    return held


def prepare_run_dir(run_dir: str, existing_run: str, continuing: bool) -> str:
    """Make ``run_dir`` ready for a training run (:func:`another_run`: refuse, or move an earlier run aside);
    returns what was done, in words (empty if nothing was needed)."""
    held = another_run(run_dir, existing_run, continuing)
    if not held:
        return ""
    moved_to = move_run_aside(run_dir)
    return f"train.existing_run move_aside: the earlier run in '{run_dir}' ({held}) was moved to '{moved_to}'"


def move_run_aside(run_dir: str) -> str:
    """Move everything in ``run_dir`` except runs moved aside before (and the lock of the run moving it) into
    ``<run_dir>/previous-run-<date>``, dated by the run's last write (so the folder says when that run ended);
    returns the new folder."""
    entries = [name for name in os.listdir(run_dir) if not name.startswith(PREVIOUS_RUN_PREFIX) and name != LOCK_FILE]
    last_write = max(os.stat(os.path.join(run_dir, name)).st_mtime for name in entries)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(last_write))
    target, suffix = os.path.join(run_dir, PREVIOUS_RUN_PREFIX + stamp), 1
    while os.path.exists(target):
        suffix += 1
        target = os.path.join(run_dir, f"{PREVIOUS_RUN_PREFIX}{stamp}-{suffix}")
    os.makedirs(target)
    for name in entries:
        os.replace(os.path.join(run_dir, name), os.path.join(target, name))
    return target


# ---------------------------------------------------------------------------------- config
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
    """The YAML a run stores (``config.yaml`` and the checkpoints' ``config`` entry).

    A run configured with ``attributes.schema auto`` learned the schema of its CSV, which inference
    has no CSV to detect from; the stored config names it.
    """
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


def _stored_config(path: str, state: Mapping[str, Any], run_dir: str, config_file: str, opts: Sequence[str]) -> CfgNode:
    """``config_file`` if given, else the checkpoint's stored config, else the run's ``config.yaml``."""
    run_config = os.path.join(run_dir, CONFIG_FILE)
    if config_file:
        source = config_file
    elif state.get(CONFIG_KEY):
        return config_from_text(str(state[CONFIG_KEY]), f"{path} (stored config)", opts)
    elif os.path.isfile(run_config):
        source = run_config
    else:
        raise RunError(f"{path} stores no config and {run_config} does not exist; give the training config "
                       "with --config-file (runs trained since config.yaml exists carry it)")
    with open(source, encoding="utf-8") as handle:
        return config_from_text(handle.read(), source, opts)


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
        run_dir, path = run_dir_of(source), source
    else:
        raise RunError(f"{source}: no such run folder or checkpoint")
    state = load_checkpoint(path)
    cfg = _stored_config(path, state, run_dir, config_file, opts)
    if cfg.attributes.schema == "auto":
        raise RunError("the run's config leaves attributes.schema 'auto' (detected from the training CSV); add "
                       "'attributes.schema NAME' (mars_v2, duke_v2, mars_v1) for the schema it was trained with")
    cfg.model.pretrained = False  # every weight comes from the checkpoint
    cfg.use_gpu = torch.device(device).type == "cuda"
    cfg.freeze()
    weights = model_weights(state)
    if CLASSIFIER_KEY not in weights:
        raise RunError(f"{path}: no '{CLASSIFIER_KEY}' in its state_dict; not a model of this plugin?")
    spec = schema_from_config(cfg.attributes)
    schema = spec if isinstance(spec, AttributeSchema) else get_schema(spec)
    model = build_model_from_config(cfg, int(weights[CLASSIFIER_KEY].shape[0]), schema)  # type: ignore[arg-type]
    load_weights_into(model, weights, f"{path} ({cfg.model.name} as configured)")
    target = torch.device(device)
    return TrainedModel(cfg, schema, model.to(target).eval(), target, path)
