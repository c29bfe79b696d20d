"""One place that creates and saves figures, so every tool uses the display-free backend and
writes its PNG the same way (parent folders created, figure closed to free memory)."""
from __future__ import annotations

import os
from typing import Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot loads)

DPI = 120


def new_figure(rows: int, cols: int, size: Tuple[float, float], squeeze: bool = True):
    """A figure with a ``rows x cols`` grid of axes (``plt.subplots``)."""
    return plt.subplots(rows, cols, figsize=size, squeeze=squeeze)


def save_figure(figure, out_png: str) -> str:
    """Write ``figure`` to ``out_png`` as PNG, close it, and return the path."""
    if not out_png.lower().endswith(".png"):
        raise ValueError(f"figure path must end with .png: {out_png}")
    directory = os.path.dirname(os.path.abspath(out_png))
    os.makedirs(directory, exist_ok=True)
    figure.tight_layout()
    figure.savefig(out_png, dpi=DPI)
    plt.close(figure)
    return out_png
