"""Liang et al.'s gradient-to-spike converter (G2S) and restricted spike flipper (RSF).

Pure functions on sample-first tensors ``[B, ...]`` (any trailing shape, e.g. ``[B, T, P, H, W]``).

- G2S (Sec. IV-C, eq. 10-12): ``|g|`` is normalised to [0, 1] *per input map* (each sample's whole
  spatio-temporal gradient divided by its maximum; a third-party version normalises over the batch,
  the paper per map), a Bernoulli mask is drawn with those probabilities (probabilistic sampling),
  the masked gradient is ternarised by ``sign`` and the overflow-aware transform of Table II keeps
  ``x + delta`` binary.
- RSF (Sec. IV-D, eq. 13, Table IV): on an all-zero gradient, a mask with probability ``gamma`` per
  element selects spikes to flip.
"""

from __future__ import annotations

import torch


def _per_sample_max(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).amax(1).view(-1, *([1] * (t.dim() - 1)))


def normalize_abs(grad: torch.Tensor) -> torch.Tensor:
    """``|g| / max|g|`` per sample (0 where a sample's gradient is all zero)."""
    mag = grad.abs()
    peak = _per_sample_max(mag)
    return torch.where(peak > 0, mag / peak.clamp_min(torch.finfo(mag.dtype).tiny), torch.zeros_like(mag))


def vanished(grad: torch.Tensor) -> torch.Tensor:
    """``[B]`` bool: the sample's gradient is all zero (gradient vanishing, Liang Table III)."""
    return grad.flatten(1).eq(0).all(1)


def overflow_transform(sign: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Table II: keep ``sign`` only where ``x + sign`` stays in {0, 1} (0 + 1 -> 1, 1 - 1 -> 0)."""
    keep = ((x == 0) & (sign > 0)) | ((x == 1) & (sign < 0))
    return torch.where(keep, sign, torch.zeros_like(sign))


def g2s(
    grad: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None = None, sampling: bool = True
) -> torch.Tensor:
    """Ternary, spike-compatible perturbation ``delta`` with ``x + delta`` binary (eq. 12).

    ``sampling=False`` is the ablation without probabilistic sampling: every non-zero gradient
    element passes.
    """
    if sampling:
        mask = torch.bernoulli(normalize_abs(grad), generator=generator)
        sign = torch.sign(grad * mask)
    else:
        sign = torch.sign(grad)
    return overflow_transform(sign, x)


def rsf(x: torch.Tensor, gamma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Table IV: flip each element with probability ``gamma`` (``delta = 1 - 2x`` where selected)."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    mask = torch.bernoulli(torch.full_like(x, gamma), generator=generator)
    return mask * (1 - 2 * x)
