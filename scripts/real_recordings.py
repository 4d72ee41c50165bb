"""Real N-MNIST recordings and the NIR paper's CNN: accuracy, curves in events, and the fixed-point verdict.

The network is the NIR paper's N-MNIST CNN exported by Sinabs (``--graph``, Sinabs' convention:
dt = one step), the data real N-MNIST recordings from a folder (``--data-root``; a folder with
only ``NMNIST/Train`` is enough with ``--split train``, and the figures are then on the network's
own training recordings: they measure fidelity and attack cost, not generalisation). On the first
``--n`` recordings, binned as 60 bins of 5 ms:

1. accuracy on the emulator for every profile, and on Lava ``loihi2`` for the first ``--lava-n``;
2. robustness curves (``neuroattack.experiments.curve``): SparseFool, G2S/RSF and random flips at
   each budget, crafted once in simulation and replayed on each profile (float, loihi2,
   loihi2-w4) of the emulator: one store, one cache of crafted streams;
3. the verdict on fixed point: at each budget, is the deployment on ``loihi2`` / ``loihi2-w4``
   easier or harder to fool than float? ``easier``/``harder`` where the two 95 % Wilson intervals
   do not overlap, ``no difference shown`` where they do.

    python scripts/real_recordings.py --graph cnn_sinabs.nir --data-root nmnist-real [--n 32] [--out runs/real]
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

PROFILES = ("float", "loihi2", "loihi2-w4")


def _evaluate(args, backend: str, profile: str, n: int) -> float:
    out = Path(args.out) / "eval" / f"{backend}-{profile}.json"
    argv = [sys.executable, "-m", "neuroattack.cli", "evaluate", "--graph", args.graph, "--framework", "sinabs"]
    argv += ["--reset", "zero"]  # as measured (see RunSpec below)
    argv += ["--dataset", "nmnist", "--data-root", args.data_root, "--split", args.split, "--timesteps", "60"]
    argv += ["--n", str(n), "--backend", backend, "--profile", profile, "--out", str(out), "--force"]
    subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(out.read_text())[f"{args.split}_accuracy"]


def _verdict(a: dict, b: dict) -> str:
    """Is ``b`` (fixed point) easier to fool than ``a`` (float), by their hardware ASR intervals?"""
    if a["hw_asr_interval_95"] is None or b["hw_asr_interval_95"] is None:
        return "n/a"
    if b["hw_asr_interval_95"][0] > a["hw_asr_interval_95"][1]:
        return "easier"
    if b["hw_asr_interval_95"][1] < a["hw_asr_interval_95"][0]:
        return "harder"
    return "no difference shown"


def main() -> None:
    from neuroattack.experiments.curve import robustness_curve, write_curve
    from neuroattack.experiments.pipeline import RunSpec

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graph", required=True)
    p.add_argument("--data-root", required=True)
    p.add_argument("--split", default="train", choices=["train", "val", "test"])
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--lava-n", type=int, default=8)
    p.add_argument("--budgets", default="20,100,500")
    p.add_argument("--attacks", default="sparsefool,g2s-rsf,random")
    p.add_argument("--out", default="runs/real")
    p.add_argument("--executor", choices=["local", "ray"], default="local", help="where the curves' runs go")
    p.add_argument("--address", default=None, help="with --executor ray: the cluster (ray.init(address=...))")
    args = p.parse_args()
    out = Path(args.out)
    lines = [f"accuracy on the first {args.n} {args.split} recordings (60 bins of 5 ms):"]
    for profile in PROFILES:
        lines.append(f"  emulator/{profile}: {_evaluate(args, 'emulator', profile, args.n):.4f}")
    lines.append(f"  lava/loihi2 (first {args.lava_n}): {_evaluate(args, 'lava', 'loihi2', args.lava_n):.4f}")
    budgets = [int(k) for k in args.budgets.split(",")]
    curves = {}
    for profile in PROFILES:
        base = RunSpec(
            args.graph,
            "sparsefool",
            framework="sinabs",
            reset="zero",  # the figures were measured so; sinabs' own IAF subtracts (docs/results.md)
            dataset="nmnist",
            timesteps=60,
            data_root=args.data_root,
            split=args.split,
            n=args.n,
            profile=profile,
        )
        curve = robustness_curve(
            base,
            args.attacks.split(","),
            budgets,
            out / "curves.sqlite",
            out / "work",
            executor=args.executor,
            address=args.address,
        )
        write_curve(curve, out / f"curve-{profile}")
        curves[profile] = {(q.attack, q.budget): q.__dict__ for q in curve.points}
        for attack, s in curve.summary.items():
            lines.append(f"{profile} {attack}: {s}")
    lines.append("| attack | budget | sim ASR | float | loihi2 | loihi2-w4 | loihi2 vs float | w4 vs float |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, point in curves["float"].items():
        cells = [key[0], str(key[1])]
        cells.append(_rate(point["sim_asr"], point["sim_asr_interval_95"]))
        cells += [_rate(curves[p][key]["hw_asr"], curves[p][key]["hw_asr_interval_95"]) for p in PROFILES]
        cells += [_verdict(point, curves[p][key]) for p in ("loihi2", "loihi2-w4")]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    (out / "summary.md").write_text(text + "\n")
    print(text)


def _rate(value, interval) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else f"{value:.3f}"


if __name__ == "__main__":
    main()
