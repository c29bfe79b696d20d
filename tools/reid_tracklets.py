"""Rank gallery tracklets for each query tracklet with a trained model, and predict their attributes.

    python tools/reid_tracklets.py --run log/asta_aitl_synthetic --out out/ QUERY GALLERY
    python tools/reid_tracklets.py --run RUN --out OUT --attributes-only TRACKLETS

QUERY, GALLERY and TRACKLETS are each a folder with one sub-folder of frames per tracklet (frame
order: the numbers in the file names), or a video whose MOTChallenge tracks (frame, id, x, y, w, h,
...) are in --query-tracks / --gallery-tracks or else beside it as <video>.txt; tracks are cropped
into OUT/crops/. RUN is a training run's data.save_dir (or one of its checkpoints).

Writes into OUT: ranking.csv and ranking.json (the --k nearest gallery tracklets per query, rank 1
first), attributes.csv (predicted class and probability per attribute, named by the schema) and
report.html with its PNG grids (in OUT/grids). Bad input ends with status 2 and a message naming
the file (and line).
"""
from __future__ import annotations

import argparse
import os
import sys
from types import SimpleNamespace
from typing import List, Optional

import torch

from aitl_reid.inference import (InputError, TrackletEncoder, load_trained, predict_attributes, rank_gallery,
                                 read_input)
from aitl_reid.inference.fast import BACKENDS, build_forward
from aitl_reid.inference.report import (attributes_section, ranking_rows, ranking_section, write_attributes,
                                        write_html, write_ranking)
from aitl_reid.launch import run_cli


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="QUERY and GALLERY (one TRACKLETS input with --attributes-only)")
    parser.add_argument("--run", required=True, help="training run folder (data.save_dir) or a checkpoint file")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--k", type=int, default=10, help="gallery tracklets listed per query (default 10)")
    parser.add_argument("--checkpoint", default="latest", help="'latest' (default), 'best' (highest mAP in metrics.csv) or a path")
    parser.add_argument("--config-file", default="", help="the training config, for runs that stored none")
    parser.add_argument("--set", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"), help="override a config key")
    parser.add_argument("--onnx", default="", help="run this graph from tools/export_onnx.py under ONNX Runtime instead of PyTorch")
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
    args = parser.parse_args(argv)
    expected = 1 if args.attributes_only else 2
    if len(args.inputs) != expected:
        parser.error(f"expected {'one input (--attributes-only)' if expected == 1 else 'QUERY and GALLERY'}, got {len(args.inputs)}")
    if args.k < 1:
        parser.error("--k must be at least 1")
    return args


def attention_png(trained, encoder: TrackletEncoder, tracklet, path: str) -> str:
    """The query's first clip with each attribute stream's attention, drawn by the Fig. 6 tool."""
    from aitl_reid.viz.attention import plot_attention_grid, tracklet_attention

    run = SimpleNamespace(cfg=trained.cfg, model=trained.model, device=trained.device,
                          datamanager=SimpleNamespace(transform_te=encoder.transform))
    return plot_attention_grid([tracklet_attention(run, tracklet.as_dataset_entry(), tracklet.name)], path)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    trained = load_trained(args.run, args.checkpoint, args.device, args.config_file, [v for pair in args.set for v in pair])
    forward = build_forward(trained, args.onnx, args.backend)
    encoder = TrackletEncoder(trained, forward, batch_size=args.batch_size, workers=args.workers)
    size, schema, form = trained.input_size, trained.schema, trained.attribute_form
    print(f"model {trained.cfg.model.name} from {trained.checkpoint}; {forward}")
    tracks = [args.query_tracks, args.gallery_tracks]
    sets = ["input"] if args.attributes_only else ["query", "gallery"]
    inputs = {}
    for (name, path), tracks_path in zip(zip(sets, args.inputs), tracks):  # every input is checked before any is encoded
        inputs[name] = read_input(path, os.path.join(args.out, "crops", name), tracks_path)
        print(f"{name}: {len(inputs[name])} tracklets from {path}")
    encoded = {name: encoder.encode(tracklets, desc=name) for name, tracklets in inputs.items()}
    predictions = {name: predict_attributes(e.attr_logits, schema, form) for name, e in encoded.items()}
    written = [write_attributes(os.path.join(args.out, "attributes.csv"), [(n, encoded[n], predictions[n]) for n in sets])]

    if args.attributes_only:
        if not predictions["input"].names:
            raise InputError(f"model {trained.cfg.model.name} has no attribute streams: nothing to predict")
        shown = min(len(encoded["input"].tracklets), args.report_queries * 8)
        sections = [attributes_section(args.out, s, encoded["input"], predictions["input"], size) for s in range(0, shown, 8)]
        title, note = "Predicted attributes", f"{shown} of {len(encoded['input'].tracklets)} tracklets; class index and probability per attribute."
    else:
        query, gallery = encoded["query"], encoded["gallery"]
        ranking = rank_gallery(query.features, gallery.features, args.k, trained.cfg.test.dist_metric,
                               trained.cfg.test.normalize_feature)
        written += write_ranking(args.out, ranking_rows(ranking, query.names, gallery.names), trained.cfg.test.dist_metric)
        sections = []
        for index in range(min(len(query.tracklets), args.report_queries)):
            extra = None
            if args.attention:
                extra = attention_png(trained, encoder, query.tracklets[index], os.path.join(args.out, "grids", f"attention_{index:04d}.png"))
            sections.append(ranking_section(args.out, index, query, gallery, ranking, predictions["query"], size, extra))
        title = "Re-ID ranking"
        note = (f"{len(sections)} of {len(query.tracklets)} queries: first frame of the query, then its {ranking.indices.shape[1]} "
                f"nearest gallery tracklets ({trained.cfg.test.dist_metric} distance d); the query's predicted attributes below.")
    written.append(write_html(os.path.join(args.out, "report.html"), title, sections, note))
    print("wrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    sys.exit(run_cli(main))
