"""G2S/RSF: Liang et al.'s Algorithm 1, BIM with the G2S converter and RSF, for spike and image inputs.

Per iteration ``k`` (at most ``steps``, default 25):

1. spike input ``xs_k`` (event inputs: the current adversarial spikes; Bernoulli-coded images:
   a fresh encoding of the current image ``xi_k``);
2. gradient ``delta s'_k`` by the chosen estimator (eq. 5; minus the target loss if targeted);
3. all-zero gradient -> RSF (mask with probability ``gamma``, flips of Table IV), unless ``rsf``
   is off; otherwise G2S (per-map normalised ``|g|``, Bernoulli mask, sign, Table II);
4. spikes: ``xs_{k+1} = xs_k + delta s_k``; images: ``xi_{k+1} = clip(xi_k + eta * 1/T sum_t
   delta s_k^t, 0, 1)`` (temporal aggregation);
5. if the average perturbation per point ``||x_{k+1} - x_0||_p / N`` reaches ``eps`` the attack has
   failed (stop; the sample keeps its last iterate within the bound, so every returned input
   respects ``eps``); else if the unchanged model is fooled it has succeeded (stop).

``eps=None`` leaves the perturbation unbounded (Liang Fig. 14 a-b). Ablations: ``sampling=False``
(G2S without probabilistic sampling), ``rsf=False``.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.base import Attack
from neuroattack.attacks.budget import clip_to_budget
from neuroattack.attacks.g2s_rsf_steps import g2s, rsf, vanished
from neuroattack.attacks.metrics import perturbation
from neuroattack.encoding import bernoulli_encode


class G2SRSF(Attack):
    """Spike-compatible BIM with the gradient-to-spike converter and the restricted spike flipper.

    Args:
        model: a :class:`~neuroattack.victims.Victim` (or a spiking model, read as Bernoulli-coded).
        grad: gradient estimator: ``stbp``, ``bptr``, ``rga`` or ``hart`` (by name or object).
        steps: at most this many iterations per sample (Liang: 25).
        gamma: RSF's flip probability per element when the gradient vanishes (Liang: 0.05).
        eps: bound on the average perturbation per point ``||x' - x||_p / N`` (``None``: unbounded).
        p: the norm of ``eps`` and of the reported perturbation (Liang: 2).
        sampling: G2S's probabilistic sampling (``False``: the ablation without it).
        rsf: RSF on vanished gradients (``False``: the ablation without it).
        eta: image step size of the temporal aggregation (images only).
        **kwargs: the options every attack takes (:class:`~neuroattack.attacks.base.Attack`).

    Input: event frames ``[B, T, P, H, W]`` (binary) or images ``[B, C, H, W]`` in [0, 1] of a
    Bernoulli-coded model; output: adversarial inputs of the same shape (event frames stay binary).

    Raises:
        ValueError: if ``steps`` < 1, ``gamma`` is not in [0, 1], ``eps`` is not ``None`` or in
            (0, 1], ``p`` <= 0 or ``eta`` <= 0; the model is directly coded (no input spikes); or
            the estimator gives no spike-domain gradient (``cba``, ``ann``).

    Example:
        >>> atk = G2SRSF(victim, grad="stbp", steps=25, gamma=0.05, seed=0)  # doctest: +SKIP
        >>> frames_adv = atk(frames, labels)  # [B, T, 2, 34, 34]  # doctest: +SKIP
        >>> atk.last_result.summary().asr  # doctest: +SKIP
    """

    name = "g2s-rsf"

    def __init__(
        self,
        model,
        grad="stbp",
        steps: int = 25,
        gamma: float = 0.05,
        eps: float | None = None,
        p: float = 2.0,
        sampling: bool = True,
        rsf: bool = True,
        eta: float = 1.0,
        **kwargs,
    ):
        super().__init__(model, grad, **kwargs)
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma (RSF sampling factor) must be in [0, 1], got {gamma}")
        if eps is not None and not 0 < eps <= 1:
            raise ValueError(f"eps (average perturbation per point) must be in (0, 1], got {eps}")
        if p <= 0:
            raise ValueError(f"p must be > 0, got {p}")
        if not eta > 0:
            raise ValueError(f"eta must be > 0, got {eta}")
        self.steps, self.gamma, self.eps, self.p = steps, float(gamma), eps, float(p)
        self.sampling, self.rsf, self.eta = sampling, rsf, float(eta)

    def _check_applicable(self) -> None:
        super()._check_applicable()
        if self.victim.encoding == "direct":
            raise ValueError(f"{self.name} flips input spikes; a directly coded model has none")
        if not self.estimator.spike_domain:
            raise ValueError(
                f"estimator {self.estimator.name!r} does not give spike-domain gradients "
                f"(it differentiates the ANN twin on images); {self.name} needs stbp, bptr, rga or hart"
            )

    def settings(self):
        """The attack's settings (the base ones plus G2S/RSF's), for saved streams and the store.

        Returns:
            :meth:`Attack.settings <neuroattack.attacks.base.Attack.settings>` with ``steps``,
            ``gamma``, ``eps``, ``p``, ``sampling``, ``rsf`` and ``eta``.
        """
        return {
            **super().settings(),
            "steps": self.steps,
            "gamma": self.gamma,
            "eps": self.eps,
            "p": self.p,
            "sampling": self.sampling,
            "rsf": self.rsf,
            "eta": self.eta,
        }

    def _ternary(self, spikes_sf: torch.Tensor, grad_sf: torch.Tensor):
        """G2S or RSF perturbation for sample-first spikes; also the vanished mask."""
        van = vanished(grad_sf)
        delta = torch.zeros_like(spikes_sf)
        if van.any() and self.rsf:
            delta[van] = rsf(spikes_sf[van], self.gamma, self.generator)
        if (~van).any():
            delta[~van] = g2s(grad_sf[~van], spikes_sf[~van], self.generator, self.sampling)
        return delta, van

    def _image_update(self, xi: torch.Tensor, delta_i: torch.Tensor, xi0: torch.Tensor) -> torch.Tensor:
        return (xi + self.eta * delta_i).clamp(0, 1)

    def _craft(self, x, labels, targets):
        goal_all = targets if self.targeted else labels
        events = self.victim.encoding == "events"
        x0 = x.float()
        cur = x0.clone()
        n = len(x)
        active = torch.ones(n, dtype=torch.bool)
        iterations = torch.zeros(n, dtype=torch.long)
        rsf_count = torch.zeros(n, dtype=torch.long)
        zero_first = torch.zeros(n, dtype=torch.bool)
        for k in range(1, self.steps + 1):
            idx = active.nonzero().flatten()
            if len(idx) == 0:
                break
            goal = goal_all[idx]
            if events:
                spikes_sf = cur[idx]
            else:
                with torch.no_grad():
                    spikes_sf = bernoulli_encode(cur[idx], self.victim.timesteps, self.generator).transpose(0, 1)
            grad_sf = self.spike_gradient(spikes_sf.transpose(0, 1), goal).transpose(0, 1)
            delta, van = self._ternary(spikes_sf, grad_sf)
            previous = cur[idx].clone()
            if k == 1:
                zero_first[idx] = van
            if self.rsf:
                rsf_count[idx[van]] += 1
            if events:
                step = spikes_sf + delta
                if self.budget is not None:  # the new flips a full budget has no room for are not made
                    step = clip_to_budget(x0[idx], spikes_sf, step, self.budget, self.generator)
                cur[idx] = step
            else:
                cur[idx] = self._image_update(cur[idx], delta.mean(1), x0[idx])
            iterations[idx] = k
            failed = torch.zeros(len(idx), dtype=torch.bool)
            if self.eps is not None:
                failed = perturbation(cur[idx], x0[idx], self.p) >= self.eps
                cur[idx[failed]] = previous[failed]  # what is returned stays within the bound
            done = failed | self._succeeded(cur[idx], labels[idx], None if targets is None else targets[idx])
            active[idx[done]] = False
        out = cur if not events else cur.to(x.dtype)
        return out, {"iterations": iterations, "rsf_invocations": rsf_count, "zero_grad_first": zero_first}
