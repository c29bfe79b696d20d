"""Rank gallery tracklets for each query tracklet with a trained model, and predict their attributes.

    aitl-reid-infer --run RUN --out OUT [options] QUERY GALLERY [KEY VALUE ...]
    aitl-reid-infer --run RUN --out OUT [options] --attributes-only TRACKLETS [KEY VALUE ...]

The same program as ``python -m aitl_reid.infer`` and, in a checkout, ``python tools/reid_tracklets.py``.

QUERY, GALLERY and TRACKLETS are each a folder with one sub-folder of frames per tracklet (frame
order: the numbers in the file names), or a video whose MOTChallenge tracks (frame, id, x, y, w, h,
...) are in --query-tracks / --gallery-tracks or else beside it as <video>.txt; tracks are cropped
into OUT/crops/. RUN is a training run's data.save_dir (or one of its checkpoints).

After the input(s), KEY VALUE pairs override the run's config as the trainer's do
(aitl-reid-train --config-file FILE KEY VALUE ...), e.g. test.dist_metric cosine; options may
stand before or after them.

Writes into OUT: ranking.csv and ranking.json (the --k nearest gallery tracklets per query, rank 1
first), attributes.csv (predicted class and probability per attribute, named by the schema) and
report.html with a PNG grid per query of its --report-k nearest (in OUT/grids). OUT is locked while
it is written: a second command given the same OUT meanwhile stops with status 2, naming the first.
Bad input ends with status 2 and a message naming the file (and line); so does --onnx without the
onnx extra (pip install 'aitl-reid[onnx]').
"""
from __future__ import annotations

import argparse
import os
import sys
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

import torch

from .inference import (AttributePredictions, EncodedTracklets, InputError, Tracklet, TrackletEncoder, TrainedModel,
                        load_trained, predict_attributes, rank_gallery, read_input)
from .inference.fast import BACKENDS, build_forward
from .inference.report import (Ranking, attributes_section, ranking_rows, ranking_section, write_attributes, write_html,
                               write_ranking)
from .folder_lock import FolderLock
from .launch import run_cli
from .process_exit import as_command

TRACKLETS_PER_ROW = 8  # --attributes-only: input tracklets per report row


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Options, then ``inputs`` (QUERY GALLERY, or TRACKLETS with --attributes-only) and ``opts`` (the KEY VALUE
    pairs after them): both are positional, told apart by how many inputs the mode takes."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s --run RUN --out OUT [options] (QUERY GALLERY | --attributes-only TRACKLETS) [KEY VALUE ...]")
    parser.add_argument("positional", nargs="*", metavar="INPUT",
                        help="QUERY and GALLERY (one TRACKLETS input with --attributes-only), then KEY VALUE config overrides")
    parser.add_argument("--run", required=True, help="training run folder (data.save_dir) or a checkpoint file")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--k", type=int, default=10, help="gallery tracklets listed per query in ranking.csv/json (default 10)")
    parser.add_argument("--report-k", type=int, default=10,
                        help="gallery tracklets drawn per query in report.html, the first of the --k listed (default 10)")
    parser.add_argument("--checkpoint", default="latest", help="'latest' (default), 'best' (highest mAP in metrics.csv) or a path")
    parser.add_argument("--config-file", default="", help="the training config, for runs that stored none")
    parser.add_argument("--onnx", default="",
                        help="run this graph from aitl-reid-export under ONNX Runtime instead of PyTorch (the onnx extra)")
    parser.add_argument("--backend", choices=BACKENDS, default="fast",
                        help="PyTorch path: 'fast' (CPU: frozen graph, batch norm folded; same features within "
                             "float rounding; the default), 'bf16' (faster where the CPU has bfloat16 instructions; "
                             "features within 2e-2 relative) or 'exact' (the model as trained). Ignored with --onnx")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="clips per forward pass, across tracklets (default 16, fastest per frame on a CPU; "
                             "on a GPU use more, e.g. 128)")
    parser.add_argument("--workers", type=int, default=2, help="frame-decoding processes (default 2)")
    parser.add_argument("--attributes-only", action="store_true", help="predict attributes for one input; no ranking")
    parser.add_argument("--query-tracks", default="", help="MOTChallenge tracks of a QUERY (or TRACKLETS) video")
    parser.add_argument("--gallery-tracks", default="", help="MOTChallenge tracks of a GALLERY video")
    parser.add_argument("--report-queries", type=int, default=50, help="queries drawn in report.html (default 50)")
    parser.add_argument("--attention", action="store_true", help="also draw each reported query's attention maps")
    args = parser.parse_intermixed_args(argv)  # options after the inputs too, as in "cam1.mp4 cam2.mp4 --gallery-tracks ..."
    expected = 1 if args.attributes_only else 2
    if len(args.positional) < expected:
        parser.error(f"expected {'one input (--attributes-only)' if expected == 1 else 'QUERY and GALLERY'}, "
                     f"got {len(args.positional)}")
    args.inputs, args.opts = args.positional[:expected], args.positional[expected:]
    for name in ("k", "report_k"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def attention_png(trained: TrainedModel, encoder: TrackletEncoder, tracklet: Tracklet, path: str) -> str:
    """The query's first clip with each attribute stream's attention, drawn by the Fig. 6 tool."""
    from .viz.attention import plot_attention_grid, tracklet_attention

    run = SimpleNamespace(cfg=trained.cfg, model=trained.model, device=trained.device,
                          datamanager=SimpleNamespace(transform_te=encoder.transform))
    return plot_attention_grid([tracklet_attention(run, tracklet.as_dataset_entry(), tracklet.name)], path)


def ranking_report(args: argparse.Namespace, trained: TrainedModel, encoder: TrackletEncoder, query: EncodedTracklets,
                   gallery: EncodedTracklets, ranking: Ranking, predictions: AttributePredictions) -> Tuple[List[str], str]:
    """report.html's sections for the first --report-queries queries, each drawing its --report-k nearest, and its note."""
    shown = ranking.top(args.report_k)
    sections = []
    for index in range(min(len(query.tracklets), args.report_queries)):
        extra = None
        if args.attention:
            png = os.path.join(args.out, "grids", f"attention_{index:04d}.png")
            extra = attention_png(trained, encoder, query.tracklets[index], png)
        sections.append(ranking_section(args.out, index, query, gallery, shown, predictions, trained.input_size, extra))
    note = (f"{len(sections)} of {len(query.tracklets)} queries: first frame of the query, then its {shown.indices.shape[1]} "
            f"nearest gallery tracklets ({trained.cfg.test.dist_metric} distance d; ranking.csv lists "
            f"{ranking.indices.shape[1]}); the query's predicted attributes below.")
    return sections, note


def attributes_report(args: argparse.Namespace, trained: TrainedModel, encoded: EncodedTracklets,
                      predictions: AttributePredictions) -> Tuple[List[str], str]:
    """report.html's sections for --attributes-only (rows of input tracklets with their attributes), and its note."""
    if not predictions.names:
        raise InputError(f"model {trained.cfg.model.name} has no attribute streams: nothing to predict")
    shown = min(len(encoded.tracklets), args.report_queries * TRACKLETS_PER_ROW)
    sections = [attributes_section(args.out, start, encoded, predictions, trained.input_size, TRACKLETS_PER_ROW)
                for start in range(0, shown, TRACKLETS_PER_ROW)]
    return sections, f"{shown} of {len(encoded.tracklets)} tracklets; class index and probability per attribute."


def infer(argv: Optional[List[str]] = None) -> int:
    """The program; errors propagate (:func:`main` turns bad input into status 2). OUT is locked while it is
    written (:mod:`aitl_reid.folder_lock`): a second command given the same OUT meanwhile stops, naming this one."""
    args = parse_args(argv)
    with FolderLock(args.out, "--out"):
        return write_outputs(args)


def write_outputs(args: argparse.Namespace) -> int:
    """Encode the inputs, rank or predict, and write OUT's files."""
    trained = load_trained(args.run, args.checkpoint, args.device, args.config_file, args.opts)
    forward = build_forward(trained, args.onnx, args.backend)
    encoder = TrackletEncoder(trained, forward, batch_size=args.batch_size, workers=args.workers)
    print(f"model {trained.cfg.model.name} from {trained.checkpoint}; {forward}")
    sets = ["input"] if args.attributes_only else ["query", "gallery"]
    inputs: Dict[str, List[Tracklet]] = {}
    for name, path, tracks_path in zip(sets, args.inputs, [args.query_tracks, args.gallery_tracks]):
        # every input is checked before any is encoded
        inputs[name] = read_input(path, os.path.join(args.out, "crops", name), tracks_path)
        print(f"{name}: {len(inputs[name])} tracklets from {path}")
    encoded = {name: encoder.encode(tracklets, desc=name) for name, tracklets in inputs.items()}
    predictions = {name: predict_attributes(e.attr_logits, trained.schema, trained.attribute_form)
                   for name, e in encoded.items()}
    written = [write_attributes(os.path.join(args.out, "attributes.csv"), [(n, encoded[n], predictions[n]) for n in sets])]

    if args.attributes_only:
        title = "Predicted attributes"
        sections, note = attributes_report(args, trained, encoded["input"], predictions["input"])
    else:
        query, gallery, metric = encoded["query"], encoded["gallery"], trained.cfg.test.dist_metric
        ranking = rank_gallery(query.features, gallery.features, args.k, metric, trained.cfg.test.normalize_feature)
        written += write_ranking(args.out, ranking_rows(ranking, query.names, gallery.names), metric)
        title = "Re-ID ranking"
        sections, note = ranking_report(args, trained, encoder, query, gallery, ranking, predictions["query"])
    written.append(write_html(os.path.join(args.out, "report.html"), title, sections, note))
    print("wrote " + ", ".join(written))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``aitl-reid-infer``: bad input (paths, config, a missing extra) ends with its message and status 2."""
    with torch.no_grad():
        return run_cli(infer, argv)


command = as_command(main)
"""``aitl-reid-infer``, the installed command (setup.py's console scripts); ``python -m`` runs it too."""

if __name__ == "__main__":
    sys.exit(command())
