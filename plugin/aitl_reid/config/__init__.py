"""Configuration: defaults, YAML loading with inheritance, and config-to-kwargs helpers."""
from .defaults import get_default_config
from .loading import ConfigError, flat_keys, merge_from_file, merge_from_list, resolve_config

__all__ = ["get_default_config", "ConfigError", "flat_keys", "merge_from_file", "merge_from_list", "resolve_config"]
