"""The random baseline: ``budget`` input bins flipped at random, a seeded draw.

An attack is only worth its name if it beats chance at the same number of events: this baseline
flips ``K = budget`` bins of each sample, chosen uniformly at random. By default every bin is
equally likely (on sparse event frames almost every flip then adds an event); ``add_fraction``
fixes the share of flips that add events (the rest remove existing ones), so the baseline can
match another attack's ratio of adds to removes. :func:`matched_random` flips exactly the number
of events another attack added and removed, sample by sample: the baseline every attack run is
compared with (``random_asr`` in its summary).
"""

from __future__ import annotations

import torch

from neuroattack.attacks.base import Attack
from neuroattack.attacks.budget import pick_random


def random_flips(
    x: torch.Tensor,
    added: torch.Tensor,
    removed: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Binary samples ``x`` ``[B, ...]`` with ``added[b]`` random empty bins set and
    ``removed[b]`` random active bins cleared (as many as there are, when fewer).

    Args:
        x: clean binary samples (event frames ``[B, T, P, H, W]``).
        added: ``[B]`` int64: events to add per sample.
        removed: ``[B]`` int64: events to remove per sample.
        generator: the source of the draw (a CPU generator draws the same on every device).

    Returns:
        the flipped samples, the shape and dtype of ``x``.

    Example:
        >>> x = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
        >>> out = random_flips(x, torch.tensor([2]), torch.tensor([1]), torch.Generator().manual_seed(0))
        >>> int(out.sum()), bool(out[0, 0])
        (2, False)
    """
    b = len(x)
    flat = x.reshape(b, -1)
    on = flat > 0
    add = pick_random(~on, added.to(flat.device), generator)
    remove = pick_random(on, removed.to(flat.device), generator)
    out = flat.clone()
    out[add] = 1
    out[remove] = 0
    return out.reshape(x.shape)


class RandomFlips(Attack):
    """The random baseline: ``budget`` bins flipped at random per sample (event inputs).

    Args:
        model: a :class:`~neuroattack.victims.Victim` with event input.
        grad: unused (no gradient is taken); accepted so every attack is built alike.
        add_fraction: the share of the ``budget`` flips that add events, in [0, 1] (the rest
            remove events); ``None`` (default): every bin equally likely.
        **kwargs: the options every attack takes; ``budget`` (the flips per sample) is required.

    Raises:
        ValueError: no ``budget``, an ``add_fraction`` outside [0, 1], or a model without event input.

    Example:
        >>> atk = RandomFlips(victim, budget=50, seed=0)  # doctest: +SKIP
        >>> frames_adv, result = atk.run(frames, labels)  # 50 bins flipped per sample  # doctest: +SKIP
    """

    name = "random"

    def __init__(self, model, grad="stbp", add_fraction: float | None = None, **kwargs):
        super().__init__(model, grad, **kwargs)
        if self.budget is None:
            raise ValueError("random flips need budget=K, the bins to flip per sample")
        if add_fraction is not None and not 0.0 <= add_fraction <= 1.0:
            raise ValueError(f"add_fraction must be in [0, 1], got {add_fraction}")
        self.add_fraction = add_fraction

    def _check_applicable(self) -> None:
        super()._check_applicable()
        if self.victim.encoding != "events":
            raise ValueError(f"{self.name} flips input events; the model takes {self.victim.encoding} input")

    def settings(self):
        """The base settings with ``add_fraction``."""
        return {**super().settings(), "add_fraction": self.add_fraction}

    def _craft(self, x, labels, targets):
        b, k = len(x), self.budget
        if self.add_fraction is None:  # K bins uniformly over the whole sample
            flat = x.reshape(b, -1)
            pick = pick_random(torch.ones_like(flat, dtype=torch.bool), torch.full((b,), k), self.generator)
            out = flat.clone()
            out[pick] = 1 - out[pick]
            return out.reshape(x.shape), {}
        adds = torch.full((b,), round(k * self.add_fraction), dtype=torch.long)
        return random_flips(x, adds, k - adds, self.generator), {}


def matched_random(x: torch.Tensor, x_adv: torch.Tensor, seed: int) -> torch.Tensor:
    """The random baseline of an attack: per sample, as many random events added and removed as
    the attack added and removed (``x``, ``x_adv`` ``[B, ...]`` binary).

    Example:
        >>> x, adv = torch.zeros(1, 5), torch.tensor([[1.0, 1.0, 0, 0, 0]])
        >>> int(matched_random(x, adv, seed=0).sum())
        2
    """
    delta = (x_adv.float() - x.float()).reshape(len(x), -1)
    gen = torch.Generator().manual_seed(seed)
    return random_flips(x, (delta > 0).sum(1), (delta < 0).sum(1), gen)
