"""Norse SNN builders from spec strings, their ANN twins, and checkpoints."""

from neuroattack.models.ann import ANN
from neuroattack.models.checkpoint import load_checkpoint, save_checkpoint
from neuroattack.models.neurons import NeuronConfig
from neuroattack.models.snn import SNN
from neuroattack.models.spec import ModelSpec, parse_spec

__all__ = [
    "ANN",
    "SNN",
    "ModelSpec",
    "NeuronConfig",
    "load_checkpoint",
    "parse_spec",
    "save_checkpoint",
]
