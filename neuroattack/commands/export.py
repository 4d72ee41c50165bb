"""``neuroattack export``: a checkpoint to a NIR file, validated against Norse."""

from __future__ import annotations

import argparse
from pathlib import Path

from neuroattack.commands.base import Command, add_force, refuse_overwrite


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="the .nir file")
    add_force(p)


def run(args: argparse.Namespace) -> int:
    import backends
    from neuroattack.export import export_trained

    refuse_overwrite([args.out], [args.checkpoint], args.force)
    graph = export_trained(args.checkpoint, args.out)
    nodes = ", ".join(f"{k}:{type(v).__name__}" for k, v in graph.nodes.items())
    print(f"wrote {args.out} ({nodes}); the backends' float reference reproduces the model's spikes exactly")
    print("on Lava:\n  " + "\n  ".join(backends.describe_lowering(backends.lower(graph))))
    return 0


COMMAND = Command("export", "export a checkpoint to NIR (validated against Norse)", add_arguments, run)
