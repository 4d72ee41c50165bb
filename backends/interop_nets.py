"""Small networks from the frameworks users train in, exported to NIR by the frameworks themselves.

Each builder returns an :class:`Exported`: the NIR file as the framework's exporter wrote it, the
framework's own output spikes on a fixed binary input, and how to read its time step. snnTorch
and rockpool export live (the ``interop`` extra installs them); sinabs 3.1.3 pins nir <= 1.0.4, so
its exports are committed files (backends/interop_fixtures, made by scripts/interop/make_sinabs.py).
Used by tests/backends/test_interop.py and by scripts/interop_table.py (the interop table in docs/backends.md).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import nir
import numpy as np
import torch

FIXTURES = Path(__file__).resolve().parent / "interop_fixtures"
T, B = 10, 2


@dataclass
class Exported:
    """One framework network, exported.

    Attributes:
        framework: the framework's name (a key of ``backends.FRAMEWORK_DT``).
        version: its installed version (or the one the fixture was made with).
        network: what the network is.
        path: the ``.nir`` file the exporter wrote.
        x: the input ``[B, T, *shape]`` (binary).
        own: the framework's own output ``[B, T, n_out]`` for ``x`` (spike counts).
        same_semantics: whether the framework's neuron is what the NIR file and ``reset`` say (one
            spike per step at most), so the float reference must reproduce ``own``.
        note: what the exporter writes off the NIR specification, if anything.
        reset: the reset the framework's neurons use (``"zero"`` or ``"subtract"``), which NIR
            cannot say: the networks are loaded with ``reset=`` this.

    Example:
        >>> e = sinabs_exports()[0]
        >>> e.x.shape[:2] == e.own.shape[:2], e.path.suffix
        (True, '.nir')
    """

    framework: str
    version: str
    network: str
    path: Path
    x: np.ndarray
    own: np.ndarray
    same_semantics: bool
    note: str = ""
    reset: str = "zero"


def spike_match(a, b) -> tuple[int, int]:
    """Matching spikes over the union of spikes of two spike-count tensors of one shape: ``(k, n)``.

    ``k = sum(min(a, b))`` spikes both sides fire at the same position, ``n = sum(max(a, b))``
    the spikes either side fires (``|A and B|`` and ``|A or B|`` for 0/1 spikes; counts > 1 where
    a framework spikes several times a step). Silent positions count for nothing: two silent
    tensors give ``(0, 0)``, not a match.

    Args:
        a, b: spike counts of one shape (``torch.Tensor`` or ``np.ndarray``, >= 0).

    Returns:
        ``(k, n)`` as ints, ``k <= n``; ``k == n > 0`` is a spike-for-spike match.

    Example:
        >>> spike_match(np.array([[1, 0, 1, 0]]), np.array([[1, 1, 0, 0]]))
        (1, 3)
        >>> spike_match(np.zeros(4), np.zeros(4))
        (0, 0)
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"spike tensors of shapes {list(a.shape)} and {list(b.shape)} cannot be compared")
    return int(np.minimum(a, b).sum()), int(np.maximum(a, b).sum())


def _input(shape, seed=1, p=0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((B, T, *shape)) < p).astype(np.float32)


# -- snnTorch (live) -------------------------------------------------------------------------------
def _full(v, shape):
    return torch.full(shape if isinstance(shape, tuple) else (shape,), float(v))


def _scaled(net, idx, k):
    """``net`` with the weights of its layers ``idx`` multiplied by ``k`` (so the small nets spike)."""
    with torch.no_grad():
        for i in idx:
            net[i].weight.mul_(k)
    return net


def _leaky(beta, n, reset, **kw):
    import snntorch as snn

    return snn.Leaky(beta=_full(beta, n), threshold=_full(1.0, n), init_hidden=True, reset_mechanism=reset, **kw)


def _snntorch_ff(reset, **kw):
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 5),
        _leaky(0.9, 5, reset, **kw),
        torch.nn.Linear(5, 3),
        _leaky(0.8, 3, reset, output=True, **kw),
    )
    return _scaled(net, [0, 2], 3.0)


def _snntorch_cuba():
    import snntorch as snn

    def syn(alpha, beta, n, **kw):
        return snn.Synaptic(
            alpha=_full(alpha, n),
            beta=_full(beta, n),
            threshold=_full(1.0, n),
            init_hidden=True,
            reset_mechanism="zero",
            reset_delay=False,
            **kw,
        )

    net = torch.nn.Sequential(
        torch.nn.Linear(6, 5), syn(0.7, 0.9, 5), torch.nn.Linear(5, 3), syn(0.7, 0.8, 3, output=True)
    )
    return _scaled(net, [0, 2], 2.0)


def _snntorch_rec():
    import snntorch as snn

    net = torch.nn.Sequential(
        torch.nn.Linear(6, 5),
        snn.RLeaky(
            beta=_full(0.9, 5),
            threshold=_full(1.0, 5),
            linear_features=5,
            all_to_all=True,
            init_hidden=True,
            reset_mechanism="zero",
            reset_delay=False,
        ),
        torch.nn.Linear(5, 3),
        _leaky(0.8, 3, "zero", output=True),
    )
    _scaled(net, [0, 2], 3.0)
    with torch.no_grad():
        net[1].recurrent.weight.mul_(2.0)
    return net


def _snntorch_conv():
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3),
        _leaky(0.9, (2, 4, 4), "zero"),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 3),
        _leaky(0.8, 3, "zero", output=True),
    )
    return _scaled(net, [0, 4], 8.0)


def _snntorch_nets():
    """``[(what, network, input shape, same semantics, note, reset)]``, built in this order from seed 0."""
    torch.manual_seed(0)
    return [
        ("Linear-Leaky-Linear-Leaky, reset zero", _snntorch_ff("zero"), (6,), True, "", "zero"),
        (
            "Linear-Synaptic-Linear-Synaptic (CubaLIF), reset zero, reset_delay=False",
            _snntorch_cuba(),
            (6,),
            True,
            "",
            "zero",
        ),
        (
            "Linear-RLeaky (recurrent)-Linear-Leaky, reset zero, reset_delay=False",
            _snntorch_rec(),
            (6,),
            True,
            "",
            "zero",
        ),
        (
            "Conv2d-Leaky-AvgPool2d-Flatten-Linear-Leaky, reset zero",
            _snntorch_conv(),
            (1, 6, 6),
            True,
            "AvgPool2d kernel and stride written as scalars",
            "zero",
        ),
        (
            "Linear-Leaky-Linear-Leaky, reset subtract (default), reset_delay=True (default)",
            _snntorch_ff("subtract"),
            (6,),
            False,
            "subtract reset written as v_reset = 0; reset_delay=True subtracts the threshold one step late, "
            "after the decay",
            "subtract",
        ),
        (
            "Linear-Leaky-Linear-Leaky, reset subtract, reset_delay=False",
            _snntorch_ff("subtract", reset_delay=False),
            (6,),
            True,
            "subtract reset written as v_reset = 0",
            "subtract",
        ),
    ]


def snntorch_exports(folder: Path) -> list[Exported]:
    """Export the snnTorch networks into ``folder``; run snnTorch on the fixed input.

    Example:
        >>> [e.network for e in snntorch_exports(tmp)][0]  # doctest: +SKIP
        'Linear-Leaky-Linear-Leaky, reset zero'
    """
    import snntorch
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    out = []
    for i, (what, net, shape, same, note, reset) in enumerate(_snntorch_nets()):
        x = _input(shape, seed=1)
        graph = export_to_nir(net, torch.zeros((1, *shape)), ignore_dims=[0])
        path = folder / f"snntorch_{i}.nir"
        nir.write(path, graph)
        utils.reset(net)
        with torch.no_grad():
            own = np.stack([net(torch.from_numpy(x[:, t]))[0].numpy() for t in range(T)], 1)
        own = own.reshape(B, T, -1)
        out.append(Exported("snntorch", snntorch.__version__, what, path, x, own, same, note, reset))
    return out


# -- rockpool (live) -------------------------------------------------------------------------------
def rockpool_exports(folder: Path) -> list[Exported]:
    """Export the rockpool networks into ``folder``; run rockpool on the fixed input.

    Read them with ``framework="rockpool"``: rockpool writes its own neuron equations under NIR's
    field names (:mod:`backends.frameworks`); read by NIR's equations, the CubaLIF networks are silent.

    Example:
        >>> exports = rockpool_exports(tmp)  # doctest: +SKIP
        >>> backends.load(exports[0].path, "loihi2", "emulator", framework="rockpool")  # doctest: +SKIP
    """
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFNeuronTorch, LIFTorch, LinearTorch, to_nir

    def w(shape, k, seed):
        g = torch.Generator().manual_seed(seed)
        return (torch.rand(shape, generator=g) * 2 - 1) * k

    dt = 1e-3
    nets = [
        (
            "LinearTorch-LIFNeuronTorch x2 (LIF)",
            Sequential(
                LinearTorch((6, 5), weight=w((6, 5), 2.0, 1)),
                LIFNeuronTorch(5, tau_mem=20e-3, dt=dt),
                LinearTorch((5, 3), weight=w((5, 3), 2.0, 2)),
                LIFNeuronTorch(3, tau_mem=10e-3, dt=dt),
            ),
            "r = tau exp(-dt/tau) / dt: input gain exp(-dt/tau) by NIR's equations, 1 in rockpool (adapted)",
        ),
        (
            "LinearTorch-LIFTorch x2 (CubaLIF)",
            Sequential(
                LinearTorch((6, 5), weight=w((6, 5), 0.8, 1)),
                LIFTorch(5, tau_mem=20e-3, tau_syn=5e-3, dt=dt),
                LinearTorch((5, 3), weight=w((5, 3), 1.0, 2)),
                LIFTorch(3, tau_mem=10e-3, tau_syn=5e-3, dt=dt),
            ),
            "w_in = 1 and r = tau_mem exp(-dt/tau_mem) / dt: input gain (dt/tau_syn) exp(-dt/tau_mem) = 0.19 by "
            "NIR's equations, exp(-dt/tau_syn) = 0.82 in rockpool (adapted)",
        ),
        (
            "LinearTorch-LIFTorch(has_rec)-LinearTorch-LIFTorch",
            Sequential(
                LinearTorch((6, 5), weight=w((6, 5), 0.8, 1)),
                LIFTorch(5, tau_mem=20e-3, tau_syn=5e-3, has_rec=True, w_rec=w((5, 5), 1.0, 3), dt=dt),
                LinearTorch((5, 3), weight=w((5, 3), 1.0, 2)),
                LIFTorch(3, tau_mem=10e-3, tau_syn=5e-3, dt=dt),
            ),
            "CubaLIF as above (adapted); the recurrent weights are dropped on export: the file is not rockpool's "
            "network",
        ),
    ]
    version = importlib.metadata.version("rockpool")
    out = []
    for i, (what, net, note) in enumerate(nets):
        x = _input((6,), seed=1)
        path = folder / f"rockpool_{i}.nir"
        nir.write(path, to_nir(net))
        net.reset_state()
        with torch.no_grad():
            own, _, _ = net(torch.from_numpy(x))
        note = "Input [1, 6], Output [1, 1, 3] (fail nir.read's type check); several spikes a step; " + note
        own = own.numpy().reshape(B, T, -1)
        out.append(Exported("rockpool", version, what, path, x, own, False, note, "subtract"))
    return out


# -- sinabs (committed files) ----------------------------------------------------------------------
#: (file stem, network, whether sinabs computes what the file says with subtract reset, note)
SINABS = [
    ("sinabs_if_iaf_squeeze_vec", "Linear-IAFSqueeze-Linear-IAFSqueeze (IF)", True, ""),
    (
        "sinabs_ff_lif_squeeze_vec",
        "Linear-LIFSqueeze-Linear-LIFSqueeze (LIF)",
        False,
        "time constants in steps; exact exponential decay, not Euler",
    ),
    ("sinabs_if_iaf", "Linear-IAF-Linear-IAF (IF)", True, "Input [1, 6] keeps the time dimension"),
]


def sinabs_exports() -> list[Exported]:
    """The committed sinabs 3.1.3 exports and sinabs' own outputs (backends/interop_fixtures).

    Example:
        >>> sorted({e.framework for e in sinabs_exports()})
        ['sinabs']
    """
    out = []
    for stem, what, same, note in SINABS:
        ref = np.load(FIXTURES / f"{stem}.npz")
        note = "subtract reset written as v_reset = 0; several spikes a step possible (none on this input)" + (
            f"; {note}" if note else ""
        )
        path = FIXTURES / f"{stem}.nir"
        out.append(Exported("sinabs", "3.1.3", what, path, ref["input"], ref["output"], same, note, "subtract"))
    return out


# -- Norse (live): a leaky-integrator readout ------------------------------------------------------
#: the time step Norse 1.1's own ``to_nir`` files read right at: it writes ``tau = dt / tau_inv``
#: (seconds squared over its 1 ms step), so ``dt = (1e-3)**2``
NORSE_LI_DT = 1e-6


def norse_li_export(folder: Path) -> Exported:
    """A Norse network with a leaky-integrator readout (``LIFBoxCell`` -> ``LIBoxCell``) exported by
    Norse's own ``to_nir`` into ``folder``, with Norse's own membrane output for the fixed input.

    Norse 1.1 writes 0-d parameters, which ``nir.write`` refuses: they are written as one-element
    arrays. Read the file at :data:`NORSE_LI_DT`.

    Example:
        >>> e = norse_li_export(tmp)  # doctest: +SKIP
        >>> backends.load(e.path, None, "reference", dt=NORSE_LI_DT).run(e.x).window  # ~ e.own  # doctest: +SKIP
    """
    import warnings

    import norse.torch as nt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script in norse's exporter
        from norse.torch.utils.export_nir import to_nir

    torch.manual_seed(0)
    lif = nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.tensor(200.0), v_th=torch.tensor(0.3)))
    li = nt.LIBoxCell(nt.LIBoxParameters(tau_mem_inv=torch.tensor(100.0)))
    net = nt.SequentialState(torch.nn.Linear(6, 8), lif, torch.nn.Linear(8, 3), li)
    with torch.no_grad():
        net[0].weight.mul_(4.0)
    graph = to_nir(net, torch.zeros(1, 6))
    for node in graph.nodes.values():
        for field in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
            if hasattr(node, field) and np.ndim(getattr(node, field)) == 0:
                setattr(node, field, np.atleast_1d(np.asarray(getattr(node, field), dtype=np.float32)))
    path = Path(folder) / "norse_li.nir"
    nir.write(path, graph)
    x = _input((6,))
    state, own = None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, state = net(torch.from_numpy(x[:, t]), state)
            own.append(out)
    what = "Linear-LIFBoxCell-Linear-LIBoxCell (LI readout), norse's to_nir"
    note = "tau = dt / tau_inv (read at dt = 1e-6 s); 0-d parameters"
    version = importlib.metadata.version("norse")
    return Exported("norse", version, what, path, x, torch.stack(own, 1).numpy(), True, note)
