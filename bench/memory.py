"""Rows: resident memory and loading time of the MARS metadata at full scale (1.19 M frames), ours vs
torchreid's ``Mars``.

Ours: ``MarsAttr`` (train, query and gallery tracklets with their attributes) plus the dense-clip
index that evaluation reads through (``DenseClipView`` over query and gallery). Reference:
torchreid's ``Mars`` over the same tree, which holds the same tracklets as tuples of path strings
and no attributes. Each run measures one side in a fresh interpreter: the growth of its resident
set (``VmRSS``) from the interpreter with every module imported to the built objects (after
``gc.collect()``), the peak (``VmHWM``) during construction, and the seconds the dataset object
took to build (the wall-clock goal of the full-scale adapter, kept here rather than in a test, where
the machine's load would decide it). The tree is the real public
metadata with one hard link per frame (``bench.mars_tree``); quick mode keeps one tracklet in 40.

    python -m bench.memory ours <data root>      # one measurement, printed as JSON
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from aitl_reid.process_exit import finish

from .mars_tree import MARS_META, build_mars_tree, missing_meta
from .rows import Row
from .settings import Settings
from .timing import Timing

SIDES = ("ours", "torchreid")
LIMIT_MB = 500.0  # the goal for the metadata of 1.19 M frames
LOAD_LIMIT_S = 30.0  # the goal for building the dataset of 1.19 M frames
QUICK_EVERY = 40
STATUS = "/proc/self/status"
REPO = Path(__file__).resolve().parents[1]


def resident_mb() -> Tuple[float, float]:
    """This process's resident set and its peak so far, in MB (Linux ``/proc``)."""
    with open(STATUS, encoding="ascii") as handle:
        fields = dict(line.split(":", 1) for line in handle if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def measure(side: str, root: str) -> Dict[str, float]:
    """Build one side's objects for the tree at ``root``; MB grown, retained and peak, and the seconds taken
    (``dataset_seconds`` for the dataset object alone, ``seconds`` with our clip index)."""
    from aitl_reid.config import get_default_config
    from aitl_reid.data.clip_view import DenseClipView
    from aitl_reid.data.mars import MarsAttr
    from aitl_reid.data.transforms import ClipTransform
    from torchreid.reid.data.datasets.video.mars import Mars

    cfg = get_default_config()
    transform = ClipTransform(cfg.data.height, cfg.data.width)
    gc.collect()
    base, _ = resident_mb()
    start = time.perf_counter()
    if side == "ours":
        dataset = MarsAttr(root=root, transform=transform, mode="query", seq_len=cfg.video.seq_len, verbose=False)
        dataset_seconds = time.perf_counter() - start
        gc.collect()
        dataset_mb = resident_mb()[0] - base
        views = [DenseClipView(split, transform, cfg.video.seq_len, cfg.test.max_clips)
                 for split in (dataset.query, dataset.gallery)]
        clips = sum(len(view) for view in views)
    elif side == "torchreid":
        dataset = Mars(root=root, transform=transform, verbose=False)
        dataset_seconds = time.perf_counter() - start
        gc.collect()
        dataset_mb, clips = resident_mb()[0] - base, 0
    else:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    seconds = time.perf_counter() - start
    gc.collect()
    retained, peak = resident_mb()
    splits = (dataset.train, dataset.query, dataset.gallery)
    return {"retained_mb": retained - base, "dataset_mb": dataset_mb, "peak_mb": peak - base, "seconds": seconds,
            "dataset_seconds": dataset_seconds,
            "frames": sum(len(items[0]) for split in splits for items in split),
            "tracklets": sum(len(split) for split in splits), "clips": clips, "path_chars": len(splits[0][0][0][0])}


def measure_in_fresh_process(side: str, root: str) -> Dict[str, float]:
    """:func:`measure` in a new interpreter, so that nothing allocated before skews the resident set."""
    result = subprocess.run([sys.executable, "-m", "bench.memory", side, root], cwd=REPO, capture_output=True,
                            text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    if result.returncode != 0:
        raise RuntimeError(f"memory measurement of {side} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _median(runs: List[Dict[str, float]], key: str) -> float:
    return _timing(runs, key).median


def run(settings: Settings) -> List[Row]:
    labels = ("aitl_reid MarsAttr (train + query + gallery, with attributes) + DenseClipView index (query + gallery)",
              "torchreid Mars (the same tracklets as tuples of path strings)")
    load_labels = ("aitl_reid MarsAttr (train + query + gallery, every frame checked against its folder's listing, "
                   "attributes joined)", "torchreid Mars (the same tracklets, no frame checked, no attributes)")
    name, load_name = "Metadata memory, MARS train + query + gallery", "Metadata loading, MARS train + query + gallery"
    skipped = _missing_requirement()
    if skipped:
        return [Row("memory", name, *labels, skipped=skipped, unit="MB", sense="cost"),
                Row("memory", load_name, *load_labels, skipped=skipped, sense="cost")]
    every = QUICK_EVERY if settings.quick else 1
    root = Path(settings.workdir) / f"mars_every{every}"
    start = time.perf_counter()
    build_mars_tree(root, Path(MARS_META), every=every)
    settings.log(f"memory: tree of the real MARS metadata (1 tracklet in {every}) built in "
                 f"{time.perf_counter() - start:.0f} s; {settings.runs} fresh processes per side")
    runs: Dict[str, List[Dict[str, float]]] = {side: [] for side in SIDES}
    for index in range(settings.runs):  # the side measured first alternates, as for the timed rows
        for side in (SIDES if index % 2 == 0 else SIDES[::-1]):
            runs[side].append(measure_in_fresh_process(side, str(root)))
    listed = sum(len(path.read_text().split()) for path in (root / "mars" / "info").glob("*_name.txt"))
    shutil.rmtree(root)  # up to 1.19 M directory entries
    ours, reference = runs["ours"], runs["torchreid"]
    frames, tracklets = int(ours[0]["frames"]), int(ours[0]["tracklets"])
    if (frames, tracklets) != (int(reference[0]["frames"]), int(reference[0]["tracklets"])):
        raise AssertionError(f"the two sides hold different data: ours {ours[0]}, torchreid {reference[0]}")
    data = (f"{tracklets} tracklets, {frames} frame paths of {int(ours[0]['path_chars'])} characters (of the "
            f"{listed} frames in the names files, junk tracklets dropped)")
    notes = [
        f"MB of resident memory added, from a fresh interpreter with everything imported to the built objects "
        f"(gc.collect() before each reading; {settings.runs} runs per side, each in its own process); {data}",
        f"peak during construction: ours {_median(ours, 'peak_mb'):.0f} MB, torchreid {_median(reference, 'peak_mb'):.0f} MB",
        f"ours: the dataset {_median(ours, 'dataset_mb'):.0f} MB, then the index of {int(ours[0]['clips'])} dense clips "
        f"{_median(ours, 'retained_mb') - _median(ours, 'dataset_mb'):.0f} MB",
    ]
    load_notes = [
        f"seconds from the start of construction to the dataset object, in the memory row's fresh interpreters "
        f"({settings.runs} per side, the side measured first alternating); {data}",
        f"ours then builds the index of {int(ours[0]['clips'])} dense clips in "
        f"{_median(ours, 'seconds') - _median(ours, 'dataset_seconds'):.2f} s more",
    ]
    label = f"({frames / 1e6:.2f} M frames)"
    return [Row("memory", f"{name} {label}", *labels, _timing(ours, "retained_mb"), _timing(reference, "retained_mb"),
                sense="cost", unit="MB", limit=LIMIT_MB, notes=notes),
            Row("memory", f"{load_name} {label}", *load_labels, _timing(ours, "dataset_seconds"),
                _timing(reference, "dataset_seconds"), sense="cost", limit=LOAD_LIMIT_S, notes=load_notes)]


def _timing(runs: List[Dict[str, float]], key: str) -> Timing:
    return Timing(tuple(r[key] for r in runs))


def _missing_requirement() -> str:
    if not os.path.isfile(STATUS):
        return f"no {STATUS} to read resident memory from (Linux only)"
    return missing_meta()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("side", choices=SIDES)
    parser.add_argument("root", help="data root holding mars/ (e.g. built by bench.mars_tree.build_mars_tree)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.side, args.root)))
    return 0


if __name__ == "__main__":
    sys.exit(finish(main()))
