"""Generate a synthetic dataset in torchreid's exact MARS layout under ``<root>/mars/``.

The tree is written in a safe order: a marker file first, then frames, ``info/`` and the CSV, and
a manifest (with the parameters) last. A tree without the manifest is incomplete and is
regenerated; a folder that holds neither marker is someone's real data and is never touched.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional

from ..progress import progress
from ..serialization import atomic_write
from .camera import STRIP_WIDTHS, Camera, make_camera
from .identity import Identity, sample_identity, with_carried
from .metadata import ATTRIBUTE_CSV, write_attribute_csv, write_info
from .render import render_tracklet_jpegs
from .scene import plan_tracklet, target_for_role
from .tracklets import STREAM_CAMERA, STREAM_IDENTITY, STREAM_RENDER, TrackletSpec, plan_tracklets, rng_for, select_queries

DATASET_DIR = "mars"
MANIFEST = "synthetic_manifest.json"
IN_PROGRESS = ".synthetic_in_progress"
GENERATOR_VERSION = 2  # bump when the output of the same parameters changes
_OWNED_ENTRIES = ("bbox_train", "bbox_test", "info", ATTRIBUTE_CSV)
MAX_CAMERAS = 6  # torchreid's MARS loader asserts 1 <= camid <= 6


@dataclass(frozen=True)
class SyntheticSummary:
    """What was written. ``num_gallery_tracklets`` counts what torchreid loads (junk excluded)."""

    dataset_dir: str
    num_train_ids: int
    num_test_ids: int
    num_train_tracklets: int
    num_query_tracklets: int
    num_gallery_tracklets: int
    num_distractor_tracklets: int
    num_junk_tracklets: int
    num_frames: int
    seconds: float

    @property
    def frames_per_second(self) -> float:
        return self.num_frames / self.seconds if self.seconds > 0 else float("inf")


def _check_int(name: str, value: Any, low: int, high: Optional[int] = None, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"synthetic MARS: {name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"synthetic MARS: {name} must be {bounds}, got {value}{why}")


def validate_params(params: Dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the parameter if the dataset cannot be built as asked."""
    _check_int("num_ids", params["num_ids"], 2, 9999, " (the first half trains, the second half tests)")
    _check_int("num_cams", params["num_cams"], 2, MAX_CAMERAS,
               " (queries need a second camera; torchreid's MARS loader accepts cameras 1-6)")
    _check_int("tracklets_per_id", params["tracklets_per_id"], 2, 9999,
               " (a query needs a gallery tracklet of its identity in another camera)")
    _check_int("min_frames", params["min_frames"], 1, 999, " (frame numbers have 3 digits)")
    _check_int("max_frames", params["max_frames"], 1, 999, " (frame numbers have 3 digits)")
    if params["min_frames"] > params["max_frames"]:
        raise ValueError(
            f"synthetic MARS: min_frames ({params['min_frames']}) must not exceed max_frames ({params['max_frames']})"
        )
    _check_int("height", params["height"], 32, None, " (smaller frames cannot show a person)")
    _check_int("width", params["width"], 16, None, " (smaller frames cannot show a person)")
    _check_int("seed", params["seed"], 0)
    _check_int("num_distractors", params["num_distractors"], 0, 9999)
    _check_int("num_junk", params["num_junk"], 0, 9999)


def _read_manifest(dataset_dir: str) -> Optional[Dict[str, Any]]:
    path = os.path.join(dataset_dir, MANIFEST)
    if not os.path.isfile(path):
        return None
    with open(path, "r", encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError:
            return None


def tree_status(root: str, **params: Any) -> str:
    """'complete', 'missing', 'incomplete' (interrupted run) or 'different parameters'."""
    dataset_dir = os.path.join(root, DATASET_DIR)
    manifest = _read_manifest(dataset_dir)
    if manifest is not None:
        same = manifest.get("params") == params and manifest.get("version") == GENERATOR_VERSION
        return "complete" if same else "different parameters"
    if os.path.exists(os.path.join(dataset_dir, IN_PROGRESS)):
        return "incomplete"
    return "missing"


def _mark_in_progress(dataset_dir: str) -> None:
    with open(os.path.join(dataset_dir, IN_PROGRESS), "w", encoding="utf-8") as handle:
        handle.write("synthetic MARS generation in progress or interrupted; generate it again "
                     "(aitl-reid-demo, or tools/make_synthetic.py in a checkout)\n")


def _clear_previous(dataset_dir: str) -> None:
    """Remove an earlier synthetic tree; refuse to touch a folder this generator did not write."""
    if not os.path.isdir(dataset_dir) or not os.listdir(dataset_dir):
        return
    manifest, marker = os.path.join(dataset_dir, MANIFEST), os.path.join(dataset_dir, IN_PROGRESS)
    if not (os.path.exists(manifest) or os.path.exists(marker)):
        raise FileExistsError(
            f"{dataset_dir} exists and is not a synthetic MARS tree (it has no {MANIFEST} or {IN_PROGRESS}); "
            "refusing to overwrite it. Choose another root or move that folder away."
        )
    _mark_in_progress(dataset_dir)  # before the manifest goes, so a crash leaves the tree recognisable
    if os.path.exists(manifest):
        os.remove(manifest)
    for entry in _OWNED_ENTRIES:
        path = os.path.join(dataset_dir, entry)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


# State shared by the rendering workers (set once per process by _init_worker).
_WORKER: Dict[str, Any] = {}


def _init_worker(state: Dict[str, Any]) -> None:
    _WORKER.clear()
    _WORKER.update(state)


def _render_and_write(spec: TrackletSpec) -> int:
    """Render one tracklet and write its JPEG frames; returns the number of frames."""
    state = _WORKER
    rng = rng_for(state["seed"], STREAM_RENDER, spec.pid + 1, spec.number)
    identity: Optional[Identity] = state["identities"].get(spec.pid)
    target = target_for_role(spec.role, with_carried(identity.look, spec.carried) if identity else None, rng)
    height, width = state["height"], state["width"]
    plans = plan_tracklet(target, dict(spec.conditions), spec.num_frames, height, width, STRIP_WIDTHS * width, rng)
    camera: Camera = state["cameras"][spec.cam]
    folder = os.path.join(state["dataset_dir"], f"bbox_{spec.split}", spec.folder)
    for name, data in zip(spec.frame_names(), render_tracklet_jpegs(camera, plans, width)):
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(data)
    return spec.num_frames


def _render_all(specs: List[TrackletSpec], state: Dict[str, Any], workers: int) -> int:
    def rendered(frame_counts: Iterable[int]) -> int:
        return sum(progress(frame_counts, "rendering", total=len(specs), unit="tracklet"))

    if workers == 1:
        _init_worker(state)
        return rendered(_render_and_write(spec) for spec in specs)
    with multiprocessing.get_context().Pool(workers, initializer=_init_worker, initargs=(state,)) as pool:
        return rendered(pool.imap_unordered(_render_and_write, specs, chunksize=4))


def _write_manifest(dataset_dir: str, params: Dict[str, Any], counts: Dict[str, int]) -> None:
    """Written last and atomically: its presence means the tree is complete."""
    text = json.dumps({"version": GENERATOR_VERSION, "params": params, "counts": counts}, indent=2, sort_keys=True)
    with atomic_write(os.path.join(dataset_dir, MANIFEST), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


def generate_synthetic_mars(root: str, num_ids: int = 60, num_cams: int = 4, tracklets_per_id: int = 4,
                            min_frames: int = 8, max_frames: int = 24, height: int = 128, width: int = 64,
                            seed: int = 0, num_distractors: int = 4, num_junk: int = 2,
                            workers: int = 1) -> SyntheticSummary:
    """Write a synthetic MARS tree under ``<root>/mars/``; same seed and sizes give identical bytes.

    Identities 1..num_ids//2 form the training split, the others the test split, where each
    identity gets queries with a cross-camera gallery match; ``num_distractors`` tracklets go to
    ``bbox_test/0000`` and ``num_junk`` to ``bbox_test/00-1``. ``workers`` > 1 renders in
    parallel processes without changing the output.
    """
    params = dict(num_ids=num_ids, num_cams=num_cams, tracklets_per_id=tracklets_per_id, min_frames=min_frames,
                  max_frames=max_frames, height=height, width=width, seed=seed, num_distractors=num_distractors,
                  num_junk=num_junk)
    validate_params(params)
    _check_int("workers", workers, 1)
    dataset_dir = os.path.abspath(os.path.join(root, DATASET_DIR))
    _clear_previous(dataset_dir)
    start = time.perf_counter()  # the speed reported is that of generation, not of removing an old tree
    os.makedirs(dataset_dir, exist_ok=True)
    _mark_in_progress(dataset_dir)

    splits = plan_tracklets(seed, num_ids, num_cams, tracklets_per_id, min_frames, max_frames, num_distractors,
                            num_junk)
    queries = select_queries(splits["test"])
    identities = {pid: sample_identity(rng_for(seed, STREAM_IDENTITY, pid)) for pid in range(1, num_ids + 1)}
    cameras = {cam: make_camera(rng_for(seed, STREAM_CAMERA, cam), height, width) for cam in range(1, num_cams + 1)}
    specs = splits["train"] + splits["test"]
    for spec in specs:
        os.makedirs(os.path.join(dataset_dir, f"bbox_{spec.split}", spec.folder), exist_ok=True)
    state = dict(seed=seed, identities=identities, cameras=cameras, height=height, width=width, dataset_dir=dataset_dir)
    num_frames = _render_all(specs, state, workers)

    write_info(os.path.join(dataset_dir, "info"), splits, queries)
    csv_rows = write_attribute_csv(os.path.join(dataset_dir, ATTRIBUTE_CSV), splits, identities)
    query_rows = set(queries)
    counts = dict(
        num_train_ids=num_ids // 2,
        num_test_ids=num_ids - num_ids // 2,
        num_train_tracklets=len(splits["train"]),
        num_query_tracklets=len(queries),
        num_gallery_tracklets=sum(1 for row, s in enumerate(splits["test"]) if s.pid != -1 and row not in query_rows),
        num_distractor_tracklets=num_distractors,
        num_junk_tracklets=num_junk,
        num_frames=num_frames,
    )
    _write_manifest(dataset_dir, params, dict(counts, attribute_rows=csv_rows))
    os.remove(os.path.join(dataset_dir, IN_PROGRESS))
    return SyntheticSummary(dataset_dir=dataset_dir, seconds=time.perf_counter() - start, **counts)


def ensure_synthetic_mars(root: str, if_missing: bool = False, workers: int = 1,
                          report: Callable[[str], None] = print, **params: Any) -> None:
    """Generate the tree of ``params`` under ``<root>/mars/``, or with ``if_missing`` keep a complete one of the same
    parameters; ``report`` gets what is done, in words (the demo's and ``tools/make_synthetic.py``'s output)."""
    status = tree_status(root, **params)
    target = os.path.join(root, DATASET_DIR)
    if if_missing and status == "complete":
        report(f"synthetic MARS already complete in {target} (same parameters); nothing to do")
        return
    if status != "missing":
        report(f"{target}: existing tree is {status}; regenerating it")
    summary = generate_synthetic_mars(root, workers=workers, **params)
    report(f"wrote synthetic MARS to {target}: {summary.num_train_ids} train ids / {summary.num_train_tracklets} "
           f"tracklets, {summary.num_test_ids} test ids with {summary.num_query_tracklets} query and "
           f"{summary.num_gallery_tracklets} gallery tracklets ({summary.num_distractor_tracklets} distractor, "
           f"{summary.num_junk_tracklets} junk), {summary.num_frames} frames of {params['height']}x{params['width']}")
    report(f"speed: {summary.frames_per_second:.0f} frames/s ({summary.seconds:.1f} s, {workers} worker(s))")


def synthetic_kwargs_from_config(cfg: Any) -> Dict[str, Any]:
    """Keyword arguments of :func:`generate_synthetic_mars` from ``cfg.synthetic`` and ``cfg.data.root``."""
    syn = cfg.synthetic
    return dict(
        root=cfg.data.root, num_ids=syn.num_ids, num_cams=syn.num_cams, tracklets_per_id=syn.tracklets_per_id,
        min_frames=syn.min_frames, max_frames=syn.max_frames, height=syn.height, width=syn.width, seed=syn.seed,
        num_distractors=syn.num_distractors, num_junk=syn.num_junk,
    )
