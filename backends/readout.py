"""Non-spiking readouts: a leaky integrator's membrane as the network's output, and how it decides.

Most published SHD, keyword-spotting and Braille-style networks end in a NIR ``LI`` or ``CubaLI``
node: neurons that integrate their input and never spike, whose membrane potential the class is
read from. The backends run such a node as the output population (:mod:`backends.graph` accepts it
there only) and return its membrane trace in the graph's units (``RunResult.window``
``[B, P, n_out]``); the scores a decision reads come from that trace by a readout rule:

- ``"max"``: the largest value over time (snnTorch's and spyx's usual decoding; the default);
- ``"last"``: the value at the last step of the window;
- ``"mean"``: the mean over the window.
"""

from __future__ import annotations

import torch

#: the readout rules, the default first
READOUT_RULES = ("max", "last", "mean")


def check_rule(rule: str) -> str:
    """``rule`` if it is one of :data:`READOUT_RULES`, else a ``ValueError`` naming them.

    Example:
        >>> check_rule("last")
        'last'
    """
    if rule not in READOUT_RULES:
        raise ValueError(f"readout rule must be one of {READOUT_RULES}, got {rule!r}")
    return rule


def apply_rule(trace: torch.Tensor, rule: str = "max", dim: int = 1) -> torch.Tensor:
    """Scores from a readout's membrane trace by ``rule``, over the time dimension ``dim``.

    Args:
        trace: membrane potentials, e.g. ``[B, P, K]`` (``dim=1``) or time-first ``[T, B, K]`` (``dim=0``).
        rule: one of :data:`READOUT_RULES`.
        dim: the time dimension.

    Returns:
        ``trace`` with ``dim`` reduced: ``[B, K]`` for ``[B, P, K]``. Differentiable (``max`` passes
        the gradient to the step that holds the maximum).

    Example:
        >>> trace = torch.tensor([[[0.0, 1.0], [2.0, 0.5], [1.0, 0.0]]])  # B = 1, P = 3, K = 2
        >>> apply_rule(trace, "max"), apply_rule(trace, "last"), apply_rule(trace, "mean")
        (tensor([[2., 1.]]), tensor([[1., 0.]]), tensor([[1.0000, 0.5000]]))
    """
    check_rule(rule)
    if rule == "max":
        return trace.amax(dim)
    if rule == "last":
        return trace.select(dim, -1)
    return trace.mean(dim)
