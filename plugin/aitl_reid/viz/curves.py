"""DVDP and mAP per epoch from the engine's ``metrics.csv`` files, several runs on one figure (Fig. 7).

The paper's claim is that without AITL the batch-average DVDP settles while with AITL it keeps
falling; putting both runs' DVDP and mAP side by side is what lets a reader check that claim.
"""
from __future__ import annotations

import os
from typing import Dict, List, Mapping, Tuple

from matplotlib.ticker import MaxNLocator

from ..engine.epoch_log import EpochLog
from .figure import new_figure, save_figure

Series = Tuple[List[int], List[float]]


def read_epoch_series(csv_path: str, column: str) -> Series:
    """Epochs and values of one ``metrics.csv`` column, skipping epochs where it is empty."""
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"metrics file not found: {csv_path} (aitl-reid-train writes <data.save_dir>/metrics.csv)")
    rows = EpochLog(csv_path).rows
    epochs = [epoch for epoch in sorted(rows) if column in rows[epoch]]
    return epochs, [rows[epoch][column] for epoch in epochs]


def _spread(axis, csv_path: str, column: str, scale: float, color: str) -> None:
    """Shade mean ± std where the file carries ``<column>_std`` (seed-averaged curves of the ablation)."""
    epochs, spread = read_epoch_series(csv_path, f"{column}_std")
    if not epochs:
        return
    means = dict(zip(*read_epoch_series(csv_path, column)))
    centre = [scale * means[e] for e in epochs]
    axis.fill_between(epochs, [c - scale * s for c, s in zip(centre, spread)], [c + scale * s for c, s in zip(centre, spread)],
                      color=color, alpha=0.15, linewidth=0)


def plot_dvdp_map_curves(runs: Mapping[str, str], out_png: str, title: str = "") -> str:
    """Draw DVDP (left panel) and mAP (right panel) per epoch for each ``label -> metrics.csv``; return ``out_png``."""
    if not runs:
        raise ValueError("plot_dvdp_map_curves needs at least one run (label -> metrics.csv path)")
    series: Dict[str, Dict[str, Series]] = {
        label: {column: read_epoch_series(path, column) for column in ("dvdp", "mAP")} for label, path in runs.items()
    }
    if not any(s["dvdp"][0] for s in series.values()):
        raise ValueError(f"no 'dvdp' values in {sorted(runs.values())}; were these runs trained with aitl-reid-train?")

    figure, (dvdp_axis, map_axis) = new_figure(1, 2, size=(10.0, 3.8))
    for label, columns in series.items():
        epochs, dvdp = columns["dvdp"]
        line, = dvdp_axis.plot(epochs, dvdp, label=label, linewidth=1.6)
        map_epochs, maps = columns["mAP"]
        map_axis.plot(map_epochs, [100.0 * v for v in maps], marker="o", color=line.get_color(), label=label)
        for axis, column, scale in ((dvdp_axis, "dvdp", 1.0), (map_axis, "mAP", 100.0)):
            _spread(axis, runs[label], column, scale, line.get_color())
    dvdp_axis.set(xlabel="epoch", ylabel="average DVDP (training batches)", title="DVDP per epoch")
    map_axis.set(xlabel="epoch", ylabel="mAP (%)", title="mAP at evaluated epochs")
    if not any(s["mAP"][0] for s in series.values()):
        map_axis.text(0.5, 0.5, "no evaluated epoch in these runs\n(set test.eval_freq)", ha="center",
                      va="center", transform=map_axis.transAxes)
    map_axis.set_xlim(dvdp_axis.get_xlim())  # same epoch axis on both panels, even with one evaluation
    for axis in (dvdp_axis, map_axis):
        axis.grid(alpha=0.3)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    dvdp_axis.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return save_figure(figure, out_png)
