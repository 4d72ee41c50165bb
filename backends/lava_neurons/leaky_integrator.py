"""Lava's LIF as a non-spiking readout: it integrates as a LIF does and sends its voltage each step.

A NIR ``LI``/``CubaLI`` output node never spikes; the class is read from its membrane potential
(:mod:`backends.readout`). lava-nc 0.10 has no such process, and Loihi 2 runs custom neuron models
(graded spikes carry a 24-bit payload), so the readout runs as lava-nc's own ``LIF`` and
``LIFReset`` with two methods changed:

- ``spiking_activation`` returns the voltage itself, which ``s_out`` sends every step (fixed point:
  the 24-bit ``v`` after the clip; float: ``v``), so a sink records the membrane trace;
- ``reset_voltage`` does nothing: the voltage is never reset.

The sub-threshold update (decays, bias, the 24-bit wrap and clip, the per-window reset of
``LIFReset``) is inherited unchanged, so the emulator's readout trace (``lif_update`` without the
spike test) is tested against these models value for value.

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


class LeakyIntegrator(LIF):
    """lava-nc's ``LIF`` that never spikes and sends its voltage on ``s_out`` every step.

    Example:
        >>> readout = LeakyIntegrator(shape=(10,), du=4095, dv=400, vth=1)  # doctest: +SKIP
        >>> readout.s_out.connect(RingBuffer(shape=(10,), buffer=steps).a_in)  # the trace  # doctest: +SKIP
    """


class LeakyIntegratorReset(LIFReset):
    """:class:`LeakyIntegrator` whose state is zeroed every ``reset_interval`` steps (lava-nc's ``LIFReset``).

    Example:
        >>> readout = LeakyIntegratorReset(shape=(10,), vth=1, reset_interval=9, reset_offset=1)  # doctest: +SKIP
    """


def _voltage(self) -> np.ndarray:
    return self.v.copy()


def _keep(self, spike_vector: np.ndarray) -> None:
    return None


# The models subclass lava-nc's and name their process directly (lava's ``@implements`` refuses to
# re-point a subclass); tags, resources and the Loihi protocol are inherited.
class PyLeakyIntegratorModelBitAcc(PyLifModelBitAcc):
    """``fixed_pt`` model of :class:`LeakyIntegrator`.

    Example:
        >>> Loihi2SimCfg(select_tag="fixed_pt")  # picks this model for a LeakyIntegrator  # doctest: +SKIP
    """

    implements_process = LeakyIntegrator
    spiking_activation = _voltage
    reset_voltage = _keep


class PyLeakyIntegratorModelFloat(PyLifModelFloat):
    """``floating_pt`` model of :class:`LeakyIntegrator`.

    Example:
        >>> Loihi2SimCfg(select_tag="floating_pt")  # picks this model for a LeakyIntegrator  # doctest: +SKIP
    """

    implements_process = LeakyIntegrator
    spiking_activation = _voltage
    reset_voltage = _keep


class PyLeakyIntegratorResetModelBitAcc(PyLifResetModelBitAcc):
    """``fixed_pt`` model of :class:`LeakyIntegratorReset`.

    Example:
        >>> Loihi2SimCfg(select_tag="fixed_pt")  # picks this model for a LeakyIntegratorReset  # doctest: +SKIP
    """

    implements_process = LeakyIntegratorReset
    spiking_activation = _voltage
    reset_voltage = _keep


class PyLeakyIntegratorResetModelFloat(PyLifResetModelFloat):
    """``floating_pt`` model of :class:`LeakyIntegratorReset`.

    Example:
        >>> Loihi2SimCfg(select_tag="floating_pt")  # picks this model for a LeakyIntegratorReset  # doctest: +SKIP
    """

    implements_process = LeakyIntegratorReset
    spiking_activation = _voltage
    reset_voltage = _keep
