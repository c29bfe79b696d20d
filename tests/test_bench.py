"""bench/: the quick benchmark run produces well-formed rows (not that anything is fast), the GPU
script runs on a CPU at tiny sizes, and the row/timing helpers compute what they claim."""
import json
import math
from pathlib import Path

import pytest
import torch

from bench.rows import Row, markdown_table
from bench.timing import Timing, interleaved_many

ROOT = Path(__file__).resolve().parents[1]

BENCHMARKS = {"ranking", "training", "extraction", "loading", "aitl", "memory", "distributed", "footage", "gpu"}


def _check_timing(timing):
    assert len(timing["seconds"]) >= 1
    assert all(isinstance(s, float) and s > 0 for s in timing["seconds"])
    assert timing["min"] <= timing["median"] <= timing["max"]


@pytest.mark.slow
def test_quick_run_writes_a_report_and_well_formed_rows_for_every_benchmark(tmp_path, capsys):
    from bench.run import main

    report, rows_json = tmp_path / "BENCH.md", tmp_path / "rows.json"
    committed = (ROOT / "BENCHMARKS.md").read_bytes()
    # one timed run per side: the test checks every benchmark runs and reports well-formed rows, not the figures;
    # in this process (the memory rows start their own fresh interpreters)
    assert main(["--quick", "--runs", "1", "--output", str(report), "--json", str(rows_json)]) == 0
    printed = capsys.readouterr().out
    payload = json.loads(rows_json.read_text())
    rows = payload["rows"]
    assert {row["key"] for row in rows} == BENCHMARKS
    for row in rows:
        assert row["name"] and row["ours"] and row["reference"]
        if row["skipped"]:
            assert row["ours_time"] is None and row["met"] is None
            continue
        _check_timing(row["ours_time"])
        _check_timing(row["reference_time"])
        assert row["sense"] in ("speedup", "cost")
        assert math.isfinite(row["ratio"]) and row["ratio_min"] <= row["ratio"] <= row["ratio_max"]
    assert set(payload["machine"]) >= {"cpu", "cores", "torch", "date"}
    text = report.read_text()
    assert "python -m bench.run --quick" in text and payload["machine"]["cpu"] in text
    table = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert len(table) == len(rows)
    assert "report written to" in printed
    assert (ROOT / "BENCHMARKS.md").read_bytes() == committed  # a quick run leaves the committed report alone
    # the full-scale loading goal lives in the benchmark: a timed row beside the memory row, on the same tree
    memory_rows = [row for row in rows if row["key"] == "memory"]
    if not any(row["skipped"] for row in memory_rows):
        from bench import memory

        assert [row["unit"] for row in memory_rows] == ["MB", "s"]  # quick runs drop the limits (full-size goals)
        size = memory_rows[0]["name"][memory_rows[0]["name"].index("("):]
        assert memory_rows[1]["name"].endswith(size) and "torchreid Mars" in memory_rows[1]["reference"]
        assert all(0 < t < memory.LOAD_LIMIT_S for side in ("ours_time", "reference_time") for t in memory_rows[1][side]["seconds"])


@pytest.mark.slow
def test_gpu_script_runs_on_cpu_at_tiny_size(tmp_path):
    """The script's main in this process (an interpreter start would cost more than the tiny run)."""
    from bench import gpu

    out, threads = tmp_path / "gpu.json", torch.get_num_threads()
    try:
        assert gpu.main(["--device", "cpu", "--tiny", "--threads", "1", "--json", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    rows = json.loads(out.read_text())
    assert {row["reference"] for row in rows} == {"fp32"}
    assert {row["ours"] for row in rows} == {"bf16 autocast", "channels_last fp32", "channels_last + bf16"}
    assert all(row["item"] == "frames" and row["ratio"] > 0 for row in rows)


def test_only_a_full_run_of_everything_defaults_to_the_committed_report():
    from bench.run import output_path, build_parser

    assert output_path(build_parser().parse_args([])) == ROOT / "BENCHMARKS.md"
    scratch = ROOT / "bench" / "out"
    assert output_path(build_parser().parse_args(["--quick"])) == scratch / "quick.md"
    assert output_path(build_parser().parse_args(["--only", "aitl", "--only", "ranking"])) == scratch / "ranking_aitl.md"
    assert output_path(build_parser().parse_args(["--quick", "--only", "loading"])) == scratch / "quick_loading.md"
    assert output_path(build_parser().parse_args(["--output", "x.md"])) == Path("x.md")


def test_reports_quote_no_absolute_path(tmp_path, monkeypatch):
    """The command line in the report and the JSON names the output folder OUT, not where it was on this machine."""
    from bench.run import main

    if torch.cuda.is_available():
        pytest.skip("on a CUDA machine --only gpu runs the GPU benchmark instead of a skipped row")
    monkeypatch.chdir(ROOT)
    report, rows_json = tmp_path / "report" / "b.md", tmp_path / "rows.json"
    assert main(["--only", "gpu", "--output", str(report), f"--json={rows_json}"]) == 0
    text, command = report.read_text(), json.loads(rows_json.read_text())["command"]
    assert "Written by `python -m bench.run --only gpu --output OUT/b.md --json=OUT/../rows.json`" in text
    assert command == "python -m bench.run --only gpu --output OUT/report/b.md --json=OUT/rows.json"
    assert str(tmp_path) not in text + command


def test_row_ratio_reads_in_the_row_sense_and_judges_the_goal():
    ours, reference = Timing((1.0, 2.0, 1.0)), Timing((4.0, 4.0, 5.0))
    faster = Row("x", "n", "a", "b", ours, reference, sense="speedup", goal=3.0)
    assert faster.ratio == (4.0, 2.0, 5.0) and faster.met is True
    cost = Row("x", "n", "a", "b", ours, reference, sense="cost", goal=0.2)
    assert cost.ratio == (0.25, 0.2, 0.5) and cost.met is False
    assert Row("x", "n", "a", "b", ours, reference).met is None  # no goal: report only


def test_a_memory_row_reads_in_mb_and_judges_its_limit_on_our_median():
    ours, reference = Timing((176.0, 177.0, 176.5)), Timing((161.0, 161.0, 161.0))
    row = Row("memory", "n", "a", "b", ours, reference, sense="cost", unit="MB", limit=500.0)
    cells = markdown_table([row]).splitlines()[-1].rstrip(" |").split(" | ")
    assert cells[4:9] == ["176 MB [176 MB-177 MB]", "161 MB [161 MB-161 MB]", "1.10x the memory [1.09-1.10]",
                          "ours <= 500 MB", "yes"]
    assert Row("memory", "n", "a", "b", ours, reference, sense="cost", unit="MB", limit=170.0).met is False
    both = Row("memory", "n", "a", "b", ours, reference, sense="cost", unit="MB", goal=1.05, limit=500.0)
    assert both.goal_text() == "<= 1.05x the memory, ours <= 500 MB" and both.met is False


def test_a_row_needs_timings_or_a_reason_and_skipped_rows_render():
    with pytest.raises(ValueError, match="no timings and no reason"):
        Row("x", "n", "a", "b")
    table = markdown_table([Row("gpu", "GPU", "-", "-", skipped="no CUDA device")])
    assert table.splitlines()[-1].endswith("| skipped |")


def test_interleaved_rounds_rotate_the_order_and_time_every_function():
    calls = []
    timings = interleaved_many({name: (lambda n=name: calls.append(n)) for name in "abc"}, runs=3, warmup=1)
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")
    assert all(len(t.seconds) == 3 for t in timings.values())


def test_distributed_rows_read_steady_iterations_from_the_log_and_skip_in_quick_mode(tmp_path):
    from bench.distributed import parse_log, run
    from bench.settings import Settings

    line = "epoch: [1/1][{}/4]\ttime {} ({})\tdata {} (0.1)\teta 0:00:01\tloss {} (5.0)\tlr 0.000300"
    text = "\n".join(line.format(i, t, t, d, loss) for i, t, d, loss in
                     [(1, 9.0, 0.5, 5.8332), (2, 3.0, 0.2, 5.9), (3, 2.0, 0.01, 5.7), (4, 4.0, 0.03, 5.6)])
    parsed = parse_log("Show configuration\n" + text + "\nmAP: 3.3%\n", skipped=2)
    assert (parsed.seconds, parsed.first_loss, parsed.iterations) == (3.0, 5.8332, 2)
    assert parsed.data_seconds == pytest.approx(0.02)
    with pytest.raises(ValueError, match="print_freq 1"):
        parse_log(text.replace("[2/4]", "[5/4]"))
    rows = run(Settings(quick=True, runs=1, workers=0, workdir=str(tmp_path)))
    assert [row.sense for row in rows] == ["speedup", "cost"]
    assert all("quick mode" in row.skipped for row in rows) and not list(tmp_path.iterdir())


