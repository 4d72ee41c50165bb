"""Threat models on the deployed network: which attacker is strongest against fixed-point hardware?

On the nmnist-sim SNN, for each fixed-point profile (Loihi-2 8-bit, 6-bit, 4-bit weights) and each
event budget (``--budgets``, default 50 and 200 input bins changed per sample), the same test
inputs are attacked by
- a white-box attacker who crafts in float simulation and replays on the chip (G2S/RSF and the
  minimal-event SparseFool, STBP gradients),
- a hardware-in-the-loop attacker who crafts against the fixed-point twin of that profile (the same
  two attacks),
- a score-based query attacker who only reads the chip's output spike counts (square),
- a decision-based query attacker who only reads its predicted class (boundary),
- and the random baseline (as many bins flipped at random),
all judged on the emulator of that profile (spike-exact with Lava). The report's table gives each
row's budget, the events it took to fool (median, +added/-removed) and the hardware's no-decision
rate beside the ASR.

    python scripts/threat_models.py [--quick] [--n N] [--budgets 50,200] [--executor ray]
    python scripts/threat_models.py --graph net.nir --dataset nmnist-sim [--framework snntorch] [--timesteps 8]

With ``--graph`` the network is any NIR file (any framework's export) instead of the nmnist-sim
model trained here.
"""

from neuroattack.experiments.pipeline import RunSpec
from neuroattack.experiments.studies import nmnist_snn, study_main

PROFILES = ("loihi2", "loihi2-w6", "loihi2-w4")


def add_arguments(parser):
    from backends.timestep import FRAMEWORK_DT

    parser.add_argument("--graph", default=None, help="a NIR file to study instead of the nmnist-sim model")
    parser.add_argument("--dataset", default="nmnist-sim", help="with --graph: its test data (event frames)")
    parser.add_argument("--framework", choices=sorted(FRAMEWORK_DT), default=None, help="with --graph: its exporter")
    parser.add_argument("--dt", type=float, default=None, help="with --graph: seconds per step")
    parser.add_argument("--timesteps", type=int, default=8, help="with --graph: steps per sample")
    parser.add_argument(
        "--budgets", default="50,200", help="event budgets: input bins changed per sample (comma-separated)"
    )


def build(args):
    if args.graph:
        model, label = args.graph, None
        source = {"dataset": args.dataset, "timesteps": args.timesteps, "dt": args.dt, "framework": args.framework}
    else:
        model, label, source = nmnist_snn(args.models, args.quick, device=args.device), "nmnist-sim", {}
    n = args.n or (100 if args.quick else 300)
    queries = 300 if args.quick else 1000
    specs = []
    for budget in (int(k) for k in args.budgets.split(",")):
        g2s = {"steps": 25, "gamma": 0.05, "budget": budget}
        for profile in PROFILES:
            common = {"backend": "emulator", "profile": profile, "n": n, "label": label, **source}
            query = {"queries": queries, "budget": budget}
            specs += [
                RunSpec(model, "g2s-rsf", "stbp", g2s, craft_on="sim", **common),
                RunSpec(model, "g2s-rsf", "stbp", g2s, craft_on="hardware", **common),
                RunSpec(model, "sparsefool", "stbp", {"budget": budget}, craft_on="sim", **common),
                RunSpec(model, "sparsefool", "stbp", {"budget": budget}, craft_on="hardware", **common),
                RunSpec(model, "square", "none", query, craft_on="query", **common),
                RunSpec(model, "boundary", "none", query, craft_on="query", **common),
                RunSpec(model, "random", "stbp", {"budget": budget}, craft_on="sim", **common),
            ]
    return specs


if __name__ == "__main__":
    study_main(
        "Threat models: white-box replayed, hardware-in-the-loop, score- and decision-based queries",
        build,
        "threat_models",
        add_arguments,
    )
