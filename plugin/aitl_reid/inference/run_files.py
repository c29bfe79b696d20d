"""The names inference has always offered for a trained run on disk; they live in :mod:`aitl_reid.run_folder`
(shared with the trainer and the figure tools), and this module keeps ``aitl_reid.inference.run_files``
imports working."""
from ..run_folder import (CONFIG_FILE, RunError, TrainedModel, find_checkpoint, load_trained, run_config_text,
                          save_run_config)

__all__ = ["CONFIG_FILE", "RunError", "TrainedModel", "find_checkpoint", "load_trained", "run_config_text",
           "save_run_config"]
