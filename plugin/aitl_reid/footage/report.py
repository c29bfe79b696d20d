"""``OUT/report.html``: one row per person with a thumbnail per tracklet grouped by camera, when each was seen,
the person's predicted attributes, and the tracking scores when ground truth was given.

Built from the inference report's pieces (page frame, attribute table); every name from the user's files
(cameras come from file names) is HTML-escaped and image addresses are URL-quoted.
"""
from __future__ import annotations

import html
import os
from typing import Dict, List, Sequence
from urllib.parse import quote

import torch

from ..inference.encoder import AttributePredictions
from ..inference.report import attribute_table, write_html
from .link import TrackletSpan
from .score import SHOWN

THUMB_HEIGHT = 96  # pixels


def clock(frame: int, fps: float) -> str:
    """A frame's time in the video as ``m:ss.s``."""
    seconds = (frame - 1) / fps
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def thumbnail(out: str, frames: Sequence[str]) -> str:
    """The tracklet's middle crop as an ``<img>``, its address relative to the report."""
    src = quote(os.path.relpath(frames[len(frames) // 2], out).replace(os.sep, "/"))
    return f"<img src='{html.escape(src)}' style='height:{THUMB_HEIGHT}px;margin:1px'>"


def person_section(out: str, person: int, members: List[int], spans: Sequence[TrackletSpan],
                   frames: Sequence[Sequence[str]], fps: Dict[str, float], predictions: AttributePredictions) -> str:
    """One person: the attribute table, and beside it per camera its tracklets' thumbnails and times."""
    cameras: Dict[str, List[int]] = {}
    for i in sorted(members, key=lambda i: spans[i].first):
        cameras.setdefault(spans[i].camera, []).append(i)
    cells = []
    for camera, rows in cameras.items():
        images = "".join(thumbnail(out, frames[i]) for i in rows)
        times = ", ".join(f"track {spans[i].track}: {clock(spans[i].first, fps[camera])}-{clock(spans[i].last, fps[camera])} "
                          f"(frames {spans[i].first}-{spans[i].last})" for i in rows)
        cells.append(f"<div style='display:inline-block;vertical-align:top;margin-right:1em'><b>{html.escape(camera)}</b>"
                     f"<br>{images}<br><small>{html.escape(times)}</small></div>")
    seen = sum(spans[i].frames for i in members)
    return (f"<section><h2>person {person + 1}</h2><p>{len(cameras)} camera(s), {len(members)} tracklet(s), "
            f"{seen} frames</p>{attribute_table(predictions, person)}{''.join(cells)}</section>")


def metrics_section(metrics: dict) -> str:
    """The tracking scores per camera and the multi-camera IDF1, as a table."""
    if not metrics:
        return ""
    head = "".join(f"<th>{c}</th>" for c in SHOWN)
    rows = "".join(f"<tr><td>{html.escape(name)}</td>" + "".join(
        f"<td>{s[c]}</td>" if isinstance(s[c], int) else f"<td>{s[c]:.3f}</td>" for c in SHOWN) + "</tr>"
        for name, s in metrics["cameras"].items())
    multi, alone = metrics["multi_camera"], metrics["multi_camera_tracks_alone"]
    return (f"<section><h2>Scores against the ground truth</h2><table><tr><th>camera</th>{head}</tr>{rows}</table>"
            f"<p>multi-camera IDF1 {multi['IDF1']:.3f} (IDP {multi['IDP']:.3f}, IDR {multi['IDR']:.3f}); "
            f"tracks alone, without linking: {alone['IDF1']:.3f}</p></section>")


def write_report(out: str, spans: Sequence[TrackletSpan], person: Sequence[int], frames: Sequence[Sequence[str]],
                 fps: Dict[str, float], names: Sequence[str], classes, probabilities, metrics: dict) -> str:
    """``OUT/report.html`` (``classes``/``probabilities``: ``[persons, attributes]`` arrays, schema order)."""
    predictions = AttributePredictions(list(names), torch.as_tensor(classes).long(), torch.as_tensor(probabilities).float())
    count = max(person) + 1 if len(person) else 0
    members = [[i for i, p in enumerate(person) if p == q] for q in range(count)]
    sections = [metrics_section(metrics)] + [person_section(out, q, members[q], spans, frames, fps, predictions)
                                             for q in range(count)]
    cameras = sorted(fps)
    note = (f"{count} people in {len(spans)} tracklets from {len(cameras)} camera(s): {', '.join(cameras)}. "
            "Thumbnails: each tracklet's middle frame; attributes: the person's most probable class index and its probability.")
    return write_html(os.path.join(out, "report.html"), "People in the footage", sections, note)
