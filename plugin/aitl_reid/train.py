"""Train and evaluate a model of the aitl_reid plugin, configured with yacs (torchreid's scripts/main.py style).

    aitl-reid-train --config-file asta_aitl_mars [KEY VALUE ...]       # the installed console script
    python -m aitl_reid.train --config-file table1/itl_mars [KEY VALUE ...]
    python tools/main.py --config-file configs/asta_aitl_mars.yaml [KEY VALUE ...]  # from a checkout
    torchrun --nproc_per_node=4 -m aitl_reid.train --config-file ...              # DistributedDataParallel

A config is a YAML file or the name of one the package ships (aitl-reid-configs lists them); a file wins.

Missing datasets and invalid configs end with exit status 2 and a message saying what to do,
never a traceback. ``model.resume auto`` continues from the newest complete checkpoint in
``data.save_dir`` (or starts fresh), so a preempted job is requeued with the same command; a job
requeued after its last epoch finds nothing to do and exits 0. A folder holds one run: a new run in a
folder holding another refuses to start (status 2) unless ``train.existing_run move_aside`` moves the
earlier run into a dated sub-folder. ``test.evaluate True`` writes only ``test.log`` and
``evaluation_<checkpoint>.json``, never into the training run's records. One command writes a folder at a
time: a second one started into it while the first runs stops with status 2 naming the first
(:mod:`aitl_reid.folder_lock`), and a command that stops on bad input before its run starts leaves the
folder as it was (none at all if it created it).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch
from yacs.config import CfgNode

from . import __version__, _torchreid, distributed
from .config import ConfigError
from .console_log import cut_after_last, deferred_log
from .data import DatasetNotFoundError, build_datamanager
from .data.datamanager import check_dataset_files
from .data.image_io import FrameReadError, frame_error_message
from .engine import (
    NonFiniteLossError, build_engine, build_optimizer, build_scheduler, checkpoint_saved_line, engine_run_kwargs,
    init_attribute_bias,
)
from .environment import describe_environment
from .folder_lock import FolderLock
from .launch import USAGE_EXIT, default_argument_parser, default_setup
from .models import build_model_from_config, convert_sync_batchnorm, load_weights, split_model_name
from .models.backbones import pretrained_weights_file
from .process_exit import as_command
from .registry import list_models
from .run_folder import (
    another_run, evaluation_path, latest_complete_checkpoint, load_checkpoint, prepare_run_dir, run_config_text,
    run_dir_of, same_path, save_run_config,
)
from .serialization import WriteError, ensure_writable_dir

TRAINING_FAILED_EXIT = 1
DATA_HINT = "To try the method without any download, run the synthetic demo: aitl-reid-demo"
ResumePoint = Optional[Tuple[str, Dict[str, Any]]]  # (checkpoint path, its content)


def build_parser() -> argparse.ArgumentParser:
    """The trainer's command line: ``--config-file`` then ``KEY VALUE`` overrides."""
    return default_argument_parser(__doc__)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with default_setup(args.config_file, args.opts) as cfg, distributed.process_group(cfg.use_gpu), \
                save_dir_lock(cfg):
            start = resume_point(cfg)
            if finished(cfg, start):
                return 0
            check_save_dir(cfg, start)
            preflight(cfg, start)
            with run_log(cfg, start) as begin_writing:
                return run(cfg, start, begin_writing)
    except distributed.RefusedOnMainProcess:  # under torchrun, a rank > 0: rank 0 printed why
        return USAGE_EXIT
    except DatasetNotFoundError as err:
        print(f"\nerror: {err}\n\n{DATA_HINT}", file=sys.stderr)
        return USAGE_EXIT
    except (WriteError, ValueError, FileNotFoundError) as err:
        # bad input: config (ConfigError), a folder holding another run, in use, or a bad checkpoint (RunError,
        # FolderBusyError), data files, weights, save_dir: all ValueErrors but the last
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT


@contextlib.contextmanager
def save_dir_lock(cfg: CfgNode) -> Iterator[None]:
    """``data.save_dir`` locked for the whole command (:mod:`aitl_reid.folder_lock`), before anything is written: a
    second command started into the folder while this one runs stops with status 2 naming this one. Under torchrun
    rank 0, the one that writes, holds the lock, and every rank stops if it could not take it."""
    lock = FolderLock(cfg.data.save_dir, "data.save_dir")
    distributed.main_process_decides(lock.acquire)
    try:
        yield
    finally:
        lock.release()


def preflight(cfg: CfgNode, start: ResumePoint) -> None:
    """What stops a run, checked in seconds before anything slow (reading the dataset, building the model): the save
    folder writable, the datasets' files in place, the ImageNet weights file at hand (downloaded into torch.hub's cache
    now if absent). Each raises the error that :func:`main` turns into its message and status 2."""
    if distributed.is_main_process():
        ensure_writable_dir(cfg.data.save_dir, "data.save_dir")
    check_dataset_files(cfg)
    if imagenet_weights_needed(cfg, start):
        pretrained_weights_file(split_model_name(cfg.model.name)[1], cfg.model.pretrained_path)


def imagenet_weights_needed(cfg: CfgNode, start: ResumePoint) -> bool:
    """``model.pretrained``, unless the weights come from a file anyway (a checkpoint to resume, ``model.load_weights``):
    then ImageNet weights would only be overwritten, and are neither fetched nor loaded."""
    return bool(cfg.model.pretrained) and start is None and not cfg.model.load_weights


def resume_point(cfg: CfgNode) -> ResumePoint:
    """The checkpoint ``model.resume`` names, read once: a path, or ``auto`` (the newest complete one in
    ``data.save_dir``, None if there is none). Under torchrun rank 0 chooses and every rank reads that file."""
    if not cfg.model.resume or cfg.test.evaluate:
        return None
    if cfg.model.resume != "auto":
        return cfg.model.resume, load_checkpoint(cfg.model.resume)
    found = latest_complete_checkpoint(cfg.data.save_dir) if distributed.is_main_process() else None
    path = distributed.broadcast_object(found[0] if found else None)
    if path is None:
        print(f"model.resume auto: no checkpoint in {cfg.data.save_dir}, starting fresh")
        return None
    return path, found[1] if found else load_checkpoint(path)


def continues_own_run(cfg: CfgNode, start: ResumePoint) -> bool:
    """Whether the run resumes from a checkpoint of its own ``data.save_dir``, however either path is spelled."""
    return start is not None and same_path(run_dir_of(start[0]), cfg.data.save_dir)


def finished(cfg: CfgNode, start: ResumePoint) -> bool:
    """Whether the checkpoint to resume from already holds ``train.max_epoch`` epochs (a job requeued after its
    last epoch): then there is nothing to do, said so, and nothing is written."""
    if start is None or int(start[1].get("epoch", 0)) < cfg.train.max_epoch:
        return False
    if distributed.is_main_process():
        print(f"{start[0]} holds epoch {int(start[1]['epoch'])} and train.max_epoch is {cfg.train.max_epoch}: the run is "
              "finished; nothing was trained or written. To train on, raise train.max_epoch; to evaluate it, run with "
              f"test.evaluate True model.load_weights {start[0]}")
    return True


def continuing_run(cfg: CfgNode, start: ResumePoint) -> bool:
    """Whether the command continues the run of ``data.save_dir`` (or only evaluates): then another run's records
    there are its own, not a reason to refuse."""
    return bool(cfg.test.evaluate) or cfg.model.resume == "auto" or continues_own_run(cfg, start)


def check_save_dir(cfg: CfgNode, start: ResumePoint) -> None:
    """A training run that does not continue the run of ``data.save_dir`` needs a folder without another run in it
    (``run_folder.another_run``): refused here, before any data is read. Rank 0 decides and all ranks stop together."""
    distributed.main_process_decides(
        lambda: another_run(cfg.data.save_dir, cfg.train.existing_run, continuing_run(cfg, start)))


def claim_save_dir(cfg: CfgNode, start: ResumePoint) -> None:
    """The run starts writing: an earlier run in ``data.save_dir`` is moved aside first when
    ``train.existing_run move_aside`` asks for it (``run_folder.prepare_run_dir``), said in the log. Rank 0 only."""
    done = prepare_run_dir(cfg.data.save_dir, cfg.train.existing_run, continuing_run(cfg, start))
    if done:
        print(done)


@contextlib.contextmanager
def run_log(cfg: CfgNode, start: ResumePoint) -> Iterator[Callable[[], None]]:
    """Rank 0 copies what it prints to ``log.txt`` (``test.log`` when only evaluating, keeping the training log);
    other ranks print nothing. The function it yields is called when the run starts writing its records: only then
    is the folder claimed (:func:`claim_save_dir`) and the log opened, with what was printed before, so a run that
    stops on bad input (missing data, a wrong checkpoint) leaves the folder as it was. An existing log is always
    appended to, never started again. A run resumed from a checkpoint of this folder continues the log after the
    line that checkpoint printed, so the lines of the lost epoch do not appear twice."""
    if not distributed.is_main_process():
        with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
            yield lambda: None
        return
    path = os.path.join(cfg.data.save_dir, "test.log" if cfg.test.evaluate else "log.txt")

    def claim() -> None:
        claim_save_dir(cfg, start)
        if continues_own_run(cfg, start):
            cut_after_last(path, checkpoint_saved_line(start[0]))  # type: ignore[index]

    with deferred_log(path, before_opening=claim) as begin_writing:
        yield begin_writing


def run(cfg: CfgNode, start: ResumePoint = None, begin_writing: Callable[[], None] = lambda: None) -> int:
    """Build data, model, optimizer and engine from a frozen config, then train and/or evaluate; ``begin_writing`` is
    called once all of them are built, before the first record is written (:func:`run_log`)."""
    print(f"Show configuration\n{cfg}\n")
    print(f"Collecting env info ...\n{describe_environment()}\n")
    print(f"aitl_reid {__version__} — models: {', '.join(list_models())}")
    processes = distributed.world_size()
    if processes > 1 and cfg.train.fixbase_epoch > 0:
        raise ConfigError("train.fixbase_epoch freezes layers part-way through training, which DistributedDataParallel "
                          "(its graph fixed after the first step) cannot follow; set train.fixbase_epoch 0 under torchrun")
    if processes > 1:
        print(f"torchrun: {processes} processes, global batch {processes} x {cfg.train.batch_size}")

    datamanager = build_datamanager(cfg)  # a file missing beyond preflight's checks (frames) ends in main()
    model = build_model_from_config(cfg, datamanager.num_train_pids, datamanager.attribute_schema,
                                    pretrained=imagenet_weights_needed(cfg, start))
    if init_attribute_bias(cfg, model, datamanager):
        print("Attribute classifier biases start at the training label prior (model.asta.attribute_prior_bias)")
    if cfg.train.sync_bn and processes > 1:
        model = convert_sync_batchnorm(model)
        print("Batch norm statistics over the global batch (train.sync_bn)")
    num_params = sum(p.numel() for p in model.parameters())
    print(f"Model: {cfg.model.name} ({num_params / 1e6:.2f} M parameters)")
    if cfg.model.load_weights:
        print(load_weights(model, cfg.model.load_weights))
    optimizer = build_optimizer(cfg, model)
    scheduler = build_scheduler(cfg, optimizer)
    engine = build_engine(cfg, datamanager, model, optimizer, scheduler)
    run_kwargs = engine_run_kwargs(cfg)
    if start is not None:
        run_kwargs["start_epoch"] = engine.resume(*start)
        _warn_on_other_thread_count(cfg, start[1])
    begin_writing()
    if not cfg.test.evaluate:
        # the config with its attribute schema resolved: config.yaml and in every checkpoint (for inference)
        if engine.is_main:
            save_run_config(cfg, datamanager.attribute_schema)
        engine.run_config = run_config_text(cfg, datamanager.attribute_schema)
    began = time.time()
    try:
        engine.run(**run_kwargs)
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return TRAINING_FAILED_EXIT
    except FrameReadError as err:
        print(f"error: {frame_error_message(err)}\nTraining stopped; the checkpoints written before are intact. "
              "Replace the file, or set data.on_bad_frame skip to train on other clips of its tracklet.", file=sys.stderr)
        return TRAINING_FAILED_EXIT
    except WriteError as err:
        print(f"error: {err}\nThe checkpoints written before are intact: make room (or fix the folder) and rerun the "
              "same command with model.resume auto to continue from the last one.", file=sys.stderr)
        return TRAINING_FAILED_EXIT
    if cfg.test.evaluate:
        where = f"Results are in {evaluation_path(cfg.data.save_dir, cfg.model.load_weights)}"
    else:
        where = f"Logs, checkpoints and metrics.csv are in {cfg.data.save_dir}"
    print(f"Done in {time.time() - began:.0f} s. {where}")
    return 0


def _warn_on_other_thread_count(cfg: CfgNode, checkpoint: Dict[str, Any]) -> None:
    saved = checkpoint.get("num_threads")
    if cfg.train.deterministic and saved and saved != torch.get_num_threads():
        print(f"warning: the checkpoint was written with {saved} CPU threads, this run has {torch.get_num_threads()}; "
              f"float sums may differ from the uninterrupted run (set train.num_threads {saved})")


command = as_command(main)
"""``aitl-reid-train``, the installed command (setup.py's console scripts); ``python -m`` runs it too."""

if __name__ == "__main__":
    sys.exit(command())
