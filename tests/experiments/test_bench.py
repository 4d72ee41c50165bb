"""The bench's product limit times the work the emulator does (never a timed test: shapes only)."""

import torch
import torch.nn.functional as F

import backends
from neuroattack.experiments.bench import product_limit_seconds
from tests.backends import graphs as G


def test_the_limit_convolves_a_folded_pooling_as_the_emulator_does(monkeypatch):
    """A sum-pool folded into the next conv (a 6x6 kernel at stride 2) is timed as the emulator runs
    it: the pool, then the 3x3 kernel at stride 1, b*b = 4 times fewer taps than the folded one."""
    net = backends.lower(G.conv(scale=6.0, pool="sum"))
    folded = net.projections[1]
    assert folded.weight.shape[2:] == (6, 6) and folded.stride == (2, 2)
    kernels = []
    real = F.conv2d

    def spy(x, w, *args, **kwargs):
        kernels.append(tuple(w.shape[2:]))
        return real(x, w, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "conv2d", spy)
    product_limit_seconds(net, 4, 2, {"input": 0.3}, min_seconds=0.01)
    assert (3, 3) in kernels and (6, 6) not in kernels
