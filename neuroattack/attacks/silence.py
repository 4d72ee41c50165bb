"""The silence baseline: every input spike removed.

What erasing the input does to a network tells how its silent output is read. With the rule of
:mod:`neuroattack.decision` a silent output is no decision, never a success: a bias-free network
given no input emits nothing, so this baseline scores ASR 0 with a no-decision rate near 1. A
network that still decides on silence (biases, or a readout of resting potentials) can be fooled
by it, and then any attack's ASR must be read against this one. Under a ``budget`` smaller than a
sample's events the sample cannot be silenced and counts as a failure.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.base import Attack


class Silence(Attack):
    """Remove every input event (event inputs; see the module docstring).

    Args:
        model: a :class:`~neuroattack.victims.Victim` with event input.
        grad: unused (no gradient is taken); accepted so every attack is built alike.
        **kwargs: the options every attack takes (``budget``: samples with more events fail).

    Raises:
        ValueError: a model without event input.

    Example:
        >>> frames_adv, result = Silence(victim).run(frames, labels)  # doctest: +SKIP
        >>> int(frames_adv.sum()), result.summary().no_decision_rate  # doctest: +SKIP
        (0, 1.0)
    """

    name = "silence"

    def _check_applicable(self) -> None:
        super()._check_applicable()
        if self.victim.encoding != "events":
            raise ValueError(f"{self.name} removes input events; the model takes {self.victim.encoding} input")

    def _craft(self, x, labels, targets):
        return torch.zeros_like(x), {}
