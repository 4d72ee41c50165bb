"""``neuroattack demo``: the end-to-end demo on the bundled data."""

from __future__ import annotations

import argparse
from pathlib import Path

from neuroattack.commands.base import Command, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.add_argument("--n", type=positive_int, default=100, help="test inputs attacked per model")
    p.add_argument("--lava-n", type=positive_int, default=20, help="of those, replayed on Lava")


def run(args: argparse.Namespace) -> int:
    from neuroattack.experiments.demo import run_demo

    if args.lava_n > args.n:
        raise ValueError(f"--lava-n ({args.lava_n}) cannot exceed --n ({args.n})")
    run_demo(args.out, n=args.n, lava_n=args.lava_n)
    return 0


COMMAND = Command("demo", "end-to-end demo on the bundled data", add_arguments, run)
