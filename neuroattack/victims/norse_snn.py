"""A user's own Norse network as an attackable model, without a spec string.

:class:`NorseSNN` takes a ``torch.nn.Sequential`` (or Norse's ``SequentialState``) of torch layers
and Norse cells, written and trained by the user, and runs it exactly as this project's spec-built
:class:`~neuroattack.models.snn.SNN` runs its own layers (time-first input, each cell stepped over
time). It is an ``SNN`` in every way the attacks use: every gradient estimator (STBP through the
user's own cells and surrogate; BPTR, RGA and HART from the cells' shared leak and threshold; CBA
through the same layers with ReLU in place of the cells)
and every algorithm apply, and it exports to NIR, so it deploys on the emulator and on Lava and
has a fixed-point twin (:class:`~neuroattack.victims.hardware_snn.HardwareSNN`).

Supported layers: ``nn.Linear``, ``nn.Conv2d``, ``nn.AvgPool2d``, ``nn.Flatten``; supported cells:
``norse.torch.LIFBoxCell`` (leaky, no synaptic current) and ``norse.torch.IAFCell``, with one
shared set of neuron parameters (leak, threshold, reset, surrogate), ``v_leak = 0`` and Norse's
default ``dt = 1 ms``. Anything else is refused with an error naming the layer.
"""

from __future__ import annotations

import neuroattack.quiet_norse  # noqa: F401  (first: Norse imported without torch's jit warning)

# isort: split
import torch
from norse.torch.functional.reset import reset_subtract
from norse.torch.module.iaf import IAFCell
from norse.torch.module.lif_box import LIFBoxCell
from torch import nn

from neuroattack.models.neurons import DT, SURROGATES, NeuronConfig, is_spiking
from neuroattack.models.snn import SNN
from neuroattack.models.surrogates import install as install_surrogates

LAYERS = (nn.Linear, nn.Conv2d, nn.AvgPool2d, nn.Flatten)
CELLS = (LIFBoxCell, IAFCell)
_METHODS = {v: k for k, v in SURROGATES.items()}


def _neuron_of(name: str, cell: nn.Module) -> NeuronConfig:
    """The :class:`NeuronConfig` a Norse cell's parameters describe (``ValueError`` naming the cell)."""
    p = cell.p
    if abs(float(getattr(cell, "dt", DT)) - DT) > 1e-12:
        raise ValueError(
            f"layer {name} ({type(cell).__name__}): dt = {cell.dt:g} s; supported: Norse's default {DT:g} s"
        )
    method = _METHODS.get(getattr(p, "method", None))
    if method is None:
        raise ValueError(
            f"layer {name}: surrogate method {getattr(p, 'method', None)!r} is not one of {sorted(_METHODS)}"
        )
    if isinstance(cell, LIFBoxCell):
        if float(p.v_leak) != 0 or float(p.v_reset) != 0:
            raise ValueError(f"layer {name} (LIFBoxCell): v_leak and v_reset must be 0")
        leak = 1.0 - DT * float(p.tau_mem_inv)
        reset = "soft" if getattr(p, "reset_method", None) is reset_subtract else "hard"
    else:
        if float(p.v_reset) != 0:
            raise ValueError(f"layer {name} (IAFCell): v_reset must be 0")
        leak, reset = 1.0, "hard"
    return NeuronConfig(
        leak=leak, threshold=float(p.v_th), reset=reset, surrogate=method, surrogate_width=float(p.alpha)
    )


class NorseSNN(SNN):
    """A user's Norse network as an :class:`~neuroattack.models.snn.SNN` (see the module docstring).

    Args:
        module: ``nn.Sequential`` or ``norse.torch.SequentialState`` of the supported layers and cells.
        input_shape: shape of one time step of input, e.g. ``(2, 34, 34)`` or ``(64,)``.

    Raises:
        ValueError: an unsupported layer or cell (named), cells with different parameters, or an
            input shape the layers do not take.

    Example:
        >>> import norse.torch as snn
        >>> net = snn.SequentialState(nn.Linear(4, 3), snn.LIFBoxCell())
        >>> model = NorseSNN(net, (4,))
        >>> model(torch.ones(8, 2, 4)).shape, model.num_classes, model.neuron.leak  # [T, B, K]
        (torch.Size([8, 2, 3]), 3, 0.9)
    """

    def __init__(self, module: nn.Module, input_shape: tuple[int, ...]):
        nn.Module.__init__(self)
        install_surrogates()  # this project's "rect" and "triangle_w" in Norse's threshold dispatch
        children = (
            list(module.children()) if isinstance(module, nn.Sequential) or hasattr(module, "stateful_layers") else None
        )
        if not children:
            raise ValueError(
                "a Norse network must be an nn.Sequential or norse SequentialState of layers, "
                f"got {type(module).__name__}"
            )
        neuron = None
        for i, layer in enumerate(children):
            name = f"{i} ({type(layer).__name__})"
            if isinstance(layer, CELLS):
                this = _neuron_of(name, layer)
                if neuron is not None and this != neuron:
                    raise ValueError(
                        f"layer {name}: its neuron parameters {this} differ from the first cell's {neuron}"
                    )
                neuron = this
            elif not isinstance(layer, LAYERS):
                supported = ", ".join(t.__name__ for t in LAYERS + CELLS)
                raise ValueError(f"layer {name} is not supported; supported: {supported}")
        if neuron is None or not is_spiking(children[-1]):
            raise ValueError("a Norse network must end with a spiking cell (its output spikes are the prediction)")
        self.layers = nn.ModuleList(children)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.neuron = neuron
        self.spec = None
        self.detach_recurrence = False
        self.supported_estimators = None  # every estimator (CBA's ANN view runs on these layers)
        with torch.no_grad():
            try:
                out = self(torch.zeros(1, 1, *self.input_shape))
            except RuntimeError as err:
                raise ValueError(f"the Norse network does not take input of shape {list(input_shape)}: {err}") from None
        self._num_classes = int(out.shape[-1])

    @property
    def num_classes(self) -> int:
        """Output neurons ``K``."""
        return self._num_classes
