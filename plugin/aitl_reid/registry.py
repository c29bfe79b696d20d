"""Registries of this plugin's components, mirrored into torchreid's own factories.

Models resolve by name as timm's ``create_model`` does (:func:`model_entrypoint`): a name
registered with :func:`register_model` (``asta_resnet50``, ...) is its entrypoint; any other
``<family>_<backbone>`` name (``asta_se_resnet50``, ``tp_osnet_x0_25``) is the rule of the family
registered with :func:`register_family`, applied to that torchreid backbone. Every entrypoint
defaults to ``pretrained=PRETRAINED_DEFAULT``, torchreid's ``build_model`` default, so
``torchreid.models.build_model(name, ...)`` and ``aitl_reid.models.build_model(name, ...)`` build
the same model.

Registering is idempotent: importing ``aitl_reid`` twice (or reloading a module) re-inserts the
same entry instead of raising, unlike ``torchreid.data.register_video_dataset``.
"""
from __future__ import annotations

import fnmatch
import functools
from typing import Callable, Dict, List, Optional, Tuple, Type, TypeVar

from . import _torchreid

PRETRAINED_DEFAULT = True
"""``pretrained`` when not given, for every model name: torchreid's ``build_model`` default."""

_MODELS: Dict[str, Callable] = {}
_FAMILIES: Dict[str, Callable] = {}
_DATASETS: Dict[str, type] = {}

F = TypeVar("F", bound=Callable)
D = TypeVar("D", bound=Type)


def register_model(fn: F) -> F:
    """Decorator: record a model entrypoint under its function name and add it to torchreid's zoo."""
    name = fn.__name__
    _MODELS[name] = fn
    _torchreid.model_factory()[name] = fn
    return fn


def register_family(prefix: str) -> Callable[[F], F]:
    """Decorator: ``builder(backbone, num_classes, loss, pretrained, **kwargs)`` builds ``<prefix>_<backbone>``."""

    def wrap(builder: F) -> F:
        _FAMILIES[prefix] = builder
        return builder

    return wrap


def model_entrypoint(name: str) -> Callable:
    """The function that builds ``name`` from ``(num_classes, loss, pretrained, **kwargs)``: the
    registered entrypoint of that name, else its family's builder bound to the backbone."""
    if name in _MODELS:
        return _MODELS[name]
    family, backbone = split_model_name(name)
    return functools.partial(_FAMILIES[family], backbone)


def split_model_name(name: str) -> Tuple[str, str]:
    """``'asta_resnet50'`` -> ``('asta', 'resnet50')``; raises naming the rule and the registered models."""
    family, _, backbone = name.partition("_")
    if family not in _FAMILIES or not backbone:
        rule = " or ".join(f"{prefix}_<backbone>" for prefix in sorted(_FAMILIES))
        raise ValueError(f"unknown model '{name}': names are {rule} (registered: {', '.join(list_models())})")
    return family, backbone


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


def dataset_class(name: str) -> Optional[type]:
    """The class registered as ``name`` by this plugin, None for any other name (e.g. torchreid's own datasets)."""
    return _DATASETS.get(name)


def list_datasets() -> List[str]:
    """Names of this plugin's video datasets, sorted."""
    return sorted(_DATASETS)
