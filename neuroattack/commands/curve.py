"""``neuroattack curve``: attack success against the event budget, in simulation and on hardware.

Every attack of ``--attacks`` runs at every budget of ``--budgets`` (input bins changed per sample)
through the run pipeline, as one resumable sweep into ``--store`` (default ``OUT/curve.sqlite``);
``OUT/curve.json`` holds per attack and budget the ASR with its 95 % interval, the no-decision
rate and ``n``, in simulation and on ``--backend``/``--profile``, and ``OUT/curve.png`` draws them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neuroattack.commands.base import (
    Command,
    add_device,
    add_network,
    add_profile,
    add_split,
    network_config,
    positive_int,
    rate,
    refuse_overwrite,
)


def _names(text: str) -> list[str]:
    from neuroattack.attacks.registry import ATTACKS, QUERY_ATTACKS

    names = [t.strip() for t in text.split(",") if t.strip()]
    known = {**ATTACKS, **QUERY_ATTACKS}
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"attacks must be among {sorted(known)}, got {text!r}")
    return names


def _budgets(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"budgets: whole numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"budgets must be whole numbers >= 1, got {text!r}")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_network(p, "any network as a NIR file (sinabs, snnTorch, rockpool, ...)")
    p.add_argument(
        "--attacks", type=_names, default=["g2s-rsf", "sparsefool", "square", "random"], help="comma-separated"
    )
    p.add_argument(
        "--budgets", type=_budgets, default=[1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], help="comma-separated"
    )
    p.add_argument("--grad", default="stbp", help="the gradient attacks' estimator (default stbp)")
    p.add_argument(
        "--backend", choices=["emulator", "lava", "reference", "none"], default="emulator", help="none: simulation only"
    )
    add_profile(p, "loihi2")
    p.add_argument("--n", type=positive_int, default=100, help="first N samples of the split")
    add_split(p)
    p.add_argument("--hw-n", type=positive_int, default=None, help="replay only the first N (Lava is slow)")
    p.add_argument("--queries", type=positive_int, default=None, help="query attacks' query budget per sample")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--store", type=Path, default=None, help="results store (default OUT/curve.sqlite)")
    p.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="crafted streams, shared by curves on other profiles (default OUT/work)",
    )
    p.add_argument("--executor", choices=["local", "ray"], default="local", help="where the runs go (one sweep)")
    p.add_argument("--address", default=None, help="with --executor ray: the cluster (ray.init(address=...))")
    p.add_argument("--out", required=True, type=Path)
    add_device(p)


def run(args: argparse.Namespace) -> int:
    from neuroattack.device import resolve_device
    from neuroattack.experiments.curve import robustness_curve, write_curve
    from neuroattack.experiments.pipeline import RunSpec

    graph = network_config(args)
    network = (
        {}
        if graph is None
        else {**graph, "dt": args.dt, "framework": args.framework, "reset": args.reset, "readout": args.readout}
    )
    store = args.store or args.out / "curve.sqlite"
    source = args.checkpoint or args.graph
    refuse_overwrite([args.out / "curve.json", args.out / "curve.png", store], [source, args.data_root], False)
    base = RunSpec(
        str(source),
        args.attacks[0],
        args.grad,
        backend=args.backend,
        profile=str(args.profile),
        n=args.n,
        hw_n=args.hw_n,
        seed=args.seed,
        device=str(resolve_device(args.device)),
        data_root=str(args.data_root) if args.data_root else None,
        split=args.split,
        **network,
    )
    query_options = {"queries": args.queries} if args.queries else {}
    curve = robustness_curve(
        base,
        args.attacks,
        args.budgets,
        store,
        args.work_dir or args.out / "work",
        executor=args.executor,
        query_options=query_options,
        address=args.address,
    )
    json_path, png = write_curve(curve, args.out)
    for attack, s in curve.summary.items():
        last = [p for p in curve.points if p.attack == attack][-1]
        hw = "" if args.backend == "none" else f", hardware ASR {rate(last.hw_asr, last.hw_asr_interval_95)}"
        print(
            f"{attack}: median events to fool {s['median_events_to_fool']} (budget {last.budget}); "
            f"ASR >= 0.5 from budget {s['budget_for_half_sim']} (sim) / {s['budget_for_half_hw']} (hardware); "
            f"at budget {last.budget}: sim ASR {rate(last.sim_asr, last.sim_asr_interval_95)}{hw}"
        )
    print(f"-> {json_path}, {png}")
    return 0


COMMAND = Command("curve", "attack success against the event budget, in simulation and on hardware", add_arguments, run)
