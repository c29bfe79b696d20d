"""Batch norm over the global batch under torchrun (``train.sync_bn``), on GPUs and on CPUs alike.

Under NCCL (GPUs), :func:`convert_sync_batchnorm` uses torch's ``SyncBatchNorm``, whose CUDA kernels
exchange the statistics. torch's refuses CPU tensors (and DistributedDataParallel refuses it on CPU
modules), so for gloo (tests, CPU clusters) this module has its own: :class:`SyncBatchNorm` computes the
statistics from per-process means and centred sums of squares (in float32), exchanged by one
differentiable collective per layer, on any device, which gives the same forward and gradients as one process normalising the
whole global batch.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import distributed


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm of any dimension whose training statistics span every process; otherwise plain batch norm."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input [N, C, ...], got {input.dim()}-D")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or distributed.world_size() == 1:
            return super().forward(input)
        self._check_input_dim(input)
        x = input.to(torch.promote_types(input.dtype, torch.float32))  # half precision: statistics in float32
        dims = [0] + list(range(2, x.dim()))
        channels = x.shape[1]
        shape = [1, channels] + [1] * (x.dim() - 2)
        # each process's count, mean and centred sum of squares, combined as Chan et al. do: sums of squares
        # about the mean (not E[x^2] - mean^2) keep float32 gradients as accurate as torch's own batch norm
        local_mean = x.mean(dims)
        local_m2 = (x - local_mean.reshape(shape)).square().sum(dims)
        local = torch.cat([local_mean, local_m2, x.new_tensor([x.numel() // channels])]).unsqueeze(0)
        every = distributed.all_gather_with_grad(local)  # [processes, 2C + 1]
        counts = every[:, -1:]
        n = counts.sum()
        mean = (counts * every[:, :channels]).sum(0) / n
        var = (every[:, channels:2 * channels].sum(0) + (counts * (every[:, :channels] - mean).square()).sum(0)) / n
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach() * n / (n - 1).clamp(min=1))
        out = (x - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.eps)
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out.to(input.dtype)

    def _update_running_stats(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        """As ``F.batch_norm`` in training: exponential average, or the cumulative one when ``momentum`` is None."""
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            self.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
            self.running_var.mul_(1 - factor).add_(unbiased_var, alpha=factor)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every batch norm layer synchronised over processes, parameters and statistics kept (the same
    Parameter objects, so an optimizer built before still holds them): torch's ``SyncBatchNorm`` under NCCL, this
    module's :class:`SyncBatchNorm` otherwise (gloo, or before any process group)."""
    if distributed.uses_nccl():
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_to_own(module)


def _convert_to_own(module: nn.Module) -> nn.Module:
    """:func:`convert_sync_batchnorm` with this module's :class:`SyncBatchNorm`."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, SyncBatchNorm):
        synced = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            synced.weight, synced.bias = module.weight, module.bias
        if module.track_running_stats:
            synced.running_mean, synced.running_var = module.running_mean, module.running_var
            synced.num_batches_tracked = module.num_batches_tracked
        synced.train(module.training)
        return synced
    for name, child in module.named_children():
        module.add_module(name, _convert_to_own(child))
    return module
