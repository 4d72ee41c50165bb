"""Surrogate gradients that Norse lacks, registered into Norse's own threshold dispatch.

Norse's neuron steps call ``threshold(v - v_th, p.method, p.alpha)``, which knows ``"super"``,
``"triangle"`` (height ``alpha``, width fixed to 1), ``"tanh"``... This module adds, in one place:

- ``"rect"``: the rectangular window of Liang et al. eq. (9): ``do/du = 1/a`` where
  ``|u - u_th| <= a/2``, else 0 (``alpha = a``).
- ``"triangle_w"``: a triangle of width ``w`` and unit area, ``(1/w^2) max(0, w - |u - u_th|)``
  (``alpha = w``). With ``w = 1`` it is the STBP triangle of the HART reference code; HART's
  gamma is this width.

:func:`probe_threshold_inputs` lets a caller see every ``v - v_th`` that a neuron step thresholds
(HART pre-calculates ``sum_t ds/dm`` from them during the ordinary forward pass).

The forward pass is Norse's heaviside (spike iff ``v > v_th``, strictly, as Lava). Importing this
module changes nothing in Norse: :func:`install` puts the extended dispatcher into
``norse.torch.functional.{lif_box, iaf, lif}`` (idempotent; every other method name falls
through to Norse unchanged). It is called where it is needed: when a cell with one of these
surrogates is built (:meth:`~neuroattack.models.neurons.NeuronConfig.build`) and when thresholds
are probed.
"""

from __future__ import annotations

import neuroattack.quiet_norse  # noqa: F401  (first: Norse imported without torch's jit warning)

# isort: split
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import norse.torch.functional.iaf as _iaf
import norse.torch.functional.lif as _lif
import norse.torch.functional.lif_box as _lif_box
import norse.torch.functional.threshold as _threshold
import torch
from norse.torch.functional.heaviside import heaviside


def rect_derivative(x: torch.Tensor, width: float) -> torch.Tensor:
    """The ``rect`` surrogate derivative at ``x = v - v_th``: ``1/a`` on ``|x| <= a/2``."""
    return (x.abs() <= width / 2).to(x.dtype) / width


def triangle_derivative(x: torch.Tensor, width: float) -> torch.Tensor:
    """The ``triangle_w`` surrogate derivative at ``x = v - v_th``: ``(1/w^2) max(0, w - |x|)``."""
    return torch.relu(width - x.abs()) / (width * width)


def _surrogate(name: str, derivative) -> type[torch.autograd.Function]:
    """A heaviside whose backward is ``derivative(x, width)``."""

    class Surrogate(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            ctx.width = float(width)
            return heaviside(x)

        @staticmethod
        def backward(ctx, grad: torch.Tensor):
            (x,) = ctx.saved_tensors
            return grad * derivative(x, ctx.width), None

    Surrogate.__name__ = Surrogate.__qualname__ = name
    return Surrogate


RectSurrogate = _surrogate("RectSurrogate", rect_derivative)
TriangleSurrogate = _surrogate("TriangleSurrogate", triangle_derivative)


EXTRA_METHODS = {
    "rect": RectSurrogate.apply,
    "triangle_w": TriangleSurrogate.apply,
}

_norse_threshold = _threshold.threshold
_PROBE: ContextVar[Callable[[torch.Tensor], None] | None] = ContextVar("threshold_probe", default=None)


@contextmanager
def probe_threshold_inputs(fn: Callable[[torch.Tensor], None]) -> Iterator[None]:
    """Call ``fn(v - v_th)`` (detached) on every threshold evaluation inside the block.

    Example:
        >>> seen = []
        >>> with probe_threshold_inputs(seen.append):  # doctest: +SKIP
        ...     model(x)
    """
    install()
    token = _PROBE.set(fn)
    try:
        yield
    finally:
        _PROBE.reset(token)


def threshold(x: torch.Tensor, method: str, alpha) -> torch.Tensor:
    """Norse's ``threshold`` extended with :data:`EXTRA_METHODS`."""
    probe = _PROBE.get()
    if probe is not None:
        probe(x.detach())
    fn = EXTRA_METHODS.get(method)
    if fn is not None:
        return fn(x, alpha)
    return _norse_threshold(x, method, alpha)


_PATCHED = (_lif_box, _iaf, _lif)


def install() -> None:
    """Put :func:`threshold` into Norse's LIF, LIF-box and IAF steps (idempotent).

    Norse's steps look ``threshold`` up in their own module at call time, so after this every
    cell, including cells built before, understands ``"rect"`` and ``"triangle_w"``.
    """
    for module in _PATCHED:
        if module.threshold is not threshold:
            module.threshold = threshold


def installed() -> bool:
    """Whether :func:`install` has run in this process."""
    return all(module.threshold is threshold for module in _PATCHED)
