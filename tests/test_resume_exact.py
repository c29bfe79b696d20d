"""A run killed with SIGKILL mid-epoch and rerun with the same command (``model.resume auto``) ends exactly
where the uninterrupted run ends: same weights, same metrics.csv, no duplicated log or tensorboard rows."""
import csv
import signal
from functools import partial
from pathlib import Path

import pytest
import torch

from aitl_reid.engine import list_checkpoints, load_checkpoint
from parallel import in_parallel
from synthetic_trees import tiny_synthetic_tree
from trainer_processes import run_trainer, start_trainer, wait_for_line

REPO = Path(__file__).resolve().parents[1]
MAX_EPOCH = 3  # evaluation after epoch 2, the kill in epoch 3 after its checkpoint
ITERATIONS = 3  # per epoch: the kill comes after the 2nd, mid-epoch
KILL_AT = f"epoch: [{MAX_EPOCH}/{MAX_EPOCH}][2/{ITERATIONS}]"  # the progress line of the last epoch's 2nd iteration

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tiny_synthetic_tree(tmp_path_factory.mktemp("synthetic"), num_ids=16, height=32, width=16)


SAMPLERS = ("RandomIdentitySampler", "RandomSampler")


def arguments(root, save_dir, sampler):
    """One deterministic CPU run: a loader worker, epochs of ``ITERATIONS`` iterations, evaluation after epoch 2 (it
    must not disturb the training's random numbers) and a checkpoint every epoch. With ``RandomIdentitySampler`` every
    clip is seeded by the sampler; torchreid's ``RandomSampler`` draws the order and the workers' seeds from torch's
    global generator, so there the checkpoint's generator states are what makes the resumed run repeat the uninterrupted
    one."""
    return ["--config-file", str(REPO / "configs" / "asta_aitl_synthetic.yaml"),
            "data.root", str(root), "data.save_dir", str(save_dir), "data.height", "32", "data.width", "16",
            "data.workers", "1", "train.batch_size", "4", "sampler.num_instances", "2", "train.max_iters_per_epoch",
            str(ITERATIONS), "train.warmup_epochs", "1",
            "train.lr", "0.001", "train.print_freq", "1", "train.max_epoch", str(MAX_EPOCH), "test.eval_freq", "2",
            "test.batch_size", "32", "train.deterministic", "True", "train.num_threads", "1",
            "train.keep_checkpoints", "0", "model.resume", "auto", "sampler.train_sampler", sampler]


ENVIRONMENT = {"AITL_REID_PROGRESS": "0"}


def console(save_dir):
    return save_dir.parent / f"{save_dir.name}.console.txt"  # beside the run folder, which the run alone writes


def run_to_end(root, save_dir, sampler):
    status = run_trainer(arguments(root, save_dir, sampler), console(save_dir), ENVIRONMENT)
    assert status == 0, console(save_dir).read_text()[-3000:]


def run_and_kill(root, save_dir, sampler):
    """Start the run and SIGKILL it as soon as it reports the 2nd iteration of the last epoch."""
    process = start_trainer(arguments(root, save_dir, sampler), console(save_dir), ENVIRONMENT)
    reached = wait_for_line(process, console(save_dir), KILL_AT)
    process.kill()
    process.join(60)
    assert reached and process.exitcode == -signal.SIGKILL, console(save_dir).read_text()[-3000:]


@pytest.fixture(scope="module")
def every_run(data_root, tmp_path_factory):
    """For each sampler: the uninterrupted reference, the killed run and the killed run rerun. Up to the kill, the killed
    run is a second uninterrupted run of the same command: its checkpoint and rows from before the kill are what the
    repeatability test compares. The runs are deterministic with one thread each, so they run side by side
    (``parallel.in_parallel``), each in a process of its own forked from one that imported the trainer
    (``trainer_processes``)."""
    folders = {(sampler, name): tmp_path_factory.mktemp(name) for sampler in SAMPLERS for name in ("reference", "killed")}
    in_parallel([partial(run_and_kill, data_root, folders[sampler, "killed"], sampler) for sampler in SAMPLERS]
                + [partial(run_to_end, data_root, folders[sampler, "reference"], sampler) for sampler in SAMPLERS])
    killed_states = {sampler: {"checkpoints": sorted(list_checkpoints(str(folders[sampler, "killed"]))),
                               "rows": read_rows(folders[sampler, "killed"]),
                               "weights": weights_at(folders[sampler, "killed"], MAX_EPOCH - 1)} for sampler in SAMPLERS}
    # the requeued jobs: the very same commands
    in_parallel([partial(run_to_end, data_root, folders[sampler, "killed"], sampler) for sampler in SAMPLERS])
    return {sampler: (folders[sampler, "reference"], folders[sampler, "killed"], killed_states[sampler])
            for sampler in SAMPLERS}


@pytest.fixture(scope="module", params=SAMPLERS)
def runs(request, every_run):
    return every_run[request.param]


def read_rows(save_dir):
    with open(save_dir / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def weights_at(save_dir, epoch):
    return load_checkpoint(str(save_dir / "model" / f"model.pth.tar-{epoch}"))["state_dict"]


def final_weights(save_dir):
    return weights_at(save_dir, MAX_EPOCH)


def test_the_kill_landed_mid_epoch_after_the_checkpoint_of_the_previous_epoch(runs):
    _, _, killed_state = runs
    assert killed_state["checkpoints"] == list(range(1, MAX_EPOCH))
    assert [int(r["epoch"]) for r in killed_state["rows"]] == list(range(1, MAX_EPOCH))


def test_resumed_run_ends_with_the_same_weights_as_the_uninterrupted_run(runs):
    reference, killed, _ = runs
    expected, resumed = final_weights(reference), final_weights(killed)
    assert expected.keys() == resumed.keys()
    different = [name for name in expected if not torch.equal(expected[name], resumed[name])]
    assert not different, f"tensors differ after resuming: {different[:5]}"


def test_resumed_run_writes_the_same_metrics_csv_without_a_duplicated_row(runs):
    reference, killed, _ = runs
    assert (killed / "metrics.csv").read_text() == (reference / "metrics.csv").read_text()
    assert [int(r["epoch"]) for r in read_rows(killed)] == list(range(1, MAX_EPOCH + 1))


def test_two_runs_with_the_same_seed_in_deterministic_mode_are_identical(runs):
    """The killed run, up to its kill, against the reference: the same rows and the same weights after epoch 2 (its
    evaluation included), from two processes."""
    reference, _, killed_state = runs
    assert killed_state["rows"] == read_rows(reference)[:MAX_EPOCH - 1]
    expected, repeated = weights_at(reference, MAX_EPOCH - 1), killed_state["weights"]
    assert expected.keys() == repeated.keys()
    assert all(torch.equal(expected[name], repeated[name]) for name in expected)


def test_log_continues_after_the_checkpoint_line_without_the_lost_iterations(runs):
    reference, killed, _ = runs
    log, reference_log = (killed / "log.txt").read_text(), (reference / "log.txt").read_text()
    progress = [line for line in log.splitlines() if line.startswith(f"epoch: [{MAX_EPOCH}/")]
    expected = [line for line in reference_log.splitlines() if line.startswith(f"epoch: [{MAX_EPOCH}/")]
    assert len(progress) == len(expected)  # the killed run's lines of the last epoch were cut
    assert log.count(f"epoch {MAX_EPOCH}: ") == 1
    assert log.count("Resumed from") == 1 and log.count("Show configuration") == 2


def test_tensorboard_holds_each_step_once_with_the_uninterrupted_values(runs):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    reference, killed, _ = runs

    def scalars(save_dir, tag):
        events = accumulator.EventAccumulator(str(save_dir), size_guidance={accumulator.SCALARS: 0})
        events.Reload()
        return [(e.step, e.value) for e in events.Scalars(tag)]

    for tag in ("Train/loss", "Epoch/loss", "Test/mars_attr/mAP"):
        resumed = scalars(killed, tag)
        assert [step for step, _ in resumed] == sorted({step for step, _ in resumed}), tag
        assert resumed == scalars(reference, tag), tag
