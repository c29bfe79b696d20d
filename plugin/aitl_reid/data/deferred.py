"""Loaders whose workers send uint8 clips; the float conversion happens once the batch has arrived.

A normalised float clip is four times the bytes of its uint8 pixels, and passing a batch from a
worker to the training process (shared memory, one new segment per batch) costs about as much as
decoding it. So in :class:`FinishingLoader`'s workers, a dataset returns its clips as
:meth:`ClipTransform.prepare` leaves them (uint8, every random parameter already drawn, the erase
box as a small tensor) and the loader applies :meth:`ClipTransform.finish` to each batch it yields:
the batches are the same as without deferral. Outside those workers (``dataset[i]``, any other
loader, ``workers=0``) items are finished float clips as before.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator

import torch

from .transforms import ClipTransform, Frames

ERASE_KEY = "erase"  # batch entry carrying the erase boxes of deferred clips (removed by the loader)


class DeferrableClips:
    """Mixin for datasets with a ``transform``: builds an item's ``img`` finished, or deferred in a
    :class:`FinishingLoader` worker (``defer_finishing`` is set there, in the worker's copy only)."""

    defer_finishing: bool = False
    transform: object

    def clip_entries(self, frames: Frames) -> Dict[str, torch.Tensor]:
        """``{'img': float clip}``, or ``{'img': uint8 clip, 'erase': box}`` when deferring."""
        if self.defer_finishing and isinstance(self.transform, ClipTransform):
            clip, erase = self.transform.prepare(frames)
            return {"img": clip, ERASE_KEY: erase}
        return {"img": self.transform(frames)}  # type: ignore[operator]


def _defer_in_worker(worker_id: int) -> None:
    info = torch.utils.data.get_worker_info()
    if info is not None and isinstance(info.dataset, DeferrableClips):
        info.dataset.defer_finishing = True


class FinishingLoader(torch.utils.data.DataLoader):
    """A ``DataLoader`` over a :class:`DeferrableClips` dataset that finishes deferred clips per batch.

    Same arguments as ``DataLoader`` except ``worker_init_fn``, which it sets itself. With
    ``pin_memory`` the finished clips are written straight into pinned memory.
    """

    def __init__(self, dataset: DeferrableClips, **kwargs) -> None:
        if "worker_init_fn" in kwargs:
            raise ValueError("FinishingLoader sets worker_init_fn itself")
        super().__init__(dataset, worker_init_fn=_defer_in_worker, **kwargs)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator:  # type: ignore[override]
        for batch in super().__iter__():
            yield self._finish(batch)

    def _finish(self, batch: Any) -> Any:
        if isinstance(batch, dict) and ERASE_KEY in batch:
            erase = batch.pop(ERASE_KEY)
            pin = self.pin_memory and torch.cuda.is_available()  # DataLoader likewise ignores pinning without CUDA
            batch["img"] = self.dataset.transform.finish(batch["img"], erase, pin_memory=pin)
        return batch
