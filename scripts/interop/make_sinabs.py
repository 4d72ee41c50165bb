"""Make the committed sinabs fixtures (backends/interop_fixtures): sinabs 3.1.3's own NIR exports.

sinabs 3.1.3 pins nir <= 1.0.4 while this project uses nir 1.0.8, so it is not installed by
``make test``; its exports are committed instead, with sinabs' own output spikes, made by this
script. To run it (the project's venv, sinabs beside it, nothing else changed)::

    .venv/bin/python -m pip install --no-deps --target /tmp/sinabs sinabs==3.1.3 pbr
    PYTHONPATH=/tmp/sinabs .venv/bin/python scripts/interop/make_sinabs.py

(``pbr`` is the one dependency sinabs imports that the venv lacks; never install ``samna``.)

Each network: Linear(6->5) -> neuron -> Linear(5->3) -> neuron, ``torch.manual_seed(0)``, weights
scaled so that they spike; exported with ``sinabs.to_nir(net, sample)`` and written with
``nir.write``. sinabs' own run: batch-first, ``sinabs.utils.reset_states(net)`` first; Squeeze
layers take ``[B*T, 6]``. Input: ``np.random.default_rng(1).random((T=10, B=2, 6)) < 0.5``,
stored batch-first ``[B, T, 6]`` with sinabs' output ``[B, T, 3]`` in ``<name>.npz``.
"""

from pathlib import Path

import nir
import numpy as np
import sinabs
import sinabs.layers as sl
import torch
from sinabs.utils import reset_states

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "interop"
T, B = 10, 2


def scaled(net, k):
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.mul_(k)
    return net


def make(name, build, squeeze, sample):
    torch.manual_seed(0)
    net = build()
    graph = sinabs.to_nir(net, sample)
    x = (np.random.default_rng(1).random((T, B, 6)) < 0.5).astype(np.float32)
    xb = torch.from_numpy(np.moveaxis(x, 0, 1).copy())  # [B, T, 6]
    reset_states(net)
    with torch.no_grad():
        y = net(xb.reshape(B * T, -1)).reshape(B, T, -1) if squeeze else net(xb)
    nir.write(OUT / f"{name}.nir", graph)
    np.savez(OUT / f"{name}.npz", input=xb.numpy(), output=y.numpy().reshape(B, T, -1))
    print(f"{name}: {int(y.sum())} output spikes")


def vec(value, n):
    return torch.full((n,), float(value))


OUT.mkdir(parents=True, exist_ok=True)
make(
    "sinabs_if_iaf",
    lambda: scaled(
        torch.nn.Sequential(
            torch.nn.Linear(6, 5),
            sl.IAF(spike_threshold=torch.tensor(1.0)),
            torch.nn.Linear(5, 3),
            sl.IAF(spike_threshold=torch.tensor(1.0)),
        ),
        1.5,
    ),
    squeeze=False,
    sample=torch.zeros(1, 1, 6),
)
make(
    "sinabs_if_iaf_squeeze_vec",
    lambda: scaled(
        torch.nn.Sequential(
            torch.nn.Linear(6, 5),
            sl.IAFSqueeze(spike_threshold=vec(1, 5), batch_size=B),
            torch.nn.Linear(5, 3),
            sl.IAFSqueeze(spike_threshold=vec(1, 3), batch_size=B),
        ),
        1.5,
    ),
    squeeze=True,
    sample=torch.zeros(2, 6),
)
make(
    "sinabs_ff_lif_squeeze_vec",
    lambda: scaled(
        torch.nn.Sequential(
            torch.nn.Linear(6, 5),
            sl.LIFSqueeze(tau_mem=vec(5, 5), spike_threshold=vec(1, 5), batch_size=B),
            torch.nn.Linear(5, 3),
            sl.LIFSqueeze(tau_mem=vec(4, 3), spike_threshold=vec(1, 3), batch_size=B),
        ),
        15.0,
    ),
    squeeze=True,
    sample=torch.zeros(2, 6),
)
