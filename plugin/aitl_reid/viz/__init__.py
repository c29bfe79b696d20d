"""Figures of the paper from our runs: attention overlays (Fig. 6), DVDP/mAP curves (Fig. 7),
FLOPs against mAP (Fig. 8) and ranked-results grids.

The modules draw with matplotlib's file-only Agg backend, so they work on machines without a display.
"""
from .curves import plot_dvdp_map_curves, read_epoch_series

__all__ = ["plot_dvdp_map_curves", "read_epoch_series"]
