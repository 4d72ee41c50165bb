"""Lava's LIF with subtract reset: a spike lowers ``v`` by the threshold instead of zeroing it.

snnTorch's default ``Leaky`` (``reset_mechanism="subtract"``), sinabs' ``IAF``/``LIF`` and
rockpool's ``LIF`` keep the voltage above threshold after a spike; lava-nc 0.10's ``LIF`` always
resets to 0, and NIR has no field that says which reset a file means. Loihi 2 runs custom neuron
models, so these processes are lava-nc's own ``LIF`` and ``LIFReset`` with one method changed,
``reset_voltage``:

- ``fixed_pt`` (Loihi's bit-accurate arithmetic): ``v[spiked] -= vth << 6`` after the clip to the
  24-bit state (lava-nc's ``AbstractPyLifModelFixed.run_spk`` order: sub-threshold update, spike
  test ``v > vth << 6``, reset);
- ``floating_pt``: ``v[spiked] -= vth``.

Everything else (decays, bias, the per-window reset of ``LIFReset``) is inherited unchanged, so the
emulator's ``subtract`` step (:func:`backends.loihi.lif_step`) is tested against these models.
Frameworks that may spike several times a step (sinabs, rockpool) subtract once here: one spike a
step, as Loihi sends.

Importing this module imports lava-nc (no runtime is started).
"""

from __future__ import annotations

import numpy as np
from lava.proc.lif.models import (
    PyLifModelBitAcc,
    PyLifModelFloat,
    PyLifResetModelBitAcc,
    PyLifResetModelFloat,
)
from lava.proc.lif.process import LIF, LIFReset


class SubtractLIF(LIF):
    """lava-nc's ``LIF`` whose spike subtracts the threshold from ``v`` (same arguments as ``LIF``).

    Example:
        >>> lif = SubtractLIF(shape=(2,), du=4095, dv=0, vth=10)  # doctest: +SKIP
    """


class SubtractLIFReset(LIFReset):
    """lava-nc's ``LIFReset`` (state zeroed every ``reset_interval`` steps) with subtract reset.

    Example:
        >>> lif = SubtractLIFReset(shape=(2,), vth=10, reset_interval=9, reset_offset=1)  # doctest: +SKIP
    """


def _subtract_fixed(self, spike_vector: np.ndarray) -> None:
    self.v[spike_vector] -= self.effective_vth


def _subtract_float(self, spike_vector: np.ndarray) -> None:
    self.v[spike_vector] -= self.vth


# The models subclass lava-nc's and name their process directly: lava's ``@implements`` refuses to
# re-point a subclass of a model that already implements ``LIF``; tags, resources and the Loihi
# protocol are inherited.
class PySubtractLifModelBitAcc(PyLifModelBitAcc):
    """``fixed_pt`` model of :class:`SubtractLIF`: lava-nc's bit-accurate LIF, subtract reset.

    Example:
        >>> Loihi2SimCfg(select_tag="fixed_pt")  # picks this model for a SubtractLIF  # doctest: +SKIP
    """

    implements_process = SubtractLIF
    reset_voltage = _subtract_fixed


class PySubtractLifModelFloat(PyLifModelFloat):
    """``floating_pt`` model of :class:`SubtractLIF`.

    Example:
        >>> Loihi2SimCfg(select_tag="floating_pt")  # picks this model for a SubtractLIF  # doctest: +SKIP
    """

    implements_process = SubtractLIF
    reset_voltage = _subtract_float


class PySubtractLifResetModelBitAcc(PyLifResetModelBitAcc):
    """``fixed_pt`` model of :class:`SubtractLIFReset`.

    Example:
        >>> Loihi2SimCfg(select_tag="fixed_pt")  # picks this model for a SubtractLIFReset  # doctest: +SKIP
    """

    implements_process = SubtractLIFReset
    reset_voltage = _subtract_fixed


class PySubtractLifResetModelFloat(PyLifResetModelFloat):
    """``floating_pt`` model of :class:`SubtractLIFReset`.

    Example:
        >>> Loihi2SimCfg(select_tag="floating_pt")  # picks this model for a SubtractLIFReset  # doctest: +SKIP
    """

    implements_process = SubtractLIFReset
    reset_voltage = _subtract_float
