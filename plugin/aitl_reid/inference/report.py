"""Ranking gallery tracklets for each query, and the files the CLI writes.

``ranking.csv`` / ``ranking.json`` (top-k gallery tracklets per query, rank 1 first),
``attributes.csv`` (predicted class and probability per attribute and tracklet) and
``report.html`` with one PNG grid per query (its first frame, then the first few of its ranked
gallery tracklets: a grid holding all of a long list would be tens of thousands of pixels wide).
Distances are the evaluation's: ``test.dist_metric`` on features L2-normalised when
``test.normalize_feature`` is set.
"""
from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from .. import _torchreid
from ..serialization import atomic_write, write_csv
from ..viz.figure import new_figure, save_figure
from ..viz.frames import display_frames
from .encoder import AttributePredictions, EncodedTracklets
from .inputs import Tracklet

QUERY_CHUNK = 1024  # queries whose distances are held at once


@dataclass
class Ranking:
    """The ``k`` nearest gallery tracklets of each query, nearest first."""

    indices: torch.Tensor  # [Q, k] gallery rows
    distances: torch.Tensor  # [Q, k]

    def top(self, k: int) -> Ranking:
        """The first ``k`` of each query's list (the report draws fewer than the files list)."""
        return Ranking(self.indices[:, :k], self.distances[:, :k])


def rank_gallery(query: torch.Tensor, gallery: torch.Tensor, k: int, metric: str = "euclidean",
                 normalize: bool = False) -> Ranking:
    """Top-``k`` gallery rows per query row (ties in gallery order), in bounded memory."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if normalize:
        query, gallery = F.normalize(query, dim=1), F.normalize(gallery, dim=1)
    k = min(k, gallery.shape[0])
    indices, distances = [], []
    for start in range(0, query.shape[0], QUERY_CHUNK):
        dist = _torchreid.metrics.compute_distance_matrix(query[start:start + QUERY_CHUNK], gallery, metric)
        order = torch.sort(dist, dim=1, stable=True).indices[:, :k]
        indices.append(order)
        distances.append(dist.gather(1, order))
    return Ranking(torch.cat(indices), torch.cat(distances))


def ranking_rows(ranking: Ranking, query_names: Sequence[str], gallery_names: Sequence[str]) -> List[dict]:
    """``{query, rank, gallery, distance}`` per ranked pair, queries in order, rank 1 first."""
    rows = []
    for q, (order, dists) in enumerate(zip(ranking.indices.tolist(), ranking.distances.tolist())):
        for rank, (g, d) in enumerate(zip(order, dists), start=1):
            rows.append({"query": query_names[q], "rank": rank, "gallery": gallery_names[g], "distance": float(d)})
    return rows


def write_ranking(out_dir: str, rows: List[dict], metric: str) -> List[str]:
    """``ranking.csv`` and ``ranking.json`` (the same rows, grouped by query in the JSON)."""
    csv_path, json_path = os.path.join(out_dir, "ranking.csv"), os.path.join(out_dir, "ranking.json")
    write_csv(csv_path, ["query", "rank", "gallery", "distance"],
              ([r["query"], r["rank"], r["gallery"], f"{r['distance']:.6f}"] for r in rows))
    grouped: Dict[str, List[dict]] = {}
    for row in rows:
        grouped.setdefault(row["query"], []).append({k: row[k] for k in ("rank", "gallery", "distance")})
    with atomic_write(json_path, "w", encoding="utf-8") as handle:
        json.dump({"metric": metric, "queries": [{"query": q, "ranked": r} for q, r in grouped.items()]}, handle, indent=1)
    return [csv_path, json_path]


def write_attributes(path: str, sets: Sequence[tuple]) -> str:
    """``attributes.csv``: per tracklet (``set`` = query / gallery / input), each attribute's class and probability.

    ``sets`` holds ``(set name, EncodedTracklets, AttributePredictions)``.
    """
    names = sets[0][2].names
    header = ["set", "tracklet"] + attribute_columns(names)
    rows = [[set_name, tracklet_name] + attribute_cells(predictions, i)
            for set_name, encoded, predictions in sets for i, tracklet_name in enumerate(encoded.names)]
    return write_csv(path, header, rows)


def attribute_columns(names: Sequence[str]) -> List[str]:
    """CSV columns of predicted attributes: ``<name>`` (class) and ``<name>_prob`` per attribute."""
    return [c for name in names for c in (name, f"{name}_prob")]


def attribute_cells(predictions: AttributePredictions, row: int) -> list:
    """Row ``row``'s cells under :func:`attribute_columns`."""
    classes, probs = predictions.classes[row].tolist(), predictions.probabilities[row].tolist()
    return [v for c, p in zip(classes, probs) for v in (c, f"{p:.4f}")]


# ---------------------------------------------------------------------------------- report.html
def first_frame(tracklet: Tracklet, height: int, width: int) -> np.ndarray:
    return display_frames(tracklet.frames, [0], height, width)[0]


def short(name: str, limit: int = 22) -> str:
    """``name`` cut in the middle to at most ``limit`` characters (grid titles stay within their frame)."""
    return name if len(name) <= limit else name[: limit // 2 - 1] + "…" + name[-(limit - limit // 2):]


def plot_row(out_png: str, tracklets: Sequence[Tracklet], titles: Sequence[str], height: int, width: int) -> str:
    """One row of first frames with a title each (a query and its ranked gallery, or input tracklets)."""
    figure, axes = new_figure(1, len(tracklets), size=(1.05 * len(tracklets) + 0.3, 2.4), squeeze=False)
    for axis, tracklet, title in zip(axes[0], tracklets, titles):
        axis.imshow(first_frame(tracklet, height, width))
        axis.set_title(title, fontsize=6)
        axis.set_axis_off()
    return save_figure(figure, out_png)


def attribute_table(predictions: AttributePredictions, row: int) -> str:
    if not predictions.names:
        return ""
    cells = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{c}</td><td>{p:.2f}</td></tr>"
        for name, c, p in zip(predictions.names, predictions.classes[row].tolist(), predictions.probabilities[row].tolist())
    )
    return f"<table><tr><th>attribute</th><th>class</th><th>prob.</th></tr>{cells}</table>"


_STYLE = ("body{font-family:sans-serif;margin:1.5em} section{margin-bottom:2em} img{max-width:100%} "
          "table{border-collapse:collapse;font-size:12px;display:inline-block;vertical-align:top;margin-right:1em} "
          "td,th{border:1px solid #ccc;padding:1px 6px}")


def write_html(path: str, title: str, sections: Sequence[str], note: str = "") -> str:
    body = "\n".join(sections)
    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                     f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(note)}</p>\n{body}\n</body></html>\n")
    return path


def ranking_section(out_dir: str, index: int, query: EncodedTracklets, gallery: EncodedTracklets, ranking: Ranking,
                    predictions: AttributePredictions, size: tuple, extra_png: Optional[str] = None) -> str:
    """One query's part of the report: its grid PNG (written to ``out_dir/grids``) and its attribute table."""
    order, dists = ranking.indices[index].tolist(), ranking.distances[index].tolist()
    tracklets = [query.tracklets[index]] + [gallery.tracklets[g] for g in order]
    titles = [f"query\n{short(query.names[index])}"] + [f"#{r}  d={d:.3f}\n{short(gallery.names[g])}"
                                                      for r, (g, d) in enumerate(zip(order, dists), 1)]
    png = plot_row(os.path.join(out_dir, "grids", f"query_{index:04d}.png"), tracklets, titles, *size)
    images = f"<img src='{os.path.relpath(png, out_dir)}'>"
    if extra_png:
        images += f"<br><img src='{os.path.relpath(extra_png, out_dir)}'>"
    return (f"<section><h2>{html.escape(query.names[index])}</h2>{images}<br>"
            f"{attribute_table(predictions, index)}</section>")


def attributes_section(out_dir: str, start: int, encoded: EncodedTracklets, predictions: AttributePredictions,
                       size: tuple, per_row: int = 8) -> str:
    """Up to ``per_row`` input tracklets from ``start``: their first frames and predicted attributes."""
    stop = min(start + per_row, len(encoded.tracklets))
    png = plot_row(os.path.join(out_dir, "grids", f"tracklets_{start:05d}.png"), encoded.tracklets[start:stop],
                   [short(name) for name in encoded.names[start:stop]], *size)
    tables = "".join(f"<div style='display:inline-block'><b>{html.escape(encoded.names[i])}</b><br>"
                     f"{attribute_table(predictions, i)}</div>" for i in range(start, stop))
    return f"<section><img src='{os.path.relpath(png, out_dir)}'><br>{tables}</section>"
