"""BENCHMARKS.md: how the numbers were made (command, machine, load), the table, and each row's notes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from aitl_reid.experiments.report import PATHS_NOTE

from .rows import Row, markdown_table

EXPLANATION = """\
Each row times our implementation and a named reference in the same process, in alternating rounds
(which side goes first alternates), so that the machine's load slows both sides alike. Times
are per run: median [min-max] over the timed runs; throughput is computed from the median. The
ratio is the median over rounds of the per-round ratio, with its min-max: for "faster" rows it is
reference time / our time, for "the time" rows (a model doing more work than its baseline) our time
/ reference time. The memory row measures resident memory in MB instead of time (each run in a fresh
process), its ratio being our MB / the reference's; the metadata-loading row times the same fresh processes."""


def render(rows: List[Row], command: str, machine: Dict[str, str], load_before: str, load_after: str,
           threads: str, quick: bool, findings: str = "") -> str:
    mode = "quick (small problems, for CI; not the reference numbers)" if quick else "full"
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` ({mode} mode) on {machine['date']}. {PATHS_NOTE}",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores; GPU: {machine['gpu']}.",
        f"- Software: torch {machine['torch']}, Python {machine['python']}; torch intra-op threads: {threads}.",
        f"- Load average (1/5/15 min) before / after: {load_before} / {load_after}. A load above 0 slows "
        "and scatters absolute times; the interleaved ratios are the comparable figures.",
        "",
        "## Results",
        "",
        markdown_table(rows),
        "",
        EXPLANATION,
        "",
        "## Notes per row",
        "",
    ]
    for index, row in enumerate(rows, 1):
        details = [f"skipped: {row.skipped}"] if row.skipped else list(row.notes)
        lines.append(f"{index}. **{row.name}**: " + "; ".join(details) + ".")
    if findings.strip():
        lines += ["", findings.strip()]
    return "\n".join(lines) + "\n"


def write_json(path: Path, rows: List[Row], machine: Dict[str, str], command: str) -> None:
    payload = {"command": command, "machine": machine, "rows": [row.as_dict() for row in rows]}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
