"""Registries of this plugin's components, mirrored into torchreid's own factories.

Registering is idempotent: importing ``aitl_reid`` twice (or reloading a module) re-inserts the
same entry instead of raising, unlike ``torchreid.data.register_video_dataset``.
"""
from __future__ import annotations

import fnmatch
from typing import Callable, Dict, List, Type, TypeVar

from . import _torchreid

_MODELS: Dict[str, Callable] = {}
_DATASETS: Dict[str, type] = {}

F = TypeVar("F", bound=Callable)
D = TypeVar("D", bound=Type)


def register_model(fn: F) -> F:
    """Decorator: record a model entrypoint under its function name and add it to torchreid's zoo."""
    name = fn.__name__
    _MODELS[name] = fn
    _torchreid.model_factory()[name] = fn
    return fn


def register_video_dataset(name: str) -> Callable[[D], D]:
    """Decorator: register a video dataset class with torchreid under ``name`` (idempotently)."""

    def wrap(cls: D) -> D:
        _DATASETS[name] = cls
        registry = _torchreid.video_dataset_registry()
        if registry.get(name) is not cls:
            registry.pop(name, None)
            _torchreid.data.register_video_dataset(name, cls)
        return cls

    return wrap


def list_models(pattern: str = "*") -> List[str]:
    """Names of this plugin's models matching a shell-style wildcard, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def is_model(name: str) -> bool:
    return name in _MODELS


def list_datasets() -> List[str]:
    """Names of this plugin's video datasets, sorted."""
    return sorted(_DATASETS)
