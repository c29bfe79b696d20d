"""Configuration: defaults, YAML loading with inheritance, and config-to-kwargs helpers."""
from .defaults import get_default_config
from .loading import RELEASED_CONFIG, ConfigError, flat_keys, merge_from_file, merge_from_list, own_sections

__all__ = ["get_default_config", "ConfigError", "flat_keys", "merge_from_file", "merge_from_list", "own_sections",
           "RELEASED_CONFIG"]
