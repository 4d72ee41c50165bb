"""Input encoding: images ``[B, C, H, W]`` in [0, 1] -> time-first input ``[T, B, C, H, W]``.

- ``bernoulli`` (rate / "Poisson" coding, Liang IV, Sharmin): each pixel spikes at each step with
  probability equal to its intensity, drawn from a ``torch.Generator``. The sampling has no
  derivative, so the backward pass is Liang's temporal aggregation: the image gradient is the
  time-mean of the spike gradients, ``delta_i = 1/T sum_t delta_s^t`` (a straight-through
  estimator of ``E[s] = x``). This is the gradient path foolbox lacks on Norse's encoder
  (norse issue 264).
- ``direct``: the image itself is the input current at every step (no sampling, exact gradient).
- ``events``: inputs are already spike frames ``[T, B, P, H, W]``; no encoding.
"""

from __future__ import annotations

import torch

from neuroattack.draws import bernoulli

SCHEMES = ("bernoulli", "direct", "events")


class _BernoulliSample(torch.autograd.Function):
    @staticmethod
    def forward(ctx, images: torch.Tensor, timesteps: int, generator: torch.Generator | None):
        probs = images.unsqueeze(0).expand(timesteps, *images.shape)
        return bernoulli(probs, generator)  # the same spikes on every device

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad.mean(0), None, None


def _check_images(images: torch.Tensor) -> None:
    if images.dim() < 2:
        raise ValueError(f"images: expected [B, ...], got shape {list(images.shape)}")
    if torch.isnan(images).any():
        raise ValueError("images contain NaN")
    lo, hi = float(images.detach().min()), float(images.detach().max())
    if lo < 0 or hi > 1:
        raise ValueError(f"images: pixel values must lie in [0, 1], got [{lo:.4g}, {hi:.4g}]")


def bernoulli_encode(images: torch.Tensor, timesteps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Binary spikes ``[T, B, ...]`` with ``P(spike) = pixel``; backward = time-mean."""
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    _check_images(images)
    return _BernoulliSample.apply(images, timesteps, generator)


def direct_encode(images: torch.Tensor, timesteps: int) -> torch.Tensor:
    """The image as a constant input current at every step: ``[T, B, ...]``."""
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    _check_images(images)
    return images.unsqueeze(0).expand(timesteps, *images.shape)


def encode(x: torch.Tensor, scheme: str, timesteps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Encode a batch for an SNN. ``events`` input ``[B, T, P, H, W]`` is made time-first."""
    if scheme == "bernoulli":
        return bernoulli_encode(x, timesteps, generator)
    if scheme == "direct":
        return direct_encode(x, timesteps)
    if scheme == "events":
        if x.dim() < 3 or x.shape[1] != timesteps:
            raise ValueError(f"event frames: expected [B, T={timesteps}, ...], got {list(x.shape)}")
        return x.transpose(0, 1).float()
    raise ValueError(f"encoding must be one of {SCHEMES}, got {scheme!r}")


def model_input(
    x: torch.Tensor,
    scheme: str,
    timesteps: int,
    generator: torch.Generator | None = None,
    time_first: bool = True,
) -> torch.Tensor:
    """What a model consumes for dataset samples ``x`` (training, attacks and evaluation alike).

    Args:
        x: images ``[B, C, H, W]`` in [0, 1], or event frames ``[B, T, P, H, W]``.
        scheme: the model's encoding (``bernoulli``, ``direct``, ``events``).
        timesteps: ``T``.
        generator: source of the Bernoulli draws.
        time_first: ``True`` for an SNN (``[T, B, ...]``, :func:`encode`); ``False`` for an ANN,
            which takes ``[B, ...]``: images as they are, event frames averaged over time.

    Example:
        >>> model_input(torch.full((2, 1, 8, 8), 0.5), "bernoulli", 4).shape
        torch.Size([4, 2, 1, 8, 8])
    """
    if not time_first:
        return x.float().mean(1) if scheme == "events" else x
    return encode(x, scheme, timesteps, generator)
