"""``neuroattack attack``: attack a checkpoint on its test data and save the adversarial streams.

The attack-specific flags are built from the attack registry: every keyword argument of an
attack's constructor is a flag (``--eps``, ``--steps``, ``--gamma``, ...; ``--no-sampling`` for a
switch that is on by default), and a flag the chosen attack does not take is an error.

Gradient attacks (``g2s-rsf``, ``fgsm``, ``pgd``, ``bim``, ``cwl2``) craft on the model;
query attacks (``square``: score-based, ``boundary``: decision-based) only query the deployed
network on ``--backend`` (``emulator``, ``lava``, ``reference``) with ``--profile``, perturbing
its input spikes (event-coded models).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from neuroattack.commands.base import (
    Command,
    add_device,
    add_force,
    add_network,
    add_profile,
    add_split,
    events_text,
    fraction,
    network_config,
    positive_int,
    rate,
    refuse_overwrite,
)


def _flag(name: str, default: Any) -> str:
    return f"--no-{name}" if default is True else f"--{name.replace('_', '-')}"


def _attack_flags() -> dict[str, tuple[Any, list[tuple[str, str]]]]:
    """``{option: (an example AttackOption, [(attack, help with default), ...])}`` over every attack."""
    from neuroattack.attacks.registry import ATTACKS, QUERY_ATTACKS, option_specs

    flags: dict[str, tuple[Any, list[tuple[str, str]]]] = {}
    for name, cls in {**ATTACKS, **QUERY_ATTACKS}.items():
        for opt in option_specs(cls):
            first, uses = flags.setdefault(opt.name, (opt, []))
            if opt.kind is not first.kind:
                raise TypeError(
                    f"attack option {opt.name!r} has type {opt.kind.__name__} in {name}, "
                    f"{first.kind.__name__} elsewhere: one meaning a name"
                )
            text = opt.help.replace("``", "").rstrip(".")
            if opt.kind is not bool:
                default = (
                    "none"
                    if opt.default is None
                    else f"{opt.default:.4g}"
                    if isinstance(opt.default, float)
                    else opt.default
                )
                text += f" (default {default})"
            uses.append((name, text))
    return flags


def add_arguments(p: argparse.ArgumentParser) -> None:
    from neuroattack.attacks.estimators import ESTIMATORS
    from neuroattack.attacks.registry import ATTACKS, QUERY_ATTACKS
    from neuroattack.losses import LOSSES

    add_network(p, "any network as a NIR file (sinabs, snnTorch, rockpool, ...)")
    p.add_argument("--attack", choices=sorted({**ATTACKS, **QUERY_ATTACKS}), required=True)
    p.add_argument("--grad", choices=sorted(ESTIMATORS), default=None, help="gradient attacks (default stbp)")
    p.add_argument(
        "--backend", choices=["emulator", "lava", "reference"], default=None, help="query attacks (default emulator)"
    )
    add_profile(p, None, "query attacks: the deployment's hardware profile (default loihi2)")
    for name, (opt, uses) in _attack_flags().items():
        helps: dict[str, list[str]] = {}
        for attack, text in uses:
            helps.setdefault(text, []).append(attack)
        text = "; ".join(f"{'/'.join(attacks)}: {h}" for h, attacks in helps.items())
        if opt.kind is bool:
            p.add_argument(
                _flag(name, opt.default),
                dest=f"opt_{name}",
                action="store_const",
                const=not opt.default,
                default=None,
                help=text,
            )
        else:
            kind = fraction if opt.kind is float else opt.kind
            p.add_argument(
                _flag(name, opt.default), dest=f"opt_{name}", type=kind, default=None, metavar=name.upper(), help=text
            )
    p.add_argument("--hart-gamma", type=float, default=None, help="width of HART's triangle surrogate (default 1.0)")
    p.add_argument(
        "--budget",
        type=positive_int,
        default=None,
        help="event inputs: the most input bins changed per sample (events added + removed); a sample "
        "not fooled within it is a failure (default: unbounded)",
    )
    p.add_argument("--targeted", action="store_true", help="Liang's protocol: every class but the true one")
    p.add_argument("--penultimate-threshold", type=float, default=None, help="Liang V-B, while crafting only")
    p.add_argument("--loss", choices=sorted(LOSSES), default=None, help="default: the model's training loss")
    p.add_argument("--eot", type=positive_int, default=None, help="Bernoulli encodings averaged per gradient (1)")
    p.add_argument("--eval-draws", type=positive_int, default=None, help="Bernoulli encodings judging success (8)")
    p.add_argument("--surrogate", type=Path, default=None, help="black-box: craft on this checkpoint")
    p.add_argument("--n", type=positive_int, default=None, help="first N samples of the split")
    add_split(p)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path)
    add_device(p)
    add_force(p)


_GRADIENT_ONLY = ("grad", "hart_gamma", "targeted", "penultimate_threshold", "loss", "eot", "eval_draws", "surrogate")
_QUERY_ONLY = ("backend", "profile")


def attack_options(args: argparse.Namespace) -> dict:
    """The keyword options of ``args.attack`` from the flags; a flag that does not apply is an error."""
    from neuroattack.attacks.registry import ATTACKS, QUERY_ATTACKS, option_specs

    query = args.attack in QUERY_ATTACKS
    family_only = _GRADIENT_ONLY if query else _QUERY_ONLY
    given_wrong = [k for k in family_only if getattr(args, k, None) not in (None, False)]
    if given_wrong:
        flags = ", ".join("--" + k.replace("_", "-") for k in given_wrong)
        kind = "gradient attacks" if query else "query attacks (square, boundary)"
        raise ValueError(f"{flags} apply to {kind} only, not to --attack {args.attack}")
    own = {opt.name for opt in option_specs({**ATTACKS, **QUERY_ATTACKS}[args.attack])}
    given = {k[len("opt_") :]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}
    wrong = sorted(k for k in given if k not in own)
    if wrong:
        defaults = {name: opt.default for name, (opt, _) in _attack_flags().items()}
        flags = ", ".join(_flag(k, defaults[k]) for k in wrong)
        raise ValueError(f"{flags} do(es) not apply to --attack {args.attack}")
    options: dict[str, Any] = dict(given)
    if args.budget is not None:
        options["budget"] = args.budget
    if query:
        return options
    if args.hart_gamma is not None:
        if (args.grad or "stbp") != "hart":
            raise ValueError("--hart-gamma applies to --grad hart only")
        options["grad_options"] = {"gamma": args.hart_gamma}
    for name in ("targeted", "eot", "eval_draws", "penultimate_threshold", "loss"):
        if getattr(args, name) not in (None, False):
            options[name] = getattr(args, name)
    return options


def run_spec(args: argparse.Namespace):
    """The :class:`~neuroattack.experiments.pipeline.RunSpec` the flags describe (the run a sweep
    of the same settings makes, under the same key)."""
    from neuroattack.attacks.registry import QUERY_ATTACKS
    from neuroattack.device import resolve_device
    from neuroattack.experiments.pipeline import RunSpec

    graph = network_config(args)
    query = args.attack in QUERY_ATTACKS
    network: dict[str, Any] = {}
    if graph is not None:
        network = {**graph, "dt": args.dt, "framework": args.framework, "reset": args.reset, "readout": args.readout}
    return RunSpec(
        str(args.checkpoint or args.graph),
        args.attack,
        "none" if query else (args.grad or "stbp"),
        attack_options(args),
        backend=(args.backend or "emulator") if query else "emulator",
        profile=(args.profile or "loihi2") if query else "loihi2",
        n=args.n,
        surrogate=str(args.surrogate) if args.surrogate else None,
        craft_on="query" if query else "sim",
        seed=args.seed,
        batch_size=args.batch_size,
        device=str(resolve_device(args.device)),
        data_root=str(args.data_root) if args.data_root else None,
        split=args.split,
        **network,
    )


def run(args: argparse.Namespace) -> int:
    from neuroattack.experiments.pipeline import STREAMS_FOLDER_FILES, craft

    inputs = [args.checkpoint or args.graph, args.surrogate, args.data_root]
    refuse_overwrite([], inputs, args.force, folders={args.out: STREAMS_FOLDER_FILES})
    spec = run_spec(args)
    s = craft(spec, args.out, progress=True)
    if spec.craft_on == "query":
        print(
            f"{args.attack} (query-only, {s.backend}/{s.profile}): ASR {rate(s.asr, s.asr_interval_95)} over "
            f"{s.n_attacked} correctly classified inputs; {events_text(s)}; queries median {s.queries_median} "
            f"(mean {rate(s.queries_mean)}, query budget {s.query_budget}) -> {args.out}"
        )
        return 0
    print(
        f"{args.attack}/{spec.grad}{' targeted' if args.targeted else ''}: ASR "
        f"{rate(s.asr, s.asr_interval_95)} over {s.n_attacked} correctly classified inputs; "
        + (events_text(s) + "; " if s.inputs == "events" else "")
        + f"mean perturbation {s.mean_perturbation}, mean iterations {s.mean_iterations} -> {args.out}"
    )
    return 0


COMMAND = Command("attack", "attack a checkpoint on its test data and save the adversarial streams", add_arguments, run)
