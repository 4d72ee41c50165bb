"""Spike Square: a score-based query attack (Square Attack, Andriushchenko et al. 2020, in spikes).

Square Attack perturbs a random square of the image at a time and keeps the change when the loss
(the margin between the true class and the best other one) goes down; the square shrinks on a
fixed schedule. In the spike domain the input is ``[T, *in_shape]`` bits: a "square" is a random
box over time and every input dimension (a few steps x a channel x a patch), and its bits are set
to 1 with probability ``density`` (adding spikes) or to 0 (removing them), each with probability
one half. The score is the margin of output spike counts (:func:`~neuroattack.attacks.query_attack.margin`);
a change is kept when it does not raise the margin and the perturbation stays within the event
``budget`` (so plateaus of integer counts can be crossed); a sample is done when another class wins
outright (a tie is no decision, not a success). The box covers
``p_init`` of the input at first and is halved after 10, 50, 200, 500, 1000, 2000, 4000 and 6000
queries (the paper's schedule, read in queries).
"""

from __future__ import annotations

import torch

from neuroattack.attacks.budget import clip_to_budget
from neuroattack.attacks.metrics import hits
from neuroattack.attacks.query_attack import QueryAttack, margin, window_sizes
from neuroattack.decision import decide

_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000)


class SpikeSquare(QueryAttack):
    """Score-based query attack: random boxes of added or removed spikes, kept while the margin of
    output spike counts does not rise (see the module docstring).

    Args:
        executor: a backend executor (emulator, Lava, reference).
        queries: budget of executor runs per sample (the clean query included), >= 2.
        p_init: fraction of the input's elements the first box covers, in (0, 1].
        density: probability that a bit of an "adding" box becomes 1, in (0, 1].
        seed: seed of the random boxes.
        budget: the most input bins a sample may change (``None``: unbounded).

    Example:
        >>> atk = SpikeSquare(emulator, queries=2000, p_init=0.05)  # doctest: +SKIP
        >>> x_adv, result = atk.run(spikes, labels)  # doctest: +SKIP
    """

    name = "square"

    def __init__(
        self,
        executor,
        queries: int = 1000,
        p_init: float = 0.05,
        density: float = 0.5,
        seed: int = 0,
        budget: int | None = None,
    ):
        super().__init__(executor, queries, seed, budget)
        for what, value in (("p_init", p_init), ("density", density)):
            if not 0 < value <= 1:
                raise ValueError(f"{what} must be in (0, 1], got {value}")
        self.p_init = p_init
        self.density = density

    def _fraction(self, used: int) -> float:
        return self.p_init / 2 ** sum(used > s for s in _SCHEDULE)

    def _attack(self, x, labels, counts, pool, pool_pred, gen):
        b = len(x)
        shape = tuple(x.shape[1:])  # (T, *in_shape)
        best = margin(counts, labels)
        won = torch.zeros(b, dtype=torch.bool)  # another class decided (the clean inputs are correct)
        adv = x.clone()
        used = torch.zeros(b, dtype=torch.int64)
        for step in range(1, self.queries):
            active = (~won).nonzero().squeeze(1)
            if not len(active):
                break
            sizes = window_sizes(shape, self._fraction(step))
            cand = adv[active].clone()
            for j in range(len(active)):
                box = tuple(
                    slice(int(s), int(s) + w)
                    for s, w in (
                        (torch.randint(0, dim - w + 1, (1,), generator=gen), w) for dim, w in zip(shape, sizes)
                    )
                )
                if torch.rand(1, generator=gen) < 0.5:  # add spikes
                    bits = (torch.rand(cand[j][box].shape, generator=gen) < self.density).float()
                    cand[j][box] = torch.maximum(cand[j][box], bits)
                else:  # remove spikes
                    cand[j][box] = 0.0
            if self.budget is not None:  # a box larger than the budget's room keeps a random part of it
                cand = clip_to_budget(x[active], adv[active], cand, self.budget, gen)
            out = self._counts(cand)
            new = margin(out, labels[active])
            used[active] += 1
            keep = new <= best[active]
            adv[active[keep]] = cand[keep]
            best[active[keep]] = new[keep]
            won[active[keep]] = hits(decide(out[keep]), labels[active[keep]], None)
        return adv, used
