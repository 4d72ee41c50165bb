"""Random draws that give the same numbers on every device.

Every random choice takes a ``torch.Generator``; a CPU generator draws on the CPU and the result
moves to the device of the tensor it is for, so a run on CUDA draws exactly what the same run on
the CPU draws (a CUDA generator draws on its GPU). One place for this rule: the Bernoulli encoder,
G2S's and RSF's masks and PGD's random start use it.
"""

from __future__ import annotations

import torch


def bernoulli(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``torch.bernoulli(probs)`` drawn on ``generator``'s device, returned on ``probs``'s device.

    Args:
        probs: probabilities in [0, 1], any shape (e.g. ``[T, B, C, H, W]``), on any device.
        generator: the source of the draws (``None``: torch's default generator of ``probs``'s device).

    Returns:
        0/1 samples shaped and typed like ``probs``, on its device.

    Example:
        >>> g = lambda: torch.Generator().manual_seed(0)
        >>> p = torch.full((2, 3), 0.5)
        >>> torch.equal(bernoulli(p, g()), torch.bernoulli(p, generator=g()))
        True
    """
    if generator is not None and generator.device != probs.device:
        return torch.bernoulli(probs.to(generator.device), generator=generator).to(probs.device)
    return torch.bernoulli(probs, generator=generator)


def uniform(like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform [0, 1) samples shaped like ``like``, drawn on ``generator``'s device, on ``like``'s.

    Args:
        like: the tensor whose shape, dtype (floating) and device the samples take.
        generator: the source of the draws (``None``: the default generator of ``like``'s device).

    Returns:
        a tensor like ``like`` of uniform samples.

    Example:
        >>> uniform(torch.zeros(2, 2), torch.Generator().manual_seed(0)).shape
        torch.Size([2, 2])
    """
    device = generator.device if generator is not None else like.device
    out = torch.rand(like.shape, generator=generator, device=device, dtype=like.dtype)
    return out.to(like.device)
