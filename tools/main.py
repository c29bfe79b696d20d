"""Train and evaluate a model of the aitl_reid plugin: the checkout's entry to :mod:`aitl_reid.train`.

    python tools/main.py --config-file configs/asta_aitl_mars.yaml [KEY VALUE ...]

The same program as ``python -m aitl_reid.train`` and the installed ``aitl-reid-train`` command.
"""
import sys

from aitl_reid.process_exit import finish
from aitl_reid.train import main

if __name__ == "__main__":
    sys.exit(finish(main()))
