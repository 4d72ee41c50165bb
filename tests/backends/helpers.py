"""Random graphs for backend tests."""

import torch

from neuroattack.export import to_nir
from neuroattack.models.neurons import NeuronConfig
from neuroattack.models.snn import SNN


def random_graph(spec: str, shape: tuple, leak: float = 0.5, init_scale: float = 3.0, seed: int = 0):
    torch.manual_seed(seed)
    model = SNN(spec, shape, NeuronConfig(leak=leak), init_scale=init_scale).eval()
    return model, to_nir(model)


def random_spikes(shape: tuple, batch: int = 5, steps: int = 6, density: float = 0.3, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, steps, *shape, generator=gen) < density).float()
