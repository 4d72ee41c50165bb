"""``neuroattack inspect``: whether a NIR file from any framework runs on the backends, and how.

Reads the file as written (``backends.read_graph``), lowers it with the time step given or found
(``--dt``, the graph's metadata, ``--framework``'s convention), and prints the Lava processes it
becomes and, for a fixed-point profile, each population's quantization error. A graph no backend
accepts is one error line naming the node, field, index and value; a threshold that does not fit
the profile names the range of time steps at which it would (a wrong ``--dt`` is the usual cause).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from neuroattack.commands.base import Command, add_profile, add_reset


def add_arguments(p: argparse.ArgumentParser) -> None:
    from backends.timestep import FRAMEWORK_DT

    p.add_argument("--nir", required=True, type=Path, help="the .nir file")
    p.add_argument("--dt", type=float, default=None, help="seconds per step the network was trained with")
    p.add_argument(
        "--framework", choices=sorted(FRAMEWORK_DT), default=None, help="the exporter, for its time-step convention"
    )
    add_reset(p)
    add_profile(p, "loihi2")


def run(args: argparse.Namespace) -> int:
    import backends

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            graph = backends.read_graph(args.nir)
            network = backends.lower(graph, args.dt, args.framework, args.reset)
        finally:  # the warnings (the dt guessed, what was adapted) explain an error that follows
            for w in caught:
                print(f"warning: {w.message}")
    shape = "x".join(map(str, network.input_shape))
    print(
        f"{args.nir}: {len(network.populations)} populations, {len(network.projections)} projections, "
        f"input {shape}, dt {network.dt:g} s, latency {network.latency} steps"
        f"{', recurrent' if network.recurrent else ''}"
    )
    print("on Lava:\n  " + "\n  ".join(backends.describe_lowering(network)))
    profile = backends.load_profile(args.profile)
    if profile.fixed_point:
        for row in backends.quantization_report(backends.quantize(network, profile)):
            print(
                f"  {row['population']} on {profile.name}: scale {row['scale']:.4g}, weight_exp "
                f"{list(row['weight_exps'])}, weight rel. RMS error {row['weight_rel_rms_error']:.4f}, "
                f"dv error {row['dv_max_error']:.2g}"
            )
    return 0


COMMAND = Command(
    "inspect", "check how a NIR file from any framework lowers to Lava (--dt, --framework)", add_arguments, run
)
