"""The attack base class: torchattacks-style ``atk = PGD(model, ...); x_adv = atk(x, y)``.

An attack is built from the attacked model (a :class:`Victim`, or an SNN plus its encoding), a
gradient estimator (``grad``) and its settings; ``atk(x, y)`` (or ``atk(x, y, targets)``) returns
adversarial inputs in the dataset's layout (images ``[B, C, H, W]`` in [0, 1], or binary frames
``[B, T, P, H, W]``), and ``atk.last_result`` holds the per-sample :class:`AttackResult`.

Common options:

- ``loss``: ``"mse"``, ``"ce"`` or any callable ``(spikes [T,B,K], labels [B]) -> [B]``; default
  the loss the model was trained with.
- ``eot``: gradients averaged over this many Bernoulli encodings (expectation over
  transformation; the encoder is stochastic).
- ``eval_draws``: fresh encodings deciding clean correctness and success (majority vote).
- ``penultimate_threshold``: Liang V-B: the penultimate spiking layer's threshold while crafting
  only; the model judged afterwards is unchanged.
- ``seed``: every random choice of the attack (random start, sampling masks, encodings).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch

from neuroattack.attacks.estimators import GradientEstimator, make_estimator
from neuroattack.attacks.metrics import AttackResult, hits, l0, linf, perturbation
from neuroattack.losses import LossFn, resolve_loss
from neuroattack.victims.victim import Victim


def check_eps(name: str, value: float) -> float:
    """``value`` as a float if it lies in (0, 1] (pixel units); else ``ValueError`` naming ``name``."""
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1] (pixel units), got {value}")
    return float(value)


class Attack:
    """The base of every attack (see the module docstring for the options).

    Args:
        model: a :class:`~neuroattack.victims.Victim`, or a spiking model (then ``encoding`` and
            ``timesteps`` say how its inputs are made; defaults Bernoulli, ``T = 8``).
        grad: gradient estimator by name (``stbp``, ``bptr``, ``rga``, ``hart``, ``cba``; ``ann``
            for an ANN victim) or a :class:`~neuroattack.attacks.estimators.GradientEstimator`.
        encoding, timesteps: only with a bare model.
        loss: ``"mse"``, ``"ce"`` or a callable ``(spikes [T, B, K], labels [B]) -> [B]``.
        targeted: success means the target class (then ``atk(x, y, targets)``).
        eot: Bernoulli encodings averaged per gradient.
        eval_draws: fresh encodings deciding clean correctness and success (majority vote).
        penultimate_threshold: Liang V-B, while crafting only.
        seed: every random choice of the attack.
        grad_options: keyword arguments of the estimator built from ``grad`` (e.g. HART's ``gamma``).

    Subclasses implement ``_craft``; ``atk(x, y)`` returns adversarial ``x`` and
    ``atk.last_result`` holds the :class:`~neuroattack.attacks.metrics.AttackResult`.
    """

    name = "attack"
    #: the attack perturbs images (pixel values), so it needs image inputs
    image_only = False

    def __init__(
        self,
        model: Victim | torch.nn.Module,
        grad: str | GradientEstimator = "stbp",
        *,
        encoding: str | None = None,
        timesteps: int | None = None,
        loss: str | LossFn | None = None,
        targeted: bool = False,
        eot: int = 1,
        eval_draws: int = 8,
        penultimate_threshold: float | None = None,
        seed: int = 0,
        grad_options: dict[str, Any] | None = None,
    ):
        if not isinstance(model, Victim):
            model = Victim(model, encoding or "bernoulli", timesteps or 8, "mse")
        elif encoding is not None or timesteps is not None:
            raise ValueError("encoding/timesteps come from the Victim; pass a model to set them")
        self.victim = model
        self.model = model.model
        self.estimator = make_estimator(grad, **(grad_options or {}))
        if (self.estimator.name == "ann") != self.victim.is_ann:
            raise ValueError(
                "an ANN victim is attacked with grad='ann' (plain backpropagation), and grad='ann' needs an ANN victim; "
                f"got grad={self.estimator.name!r} for a {type(self.model).__name__}"
            )
        supported = getattr(self.model, "supported_estimators", None)
        if supported is not None and self.estimator.name not in supported:
            raise ValueError(
                f"{type(self.model).__name__} supports grad in {list(supported)}, got {self.estimator!r}"
            )
        if getattr(self.estimator, "surrogate", None) and not hasattr(self.model, "surrogate"):
            raise ValueError(
                f"{self.estimator!r} swaps the surrogate, which {type(self.model).__name__} cannot; "
                "use grad='stbp' with the model's own surrogate"
            )
        self.loss_fn = resolve_loss(loss if loss is not None else model.loss)
        self.targeted = targeted
        if eot < 1:
            raise ValueError(f"eot must be >= 1, got {eot}")
        if eval_draws < 1:
            raise ValueError(f"eval_draws must be >= 1, got {eval_draws}")
        if penultimate_threshold is not None:
            if not penultimate_threshold > 0:
                raise ValueError(f"penultimate_threshold must be > 0, got {penultimate_threshold}")
            if len(self.model.spiking_layers()) < 2:
                raise ValueError("penultimate_threshold needs a model with at least two spiking layers")
        self.eot = eot
        self.eval_draws = eval_draws
        self.penultimate_threshold = penultimate_threshold
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.last_result: AttackResult | None = None
        self._check_applicable()

    # -- configuration checks -------------------------------------------------------------
    def _check_applicable(self) -> None:
        if self.image_only and not self.victim.image_input:
            raise ValueError(
                f"{self.name} perturbs images, but the model takes {self.victim.encoding} input; "
                "attack event streams with g2s-rsf"
            )

    def settings(self) -> dict[str, Any]:
        """The attack's settings, for saved streams and the results store."""
        return {
            "attack": self.name,
            "grad": self.estimator.name,
            "grad_repr": repr(self.estimator),
            "targeted": self.targeted,
            "eot": self.eot,
            "eval_draws": self.eval_draws,
            "penultimate_threshold": self.penultimate_threshold,
            "seed": self.seed,
        }

    # -- gradients -----------------------------------------------------------------------
    def _crafting(self):
        if self.penultimate_threshold is None:
            return nullcontext()
        return self.model.thresholds({-2: self.penultimate_threshold})

    def _direction(self, loss: torch.Tensor) -> torch.Tensor:
        """Scalar whose gradient is the ascent direction (eq. 5: minus the target loss)."""
        return -loss.sum() if self.targeted else loss.sum()

    def spike_gradient(self, spikes: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Ascent direction w.r.t. time-first spike input ``[T, B, ...]`` (same shape)."""
        xs = spikes.detach().float().requires_grad_(True)
        with self._crafting():
            out = self.estimator.output(self.model, xs)
        (grad,) = torch.autograd.grad(self._direction(self.loss_fn(out, goal)), xs)
        return grad

    def image_gradient(self, images: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Ascent direction w.r.t. images ``[B, C, H, W]``, averaged over ``eot`` encodings."""
        total = torch.zeros_like(images, dtype=torch.float32)
        draws = self.eot if self.victim.stochastic else 1
        for _ in range(draws):
            xi = images.detach().float().requires_grad_(True)
            inputs = self.victim.inputs(xi, self.generator)
            with self._crafting():
                out = self.estimator.output(self.model, inputs, image=xi)
            (grad,) = torch.autograd.grad(self._direction(self.loss_fn(out, goal)), xi)
            total += grad
        return total / draws

    # -- evaluation ------------------------------------------------------------------------
    def _succeeded(self, x: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
        """One check of the unchanged model (a fresh encoding for Bernoulli inputs): ``[B]``."""
        pred = self.victim.predict(x, self.generator)[0]
        return hits(pred, labels, targets)

    def judge_on(
        self, victim: Victim, x: torch.Tensor, x_adv: torch.Tensor, labels: torch.Tensor,
        targets: torch.Tensor | None, **extra,
    ) -> AttackResult:
        """:func:`judge` on ``victim`` (this attack's own, or a transfer target) with this attack's
        evaluation draws and seed (offset from the crafting seed, so judging never reuses its draws)."""
        return judge(victim, x, x_adv, labels, targets, self.eval_draws, self.seed + 10_007, **extra)

    def _evaluate(
        self, x: torch.Tensor, x_adv: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None, **extra
    ) -> AttackResult:
        self.last_result = self.judge_on(self.victim, x, x_adv, labels, targets, **extra)
        return self.last_result

    # -- the call ----------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        x_adv, _ = self.run(x, labels, targets)
        return x_adv

    def run(
        self, x: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, AttackResult]:
        """Attack a batch: ``(x_adv, result)``."""
        self.victim.check_batch(x)
        labels = labels.long()
        if labels.shape != (x.shape[0],):
            raise ValueError(f"labels: expected shape [{x.shape[0]}], got {list(labels.shape)}")
        k = self.model.num_classes
        if (labels < 0).any() or (labels >= k).any():
            raise ValueError(f"labels must lie in [0, {k})")
        if self.targeted:
            if targets is None:
                raise ValueError("a targeted attack needs targets (see expand_targets)")
            targets = targets.long()
            if targets.shape != labels.shape or (targets < 0).any() or (targets >= k).any():
                raise ValueError(f"targets: expected [{len(labels)}] classes in [0, {k})")
        elif targets is not None:
            raise ValueError("targets given to an untargeted attack; build it with targeted=True")
        self.model.eval()
        x_adv, extra = self._craft(x, labels, targets)
        return x_adv, self._evaluate(x, x_adv, labels, targets, **extra)

    def _craft(self, x, labels, targets) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError


def judge(
    victim: Victim,
    x: torch.Tensor,
    x_adv: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor | None,
    eval_draws: int = 8,
    seed: int = 0,
    **extra,
) -> AttackResult:
    """Judge adversarial inputs on ``victim`` (the crafting model, or another one for transfer).

    Clean correctness and success are majority votes over ``eval_draws`` fresh encodings (one for
    deterministic inputs); ``extra`` carries the crafting record (iterations, RSF invocations...).
    """
    victim.check_batch(x_adv)
    gen = torch.Generator().manual_seed(seed)
    clean = victim.predict(x, gen, eval_draws)
    adv = victim.predict(x_adv, gen, eval_draws)
    frac = hits(adv, labels, targets).float().mean(0)
    n = len(labels)
    zeros = torch.zeros(n, dtype=torch.long)
    return AttackResult(
        labels=labels,
        targets=targets,
        clean_correct=clean.eq(labels).float().mean(0) > 0.5,
        success=frac > 0.5,
        success_fraction=frac,
        iterations=extra.get("iterations", zeros),
        l2_per_point=perturbation(x_adv, x, 2.0),
        l0=l0(x_adv, x),
        linf=linf(x_adv, x),
        rsf_invocations=extra.get("rsf_invocations", zeros),
        zero_grad_first=extra.get("zero_grad_first", torch.zeros(n, dtype=torch.bool)),
        pred_clean=clean.mode(0).values,
        pred_adv=adv.mode(0).values,
    )


def expand_targets(x: torch.Tensor, labels: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, ...]:
    """Liang's targeted protocol: each input once per class other than its label.

    Returns ``(x, labels, targets)`` repeated ``num_classes - 1`` times.
    """
    reps = num_classes - 1
    offsets = torch.arange(1, num_classes).repeat_interleave(len(labels))
    lab = labels.repeat(reps)
    return x.repeat(reps, *([1] * (x.dim() - 1))), lab, (lab + offsets) % num_classes
