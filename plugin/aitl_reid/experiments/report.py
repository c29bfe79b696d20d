"""The ablation report (``RESULTS.md``): the Table 1-style table, paired contrasts, how it was produced, on what.

Everything above the notes marker is regenerated on every benchmark run; text written below the
marker (findings, explanations) is carried over, so rerunning the benchmark never erases them.

A record must read the same on any machine, so no absolute path goes into one: :func:`portable_path`
and :func:`portable_command` write paths relative to the directory the command ran in (the
repository root) or to the written file's own folder, as ``OUT/...`` (:data:`PATHS_NOTE`).
"""
from __future__ import annotations

import datetime
import math
import os
import platform
import shlex
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from ..schema import STREAM_GROUPS
from .paired import contrasts, paired_table
from .summary import RunResult, Stat, VariantSummary

NOTES_MARKER = "<!-- Notes below this line are kept when tools/benchmark_synthetic.py rewrites this file. -->"  # also tools/ablation.py; unchanged so old reports keep their notes
DASH = "—"
TABLE_HEADER = ("Variant", "R1 (%)", "mAP (%)", "Final-epoch DVDP", "Attribute acc. (%)")
OUT = "OUT"  # stands for the folder of the file being written, in the paths that file quotes
PATHS_NOTE = (f"Paths are relative to the repository root, where the command ran; {OUT}, where it appears, "
              "is the folder holding this file.")


@dataclass(frozen=True)
class ReportContext:
    """What the table alone does not say: how the numbers were produced, from what, and where."""

    command: str
    dataset_params: Dict[str, object]
    training_settings: Dict[str, object]
    figure: str  # path of the Fig. 7-style PNG, or "" when none was drawn
    total_seconds: float
    observations: Sequence[str] = ()  # comparisons computed from the table (summary.computed_observations)
    synthetic: bool = True  # the runs trained on the generated synthetic dataset (the report says so)


def _climbs(relative: str) -> int:
    return relative.split(os.sep).count(os.pardir)


def portable_path(path: str, out_dir: str) -> str:
    """``path`` as a record may quote it. A relative path stays as given (relative to where the command
    ran, the repository root); an absolute one becomes relative to the current directory or, as
    ``OUT/...``, to ``out_dir`` (the folder of the file being written): whichever climbs fewer folders,
    the current directory on a tie. So ``/tmp/x/data`` in a report in ``/tmp/x`` reads ``OUT/data``,
    and the shared folder beside the repository ``../shared/...``."""
    if not os.path.isabs(path):
        return path
    from_cwd, from_out = os.path.relpath(path), os.path.relpath(path, out_dir)
    if _climbs(from_out) < _climbs(from_cwd):
        return OUT if from_out == os.curdir else f"{OUT}/{from_out}"
    return from_cwd


def portable_command(command: str, out_dir: str) -> str:
    """``command`` with every absolute path argument (``PATH`` or ``--option=PATH``) made :func:`portable_path`."""
    def one(token: str) -> str:
        option, equals, value = token.partition("=") if token.startswith("-") else ("", "", token)
        return option + equals + portable_path(value, out_dir)

    try:
        tokens = shlex.split(command)
    except ValueError:  # unbalanced quotes: still no absolute path, word by word
        return " ".join(one(token) for token in command.split())
    return shlex.join(one(token) for token in tokens)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what the platform module reports."""
    try:
        with open("/proc/cpuinfo", "r", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_description() -> Dict[str, object]:
    """CPU, cores, threads and library versions: enough to judge whether a timing is comparable."""
    import torch

    return {
        "CPU": cpu_model(),
        "cores (os.cpu_count)": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "Python": platform.python_version(),
        "OS": platform.platform(),
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }


def format_percent(stat: Optional[Stat]) -> str:
    """'12.3 ± 1.4' (percent, one decimal) or the dash when there is no value."""
    if stat is None or math.isnan(stat.mean):
        return DASH
    return f"{100 * stat.mean:.1f} ± {100 * stat.std:.1f}"


def format_distance(stat: Stat) -> str:
    return f"{stat.mean:.4f} ± {stat.std:.4f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def results_table(summaries: Sequence[VariantSummary]) -> List[str]:
    """The Table 1-style rows: mean ± std over seeds of R1, mAP, final-epoch DVDP and attribute accuracy."""
    rows = [(s.label, format_percent(s.rank1), format_percent(s.mAP), format_distance(s.dvdp), format_percent(s.attr_acc))
            for s in summaries]
    return _table(TABLE_HEADER, rows)


def _pair(summary: VariantSummary, value: str, baseline: str, scale: float = 100.0, digits: int = 1) -> str:
    """'value ± std (baseline)' from a summary's diagnostics, or the dash when either was not logged."""
    stats = summary.diagnostics
    if value not in stats or baseline not in stats:
        return DASH
    v, b = stats[value], stats[baseline]
    return f"{scale * v.mean:.{digits}f} ± {scale * v.std:.{digits}f} ({scale * b.mean:.{digits}f})"


def _single(summary: VariantSummary, column: str) -> str:
    stat = summary.diagnostics.get(column)
    return DASH if stat is None else f"{100 * stat.mean:.0f} ± {100 * stat.std:.0f}"


def attribute_table(summaries: Sequence[VariantSummary]) -> List[str]:
    """Whether the attribute streams and attention learned: each figure beside what learning nothing gives."""
    rows = []
    for s in summaries:
        if s.attr_acc is None:
            continue
        rows.append((
            s.label,
            _pair(s, "attr_acc", "attr_acc_majority"),
            _pair(s, "attr_f1", "attr_f1_majority"),
            *(_pair(s, f"loss_attr_{g}", f"prior_attr_{g}", 1.0, 3) for g in STREAM_GROUPS),
            *(_single(s, f"attn_alive_{g}") for g in STREAM_GROUPS),
            *(_pair(s, f"aitl_agreement_{g}", f"aitl_chance_{g}", 100.0, 0) for g in STREAM_GROUPS),
        ))
    header = ("Variant", "Test attr. acc. % (majority)", "Test macro-F1 % (majority)",
              *(f"Train loss {g} (prior)" for g in STREAM_GROUPS),
              *(f"Attention alive % {g}" for g in STREAM_GROUPS),
              *(f"AITL agreement % {g} (chance)" for g in STREAM_GROUPS))
    return _table(header, rows) if rows else []


def per_run_table(results: Sequence[RunResult]) -> List[str]:
    def pct(value: Optional[float]) -> str:
        return DASH if value is None else f"{100 * value:.1f}"

    rows = [(r.label, str(r.seed), str(r.epoch), pct(r.rank1), pct(r.mAP), f"{r.dvdp:.4f}", pct(r.attr_acc),
             f"{r.seconds:.0f}") for r in results]
    return _table(("Variant", "Seed", "Epochs", "R1 (%)", "mAP (%)", "DVDP", "Attr. acc. (%)", "Seconds"), rows)


def _key_values(values: Dict[str, object], out_dir: str) -> List[str]:
    """``- key: `value``` lines, a path value (a string) written as :func:`portable_path` gives it."""
    return [f"- {key}: `{portable_path(value, out_dir) if isinstance(value, str) else value}`"
            for key, value in values.items()]


def kept_notes(path: str) -> str:
    """The text below the notes marker of an existing file ('' when there is none)."""
    if not os.path.isfile(path):
        return ""
    with open(path, "r", encoding="utf-8") as handle:
        text = handle.read()
    return text.split(NOTES_MARKER, 1)[1].lstrip("\n") if NOTES_MARKER in text else ""


def render_results(summaries: Sequence[VariantSummary], results: Sequence[RunResult], context: ReportContext,
                   results_path: str, machine: Dict[str, object]) -> str:
    """The whole RESULTS.md text (notes from an existing file at ``results_path`` appended)."""
    seeds = sorted({r.seed for r in results})
    out_dir = os.path.dirname(os.path.abspath(results_path))
    if context.synthetic:
        intro = [
            "# Synthetic-data results: the ablation on CPU",
            "",
            "**These are synthetic-data results.** The identities are procedurally rendered pedestrians "
            "(`aitl_reid.synthetic`), not MARS, trained on a small CPU budget (backbone and weights under the "
            "training settings below). They show how the variants behave relative to each other on this data; "
            "they are not comparable with the paper's MARS numbers (see `../shared/paper/NOTES.md`).",
        ]
    else:
        intro = ["# Ablation results", "", "Dataset and training settings below; every run is a normal training "
                 "run folder under the runs directory."]
    lines = [
        *intro,
        "",
        f"Mean ± sample standard deviation over {len(seeds)} training seed(s) ({', '.join(map(str, seeds))}), "
        "evaluated at the final epoch on the test split. DVDP is the batch DVDP (Eq. 1, cosine) "
        "averaged over the training batches of the final epoch. Attribute accuracy is the mean over all "
        f"attributes on query + gallery tracklets; {DASH} for models without attribute streams.",
        "",
        *results_table(summaries),
        "",
        *[f"- {line}" for line in context.observations],
        "",
        "Paired differences (variant minus the other, per seed, then the mean and its 95% Student-t interval over "
        "the seeds both ran; mAP and R1 in points, DVDP raw). Runs of two variants with the same seed share the "
        "data order and the initialisation of their common layers. An interval that holds 0 shows no "
        "difference at this number of seeds.",
        "",
        paired_table(results, contrasts([s.label for s in summaries])),
        "",
        "Attribute streams at the final epoch, mean ± std over seeds, each beside what a stream that learned "
        "nothing scores (in brackets): test accuracy and macro-F1 against always predicting the majority "
        "training class; the training attribute loss of the final epoch against the prior loss (predicting the "
        "training label frequencies); the share of attention values inside (0.05, 0.95); how often AITL's "
        "attribute-chosen farthest positive is one of the truly farthest (by annotated attributes) against a "
        "random choice, over anchors whose positives differ in true attributes.",
        "",
        *attribute_table(summaries),
        "",
    ]
    if context.figure:
        rel = os.path.relpath(context.figure, out_dir)
        lines += [f"![DVDP and mAP per epoch, seed-averaged]({rel})", "",
                  "DVDP (left) and mAP (right) per epoch, each curve averaged over the seeds of one variant, the "
                  "band ± one standard deviation over seeds (Fig. 7 style).", ""]
    lines += ["## Command", "", "```", portable_command(context.command, out_dir), "```", "", PATHS_NOTE, "",
              f"Sum of the runs' wall times (each as measured when it ran): {context.total_seconds / 60:.1f} min.", "",
              "## Dataset" + (" (generated once, reused by every run)" if context.synthetic else ""), "",
              *_key_values(context.dataset_params, out_dir), "",
              "## Training settings shared by every run", "", *_key_values(context.training_settings, out_dir), "",
              "## Machine", "", *_key_values(machine, out_dir), "",
              "## Every run", "", *per_run_table(results), "", NOTES_MARKER, ""]
    notes = kept_notes(results_path)
    return "\n".join(lines) + notes


def write_results(summaries: Sequence[VariantSummary], results: Sequence[RunResult], context: ReportContext,
                  results_path: str) -> str:
    """Write RESULTS.md (keeping its notes section) and return its path."""
    text = render_results(summaries, results, context, results_path, machine_description())
    os.makedirs(os.path.dirname(os.path.abspath(results_path)), exist_ok=True)
    with open(results_path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return results_path
