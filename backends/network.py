"""A lowered network: spiking populations joined by projections, the form every backend runs.

:func:`backends.graph.lower` turns a NIR graph into a :class:`Network`; the emulator, Lava and the
float reference all execute this one form, so they accept and refuse the same graphs.

- A :class:`Population` is one NIR neuron node (LIF, IF, CubaLIF) in Lava's float LIF convention
  ``u = u (1 - du) + a;  v = v (1 - dv) + u + bias;  spike v > vth;  v -> 0`` (or ``v -> v - vth``,
  subtract reset, which NIR cannot say and the user chooses), with per-neuron ``du``/``dv``
  (Lava's LIF has one value per process: :meth:`Population.groups` splits it).
- A :class:`Projection` is the linear map from one source (the network input or a population) to
  one target population: the NIR linear nodes on the paths between them folded into one dense
  matrix or one convolution.
- A projection is *recurrent* when its source does not come before its target in
  :attr:`Network.populations` (a population feeding itself or an earlier one).
- The :data:`BIAS` source spikes at every step; a projection from it carries an affine bias into a
  population whose current decays slowly (``du < 1``), where a constant input current is not the
  same as a constant bias on ``v``. On the hardware it is one more spike source and Dense process.

Timing: on the hardware backends every projection delays by one step (Lava's Dense and Conv send at
``t + 1`` what they received at ``t``), so spikes of the input at step ``t`` reach a population
``d`` projections away at ``t + d``. The float reference uses NIR's reading instead: forward
projections act within the step, recurrent ones one step later.

Every sample starts from a zero state (currents, voltages, synaptic buffers), on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INPUT = "input"
BIAS = "bias"  # a source that spikes at every step: constant input currents (affine biases of slow-current neurons)


@dataclass
class Population:
    """One spiking population (a NIR neuron node) in Lava's float LIF convention.

    Attributes:
        name: the NIR neuron node's name.
        shape: per-sample shape, torch order (``(C, H, W)`` for maps, ``(n,)`` for vectors).
        du, dv: float64 ``[n]`` current and voltage decays per step, in ``[0, 1]``.
        vth: the population's common threshold (> 0; per-neuron thresholds are folded into the
            weights and bias by :func:`backends.graph.lower`).
        bias: float64 ``[n]``, added to ``v`` every step.
        neuron: the NIR node type (``"LIF"``, ``"IF"``, ``"CubaLIF"``; ``"LI"``, ``"CubaLI"`` for a
            readout, which never spikes and whose ``vth`` is only the range its membrane is scaled to).
        reset: what a spike does to ``v``: ``"zero"`` (Lava's LIF) or ``"subtract"`` (``v -> v - vth``,
            snnTorch's, sinabs' and rockpool's default; one spike a step at most).

    Example:
        >>> pop = Population("lif", (4,), du=np.ones(4), dv=np.array([0.1, 0.2, 0.1, 0.2]), vth=1.0,
        ...                  bias=np.zeros(4), neuron="LIF")
        >>> pop.n, [list(g) for g in pop.groups()]  # two time constants: two Lava processes
        (4, [[0, 2], [1, 3]])
    """

    name: str
    shape: tuple[int, ...]
    du: np.ndarray
    dv: np.ndarray
    vth: float
    bias: np.ndarray
    neuron: str
    reset: str = "zero"
    _groups: list | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n(self) -> int:
        """Number of neurons (``prod(shape)``)."""
        return int(np.prod(self.shape))

    @property
    def readout(self) -> bool:
        """Whether the population is a non-spiking readout (NIR ``LI``/``CubaLI``): its output is its
        membrane potential, not spikes (:mod:`backends.readout`)."""
        return self.neuron in ("LI", "CubaLI")

    def groups(self) -> list[np.ndarray]:
        """Indices (flat, torch order) of the neurons sharing one ``(du, dv)``, in first-seen order.

        Returns:
            one int64 array a group; a single group ``arange(n)`` when the decays are uniform.
        """
        if self._groups is None:  # computed once: Lava's processes and the emulator's blocks share them
            keys = np.stack([self.du, self.dv], axis=1)
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            inverse = inverse.reshape(-1)
            self._groups = [np.flatnonzero(inverse == g) for g in np.argsort(first)]
        return self._groups


@dataclass
class Projection:
    """The linear map from one source to one target population (float64, torch layouts).

    Attributes:
        source: :data:`INPUT`, :data:`BIAS` or a population's name.
        target: the target population's name.
        synapse: ``"dense"`` or ``"conv"``.
        weight: dense ``[n_target, n_source]`` over flattened shapes (torch ``(C, H, W)`` order);
            conv ``[C_out, C_in, kH, kW]`` (cross-correlation). The target's input scale and
            threshold normalisation are folded in.
        in_shape, out_shape: per-sample shapes of the source and of the target.
        stride, padding: conv stride and padding ``(H, W)`` (``(1, 1)``, ``(0, 0)`` for dense).
        nodes: the NIR linear nodes folded into it.
        recurrent: whether the source does not come before the target (a feedback projection).
        delays: dense only: int64 ``[n_target, n_source]`` steps each synapse adds to the one every
            projection takes (a NIR ``Delay`` node on the path; Lava's ``DelayDense``), or ``None``.

    Example:
        >>> proj = Projection(INPUT, "lif", "dense", np.ones((2, 3)), (3,), (2,))
        >>> proj.name, proj.recurrent
        ('input->lif', False)
    """

    source: str
    target: str
    synapse: str
    weight: np.ndarray
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    nodes: list[str] = field(default_factory=list)
    recurrent: bool = False
    delays: np.ndarray | None = None

    @property
    def name(self) -> str:
        """``"source->target"``."""
        return f"{self.source}->{self.target}"

    @property
    def max_delay(self) -> int:
        """The largest extra delay of a synapse (0 without delays)."""
        return int(self.delays.max()) if self.delays is not None else 0

    def delayed(self) -> list[tuple[int, np.ndarray]]:
        """``[(k, weight of the synapses delayed k extra steps)]``, one entry per delay present
        (``[(0, weight)]`` without delays).

        Example:
            >>> proj = Projection(INPUT, "a", "dense", np.array([[1.0, 2.0]]), (2,), (1,))
            >>> proj.delays = np.array([[0, 3]])
            >>> [(k, w.tolist()) for k, w in proj.delayed()]
            [(0, [[1.0, 0.0]]), (3, [[0.0, 2.0]])]
        """
        if self.delays is None:
            return [(0, self.weight)]
        return [(int(k), np.where(self.delays == k, self.weight, 0)) for k in np.unique(self.delays)]


@dataclass
class Network:
    """Populations in evaluation order, the projections between them, and which one is the output.

    Attributes:
        input_shape: per-sample shape of one input step, e.g. ``(2, 34, 34)``.
        populations: in an order where every non-recurrent projection goes forward.
        projections: every projection (at most one per source and target).
        output: the output population's name.
        dt: the time step (seconds) the NIR time constants were read with.

    Example:
        >>> a = Population("a", (2,), np.ones(2), np.zeros(2), 1.0, np.zeros(2), "IF")
        >>> net = Network((3,), [a], [Projection(INPUT, "a", "dense", np.ones((2, 3)), (3,), (2,))], "a", 1e-3)
        >>> net.latency, net.recurrent
        (1, False)
    """

    input_shape: tuple[int, ...]
    populations: list[Population]
    projections: list[Projection]
    output: str
    dt: float

    def population(self, name: str) -> Population:
        """The population called ``name`` (``KeyError`` if none)."""
        for pop in self.populations:
            if pop.name == name:
                return pop
        raise KeyError(name)

    def index(self, name: str) -> int:
        """Position of population ``name`` in :attr:`populations`."""
        return [p.name for p in self.populations].index(name)

    def incoming(self, name: str) -> list[Projection]:
        """The projections into population ``name``."""
        return [p for p in self.projections if p.target == name]

    def blocks(self, proj: Projection) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
        """The ``(target rows, source columns)`` blocks a dense projection runs as on Lava.

        A population with several time constants is one LIF process per group
        (:meth:`Population.groups`), so a dense projection touching it is one Dense per pair of a
        target group and a source group; Lava determines each Dense's sign mode on its own, so the
        emulator applies Lava's weight truncation block by block too
        (:func:`~backends.loihi.applied_weights`).

        Args:
            proj: a projection of this network.

        Returns:
            the pairs, ``None`` standing for "all" on a side with one group.

        Example:
            >>> a = Population("a", (3,), np.ones(3), np.array([0.1, 0.2, 0.1]), 1.0, np.zeros(3), "LIF")
            >>> net = Network((2,), [a], [Projection(INPUT, "a", "dense", np.ones((3, 2)), (2,), (3,))], "a", 1e-3)
            >>> [(list(rows), cols) for rows, cols in net.blocks(net.projections[0])]
            [([0, 2], None), ([1], None)]
        """

        def split(name: str) -> list[np.ndarray | None]:
            if name in (INPUT, BIAS):
                return [None]
            groups = self.population(name).groups()
            return list(groups) if len(groups) > 1 else [None]

        return [(rows, cols) for rows in split(proj.target) for cols in split(proj.source)]

    @property
    def readout(self) -> bool:
        """Whether the output population is a non-spiking readout (its membrane is the output)."""
        return self.population(self.output).readout

    @property
    def recurrent(self) -> bool:
        """Whether any projection is recurrent."""
        return any(p.recurrent for p in self.projections)

    def depths(self) -> dict[str, int]:
        """Longest path (in steps: one per projection, plus its synapses' delays; recurrent ones left
        out) from the input to each population."""
        depth = {INPUT: 0, BIAS: 0}
        for pop in self.populations:
            depth[pop.name] = max(1 + p.max_delay + depth[p.source] for p in self.incoming(pop.name) if not p.recurrent)
        return depth

    @property
    def latency(self) -> int:
        """Steps from an input spike to the output population along the longest forward path
        (``L`` for a chain of ``L`` layers): hardware output step ``t + latency`` answers input step ``t``."""
        return self.depths()[self.output]

    def components(self) -> list[list[str]]:
        """Populations grouped for execution, in evaluation order.

        A recurrent projection from position ``j`` back to position ``i <= j`` ties populations
        ``i..j`` into one group that runs step by step; every other population is a group of one
        that runs layer-major (all steps at once).

        Returns:
            lists of population names; their concatenation is :attr:`populations`' order.
        """
        names = [p.name for p in self.populations]
        pos = {n: i for i, n in enumerate(names)}
        reach = list(range(len(names)))  # reach[i]: last position tied to i by a feedback
        for proj in self.projections:
            if proj.recurrent:
                lo, hi = pos[proj.target], pos[proj.source]
                reach[lo] = max(reach[lo], hi)
        groups: list[list[str]] = []
        end = -1
        for i, name in enumerate(names):
            if i > end:
                groups.append([name])
            else:
                groups[-1].append(name)
            end = max(end, reach[i])
        return groups

    def self_connected(self, group: list[str]) -> bool:
        """Whether ``group`` (from :meth:`components`) contains a recurrent projection."""
        members = set(group)
        return any(p.recurrent and p.source in members and p.target in members for p in self.projections)
