"""Turn a checkpoint of the authors' released code into a run folder: the checkout's entry to :mod:`aitl_reid.convert`.

    python tools/convert_released.py --released rank1_86.5_checkpoint_ep400.pth --out log/released_mars

The same program as ``python -m aitl_reid.convert`` and the installed ``aitl-reid-convert`` command.
"""
import sys

from aitl_reid.convert import main
from aitl_reid.process_exit import finish

if __name__ == "__main__":
    sys.exit(finish(main()))
