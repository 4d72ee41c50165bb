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

from neuroattack.draws import bernoulli


def _per_sample_max(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).amax(1).view(-1, *([1] * (t.dim() - 1)))


def normalize_abs(grad: torch.Tensor) -> torch.Tensor:
    """``|g| / max|g|`` per sample (0 where a sample's gradient is all zero).

    G2S's normalisation (Liang eq. 10): each sample's whole map is divided by its own maximum.

    Args:
        grad: gradient ``[B, ...]`` (e.g. ``[B, T, P, H, W]``), floating point.

    Returns:
        ``[B, ...]``, same dtype: sampling probabilities in [0, 1] (each non-zero sample's peak is 1).

    Example:
        >>> normalize_abs(torch.tensor([[2.0, -4.0], [0.0, 0.0]]))
        tensor([[0.5000, 1.0000],
                [0.0000, 0.0000]])
    """
    mag = grad.abs()
    peak = _per_sample_max(mag)
    return torch.where(peak > 0, mag / peak.clamp_min(torch.finfo(mag.dtype).tiny), torch.zeros_like(mag))


def vanished(grad: torch.Tensor) -> torch.Tensor:
    """``[B]`` bool: the sample's gradient is all zero (gradient vanishing, Liang Table III).

    Args:
        grad: gradient ``[B, ...]``.

    Returns:
        ``[B]`` bool: ``True`` where every element of the sample's gradient is zero.

    Example:
        >>> vanished(torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
        tensor([False,  True])
    """
    return grad.flatten(1).eq(0).all(1)


def overflow_transform(sign: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Table II: keep ``sign`` only where ``x + sign`` stays in {0, 1} (0 + 1 -> 1, 1 - 1 -> 0).

    Args:
        sign: ternary perturbation ``[B, ...]`` with values in {-1, 0, 1}.
        x: binary spikes ``[B, ...]`` (values in {0, 1}), the same shape.

    Returns:
        ``[B, ...]``, dtype of ``sign``: ``sign`` where it flips a spike, 0 elsewhere.

    Example:
        >>> overflow_transform(torch.tensor([[1.0, -1.0, 1.0, -1.0]]), torch.tensor([[0.0, 1.0, 1.0, 0.0]]))
        tensor([[ 1., -1.,  0.,  0.]])
    """
    keep = ((x == 0) & (sign > 0)) | ((x == 1) & (sign < 0))
    return torch.where(keep, sign, torch.zeros_like(sign))


def g2s(
    grad: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None = None, sampling: bool = True
) -> torch.Tensor:
    """Ternary, spike-compatible perturbation ``delta`` with ``x + delta`` binary (eq. 12).

    ``sampling=False`` is the ablation without probabilistic sampling: every non-zero gradient
    element passes.

    Args:
        grad: gradient w.r.t. the spikes, sample-first ``[B, ...]`` (e.g. ``[B, T, P, H, W]``).
        x: the binary spikes ``[B, ...]`` the gradient was taken at (same shape).
        generator: random source of the Bernoulli mask (``None``: torch's global one).
        sampling: keep each element with probability ``|g| / max|g|`` (per sample); ``False``:
            keep every element with a non-zero gradient.

    Returns:
        ``delta`` ``[B, ...]``, dtype of ``grad``, values in {-1, 0, 1}, with ``x + delta`` binary.

    Example:
        >>> g2s(torch.tensor([[0.5, -2.0, 0.0, 3.0]]), torch.tensor([[0.0, 1.0, 0.0, 1.0]]), sampling=False)
        tensor([[ 1., -1.,  0.,  0.]])
        >>> x = torch.randint(0, 2, (2, 4, 2, 3, 3)).float()
        >>> delta = g2s(torch.randn(2, 4, 2, 3, 3), x, torch.Generator().manual_seed(0))
        >>> bool(((x + delta) == 0).logical_or((x + delta) == 1).all())
        True
    """
    if sampling:
        mask = bernoulli(normalize_abs(grad), generator)
        sign = torch.sign(grad * mask)
    else:
        sign = torch.sign(grad)
    return overflow_transform(sign, x)


def rsf(x: torch.Tensor, gamma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Table IV: flip each element with probability ``gamma`` (``delta = 1 - 2x`` where selected).

    Args:
        x: binary spikes ``[B, ...]`` (values in {0, 1}).
        gamma: flip probability per element, in [0, 1] (Liang: 0.05).
        generator: random source of the mask (``None``: torch's global one).

    Returns:
        ``delta`` ``[B, ...]``, dtype of ``x``, values in {-1, 0, 1}, with ``x + delta`` binary.

    Raises:
        ValueError: if ``gamma`` is not in [0, 1].

    Example:
        >>> rsf(torch.tensor([[0.0, 1.0, 1.0]]), gamma=1.0)
        tensor([[ 1., -1., -1.]])
        >>> int(rsf(torch.tensor([[0.0, 1.0, 1.0]]), gamma=0.0).count_nonzero())  # gamma = 0: no flip
        0
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    mask = bernoulli(torch.full_like(x, gamma), generator)
    return mask * (1 - 2 * x)
