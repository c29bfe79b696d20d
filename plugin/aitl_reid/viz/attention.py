"""Fig. 6: the identity-relevant and identity-irrelevant attention of chosen tracklets over their frames.

The paper shows that both attribute streams focus on the body (and away from background and
occluders) with different spatio-temporal emphasis; drawing each stream's map over the frames it
was computed from is what lets a reader see that in their own model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from ..data.image_io import read_frames
from ..data.sampling import dense_clip_indices
from ..schema import ID_IRRELEVANT, ID_RELEVANT, STREAM_GROUPS
from .figure import new_figure, save_figure
from .frames import overlay_heatmap, to_display
from .run import LoadedRun, select_tracklets, split_tracklets

STREAM_LABELS = {ID_RELEVANT: "ID-relevant", ID_IRRELEVANT: "ID-irrelevant"}


@dataclass
class TrackletAttention:
    """One tracklet's clip: its frames and each attribute stream's attention over them."""

    title: str
    frames: np.ndarray  # uint8 [T, H, W, 3]
    attention: Dict[str, np.ndarray]  # stream -> [T, h, w], sigmoid values in [0, 1]


def clip_frame_indices(num_frames: int, seq_len: int, clip: int) -> np.ndarray:
    """Frame indices of the ``clip``-th dense test clip (the clips the model sees at test time)."""
    clips = dense_clip_indices(num_frames, seq_len, max_clips=num_frames)
    if not 0 <= clip < len(clips):
        raise ValueError(f"clip {clip} does not exist: a tracklet of {num_frames} frames has {len(clips)} clips of {seq_len}")
    return clips[clip]


@torch.no_grad()
def tracklet_attention(run: LoadedRun, tracklet: tuple, title: str, clip: int = 0) -> TrackletAttention:
    """Run one clip of ``tracklet`` through the model and keep its frames and attention maps."""
    img_paths = tracklet[0]
    frames = read_frames(img_paths, clip_frame_indices(len(img_paths), run.cfg.video.seq_len, clip))
    inputs = run.datamanager.transform_te(frames).unsqueeze(0).to(run.device)
    output = run.model(inputs, full_output=True)
    if not output.attention:
        raise ValueError(f"model '{run.cfg.model.name}' has no attribute streams, so no attention to draw; use an asta_* model")
    attention = {stream: maps[0].float().cpu().numpy() for stream, maps in output.attention.items()}
    return TrackletAttention(title, to_display(frames, run.cfg.data.height, run.cfg.data.width), attention)


def _scaled(maps: np.ndarray, normalise: bool) -> Tuple[np.ndarray, str]:
    """Maps to draw and a label of their raw range; min-max over the clip's frames when ``normalise``."""
    low, high = float(maps.min()), float(maps.max())
    label = f"[{low:.2f}, {high:.2f}]"
    if not normalise:
        return maps, label
    return (maps - low) / max(high - low, 1e-12), label


def plot_attention_grid(items: Sequence[TrackletAttention], out_png: str, normalise: bool = True) -> str:
    """Tracklets side by side; rows: frames, then one overlay row per attribute stream. Returns ``out_png``."""
    if not items:
        raise ValueError("plot_attention_grid needs at least one tracklet")
    streams = [s for s in STREAM_GROUPS if s in items[0].attention]
    length, (height, width) = len(items[0].frames), items[0].frames.shape[1:3]
    rows, cols = 1 + len(streams), len(items) * length
    cell = 0.75  # inches per frame column
    figure, axes = new_figure(rows, cols, size=(cell * cols + 0.8, (cell * height / width + 0.35) * rows + 0.5), squeeze=False)
    for group, item in enumerate(items):
        first = group * length
        for t in range(length):
            axes[0, first + t].imshow(item.frames[t])
            axes[0, first + t].set_title(f"t={t}" if t else f"{item.title}\nt=0", fontsize=7, loc="left")
        for row, stream in enumerate(streams, start=1):
            maps, label = _scaled(item.attention[stream], normalise)
            for t in range(length):
                axes[row, first + t].imshow(overlay_heatmap(item.frames[t], maps[t]))
            axes[row, first].set_title(f"raw {label}", fontsize=6, loc="left")
    for row, name in enumerate(["frames"] + [STREAM_LABELS[s] for s in streams]):
        axes[row, 0].set_ylabel(name, fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    scale = "min-max per tracklet and stream" if normalise else "raw sigmoid values"
    figure.suptitle(f"Spatio-temporal attention (jet: blue low, red high; {scale})", fontsize=9)
    return save_figure(figure, out_png)


def draw_attention(run: LoadedRun, out_png: str, split: str = "query", indices: Sequence[int] = (),
                   pids: Sequence[int] = (), clip: int = 0, normalise: bool = True,
                   target: str = "") -> Tuple[str, List[str]]:
    """The attention figure of chosen tracklets of a test split (the first three by default): ``out_png`` and the
    titles of the tracklets it draws, left to right (split, index, pid, camera), so a caller can say which."""
    tracklets = split_tracklets(run, target, split)
    chosen = select_tracklets(tracklets, indices, pids)
    titles = [f"{split} #{i}  pid {tracklets[i][1]}  cam {tracklets[i][2] + 1}" for i in chosen]
    items = [tracklet_attention(run, tracklets[i], title, clip) for i, title in zip(chosen, titles)]
    return plot_attention_grid(items, out_png, normalise), titles
