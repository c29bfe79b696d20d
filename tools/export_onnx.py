"""Export a trained model to ONNX and check it against PyTorch: the checkout's entry to :mod:`aitl_reid.export`.

    python tools/export_onnx.py --run RUN --out model.onnx [KEY VALUE ...]

The same program as ``python -m aitl_reid.export`` and the installed ``aitl-reid-export`` command.
"""
import sys

from aitl_reid.export import main
from aitl_reid.process_exit import finish

if __name__ == "__main__":
    sys.exit(finish(main()))
