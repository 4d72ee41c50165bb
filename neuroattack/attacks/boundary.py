"""Spike Boundary: a decision-based query attack, reading only the predicted class.

It follows the decision-based attacks of Brendel et al. (2018, Boundary Attack) and Schott et al.
(2019, Pointwise Attack, for L0 in binary-like domains): start from an input the network already
misclassifies and walk back towards the clean input while the prediction stays wrong. Here the
start is another sample of the batch that the network assigns to another class (or random spikes
of density ``init_density`` until one is misclassified), and each step restores a random block of
the bits that still differ from the clean input; a step that makes the prediction right again is
undone and the block halves (down to one bit). What is left when the budget is spent is the
adversarial input, counted a success only if it changes at most ``budget`` input bins (otherwise
the clean input is returned: the attack failed). A start must be decided as another class: an
input the network does not decide on (a tie, silence) is no start.
"""

from __future__ import annotations

import math

import torch

from neuroattack.attacks.metrics import hits
from neuroattack.attacks.query_attack import QueryAttack
from neuroattack.decision import decide


class SpikeBoundary(QueryAttack):
    """Decision-based query attack: from a misclassified start back towards the clean spikes (see
    the module docstring).

    Args:
        executor: a backend executor (emulator, Lava, reference).
        queries: budget of executor runs per sample (the clean query included), >= 2.
        init_density: density of the random spikes tried as a start when no other sample of the
            batch is predicted as another class, in (0, 1].
        seed: seed of the random starts and blocks.
        budget: the most input bins a successful perturbation changes (``None``: unbounded).

    Example:
        >>> atk = SpikeBoundary(emulator, queries=2000)  # doctest: +SKIP
        >>> x_adv, result = atk.run(spikes, labels)  # doctest: +SKIP
    """

    name = "boundary"
    decision_based = True

    def __init__(
        self, executor, queries: int = 1000, init_density: float = 0.2, seed: int = 0, budget: int | None = None
    ):
        super().__init__(executor, queries, seed, budget)
        if not 0 < init_density <= 1:
            raise ValueError(f"init_density must be in (0, 1], got {init_density}")
        self.init_density = init_density

    def _predict(self, x: torch.Tensor) -> torch.Tensor:
        return decide(self._counts(x))  # the decision only

    def _start(self, x, labels, pool, pool_pred, gen, used) -> tuple[torch.Tensor, torch.Tensor]:
        """A misclassified start per sample, and whether one was found."""
        adv = x.clone()
        found = torch.zeros(len(x), dtype=torch.bool)
        for j in range(len(x)):
            others = hits(pool_pred, labels[j], None).nonzero().squeeze(1)
            if len(others):
                adv[j] = pool[others[torch.randint(len(others), (1,), generator=gen)]]
                found[j] = True
        tries = 0
        while not found.all() and tries < 10 and int(used.max()) < self.queries - 1:
            todo = (~found).nonzero().squeeze(1)
            noise = (torch.rand(x[todo].shape, generator=gen) < self.init_density).float()
            pred = self._predict(noise)
            used[todo] += 1
            hit = hits(pred, labels[todo], None)
            adv[todo[hit]] = noise[hit]
            found[todo[hit]] = True
            tries += 1
        return adv, found

    def _attack(self, x, labels, counts, pool, pool_pred, gen):
        b = len(x)
        used = torch.zeros(b, dtype=torch.int64)
        adv, found = self._start(x, labels, pool, pool_pred, gen, used)
        flat_x = x.flatten(1)
        block = torch.tensor([max(1, math.ceil(int((adv[j] != x[j]).sum()) / 2)) for j in range(b)])
        while True:
            active = (found & (used < self.queries - 1)).nonzero().squeeze(1)
            if not len(active):
                break
            cand = adv[active].flatten(1).clone()
            for i, j in enumerate(active.tolist()):
                diff = (cand[i] != flat_x[j]).nonzero().squeeze(1)
                if not len(diff):
                    continue
                k = min(int(block[j]), len(diff))
                pick = diff[torch.randperm(len(diff), generator=gen)[:k]]
                cand[i, pick] = flat_x[j, pick]
            cand = cand.view_as(adv[active])
            still = hits(self._predict(cand), labels[active], None)
            used[active] += 1
            adv[active[still]] = cand[still]
            shrink = active[~still]
            block[shrink] = torch.clamp(block[shrink] // 2, min=1)
            done = (adv[active] == x[active]).flatten(1).all(1)  # (cannot happen while adversarial)
            found[active[done]] = False
        limit = self.budget if self.budget is not None else x[0].numel()
        too_far = ((adv != x).flatten(1).sum(1) > limit) | ~found
        adv[too_far] = x[too_far]  # failed: over the perturbation bound (or no start found)
        return adv, used
