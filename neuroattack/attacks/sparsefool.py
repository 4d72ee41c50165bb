"""SparseFool for binary spikes: the fewest input events that change a spiking network's decision.

SparseFool (Modas, Moosavi-Dezfooli and Frossard, CVPR 2019) finds sparse perturbations by
linearising the classifier at each iterate: a DeepFool step gives the decision boundary's normal
``w`` and the distance to it, and a linear solver moves along the coordinates of largest ``|w|``,
one at a time, until the linearised boundary is crossed (``lambda`` scales the distance). Büchel
et al. (Frontiers in Neuroscience, 2022) adapted it to event-based spiking networks, where a
coordinate can only flip: a bin at 0 becomes 1 (an event added) or a bin at 1 becomes 0 (one
removed). This module is that adaptation, on the surrogate gradient of the output spike counts:

1. ``f`` = output spike counts ``[b, K]`` of the current frames, by the attack's estimator.
2. DeepFool's closest boundary, for counts: the strongest other class ``k`` (targeted: the
   target); normal ``w = d(f_k - f_y) / dx``; the counts ``f_k`` must gain ``gap = f_y - f_k + 1``
   on ``f_y`` to win outright (a tie is no decision, never a success).
3. Linear solver on bits: a flip's linear gain is ``w_i`` (0 -> 1) or ``-w_i`` (1 -> 0); the
   bins not flipped yet with positive gain are taken in decreasing gain until the gains sum to
   ``lam * gap`` (at most ``step_flips`` a step). A surrogate gradient has no calibrated scale
   (it is the derivative of a smoothed spike, not of the count), so the gains are rescaled per
   sample by what the last step really did: ``scale = (gap before - gap after) / predicted gain``
   (halved when a step gained nothing).
4. The unchanged network judges: decided and fooled -> done; no bin left with positive gain or
   ``steps`` spent -> failed (the sample is returned with its flips, judged as is).
5. Pruning (``prune``): for each fooled sample, every flip is undone in turn and stays undone if
   the network is still fooled; passes repeat until one undoes nothing, so what is returned is
   minimal flip by flip (undoing any one flip gives the decision back): the fewest events this
   search found.

The ``budget`` bounds what is returned, not the search: a sample whose pruned flips still exceed
it is returned clean and counts as a failure (:func:`~neuroattack.attacks.budget.enforce_budget`),
so the ASR at budget ``K`` is the share of inputs this search fools with at most ``K`` events.

Per sample the result's ``l0`` is the number of events changed (``added + removed``); the summary's
``median_l0`` over successes is the median events-to-fool.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.base import Attack


class SparseFool(Attack):
    """The minimal-event attack (see the module docstring).

    Args:
        model: a :class:`~neuroattack.victims.Victim` with event input.
        grad: gradient estimator with spike-domain gradients: ``stbp``, ``bptr``, ``rga`` or ``hart``.
        steps: at most this many linearisations per sample.
        lam: SparseFool's ``lambda`` (>= 1 pushes past the linearised boundary; larger converges
            in fewer steps with more flips, which pruning then removes).
        step_flips: at most this many bins flipped per step (the linearisation holds only nearby).
        prune: undo every flip the decision does not need (after the search), in the order of their
            bins, pass after pass.
        prune_trials: at most this many undo trials per sample while pruning.
        **kwargs: the options every attack takes (``budget``, ``targeted``, ``seed``, ...).

    Raises:
        ValueError: ``steps`` or ``step_flips`` < 1, ``lam`` <= 0, a model without event input, or
            an estimator without spike-domain gradients.

    Example:
        >>> atk = SparseFool(victim, grad="stbp", budget=200)  # doctest: +SKIP
        >>> frames_adv, result = atk.run(frames, labels)  # doctest: +SKIP
        >>> result.summary().median_l0  # the median events it took to fool  # doctest: +SKIP
    """

    name = "sparsefool"

    def __init__(
        self,
        model,
        grad="stbp",
        steps: int = 100,
        lam: float = 1.0,
        step_flips: int = 32,
        prune: bool = True,
        prune_trials: int = 64,
        **kwargs,
    ):
        super().__init__(model, grad, **kwargs)
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if step_flips < 1:
            raise ValueError(f"step_flips must be >= 1, got {step_flips}")
        if not lam > 0:
            raise ValueError(f"lam must be > 0, got {lam}")
        if prune_trials < 1:
            raise ValueError(f"prune_trials must be >= 1, got {prune_trials}")
        self.steps, self.lam, self.step_flips, self.prune = steps, float(lam), step_flips, prune
        self.prune_trials = prune_trials

    def _check_applicable(self) -> None:
        super()._check_applicable()
        if self.victim.encoding != "events":
            raise ValueError(f"{self.name} flips input events; the model takes {self.victim.encoding} input")
        if not self.estimator.spike_domain:
            raise ValueError(
                f"estimator {self.estimator.name!r} gives no spike-domain gradient; use stbp, bptr, rga or hart"
            )

    def settings(self):
        """The base settings with ``steps``, ``lam``, ``step_flips``, ``prune`` and ``prune_trials``."""
        return {
            **super().settings(),
            "steps": self.steps,
            "lam": self.lam,
            "step_flips": self.step_flips,
            "prune": self.prune,
            "prune_trials": self.prune_trials,
        }

    def _normal(self, frames: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None):
        """``(w [b, N], gap [b])``: the gradient of ``f_k - f_y`` w.r.t. the flattened frames
        ``[b, T, ...]`` and the count the margin must gain to win outright."""
        xs = frames.transpose(0, 1).detach().float().requires_grad_(True)
        with self._crafting():
            f = self.estimator.output(self.model, xs).sum(0)  # [b, K] output counts
        counts = f.detach()
        if targets is None:  # the strongest other class against the label
            goal, rival = labels, counts.scatter(1, labels[:, None], float("-inf")).argmax(1)
            margin = f.gather(1, rival[:, None]) - f.gather(1, goal[:, None])
        else:  # the target against the strongest other class
            rival = counts.scatter(1, targets[:, None], float("-inf")).argmax(1)
            margin = f.gather(1, targets[:, None]) - f.gather(1, rival[:, None])
        (grad,) = torch.autograd.grad(margin.sum(), xs)
        gap = (-margin.detach().squeeze(1)).clamp(min=0) + 1
        return grad.transpose(0, 1).reshape(len(frames), -1), gap

    def _step(
        self, cur: torch.Tensor, x0: torch.Tensor, w: torch.Tensor, gap: torch.Tensor, scale: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One linear-solver step on bits for ``cur``, ``x0`` ``[b, N]`` with gain scale ``[b]``:
        the bins flipped ``[b, N]`` and their summed (unscaled) predicted gain ``[b]``."""
        gain = torch.where(cur > 0, -w, w)
        gain = gain.masked_fill(cur != x0, 0.0).clamp(min=0)  # a bin flips once; only helpful flips
        ordered, order = gain.sort(1, descending=True)
        enough = (ordered.cumsum(1) * scale[:, None] < self.lam * gap[:, None]).sum(1) + 1
        count = torch.minimum(enough, (ordered > 0).sum(1)).clamp(max=self.step_flips)
        take = torch.arange(cur.shape[1], device=cur.device)[None, :] < count[:, None]
        chosen = torch.zeros_like(take)
        chosen.scatter_(1, order, take)
        return chosen, (ordered * take).sum(1)

    def _craft(self, x, labels, targets):
        b = len(x)
        x0 = x.float().reshape(b, -1)
        cur = x0.clone()
        active = torch.ones(b, dtype=torch.bool)
        fooled = torch.zeros(b, dtype=torch.bool)
        iterations = torch.zeros(b, dtype=torch.long)
        scale = torch.ones(b, dtype=torch.float64)  # predicted gain -> count gain, learned per sample
        predicted = torch.zeros(b, dtype=torch.float64)
        last_gap = torch.zeros(b, dtype=torch.float64)
        shape = x.shape[1:]
        for k in range(1, self.steps + 1):
            idx = active.nonzero().flatten()
            if not len(idx):
                break
            tgt = None if targets is None else targets[idx]
            w, gap = self._normal(cur[idx].reshape(len(idx), *shape), labels[idx], tgt)
            gap64 = gap.double().cpu()
            if k > 1:
                gained = last_gap[idx] - gap64
                ratio = gained / predicted[idx].clamp(min=1e-12)
                scale[idx] = torch.where(gained > 0, ratio, scale[idx] / 2).clamp(1e-9, 1e9)
            chosen, step_gain = self._step(cur[idx], x0[idx], w, gap, scale[idx].to(w.dtype).to(w.device))
            predicted[idx], last_gap[idx] = step_gain.double().cpu(), gap64
            stuck = ~chosen.any(1)
            cur[idx] = torch.where(chosen, 1 - cur[idx], cur[idx])
            iterations[idx[~stuck]] = k
            now = self._succeeded(cur[idx].reshape(len(idx), *shape), labels[idx], tgt)
            fooled[idx] = now
            active[idx[now | stuck]] = False
        if self.prune and fooled.any():
            cur = self._pruned(cur, x0, fooled, labels, targets, shape)
        return cur.reshape(x.shape).to(x.dtype), {"iterations": iterations}

    def _pruned(self, cur, x0, fooled, labels, targets, shape) -> torch.Tensor:
        """Undo each flip of the fooled samples in turn, keeping it undone while they stay fooled;
        repeat until a pass undoes nothing (at most ``prune_trials`` trials a sample)."""
        idx = fooled.nonzero().flatten()
        trials = 0
        while trials < self.prune_trials:
            positions = [row.nonzero().flatten() for row in cur[idx] != x0[idx]]
            longest = min(max(len(p) for p in positions), self.prune_trials - trials)
            undone = 0
            for j in range(longest):
                rows = torch.tensor([i for i, p in enumerate(positions) if len(p) > j], dtype=torch.long)
                cols = torch.stack([positions[i][j] for i in rows.tolist()])
                trial = cur[idx[rows]].clone()
                trial[torch.arange(len(rows)), cols] = x0[idx[rows], cols]
                tgt = None if targets is None else targets[idx[rows]]
                still = self._succeeded(trial.reshape(len(rows), *shape), labels[idx[rows]], tgt)
                cur[idx[rows[still]]] = trial[still]
                undone += int(still.sum())
            trials += longest
            if not undone or longest == 0:
                break
        return cur
