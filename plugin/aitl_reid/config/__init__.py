"""Configuration: defaults, YAML loading with inheritance, and config-to-kwargs helpers."""
from .defaults import get_default_config
from .loading import (RELEASED_CONFIG, ConfigError, flat_keys, merge_from_file, merge_from_list, own_sections,
                      resolve_config)

__all__ = ["get_default_config", "ConfigError", "flat_keys", "merge_from_file", "merge_from_list", "own_sections",
           "resolve_config", "RELEASED_CONFIG"]
