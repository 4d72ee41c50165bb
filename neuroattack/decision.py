"""What a spiking network decides: the class with the most output spikes, or no decision.

A network whose strongest output is shared by two classes (a tie), or whose output is silent (every
count 0, so all classes tie), has not decided. Reading such an output as a class (``argmax``, which
picks the lowest tied index) would call an attack that silences the network a success, or count a
silent clean input as correct whenever its label happens to be class 0. Here it is its own outcome,
:data:`NO_DECISION` (``-1``): never a class, so never correct and never a successful attack;
rates of it are reported apart (``no_decision_rate``).

Other tools differ: snnTorch's ``accuracy_rate`` and most training loops take ``argmax`` of spike
counts (ties to the lowest index), and ``torchattacks``-style success tests compare that
``argmax`` with the label, so a silenced network counts as fooled there.
"""

from __future__ import annotations

import torch

#: the prediction of an output that did not decide (a tie for the most spikes, or silence)
NO_DECISION = -1


def decide(counts: torch.Tensor) -> torch.Tensor:
    """The decided class of each output, or :data:`NO_DECISION`.

    Args:
        counts: output spike counts (or any scores) ``[..., K]``.

    Returns:
        int64 ``[...]``: the index of the unique maximum over the last dimension, ``-1`` where the
        maximum is shared (a silent output shares it among all ``K`` classes).

    Example:
        >>> decide(torch.tensor([[0.0, 3.0, 1.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]]))
        tensor([ 1, -1, -1])
    """
    best, index = counts.max(-1)
    tied = (counts == best.unsqueeze(-1)).sum(-1) > 1
    return torch.where(tied, torch.full_like(index, NO_DECISION), index)
