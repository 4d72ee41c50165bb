"""The event budget: the largest number of input bins an attack may change per sample.

Every attack that changes event inputs takes ``budget=K`` (``--budget K``): at most ``K`` bins of a
sample's binary frames ``[T, P, H, W]`` differ from the clean ones, events added and removed
counted alike. An iterative attack keeps within it while it crafts (:func:`clip_to_budget`);
whatever an attack returns is checked once more (:func:`enforce_budget`): a sample over the budget
is returned clean, so it counts as a failure, never as a larger perturbation. Image inputs keep
their L-inf ``eps`` instead.
"""

from __future__ import annotations

import torch

from neuroattack.draws import uniform


def check_budget(budget: int | None) -> int | None:
    """``budget`` if it is ``None`` or a whole number >= 1; else ``ValueError`` naming it.

    Example:
        >>> check_budget(50), check_budget(None)
        (50, None)
    """
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget (input bins changed per sample) must be a whole number >= 1, got {budget!r}")
    return budget


def flips(x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``[B]`` int64: the bins each sample changed (events added + removed).

    Example:
        >>> flips(torch.tensor([[1.0, 0.0, 1.0]]), torch.tensor([[1.0, 1.0, 0.0]]))
        tensor([2])
    """
    return (x_adv != x).flatten(1).sum(1)


def pick_random(mask: torch.Tensor, counts: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A bool mask choosing ``counts[b]`` of the positions set in ``mask[b]`` (``[B, N]``) at random
    (all of them where there are fewer).

    Example:
        >>> pick = pick_random(torch.ones(2, 5, dtype=torch.bool), torch.tensor([2, 0]), torch.Generator())
        >>> pick.sum(1).tolist()
        [2, 0]
    """
    score = uniform(mask.float(), generator).masked_fill(~mask, -1.0)
    order = score.argsort(1, descending=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
    return mask & (ranks < counts[:, None])


def clip_to_budget(
    x0: torch.Tensor,
    previous: torch.Tensor,
    proposed: torch.Tensor,
    budget: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``proposed`` with just enough of its new flips undone that no sample changes more than
    ``budget`` bins of ``x0``.

    A step from ``previous`` (within the budget) to ``proposed`` may undo earlier flips (always
    kept: they free budget) and flip new bins; of the new flips, a seeded random choice of as many
    as the budget has room for is kept, the rest stay as in ``previous``.

    Args:
        x0: clean samples ``[B, ...]`` (binary).
        previous: the iterate before the step, ``[B, ...]``, each within ``budget`` of ``x0``.
        proposed: the iterate after the step, ``[B, ...]``.
        budget: bins a sample may change.
        generator: the source of the random choice (a CPU generator draws the same on every device).

    Returns:
        ``[B, ...]``: ``proposed`` within the budget.

    Example:
        >>> x0 = torch.zeros(1, 6)
        >>> out = clip_to_budget(x0, x0, torch.ones(1, 6), 2, torch.Generator().manual_seed(0))
        >>> int(out.sum())
        2
    """
    b = len(x0)
    step = (proposed != previous).reshape(b, -1)
    back = step & (proposed == x0).reshape(b, -1)  # undoing an earlier flip
    new = step & ~back
    kept = ((previous != x0).reshape(b, -1) & ~back).sum(1)
    room = (budget - kept).clamp(min=0)
    drop = new & ~pick_random(new, room, generator)
    out = proposed.reshape(b, -1).clone()
    out[drop] = previous.reshape(b, -1)[drop]
    return out.reshape(proposed.shape)


def enforce_budget(x: torch.Tensor, x_adv: torch.Tensor, budget: int | None) -> torch.Tensor:
    """``x_adv`` with every sample that changes more than ``budget`` bins returned clean.

    Args:
        x: clean samples ``[B, ...]``.
        x_adv: adversarial samples, the same shape.
        budget: bins a sample may change (``None``: no limit).

    Returns:
        ``[B, ...]``: ``x_adv``, its samples over the budget replaced by ``x`` (a failure, never a
        larger perturbation).

    Example:
        >>> enforce_budget(torch.zeros(2, 3), torch.tensor([[1.0, 0, 0], [1, 1, 0]]), 1)
        tensor([[1., 0., 0.],
                [0., 0., 0.]])
    """
    if budget is None:
        return x_adv
    over = flips(x_adv, x) > budget
    if not over.any():
        return x_adv
    out = x_adv.clone()
    out[over] = x[over].to(out.dtype)
    return out
