"""Rank gallery tracklets for each query tracklet, and predict attributes: the checkout's entry to :mod:`aitl_reid.infer`.

    python tools/reid_tracklets.py --run RUN --out OUT [options] QUERY GALLERY [KEY VALUE ...]
    python tools/reid_tracklets.py --run RUN --out OUT [options] --attributes-only TRACKLETS [KEY VALUE ...]

The same program as ``python -m aitl_reid.infer`` and the installed ``aitl-reid-infer`` command.
"""
import sys

from aitl_reid.infer import main
from aitl_reid.process_exit import finish

if __name__ == "__main__":
    sys.exit(finish(main()))
