"""neuroattack: adversarial attacks on spiking neural networks, from Norse simulation to
Loihi-style fixed-point execution (Lava and a bit-exact batched emulator)."""

__version__ = "0.1.0"
