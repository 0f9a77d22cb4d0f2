"""The bundled trainer: a small Llama trained on assay token shards, exported for HF and vLLM.

Public API: `train(config) -> Path`, `TrainConfig`, `export_hf(run_dir, out_dir) -> Path`,
`load_model(run_dir_or_checkpoint)`.
"""

from train.checkpoint import load_model
from train.config import PRESETS, ConfigError, ModelConfig, TrainConfig, make_config
from train.export import ExportError, export_hf
from train.trainer import train

__all__ = ["PRESETS", "ConfigError", "ExportError", "ModelConfig", "TrainConfig", "export_hf", "load_model",
           "make_config", "train"]
