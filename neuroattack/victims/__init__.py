"""What can be attacked: a spiking model behind one small protocol, with its input encoding.

- :class:`SpikingModel`: the protocol every attack relies on;
- :class:`Victim`: a model plus how dataset samples become its input;
- :class:`HardwareSNN`: the differentiable fixed-point twin of a model on a hardware profile
  (hardware-in-the-loop crafting).
"""

from neuroattack.victims.hardware_snn import HardwareSNN
from neuroattack.victims.nir_snn import NIRSNN
from neuroattack.victims.norse_snn import NorseSNN
from neuroattack.victims.protocol import SpikingModel
from neuroattack.victims.victim import Victim

__all__ = ["HardwareSNN", "NIRSNN", "NorseSNN", "SpikingModel", "Victim"]
