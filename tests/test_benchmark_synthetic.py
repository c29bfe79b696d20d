"""The synthetic Table 1 benchmark: quick mode end to end, and the summary/report pieces on known inputs."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from aitl_reid.engine.epoch_log import EpochLog
from aitl_reid.experiments import TABLE1_VARIANTS, read_run_result, summarise_variants, write_mean_curves
from aitl_reid.experiments.summary import computed_observations
from aitl_reid.experiments.report import DASH, NOTES_MARKER, ReportContext, render_results
from tool_modules import load_tool

REPO = Path(__file__).resolve().parents[1]
LABELS = ["Baseline", "Baseline + ASTA", "Baseline + ITL", "Baseline + AITL", "Baseline + ASTA + AITL"]
PLUS_MINUS = r"\d+\.\d ± \d+\.\d"


def table_rows(markdown: str) -> list:
    """The cells of the first markdown table's body rows."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Variant |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def write_metrics(path: Path, rows: dict) -> str:
    log = EpochLog(str(path))
    for epoch, values in rows.items():
        log.update(epoch, values)
    return str(path)


def test_variants_are_table1_in_order_with_distinct_overrides():
    assert [v.label for v in TABLE1_VARIANTS] == LABELS
    assert len({v.overrides for v in TABLE1_VARIANTS}) == 5
    assert [v.slug for v in TABLE1_VARIANTS][-1] == "baseline_asta_aitl"
    full = dict(zip(TABLE1_VARIANTS[-1].overrides[::2], TABLE1_VARIANTS[-1].overrides[1::2]))
    streams_only = dict(zip(TABLE1_VARIANTS[3].overrides[::2], TABLE1_VARIANTS[3].overrides[1::2]))
    assert full["model.asta.fuse_attention"] == "True" and streams_only["model.asta.fuse_attention"] == "False"


TABLE1_CONFIGS = {"Baseline": "table1/baseline_mars.yaml", "Baseline + ASTA": "table1/asta_mars.yaml",
                  "Baseline + ITL": "table1/itl_mars.yaml", "Baseline + AITL": "table1/aitl_mars.yaml",
                  "Baseline + ASTA + AITL": "asta_aitl_mars.yaml"}
SWITCHES = ("loss.aitl.enabled", "loss.aitl.selection", "loss.attribute.enabled", "model.asta.fuse_attention")


@pytest.mark.parametrize("variant", TABLE1_VARIANTS, ids=lambda v: v.slug)
def test_variant_switches_match_the_mars_table1_config(variant):
    """The synthetic rows switch the same things as the MARS Table 1 configs (only the backbone size differs)."""
    from aitl_reid.config import get_default_config, merge_from_file, merge_from_list

    mars = get_default_config()
    merge_from_file(mars, str(REPO / "configs" / TABLE1_CONFIGS[variant.label]))
    synthetic = get_default_config()
    merge_from_file(synthetic, str(REPO / "configs" / "synthetic_ablation.yaml"))
    merge_from_list(synthetic, list(variant.overrides))
    enabled = mars.loss.aitl.enabled
    for key in SWITCHES:
        if key == "loss.aitl.selection" and not enabled:
            continue  # irrelevant when the intra-identity triplet is off
        group, *rest = key.split(".")
        a, b = mars[group], synthetic[group]
        for part in rest:
            a, b = a[part], b[part]
        assert a == b, (variant.label, key)
    assert mars.model.name.split("_")[0] == synthetic.model.name.split("_")[0]  # tp_ vs asta_


def test_read_run_result_takes_the_final_epoch_and_requires_its_evaluation(tmp_path):
    csv = write_metrics(tmp_path / "m.csv", {1: {"dvdp": 0.05, "mAP": 0.1, "rank1": 0.2},
                                              2: {"dvdp": 0.03, "mAP": 0.4, "rank1": 0.5, "attr_acc": 0.7}})
    result = read_run_result("Baseline", 3, csv, 12.0)
    assert (result.epoch, result.mAP, result.rank1, result.dvdp, result.attr_acc) == (2, 0.4, 0.5, 0.03, 0.7)
    unfinished = write_metrics(tmp_path / "u.csv", {1: {"dvdp": 0.05, "mAP": 0.1, "rank1": 0.2}, 2: {"dvdp": 0.04}})
    with pytest.raises(ValueError, match="lacks"):
        read_run_result("Baseline", 1, unfinished)


def test_summary_mean_std_and_seed_averaged_curves(tmp_path):
    a = write_metrics(tmp_path / "a.csv", {1: {"dvdp": 0.2}, 2: {"dvdp": 0.1, "mAP": 0.2, "rank1": 0.3}})
    b = write_metrics(tmp_path / "b.csv", {1: {"dvdp": 0.4}, 2: {"dvdp": 0.3, "mAP": 0.4, "rank1": 0.5}})
    results = [read_run_result("Baseline + ITL", seed, path) for seed, path in ((1, a), (2, b))]
    (summary,) = summarise_variants(results, LABELS)
    assert summary.mAP.mean == pytest.approx(0.3) and summary.mAP.std == pytest.approx(math.sqrt(0.02))
    assert summary.attr_acc is None and summary.seeds == (1, 2)
    curves = write_mean_curves({"Baseline + ITL": [a, b]}, str(tmp_path / "curves"))
    rows = EpochLog(curves["Baseline + ITL"]).rows
    assert rows[1] == pytest.approx({"dvdp": 0.3, "dvdp_std": math.sqrt(0.02)}, abs=1e-6) and rows[2]["mAP"] == pytest.approx(0.3)


def test_observations_compare_dvdp_groups_and_each_variant_with_the_baseline(tmp_path):
    results = [read_run_result(label, 1, write_metrics(tmp_path / f"{i}.csv", {1: {"dvdp": d, "mAP": m, "rank1": m}}))
               for i, (label, d, m) in enumerate([("Baseline", 0.04, 0.30), ("Baseline + ITL", 0.02, 0.35)])]
    lines = computed_observations(summarise_variants(results, LABELS), ["Baseline + ITL"])
    assert lines[0].endswith("(ITL/AITL): 0.0200; without: 0.0400.")
    assert lines[1].startswith("Baseline + ITL vs Baseline: mAP +5.0, R1 +5.0 points")


def test_rendered_results_keep_notes_and_show_dash_without_attributes(tmp_path):
    csv = write_metrics(tmp_path / "m.csv", {1: {"dvdp": 0.02, "mAP": 0.5, "rank1": 0.6}})
    results = [read_run_result("Baseline", 1, csv, 5.0)]
    context = ReportContext("python tools/benchmark_synthetic.py", {"synthetic.num_ids": 60}, {"data.height": 64}, "", 5.0)
    path = tmp_path / "RESULTS.md"
    path.write_text(f"old table\n{NOTES_MARKER}\nWhat we found.\n", encoding="utf-8")
    text = render_results(summarise_variants(results, LABELS), results, context, str(path), {"CPU": "test"})
    assert table_rows(text)[0] == ["Baseline", "60.0 ± 0.0", "50.0 ± 0.0", "0.0200 ± 0.0000", DASH]
    assert text.endswith("What we found.\n") and "old table" not in text and "synthetic-data results" in text


QUICK_LABELS = ["Baseline + ASTA + AITL", "ASTA, attribute losses off", "ASTA + AITL placebo"]


@pytest.mark.slow
def test_quick_mode_trains_the_controls_and_writes_a_well_formed_report(tmp_path, monkeypatch, capsys):
    results, figure = tmp_path / "RESULTS.md", tmp_path / "curves.png"
    arguments = ["--quick", "--variants", "baseline_asta_aitl", "asta_attribute_losses_off", "asta_aitl_placebo",
                 "--output", str(tmp_path / "out"), "--report", str(results), "--figure", str(figure)]
    # the tool's main in this process (its trainers are processes of their own), from the repository root
    monkeypatch.chdir(REPO)
    benchmark = load_tool("benchmark_synthetic").benchmark
    assert benchmark(arguments) == 0, capsys.readouterr().out[-2000:]
    capsys.readouterr()

    text = results.read_text(encoding="utf-8")
    rows = table_rows(text)
    assert [row[0] for row in rows] == QUICK_LABELS
    for label, r1, mAP, dvdp, attr in rows:
        assert re.fullmatch(PLUS_MINUS, r1) and re.fullmatch(PLUS_MINUS, mAP), (label, r1, mAP)
        assert re.fullmatch(r"\d\.\d{4} ± \d\.\d{4}", dvdp), (label, dvdp)
        assert re.fullmatch(PLUS_MINUS, attr), (label, attr)  # with its losses off, ASTA's untrained heads still predict
    assert "| Baseline + ASTA + AITL | ASTA + AITL placebo | 1 | " in text  # a key contrast, one seed
    for section in ("## Command", "--quick", "## Dataset", "synthetic.num_ids: `12`", "## Machine", "torch", NOTES_MARKER):
        assert section in text
    assert figure.stat().st_size > 0 and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same command again: every run is finished, none is retrained
    assert benchmark(arguments) == 0
    again = capsys.readouterr().out
    assert again.count(", reused)") == len(QUICK_LABELS), again[-2000:]
