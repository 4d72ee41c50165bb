"""Neuron options and the Norse cell each one maps to.

The discrete LIF of the papers (Liang eq. 6, HART) is ``v[t] = lambda * v[t-1] + I[t]``, spike when
``v > theta``, then reset. Norse cells are used as they are so that ``norse.torch.to_nir`` and
``from_nir`` understand the model:

==========================  =======================================  ===========  ==========
option                      Norse cell                               NIR node     deployable
==========================  =======================================  ===========  ==========
leak < 1, hard reset        ``LIFBoxCell`` (``reset_value``)         ``LIF``      yes
leak < 1, soft reset        ``LIFBoxCell`` (``reset_subtract``)      ``LIF``      no
leak = 1 (IF), hard reset   ``IAFCell``                              ``IF``       yes
leak = 1 (IF), soft reset   :class:`IAFSoftResetCell` (below)        ``IF``       no
current synapse, hard       ``LIFCell`` (CUBA)                       ``CubaLIF``  yes
==========================  =======================================  ===========  ==========

Norse's ``LIFBoxCell`` integrates ``v += dt/tau (I - v)``, i.e. ``v = lambda v + (1 - lambda) I``
with ``tau_mem_inv = (1 - lambda) / dt``: the factor ``(1 - lambda)`` on the input is absorbed by
the trained weights. Lava's LIF resets ``v`` to 0 and has no soft reset, so soft-reset models
train and attack here but export refuses them. Surrogates: ``rect`` (Liang eq. 9, width ``a``),
``triangle`` (width ``w``, unit area) and ``superspike`` (Norse's ``"super"``, sharpness
``alpha``); the first two are registered into Norse by :mod:`neuroattack.models.surrogates`.
"""

from __future__ import annotations

import neuroattack.quiet_norse  # noqa: F401  (first: Norse imported without torch's jit warning)

# isort: split
import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from norse.torch.functional.iaf import IAFFeedForwardState, IAFParameters
from norse.torch.functional.lif import LIFParameters
from norse.torch.functional.lif_box import LIFBoxParameters
from norse.torch.functional.reset import reset_subtract, reset_value
from norse.torch.module.iaf import IAFCell
from norse.torch.module.lif import LIFCell
from norse.torch.module.lif_box import LIFBoxCell

from neuroattack.models.surrogates import install as install_surrogates
from neuroattack.models.surrogates import threshold

DT = 1e-3  # seconds per time step (NIR time constants are in seconds)

SURROGATES = {"rect": "rect", "triangle": "triangle_w", "superspike": "super"}
RESETS = ("hard", "soft")
SYNAPSES = ("none", "current")


@dataclass(frozen=True)
class NeuronConfig:
    """LIF options shared by every spiking layer of a model.

    Attributes:
        leak: membrane decay per step ``lambda`` in (0, 1]; 1 is integrate-and-fire.
        threshold: firing threshold ``theta`` > 0.
        reset: ``"hard"`` (v -> 0) or ``"soft"`` (v -> v - theta).
        synapse: ``"none"`` or ``"current"`` (a current-based synapse, decay ``syn_decay``).
        syn_decay: synaptic current decay per step in (0, 1) for ``synapse="current"``.
        surrogate: ``"rect"``, ``"triangle"`` or ``"superspike"``.
        surrogate_width: rect width ``a`` / triangle width / SuperSpike sharpness.
    """

    leak: float = 0.5
    threshold: float = 1.0
    reset: str = "hard"
    synapse: str = "none"
    syn_decay: float = 0.5
    surrogate: str = "rect"
    surrogate_width: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 < self.leak <= 1.0:
            raise ValueError(f"neuron.leak (lambda) must be in (0, 1], got {self.leak}")
        if not self.threshold > 0:
            raise ValueError(f"neuron.threshold must be > 0, got {self.threshold}")
        if self.reset not in RESETS:
            raise ValueError(f"neuron.reset must be one of {RESETS}, got {self.reset!r}")
        if self.synapse not in SYNAPSES:
            raise ValueError(f"neuron.synapse must be one of {SYNAPSES}, got {self.synapse!r}")
        if self.synapse == "current":
            if not 0.0 < self.syn_decay < 1.0:
                raise ValueError(f"neuron.syn_decay must be in (0, 1), got {self.syn_decay}")
            if self.leak >= 1.0:
                raise ValueError("neuron.synapse='current' needs leak < 1 (Norse LIFCell)")
            if self.reset == "soft":
                raise ValueError("neuron.reset='soft' is not available with synapse='current'")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"neuron.surrogate must be one of {sorted(SURROGATES)}, got {self.surrogate!r}")
        if not self.surrogate_width > 0:
            raise ValueError(f"neuron.surrogate_width must be > 0, got {self.surrogate_width}")

    @property
    def deployable(self) -> bool:
        """Whether Lava's LIF (reset to 0) can run these neurons."""
        return self.reset == "hard"

    @property
    def input_gain(self) -> float:
        """Factor on the input current in ``v = lambda v + gain * I`` (absorbed by weights)."""
        return 1.0 if self.leak >= 1.0 else 1.0 - self.leak

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NeuronConfig:
        """The config a dict (read from a file) describes; every value's type is checked first."""
        if not isinstance(data, dict):
            raise ValueError(f"neuron config must be a table of options, got {type(data).__name__}")
        fields = cls.__dataclass_fields__
        unknown = sorted(map(repr, set(data) - set(fields)))
        if unknown:
            raise ValueError(f"neuron config: unknown key(s) {', '.join(unknown)}")
        for key, value in data.items():
            if isinstance(fields[key].default, str):
                if not isinstance(value, str):
                    raise ValueError(f"neuron.{key} = {value!r} must be a string")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"neuron.{key} = {value!r} must be a finite number")
        return cls(**data)

    def build(self) -> torch.nn.Module:
        """A fresh Norse cell for one spiking layer (see the module table); installs this
        project's surrogates into Norse's threshold dispatch first."""
        install_surrogates()
        common = {
            "v_th": torch.as_tensor(float(self.threshold)),
            "v_reset": torch.as_tensor(0.0),
            "method": SURROGATES[self.surrogate],
            "alpha": torch.as_tensor(float(self.surrogate_width)),
        }
        if self.leak >= 1.0:
            p = IAFParameters(**common)
            return IAFCell(p, dt=DT) if self.reset == "hard" else IAFSoftResetCell(p, dt=DT)
        tau_mem_inv = torch.as_tensor((1.0 - self.leak) / DT)
        if self.synapse == "current":
            tau_syn_inv = torch.as_tensor((1.0 - self.syn_decay) / DT)
            p = LIFParameters(tau_syn_inv=tau_syn_inv, tau_mem_inv=tau_mem_inv, v_leak=torch.as_tensor(0.0), **common)
            return LIFCell(p, dt=DT)
        reset = reset_value if self.reset == "hard" else reset_subtract
        p = LIFBoxParameters(tau_mem_inv=tau_mem_inv, v_leak=torch.as_tensor(0.0), reset_method=reset, **common)
        return LIFBoxCell(p, dt=DT)


def iaf_soft_reset_step(
    input_tensor: torch.Tensor, state: IAFFeedForwardState, p: IAFParameters, dt: float = DT
) -> tuple[torch.Tensor, IAFFeedForwardState]:
    """Norse's ``iaf_feed_forward_step`` with a subtractive reset (``v -> v - v_th``)."""
    v_new = state.v + input_tensor
    z_new = threshold(v_new - p.v_th, p.method, p.alpha)
    return z_new, IAFFeedForwardState(v=v_new - z_new * p.v_th)


class IAFSoftResetCell(IAFCell):
    """Norse ``IAFCell`` whose step resets by subtraction (Norse's IAF has value reset only)."""

    def __init__(self, p: IAFParameters | None = None, dt: float = DT):
        super().__init__(IAFParameters() if p is None else p, dt)
        self.activation = iaf_soft_reset_step


SPIKING_CELLS = (LIFBoxCell, IAFCell, LIFCell)


def is_spiking(module: torch.nn.Module) -> bool:
    """Whether ``module`` is one of the Norse cells a model's spiking layers are made of."""
    return isinstance(module, SPIKING_CELLS)
