"""How hard each loss term pulls on the shared backbone: gradient norms per term, at the start of training.

    python tools/loss_balance.py --config-file configs/demo.yaml [--batches 4] [KEY VALUE ...]

For every attribute loss form (``loss.attribute.type`` bce and softmax) the model is built as training
would build it (same seed, so the same initial weights), and on the same training batches each term of
the unified loss is back-propagated alone; the table gives the norm of its gradient on the backbone's
parameters, averaged over the batches. It shows whether the attribute term can shape the shared features
at all next to the identity terms (docs/FIDELITY.md, "attribute loss").
"""
from __future__ import annotations

import argparse
import sys
from typing import Dict, List, Optional

import torch

from aitl_reid.data import build_datamanager
from aitl_reid.data.transforms import ERASE_KEY
from aitl_reid.engine import init_attribute_bias
from aitl_reid.launch import default_argument_parser, default_setup, run_cli
from aitl_reid.losses import build_unified_loss
from aitl_reid.models import build_model_from_config
from aitl_reid.process_exit import finish

TERMS = ("loss_x", "loss_t", "loss_aitl_id_relevant", "loss_aitl_id_irrelevant", "loss_attr")


def term_gradient_norms(cfg, batches: int) -> Dict[str, float]:
    """Mean over ``batches`` training batches of each term's gradient norm on the backbone."""
    datamanager = build_datamanager(cfg)
    model = build_model_from_config(cfg, datamanager.num_train_pids, datamanager.attribute_schema).train()
    init_attribute_bias(cfg, model, datamanager)
    criterion = build_unified_loss(cfg, datamanager.attribute_schema)
    params = [p for p in model.backbone.parameters() if p.requires_grad]
    norms: Dict[str, List[float]] = {}
    for index, data in enumerate(datamanager.train_loader):
        if index == batches:
            break
        clips = datamanager.transform_tr.finish(data["img"], data.get(ERASE_KEY))
        output = model(clips)
        unweighted = criterion.unweighted_terms(output, data["pid"], data["attrs"])
        for name in TERMS:
            if name in unweighted:
                grads = torch.autograd.grad(unweighted[name], params, retain_graph=True, allow_unused=True)
                total = torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None))
                norms.setdefault(name, []).append(float(total))
    return {name: sum(values) / len(values) for name, values in norms.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = default_argument_parser(__doc__, config_required=True)
    parser.add_argument("--batches", type=int, default=4, help="training batches to average over")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    rows = {}
    for form in ("bce", "softmax"):
        opts = [*args.opts, "loss.attribute.type", form, "data.workers", "0"]
        with default_setup(args.config_file, opts) as cfg:  # same seed: same weights and batches for both forms
            rows[form] = term_gradient_norms(cfg, args.batches)
    print(f"gradient norm on the backbone per loss term (unit weights), mean over {args.batches} batches")
    print(f"{'term':<26}" + "".join(f"{form:>12}" for form in rows))
    for name in TERMS:
        print(f"{name:<26}" + "".join(f"{rows[form].get(name, float('nan')):12.4f}" for form in rows))
    return 0


if __name__ == "__main__":
    sys.exit(finish(run_cli(main)))
