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
- ``budget``: event inputs only: the largest number of input bins (events added + removed) the
  attack may change per sample (:mod:`neuroattack.attacks.budget`); a sample the attack cannot
  fool within it is returned clean and counts as a failure.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch

from neuroattack.attacks.budget import check_budget, enforce_budget
from neuroattack.attacks.estimators import GradientEstimator, make_estimator
from neuroattack.attacks.metrics import AttackResult, hits, l0, linf, perturbation
from neuroattack.decision import NO_DECISION
from neuroattack.losses import LossFn, resolve_loss
from neuroattack.victims.victim import Victim


def check_eps(name: str, value: float) -> float:
    """``value`` as a float if it lies in (0, 1] (pixel units); else ``ValueError`` naming ``name``.

    Args:
        name: the option's name, used in the error message (``"eps"``, ``"alpha"``).
        value: a radius or step size in pixel units (images lie in [0, 1]).

    Returns:
        ``value`` as a Python ``float``.

    Raises:
        ValueError: if ``value`` is not in (0, 1].

    Example:
        >>> check_eps("eps", 8 / 255)
        0.03137254901960784
        >>> check_eps("alpha", 2)
        Traceback (most recent call last):
        ...
        ValueError: alpha must be in (0, 1] (pixel units), got 2
    """
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
        encoding, timesteps: only with a bare model (``"bernoulli"``, ``"direct"`` or ``"events"``;
            ``T``, time steps per sample).
        loss: ``"mse"``, ``"ce"`` or a callable ``(spikes [T, B, K], labels [B]) -> [B]``; ``None``
            (default): the loss the victim was trained with.
        targeted: success means the target class (then ``atk(x, y, targets)``).
        eot: Bernoulli encodings averaged per gradient (>= 1; 1 for deterministic inputs).
        eval_draws: fresh encodings deciding clean correctness and success (majority vote, >= 1).
        penultimate_threshold: Liang V-B, while crafting only (> 0; ``None``: the model's own).
        seed: every random choice of the attack.
        grad_options: keyword arguments of the estimator built from ``grad`` (e.g. HART's ``gamma``).
        budget: event inputs: the most input bins changed per sample (``None``: unbounded).

    Subclasses implement ``_craft``; ``atk(x, y)`` returns adversarial ``x`` and
    ``atk.last_result`` holds the :class:`~neuroattack.attacks.metrics.AttackResult`.

    Attributes:
        victim: the attacked :class:`~neuroattack.victims.Victim`; ``model`` is ``victim.model``.
        estimator: the :class:`~neuroattack.attacks.estimators.GradientEstimator` in use.
        generator: the ``torch.Generator`` (seeded with ``seed``) of every random choice.
        last_result: the :class:`~neuroattack.attacks.metrics.AttackResult` of the last batch.

    Raises:
        ValueError: if ``encoding``/``timesteps`` are given with a ``Victim``; ``grad`` is unknown,
            ``ann`` for an SNN (or not ``ann`` for an ANN), unsupported by the model, or swaps a
            surrogate the model cannot swap; ``eot`` or ``eval_draws`` is < 1;
            ``penultimate_threshold`` is not > 0 or the model has fewer than two spiking layers;
            or an image-only attack is given a model with event input.

    Example:
        >>> from neuroattack.attacks import PGD
        >>> atk = PGD(victim, grad="hart", grad_options={"gamma": 0.5}, eot=4, seed=0)  # doctest: +SKIP
        >>> x_adv, result = atk.run(images, labels)  # doctest: +SKIP
        >>> result.summary().asr  # doctest: +SKIP
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
        budget: int | None = None,
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
                "an ANN victim is attacked with grad='ann' (plain backpropagation), "
                "and grad='ann' needs an ANN victim; "
                f"got grad={self.estimator.name!r} for a {type(self.model).__name__}"
            )
        supported = getattr(self.model, "supported_estimators", None)
        if supported is not None and self.estimator.name not in supported:
            raise ValueError(f"{type(self.model).__name__} supports grad in {list(supported)}, got {self.estimator!r}")
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
        self.budget = check_budget(budget)
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
        if self.budget is not None and self.victim.encoding != "events":
            raise ValueError(
                f"budget counts input events; the model takes {self.victim.encoding}-coded images, "
                "whose perturbation is bounded by eps"
            )

    def settings(self) -> dict[str, Any]:
        """The attack's settings, for saved streams and the results store.

        Returns:
            A JSON-compatible ``dict``: ``attack``, ``grad``, ``grad_repr``, ``targeted``, ``eot``,
            ``eval_draws``, ``penultimate_threshold``, ``seed`` and ``budget`` (subclasses add their
            options).
        """
        return {
            "attack": self.name,
            "grad": self.estimator.name,
            "grad_repr": repr(self.estimator),
            "targeted": self.targeted,
            "eot": self.eot,
            "eval_draws": self.eval_draws,
            "penultimate_threshold": self.penultimate_threshold,
            "seed": self.seed,
            "budget": self.budget,
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
        """Ascent direction w.r.t. time-first spike input ``[T, B, ...]`` (same shape).

        The gradient of the summed loss (minus it, if targeted) by the attack's estimator, with
        ``penultimate_threshold`` applied; one encoding, no ``eot`` average.

        Args:
            spikes: model input ``[T, B, ...]`` (binary spikes, any dtype; read as float32).
            goal: ``[B]`` int64: the labels (untargeted) or the targets (targeted).

        Returns:
            ``[T, B, ...]`` float32: the ascent direction for every input element.

        Example:
            >>> grad = atk.spike_gradient(frames.transpose(0, 1), labels)  # [T, B, P, H, W]  # doctest: +SKIP
        """
        xs = spikes.detach().float().requires_grad_(True)
        with self._crafting():
            out = self.estimator.output(self.model, xs)
        (grad,) = torch.autograd.grad(self._direction(self.loss_fn(out, goal)), xs)
        return grad

    def image_gradient(self, images: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Ascent direction w.r.t. images ``[B, C, H, W]``, averaged over ``eot`` encodings.

        The gradient flows through the (differentiable) encoder into the image; deterministic
        inputs use a single draw.

        Args:
            images: dataset images ``[B, C, H, W]`` in [0, 1].
            goal: ``[B]`` int64: the labels (untargeted) or the targets (targeted).

        Returns:
            ``[B, C, H, W]`` float32: the mean ascent direction over the ``eot`` encodings.

        Example:
            >>> step = 2 / 255 * atk.image_gradient(images, labels).sign()  # doctest: +SKIP
        """
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
        self,
        victim: Victim,
        x: torch.Tensor,
        x_adv: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None,
        **extra,
    ) -> AttackResult:
        """:func:`judge` on ``victim`` (this attack's own, or a transfer target) with this attack's
        evaluation draws and seed (offset from the crafting seed, so judging never reuses its draws).

        Args:
            victim: the model judged (its input layout must match ``x``).
            x: clean dataset samples: images ``[B, C, H, W]`` or event frames ``[B, T, P, H, W]``.
            x_adv: adversarial samples, the same shape as ``x``.
            labels: ``[B]`` int64 classes.
            targets: ``[B]`` int64 target classes, or ``None`` (untargeted).
            **extra: crafting records ``[B]`` (``iterations``, ``rsf_invocations``,
                ``zero_grad_first``) copied into the result.

        Returns:
            The per-sample :class:`~neuroattack.attacks.metrics.AttackResult`.

        Raises:
            ValueError: if ``x_adv`` does not fit ``victim`` or contains NaN.

        Example:
            >>> transfer = atk.judge_on(target_victim, images, x_adv, labels, None)  # doctest: +SKIP
        """
        return judge(victim, x, x_adv, labels, targets, self.eval_draws, self.seed + 10_007, self.budget, **extra)

    def _evaluate(
        self, x: torch.Tensor, x_adv: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None, **extra
    ) -> AttackResult:
        self.last_result = self.judge_on(self.victim, x, x_adv, labels, targets, **extra)
        return self.last_result

    # -- the call ----------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Adversarial ``x`` only (see :meth:`run`); the record is left in ``last_result``."""
        x_adv, _ = self.run(x, labels, targets)
        return x_adv

    def run(
        self, x: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, AttackResult]:
        """Attack a batch: ``(x_adv, result)``.

        Args:
            x: dataset samples: images ``[B, C, H, W]`` in [0, 1] or binary event frames
                ``[B, T, P, H, W]``, as the victim takes them.
            labels: ``[B]`` true classes in ``[0, K)`` (cast to int64).
            targets: ``[B]`` target classes in ``[0, K)`` for a targeted attack (see
                :func:`expand_targets`); ``None`` for an untargeted one.

        Returns:
            ``(x_adv, result)``: adversarial samples, the same shape as ``x``, and the per-sample
            :class:`~neuroattack.attacks.metrics.AttackResult` (also stored in ``last_result``).

        Raises:
            ValueError: if ``x`` does not fit the model or contains NaN; ``labels`` is not ``[B]``
                or out of range; a targeted attack gets no (or bad) ``targets``; or an untargeted
                attack gets ``targets``.

        Example:
            >>> x_adv, result = PGD(victim, grad="hart").run(images, labels)  # doctest: +SKIP
            >>> result.summary().asr  # doctest: +SKIP
        """
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
        x_adv = enforce_budget(x, x_adv, self.budget)
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
    budget: int | None = None,
    **extra,
) -> AttackResult:
    """Judge adversarial inputs on ``victim`` (the crafting model, or another one for transfer).

    Clean correctness and success are majority votes over ``eval_draws`` fresh encodings (one for
    deterministic inputs); ``extra`` carries the crafting record (iterations, RSF invocations...).

    Args:
        victim: the model judged (the crafting model, or a transfer target).
        x: clean dataset samples: images ``[B, C, H, W]`` in [0, 1] or event frames ``[B, T, P, H, W]``.
        x_adv: adversarial samples, the same shape as ``x``.
        labels: ``[B]`` int64 true classes.
        targets: ``[B]`` int64 target classes (targeted success), or ``None`` (untargeted).
        eval_draws: encodings per sample for the majority votes (>= 1).
        seed: seed of the judging generator.
        budget: the attack's event budget, recorded in the result.
        **extra: per-sample crafting records ``[B]``: ``iterations`` and ``rsf_invocations``
            (int64, default 0) and ``zero_grad_first`` (bool, default ``False``).

    Returns:
        The per-sample :class:`~neuroattack.attacks.metrics.AttackResult` (every field ``[B]``).

    Raises:
        ValueError: if ``x_adv`` does not fit ``victim`` or contains NaN.

    Example:
        >>> result = judge(victim, images, images_adv, labels, None, eval_draws=8)  # doctest: +SKIP
        >>> result.summary().asr  # doctest: +SKIP
    """
    victim.check_batch(x_adv)
    gen = torch.Generator().manual_seed(seed)
    clean = victim.predict(x, gen, eval_draws)
    adv = victim.predict(x_adv, gen, eval_draws)
    frac = hits(adv, labels, targets).float().mean(0)
    n = len(labels)
    zeros = torch.zeros(n, dtype=torch.long)
    delta = (x_adv.float() - x.float()).flatten(1)
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
        added=(delta > 0).sum(1),
        removed=(delta < 0).sum(1),
        no_decision=adv.eq(NO_DECISION).float().mean(0) > 0.5,
        clean_no_decision=clean.eq(NO_DECISION).float().mean(0) > 0.5,
        budget=budget,
    )


def expand_targets(x: torch.Tensor, labels: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, ...]:
    """Liang's targeted protocol: each input once per class other than its label.

    Returns ``(x, labels, targets)`` repeated ``num_classes - 1`` times.

    Args:
        x: samples ``[B, ...]`` (images ``[B, C, H, W]`` or event frames ``[B, T, P, H, W]``).
        labels: ``[B]`` int64 classes in ``[0, num_classes)``.
        num_classes: ``K``, the number of classes.

    Returns:
        ``(x, labels, targets)``: ``x`` tiled to ``[(K - 1) * B, ...]`` (the whole batch once per
        repetition), ``labels`` ``[(K - 1) * B]`` int64 and ``targets`` ``[(K - 1) * B]`` int64,
        ``(label + r) mod K`` in repetition ``r = 1 .. K - 1``.

    Example:
        >>> x, y, t = expand_targets(torch.zeros(2, 1, 4, 4), torch.tensor([0, 2]), num_classes=3)
        >>> x.shape
        torch.Size([4, 1, 4, 4])
        >>> y.tolist(), t.tolist()
        ([0, 2, 0, 2], [1, 0, 2, 1])
    """
    reps = num_classes - 1
    offsets = torch.arange(1, num_classes).repeat_interleave(len(labels))
    lab = labels.repeat(reps)
    return x.repeat(reps, *([1] * (x.dim() - 1))), lab, (lab + offsets) % num_classes
