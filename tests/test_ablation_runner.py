"""The ablation runner (issue 20): variants and controls, resumable run folders, paired statistics."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from aitl_reid.config import get_default_config, merge_from_list
from aitl_reid.engine.epoch_log import EpochLog
from aitl_reid.experiments import AblationPlan, read_run_result
from aitl_reid.experiments.ablation import RUN_RECORD, SweepFolderError, train_once
from aitl_reid.experiments.benchmark import config_value
from aitl_reid.experiments.cli import build_parser, chosen_variants, end_seed_list, main, run
from aitl_reid.experiments.paired import contrasts, paired_difference, paired_table
from aitl_reid.launch import load_config
from aitl_reid.losses import build_unified_loss
from aitl_reid.losses.unified import SELECTIONS
from aitl_reid.models import build_model_from_config
from aitl_reid.schema import MARS_V2
from aitl_reid.experiments.variants import all_variants, control_variants, released_variants, table1_variants

COUNTER = "import pathlib, sys; p = pathlib.Path(sys.argv[-2]); p.write_text(str(int(p.read_text() or 0) + 1) if p.exists() else '1'); sys.exit(int(sys.argv[-1]))"


def SETTING(key, variant_overrides):
    return config_value(load_config("configs/synthetic_ablation.yaml", list(variant_overrides)), key)


def overrides(variant) -> dict:
    return dict(zip(variant.overrides[::2], variant.overrides[1::2]))


def test_controls_change_exactly_what_they_say_against_the_full_model():
    full = overrides(table1_variants()[-1])
    off, unfused, oracle, placebo = (overrides(v) for v in control_variants())
    assert {k: v for k, v in off.items() if full.get(k) != v} == {"loss.attribute.enabled": "False", "loss.aitl.enabled": "False"}
    assert {k: v for k, v in unfused.items() if full.get(k) != v} == {"model.asta.fuse_attention": "False", "loss.aitl.enabled": "False"}
    assert {k: v for k, v in oracle.items() if full.get(k) != v} == {"loss.aitl.selection": "annotated"}
    assert {k: v for k, v in placebo.items() if full.get(k) != v} == {"loss.aitl.selection": "shuffled"}


def test_the_released_variant_is_the_released_config_on_the_experiments_data_and_schedule():
    """Its model and loss switches are exactly released_code.yaml's (the parity-tested ones); data and schedule stay."""
    (released,) = released_variants()
    variant = load_config("configs/synthetic_ablation.yaml", list(released.overrides))
    reference = load_config("configs/released_code.yaml")
    experiment = load_config("configs/synthetic_ablation.yaml")
    assert variant.model.asta == reference.model.asta and variant.loss == reference.loss
    assert variant.model.asta.fused_copy_input == "reid_attended" and variant.loss.aitl.attribute_distance == "euclidean"
    assert (variant.train, variant.data, variant.video) == (experiment.train, experiment.data, experiment.video)
    assert variant.model.name == "asta_resnet18" and released.slug in [v.slug for v in all_variants()]


def test_every_variant_selects_positives_by_a_known_selection():
    """merge_from_list checks keys and types, not values: a misspelt selection would only fail in the run."""
    selections = {overrides(v)["loss.aitl.selection"] for v in all_variants("resnet18") if "loss.aitl.selection" in overrides(v)}
    assert selections == set(SELECTIONS)
    assert overrides(control_variants()[-1])["loss.aitl.selection"] == "shuffled"  # the placebo


@pytest.mark.parametrize("variant", all_variants("osnet_x0_25"), ids=lambda v: v.slug)  # the smallest backbone
def test_every_variant_builds_its_model_and_loss_and_computes_the_loss(variant):
    """Each variant as the runner trains it, on tiny clips: the config merges, the model and the unified loss
    build, and one loss evaluation gives a finite total with the intra-identity and attribute terms it claims."""
    cfg = get_default_config()
    merge_from_list(cfg, list(variant.overrides) + ["data.height", "32", "data.width", "16", "model.pretrained", "False"])
    model = build_model_from_config(cfg, 3, MARS_V2)
    loss = build_unified_loss(cfg, MARS_V2)
    gen = torch.Generator().manual_seed(0)
    pids = torch.tensor([0, 0, 1, 1, 2, 2])
    attrs = torch.stack([torch.randint(0, n, (6,), generator=gen) for n in MARS_V2.num_classes], dim=1)
    output = model.train()(torch.randn(6, 2, 3, 32, 16, generator=gen))
    total, terms = loss(output, pids, attrs)
    assert torch.isfinite(total)
    assert bool(output.attr_logits) is variant.has_attribute_streams
    assert any(name.startswith(("loss_aitl_", "loss_itl")) for name in terms) is variant.uses_intra_identity_triplet


def test_variants_by_name_group_and_sweep():
    assert [v.slug for v in chosen_variants("resnet18", ["baseline", "controls"], [], SETTING)] == [
        "baseline", "asta_attribute_losses_off", "asta_attention_not_fused", "asta_aitl_oracle", "asta_aitl_placebo"]
    swept = chosen_variants("resnet18", ["baseline_asta_aitl"], ["loss.attribute.weight", "0.0", "0.3", "1.0"], SETTING)
    # 1.0 is the full model's own weight: that point is the plain variant, so its runs are shared with it
    assert [v.slug for v in swept] == ["baseline_asta_aitl_loss.attribute.weight-0.0",
                                       "baseline_asta_aitl_loss.attribute.weight-0.3", "baseline_asta_aitl"]
    assert overrides(swept[1])["loss.attribute.weight"] == "0.3"
    assert swept[2] == table1_variants()[-1]
    with pytest.raises(ValueError, match="unknown variant.*'nope'.*known: baseline"):
        chosen_variants("resnet18", ["nope"], [], SETTING)


def test_overrides_may_follow_the_seed_list():
    assert end_seed_list(["--seeds", "1", "2", "train.max_epoch", "30"]) == ["--seeds", "1", "2", "--", "train.max_epoch", "30"]
    assert end_seed_list(["--seeds", "1", "--output", "d", "train.max_epoch", "30"]) == [
        "--seeds", "1", "--output", "d", "train.max_epoch", "30"]
    args = build_parser(default_config="c.yaml").parse_args(end_seed_list(["--seeds", "1", "2", "test.eval_freq", "2"]))
    assert args.seeds == [1, 2] and args.opts == ["--", "test.eval_freq", "2"]  # main() drops the "--"


def test_main_applies_overrides_written_after_the_seeds(tmp_path):
    with pytest.raises(ValueError, match="loss.attribute.weight"):  # reached the config loader, not argparse
        main(["--config-file", "configs/synthetic_ablation.yaml", "--output", str(tmp_path), "--seeds", "1", "2",
              "loss.attribute.weight", "1"])


def test_a_sweep_value_of_the_wrong_type_fails_before_any_run(tmp_path):
    with pytest.raises(ValueError, match="1.0 rather than 1"):
        main(["--config-file", "configs/synthetic_ablation.yaml", "--variants", "baseline_asta_aitl",
              "--sweep", "loss.attribute.weight", "0.3", "1", "--output", str(tmp_path)])
    assert not list(tmp_path.iterdir())


def test_swept_variants_are_compared_with_the_variant_they_sweep():
    labels = ["Baseline + ASTA + AITL", "Baseline + ASTA + AITL [loss.aitl.weight=0.3]", "ASTA + AITL placebo"]
    assert contrasts(labels) == [("Baseline + ASTA + AITL [loss.aitl.weight=0.3]", "Baseline + ASTA + AITL"),
                                 ("Baseline + ASTA + AITL", "ASTA + AITL placebo")]


def test_every_variant_is_compared_with_the_baseline_then_swept_ones_with_theirs():
    swept = "Baseline + ASTA + AITL [loss.aitl.weight=0.3]"
    labels = ["Baseline", "Baseline + ASTA + AITL", swept]
    assert contrasts(labels) == [("Baseline + ASTA + AITL", "Baseline"), (swept, "Baseline"),
                                 (swept, "Baseline + ASTA + AITL")]


def test_the_table1_sweep_answers_which_part_costs_accuracy_and_whether_the_released_design_or_oracle_changes_it():
    labels = [v.label for v in all_variants() if v.label not in ("ASTA, attribute losses off", "ASTA, attention not fused",
                                                                   "ASTA + AITL placebo")]
    pairs = contrasts(labels)
    assert pairs[:6] == [(label, "Baseline") for label in labels[1:]]  # each row against the Baseline
    assert set(pairs[6:]) == {("Baseline + AITL", "Baseline + ITL"), ("Baseline + ASTA + AITL", "Baseline + ASTA"),
                              ("Released ASTA + AITL", "Baseline + ASTA + AITL"),
                              ("ASTA + AITL oracle", "Baseline + ASTA + AITL")}


def test_commands_resume_and_run_under_torchrun_when_asked(tmp_path):
    variant = table1_variants()[0]
    one = AblationPlan("c.yaml", ("data.root", "d"), (variant,), (1,), str(tmp_path)).command(variant, 1)
    assert one[1:3] == ["-m", "aitl_reid.train"] and one[-2:] == ["model.resume", "auto"]
    four = AblationPlan("c.yaml", (), (variant,), (1,), str(tmp_path), nproc_per_node=4).command(variant, 1)
    assert four[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4", "-m"]


def test_a_killed_run_is_continued_a_finished_one_kept_and_another_commands_folder_refused(tmp_path):
    calls, run_dir = tmp_path / "calls", str(tmp_path / "run")
    killed = [sys.executable, "-c", COUNTER, "--config-file", "c.yaml", str(calls), "137"]
    record = train_once(killed, run_dir)
    assert record.returncode == 137 and calls.read_text() == "1"
    json.loads(Path(run_dir, RUN_RECORD).read_text())  # written before the run started, updated after
    done = [sys.executable, "-c", COUNTER, "--config-file", "c.yaml", str(calls), "0"]
    with pytest.raises(SweepFolderError, match="holds a run of another command"):
        train_once(done, run_dir)
    Path(run_dir, RUN_RECORD).write_text(json.dumps({"command": done, "returncode": None, "seconds": 1.0}))  # killed mid-run
    assert train_once(done, run_dir).returncode == 0 and calls.read_text() == "2"
    again = train_once(done, run_dir)
    assert again.reused and calls.read_text() == "2"


def test_a_folder_with_files_but_no_record_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.txt").write_text("someone's run")
    with pytest.raises(SweepFolderError, match="not a run of this sweep"):
        train_once([sys.executable, "-c", "pass", "--config-file", "c.yaml"], str(tmp_path / "run"))


def _result(tmp_path, label, seed, mAP, **diagnostics):
    log = EpochLog(str(tmp_path / f"{label}-{seed}.csv"))
    log.update(1, {"mAP": mAP, "rank1": mAP, "dvdp": 0.1, **diagnostics})
    return read_run_result(label, seed, str(tmp_path / f"{label}-{seed}.csv"))


def test_paired_differences_use_same_seed_pairs_with_a_t_interval(tmp_path):
    results = [_result(tmp_path, "Baseline", s, m) for s, m in ((1, 0.50), (2, 0.60), (3, 0.40))]
    results += [_result(tmp_path, "Baseline + ASTA + AITL", s, m) for s, m in ((1, 0.52), (2, 0.63), (3, 0.41), (4, 0.9))]
    d = paired_difference(results, "Baseline + ASTA + AITL", "Baseline", "mAP")
    assert d.n == 3 and d.mean == pytest.approx(0.02)  # seed 4 has no baseline: left out
    assert d.half_width == pytest.approx(4.302653 * 0.01 / math.sqrt(3), rel=1e-5)  # t(0.975, 2) * sd / sqrt(n)
    table = paired_table(results, contrasts(["Baseline", "Baseline + ASTA + AITL"]))
    assert "| Baseline + ASTA + AITL | Baseline | 3 | +2.00 [-0.48, +4.48] |" in table
    assert table.splitlines()[-1].endswith("| +0.0000 [+0.0000, +0.0000] | — |")  # the baseline has no attribute F1


def test_the_paired_table_whole_with_one_seed_and_a_rank1_of_its_own(tmp_path):
    def result(label, mAP, rank1, dvdp):
        log = EpochLog(str(tmp_path / f"{label}.csv"))
        log.update(1, {"mAP": mAP, "rank1": rank1, "dvdp": dvdp})
        return read_run_result(label, 1, str(tmp_path / f"{label}.csv"))

    results = [result("Baseline", 0.5, 0.6, 0.2), result("Baseline + ASTA + AITL", 0.54, 0.61, 0.15)]
    d = paired_difference(results, "Baseline + ASTA + AITL", "Baseline", "rank1")
    assert (d.variant, d.against, d.metric) == ("Baseline + ASTA + AITL", "Baseline", "rank1")
    assert paired_table(results, contrasts(["Baseline", "Baseline + ASTA + AITL"])).splitlines() == [
        "| Variant | vs | Seeds | Δ mAP | Δ R1 | Δ DVDP | Δ attr. macro-F1 |",
        "| --- | --- | ---: | --- | --- | --- | --- |",
        "| Baseline + ASTA + AITL | Baseline | 1 | +4.00 (1 seed) | +1.00 (1 seed) | -0.0500 (1 seed) | — |",
    ]


def test_the_attribute_f1_is_paired_beside_map(tmp_path):
    swept = "Baseline + ASTA + AITL [loss.attribute.weight=0.1]"
    results = [_result(tmp_path, "Baseline + ASTA + AITL", s, 0.5, attr_f1=f) for s, f in ((1, 0.50), (2, 0.52))]
    results += [_result(tmp_path, swept, s, 0.6, attr_f1=f) for s, f in ((1, 0.40), (2, 0.44))]
    row = paired_table(results, contrasts(["Baseline + ASTA + AITL", swept])).splitlines()[-1]
    assert row.startswith(f"| {swept} | Baseline + ASTA + AITL | 2 | +10.00 ")
    assert row.endswith("| -9.00 [-21.71, +3.71] |")  # t(0.975, 1) * sd(-0.10, -0.08) / sqrt(2) = 12.71 points


def test_list_variants_and_a_bad_variant_name(capsys):
    assert main(["--list-variants"]) == 0  # no config needed to list them (README's command)
    assert "asta_aitl_placebo" in capsys.readouterr().out
    with pytest.raises(SystemExit) as ended:  # anything else still needs one
        main(["--variants", "baseline", "--output", "unused"])
    assert ended.value.code == 2 and "required: --config-file" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown variant"):
        main(["--config-file", "configs/synthetic_ablation.yaml", "--variants", "nope", "--output", "unused"])


@pytest.mark.parametrize("processes", [[], ["--nproc-per-node", "2"]])
def test_a_missing_dataset_ends_with_status_2_and_its_paths_before_any_run(tmp_path, capsys, processes):
    out = tmp_path / "ablation"
    status = run(["--config-file", "configs/asta_aitl_mars.yaml", *processes, "--variants", "baseline", "--seeds", "1",
                  "--output", str(out), "data.root", str(tmp_path / "no_data")])
    err = capsys.readouterr().err
    assert status == 2
    assert "mars_attr: 9 required paths not found" in err and str(tmp_path / "no_data" / "mars" / "info") in err
    assert "console.txt" not in err and not out.exists()  # no run was started
